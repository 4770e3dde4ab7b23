#!/usr/bin/env bash
# Three presenced nodes on loopback, one load generator per node (users
# u-N-<i> on node N), all on this machine. Prints each generator's figures
# and the cluster's view at the end. Stops everything it started.
#   bench/cluster.sh [CONNECTIONS_PER_NODE] [SECONDS] [PING_MS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/build/app/presenced
gen=$root/build/bench/loadgen
conns=${1:-1000}
secs=${2:-10}
ping=${3:-1000}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

common=(--log-level warn --reconnect-grace 0 --cluster-heartbeat 200 --failure-timeout 2000)
seeds=""
for n in 1 2 3; do
  args=(--listen 127.0.0.1:0 --port-file "$tmp/port$n" --data-dir "$tmp/data$n"
        --cluster-listen 127.0.0.1:0 --node-id "n$n" "${common[@]}")
  [ -n "$seeds" ] && args+=(--seeds "$seeds")
  "$bin" "${args[@]}" 2> "$tmp/log$n" &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$tmp/port$n" ] && break; sleep 0.05; done
  seeds="${seeds:+$seeds,}127.0.0.1:$(sed -n 2p "$tmp/port$n")"
done
http1=$(head -1 "$tmp/port1")
for _ in $(seq 100); do
  curl -s "http://127.0.0.1:$http1/api/cluster" | grep -o '"state":"alive"' | wc -l \
    | grep -q '^2$' && break
  sleep 0.1
done
echo "machine: $(nproc) cores; date: $(date -u +%Y-%m-%dT%H:%MZ); 3 nodes x $conns clients"
gens=()
for n in 1 2 3; do
  # --server-pid: the CPU figures are the whole cluster's (all three nodes).
  "$gen" --port "$(head -1 "$tmp/port$n")" --connections "$conns" --seconds "$secs" \
         --ping-interval-ms "$ping" --observers 1 --prefix "u-$n-" \
         --server-pid "$(IFS=,; echo "${pids[*]}")" > "$tmp/result$n.json" &
  gens+=($!)
done
rc=0
for g in "${gens[@]}"; do wait "$g" || rc=1; done
for n in 1 2 3; do echo "node n$n: $(cat "$tmp/result$n.json")"; done
exit $rc
