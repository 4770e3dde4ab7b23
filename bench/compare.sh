#!/usr/bin/env bash
# presenced against a faithful reference of seed 000's design (Node +
# socket.io + @socket.io/redis-adapter + Redis, bench/reference/), with the
# same load generator and scenarios, printed side by side with the ratio.
# Server CPU per operation (from /proc) is the primary figure.
#
#   bench/compare.sh [--quick] [--scenarios storm,hold,heartbeat,latency,fanout,seedlists]
#                    [--storm N] [--hold N] [--hold-seconds S]
#                    [--heartbeat N] [--heartbeat-seconds S] [--heartbeat-ms MS]
#                    [--latency N] [--churn R] [--latency-seconds S] [--observers K]
#                    [--fanout S] [--fanout-reps R] [--seed-lists N]
#                    [--ref-lists window|each] [--ref-adapter redis|memory]
#                    [--procs K] [--json FILE] [--keep DIR]
#
# PRESENCED_ARGS: extra server arguments for presenced's runs, e.g.
#   PRESENCED_ARGS="--coalesce-window 20" bench/compare.sh --scenarios storm
# Every size also reads an environment variable (COMPARE_STORM=...; see
# `defaults` below). --quick: small sizes for a smoke run (~1 minute).
#
# Needs `make build` (build/app/presenced, build/bench/loadgen). Runs
# `npm ci` in bench/reference when its node_modules is missing and
# scripts/deps.sh bench when redis-server is missing. Each scenario starts
# fresh servers (Redis + Node for the reference, presenced for presenced)
# on free loopback ports and stops them by PID afterwards; everything it
# started is stopped on exit. Loopback only.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
ref_dir=$root/bench/reference
presenced=${PRESENCED_BIN:-$root/build/app/presenced}
loadgen=${LOADGEN_BIN:-$root/build/bench/loadgen}

# -- defaults ------------------------------------------------------------------
scenarios=${COMPARE_SCENARIOS:-storm,hold,heartbeat,latency,fanout,seedlists}
storm=${COMPARE_STORM:-2000}
hold=${COMPARE_HOLD:-2000}
hold_s=${COMPARE_HOLD_SECONDS:-10}
hb=${COMPARE_HEARTBEAT:-1000}
hb_s=${COMPARE_HEARTBEAT_SECONDS:-20}
hb_ms=${COMPARE_HEARTBEAT_MS:-1000}
lat=${COMPARE_LATENCY:-1000}
churn=${COMPARE_CHURN:-50}
lat_s=${COMPARE_LATENCY_SECONDS:-20}
observers=${COMPARE_OBSERVERS:-2}
fan=${COMPARE_FANOUT:-1000}
fan_reps=${COMPARE_FANOUT_REPS:-20}
seed_lists=${COMPARE_SEED_LISTS:-200}
ref_lists=${COMPARE_REF_LISTS:-window}
ref_adapter=${COMPARE_REF_ADAPTER:-redis}
procs=${COMPARE_PROCS:-1}
json_out=${COMPARE_JSON:-}
keep=${COMPARE_KEEP:-}

usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick)
      storm=300 hold=300 hold_s=3 hb=200 hb_s=5 lat=200 churn=20 lat_s=5
      fan=200 fan_reps=5 seed_lists=100 ;;
    --scenarios) scenarios=$2; shift ;;
    --storm) storm=$2; shift ;;
    --hold) hold=$2; shift ;;
    --hold-seconds) hold_s=$2; shift ;;
    --heartbeat) hb=$2; shift ;;
    --heartbeat-seconds) hb_s=$2; shift ;;
    --heartbeat-ms) hb_ms=$2; shift ;;
    --latency) lat=$2; shift ;;
    --churn) churn=$2; shift ;;
    --latency-seconds) lat_s=$2; shift ;;
    --observers) observers=$2; shift ;;
    --fanout) fan=$2; shift ;;
    --fanout-reps) fan_reps=$2; shift ;;
    --seed-lists) seed_lists=$2; shift ;;
    --ref-lists) ref_lists=$2; shift ;;
    --ref-adapter) ref_adapter=$2; shift ;;
    --procs) procs=$2; shift ;;
    --json) json_out=$2; shift ;;
    --keep) keep=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$seed_lists" = 0 ] && scenarios=$(echo "$scenarios" | tr ',' '\n' | grep -vx seedlists | paste -sd, -)

# -- prerequisites -------------------------------------------------------------
for f in "$presenced" "$loadgen"; do
  [ -x "$f" ] || { echo "compare: $f missing: run make build first" >&2; exit 2; }
done
command -v redis-server >/dev/null || "$root/scripts/deps.sh" bench
command -v node >/dev/null || "$root/scripts/deps.sh" bench
if [ ! -d "$ref_dir/node_modules/socket.io" ]; then
  echo "compare: npm ci in bench/reference" >&2
  (cd "$ref_dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

tmp=$(mktemp -d /tmp/presenced-compare.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# -- helpers -------------------------------------------------------------------
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_file() { # FILE PID: wait until FILE has a line, PID still alive
  for _ in $(seq 300); do
    [ -s "$1" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
cpu_ms() { # PID: user+system CPU of the whole process (all threads), ms
  local tck; tck=$(getconf CLK_TCK)
  awk -v t="$tck" '{ sub(/^.*\) /, ""); printf "%d\n", ($12 + $13) * 1000 / t }' "/proc/$1/stat"
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
stop_pid() {
  local p=$1 i
  kill "$p" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  local keep_pids=()
  for i in "${pids[@]}"; do [ "$i" = "$p" ] || keep_pids+=("$i"); done
  pids=("${keep_pids[@]}")
}

# Starts the stack of $1 (ref | presenced), with the reference's list mode
# $2. Sets: port, server_pid, redis_pid (ref), sio_path.
start_stack() {
  local what=$1 lists=${2:-$ref_lists} d=$tmp/run.$RANDOM
  mkdir -p "$d"
  redis_pid=""
  if [ "$what" = ref ]; then
    local rport; rport=$(free_port)
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
      --daemonize no --loglevel warning >"$d/redis.log" 2>&1 &
    redis_pid=$!; pids+=("$redis_pid")
    for _ in $(seq 100); do
      redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break; sleep 0.05
    done
    NODE_ENV=production node "$ref_dir/server.js" --host 127.0.0.1 --port 0 \
      --port-file "$d/port" --path /api/socketio --lists "$lists" \
      --adapter "$ref_adapter" --redis-url "redis://127.0.0.1:$rport" \
      >"$d/server.log" 2>&1 &
    server_pid=$!; pids+=("$server_pid")
  else
    "$presenced" --listen 127.0.0.1:0 --port-file "$d/port" --data-dir "$d/data" \
      --log-level warn ${PRESENCED_ARGS:-} >"$d/server.log" 2>&1 &
    server_pid=$!; pids+=("$server_pid")
  fi
  if ! wait_file "$d/port" "$server_pid"; then
    echo "compare: $what did not start:" >&2; cat "$d/server.log" >&2; exit 1
  fi
  port=$(head -1 "$d/port")
  sio_path=/api/socketio/
  stack_dir=$d
  sleep 1 # let it settle before the idle sample
}
stop_stack() {
  stop_pid "$server_pid"
  if [ -n "$redis_pid" ]; then stop_pid "$redis_pid"; fi
  redis_pid=""
}

# The load generator's arguments for one scenario.
scenario_args() {
  case "$1" in
    storm) echo "--scenario storm --connections $storm" ;;
    seedlists) echo "--scenario storm --connections $seed_lists" ;;
    hold) echo "--scenario hold --connections $hold --seconds $hold_s" ;;
    heartbeat) echo "--scenario heartbeat --connections $hb --seconds $hb_s --ping-interval-ms $hb_ms" ;;
    latency) echo "--scenario latency --connections $lat --rate $churn --seconds $lat_s --observers $observers" ;;
    fanout) echo "--scenario fanout --observers $fan --repeat $fan_reps" ;;
    *) echo "compare: unknown scenario $1" >&2; exit 2 ;;
  esac
}

# Runs one scenario against one stack; appends a JSON object to runs.jsonl.
run_one() {
  local scen=$1 what=$2 lists=$ref_lists
  [ "$scen" = seedlists ] && lists=each
  start_stack "$what" "$lists"
  local spids=$server_pid
  [ -n "$redis_pid" ] && spids="$server_pid,$redis_pid"
  local idle rss_r_idle=0 c0 r0=0 t0 idle_cpu=-1 idle_cpu_r=-1
  if [ "$scen" = hold ]; then
    # CPU with nothing connected, over 3 s.
    c0=$(cpu_ms "$server_pid"); [ -n "$redis_pid" ] && r0=$(cpu_ms "$redis_pid")
    sleep 3
    idle_cpu=$(( ($(cpu_ms "$server_pid") - c0) / 3 ))
    if [ -n "$redis_pid" ]; then idle_cpu_r=$(( ($(cpu_ms "$redis_pid") - r0) / 3 )); fi
  fi
  idle=$(rss_kb "$server_pid")
  [ -n "$redis_pid" ] && rss_r_idle=$(rss_kb "$redis_pid")
  c0=$(cpu_ms "$server_pid"); [ -n "$redis_pid" ] && r0=$(cpu_ms "$redis_pid")
  t0=$(date +%s%N)
  echo "compare: $scen on $what (port $port)..." >&2
  # shellcheck disable=SC2046
  "$loadgen" --host 127.0.0.1 --port "$port" --protocol sio000 \
    --sio-path "$sio_path" --prefix u --procs "$procs" --server-pid "$spids" \
    $(scenario_args "$scen") >"$stack_dir/loadgen.json" 2>"$stack_dir/loadgen.err" &
  local gpid=$!; pids+=("$gpid")
  local peak=$idle peak_r=$rss_r_idle r
  while kill -0 "$gpid" 2>/dev/null; do
    r=$(rss_kb "$server_pid" 2>/dev/null || echo 0); [ "${r:-0}" -gt "$peak" ] && peak=$r
    if [ -n "$redis_pid" ]; then
      r=$(rss_kb "$redis_pid" 2>/dev/null || echo 0); [ "${r:-0}" -gt "$peak_r" ] && peak_r=$r
    fi
    sleep 0.2
  done
  local rc=0; wait "$gpid" || rc=$?
  local ks=(); for p in "${pids[@]}"; do [ "$p" = "$gpid" ] || ks+=("$p"); done; pids=("${ks[@]}")
  local wall_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  local c1 r1=0
  c1=$(cpu_ms "$server_pid"); [ -n "$redis_pid" ] && r1=$(cpu_ms "$redis_pid")
  local lg; lg=$(tail -1 "$stack_dir/loadgen.json" 2>/dev/null || true)
  [ -n "$lg" ] || lg=null
  if [ "$rc" -ne 0 ]; then
    echo "compare: loadgen exited $rc on $scen/$what:" >&2
    tail -5 "$stack_dir/loadgen.err" >&2 || true
  fi
  printf '{"scenario":"%s","server":"%s","lists":"%s","rc":%d,"wall_ms":%d,"server_cpu_ms_run":%d,"redis_cpu_ms_run":%d,"idle_cpu_ms_per_s":%d,"redis_idle_cpu_ms_per_s":%d,"rss_idle_kb":%d,"rss_peak_kb":%d,"redis_rss_idle_kb":%d,"redis_rss_peak_kb":%d,"loadgen":%s}\n' \
    "$scen" "$what" "$([ "$what" = ref ] && echo "$lists" || echo window)" "$rc" "$wall_ms" \
    $((c1 - c0)) $((r1 - r0)) "$idle_cpu" "$idle_cpu_r" "$idle" "$peak" "$rss_r_idle" "$peak_r" "$lg" >>"$tmp/runs.jsonl"
  stop_stack
}

# -- run -----------------------------------------------------------------------
: >"$tmp/runs.jsonl"
IFS=, read -r -a scen_list <<<"$scenarios"
for s in "${scen_list[@]}"; do
  [ -n "$s" ] || continue
  scenario_args "$s" >/dev/null
  for what in ref presenced; do run_one "$s" "$what"; done
done

sizes=$(printf '{"storm":%d,"hold":%d,"hold_seconds":%d,"heartbeat":%d,"heartbeat_seconds":%d,"heartbeat_ms":%d,"latency":%d,"churn_per_s":%s,"latency_seconds":%d,"observers":%d,"fanout":%d,"fanout_reps":%d,"seed_lists":%d,"ref_lists":"%s","ref_adapter":"%s","procs":%d}' \
  "$storm" "$hold" "$hold_s" "$hb" "$hb_s" "$hb_ms" "$lat" "$churn" "$lat_s" "$observers" "$fan" "$fan_reps" "$seed_lists" "$ref_lists" "$ref_adapter" "$procs")
machine=$(printf '{"cores":%d,"mem_gib":%d,"kernel":"%s","node":"%s","redis":"%s","date":"%s"}' \
  "$(nproc)" "$(awk '/MemTotal/ {printf "%d", $2/1048576}' /proc/meminfo)" "$(uname -r)" \
  "$(node --version)" "$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" "$(date -u +%Y-%m-%dT%H:%MZ)")
node "$ref_dir/report.mjs" "$tmp/runs.jsonl" "$sizes" "$machine" ${json_out:+"$json_out"}
