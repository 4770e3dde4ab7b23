// Seed 001's private messages across a 3-node cluster: the sender on one
// node, the recipient's devices on the others (Socket.IO and native), a
// conversation created on a third; an offline recipient's queue delivered
// when they join on another node; history still readable while any one
// node is dead (replicas).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/harness.mjs';
import { Cluster } from './lib/cluster.mjs';
import { sioConnect } from './lib/sio.mjs';

let cluster;

before(async () => {
  cluster = new Cluster();
  for (const n of ['a', 'b', 'c']) await cluster.add(n);
  await cluster.converged();
});

after(async () => { await cluster.dispose(); });

async function sioJoined(node, user) {
  const c = await sioConnect(cluster.node(node).url,
                             { path: '/api/socketio', transports: ['websocket'] });
  assert.equal((await c.ask('join_user', user)).success, true);
  return c;
}

test('a message sent on one node reaches devices on the others, once', async () => {
  const r = await cluster.node('c').http('POST', '/api/privatechat/conversations',
                                         { body: { participants: ['x-ann', 'x-bob'] } });
  assert.equal(r.status, 201, r.text);
  const conv = r.body.conversation;
  // The same pair asked on another node: the same conversation.
  const again = await cluster.node('a').http('POST', '/api/privatechat/conversations',
                                             { body: { participants: ['x-bob', 'x-ann'] } });
  assert.equal(again.body.conversation.id, conv.id);

  const ann = await sioJoined('a', 'x-ann');
  const bobSio = await sioJoined('b', 'x-bob');
  const bobNative = await cluster.node('c').ws('/ws?userId=x-bob&deviceId=tablet');
  await bobNative.next(m => m.type === 'joined');
  const sent = await ann.ask('send_private_message',
                             { conversationId: conv.id, content: 'across nodes', tempId: 'x1' });
  assert.equal(sent.success, true, JSON.stringify(sent));
  assert.equal(sent.delivered, true);
  assert.deepEqual(await bobSio.next('new_private_message', x => x.id === sent.message.id),
                   sent.message);
  const n = await bobNative.next(m => m.type === 'message' && m.message.id === sent.message.id);
  assert.equal(n.message.content, 'across nodes');
  // The HTTP fallback on a third node with the same temp id: the same message.
  const viaHttp = await cluster.node('c').http('POST', '/api/privatechat/message', {
    body: { senderId: 'x-ann', conversationId: conv.id, content: 'across nodes', tempId: 'x1' },
  });
  assert.equal(viaHttp.status, 200, viaHttp.text);
  assert.equal(viaHttp.body.message.id, sent.message.id);
  // Every node reads the same history.
  for (const node of ['a', 'b', 'c']) {
    const h = await cluster.node(node).get(`/api/privatechat/messages/${conv.id}?userId=x-bob`);
    assert.deepEqual(h.body.messages.map(m => m.id), [sent.message.id], `history on ${node}`);
  }
  await bobSio.ask('join_conversation', conv.id); // a round trip after the retry
  assert.equal(bobSio.count('new_private_message'), 0, 'nothing twice');
  for (const c of [ann, bobSio, bobNative]) c.close();
});

test('an offline recipient gets the queue on another node; history survives a kill -9', async () => {
  const r = await cluster.node('a').http('POST', '/api/privatechat/conversations',
                                         { body: { participants: ['y-cy', 'y-dee'] } });
  const conv = r.body.conversation;
  const cy = await sioJoined('a', 'y-cy');
  const ids = [];
  for (let i = 1; i <= 3; ++i) {
    const s = await cy.ask('send_private_message',
                           { conversationId: conv.id, content: `queued ${i}`, tempId: `y${i}` });
    assert.equal(s.success, true, JSON.stringify(s));
    assert.equal(s.delivered, false);
    ids.push(s.message.id);
  }
  const dee = await sioJoined('b', 'y-dee');
  for (const id of ids) await dee.next('new_private_message', x => x.id === id);
  dee.close();
  cy.close();
  // Each node in turn dies (kill -9) while the others answer: whichever
  // nodes hold the conversation, a replica is left (replication 2 of 3).
  // ('a' seeded the others, so it is killed last and not restarted.)
  const history = async (node) => {
    const h = await cluster.node(node).get(`/api/privatechat/messages/${conv.id}?userId=y-dee`);
    return h.status === 200 && JSON.stringify(h.body.messages.map(m => m.id)) === JSON.stringify(ids);
  };
  for (const [dead, reader, restart] of [['c', 'b', true], ['b', 'c', true], ['a', 'b', false]]) {
    await cluster.node(dead).kill9();
    await cluster.converged(8000);
    await eventually(() => history(reader), 8000, `history on ${reader} with ${dead} dead`);
    if (restart) {
      await cluster.node(dead).start();
      await cluster.converged(8000);
    }
  }
});
