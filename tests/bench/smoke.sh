#!/usr/bin/env bash
# The benchmark tools still work: the load generator drives the floor
# server (bench/floor.cpp) and presenced through small native and seed-000
# runs and must report nothing lost; --samples-file must hold a line per
# churn join seen. Sizes are tiny: this checks the tools, it measures
# nothing.
#   tests/bench/smoke.sh LOADGEN FLOOR_SERVER PRESENCED
set -euo pipefail
gen=$1; floor=$2; presenced=$3
tmp=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
start() { # start BIN ARGS...
  rm -f "$tmp/port"
  "$@" --listen 127.0.0.1:0 --port-file "$tmp/port" > "$tmp/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
  [ -s "$tmp/port" ] || { echo "smoke: $1 did not start"; cat "$tmp/server.log"; exit 1; }
  port=$(head -1 "$tmp/port")
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }
run() { # run NAME LOADGEN-ARGS...: loadgen exits 1 when something was lost
  local name=$1; shift
  if ! "$gen" --port "$port" --server-pid "$pid" --timeout-s 20 "$@" \
       > "$tmp/$name.json" 2> "$tmp/$name.err"; then
    echo "smoke: $name failed"; cat "$tmp/$name.err"; exit 1
  fi
  grep -q '"lost":false' "$tmp/$name.json" || { echo "smoke: $name lost"; exit 1; }
  echo "smoke: $name ok"
}

start "$floor"
run floor_heartbeat --scenario heartbeat --connections 50 --observers 2 --seconds 2
run floor_latency --scenario latency --connections 100 --observers 2 --rate 50 \
    --seconds 2 --churn-hold-ms 200 --samples-file "$tmp/samples"
n=$(wc -l < "$tmp/samples.0")
# Two observers, about 100 churn joins: each seen by both.
[ "$n" -ge 100 ] || { echo "smoke: $n samples, expected >= 100"; exit 1; }
awk 'NF != 3 || $2 < 0 { bad = 1 } END { exit bad }' "$tmp/samples.0" \
  || { echo "smoke: malformed samples"; head -3 "$tmp/samples.0"; exit 1; }
run floor_fanout --scenario fanout --observers 50 --repeat 2
run floor_sio000 --protocol sio000 --sio-path /api/socketio/ --scenario heartbeat \
    --connections 30 --observers 2 --seconds 2
stop

start "$presenced" --data-dir "$tmp/data" --log-level warn --reconnect-grace 0
run presenced_heartbeat --scenario heartbeat --connections 50 --observers 2 --seconds 2
run presenced_sio000 --protocol sio000 --sio-path /api/socketio/ --scenario heartbeat \
    --connections 30 --observers 2 --seconds 2
stop
