// Seed 001's private messages with the real socket.io-client@4 (default
// transports and WebSocket only) and REST: conversations, acknowledged
// sends, delivery to every live socket of every participant but the
// sending one, idempotent retries, the HTTP fallback, history, errors, and
// messages surviving kill -9 once acknowledged.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, eventually, signJwt } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

let srv;

before(async () => {
  srv = await new Server({ args: ['--reconnect-grace', '0'] }).start();
});

after(async () => { await srv.dispose(); });

/** A seed-000/001 socket joined as `user`. */
async function joined(user, opts) {
  const c = await sioConnect(srv.url, { path: '/api/socketio', ...opts });
  const ack = await c.ask('join_user', user);
  assert.equal(ack.success, true, `join_user ${user}`);
  return c;
}

async function conversation(participants) {
  const r = await srv.http('POST', '/api/privatechat/conversations', { body: { participants } });
  assert.equal(r.status, 201, r.text);
  return r.body.conversation;
}

const modes = [
  ['default transports', {}],
  ['websocket only', { transports: ['websocket'] }],
];

for (const [label, opts] of modes) {
  const tag = opts.transports ? 'ws' : 'df';

  describe(`seed 001 over ${label}`, () => {
    test('two users exchange messages with acks; the sender\'s other device gets them', async () => {
      const ann = `m-ann-${tag}`;
      const bob = `m-bob-${tag}`;
      const conv = await conversation([bob, ann]);
      assert.match(conv.id, /^dm_[0-9a-f]{32}$/);
      assert.deepEqual(conv.participants, [ann, bob].sort());
      assert.ok(Date.parse(conv.createdAt) > 0);
      // The same pair again: the same conversation.
      assert.equal((await conversation([ann, bob])).id, conv.id);

      const a1 = await joined(ann, opts);
      const a2 = await joined(ann, opts);
      const b = await joined(bob, opts);
      assert.deepEqual(await a1.ask('join_conversation', { conversationId: conv.id }),
                       { success: true, conversationId: conv.id });
      assert.deepEqual(await b.ask('join_conversation', conv.id),
                       { success: true, conversationId: conv.id });

      const r = await a1.ask('send_private_message',
                             { conversationId: conv.id, content: 'hello bob', tempId: 'temp-1' });
      assert.equal(r.success, true, JSON.stringify(r));
      assert.equal(r.delivered, true);
      const m = r.message;
      assert.equal(typeof m.id, 'string');
      assert.equal(m.conversationId, conv.id);
      assert.equal(m.senderId, ann);
      assert.equal(m.content, 'hello bob');
      assert.equal(m.tempId, 'temp-1');
      assert.ok(Date.parse(m.createdAt) > 0);
      // Bob and Ann's other device get it; the sending socket does not.
      assert.deepEqual(await b.next('new_private_message', x => x.id === m.id), m);
      assert.deepEqual(await a2.next('new_private_message', x => x.id === m.id), m);

      // Bob answers; Ann's two sockets get it, Bob's socket does not.
      const r2 = await b.ask('send_private_message',
                             { conversationId: conv.id, content: 'hi ann', tempId: 'temp-1' });
      assert.equal(r2.success, true);
      assert.notEqual(r2.message.id, m.id, 'a temp id is per sender');
      await a1.next('new_private_message', x => x.id === r2.message.id);
      await a2.next('new_private_message', x => x.id === r2.message.id);

      // A retry of the first send (lost ack): the same message, no second delivery.
      const again = await a1.ask('send_private_message',
                                 { conversationId: conv.id, content: 'hello bob', tempId: 'temp-1' });
      assert.equal(again.success, true);
      assert.equal(again.message.id, m.id);
      // History, oldest first; the retry added nothing.
      const h = await srv.get(`/api/privatechat/messages/${conv.id}?userId=${bob}`);
      assert.equal(h.status, 200, h.text);
      assert.deepEqual(h.body.messages.map(x => x.content), ['hello bob', 'hi ann']);
      assert.equal(h.body.hasMore, false);
      // Everything the sockets got: once each, never to the sender.
      await b.ask('join_conversation', conv.id); // a round trip after the retry
      assert.equal(b.count('new_private_message'), 0, 'nothing twice');
      assert.equal(a1.count('new_private_message'), 0, 'the sender\'s socket gets nothing back');
      for (const c of [a1, a2, b]) c.close();
    });

    test('refusals: not a participant, unknown conversation, empty, not joined', async () => {
      const cy = `m-cy-${tag}`;
      const dee = `m-dee-${tag}`;
      const eve = `m-eve-${tag}`;
      const conv = await conversation([cy, dee]);
      const e = await joined(eve, opts);
      const f1 = await e.ask('join_conversation', { conversationId: conv.id });
      assert.equal(f1.success, false);
      assert.equal(f1.error, 'forbidden');
      const f2 = await e.ask('send_private_message', { conversationId: conv.id, content: 'x', tempId: 't' });
      assert.deepEqual([f2.success, f2.error], [false, 'forbidden']);
      assert.equal(typeof f2.message, 'string');
      const f3 = await e.ask('send_private_message', { conversationId: 'dm_nope', content: 'x' });
      assert.deepEqual([f3.success, f3.error], [false, 'not_found']);
      const c = await joined(cy, opts);
      const f4 = await c.ask('send_private_message', { conversationId: conv.id, content: '   ' });
      assert.deepEqual([f4.success, f4.error], [false, 'bad_request']);
      const f5 = await c.ask('send_private_message', { content: 'no conversation' });
      assert.deepEqual([f5.success, f5.error], [false, 'bad_request']);
      const f6 = await c.ask('send_private_message',
                             { conversationId: conv.id, content: 'x'.repeat(4001) });
      assert.deepEqual([f6.success, f6.error], [false, 'bad_request']);
      const f8 = await c.ask('send_private_message', { conversationId: conv.id, content: 'x', tempId: 1.5 });
      assert.deepEqual([f8.success, f8.error], [false, 'bad_request'], 'a retry key that cannot be kept');
      const anon = await sioConnect(srv.url, { path: '/api/socketio', ...opts });
      const f7 = await anon.ask('send_private_message', { conversationId: conv.id, content: 'x' });
      assert.deepEqual([f7.success, f7.error], [false, 'unauthorized']);
      // Nothing of that was stored.
      const h = await srv.get(`/api/privatechat/messages/${conv.id}?userId=${cy}`);
      assert.deepEqual(h.body.messages, []);
      for (const s of [e, c, anon]) s.close();
    });
  });
}

test('the HTTP fallback: same shape, delivered to the live recipient, idempotent with the socket path', async () => {
  const gus = 'm-gus';
  const hal = 'm-hal';
  const conv = await conversation([gus, hal]);
  const h = await joined(hal, { transports: ['websocket'] });
  const g = await joined(gus, { transports: ['websocket'] });
  // The socket send's ack is "lost"; the client falls back to HTTP with the same temp id.
  const viaSocket = await g.ask('send_private_message',
                                { conversationId: conv.id, content: 'are you there?', tempId: 'temp-42' });
  const r = await srv.http('POST', '/api/privatechat/message', {
    headers: { 'x-user-id': gus },
    body: { conversationId: conv.id, content: 'are you there?', tempId: 'temp-42' },
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.success, true);
  assert.deepEqual(r.body.message, viaSocket.message);
  // A new HTTP send: 201, the recipient's socket gets it, the sender's socket too
  // (REST has no sending device).
  const r2 = await srv.http('POST', '/api/privatechat/message', {
    body: { senderId: gus, conversationId: conv.id, content: 'via http', tempId: 'temp-43' },
  });
  assert.equal(r2.status, 201, r2.text);
  assert.equal(r2.body.delivered, true);
  const m2 = r2.body.message;
  assert.deepEqual(Object.keys(m2).sort(),
                   ['content', 'conversationId', 'createdAt', 'id', 'senderId', 'tempId']);
  assert.deepEqual(await h.next('new_private_message', x => x.id === m2.id), m2);
  assert.deepEqual(await g.next('new_private_message', x => x.id === m2.id), m2);
  assert.equal(h.count('new_private_message', x => x.id === viaSocket.message.id), 1, 'once');
  // Errors as the socket path: 400, 403, 404 with {success:false, error, message}.
  const bad = await srv.http('POST', '/api/privatechat/message',
                             { body: { senderId: gus, conversationId: conv.id, content: '' } });
  assert.equal(bad.status, 400);
  assert.deepEqual([bad.body.success, bad.body.error], [false, 'bad_request']);
  const forb = await srv.http('POST', '/api/privatechat/message',
                              { body: { senderId: 'm-ivy', conversationId: conv.id, content: 'hi' } });
  assert.equal(forb.status, 403);
  assert.equal(forb.body.error, 'forbidden');
  const nf = await srv.http('POST', '/api/privatechat/message',
                            { body: { senderId: gus, conversationId: 'dm_missing', content: 'hi' } });
  assert.equal(nf.status, 404);
  assert.equal(nf.body.error, 'not_found');
  const badTemp = await srv.http('POST', '/api/privatechat/message',
                                 { body: { senderId: gus, conversationId: conv.id, content: 'x', tempId: { a: 1 } } });
  assert.equal(badTemp.status, 400);
  const noone = await srv.http('POST', '/api/privatechat/message',
                               { body: { conversationId: conv.id, content: 'hi' } });
  assert.equal(noone.status, 401);
  // The 401 names the ways this route takes: the body's senderId here,
  // only the header or the query for the history.
  assert.match(noone.body.message, /senderId/);
  const nobodyReads = await srv.get(`/api/privatechat/messages/${conv.id}`);
  assert.equal(nobodyReads.status, 401);
  assert.doesNotMatch(nobodyReads.body.message, /body/);
  // A conversation id that is not an id is said to be invalid, not missing.
  const badConv = await srv.http('POST', '/api/privatechat/message',
                                 { body: { senderId: gus, conversationId: 'bad id', content: 'hi' } });
  assert.equal(badConv.status, 400);
  assert.match(badConv.body.message, /not a valid id/);
  const badPath = await srv.get(`/api/privatechat/messages/bad%20id?userId=${hal}`);
  assert.equal(badPath.status, 400);
  assert.match(badPath.body.message, /not a valid id/);
  // History for participants only; paging with before=.
  const outsider = await srv.get(`/api/privatechat/messages/${conv.id}?userId=m-ivy`);
  assert.equal(outsider.status, 403);
  const page = await srv.get(`/api/privatechat/messages/${conv.id}?userId=${hal}&limit=1`);
  assert.deepEqual(page.body.messages.map(x => x.content), ['via http']);
  assert.equal(page.body.hasMore, true);
  const older = await srv.get(`/api/privatechat/messages/${conv.id}?userId=${hal}&limit=5&before=${encodeURIComponent(page.body.messages[0].id)}`);
  assert.deepEqual(older.body.messages.map(x => x.content), ['are you there?']);
  assert.equal(older.body.hasMore, false);
  // An offline recipient: stored, delivered: false.
  h.close();
  const conv2 = await conversation([gus, 'm-nobody']);
  const off = await g.ask('send_private_message', { conversationId: conv2.id, content: 'later', tempId: 't1' });
  assert.equal(off.success, true);
  assert.equal(off.delivered, false);
  g.close();
  // Bad conversation requests.
  for (const body of [{}, { participants: 'x' }, { participants: ['solo'] }, { participants: ['a', 'a'] }]) {
    const r = await srv.http('POST', '/api/privatechat/conversations', { body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error, 'bad_request');
  }
  const group = await conversation(['m-a', 'm-b', 'm-c']);
  assert.match(group.id, /^grp_[0-9a-f]{16}$/);
  assert.notEqual((await conversation(['m-a', 'm-b', 'm-c'])).id, group.id, 'groups are new each time');
});

test('acknowledged messages survive kill -9', async () => {
  const own = new Server({ args: ['--reconnect-grace', '0'] });
  await own.start();
  try {
    const r = await own.http('POST', '/api/privatechat/conversations',
                             { body: { participants: ['k-a', 'k-b'] } });
    const conv = r.body.conversation;
    const sent = [];
    for (let i = 0; i < 20; ++i) {
      const s = await own.http('POST', '/api/privatechat/message', {
        body: { senderId: 'k-a', conversationId: conv.id, content: `m${i}`, tempId: `t${i}` },
      });
      assert.equal(s.status, 201);
      sent.push(s.body.message.id);
    }
    await own.kill9();
    await own.start();
    const h = await own.get(`/api/privatechat/messages/${conv.id}?userId=k-b&limit=100`);
    assert.equal(h.status, 200, h.text);
    assert.deepEqual(h.body.messages.map(m => m.id), sent);
    // A retry after the restart is still recognised.
    const again = await own.http('POST', '/api/privatechat/message', {
      body: { senderId: 'k-a', conversationId: conv.id, content: 'm19', tempId: 't19' },
    });
    assert.equal(again.status, 200);
    assert.equal(again.body.message.id, sent[19]);
  } finally {
    await own.dispose();
  }
});

test('an offline recipient gets queued messages on their next join, in order, once; also after a restart', async () => {
  const own = new Server({ args: ['--reconnect-grace', '0', '--chat-queue-limit', '5'] });
  await own.start();
  const connect = async (user) => {
    const c = await sioConnect(own.url, { path: '/api/socketio', transports: ['websocket'] });
    assert.equal((await c.ask('join_user', user)).success, true);
    return c;
  };
  try {
    const r = await own.http('POST', '/api/privatechat/conversations',
                             { body: { participants: ['q-ann', 'q-bob'] } });
    const conv = r.body.conversation;
    const ann = await connect('q-ann');
    const sent = [];
    for (let i = 1; i <= 3; ++i) {
      const a = await ann.ask('send_private_message',
                              { conversationId: conv.id, content: `while away ${i}`, tempId: `q${i}` });
      assert.equal(a.success, true, JSON.stringify(a));
      assert.equal(a.delivered, false, 'bob has no live device');
      sent.push(a.message);
    }
    // Bob joins: the three, in order, once.
    const bob = await connect('q-bob');
    for (const m of sent)
      assert.deepEqual(await bob.next('new_private_message', x => x.id === m.id), m);
    assert.deepEqual(sent.map(m => m.content), ['while away 1', 'while away 2', 'while away 3']);
    bob.close();
    await eventuallyOffline(own, 'q-bob');
    // Bob's second visit: nothing again.
    const bob2 = await connect('q-bob');
    const live = await ann.ask('send_private_message',
                               { conversationId: conv.id, content: 'live', tempId: 'q-live' });
    assert.equal(live.delivered, true);
    await bob2.next('new_private_message', x => x.id === live.message.id);
    assert.equal(bob2.count('new_private_message'), 0, 'the queue was delivered once');
    bob2.close();
    await eventuallyOffline(own, 'q-bob');

    // Queued, then the node restarts (kill -9): still delivered, once.
    const q = await ann.ask('send_private_message',
                            { conversationId: conv.id, content: 'across a crash', tempId: 'q-crash' });
    assert.equal(q.delivered, false);
    ann.close();
    await own.kill9();
    await own.start();
    const bob3 = await connect('q-bob');
    assert.deepEqual(await bob3.next('new_private_message', x => x.id === q.message.id), q.message);
    bob3.close();
    await eventuallyOffline(own, 'q-bob');

    // The bound: with 5 waiting, the sixth send is refused before it is stored.
    for (let i = 0; i < 5; ++i) {
      const s = await own.http('POST', '/api/privatechat/message',
                               { body: { senderId: 'q-ann', conversationId: conv.id, content: `x${i}` } });
      assert.equal(s.status, 201, s.text);
    }
    const full = await own.http('POST', '/api/privatechat/message',
                                { body: { senderId: 'q-ann', conversationId: conv.id, content: 'one too many' } });
    assert.equal(full.status, 429, full.text);
    assert.equal(full.body.error, 'too_many_requests');
    assert.match(full.body.message, /q-bob has 5 undelivered/);
    const h = await own.get(`/api/privatechat/messages/${conv.id}?userId=q-ann&limit=100`);
    assert.equal(h.body.messages.some(m => m.content === 'one too many'), false);
    // Bob takes them; sending works again.
    const bob4 = await connect('q-bob');
    for (let i = 0; i < 5; ++i)
      await bob4.next('new_private_message', x => x.content === `x${i}`);
    const after = await own.http('POST', '/api/privatechat/message',
                                 { body: { senderId: 'q-ann', conversationId: conv.id, content: 'room again' } });
    assert.equal(after.status, 201);
    await bob4.next('new_private_message', x => x.content === 'room again');
    bob4.close();
  } finally {
    await own.dispose();
  }
});

/** Waits until `user` reads offline on `server`. */
function eventuallyOffline(server, user) {
  return eventually(async () => {
    const r = await server.get(`/api/user-status/${user}`);
    return r.body.data.isOnline === false;
  }, 5000, `${user} offline`);
}

test('every named device gets the queued messages once; unnamed devices share one turn', async () => {
  const conv = await conversation(['d-ann', 'd-bob']);
  const ann = await joined('d-ann', { transports: ['websocket'] });
  const send = async (content) => {
    const a = await ann.ask('send_private_message', { conversationId: conv.id, content });
    assert.equal(a.success, true, JSON.stringify(a));
    return a;
  };
  const laptop = async () => {
    const c = await srv.ws('/ws?userId=d-bob&deviceId=laptop');
    await c.next(m => m.type === 'joined');
    return c;
  };
  const phone = () => joined('d-bob', { transports: ['websocket'], auth: { deviceId: 'phone' } });
  // The laptop (native) and the phone (Socket.IO, auth.deviceId) have both
  // been seen before the messages come.
  (await laptop()).close();
  await eventuallyOffline(srv, 'd-bob');
  (await phone()).close();
  await eventuallyOffline(srv, 'd-bob');
  const away = [await send('away 1'), await send('away 2')];
  for (const a of away) assert.equal(a.delivered, false);
  // Each device gets both, in order, on its next join.
  const p1 = await phone();
  for (const a of away)
    assert.deepEqual(await p1.next('new_private_message', x => x.id === a.message.id), a.message);
  p1.close();
  await eventuallyOffline(srv, 'd-bob');
  const l1 = await laptop();
  const got = [];
  for (const a of away)
    got.push((await l1.next(m => m.type === 'message' && m.message.id === a.message.id)).message.content);
  assert.deepEqual(got, ['away 1', 'away 2']);
  l1.close();
  await eventuallyOffline(srv, 'd-bob');
  // Neither gets them again.
  const p2 = await phone();
  const l2 = await laptop();
  const live = await send('live');
  assert.equal(live.delivered, true);
  await p2.next('new_private_message', x => x.id === live.message.id);
  await l2.next(m => m.type === 'message' && m.message.id === live.message.id);
  assert.equal(p2.count('new_private_message'), 0, 'the phone took its queue once');
  assert.equal(l2.has(m => m.type === 'message' && away.some(a => a.message.id === m.message.id)), false,
               'the laptop took its queue once');
  p2.close();
  l2.close();
  await eventuallyOffline(srv, 'd-bob');
  // Unnamed sockets (no deviceId) are one device together: the first takes.
  const later = await send('for whoever comes');
  const u1 = await joined('d-bob', { transports: ['websocket'] });
  await u1.next('new_private_message', x => x.id === later.message.id);
  u1.close();
  await eventuallyOffline(srv, 'd-bob');
  const u2 = await joined('d-bob', { transports: ['websocket'] });
  const l3 = await laptop(); // the laptop still gets its turn
  await l3.next(m => m.type === 'message' && m.message.id === later.message.id);
  const barrier = await send('barrier'); // live, sent well after u2's join took the queue
  await u2.next('new_private_message', x => x.id === barrier.message.id);
  assert.equal(u2.has('new_private_message', x => x.id === later.message.id), false,
               'the unnamed devices took it once');
  // A deviceId that is not a valid id is refused at CONNECT.
  await assert.rejects(sioConnect(srv.url, { path: '/api/socketio', transports: ['websocket'],
                                             auth: { deviceId: 'bad id' } }),
                       /deviceId is not a valid id/);
  for (const c of [ann, u2, l3]) c.close();
});

test('native protocol: send and message frames, with Socket.IO on the other side', async () => {
  const conv = await conversation(['n-ann', 'n-bob']);
  const a1 = await srv.ws('/ws?userId=n-ann&deviceId=phone');
  const a2 = await srv.ws('/ws?userId=n-ann&deviceId=laptop');
  for (const c of [a1, a2]) await c.next(m => m.type === 'joined');
  const b = await joined('n-bob', { transports: ['websocket'] });
  // Not joined yet: refused.
  const anon = await srv.ws('/ws');
  const nj = await anon.request({ type: 'send', conversation_id: conv.id, content: 'x' });
  assert.deepEqual([nj.type, nj.code], ['error', 'not_joined']);
  anon.close();
  const r = await a1.request({ type: 'send', conversation_id: conv.id, content: 'from native', temp_id: 'n1' });
  assert.equal(r.type, 'sent', JSON.stringify(r));
  assert.equal(r.delivered, true);
  assert.equal(r.message.sender_id, 'n-ann');
  assert.equal(r.message.temp_id, 'n1');
  // The other native device (snake_case) and the Socket.IO recipient (seed 001's shape).
  const got = await a2.next(m => m.type === 'message' && m.message.id === r.message.id);
  assert.deepEqual(got.message, r.message);
  const sio = await b.next('new_private_message', x => x.id === r.message.id);
  assert.deepEqual(sio, { id: r.message.id, conversationId: conv.id, senderId: 'n-ann',
                          content: 'from native', createdAt: r.message.created_at, tempId: 'n1' });
  // Bob answers from Socket.IO; both native devices get it.
  const back = await b.ask('send_private_message', { conversationId: conv.id, content: 'from sio' });
  for (const c of [a1, a2])
    await c.next(m => m.type === 'message' && m.message.id === back.message.id);
  assert.equal(a1.has(m => m.type === 'message' && m.message.id === r.message.id), false,
               'the sending device does not get its own message');
  // Errors come as error frames with the same codes.
  const e1 = await a1.request({ type: 'send', conversation_id: conv.id, content: '' });
  assert.deepEqual([e1.type, e1.code], ['error', 'bad_request']);
  const e2 = await a1.request({ type: 'send', conversation_id: 'dm_none', content: 'x' });
  assert.deepEqual([e2.type, e2.code], ['error', 'not_found']);
  const e3 = await a1.request({ type: 'send', conversation_id: conv.id, content: 42 });
  assert.deepEqual([e3.type, e3.code], ['error', 'bad_request']);
  for (const c of [a1, a2, b]) c.close();
});

test('JWT mode: the token decides who sends, creates and reads', async () => {
  const secret = 'chat-secret';
  const own = new Server({ args: ['--jwt-secret', secret, '--reconnect-grace', '0'] });
  await own.start();
  const exp = Math.floor(Date.now() / 1000) + 60;
  const tok = {
    ann: await signJwt({ sub: 'j-ann', exp }, secret),
    bob: await signJwt({ sub: 'j-bob', exp }, secret),
    eve: await signJwt({ sub: 'j-eve', exp }, secret),
  };
  const bearer = t => ({ authorization: `Bearer ${t}` });
  try {
    // No token: 401. A token for someone outside the pair: 403.
    const none = await own.http('POST', '/api/privatechat/conversations',
                                { body: { participants: ['j-ann', 'j-bob'] } });
    assert.equal(none.status, 401);
    const outsider = await own.http('POST', '/api/privatechat/conversations',
                                    { headers: bearer(tok.eve), body: { participants: ['j-ann', 'j-bob'] } });
    assert.equal(outsider.status, 403);
    const r = await own.http('POST', '/api/privatechat/conversations',
                             { headers: bearer(tok.ann), body: { participants: ['j-ann', 'j-bob'] } });
    assert.equal(r.status, 201, r.text);
    const conv = r.body.conversation;
    // The body's senderId is not who sends: the token is.
    const spoof = await own.http('POST', '/api/privatechat/message', {
      headers: bearer(tok.eve), body: { senderId: 'j-ann', conversationId: conv.id, content: 'it is me, ann' },
    });
    assert.equal(spoof.status, 403);
    assert.equal(spoof.body.error, 'forbidden');
    const unsigned = await own.http('POST', '/api/privatechat/message',
                                    { body: { senderId: 'j-ann', conversationId: conv.id, content: 'x' } });
    assert.equal(unsigned.status, 401);
    // Socket.IO: join_user with the token; the message carries the token's user.
    const b = await sioConnect(own.url, { path: '/api/socketio', transports: ['websocket'] });
    assert.equal((await b.ask('join_user', { userId: 'j-bob', token: tok.bob })).success, true);
    const ok = await own.http('POST', '/api/privatechat/message', {
      headers: bearer(tok.ann), body: { conversationId: conv.id, content: 'signed', tempId: 'j1' },
    });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.body.message.senderId, 'j-ann');
    await b.next('new_private_message', x => x.id === ok.body.message.id);
    const h = await own.get(`/api/privatechat/messages/${conv.id}`, { headers: bearer(tok.eve) });
    assert.equal(h.status, 403);
    const h2 = await own.get(`/api/privatechat/messages/${conv.id}`, { headers: bearer(tok.bob) });
    assert.deepEqual(h2.body.messages.map(m => m.content), ['signed']);
    b.close();
  } finally {
    await own.dispose();
  }
});
