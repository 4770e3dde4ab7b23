#!/usr/bin/env bash
# NODES presenced nodes on loopback (default 3), one load generator per
# node (users u-N-<i> on node N), all on this machine. Prints each
# generator's figures and the cluster's totals. Stops everything it
# started.
#   [NODES=6] [CONCURRENCY=500] [PRESENCED_ARGS=...] [LOADGEN_ARGS=...] bench/cluster.sh [CONNECTIONS_PER_NODE] [SECONDS] [PING_MS]
# PRESENCED_ARGS: more server arguments for every node.
# LOADGEN_ARGS: more load generator arguments, e.g. "--timeout-s 180" (how
# long observers wait for every offline delta after the mass close).
# KEEP_LOGS=DIR: the nodes' logs (stderr) are copied to DIR/log<N> at the end.
# PRESENCED_BIN: another server binary (another build, for an A/B).
# SOURCES=N (default 16): each generator binds its connections to
# 127.0.0.2 .. 127.0.0.(N+1) in turn (loadgen --source-ips; the nodes get
# --max-connections-per-ip 0, as 127.0.0.1 is exempt). From one address,
# 16,000 connections to one port made the generator's kernel search the
# ephemeral range on every connect: half of its CPU (docs/benchmarks.md,
# twenty-fourth session). SOURCES=0: every connection from 127.0.0.1.
# FLOOR=1: NODES unlinked floor servers (bench/floor.cpp: no presence work)
# instead of presenced, the same generators: what the machine's cores and
# kernel allow with that many processes before any server works.
# The 100,000-user run of docs/benchmarks.md:
#   NODES=6 bench/cluster.sh 16700 20 25000
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PRESENCED_BIN:-$root/build/app/presenced}
floor=${FLOOR:-0}
[ "$floor" = 1 ] && bin=$root/build/bench/floor_server
gen=$root/build/bench/loadgen
nodes=${NODES:-3}
conc=${CONCURRENCY:-500}
conns=${1:-1000}
secs=${2:-10}
ping=${3:-1000}
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "${KEEP_LOGS:-}" ]; then mkdir -p "$KEEP_LOGS" && cp "$tmp"/log* "$KEEP_LOGS"/; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

common=(--log-level warn --reconnect-grace 0 --cluster-heartbeat 200 --failure-timeout 2000)
sources=${SOURCES:-16}
source_args=()
if [ "$sources" -gt 0 ]; then
  common+=(--max-connections-per-ip 0)
  source_args=(--source-ips "$(seq -s, -f "127.0.0.%g" 2 $((sources + 1)))")
fi
seeds=""
for n in $(seq "$nodes"); do
  args=(--listen 127.0.0.1:0 --port-file "$tmp/port$n" --data-dir "$tmp/data$n"
        --cluster-listen 127.0.0.1:0 --node-id "n$n" "${common[@]}" ${PRESENCED_ARGS:-})
  [ -n "$seeds" ] && args+=(--seeds "$seeds")
  [ "$floor" = 1 ] && args=(--listen 127.0.0.1:0 --port-file "$tmp/port$n")
  "$bin" "${args[@]}" 2> "$tmp/log$n" &
  pids+=($!)
  for _ in $(seq 200); do [ -s "$tmp/port$n" ] && break; sleep 0.05; done
  seeds="${seeds:+$seeds,}127.0.0.1:$(sed -n 2p "$tmp/port$n")"
done
http1=$(head -1 "$tmp/port1")
for _ in $(seq 100); do
  [ "$floor" = 1 ] && break
  curl -s "http://127.0.0.1:$http1/api/cluster" | grep -o '"state":"alive"' | wc -l \
    | grep -q "^$((nodes - 1))\$" && break
  sleep 0.1
done
echo "machine: $(nproc) cores; date: $(date -u +%Y-%m-%dT%H:%MZ); $nodes nodes x $conns clients; $sources source addresses"
gens=()
for n in $(seq "$nodes"); do
  # --server-pid: the CPU figures are the whole cluster's (all three nodes).
  "$gen" --port "$(head -1 "$tmp/port$n")" --connections "$conns" --seconds "$secs" \
         --ping-interval-ms "$ping" --observers 1 --prefix "u-$n-" \
         --concurrency "$conc" "${source_args[@]}" ${LOADGEN_ARGS:-} \
         --server-pid "$(IFS=,; echo "${pids[*]}")" > "$tmp/result$n.json" &
  gens+=($!)
done
rc=0
for g in "${gens[@]}"; do wait "$g" || rc=1; done
for n in $(seq "$nodes"); do echo "node n$n: $(cat "$tmp/result$n.json")"; done
# The cluster's own view after everyone closed: users still online per
# node, polled until 0 (every leave recorded, whatever the observers saw)
# or for 60 s.
t_close=$(date +%s)
[ "$floor" = 1 ] && nodes_checked=0 || nodes_checked=$nodes
for n in $(seq "$nodes_checked"); do
  left=-1
  for _ in $(seq 600); do
    left=$(curl -s -m 5 "http://127.0.0.1:$(head -1 "$tmp/port$n")/api/online-users?countOnly=true" \
           | sed -n 's/.*"count":\([0-9]*\).*/\1/p')
    [ "${left:-x}" = 0 ] && break
    [ $(( $(date +%s) - t_close )) -ge 60 ] && break
    sleep 0.1
  done
  echo "node n$n: online after the close: ${left:-?} ($(( $(date +%s) - t_close )) s after the generators ended)"
done
# Sessions each node closed for not reading (write queue over
# --write-queue-max-bytes, or over --write-queue-bytes for too long).
for n in $(seq "$nodes_checked"); do
  metrics=$(curl -s "http://127.0.0.1:$(head -1 "$tmp/port$n")/metrics")
  slow=$(awk '/^presence_slow_consumers_total / {print $2}' <<< "$metrics")
  echo "node n$n: slow consumers closed: ${slow:-?}"
  # How late its heartbeat ticks ran: near --failure-timeout the others
  # declare it dead.
  late=$(awk -F'[{}" ]+' '/^presence_cluster_tick_delay_seconds_bucket/ {
           b[$3] = $NF } /^presence_cluster_tick_delay_seconds_count/ { c = $NF }
         /^presence_cluster_tick_delay_seconds_sum/ { sum = $NF }
         END { printf "%d ticks, mean %.1f ms, over 10 ms: %d, over 0.1 s: %d, " \
                      "over 0.5 s: %d, over 1 s: %d", c, c ? sum * 1000 / c : 0,
               c - b["0.01"], c - b["0.1"], c - b["0.5"], c - b["1"] }' <<< "$metrics")
  echo "node n$n: ticks late: $late"
done
# The cluster's totals: users joined, the slowest generator's join phase
# (joins/s cluster-wide), heartbeats.
node - "$tmp" "$nodes" <<'EOF'
const fs = require('fs');
const [dir, n] = [process.argv[2], Number(process.argv[3])];
const rs = [];
for (let i = 1; i <= n; i++) {
  try { rs.push(JSON.parse(fs.readFileSync(`${dir}/result${i}.json`, 'utf8').trim().split('\n').pop())); } catch { }
}
const sum = k => rs.reduce((a, r) => a + (r[k] || 0), 0);
const max = k => Math.max(...rs.map(r => r[k] || 0));
const joined = sum('joined');
const ms = max('join_total_ms');
console.log(`cluster: ${rs.length}/${n} generators reported; ${joined} users joined in ${ms} ms ` +
            `(${Math.round(joined / (ms / 1000))}/s cluster-wide); join p99 up to ${max('join_ms_p99')} ms; ` +
            `${Math.round(sum('pongs_per_s') || sum('rounds_per_s'))} heartbeats/s; failed ${sum('failed')}`);
// CPU per join over the storm: every generator measures all the servers
// (--server-pid), so the slowest generator's "joined" phase (its start to
// its last join) covers the whole storm; the generators' own CPU is each
// one's joined phase, summed.
const slowest = rs.reduce((a, r) => (r.join_total_ms || 0) > (a.join_total_ms || 0) ? r : a, rs[0] || {});
const phase = (r, name) => (r.phases || []).find(p => p.name === name) || {};
const srv = phase(slowest, 'joined').server_cpu_ms;
const cli = rs.reduce((a, r) => a + (phase(r, 'joined').client_cpu_ms || 0), 0);
if (joined > 0 && srv !== undefined)
  console.log(`cluster CPU per join: servers ${Math.round(srv * 1000 / joined)} µs ` +
              `(${Math.round(srv)} ms over the storm), generators ${Math.round(cli * 1000 / joined)} µs`);
EOF
exit $rc
