// Socket.IO compatibility with the real socket.io-client@4: every event of
// seeds 000/001, 002 and 004, with the client's default transports (polling
// first, then the upgrade), WebSocket only, and polling only.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, eventually } from './lib/harness.mjs';
import { sioConnect, upgraded } from './lib/sio.mjs';

const modes = [
  ['default transports (polling, then upgrade)', {}],
  ['websocket only', { transports: ['websocket'] }],
  ['polling only', { transports: ['polling'] }],
];

let srv;

before(async () => {
  srv = await new Server({
    args: ['--reconnect-grace', '0', '--sio-list-window', '200'],
  }).start();
  await srv.http('PUT', '/api/users/s0-ann/profile',
                 { body: { name: 'Ann', username: 'ann', email: 'ann@x.io', avatar: '/a.png' } });
});

after(async () => { await srv.dispose(); });

for (const [label, opts] of modes) {
  // Users are namespaced per mode so the runs do not see each other.
  const tag = opts.transports ? opts.transports[0].slice(0, 2) : 'df';

  describe(`seed 000/001 over ${label}`, () => {
    test('join_user, user_online/user_offline to others, lists, check', async () => {
      const ann = `s0-ann`;
      const bob = `s0-bob-${tag}`;
      const a = await sioConnect(`${srv.url}`, { path: '/api/socketio', ...opts });
      a.emit('join_user', ann);
      const list = await a.next('online_users_list', d => d.users.some(u => u.id === ann));
      const me = list.users.find(u => u.id === ann);
      assert.deepEqual(me, { id: ann, name: 'Ann', username: 'ann', email: 'ann@x.io',
                             avatar: '/a.png', status: 'online' });
      const b = await sioConnect(`${srv.url}`, { path: '/api/socketio', ...opts });
      b.emit('join_user', { userId: bob });
      assert.deepEqual(await a.next('user_online', d => d.userId === bob), { userId: bob });
      // The coalesced list reaches A with Bob in it.
      await a.next('online_users_list', d => d.users.some(u => u.id === bob));
      b.emit('check_user_online', ann);
      assert.deepEqual(await b.next('user_online_status'), { userId: ann, online: true });
      b.emit('check_user_online', { userId: 'nobody-s0' });
      assert.deepEqual(await b.next('user_online_status'), { userId: 'nobody-s0', online: false });
      b.emit('get_online_users');
      const bl = await b.next('online_users_list', d => d.users.some(u => u.id === bob));
      assert.ok(bl.users.some(u => u.id === ann));
      b.emit('user_activity');
      if (!opts.transports) await upgraded(a);
      // Nobody hears about themselves.
      assert.equal(a.has('user_online', d => d.userId === ann), false);
      b.close();
      assert.deepEqual(await a.next('user_offline', d => d.userId === bob), { userId: bob });
      a.close();
    });
  });

  describe(`seed 002 over ${label}`, () => {
    test('authenticate, lists, user-status-change, chat sessions and typing', async () => {
      const cy = `s2-cy-${tag}`;
      const di = `s2-di-${tag}`;
      const ed = `s2-ed-${tag}`;
      const c = await sioConnect(srv.url, opts);
      c.emit('authenticate', { userId: cy, token: 'ignored-in-dev-mode' });
      const ok = await c.next('authentication-success');
      assert.equal(ok.userId, cy);
      assert.ok(ok.onlineCount >= 1);
      const d = await sioConnect(srv.url, opts);
      d.emit('authenticate', { userId: di });
      await d.next('authentication-success');
      const change = await c.next('user-status-change', x => x.userId === di && x.isOnline);
      assert.deepEqual(Object.keys(change).sort(), ['isOnline', 'lastSeen', 'status', 'userId']);
      c.emit('get-online-users');
      const list = await c.next('online-users-list', l => Array.isArray(l) && l.some(u => u.userId === di));
      assert.equal(list.find(u => u.userId === di).isOnline, true);
      // Typing reaches the other members of the chat session only.
      const e = await sioConnect(srv.url, opts);
      e.emit('authenticate', { userId: ed });
      await e.next('authentication-success');
      const room = `room-${tag}`;
      c.emit('join-chat-session', { chatSessionId: room });
      d.emit('join-chat-session', room);
      // Acks order the joins before the typing below.
      await c.ask('join-chat-session', { chatSessionId: room });
      await d.ask('join-chat-session', room);
      c.emit('typing-start', { chatSessionId: room });
      assert.deepEqual(await d.next('user-typing', t => t.isTyping),
                       { userId: cy, chatSessionId: room, isTyping: true });
      c.emit('typing-stop', { chatSessionId: room });
      assert.deepEqual(await d.next('user-typing', t => !t.isTyping),
                       { userId: cy, chatSessionId: room, isTyping: false });
      d.emit('ping');
      assert.ok(Date.parse((await d.next('pong')).timestamp) > 0);
      assert.equal(c.has('user-typing'), false, 'the typist hears nothing');
      assert.equal(e.has('user-typing'), false, 'non-members hear nothing');
      // After leave-chat-session, D hears no more typing; E (now a member)
      // does. The typing signal is sent to both members at once, so once
      // E has it, a round trip to D orders anything D got before the ack.
      await d.ask('leave-chat-session', { chatSessionId: room });
      await e.ask('join-chat-session', { chatSessionId: room });
      c.emit('typing-start', { chatSessionId: room });
      await e.next('user-typing', t => t.isTyping && t.userId === cy);
      await d.ask('heartbeat');
      assert.equal(d.has('user-typing', t => t.isTyping), false, 'a leaver hears nothing');
      // Typing in a session one has not joined is refused.
      const refused = await d.ask('typing-start', { chatSessionId: room });
      assert.equal(refused.success, false);
      d.close();
      const gone = await c.next('user-status-change', x => x.userId === di && !x.isOnline);
      assert.ok(Date.parse(gone.lastSeen) > 0);
      c.close();
      e.close();
    });
  });

  describe(`seed 004 over ${label}`, () => {
    test('namespace /ws/messages, acknowledged queries, broadcasts, two sockets', async () => {
      const fay = `s4-fay-${tag}`;
      const gus = `s4-gus-${tag}`;
      const f = await sioConnect(`${srv.url}/ws/messages`, { auth: { userId: fay }, ...opts });
      // "All connected clients receive" user-online: the connecting socket
      // too (seed 004's test page waits for its own).
      assert.deepEqual(await f.next('user-online', x => x.userId === fay), { userId: fay });
      const g1 = await sioConnect(`${srv.url}/ws/messages`, { auth: { userId: gus }, ...opts });
      assert.deepEqual(await g1.next('user-online', x => x.userId === gus), { userId: gus });
      assert.deepEqual(await f.next('user-online', x => x.userId === gus), { userId: gus });
      const one = await f.ask('check-user-status', { userId: gus });
      assert.equal(one.success, true);
      assert.equal(one.data.online, true);
      assert.equal(one.data.userId, gus);
      assert.ok(Date.parse(one.data.lastActive) > 0);
      assert.ok(Date.parse(one.data.connectedAt) > 0);
      const many = await f.ask('check-users-status', { userIds: [gus, 'nobody-s4'] });
      assert.deepEqual(many.data.statuses.map(s => [s.userId, s.online]),
                       [[gus, true], ['nobody-s4', false]]);
      const all = await f.ask('get-online-users', {});
      assert.equal(all.success, true);
      assert.equal(all.data.count, all.data.users.length);
      assert.ok(all.data.users.some(u => u.userId === fay));
      const hb = await g1.ask('heartbeat');
      assert.equal(hb.success, true);
      assert.ok(Date.parse(hb.data.timestamp) > 0);
      // A second socket of Gus: he is offline only after the last closes.
      const g2 = await sioConnect(`${srv.url}/ws/messages`, { auth: { userId: gus }, ...opts });
      await eventually(async () => {
        const st = await srv.get(`/api/user-status/${gus}`);
        return st.body.data.devices === 2;
      }, 5000, 'second socket registered');
      // The second socket hears its own user-online; the others do not
      // hear Gus come online again (checked once his user-offline, which
      // follows any earlier change of his, has arrived below).
      assert.deepEqual(await g2.next('user-online', x => x.userId === gus), { userId: gus });
      g1.close();
      await eventually(async () => {
        const st = await srv.get(`/api/user-status/${gus}`);
        return st.body.data.devices === 1;
      }, 5000, 'first socket gone');
      assert.equal((await f.ask('check-user-status', { userId: gus })).data.online, true);
      assert.equal(f.has('user-offline', x => x.userId === gus), false);
      g2.close();
      assert.deepEqual(await f.next('user-offline', x => x.userId === gus), { userId: gus });
      assert.equal(f.count('user-online', x => x.userId === gus), 0, 'one user-online for two sockets');
      assert.equal(f.count('user-online', x => x.userId === fay), 0, 'own user-online exactly once');
      f.close();
    });
  });
}

test('unknown events: an ack error or a presence-error event', async () => {
  const c = await sioConnect(srv.url, { transports: ['websocket'] });
  const r = await c.ask('launch-missiles', { now: true });
  assert.equal(r.success, false);
  assert.match(r.error, /unknown event/);
  c.emit('launch-missiles');
  const e = await c.next('presence-error');
  assert.equal(e.code, 'unknown_event');
  // Binary attachments are refused clearly.
  const b = await c.ask('check-user-status', Buffer.from([1, 2, 3]));
  assert.equal(b.success, false);
  assert.match(b.error, /binary/);
  c.close();
});

test('an unknown namespace gets a connect error', async () => {
  await assert.rejects(sioConnect(`${srv.url}/nope`, { transports: ['websocket'] }),
                       e => /Invalid namespace/.test(e.message));
});

test('the server pings and the client answers (Engine.IO liveness)', async () => {
  const s = await new Server({
    args: ['--sio-ping-interval', '200', '--sio-ping-timeout', '200'],
  }).start();
  try {
    const c = await sioConnect(s.url, { transports: ['websocket'] });
    const pings = [];
    c.socket.io.engine.on('ping', () => pings.push(Date.now()));
    await eventually(() => pings.length >= 3, 5000, 'three pings');
    assert.equal(c.socket.connected, true);
    c.close();
  } finally {
    await s.dispose();
  }
});
