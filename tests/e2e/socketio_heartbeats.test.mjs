// Socket.IO heartbeat events (seed 000's user_activity and
// check_user_online, seed 004's heartbeat) are answered by the transport
// where they arrive, without the Socket.IO session actor
// (edge/socketio/eio_session.cpp, try_fast_path). They must still do what
// the actor did: keep the device alive past the heartbeat TTL, answer with
// the same payloads, refuse what is wrong, and work before a join.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, eventually } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

let srv;

before(async () => {
  // A 1 s TTL and Engine.IO pings far apart: only the events keep a
  // device alive (an Engine.IO pong refreshes the TTL too).
  srv = await new Server({
    args: ['--heartbeat-ttl', '1', '--reconnect-grace', '0',
           '--sio-ping-interval', '60000', '--sio-ping-timeout', '60000'],
  }).start();
});

after(async () => { await srv.dispose(); });

const online = async user =>
  (await srv.get(`/api/users/${user}/status`)).body?.data?.is_online;

const ws = { path: '/api/socketio', transports: ['websocket'] };

test('user_activity keeps a seed-000 device past the TTL; silence expires it', async () => {
  const c = await sioConnect(srv.url, ws);
  c.emit('join_user', 'hb-ann');
  await eventually(() => online('hb-ann'), 5000, 'hb-ann online');
  // 2.5 TTLs of activity every 200 ms: never offline meanwhile.
  for (let i = 0; i < 12; i++) {
    const ack = await c.ask('user_activity');
    assert.equal(ack.success, true);
    assert.match(ack.data.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(await online('hb-ann'), true, `online after ${i * 200} ms of activity`);
    await new Promise(r => setTimeout(r, 200));
  }
  // Silence: the TTL ends it (the test could fail: the TTL is live).
  await eventually(async () => (await online('hb-ann')) === false, 5000, 'hb-ann expired');
  c.close();
});

test('seed 004 heartbeat keeps a /ws/messages device alive', async () => {
  const c = await sioConnect(`${srv.url}/ws/messages`, { ...ws, auth: { userId: 'hb-dee' } });
  await eventually(() => online('hb-dee'), 5000, 'hb-dee online');
  for (let i = 0; i < 10; i++) {
    assert.equal((await c.ask('heartbeat')).success, true);
    await new Promise(r => setTimeout(r, 250));
  }
  assert.equal(await online('hb-dee'), true);
  c.close();
});

test('check_user_online answers with the event and the ack; bad ids go to the actor', async () => {
  const a = await sioConnect(srv.url, ws);
  a.emit('join_user', 'hb-bob');
  await eventually(() => online('hb-bob'), 5000, 'hb-bob online');
  const b = await sioConnect(srv.url, ws);
  // Before any join of its own, as the seed's clients do.
  const ack = await b.ask('check_user_online', { userId: 'hb-bob' });
  assert.deepEqual(ack, { success: true, data: { userId: 'hb-bob', online: true } });
  assert.deepEqual(await b.next('user_online_status'), { userId: 'hb-bob', online: true });
  b.emit('check_user_online', 'hb-nobody');
  assert.deepEqual(await b.next('user_online_status'), { userId: 'hb-nobody', online: false });
  // A bad id: the actor's error, as before.
  const bad = await b.ask('check_user_online', { userId: 'has space' });
  assert.equal(bad.success, false);
  // Activity before a join is acknowledged and changes nothing.
  assert.equal((await b.ask('user_activity')).success, true);
  a.close();
  b.close();
});

test('over long-polling the heartbeat events are answered the same way', async () => {
  // No WebSocket: the events arrive in POSTs and the answers leave in the
  // next poll (try_fast_path without a socket to reply in place).
  const polling = { path: '/api/socketio', transports: ['polling'] };
  const a = await sioConnect(srv.url, polling);
  a.emit('join_user', 'hb-poll');
  await eventually(() => online('hb-poll'), 5000, 'hb-poll online');
  const b = await sioConnect(srv.url, polling);
  assert.equal(b.socket.io.engine.transport.name, 'polling');
  b.emit('check_user_online', 'hb-poll');
  assert.deepEqual(await b.next('user_online_status'), { userId: 'hb-poll', online: true });
  b.emit('check_user_online', 'hb-nobody');
  assert.deepEqual(await b.next('user_online_status'), { userId: 'hb-nobody', online: false });
  // Activity keeps the polling device past the 1 s TTL.
  for (let i = 0; i < 8; i++) {
    const ack = await a.ask('user_activity');
    assert.equal(ack.success, true);
    await new Promise(r => setTimeout(r, 250));
  }
  assert.equal(await online('hb-poll'), true);
  a.close();
  b.close();
});

test('Engine.IO pongs alone keep a joined device past the TTL', async () => {
  // The transport pings every 300 ms (eio_session::heartbeat on the
  // listener's clock); the client's pongs are its only traffic after the
  // join. Without them reaching the activity cell the 1 s TTL would end it.
  const s = await new Server({
    args: ['--heartbeat-ttl', '1', '--reconnect-grace', '0',
           '--sio-ping-interval', '300', '--sio-ping-timeout', '2000'],
  }).start();
  try {
    const c = await sioConnect(s.url, ws);
    const pings = [];
    c.socket.io.engine.on('ping', () => pings.push(Date.now()));
    c.emit('join_user', 'hb-pong');
    const isOnline = async () => (await s.get('/api/users/hb-pong/status')).body?.data?.is_online;
    await eventually(isOnline, 5000, 'hb-pong online');
    // Three TTLs, checked every 200 ms.
    const until = Date.now() + 3000;
    while (Date.now() < until) {
      assert.equal(await isOnline(), true, `online ${pings.length} pings in`);
      await new Promise(r => setTimeout(r, 200));
    }
    assert.ok(pings.length >= 5, `pinged ${pings.length} times in 3 s`);
    assert.equal(await s.metric('presence_sio_ping_timeouts_total'), 0);
    c.close();
  } finally {
    await s.dispose();
  }
});
