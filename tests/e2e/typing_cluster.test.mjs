// Typing across a 3-node cluster (seed 002's chat sessions): members
// connected to different nodes see each other's typing-start / typing-stop, nothing
// leaks outside the room, and a typing indicator ends by itself
// --typing-timeout after its last start, or when its socket goes. Also:
// every node's change log (resync) holds changes owned by the others.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './lib/cluster.mjs';
import { eventually } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

let cluster;

before(async () => {
  cluster = new Cluster(['--typing-timeout', '400', '--resync-margin', '0']);
  for (const n of ['a', 'b', 'c']) await cluster.add(n);
  await cluster.converged();
});

after(async () => { await cluster.dispose(); });

async function member(node, user, room) {
  const c = await sioConnect(cluster.node(node).url, { transports: ['websocket'] });
  c.emit('authenticate', { userId: user });
  await c.next('authentication-success');
  if (room) assert.equal((await c.ask('join-chat-session', { chatSessionId: room })).success, true);
  return c;
}

test('typing reaches members on other nodes, only them, and ends by itself', async () => {
  const room = 'room-x';
  const ann = await member('a', 't-ann', room);
  const bob = await member('b', 't-bob', room);
  const cy = await member('b', 't-cy', 'room-other');   // another room, same node as Bob
  const dee = await member('a', 't-dee', null);         // in no room
  const eve = await member('c', 't-eve', room);         // the third node
  const fay = await member('c', 't-fay', 'room-other'); // third node, other room

  // Across nodes, every way: a -> b and c, b -> a and c.
  assert.equal((await ann.ask('typing-start', { chatSessionId: room })).success, true);
  assert.deepEqual(await bob.next('user-typing', t => t.isTyping),
                   { userId: 't-ann', chatSessionId: room, isTyping: true });
  assert.deepEqual(await eve.next('user-typing', t => t.isTyping),
                   { userId: 't-ann', chatSessionId: room, isTyping: true });
  bob.emit('typing-start', { chatSessionId: room });
  await ann.next('user-typing', t => t.userId === 't-bob' && t.isTyping);
  await eve.next('user-typing', t => t.userId === 't-bob' && t.isTyping);
  bob.emit('typing-stop', { chatSessionId: room });
  await ann.next('user-typing', t => t.userId === 't-bob' && !t.isTyping);
  await eve.next('user-typing', t => t.userId === 't-bob' && !t.isTyping);
  // c -> a and b.
  eve.emit('typing-start', { chatSessionId: room });
  await ann.next('user-typing', t => t.userId === 't-eve' && t.isTyping);
  await bob.next('user-typing', t => t.userId === 't-eve' && t.isTyping);
  eve.emit('typing-stop', { chatSessionId: room });
  await ann.next('user-typing', t => t.userId === 't-eve' && !t.isTyping);
  await bob.next('user-typing', t => t.userId === 't-eve' && !t.isTyping);

  // Ann never says stop: her indicator ends by itself after the timeout,
  // on the other node too.
  const started = Date.now();
  assert.deepEqual(await bob.next('user-typing', t => t.userId === 't-ann' && !t.isTyping, 5000),
                   { userId: 't-ann', chatSessionId: room, isTyping: false });
  assert.ok(Date.now() - started >= 200, 'not before the timeout');

  // A refresh keeps it alive: start, start again, then it ends once.
  ann.emit('typing-start', { chatSessionId: room });
  await bob.next('user-typing', t => t.userId === 't-ann' && t.isTyping);
  await ann.ask('typing-start', { chatSessionId: room });
  await bob.next('user-typing', t => t.userId === 't-ann' && t.isTyping);
  await bob.next('user-typing', t => t.userId === 't-ann' && !t.isTyping, 5000);

  // Typing, then the socket goes: the others see it stop at once.
  await bob.ask('typing-start', { chatSessionId: room });
  await ann.next('user-typing', t => t.userId === 't-bob' && t.isTyping);
  bob.close();
  await ann.next('user-typing', t => t.userId === 't-bob' && !t.isTyping, 5000);

  // Nothing outside the room, on either node; the typist hears nothing back.
  await cy.ask('join-chat-session', { chatSessionId: 'room-other' }); // a round trip
  await fay.ask('join-chat-session', { chatSessionId: 'room-other' });
  assert.equal(cy.has('user-typing'), false, 'another room hears nothing');
  assert.equal(fay.has('user-typing'), false, 'another room hears nothing (third node)');
  assert.equal(dee.has('user-typing'), false, 'a non-member hears nothing');
  assert.equal(ann.has('user-typing', t => t.userId === 't-ann'), false, 'no echo');
  for (const c of [ann, cy, dee, eve, fay]) c.close();
});

test('native sessions type in the same rooms as Socket.IO, across nodes', async () => {
  const room = 'room-n';
  const nat = await cluster.node('a').ws('/ws?userId=t-nat&deviceId=d');
  await nat.next(m => m.type === 'joined');
  const sio = await member('b', 't-sio', room);
  const r = await nat.request({ type: 'join_room', room });
  assert.deepEqual([r.type, r.room], ['room_joined', room]);
  // Socket.IO types; the native session on the other node sees it.
  await sio.ask('typing-start', { chatSessionId: room });
  const t = await nat.next(m => m.type === 'room.typing' && m.user_id === 't-sio' && m.typing);
  assert.deepEqual(t, { type: 'room.typing', room, user_id: 't-sio', typing: true });
  // The native session types; Socket.IO sees it, and it ends by itself.
  assert.equal((await nat.request({ type: 'typing', room })).type, 'typing_sent');
  await sio.next('user-typing', x => x.userId === 't-nat' && x.isTyping);
  await sio.next('user-typing', x => x.userId === 't-nat' && !x.isTyping, 5000);
  // Socket.IO's indicator from above ended by itself too.
  await nat.next(m => m.type === 'room.typing' && m.user_id === 't-sio' && !m.typing, 5000);
  // Typing in a room not joined: refused. Leaving: no more signals.
  const no = await nat.request({ type: 'typing', room: 'elsewhere' });
  assert.deepEqual([no.type, no.code], ['error', 'not_in_room']);
  assert.equal((await nat.request({ type: 'leave_room', room })).type, 'room_left');
  await sio.ask('typing-start', { chatSessionId: room });
  await sio.ask('typing-stop', { chatSessionId: room });
  await nat.request({ type: 'count_online' }); // a round trip
  assert.equal(nat.has(m => m.type === 'room.typing' && m.typing === false && m.user_id === 't-sio'),
               false, 'nothing after leave_room');
  sio.close();
  nat.close();
});

test('resync is cluster-wide: a change owned by one node is in every node\'s change log', async () => {
  const t0 = Date.now() - 1;
  const x = await member('a', 'rs-cluster-x', null);
  for (const n of ['a', 'b'])
    await eventually(async () => {
      const r = await cluster.node(n).get(`/api/presence/changes?since=${t0}`);
      return r.status === 200
        && r.body.changes.some(c => c.user_id === 'rs-cluster-x' && c.is_online);
    }, 5000, `rs-cluster-x online in node ${n}'s change log`);
  x.close();
});
