#!/usr/bin/env bash
# The native protocol's figures (issue 8's targets), one fresh presenced per
# scenario, the load generator on the same machine, server CPU per
# operation from /proc. Prints a table and one JSON line.
#   bench/native.sh [--quick] [--scenarios heartbeat,busy,latency,latency-sio,fanout,scale]
#                   [--json FILE]
# PRESENCED_ARGS: extra server arguments for every run, e.g.
#   PRESENCED_ARGS="--scheduler-policy stealing" bench/native.sh --scenarios heartbeat
# PRESENCED_BIN: another server binary (A/B against an older build)
# LOADGEN_BIN: another load generator, e.g. a wrapper running it under
#   `chrt -b 0` (SCHED_BATCH: the clients it wakes do not preempt the server)
# heartbeat: 1,000 clients pinging once a second (CPU per ping, RTT)
# busy:      1,000 clients pinging 10 times a second
# latency:   10,000 online, 2 observers, 1,000 joins/s (each stays 1 s)
# latency-sio: the same with 2 Socket.IO observers (seed 000's join_user,
#            user_online): seed 000 sends every join to every socket, so
#            10,000 Socket.IO users cannot be held on this machine (100
#            million frames to set up); the 10,000 online and the joins
#            stay native, what Socket.IO observers wait for is measured
# fanout:    one user joins and leaves; 10,000 subscribers; each change
#            alone (FANOUT_GAP_MS, default 150, of quiet before each: past
#            the 100 ms the fan-out paces itself after a send to 10,000;
#            FANOUT_GAP_MS=0: back to back, as before 2026-12-04 23:40)
# soak:      (not in the default list) 5,000 online (a heartbeat every 25 s
#            each), 2 observers, 100
#            joins/s each staying 1 s, for 10 minutes: RSS and latency per
#            minute (quick: 1,000 online, 2 minutes; SOAK_SECONDS: another
#            length)
# scale:     19,000 joined clients (2 load processes) pinging once a second,
#            RSS per connection, then SIGTERM while they are connected:
#            seconds to exit, and whether every user was recorded offline
# Needs a build (make build). Loopback only; stops what it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PRESENCED_BIN:-$root/build/app/presenced}
gen=${LOADGEN_BIN:-$root/build/bench/loadgen}
scenarios=heartbeat,busy,latency,latency-sio,fanout,scale
quick=0
json_out=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --scenarios) scenarios=$2; shift ;;
    --json) json_out=$2; shift ;;
    *) echo "native.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ $quick = 1 ]; then
  n_hb=200; n_lat=1000; rate=100; n_fan=1000; n_scale=2000; secs=5
else
  n_hb=1000; n_lat=10000; rate=1000; n_fan=10000; n_scale=19000; secs=20
fi
[ -x "$bin" ] && [ -x "$gen" ] || { echo "native.sh: run make build first" >&2; exit 2; }

tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_server [--keep-data] SERVER-ARGS...
start_server() {
  if [ "${1:-}" = --keep-data ]; then shift; else rm -rf "$tmp/data"; fi
  rm -f "$tmp/port"
  "$bin" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
         --log-level warn ${PRESENCED_ARGS:-} "$@" 2> "$tmp/server.log" &
  pid=$!
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  port=$(head -1 "$tmp/port")
}
stop_server() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}
# run NAME LOADGEN-ARGS...: one JSON line per scenario into $tmp/runs
run() {
  local name=$1; shift
  echo "native: $name..." >&2
  start_server --reconnect-grace 0 ${more:-}
  local out rc=0 sampler= samples=null
  if [ "$name" = soak ]; then
    # Every 30 s: RSS (KiB), RocksDB's buffers (bytes): memtables
    # (--store-memtable-mb), block cache (--store-cache-mb), table readers;
    # then the heap in use and the heap held free (bytes, glibc's mallinfo2).
    ( while kill -0 "$pid" 2>/dev/null; do
        m=$(curl -s "http://127.0.0.1:$port/metrics" \
            | awk '/^presence_store_memtable_bytes / {m=$2}
                   /^presence_store_block_cache_bytes / {c=$2}
                   /^presence_store_table_reader_bytes / {t=$2}
                   /^presence_heap_in_use_bytes / {h=$2}
                   /^presence_heap_free_bytes / {f=$2}
                   END {printf "%.0f,%.0f,%.0f,%.0f,%.0f", m, c, t, h, f}')
        r=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        echo "[$(date +%s),${r:-0},${m:-0,0,0,0,0}]"
        sleep 30
      done ) > "$tmp/samples" &
    sampler=$!
  fi
  out=$("$gen" --port "$port" --server-pid "$pid" --quiet "$@") || rc=$?
  if [ -n "$sampler" ]; then
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    samples="[$(paste -sd, "$tmp/samples")]"
  fi
  stop_server
  echo "{\"name\":\"$name\",\"rc\":$rc,\"samples\":$samples,\"loadgen\":${out:-null}}" >> "$tmp/runs"
}

IFS=, read -ra list <<< "$scenarios"
for s in "${list[@]}"; do
  case $s in
    heartbeat) run heartbeat --scenario heartbeat --connections $n_hb \
                 --observers 0 --ping-interval-ms 1000 --seconds $secs ;;
    busy) run busy --scenario heartbeat --connections $n_hb --observers 0 \
            --ping-interval-ms 100 --seconds $secs ;;
    latency) run latency --scenario latency --connections $n_lat \
               --observers 2 --rate $rate --seconds $((secs / 2)) ;;
    latency-sio) run latency-sio --scenario latency --connections $n_lat \
                   --observers 2 --rate $rate --seconds $((secs / 2)) \
                   --observer-protocol sio000 --sio-path /api/socketio/ ;;
    fanout) run fanout --scenario fanout --observers $n_fan --repeat 10 \
              --rep-gap-ms "${FANOUT_GAP_MS:-150}" ;;
    soak)
      if [ $quick = 1 ]; then soak_n=1000; soak_s=120; else soak_n=5000; soak_s=600; fi
      soak_s=${SOAK_SECONDS:-$soak_s}
      run soak --scenario soak --connections $soak_n --observers 2 --rate 100 \
        --seconds $soak_s --window-s 60 --timeout-s 120 --ping-interval-ms 25000 ;;
    scale)
      # 19,000 joined clients pinging once a second (two load processes:
      # the open-files limit is 20,000 per process). The server allows a
      # few more than its default 19,000 connections: the observers and
      # the HTTP checks below come on top.
      more=--max-connections=$((n_scale + 100))
      run scale --scenario heartbeat --procs 2 --connections $n_scale \
        --observers 2 --ping-interval-ms 1000 --seconds $secs
      # Then held idle: RSS per connection, and SIGTERM while they are all
      # connected.
      echo "native: hold + shutdown..." >&2
      start_server $more
      rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
      idle_kb=$(rss)
      "$gen" --port "$port" --scenario hold --procs 2 --connections $n_scale \
             --observers 0 --seconds 600 --ready-file "$tmp/ready" --quiet \
             > /dev/null 2>&1 &
      hold=$!
      for _ in $(seq 1200); do [ -s "$tmp/ready" ] && break; sleep 0.1; done
      sleep 2
      held_kb=$(rss)
      count() {
        curl -s "http://127.0.0.1:$port/api/online-users?countOnly=true" \
          | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).count ?? -1)}catch{console.log(-1)}})'
      }
      online=$(count)
      t0=$(date +%s%N)
      kill -TERM "$pid"
      src=0; wait "$pid" || src=$?
      t1=$(date +%s%N)
      pid=
      kill "$hold" 2>/dev/null || true; wait "$hold" 2>/dev/null || true
      hard=$(grep -c "exiting hard" "$tmp/server.log" || true)
      # After a restart on the same data: nobody online, nothing left open
      # for crash recovery, and the users have a last_seen.
      start_server --keep-data $more
      left=$(count)
      seen=$(curl -s "http://127.0.0.1:$port/api/user-status/u0" \
             | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{console.log(JSON.parse(s).data.lastSeen ? 1 : 0)}catch{console.log(0)}})')
      # Sessions a crash left open, closed at this start (0 after a clean
      # shutdown).
      recovered=$(curl -s "http://127.0.0.1:$port/metrics" \
                  | awk '/^presence_store_sessions_recovered / {print $2}')
      stop_server
      echo "{\"name\":\"shutdown\",\"rc\":$src,\"clients\":$n_scale,\"rss_idle_kb\":$idle_kb,\"rss_held_kb\":$held_kb,\"online_at_sigterm\":$online,\"exit_ms\":$(( (t1 - t0) / 1000000 )),\"watchdog\":$hard,\"online_after_restart\":$left,\"u0_has_last_seen\":$seen,\"recovered_at_restart\":${recovered:-null}}" >> "$tmp/runs"
      ;;
    *) echo "native.sh: unknown scenario $s" >&2; exit 2 ;;
  esac
done

node - "$tmp/runs" <<'EOF' | tee "$tmp/report"
const fs = require('fs');
const os = require('os');
const runs = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map(l => JSON.parse(l));
const rows = [];
const f = (x, d = 1) => (x === undefined || x === null ? '-' : Number(x).toFixed(d));
for (const r of runs) {
  const g = r.loadgen || {};
  switch (r.name) {
    case 'heartbeat': case 'busy': case 'scale':
      rows.push([r.name, `${g.connections} clients, ${f(g.rounds_per_s, 0)} pings/s`,
                 `${f(g.server_cpu_us_per_round)} µs CPU/ping`,
                 `RTT p50 ${f(g.rtt_ms_p50, 2)} / p99 ${f(g.rtt_ms_p99, 2)} ms`,
                 `failed ${g.failed}`]);
      break;
    case 'latency': case 'latency-sio':
      rows.push([r.name, `${g.held} online, ${g.rate} joins/s, ${g.observer_protocol} observers`,
                 `${f(g.server_cpu_us_per_churn, 0)} µs CPU/churn`,
                 `join->observer p50 ${f(g.delivery_ms_p50, 2)} / p99 ${f(g.delivery_ms_p99, 2)} ms`,
                 `leave p50 ${f(g.leave_delivery_ms_p50, 2)} ms, failed ${g.failed}`]);
      break;
    case 'fanout':
      rows.push([r.name, `${g.subscribers} subscribers`,
                 `${f(g.server_cpu_us_per_delivery)} µs CPU/delivery`,
                 `last delivery p50 ${f(g.fanout_last_ms_p50)} / p99 ${f(g.fanout_last_ms_p99)} ms`,
                 `missing ${g.missing}`]);
      break;
    case 'soak': {
      const w = g.windows || [];
      const rss = w.map(x => x.server_rss_kb).filter(x => x > 0);
      const base = rss.length ? rss[0] : 0;
      const dev = rss.length ? Math.max(...rss.map(x => Math.abs(x - base) / base)) : 0;
      rows.push([r.name, `${g.held} online, ${g.rate} joins/s, ${w.length} windows`,
                 `RSS ${rss.map(x => f(x / 1024)).join(' ')} MiB (max ${f(dev * 100)}% from the first)`,
                 `join->observer p99 per window ${w.map(x => f(x.p99_ms, 1)).join(' ')} ms`,
                 `failed ${g.failed}`]);
      const sm = (r.samples || []).filter(x => x[1] > 0);
      if (sm.length > 1) {
        const rest = sm.map(x => x[1] - x[2] / 1024); // KiB without memtables
        const rocks = sm.map(x => ((x[2] || 0) + (x[3] || 0) + (x[4] || 0)) / 1024);
        const own = sm.map((x, i) => x[1] - rocks[i]); // KiB without RocksDB's buffers
        const vs = (xs, i) => f((xs[xs.length - 1] / xs[Math.min(i, xs.length - 1)] - 1) * 100);
        rows.push(['soak (30 s samples)', `RSS ${sm.map(x => f(x[1] / 1024)).join(' ')} MiB`,
                   `memtables ${sm.map(x => f(x[2] / 2 ** 20)).join(' ')} MiB`,
                   `block cache ${sm.map(x => f((x[3] || 0) / 2 ** 20)).join(' ')} MiB`,
                   `table readers ${sm.map(x => f((x[4] || 0) / 2 ** 20)).join(' ')} MiB`,
                   `RSS without memtables ${rest.map(x => f(x / 1024)).join(' ')} MiB`,
                   `RSS without RocksDB's buffers ${own.map(x => f(x / 1024)).join(' ')} MiB`,
                   `heap in use ${sm.map(x => f((x[5] || 0) / 2 ** 20)).join(' ')} MiB`,
                   `heap held free ${sm.map(x => f((x[6] || 0) / 2 ** 20)).join(' ')} MiB`,
                   // from the third sample on (the first is before the clients,
                   // the second during the joins); and from 150 s in, once
                   // the change log's 120 s window is full
                   `without memtables, last vs 60 s in: ${vs(rest, 2)}%`,
                   `without RocksDB's buffers, last vs 60 s in: ${vs(own, 2)}%, vs 150 s in: ${vs(own, 5)}%`,
                   `server CPU per window ${w.filter(x => x.server_cpu_ms).map(x => f(x.server_cpu_ms / 1000, 1)).join(' ')} s`]);
      }
      break;
    }
    case 'shutdown':
      rows.push(['hold', `${r.clients} joined, idle`,
                 `RSS ${f(r.rss_idle_kb / 1024)} -> ${f(r.rss_held_kb / 1024)} MiB`,
                 `${f((r.rss_held_kb - r.rss_idle_kb) / r.clients, 2)} KiB per connection`, '']);
      rows.push([r.name, `${r.online_at_sigterm} online at SIGTERM`,
                 `exit ${r.exit_ms} ms (rc ${r.rc})`, `watchdog ${r.watchdog ? 'FIRED' : 'no'}`,
                 `online after restart ${r.online_after_restart}, sessions recovered ${r.recovered_at_restart} (0: all closed cleanly), u0 last_seen ${r.u0_has_last_seen ? 'yes' : 'no'}`]);
      break;
  }
}
console.log(`machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, ${new Date().toISOString().slice(0, 16)}Z`);
for (const r of rows) console.log(r.join(' | '));
console.log(JSON.stringify({ native: { runs } }));
EOF
if [ -n "$json_out" ]; then tail -1 "$tmp/report" > "$json_out"; fi
