#!/usr/bin/env bash
# The system calls of node 1 during cluster.sh's join storm, per accepted
# connection (perf stat on the syscalls:sys_enter_* tracepoints; root and
# linux-perf). Counts over RECORD_S seconds from the storm's start, divided
# by the accept() calls seen in them, so a late start does not skew them.
#   [RECORD_S=6] [NODES=1] [PRESENCED_BIN=...] [SOURCES=16] bench/syscalls.sh [CONNECTIONS_PER_NODE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
conns=${1:-16000}
record=${RECORD_S:-6}
out=$(mktemp)
stat=$(mktemp)
cl=
trap '[ -n "$cl" ] && kill "$cl" 2>/dev/null; rm -f "$out" "$stat"' EXIT
NODES=${NODES:-1} LOADGEN_ARGS="--timeout-s 120" "$root/bench/cluster.sh" "$conns" 5 25000 > "$out" 2>&1 &
cl=$!
for _ in $(seq 600); do grep -q "^machine" "$out" && break; sleep 0.05; done
pid=$(pgrep -f -- "--node-id n1( |$)" | head -1 || true)
if [ -z "$pid" ]; then
  echo "syscalls.sh: node n1 did not start:" >&2
  cat "$out" >&2
  exit 1
fi
if ! perf stat -e 'syscalls:sys_enter_*' -p "$pid" -o "$stat" -- sleep "$record" > /dev/null 2>&1; then
  echo "syscalls.sh: perf stat failed (root and linux-perf needed):" >&2
  cat "$stat" >&2
  exit 1
fi
wait "$cl" || true
cl=
grep -E "^machine|^cluster" "$out"
awk '$1 ~ /^[0-9,]+$/ && $2 ~ /^syscalls:/ {gsub(",", "", $1); n[$2] = $1}
     END {
       a = n["syscalls:sys_enter_accept"] + n["syscalls:sys_enter_accept4"]
       if (a == 0) { print "no accept() seen: the storm was over before perf started"; exit 1 }
       printf "node n1, %d connections accepted while counted; per connection:\n", a
       for (k in n) { t += n[k]; if (n[k] >= a / 20) printf "  %-34s %6.2f\n", substr(k, 20), n[k] / a | "sort -k2 -n -r" }
       close("sort -k2 -n -r")
       printf "  %-34s %6.2f\n", "all (also those under 0.05)", t / a
     }' "$stat"
