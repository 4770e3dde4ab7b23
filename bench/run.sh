#!/usr/bin/env bash
# Starts presenced on a free loopback port with a temp data dir, runs the
# load generator against it, reports the server's memory, stops it by PID.
#   bench/run.sh [CONNECTIONS] [SECONDS] [PING_MS] [OBSERVERS]
# Needs a build (make build). Loopback only; stops by itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/app/presenced
gen=$root/build/bench/loadgen
conns=${1:-1000}
secs=${2:-10}
ping=${3:-1000}
obs=${4:-2}
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

"$bin" --listen 127.0.0.1:0 --port-file "$tmp/port" --data-dir "$tmp/data" \
       --log-level warn --reconnect-grace 0 &
pid=$!
for _ in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
# The port file: line 1 the HTTP port, line 2 the cluster port (0 here).
port=$(head -1 "$tmp/port")
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
idle=$(rss_kb)
"$gen" --port "$port" --connections "$conns" --seconds "$secs" \
       --ping-interval-ms "$ping" --observers "$obs" --server-pid "$pid" \
       > "$tmp/result.json" &
gpid=$!
# Peak RSS while the clients are connected (sampled).
peak=$idle
while kill -0 "$gpid" 2>/dev/null; do
  r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.2
done
rc=0; wait "$gpid" || rc=$?
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "server rss: idle ${idle} KiB, peak ${peak} KiB, per connection ~$(( (peak - idle) / (conns + obs) )) KiB"
cat "$tmp/result.json"
exit $rc
