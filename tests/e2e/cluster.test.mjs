// presenced as a cluster: 3 (then 4) real processes on loopback. Users on
// different nodes see each other; every node answers for the whole
// cluster; a node killed with -9 loses nobody's presence (no ghosts, no
// lost users, last_seen readable); a restarted node and a new node take
// their share without any flicker for connected users.

import { test, before, after } from 'node:test';
import { writeFileSync } from 'node:fs';
const require_fs = () => ({ writeFileSync });
import assert from 'node:assert/strict';
import { eventually } from './lib/harness.mjs';
import { Cluster, DETECTION_MS, watchGlobal } from './lib/cluster.mjs';
import { sioConnect } from './lib/sio.mjs';

const SLACK = 2500;  // scheduling on a loaded 2-core machine
let cluster;
/** user -> { node, client } */
const users = new Map();
/** One global-feed watcher per node, recording every delta. */
const watchers = new Map();

async function connect(user, node) {
  const c = await cluster.node(node).ws(`/ws?userId=${user}`);
  await c.next(m => m.type === 'joined');
  users.set(user, { node, client: c });
  return c;
}

async function watch(node) {
  const w = await watchGlobal(cluster.node(node));
  watchers.set(node, w);
  return w;
}

/** Users that must be online: connected clients on live nodes. */
function expectedOnline() {
  const live = new Set(cluster.live().map(([n]) => n));
  return [...users.entries()].filter(([, u]) => live.has(u.node) && u.client.socket.readyState === 1)
    .map(([name]) => name).sort();
}

/** The last failed list answer of each node (status and body), for messages. */
const listErrors = {};

async function onlineList(node) {
  const ids = [];
  let cursor = '';
  for (let i = 0; i < 20; i++) {
    const r = await cluster.node(node).get(`/api/user-status/online?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
    if (r.status !== 200) {
      listErrors[node] = `${r.status} ${String(r.text).slice(0, 300)}`;
      if (process.env.DEBUG_FLICKER) console.log('list failed on', node, r.status, r.text);
      return null;
    }
    ids.push(...r.body.data.map(u => u.userId));
    if (!r.body.nextCursor) break;
    cursor = r.body.nextCursor;
  }
  return ids;
}

/** Every live node reports exactly `expected` online (count and list). */
async function agree(expected, except = [], ms = 6000) {
  const seen = {};
  await eventually(async () => {
    for (const [name] of cluster.live()) {
      if (except.includes(name)) continue;
      const list = await onlineList(name);
      seen[name] = list;
      if (!list) return false;
      if (JSON.stringify(list) !== JSON.stringify(expected)) return false;
      const count = (await cluster.node(name).get('/api/user-status/online/count')).body.count;
      if (count !== expected.length) return false;
    }
    return true;
  }, ms, `every node to report ${expected.length} online`).catch(e => {
    e.message += `\nexpected ${expected.join(',')}\n` + Object.entries(seen)
      .map(([n, l]) => `${n}: ${l ? l.join(',') : `error (${listErrors[n]})`}`).join('\n');
    if (process.env.CLUSTER_LOGS)
      for (const [n, s] of cluster.nodes)
        (require_fs()).writeFileSync(`${process.env.CLUSTER_LOGS}/${n}.log`, s.output);
    throw e;
  });
}

/** No watcher saw an offline delta about a user that never disconnected. */
function noFlicker(since) {
  const connected = new Set(expectedOnline());
  for (const [node, w] of watchers) {
    const bad = w.deltas.filter(d => d.at >= since && connected.has(d.user_id) && !d.is_online);
    if (bad.length && process.env.DEBUG_FLICKER)
      { console.log(node, JSON.stringify(w.deltas.filter(d => bad.some(b => b.user_id === d.user_id)).map(d => [d.user_id, users.get(d.user_id)?.node, d.at - since, d.is_online])));
        for (const [n, s] of cluster.nodes) console.log(n, s.output.split('\n').filter(l => l.includes(bad[0].user_id) || l.includes('membership') || l.includes('registry')).join('\n')); }
    assert.deepEqual(bad.map(d => d.user_id), [], `watcher on ${node} saw connected users go offline`);
  }
}

before(async () => {
  cluster = new Cluster();
  for (const n of ['n1', 'n2', 'n3']) await cluster.add(n);
  await cluster.converged();
  for (const n of ['n1', 'n2', 'n3']) await watch(n);
});

after(async () => {
  for (const u of users.values()) u.client.terminate();
  for (const w of watchers.values()) w.terminate();
  await cluster.dispose();
});

test('users on different nodes see each other; every node agrees', async () => {
  const nodes = ['n1', 'n2', 'n3'];
  for (let i = 0; i < 12; i++) await connect(`cu${String(i).padStart(2, '0')}`, nodes[i % 3]);
  const all = expectedOnline();
  // Each node's watcher hears every join, wherever the user connected.
  for (const [node, w] of watchers)
    await eventually(() => all.every(u => w.deltas.some(d => d.user_id === u && d.is_online)),
                     5000, `watcher on ${node} to see every join`);
  await agree(all);
  // A status query for a user owned elsewhere is answered by its owner.
  const st = await cluster.node('n1').get('/api/user-status/cu01');
  assert.equal(st.body.data.isOnline, true);
  // Leaves travel too.
  await users.get('cu11').client.close();
  for (const w of watchers.values())
    await eventually(() => w.deltas.some(d => d.user_id === 'cu11' && !d.is_online), 5000, 'leave seen');
  await agree(expectedOnline());
  // Ownership is spread over the nodes (figures travel with heartbeats).
  const c = (await cluster.node('n2').get('/api/cluster')).body.data;
  assert.equal(c.nodes.length, 3);
  assert.equal(c.replication, 2);
  assert.ok(c.ring_version >= 1);
  await eventually(async () => {
    const nodes = (await cluster.node('n2').get('/api/cluster')).body.data.nodes;
    return nodes.reduce((a, n) => a + n.users_owned, 0) === expectedOnline().length;
  }, 5000, 'users_owned to add up');
  // Each node times its heartbeat ticks (every 100 ms here): counted, and
  // every one in the histogram's finite buckets.
  const text = (await cluster.node('n3').get('/metrics')).text;
  const h = 'presence_cluster_tick_delay_seconds';
  const count = Number(new RegExp(`^${h}_count (\\S+)$`, 'm').exec(text)[1]);
  assert.ok(count > 0, `${h}: ${count} ticks counted`);
  const underFive = Number(new RegExp(`^${h}_bucket\\{le="5"\\} (\\S+)$`, 'm').exec(text)[1]);
  assert.equal(underFive, count, `${h}: every tick less than 5 s late`);
});

test('kill -9 a node: survivors agree on exactly who is online within the bound', async () => {
  // Users who went offline earlier: off00, off03 and off05 are owned by n2
  // (fixed ids on a deterministic ring), so their last_seen must come from
  // a replica once n2 is gone.
  const before = {};
  for (const u of ['off00', 'off03', 'off05', 'off01']) {
    const c = await cluster.node('n1').ws(`/ws?userId=${u}`);
    await c.next(m => m.type === 'joined');
    await c.close();
    await eventually(async () => {
      const r = await cluster.node('n3').get(`/api/user-status/${u}`);
      return !r.body.data.isOnline && (before[u] = r.body.data.lastSeen);
    }, 5000, `${u} offline`);
  }
  const victims = [...users.entries()].filter(([, u]) => u.node === 'n2').map(([n]) => n);
  assert.ok(victims.length > 0);
  if (process.env.DEBUG_FLICKER)
    for (const [name, u] of users) console.log('owner', name, u.node,
      (await cluster.node('n1').get(`/api/users/${name}/status`)).body.data.devices.length);
  const t0 = Date.now();
  await cluster.node('n2').kill9();
  watchers.delete('n2');
  // Every survivor hears every user of the dead node go offline...
  for (const [node, w] of watchers)
    await eventually(() => victims.every(u => w.deltas.some(d => d.user_id === u && !d.is_online && d.at >= t0)),
                     DETECTION_MS + SLACK + 3000, `${node} to see the dead node's users go offline`);
  const elapsed = Date.now() - t0;
  assert.ok(elapsed <= DETECTION_MS + SLACK, `took ${elapsed} ms`);
  // ...and nobody else: users owned by the dead node but connected
  // elsewhere stayed online (re-homed to the next owner).
  noFlicker(t0);
  await agree(expectedOnline());
  // Their last_seen is readable from any survivor (a replica has it).
  for (const v of victims) {
    const r = await cluster.node('n3').get(`/api/user-status/${v}`);
    assert.equal(r.body.data.isOnline, false, v);
    assert.ok(Date.parse(r.body.data.lastSeen) > 0, `${v} last_seen`);
    assert.ok(Date.parse(r.body.data.lastSeen) <= Date.now());
  }
  const h = await cluster.node('n1').get(`/api/users/${victims[0]}/history`);
  assert.ok(h.body.data.length >= 1);
  // No acknowledged last_seen was lost with the dead node.
  for (const [u, ls] of Object.entries(before))
    for (const n of ['n1', 'n3']) {
      const r = await cluster.node(n).get(`/api/user-status/${u}`);
      assert.equal(r.body.data.lastSeen, ls, `${u} on ${n}`);
      const hist = await cluster.node(n).get(`/api/users/${u}/history`);
      assert.equal(hist.body.data.length, 1, `${u} history on ${n}`);
    }
});

test('the dead node restarts with its data and takes its share back, no flicker', async () => {
  const t0 = Date.now();
  await cluster.node('n2').start();
  await cluster.converged();
  await watch('n2');
  await eventually(async () => {
    const c = (await cluster.node('n1').get('/api/cluster')).body.data;
    return c.nodes.find(n => n.node_id === 'n2').users_owned > 0;
  }, 6000, 'n2 to own users again');
  await agree(expectedOnline());
  noFlicker(t0);
  // A user connected after the rejoin, on the restarted node, is seen everywhere.
  await connect('cu-late', 'n2');
  await agree(expectedOnline());
});

test('a 4th node joins: the ring rebalances with no flicker', async () => {
  const t0 = Date.now();
  await cluster.add('n4');
  await cluster.converged();
  await eventually(async () => {
    const c = (await cluster.node('n1').get('/api/cluster')).body.data;
    return c.nodes.length === 4 && c.nodes.find(n => n.node_id === 'n4').users_owned > 0;
  }, 6000, 'n4 to own users');
  await agree(expectedOnline());
  noFlicker(t0);
  // Moved users still work: a heartbeat and a leave reach the new owner.
  for (const [name, u] of users) {
    if (u.client.socket.readyState !== 1) continue;
    assert.equal((await u.client.request({ type: 'ping' })).type, 'pong', name);
  }
  const leaver = expectedOnline()[0];
  await users.get(leaver).client.close();
  for (const w of watchers.values())
    await eventually(() => w.deltas.some(d => d.user_id === leaver && !d.is_online && d.at >= t0),
                     5000, `${leaver} leave seen after the rebalance`);
  await agree(expectedOnline());
});

test('Socket.IO clients on different nodes see each other', async () => {
  const a = await sioConnect(`${cluster.node('n1').url}/ws/messages`,
                             { auth: { userId: 'sio-x' }, transports: ['websocket'] });
  const b = await sioConnect(`${cluster.node('n4').url}/ws/messages`,
                             { auth: { userId: 'sio-y' }, transports: ['websocket'] });
  await a.next('user-online', d => d.userId === 'sio-y');
  const st = await b.ask('check-user-status', { userId: 'sio-x' });
  assert.equal(st.data.online, true);
  b.close();
  await a.next('user-offline', d => d.userId === 'sio-y');
  a.close();
});

test('a hung node (SIGSTOP) is detected; a graceful leave (SIGTERM) hands over', async () => {
  // Hung: the middleman's connection timeout and the heartbeat timeout
  // both notice; its users go offline elsewhere.
  const victims = [...users.entries()].filter(([, u]) => u.node === 'n3' && u.client.socket.readyState === 1)
    .map(([n]) => n);
  const t0 = Date.now();
  const n3 = cluster.node('n3');
  n3.proc.kill('SIGSTOP');
  for (const [node, w] of watchers)
    if (node !== 'n3')
      await eventually(() => victims.every(u => w.deltas.some(d => d.user_id === u && !d.is_online && d.at >= t0)),
                       DETECTION_MS + SLACK + 4000, `${node} to see the hung node's users go offline`);
  assert.ok(Date.now() - t0 <= DETECTION_MS + SLACK + 1000, `took ${Date.now() - t0} ms`);
  n3.proc.kill('SIGKILL');
  await n3.exited;
  watchers.delete('n3');
  await cluster.converged();
  await agree(expectedOnline());
  // Graceful: n4 leaves; users it owned but connected elsewhere stay online
  // without a single offline delta.
  const t1 = Date.now();
  const mine = [...users.entries()].filter(([, u]) => u.node === 'n4').map(([n]) => n);
  const exit = await cluster.node('n4').stop('SIGTERM');
  if (exit.code !== 0) (await import('node:fs')).writeFileSync('/tmp/n4.out', cluster.node('n4').output);
  assert.equal(exit.code, 0);
  watchers.delete('n4');
  await cluster.converged();
  await agree(expectedOnline());
  const connected = new Set(expectedOnline());
  for (const w of watchers.values())
    assert.deepEqual(w.deltas.filter(d => d.at >= t1 && connected.has(d.user_id) && !d.is_online)
                       .map(d => d.user_id), []);
  // Its own sockets' users went offline.
  for (const u of mine)
    if (users.get(u).client.socket.readyState !== 1)
      assert.equal((await cluster.node('n1').get(`/api/user-status/${u}`)).body.data.isOnline, false);
});
