#!/usr/bin/env bash
# RSS per held, joined connection, and what stays after the clients close:
# one fresh presenced, ROUNDS rounds of N clients held by
# `loadgen --scenario hold --procs 2` (new user ids each round), RSS before,
# while held (SETTLE s after the last join; with the peak RSS so far) and
# 15 s after they closed, each
# with the connections still open and the heap (from /metrics); a warning
# when fewer than N are open as RSS is read.
#   bench/hold_rss.sh [N] [ROUNDS] [loadgen args...]
#   bench/hold_rss.sh 19000                 # native, one round
#   bench/hold_rss.sh 10000 2               # native, held and closed twice
#   SETTLE=12 bench/hold_rss.sh 10000 1 --protocol sio000 --sio-path /api/socketio/
#   SETTLE=quiet bench/hold_rss.sh 10000 1 --protocol sio000 --sio-path /api/socketio/
# CPU_SECONDS (default 10): how long the server's CPU is read while held,
# after RSS (e.g. PRESENCED_ARGS="--sio-ping-interval 1000": one Engine.IO
# ping and pong per client per second).
# SETTLE: seconds to wait after the last join before RSS is read (default
# 2), or `quiet`: until the server has used under 2.5% of a core for 3 s
# (a seed-000 storm's frames still being written hold their memory), then
# 11 s more (one malloc_trim period). PRESENCED_BIN: another server binary
# (A/B); PRESENCED_ARGS: more server options (e.g. "--sio-ping-timeout
# 120000": 10,000 seed-000 clients on 2 shared cores read the storm's
# frames more than 20 s late, docs/benchmarks.md). Loopback only; stops
# what it started. Needs a build (make build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PRESENCED_BIN:-$root/build/app/presenced}
gen=$root/build/bench/loadgen
n=${1:-19000}
rounds=${2:-1}
shift $(( $# < 2 ? $# : 2 ))
settle=${SETTLE:-2}
cpu_s=${CPU_SECONDS:-10}
t=$(mktemp -d)
"$bin" --listen 127.0.0.1:0 --port-file "$t/port" --data-dir "$t/data" \
  --log-level warn --max-connections=$((n + 100)) --reconnect-grace 0 \
  ${PRESENCED_ARGS:-} 2>"$t/log" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$t"; }
trap cleanup EXIT
for _ in $(seq 200); do [ -s "$t/port" ] && break; sleep 0.05; done
port=$(head -1 "$t/port")
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
# The highest RSS so far (the storm of joins and its queued frames).
peak() { awk '/VmHWM/ {print $2}' "/proc/$pid/status"; }
# One /metrics scrape: the connections still open (a client the server
# closed as a slow consumer no longer counts, whatever the load generator
# thinks) and the heap as glibc sees it (MiB in use / held free). Exits 1
# when fewer than $1 clients (and the scrape itself) are connected.
heap() {
  { curl -s "http://127.0.0.1:$port/metrics" || true; } |
    awk -v n="${1:-0}" '/^presence_connections / {c=$2} /^presence_slow_consumers_total / {s=$2}
         /^presence_heap_in_use_bytes / {u=$2} /^presence_heap_free_bytes / {f=$2}
         /^presence_sio_ping_timeouts_total / {p=$2}
         END {printf "%.0f connections open (the scrape included), %.0f closed as slow consumers, %.0f for Engine.IO ping timeouts; heap %.1f MiB in use, %.1f held free",
                     c, s, p, u / 1048576, f / 1048576
              exit !(c + 0 >= n + 1)}'
}
idle=$(rss)
for round in $(seq "$rounds"); do
  "$gen" --port "$port" --scenario hold --procs 2 --connections "$n" \
    --observers 0 --seconds 600 --prefix "r${round}u" \
    --ready-file "$t/ready$round" --quiet "$@" >/dev/null 2>&1 &
  h=$!
  for _ in $(seq 1200); do [ -s "$t/ready$round" ] && break; sleep 0.1; done
  [ -s "$t/ready$round" ] || { echo "round $round: the clients did not all join" >&2; exit 1; }
  if [ "$settle" = quiet ]; then
    hz=$(getconf CLK_TCK)
    cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
    for _ in $(seq 60); do
      c0=$(cpu); sleep 3; c1=$(cpu)
      [ $(( (c1 - c0) * 1000 / hz )) -lt 75 ] && break
    done
    sleep 11
  else
    sleep "$settle"
  fi
  held=$(rss); held_peak=$(peak)
  if ! held_heap=$(heap "$n"); then
    echo "round $round: fewer than $n connections still open when RSS was read" \
         "(the server or the load generator dropped some): the figure below is not per held connection" >&2
  fi
  # The server's CPU while the clients only hold (their pings and, for
  # Socket.IO, the server's Engine.IO pings and the clients' pongs).
  c0=$(awk '{print $14 + $15}' "/proc/$pid/stat"); sleep "$cpu_s"
  c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  held_cpu=$(( (c1 - c0) * 1000 / $(getconf CLK_TCK) / cpu_s ))
  kill "$h"; wait "$h" 2>/dev/null || true
  sleep 15
  after=$(rss); after_heap=$(heap || true)
  echo "$(basename "$bin") round $round: $n held: RSS idle ${idle} KiB, held ${held} KiB, peak so far ${held_peak} KiB" \
    "($(echo "scale=2; ($held - $idle) / $n" | bc) KiB per connection; $held_heap)," \
    "server CPU while held ${held_cpu} ms/s over ${cpu_s} s," \
    "15 s after they closed ${after} KiB ($after_heap)"
done
