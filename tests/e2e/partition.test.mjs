// A network partition between two nodes, made with network namespaces: each
// node runs in its own namespace, joined to the test by a bridge; the cut
// blackholes the route between the two nodes only (the test still reaches
// both). Each side carries on with what it can see; once the cut ends, both
// sides converge on the same truth, and subscribers hear it.
//
// Needs root and iproute2; skipped with a message otherwise. Everything it
// creates is named after this process and removed at the end.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { Server, eventually } from './lib/harness.mjs';
import { CLUSTER_ARGS } from './lib/cluster.mjs';

const id = process.pid % 100000;
const NS = [`pda${id}`, `pdb${id}`];
const BR = `pdbr${id}`;
const NET = `10.${200 + (id % 50)}.${id % 250}`;
const IP = [`${NET}.1`, `${NET}.2`];
const ip = (...args) => execFileSync('ip', args, { stdio: 'pipe' });
const inNs = (ns, ...args) => ip('netns', 'exec', ns, 'ip', ...args);

function canRun() {
  if (process.getuid?.() !== 0) return 'not root';
  const r = spawnSync('ip', ['netns', 'list']);
  if (r.error || r.status !== 0) return 'no iproute2 / network namespaces';
  return null;
}

const skip = canRun();
const nodes = [];

function setup() {
  ip('link', 'add', BR, 'type', 'bridge');
  ip('addr', 'add', `${NET}.254/24`, 'dev', BR);
  ip('link', 'set', BR, 'up');
  NS.forEach((ns, i) => {
    ip('netns', 'add', ns);
    ip('link', 'add', `${ns}h`, 'type', 'veth', 'peer', 'name', `${ns}c`);
    ip('link', 'set', `${ns}c`, 'netns', ns);
    ip('link', 'set', `${ns}h`, 'master', BR);
    ip('link', 'set', `${ns}h`, 'up');
    inNs(ns, 'addr', 'add', `${IP[i]}/24`, 'dev', `${ns}c`);
    inNs(ns, 'link', 'set', `${ns}c`, 'up');
    inNs(ns, 'link', 'set', 'lo', 'up');
  });
}

function teardown() {
  for (const ns of NS) spawnSync('ip', ['netns', 'del', ns]);
  for (const ns of NS) spawnSync('ip', ['link', 'del', `${ns}h`]);
  spawnSync('ip', ['link', 'del', BR]);
}

/** Cuts (or mends) the path between the two nodes only. */
function cut(on) {
  const verb = on ? 'add' : 'del';
  inNs(NS[0], 'route', verb, 'blackhole', `${IP[1]}/32`);
  inNs(NS[1], 'route', verb, 'blackhole', `${IP[0]}/32`);
}

// A rehome window longer than the cut: neither side closes the other's
// sessions as orphans meanwhile (which would tell its watcher that those
// users went offline, a leave or not), so a leave during the cut reaches
// the other side only if it is passed on once the cut ends.
const ARGS = [...CLUSTER_ARGS];
ARGS[ARGS.indexOf('--rehome-window') + 1] = '20000';

before(async () => {
  if (skip) return;
  teardown();
  setup();
  const a = await new Server({
    host: IP[0], wrap: ['ip', 'netns', 'exec', NS[0]],
    args: ['--cluster-listen', `${IP[0]}:0`, '--node-id', 'pa', ...ARGS],
  }).start();
  const b = await new Server({
    host: IP[1], wrap: ['ip', 'netns', 'exec', NS[1]],
    args: ['--cluster-listen', `${IP[1]}:0`, '--node-id', 'pb', ...ARGS,
           '--seeds', `${IP[0]}:${a.clusterPort}`],
  }).start();
  nodes.push(a, b);
});

after(async () => {
  for (const n of nodes) await n.dispose();
  if (!skip) teardown();
});

async function aliveMembers(node) {
  const r = await node.get('/api/cluster');
  return r.body.data.nodes.filter(n => n.state !== 'dead').map(n => n.node_id).sort();
}

async function online(node) {
  const r = await node.get('/api/user-status/online');
  return r.body.data.map(u => u.userId).sort();
}

test('two sides of a partition heal and converge', { skip: skip ?? false }, async () => {
  const [a, b] = nodes;
  await eventually(async () => (await aliveMembers(a)).length === 2
                              && (await aliveMembers(b)).length === 2, 8000, 'the two nodes to meet');
  // Users on both sides, and a watcher on each side.
  // u4..u6 of each side leave during the cut: three each, so that some of
  // them are owned (by the whole ring) on the side they leave on, whose
  // change the other side cannot hear until the cut ends.
  const clients = new Map();
  const names = side => [1, 2, 3, 4, 5, 6].map(i => `${side}-u${i}`);
  for (const [node, side] of [[a, 'pa'], [b, 'pb']])
    for (const u of names(side)) {
      const c = await node.ws(`/ws?userId=${u}`);
      await c.next(m => m.type === 'joined');
      clients.set(u, c);
    }
  const all = [...names('pa'), ...names('pb')].sort();
  const leaving = all.filter(u => /-u[456]$/.test(u));
  const staying = all.filter(u => !leaving.includes(u));
  const watchers = [];
  for (const n of [a, b]) {
    const w = await n.ws('/ws?subscribe=global');
    w.latest = new Map();
    w.socket.on('message', d => {
      const m = JSON.parse(String(d));
      if (m.type !== 'user.status.changed') return;
      const old = w.latest.get(m.user_id);
      if (!old || m.version >= old.version) w.latest.set(m.user_id, m);
    });
    watchers.push(w);
  }
  await eventually(async () => JSON.stringify(await online(a)) === JSON.stringify(all)
                              && JSON.stringify(await online(b)) === JSON.stringify(all),
                   6000, 'both sides to see all six');

  // The cut: each side declares the other dead and keeps its own users.
  cut(true);
  await eventually(async () => (await aliveMembers(a)).length === 1
                              && (await aliveMembers(b)).length === 1, 8000, 'each side alone');
  await eventually(async () => JSON.stringify(await online(a)) === JSON.stringify(names('pa'))
                              && JSON.stringify(await online(b)) === JSON.stringify(names('pb')),
                   8000, 'each side to keep exactly its own users');
  // Their sessions keep working on their side.
  assert.equal((await clients.get('pa-u1').request({ type: 'ping' })).type, 'pong');
  assert.equal((await clients.get('pb-u1').request({ type: 'ping' })).type, 'pong');
  // Users leave on each side while the other cannot hear it.
  for (const u of leaving) {
    await clients.get(u).close();
    clients.delete(u);
  }
  await eventually(async () => JSON.stringify(await online(a)) === JSON.stringify(names('pa').slice(0, 3))
                              && JSON.stringify(await online(b)) === JSON.stringify(names('pb').slice(0, 3)),
                   8000, 'each side to see its leavers go');

  // Mend: the sides meet again and converge; heartbeats make cut-off
  // devices register again.
  cut(false);
  await eventually(async () => (await aliveMembers(a)).length === 2
                              && (await aliveMembers(b)).length === 2, 10000, 'the sides to meet again');
  const pinger = setInterval(() => { for (const c of clients.values()) c.send({ type: 'ping' }); }, 200);
  try {
    await eventually(async () => JSON.stringify(await online(a)) === JSON.stringify(staying)
                                && JSON.stringify(await online(b)) === JSON.stringify(staying)
                                && (await a.get('/api/user-status/online/count')).body.count === 6
                                && (await b.get('/api/user-status/online/count')).body.count === 6,
                     10000, 'both sides to agree on the six who stayed');
    // Subscribers on both sides end up believing the truth too, including
    // the leaves they could not hear during the cut.
    for (const [i, w] of watchers.entries())
      await eventually(() => staying.every(u => w.latest.get(u)?.is_online === true)
                             && leaving.every(u => w.latest.get(u)?.is_online === false), 6000,
                       `the watcher on ${i ? 'pb' : 'pa'} to see the six who stayed online and `
                       + 'the six who left offline');
  } finally {
    clearInterval(pinger);
  }
  for (const c of [...clients.values(), ...watchers]) await c.close();
});
