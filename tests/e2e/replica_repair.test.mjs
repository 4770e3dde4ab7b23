// Replica repair (cluster/repairer.cpp): when a node dies, the nodes that
// became replicas of its keys get a copy, so a second failure loses
// nothing. 3 nodes (replication 2); users with two sessions each and a
// profile, conversations with messages waiting in offline queues; kill -9
// one node, wait for the survivors' repair, kill -9 another: the last node
// alone answers for every user and conversation, and its queues deliver.
// Without the repair about a third of the keys (replicas on the two dead
// nodes) would read as never seen.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/harness.mjs';
import { Cluster } from './lib/cluster.mjs';
import { sioConnect } from './lib/sio.mjs';

const NODES = ['n1', 'n2', 'n3'];
const USERS = Array.from({ length: 24 }, (_, i) => `rr-${String(i).padStart(2, '0')}`);

let cluster;
/** user -> { lastSeen, history, name } as every node read it before the faults */
const expected = new Map();
/** conversation id -> { reader, ids, recipient } */
const conversations = new Map();

async function metric(node, name) {
  const m = await cluster.node(node).get('/metrics');
  const line = m.text.split('\n').find(l => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** One session of `user` on `node`, recorded offline once it ends. */
async function session(user, node) {
  const c = await cluster.node(node).ws(`/ws?userId=${user}`);
  await c.next(m => m.type === 'joined');
  await c.close();
  await eventually(async () => {
    const r = await cluster.node(node).get(`/api/user-status/${user}`);
    return r.status === 200 && !r.body.data.isOnline;
  }, 5000, `${user} offline`);
}

async function readUser(node, user) {
  const s = await cluster.node(node).get(`/api/user-status/${user}`);
  const h = await cluster.node(node).get(`/api/users/${user}/history`);
  const p = await cluster.node(node).get(`/api/users/${user}/profile`);
  return { status: s.status, lastSeen: s.body.data?.lastSeen,
           history: JSON.stringify(h.body.data), name: p.body.data?.name };
}

/** Waits until `node` finished a repair pass after `before` passes. */
async function repaired(node, before) {
  await eventually(async () => (await metric(node, 'presence_repair_passes')) > before
                               && (await metric(node, 'presence_repair_running')) === 0,
                   15000, `${node} to finish a replica repair pass`);
}

before(async () => {
  cluster = new Cluster();
  for (const n of NODES) await cluster.add(n);
  await cluster.converged();
  // Two sessions per user, on two different nodes, and a profile.
  for (const [i, u] of USERS.entries()) {
    await session(u, NODES[i % 3]);
    await session(u, NODES[(i + 1) % 3]);
    const put = await cluster.node(NODES[i % 3]).http('PUT', `/api/users/${u}/profile`,
                                                      { body: { name: `Name of ${u}` } });
    assert.equal(put.status, 200, put.text);
  }
  // Conversations whose recipient is offline: the messages wait in its queue.
  for (let i = 0; i < 6; i++) {
    const [from, to] = [USERS[2 * i], USERS[2 * i + 1]];
    const r = await cluster.node(NODES[i % 3]).http('POST', '/api/privatechat/conversations',
                                                    { body: { participants: [from, to] } });
    assert.equal(r.status, 201, r.text);
    const conv = r.body.conversation.id;
    const ids = [];
    for (let k = 0; k < 2; k++) {
      const m = await cluster.node(NODES[(i + k) % 3]).http('POST', '/api/privatechat/message', {
        body: { senderId: from, conversationId: conv, content: `m${k} ${from}`, tempId: `t${i}-${k}` },
      });
      assert.ok(m.status === 201 || m.status === 200, m.text);
      ids.push(m.body.message.id);
    }
    conversations.set(conv, { reader: from, recipient: to, ids });
  }
  // What every node reads now is what was acknowledged.
  for (const u of USERS) {
    const want = await readUser('n1', u);
    assert.equal(JSON.parse(want.history).length, 2, `${u} history`);
    assert.equal(want.name, `Name of ${u}`);
    for (const n of ['n2', 'n3'])
      assert.deepEqual(await readUser(n, u), want, `${u} on ${n}`);
    expected.set(u, want);
  }
});

after(async () => { await cluster.dispose(); });

test('two nodes die one after the other: the last one still has everything', async () => {
  const passes = { n1: await metric('n1', 'presence_repair_passes'),
                   n3: await metric('n3', 'presence_repair_passes') };
  const copiesBefore = (await metric('n1', 'presence_repair_copies'))
                       + (await metric('n3', 'presence_repair_copies'));
  await cluster.node('n2').kill9();
  await cluster.converged(8000);
  await repaired('n1', passes.n1);
  await repaired('n3', passes.n3);
  const copies = (await metric('n1', 'presence_repair_copies'))
                 + (await metric('n3', 'presence_repair_copies')) - copiesBefore;
  // About two thirds of the keys had n2 as a replica; each is copied once.
  assert.ok(copies > 0 && copies <= USERS.length + conversations.size,
            `${copies} records copied`);
  assert.equal(await metric('n1', 'presence_repair_failures'), 0);

  await cluster.node('n3').kill9();
  await cluster.converged(8000);
  const lost = [];
  for (const u of USERS) {
    const got = await readUser('n1', u);
    try { assert.deepEqual(got, expected.get(u)); } catch { lost.push(`${u}: ${JSON.stringify(got)}`); }
  }
  assert.deepEqual(lost, [], 'users whose records changed with the second failure');
  for (const [conv, c] of conversations) {
    const h = await cluster.node('n1').get(`/api/privatechat/messages/${conv}?userId=${c.reader}`);
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.body.messages.map(m => m.id), c.ids, `messages of ${conv}`);
  }
  // Each offline recipient gets what waited in its queue, on the last node.
  for (const c of conversations.values()) {
    const s = await sioConnect(cluster.node('n1').url,
                               { path: '/api/socketio', transports: ['websocket'] });
    try {
      assert.equal((await s.ask('join_user', c.recipient)).success, true);
      for (const id of c.ids) await s.next('new_private_message', x => x.id === id);
    } finally { s.close(); }
    // That was a third session: what the next test expects.
    await eventually(async () => {
      const r = await cluster.node('n1').get(`/api/user-status/${c.recipient}`);
      return !r.body.data.isOnline;
    }, 5000, `${c.recipient} offline`);
    const now = await readUser('n1', c.recipient);
    assert.equal(JSON.parse(now.history).length, 3, `${c.recipient} history`);
    expected.set(c.recipient, now);
  }
});

test('restarted nodes are brought up to date: the survivor can die next', async () => {
  const passes = await metric('n1', 'presence_repair_passes');
  // Both come back with their data dirs, which missed what happened since.
  await cluster.node('n2').start();
  await cluster.node('n3').start();
  await cluster.converged(8000);
  await repaired('n1', passes);
  await cluster.node('n1').kill9();
  await cluster.converged(8000);
  const lost = [];
  for (const u of USERS) {
    const got = await readUser('n2', u);
    try { assert.deepEqual(got, expected.get(u)); } catch { lost.push(`${u}: ${JSON.stringify(got)}`); }
  }
  assert.deepEqual(lost, [], 'users read on n2 with n1 dead');
  for (const [conv, c] of conversations) {
    const h = await cluster.node('n3').get(`/api/privatechat/messages/${conv}?userId=${c.reader}`);
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.body.messages.map(m => m.id), c.ids, `messages of ${conv}`);
  }
});
