// Socket.IO under faults: vanished clients (killed, frozen), JWT rejections,
// and garbage at the Engine.IO and Socket.IO layers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Server, signJwt, withTimeout } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';
import WebSocket from 'ws';

const PING = 300;
const TIMEOUT = 300;
const BOUND = PING + TIMEOUT;  // + reconnect grace 0: docs/protocol.md
const SLACK = 1500;  // scheduling on a loaded 2-core machine
const CHILD = fileURLToPath(new URL('./lib/sio_child.mjs', import.meta.url));

let srv;

before(async () => {
  srv = await new Server({
    args: ['--sio-ping-interval', String(PING), '--sio-ping-timeout', String(TIMEOUT),
           '--reconnect-grace', '0'],
  }).start();
});

after(async () => { await srv.dispose(); });

/** A socket.io client in its own process; resolves once it has joined. */
async function childClient(user, transport) {
  const p = spawn(process.execPath, [CHILD, srv.url, user, transport],
                  { stdio: ['ignore', 'pipe', 'inherit'] });
  await withTimeout(new Promise((resolve, reject) => {
    p.stdout.on('data', d => { if (String(d).includes('joined')) resolve(); });
    p.on('exit', code => reject(new Error(`child exited ${code}`)));
  }), 8000, 'child client to join');
  return p;
}

for (const transport of ['websocket', 'polling']) {
  for (const [how, signal] of [['killed (SIGKILL)', 'SIGKILL'], ['frozen (SIGSTOP)', 'SIGSTOP']]) {
    test(`a ${transport} client ${how} goes offline within ping interval + timeout`, async () => {
      const user = `vanish-${transport}-${signal}`;
      const watcher = await sioConnect(`${srv.url}/ws/messages`, { transports: ['websocket'] });
      const child = await childClient(user, transport);
      assert.equal((await watcher.ask('check-user-status', { userId: user })).data.online, true);
      const timeouts = await srv.metric('presence_sio_ping_timeouts_total');
      const t0 = Date.now();
      child.kill(signal);
      await watcher.next('user-offline', x => x.userId === user, BOUND + SLACK + 2000);
      const elapsed = Date.now() - t0;
      assert.ok(elapsed <= BOUND + SLACK, `offline after ${elapsed} ms (bound ${BOUND} ms)`);
      if (signal === 'SIGSTOP') // a frozen client's socket stays open: no pong
        assert.ok(await srv.metric('presence_sio_ping_timeouts_total') > timeouts,
                  'counted as a ping timeout');
      child.kill('SIGKILL');
      watcher.close();
    });
  }
}

test('JWT mode: handshake auth decides, impostors are refused', async () => {
  const secret = 'sio-secret';
  const s = await new Server({ args: ['--jwt-secret', secret] }).start();
  try {
    const token = await signJwt({ sub: 'jwt-sio-ann', exp: Math.floor(Date.now() / 1000) + 60 }, secret);
    const ann = await sioConnect(`${s.url}/ws/messages`, { auth: { token }, transports: ['websocket'] });
    const me = await ann.ask('check-user-status', { userId: 'jwt-sio-ann' });
    assert.equal(me.data.online, true, 'joined from the handshake token');
    await assert.rejects(sioConnect(`${s.url}/ws/messages`, { transports: ['websocket'] }),
                         e => /Unauthorized/.test(e.message));
    await assert.rejects(sioConnect(`${s.url}/ws/messages`,
                                    { auth: { token: 'not.a.token' }, transports: ['websocket'] }),
                         e => /Unauthorized/.test(e.message));
    // Seed 002: authenticate verifies the token and refuses another user.
    const c = await sioConnect(s.url, { transports: ['websocket'] });
    c.emit('authenticate', { userId: 'someone-else', token });
    assert.match((await c.next('authentication-error')).message, /token names/);
    c.emit('authenticate', { userId: 'jwt-sio-ann', token: token + 'x' });
    await c.next('authentication-error');
    c.emit('authenticate', { userId: 'jwt-sio-ann', token });
    assert.equal((await c.next('authentication-success')).userId, 'jwt-sio-ann');
    // Seed 000 without a token: refused.
    const d = await sioConnect(s.url, { path: '/api/socketio', transports: ['websocket'] });
    d.emit('join_user', 'jwt-sio-bob');
    assert.equal((await d.next('presence-error')).code, 'unauthorized');
    for (const x of [ann, c, d]) x.close();
  } finally {
    await s.dispose();
  }
});

/** A raw Engine.IO WebSocket: resolves with the socket after the open packet. */
async function rawWs(path = '/socket.io/?EIO=4&transport=websocket') {
  const ws = new WebSocket(`${srv.wsUrl}${path}`);
  const frames = [];
  let waiter = null;
  ws.on('message', d => { frames.push(String(d)); if (waiter) waiter(); });
  const closed = new Promise(r => ws.on('close', (code) => r(code)));
  await withTimeout(new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); }),
                    5000, 'raw ws open');
  /** Resolves once a frame satisfies `pred`. */
  const frame = pred => withTimeout(new Promise(resolve => {
    waiter = () => { if (frames.some(pred)) { waiter = null; resolve(); } };
    waiter();
  }), 5000, 'a frame');
  return { ws, frames, closed, frame };
}

test('garbage Engine.IO / Socket.IO packets end that session, nothing else', async () => {
  for (const garbage of ['zzz', '4garbage', '42[bad json', '42{"not":"an array"}', '9', '']) {
    const { ws, closed, frame } = await rawWs();
    ws.send('40');
    await frame(f => f.startsWith('40{'));
    ws.send(garbage);
    await withTimeout(closed, 5000, `close after ${JSON.stringify(garbage)}`);
  }
  const ok = await sioConnect(srv.url, { transports: ['websocket'] });
  assert.equal((await ok.ask('heartbeat')).success, true);
  ok.close();
});

test('polling: handshake errors and bad payloads are Engine.IO errors', async () => {
  const base = '/socket.io/?EIO=4&transport=polling';
  const v3 = await srv.get('/socket.io/?EIO=3&transport=polling');
  assert.equal(v3.status, 400);
  assert.deepEqual(v3.body, { code: 5, message: 'Unsupported protocol version' });
  const bad = await srv.get('/socket.io/?EIO=4&transport=pigeon');
  assert.deepEqual(bad.body, { code: 0, message: 'Transport unknown' });
  const unknown = await srv.get(`${base}&sid=nope`);
  assert.deepEqual(unknown.body, { code: 1, message: 'Session ID unknown' });
  const post = await srv.http('POST', base, { body: '40' });
  assert.equal(post.body.code, 2);
  // A real handshake: "0{...}" with the documented fields.
  const hs = await srv.get(base);
  assert.equal(hs.status, 200);
  assert.equal(hs.text[0], '0');
  const open = JSON.parse(hs.text.slice(1));
  assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
  assert.deepEqual(open.upgrades, ['websocket']);
  assert.equal(open.pingInterval, PING);
  // Several packets in one payload: connect, then an event with an ack.
  const sid = `${base}&sid=${open.sid}`;
  const p1 = await srv.http('POST', sid, { body: '40\x1e4217["check_user_online","x"]', headers: { 'content-type': 'text/plain' } });
  assert.equal(p1.text, 'ok');
  const got = await srv.get(sid);
  const packets = got.text.split('\x1e');
  assert.ok(packets.some(p => p.startsWith('40{"sid":')), got.text);
  // The event and its reply may come in this poll or later ones (the
  // answer comes from the session actor when the node's online index is
  // not kept: no seed-000 client uses it).
  let all = packets;
  for (let i = 0; i < 5 && !all.some(p => p.startsWith('4317')); ++i)
    all = all.concat((await srv.get(sid)).text.split('\x1e'));
  assert.ok(all.some(p => p.startsWith('4317[{') && p.includes('"success":true')), all.join(' | '));
  // Garbage in a payload closes the session.
  const p2 = await srv.http('POST', sid, { body: 'not an engine.io packet', headers: { 'content-type': 'text/plain' } });
  assert.equal(p2.status, 400);
  const after = await srv.get(sid);
  assert.equal(after.body.code, 1);
  assert.equal((await srv.get('/healthz')).status, 200);
});

test('an Engine.IO session that never joins a namespace is dropped', async () => {
  const { ws, frames, closed, frame } = await rawWs();
  await frame(f => f.startsWith('0{'));
  const t0 = Date.now();
  // Answer pings, but never send "40": the session still ends.
  ws.on('message', d => { if (String(d) === '2') ws.send('3'); });
  await withTimeout(closed, BOUND + SLACK + 2000, 'connect timeout');
  assert.ok(Date.now() - t0 >= BOUND - 100, 'not before ping interval + timeout');
  assert.ok(frames.includes('1'), 'an Engine.IO close packet first');
});
