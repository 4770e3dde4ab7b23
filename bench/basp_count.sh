#!/usr/bin/env bash
# Counts the messages the nodes of a loopback cluster receive from each
# other (CAF's BASP) during a join storm, by kind, per routed join: what a
# join costs in remote messages, which a profile cannot say.
#   [RECORD_S=8] [NODES=6] bench/basp_count.sh [CONNECTIONS_PER_NODE]
# Runs `NODES=6 bench/cluster.sh N 5 25000` (default N = 8000) and, from
# the moment the load generators start, records RECORD_S seconds of a uprobe on
# CAF's basp::instance::handle (every BASP message a node reads). Needs
# root and linux-perf. The probe reads the header's operation (2 a
# message to an actor, 4 a new proxy announced, 5 a proxy's actor gone, 6
# a heartbeat) and the start of a message's payload, the type names CAF
# 0.17 writes ahead of each message ("@<>+@atom+presence::join_request"):
# the register and offset are those of CAF 0.17.6 on x86-64.
# The probe slows the nodes (fewer joins per second than without it): the
# ratios are what counts. PRESENCED_BIN: another build (bench/cluster.sh). "per routed join" divides by the join_requests
# seen (a join whose user's owner is another node).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lib=$(ldconfig -p | awk '/libcaf_io.so.0.17/ {print $NF; exit}')
[ -n "$lib" ] || { echo "libcaf_io 0.17 not found" >&2; exit 1; }
sym=_ZN3caf2io4basp8instance6handleEPNS_14execution_unitENS0_17connection_handleERNS1_6headerEPSt6vectorIcSaIcEE
addr=$(nm -D --defined-only "$lib" | awk -v s="$sym" '$3 == s {print "0x" $1}')
[ -n "$addr" ] || { echo "basp::instance::handle not found in $lib" >&2; exit 1; }
tmp=$(mktemp -d)
cleanup() {
  perf probe -q -d 'probe_libcaf_io:basp_in' 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
perf probe -q -d 'probe_libcaf_io:basp_in' 2>/dev/null || true
perf probe -q -x "$lib" -a "basp_in=$addr op=+0(%cx):u8 tl=+3(+0(%r8)):u8 ty=+4(+0(%r8)):string"
NODES=${NODES:-6} LOADGEN_ARGS="--timeout-s 120" "$root/bench/cluster.sh" "${1:-8000}" 5 25000 \
  > "$tmp/cluster.log" 2>&1 &
run=$!
for _ in $(seq 600); do pgrep -x loadgen > /dev/null && break; sleep 0.05; done
pids=$(pgrep -x "$(basename "${PRESENCED_BIN:-presenced}" | cut -c1-15)" | paste -sd,)
perf record -q -e probe_libcaf_io:basp_in -o "$tmp/perf.data" -p "$pids" -- sleep "${RECORD_S:-8}" \
  > /dev/null 2>&1 || true
wait "$run" || true
grep -E '^(machine|cluster)' "$tmp/cluster.log" || true
perf script -i "$tmp/perf.data" -F trace 2> /dev/null > "$tmp/trace" || true
LC_ALL=C awk '
  !/ op=/ { next } # the rest of a payload that held a line break
  {
    op = $0; sub(/.*op=/, "", op); sub(/ .*/, "", op)
    tl = $0; sub(/.*tl=/, "", tl); sub(/ .*/, "", tl)
    ty = $0; sub(/.*ty="/, "", ty)
    # The type names are a string of tl bytes; the payload follows.
    ty = (substr(ty, 1, 3) == "@<>" && tl + 0 < 128) ? substr(ty, 1, tl) : ""
    if (op == 4) ty = "(a new proxy announced)"
    else if (op == 5) ty = "(a proxied actor gone)"
    else if (op == 6) ty = "(heartbeat)"
    n[op " " ty]++
    if (ty ~ /join_request$/) routed++
    total++
  }
  END {
    printf "%d BASP messages read, %d routed joins (join_request); count, per routed join, op and kind:\n", total, routed
    for (k in n) printf "%9d %9.2f  %s\n", n[k], routed ? n[k] / routed : 0, k | "sort -rn | head -25"
  }' "$tmp/trace"
