// bench/compare.sh's report: reads the runs (one JSON object per scenario
// and server: the load generator's JSON line plus compare.sh's own /proc
// samples of each process), prints the table figure | reference |
// presenced | ratio, then one JSON line with everything.
//
//   node report.mjs RUNS.jsonl SIZES_JSON MACHINE_JSON [OUT.json]
//
// CPU: the load generator samples /proc/PID/stat of --server-pid at its
// phase barriers and sums the pids given; compare.sh gives it Node and Redis
// for the reference, so its per-operation figures are the reference stack's
// (Node + Redis) over the measured phase only. The split into Node and Redis
// is pro rata of each process's CPU over the whole run (compare.sh's own
// samples), which covers the same operations plus connection setup and
// teardown.
import { readFileSync, writeFileSync } from 'node:fs';

const [, , runsFile, sizesArg, machineArg, outFile] = process.argv;
const runs = readFileSync(runsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
const sizes = JSON.parse(sizesArg || '{}');
const machine = JSON.parse(machineArg || '{}');

const phaseCpu = (run, name) => {
  const ps = run && run.loadgen && Array.isArray(run.loadgen.phases) ? run.loadgen.phases : [];
  const p = ps.find((x) => x.name === name);
  return p && typeof p.server_cpu_ms === 'number' ? p.server_cpu_ms : null;
};
// Figures computed here from the load generator's phases.
const derived = {
  // fanout: the server CPU from each join sent until every subscriber saw
  // it (phase rep_on), per subscriber: the join's delivery cost alone,
  // without the wait for the leave (presenced announces a leave after its
  // 2 s reconnect grace, during which its idle CPU would count).
  join_delivery: (run) => {
    const c = phaseCpu(run, 'rep_on');
    const reps = run.loadgen.repeat;
    const subs = run.loadgen.subscribers;
    return c == null || !reps || !subs ? null : (c * 1000) / (reps * subs);
  },
};
const get = (run, key) => {
  if (run && run.loadgen && derived[key]) return derived[key](run);
  const v = run && run.loadgen ? run.loadgen[key] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
};
const find = (scen, server) => runs.find((r) => r.scenario === scen && r.server === server);

// Node's share of the reference stack's CPU over the whole run.
function nodeShare(run) {
  const n = run.server_cpu_ms_run;
  const r = run.redis_cpu_ms_run;
  return n + r > 0 ? n / (n + r) : null;
}

const figures = [];
// ratio: how many times better presenced is, reference / presenced where
// lower is better, presenced / reference where higher is (so a ratio
// below 1 always means the reference did better). ratioTo: what the
// reference value is compared with (default: pd).
function add(scen, figure, unit, better, ref, pd, note, ratioTo) {
  const d = ratioTo === undefined ? pd : ratioTo;
  const [num, den] = better === 'higher' ? [d, ref] : [ref, d];
  const ratio = num != null && den != null && den !== 0 ? num / den : null;
  figures.push({ scenario: scen, figure, unit, better, reference: ref, presenced: pd, ratio, note: note || null });
}

// A CPU-per-operation figure: the stack, then Node and Redis.
function cpu(scen, key, what) {
  const ref = find(scen, 'ref');
  const pd = find(scen, 'presenced');
  const total = get(ref, key);
  const p = get(pd, key);
  add(scen, `CPU per ${what}: Node+Redis | presenced`, 'µs', 'lower', total, p);
  const share = ref ? nodeShare(ref) : null;
  if (total != null && share != null) {
    add(scen, `  Node alone (pro rata)`, 'µs', 'lower', total * share, null, 'pro rata', p);
    add(scen, `  Redis alone (pro rata)`, 'µs', 'lower', total * (1 - share), null, 'pro rata', null);
  }
}
function plain(scen, figure, unit, better, key, fn) {
  const f = fn || ((run) => get(run, key));
  const ref = find(scen, 'ref');
  const pd = find(scen, 'presenced');
  add(scen, figure, unit, better, ref ? f(ref) : null, pd ? f(pd) : null);
}

const scenarios = [...new Set(runs.map((r) => r.scenario))];
for (const s of scenarios) {
  if (s === 'storm' || s === 'seedlists') {
    cpu(s, 'server_cpu_us_per_join', 'join');
    cpu(s, 'server_cpu_us_per_leave', 'leave');
    plain(s, 'joins per second', '/s', 'higher', 'joins_per_s');
    plain(s, 'join latency p50 (connect -> ack)', 'ms', 'lower', 'join_ms_p50');
    plain(s, 'join latency p99', 'ms', 'lower', 'join_ms_p99');
    plain(s, 'observers saw all online after', 'ms', 'lower', 'fanout_all_online_ms');
    plain(s, 'online_users_list received (all clients)', 'MB', 'lower', null, (r) =>
      get(r, 'list_bytes') == null ? null : get(r, 'list_bytes') / 1e6);
  } else if (s === 'hold') {
    plain(s, 'RSS per connection: Node+Redis | presenced', 'KiB', 'lower', 'server_rss_kb_per_connection');
    const n = sizes.hold || 1;
    plain(s, '  Node | presenced alone (sampled)', 'KiB', 'lower', null, (r) => (r.rss_peak_kb - r.rss_idle_kb) / n);
    plain(s, '  Redis alone (sampled)', 'KiB', 'lower', null, (r) =>
      r.server === 'ref' ? (r.redis_rss_peak_kb - r.redis_rss_idle_kb) / n : null);
    plain(s, 'CPU, no client connected: Node+Redis | presenced', 'ms/s', 'lower', null, (r) =>
      r.idle_cpu_ms_per_s < 0 ? null : r.idle_cpu_ms_per_s + Math.max(0, r.redis_idle_cpu_ms_per_s));
    plain(s, 'RSS idle (before the clients)', 'MiB', 'lower', null, (r) =>
      get(r, 'server_rss_kb_before') == null ? null : get(r, 'server_rss_kb_before') / 1024);
    plain(s, 'RSS holding the clients', 'MiB', 'lower', null, (r) =>
      get(r, 'server_rss_kb_held') == null ? null : get(r, 'server_rss_kb_held') / 1024);
    plain(s, 'CPU while holding the idle clients', 'ms/s', 'lower', null, (r) => {
      const c = get(r, 'server_cpu_ms');
      const ms = get(r, 'measured_ms');
      return c == null || !ms ? null : c / (ms / 1000);
    });
    cpu(s, 'server_cpu_us_per_join', 'join');
  } else if (s === 'heartbeat') {
    cpu(s, 'server_cpu_us_per_round', 'round');
    plain(s, 'rounds per second', '/s', 'higher', 'rounds_per_s');
    plain(s, 'round trip p50', 'ms', 'lower', 'rtt_ms_p50');
    plain(s, 'round trip p99', 'ms', 'lower', 'rtt_ms_p99');
    plain(s, 'rounds skipped (one still in flight)', '', 'lower', 'rounds_skipped');
    figures[figures.length - 1].ratio = null;
  } else if (s === 'latency') {
    cpu(s, 'server_cpu_us_per_churn', 'churn');
    plain(s, 'join sent -> observer saw user_online p50', 'ms', 'lower', 'delivery_ms_p50');
    plain(s, 'join sent -> observer saw user_online p99', 'ms', 'lower', 'delivery_ms_p99');
    plain(s, 'close -> observer saw user_offline p50', 'ms', 'lower', 'leave_delivery_ms_p50');
    plain(s, 'close -> observer saw user_offline p99', 'ms', 'lower', 'leave_delivery_ms_p99');
    plain(s, 'churn users joined', '', 'higher', 'churn_joined');
  } else if (s === 'fanout') {
    cpu(s, 'join_delivery', 'join delivery');
    cpu(s, 'server_cpu_us_per_rep', 'repetition');
    cpu(s, 'server_cpu_us_per_delivery', 'delivery (rep/2S)');
    plain(s, 'join sent -> last subscriber p50', 'ms', 'lower', 'fanout_last_ms_p50');
    plain(s, 'join sent -> last subscriber p99', 'ms', 'lower', 'fanout_last_ms_p99');
    plain(s, 'close -> last subscriber p50', 'ms', 'lower', 'leave_last_ms_p50');
    plain(s, 'close -> last subscriber p99', 'ms', 'lower', 'leave_last_ms_p99');
  }
  plain(s, 'failed + dropped', '', 'lower', null, (r) =>
    get(r, 'failed') == null ? null : get(r, 'failed') + (get(r, 'dropped') || 0));
  figures[figures.length - 1].ratio = null; // a count, not a ratio
}

// -- table -----------------------------------------------------------------------
const fmt = (v) => {
  if (v == null) return '-';
  const a = Math.abs(v);
  if (a === 0) return '0';
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
};
const titles = {
  storm: `storm: ${sizes.storm} clients connect + join_user (at most 200 in flight) until 2 observers saw all; then all close.\n  join = connect + join_user and its deliveries; leave = close and its deliveries`,
  seedlists: `seed-lists storm: ${sizes.seed_lists} clients; the reference sends online_users_list to every client after EVERY change (seed 000 as written)`,
  hold: `hold: ${sizes.hold} joined clients idle for ${sizes.hold_seconds} s; RSS per connection = (held - before) / clients`,
  heartbeat: `heartbeat: ${sizes.heartbeat} clients, one round each every ${sizes.heartbeat_ms} ms for ${sizes.heartbeat_seconds} s.\n  round = user_activity + check_user_online -> user_online_status`,
  latency: `latency: ${sizes.latency} online + ${sizes.observers} observers; churn ${sizes.churn_per_s} new users/s, each stays 1 s, for ${sizes.latency_seconds} s.\n  churn = one user's join + leave and their deliveries (all server CPU in the window / churn users)`,
  fanout: `fanout: ${sizes.fanout} subscribers; one user joins and leaves ${sizes.fanout_reps} times.\n  join delivery = CPU from join sent until every subscriber saw it, / subscribers; repetition = join + leave incl. the wait for the leave`,
};
const rows = [['figure', 'unit', 'reference', 'presenced', 'x better']];
const lines = [];
const w = [50, 5, 12, 12, 13];
const pad = (s, n, right) => (right ? String(s).padStart(n) : String(s).padEnd(n));
const row = (c) => pad(c[0], w[0]) + ' ' + pad(c[1], w[1]) + ' ' + pad(c[2], w[2], true) + ' ' + pad(c[3], w[3], true) + ' ' + pad(c[4], w[4], true);

lines.push(`presenced vs reference (seed 000: Node ${machine.node} + socket.io 4.8.4 + @socket.io/redis-adapter + Redis ${machine.redis}; one Node process, one Redis)`);
lines.push(`machine: ${machine.cores} cores, ${machine.mem_gib} GiB, Linux ${machine.kernel}, ${machine.date}; load generator on the same cores; reference lists: ${sizes.ref_lists}, adapter: ${sizes.ref_adapter}`);
lines.push(`presenced: its defaults (a leave is announced after --reconnect-grace 2 s; adaptive --coalesce-window 0.25 ms; the seed-000 list built once per node, pushed at most once per --sio-list-window 1 s, widened to at most 16 MiB/s of lists)`);
lines.push(`ratio = how many times better presenced is: reference / presenced, or presenced / reference for figures marked "higher" (higher is better there, lower elsewhere); below 1x the reference did better`);
for (const s of scenarios) {
  lines.push('');
  lines.push(titles[s] || s);
  lines.push(row(rows[0]));
  for (const f of figures.filter((x) => x.scenario === s)) {
    const ratio = f.ratio == null ? '-' : `${fmt(f.ratio)}x`;
    const pd = f.note === 'pro rata' ? '' : fmt(f.presenced);
    lines.push(row([f.figure + (f.better === 'higher' ? ' (higher)' : ''), f.unit, fmt(f.reference), pd, f.ratio == null && f.note ? '' : ratio]));
  }
  for (const r of runs.filter((x) => x.scenario === s && x.rc !== 0)) {
    lines.push(`  ! the load generator exited ${r.rc} against ${r.server} (lost connections, joins or deltas): its figures above are suspect`);
  }
}
console.log(lines.join('\n'));

const all = { compare: { sizes, machine, figures, runs } };
const json = JSON.stringify(all);
if (outFile) writeFileSync(outFile, json + '\n');
console.log(json);
