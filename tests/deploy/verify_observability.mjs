// deploy/grafana/presenced-dashboard.json and
// deploy/prometheus/presenced-alerts.yml: the dashboard is a Grafana
// dashboard model that takes its Prometheus data source from a variable;
// the rules are well-formed Prometheus rule groups; every metric either one
// names is in a running node's /metrics (and every presence_* metric the node
// exports has a panel); promtool checks and unit-tests the rules when it is
// installed.
// Usage: node verify_observability.mjs [PRESENCED_BIN] [REPO_DIR]

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseDocument, stringify } from 'yaml';
import WebSocket from 'ws';

const BIN = resolve(process.argv[2] ?? process.env.PRESENCED_BIN
  ?? new URL('../../build/app/presenced', import.meta.url).pathname);
const REPO = resolve(process.argv[3] ?? new URL('../../', import.meta.url).pathname);
const DASHBOARD = join(REPO, 'deploy/grafana/presenced-dashboard.json');
const RULES = join(REPO, 'deploy/prometheus/presenced-alerts.yml');

// Series Prometheus makes itself for every scrape target: not in /metrics.
const SYNTHETIC = new Set(['up']);
const COUNTER_FUNCTIONS = new Set(['rate', 'irate', 'increase', 'resets']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'by', 'without', 'on', 'ignoring',
                          'group_left', 'group_right', 'offset', 'inf', 'nan']);

// ---------------------------------------------------------------- PromQL ---

/** Metric names a PromQL expression selects (not functions or keywords). */
function metricNames(expr) {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ')
    .replace(/(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?/g, ' ');
  const names = new Set();
  for (const m of s.matchAll(/[a-zA-Z_:][\w:]*/g)) {
    const rest = s.slice(m.index + m[0].length);
    if (/^\s*\(/.test(rest)) continue; // a function
    if (KEYWORDS.has(m[0].toLowerCase())) continue;
    names.add(m[0]);
  }
  return names;
}

/** Each place `name` is selected in `expr`: its label matchers and index. */
function selections(expr, name) {
  const out = [];
  for (const m of expr.matchAll(new RegExp(`(?<![\\w:])${name}(?![\\w:])(\\s*\\{([^}]*)\\})?`, 'g')))
    out.push({ index: m.index, matchers: m[2] ?? '' });
  return out;
}

/** The function whose parentheses enclose position `at` of `expr`, if any. */
function enclosingFunction(expr, at) {
  let depth = 0;
  for (let i = at - 1; i >= 0; i--) {
    if (expr[i] === ')') depth++;
    else if (expr[i] === '(') {
      if (depth === 0) return /([a-zA-Z_]\w*)\s*$/.exec(expr.slice(0, i))?.[1] ?? '';
      depth--;
    }
  }
  return '';
}

/** Checks every selection in `expr` has `matcher`, and counters are rated. */
function checkSelections(where, expr, matcher, types) {
  for (const name of metricNames(expr)) {
    for (const sel of selections(expr, name)) {
      assert.ok(sel.matchers.replace(/\s+/g, '').includes(matcher),
                `${where}: ${name} is selected without ${matcher}: ${expr}`);
      if (types.get(name) === 'counter') {
        const fn = enclosingFunction(expr, sel.index);
        assert.ok(COUNTER_FUNCTIONS.has(fn),
                  `${where}: counter ${name} used outside rate()/increase() (in ${fn || 'nothing'}): ${expr}`);
      }
    }
  }
}

// ------------------------------------------------------------- the node ---

let server = null;
let tmp = null;
let exported = null; // metric name -> type
let samples = null;  // metric name -> value

process.on('exit', () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    try { process.kill(server.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});

function parseMetrics(text) {
  const types = new Map();
  const values = new Map();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (t) { types.set(t[1], t[2]); continue; }
    if (!line || line.startsWith('#')) continue;
    const s = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    assert.ok(s, `unparsable /metrics line: ${line}`);
    values.set(s[1], Number(s[3]));
    if (!types.has(s[1])) types.set(s[1], 'untyped');
  }
  return { types, values };
}

async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (server.exitCode !== null || server.signalCode !== null)
      throw new Error(`presenced exited (${server.exitCode ?? server.signalCode}) while waiting for ${what}: ${server.stderrText}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise(r => setTimeout(r, 25));
  }
}

async function scrape(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200, 'GET /metrics');
  return parseMetrics(await res.text());
}

before(async () => {
  assert.ok(existsSync(BIN), `presenced binary not found: ${BIN}`);
  tmp = mkdtempSync(join(tmpdir(), 'presenced-obs-'));
  const portFile = join(tmp, 'port');
  // A webhook endpoint (nothing listens on port 9) so the webhook series
  // exist; short checkpoints so the checkpoint series moves within the test.
  server = spawn(BIN, ['--listen', '127.0.0.1:0', '--port-file', portFile,
                       '--data-dir', join(tmp, 'data'), '--log-level', 'warn',
                       '--checkpoint-interval', '200',
                       '--webhook-url', 'http://127.0.0.1:9/hook'],
                 { stdio: ['ignore', 'ignore', 'pipe'] });
  server.stderrText = '';
  server.stderr.on('data', d => { server.stderrText += d; });
  const port = await until(() => existsSync(portFile)
    && Number(readFileSync(portFile, 'utf8').split('\n')[0]), 10000, 'the port file');

  // A little traffic: one WebSocket client joins and pings.
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/user-status/?userId=obs-alice`);
  const seen = [];
  ws.on('message', m => seen.push(JSON.parse(String(m)).type));
  await new Promise((ok, fail) => { ws.once('open', ok); ws.once('error', fail); });
  ws.send(JSON.stringify({ type: 'ping' }));
  await until(() => seen.includes('pong'), 5000, 'pong');
  let m;
  await until(async () => {
    m = await scrape(port);
    return m.values.get('presence_online_users') === 1
      && m.values.get('presence_ws_sessions') === 1
      && m.values.get('presence_store_checkpoint_newest_ms') > 0;
  }, 5000, '/metrics to show the client online and its activity checkpointed');
  exported = m.types;
  samples = m.values;
  ws.close();
});

after(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    const exited = new Promise(r => server.once('exit', r));
    process.kill(server.pid, 'SIGTERM');
    const timer = setTimeout(() => { try { process.kill(server.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
    await exited;
    clearTimeout(timer);
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ------------------------------------------------------------ dashboard ---

const dashboard = () => JSON.parse(readFileSync(DASHBOARD, 'utf8'));

function allPanels(d) {
  const out = [];
  for (const p of d.panels) {
    out.push(p);
    for (const q of p.panels ?? []) out.push(q);
  }
  return out;
}

/** Every expression of the dashboard: panel targets and variable queries. */
function dashboardExprs(d) {
  const out = [];
  for (const p of allPanels(d))
    for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr });
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const lv = /^label_values\((.*),\s*\w+\)$/.exec(q);
    out.push({ where: `variable ${v.name}`, expr: lv ? lv[1] : q, variable: true });
  }
  return out;
}

test('dashboard: a Grafana dashboard model', () => {
  const d = dashboard();
  assert.ok(Number.isInteger(d.schemaVersion) && d.schemaVersion >= 36, 'schemaVersion');
  assert.ok(d.title && /^[\w-]{1,40}$/.test(d.uid), 'title and a stable uid');
  assert.ok(d.id === null || d.id === undefined, 'no instance-specific id');
  assert.ok(typeof d.time?.from === 'string' && typeof d.time?.to === 'string', 'time range');
  assert.ok(Array.isArray(d.panels) && d.panels.length > 0, 'panels');

  const ids = new Set();
  const cells = new Set();
  for (const p of allPanels(d)) {
    assert.ok(Number.isInteger(p.id) && !ids.has(p.id), `unique panel id ${p.id}`);
    ids.add(p.id);
    const g = p.gridPos;
    assert.ok(g && [g.x, g.y, g.w, g.h].every(Number.isInteger) && g.w > 0 && g.h > 0
              && g.x >= 0 && g.x + g.w <= 24, `panel "${p.title}": gridPos in the 24-column grid`);
    for (let x = g.x; x < g.x + g.w; x++)
      for (let y = g.y; y < g.y + g.h; y++) {
        assert.ok(!cells.has(`${x},${y}`), `panel "${p.title}" overlaps another at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    assert.ok(p.title, `panel ${p.id}: title`);
    if (p.type === 'row') {
      assert.ok(!p.targets?.length, `row "${p.title}" has no queries`);
      continue;
    }
    assert.ok(['timeseries', 'stat', 'gauge', 'bargauge', 'table', 'heatmap'].includes(p.type),
              `panel "${p.title}": type ${p.type}`);
    assert.ok(p.datasource, `panel "${p.title}": datasource`);
    assert.ok(Array.isArray(p.targets) && p.targets.length > 0, `panel "${p.title}": targets`);
    const refIds = p.targets.map(t => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `panel "${p.title}": unique refIds`);
    for (const t of p.targets)
      assert.ok(typeof t.expr === 'string' && t.expr.trim() && t.refId,
                `panel "${p.title}": every target has expr and refId`);
  }
});

test('dashboard: the data source is a variable, never a hard-coded uid', () => {
  const d = dashboard();
  const dsVars = d.templating.list.filter(v => v.type === 'datasource');
  assert.equal(dsVars.length, 1, 'one data source variable');
  assert.equal(dsVars[0].query, 'prometheus');
  const name = dsVars[0].name;
  const ok = new Set([`\${${name}}`, `$${name}`]);
  let refs = 0;
  (function walk(node, path) {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${path}[${i}]`));
    if (!node || typeof node !== 'object') return;
    for (const [k, v] of Object.entries(node)) {
      if (k === 'datasource') {
        refs++;
        if (typeof v === 'string') assert.ok(ok.has(v), `${path}.datasource = ${v}`);
        else {
          assert.equal(v.type, 'prometheus', `${path}.datasource.type`);
          assert.ok(ok.has(v.uid), `${path}.datasource.uid = ${v.uid}: not the variable`);
        }
      }
      walk(v, `${path}.${k}`);
    }
  })(d, 'dashboard');
  const queries = allPanels(d).filter(p => p.type !== 'row');
  assert.ok(refs >= queries.length, 'every panel names its data source');

  // Every $variable an expression uses is defined (Grafana's own $__* aside).
  const defined = new Set(d.templating.list.map(v => v.name));
  for (const { where, expr } of dashboardExprs(d))
    for (const m of expr.matchAll(/\$\{?(\w+)\}?/g))
      assert.ok(m[1].startsWith('__') || defined.has(m[1]), `${where}: $${m[1]} is not defined`);
});

test('dashboard: every query selects the $job variable; counters are rated', () => {
  const d = dashboard();
  for (const { where, expr } of dashboardExprs(d))
    checkSelections(where, expr, where === 'variable job' ? '' : 'job=~"$job"', exported);
});

// ---------------------------------------------------------------- rules ---

function rules() {
  const doc = parseDocument(readFileSync(RULES, 'utf8'));
  assert.deepEqual(doc.errors, [], 'the rules file parses as YAML');
  return doc.toJS();
}

const alerts = r => r.groups.flatMap(g => g.rules);

test('rules: Prometheus rule groups, every alert with for, severity, summary, description', () => {
  const r = rules();
  assert.deepEqual(Object.keys(r), ['groups']);
  assert.ok(Array.isArray(r.groups) && r.groups.length > 0, 'groups');
  const groupNames = r.groups.map(g => g.name);
  assert.equal(new Set(groupNames).size, groupNames.length, 'unique group names');
  const names = new Set();
  for (const g of r.groups) {
    assert.ok(g.name && Array.isArray(g.rules) && g.rules.length > 0, `group ${g.name}: rules`);
    for (const k of Object.keys(g))
      assert.ok(['name', 'interval', 'limit', 'rules'].includes(k), `group ${g.name}: unknown key ${k}`);
    for (const a of g.rules) {
      assert.ok(a.alert && !a.record, `group ${g.name}: alerting rules only`);
      for (const k of Object.keys(a))
        assert.ok(['alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations'].includes(k),
                  `${a.alert}: unknown key ${k}`);
      assert.match(a.alert, /^Presenced[A-Z]\w+$/);
      assert.ok(!names.has(a.alert), `${a.alert}: unique`);
      names.add(a.alert);
      assert.ok(typeof a.expr === 'string' && a.expr.trim(), `${a.alert}: expr`);
      assert.match(String(a.for), /^(\d+(ms|s|m|h|d|w|y))+$/, `${a.alert}: for`);
      assert.ok(['critical', 'warning', 'info'].includes(a.labels?.severity), `${a.alert}: severity`);
      assert.ok(a.annotations?.summary?.trim() && a.annotations?.description?.trim(),
                `${a.alert}: summary and description`);
    }
  }
});

test('rules: every selector is of job "presenced"; counters are rated', () => {
  for (const a of alerts(rules()))
    checkSelections(a.alert, a.expr, 'job="presenced"', exported);
});

// -------------------------------------------------------- node's metrics ---

test('every metric the dashboard and the rules use is exported by the node', () => {
  assert.ok(exported.size > 10, 'the node exports metrics');
  const used = new Map();
  for (const { where, expr } of dashboardExprs(dashboard()))
    for (const n of metricNames(expr)) used.set(n, `dashboard ${where}`);
  for (const a of alerts(rules()))
    for (const n of metricNames(a.expr)) used.set(n, `alert ${a.alert}`);
  assert.ok(used.size > 10, 'the files use metrics');
  for (const [name, where] of used)
    assert.ok(SYNTHETIC.has(name) || exported.has(name),
              `${where} uses ${name}, which the node does not export`);
});

/** The histogram (or summary) `name` is a series of (its _bucket, _sum or
 *  _count), else null. */
function familyOf(name) {
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  return m && ['histogram', 'summary'].includes(exported.get(m[1])) ? m[1] : null;
}

test('every presence_* metric the node exports has a panel', () => {
  const charted = new Set();
  for (const { expr, variable } of dashboardExprs(dashboard()))
    if (!variable) for (const n of metricNames(expr)) charted.add(familyOf(n) ?? n);
  // A histogram is charted through any of its series.
  const missing = [...exported.keys()].filter(n => n.startsWith('presence_') && !familyOf(n)
                                                   && !charted.has(n));
  assert.deepEqual(missing, [], 'exported metrics without a panel in the dashboard');
});

test('the alerts cover availability, store errors, slow consumers and rate limits', () => {
  const used = new Set(alerts(rules()).flatMap(a => [...metricNames(a.expr)]));
  for (const n of ['up', 'presence_store_write_errors', 'presence_store_writes_dropped',
                   'presence_slow_consumers_total', 'presence_rate_limited_total'])
    assert.ok(used.has(n), `no alert on ${n}`);
  // The metrics the alerts read have the values the node really reports.
  assert.equal(samples.get('presence_store_write_errors'), 0);
  assert.ok(Math.abs(Date.now() - samples.get('presence_store_checkpoint_newest_ms')) < 60000,
            'presence_store_checkpoint_newest_ms is milliseconds since the epoch');
});

// ------------------------------------------------------------- promtool ---

// PROMTOOL, else promtool on the PATH, else the one scripts/deps.sh test
// unpacked from Debian's prometheus package into .cache/promtool/.
const promtool = process.env.PROMTOOL
  || spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim()
  || (existsSync(join(REPO, '.cache/promtool/promtool')) ? join(REPO, '.cache/promtool/promtool') : '');
const noPromtool = 'promtool not installed (Debian: the prometheus package; or set PROMTOOL=/path/to/promtool): '
  + 'rules not checked by promtool';
if (!promtool) console.log(`# SKIP ${noPromtool}`);

test('promtool check rules', { skip: promtool ? false : noPromtool }, () => {
  const r = spawnSync(promtool, ['check', 'rules', RULES], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('promtool test rules: the alerts fire when they should, and only then',
     { skip: promtool ? false : noPromtool }, () => {
  // promtool compares annotations too: the expressions, `for` and labels are
  // tested on a copy without them (`check rules` validates their templates).
  const r = rules();
  for (const a of alerts(r)) delete a.annotations;
  const dir = mkdtempSync(join(tmpdir(), 'presenced-promtool-'));
  try {
    writeFileSync(join(dir, 'rules.yml'), stringify(r));
    const job = { job: 'presenced' };
    const at = (instance, labels = {}) => ({ ...job, instance, ...labels });
    const fires = (eval_time, alertname, ...labels) =>
      ({ eval_time, alertname, exp_alerts: labels.map(l => ({ exp_labels: l })) });
    const series = (name, instance, values) =>
      ({ series: `${name}{job="presenced",instance="${instance}"}`, values });
    const tests = {
      rule_files: ['rules.yml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            series('up', 'a', '1 1 0x20'),
            series('up', 'b', '1x22'),
            series('up', 'c', '1x22'),
            series('presence_store_write_errors', 'a', '0x22'),
            series('presence_store_write_errors', 'b', '0 0 0 1x19'),
            series('presence_slow_consumers_total', 'a', '0+1x22'),
            series('presence_slow_consumers_total', 'b', '0+5x22'),
            series('presence_online_users', 'a', '500x22'),
            series('presence_online_users', 'b', '500x22'),
            series('presence_online_users', 'c', '300x22'),
            series('presence_store_checkpoint_newest_ms', 'a', '0+60000x22'),
            series('presence_store_checkpoint_newest_ms', 'b', '60000x22'),
            series('presence_store_sessions_recovered', 'c', '0 0 0 12x19'),
          ],
          alert_rule_test: [
            fires('3m', 'PresencedNodeDown'),
            fires('5m', 'PresencedNodeDown', at('a', { severity: 'warning' })),
            fires('5m', 'PresencedMultipleNodesDown'),
            fires('5m', 'PresencedNoNodeUp'),
            fires('5m', 'PresencedStoreWriteErrors', at('b', { severity: 'warning' })),
            fires('5m', 'PresencedRestartedAfterCrash', at('c', { severity: 'warning' })),
            fires('20m', 'PresencedSlowConsumerClosesRising', at('b', { severity: 'warning' })),
            fires('5m', 'PresencedCheckpointsStale'),
            fires('10m', 'PresencedCheckpointsStale', at('b', { severity: 'warning' })),
            fires('5m', 'PresencedOnlineCountDisagreement'),
            fires('15m', 'PresencedOnlineCountDisagreement', { severity: 'warning' }),
          ],
        },
        {
          interval: '1m',
          input_series: [
            series('up', 'a', '0x5'),
            series('up', 'b', '0x5'),
            series('presence_online_users', 'b', '500x30'),
          ],
          alert_rule_test: [
            fires('3m', 'PresencedNoNodeUp', { severity: 'critical' }),
            fires('3m', 'PresencedMultipleNodesDown', { severity: 'critical' }),
            // One node's view alone is no disagreement.
            fires('20m', 'PresencedOnlineCountDisagreement'),
          ],
        },
      ],
    };
    writeFileSync(join(dir, 'tests.yml'), stringify(tests));
    const res = spawnSync(promtool, ['test', 'rules', join(dir, 'tests.yml')], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stdout + res.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
