// Hostile input gets a clear error (frame, close code or HTTP status) and
// the server keeps serving everyone else.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Server, withTimeout } from './lib/harness.mjs';

let srv;
let bystander;

before(async () => {
  srv = await new Server({
    args: ['--max-frame-bytes', '4096', '--max-body-bytes', '2048',
           '--rate-limit', '50', '--rate-burst', '50'],
  }).start();
  bystander = await srv.ws('/ws?userId=bystander');
  await bystander.next(m => m.type === 'joined');
});

after(async () => {
  await bystander.close();
  await srv.dispose();
});

/** The bystander still gets answers: the server is alive and serving. */
async function stillServing() {
  const pong = await bystander.request({ type: 'ping' });
  assert.equal(pong.type, 'pong');
  assert.equal((await srv.get('/healthz')).status, 200);
}

test('malformed JSON, wrong shapes, unknown types get error frames', async () => {
  const c = await srv.ws('/ws?userId=mallory');
  await c.next(m => m.type === 'joined');
  const cases = [
    ['{not json', 'bad_json'],
    ['[1,2,3]', 'bad_request'],
    ['"just a string"', 'bad_request'],
    ['{}', 'bad_request'],
    [JSON.stringify({ type: 42 }), 'bad_request'],
    [JSON.stringify({ type: 'launch_missiles' }), 'unknown_type'],
    [JSON.stringify({ type: 'get_status' }), 'bad_request'],
    [JSON.stringify({ type: 'get_status', user_id: ['x'] }), 'bad_request'],
    [JSON.stringify({ type: 'get_status', user_id: 'has space' }), 'invalid_id'],
    [JSON.stringify({ type: 'get_status', user_id: 'x'.repeat(200) }), 'invalid_id'],
    [JSON.stringify({ type: 'get_statuses', user_ids: 'abc' }), 'bad_request'],
    [JSON.stringify({ type: 'get_statuses', user_ids: Array(1001).fill('a') }), 'too_many_ids'],
    [JSON.stringify({ type: 'list_online', limit: -1 }), 'bad_request'],
    [JSON.stringify({ type: 'list_online', limit: 'ten' }), 'bad_request'],
    [JSON.stringify({ type: 'subscribe' }), 'bad_request'],
    [JSON.stringify({ type: 'subscribe', global: 'yes' }), 'bad_request'],
    [JSON.stringify({ type: 'set_status', status: 'offline' }), 'bad_request'],
    [JSON.stringify({ type: 'set_status', status: 'sleepy' }), 'bad_request'],
    [JSON.stringify({ type: 'ping', id: { nested: true } }), 'bad_request'],
  ];
  for (const [frame, code] of cases) {
    c.send(frame);
    const err = await c.next(m => m.type === 'error', 3000, `error for ${frame.slice(0, 40)}`);
    assert.equal(err.code, code, `frame ${frame.slice(0, 60)}`);
    assert.equal(typeof err.message, 'string');
  }
  // An error reply echoes the id when the frame had one.
  const e = await c.request({ type: 'nope' });
  assert.equal(e.code, 'unknown_type');
  // The session still works after all that.
  assert.equal((await c.request({ type: 'ping' })).type, 'pong');
  await c.close();
  await stillServing();
});

test('a binary frame gets an error frame', async () => {
  const c = await srv.ws('/ws');
  c.socket.send(Buffer.from([1, 2, 3, 4]), { binary: true });
  const err = await c.next(m => m.type === 'error');
  assert.equal(err.code, 'binary_not_supported');
  await c.close();
});

test('an oversized frame closes that socket with 1009', async () => {
  const c = await srv.ws('/ws?userId=bigmouth');
  await c.next(m => m.type === 'joined');
  c.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(10000) }));
  const { code } = await withTimeout(c.closed, 5000, 'close after oversized frame');
  assert.equal(code, 1009);
  await stillServing();
});

test('a flood is rate limited, then cut off with 1008', async () => {
  const c = await srv.ws('/ws?userId=flooder');
  await c.next(m => m.type === 'joined');
  for (let i = 0; i < 400; i++) c.send({ type: 'ping' });
  const limited = await c.next(m => m.type === 'error' && m.code === 'rate_limited');
  assert.match(limited.message, /slow down/);
  const { code } = await withTimeout(c.closed, 5000, 'flood cut-off');
  assert.equal(code, 1008);
  await stillServing();
});

test('a binary flood is rate limited like any other', async () => {
  const c = await srv.ws('/ws?userId=binflooder');
  await c.next(m => m.type === 'joined');
  for (let i = 0; i < 400; i++) c.socket.send(Buffer.from([i & 0xff]), { binary: true });
  await c.next(m => m.type === 'error' && m.code === 'rate_limited');
  const { code } = await withTimeout(c.closed, 5000, 'binary flood cut-off');
  assert.equal(code, 1008);
  await stillServing();
});

/** Writes `bytes` on a raw TCP connection; resolves with all the server
 *  sent until it closed. */
function rawReply(bytes, what) {
  return withTimeout(new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.write(bytes));
    let data = '';
    s.on('data', d => { data += d; });
    s.on('end', () => resolve(data));
    s.on('error', reject);
  }), 5000, what);
}

test('bad HTTP: huge body 413, bad JSON 400, garbage bytes', async () => {
  const big = await srv.http('POST', '/api/user-status/batch',
                             { body: { userIds: Array(500).fill('abcdefgh') } });
  assert.equal(big.status, 413);
  assert.equal(big.body.code, 'payload_too_large');
  const bad = await srv.http('POST', '/api/user-status/batch', { body: '{"userIds": [' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'bad_json');
  const wrong = await srv.http('POST', '/api/user-status/batch', { body: { userIds: [{}] } });
  assert.equal(wrong.status, 400);
  // Raw garbage on the socket: a 400 and a closed connection.
  const reply = await rawReply('\x00\x01GARBAGE\r\n\r\n', 'reply to garbage');
  assert.match(reply, /^HTTP\/1\.1 400/);
  // Headers over 16 KiB: 431, and the connection ends.
  const huge = await rawReply(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(20000)}\r\n\r\n`,
                              'reply to huge headers');
  assert.match(huge, /^HTTP\/1\.1 431/);
  assert.match(huge, /headers_too_large/);
  await stillServing();
});

test('WebSocket upgrade errors: unknown path 404, bad ids 400', async () => {
  await assert.rejects(srv.ws('/ws/nowhere'), e => e.status === 404);
  await assert.rejects(srv.ws('/ws?userId=%00evil'), e => e.status === 400 && e.body.code === 'invalid_id');
  await assert.rejects(srv.ws('/ws?userId=ok&deviceId=a%20b'), e => e.status === 400);
  await stillServing();
});

test('many abrupt disconnects leave no ghosts', async () => {
  const watcher = await srv.ws('/ws');
  const ids = Array.from({ length: 30 }, (_, i) => `ghost${i}`);
  await watcher.request({ type: 'subscribe', user_ids: ids });
  const cs = await Promise.all(ids.map(u => srv.ws(`/ws?userId=${u}`)));
  await Promise.all(cs.map(c => c.next(m => m.type === 'joined')));
  await Promise.all(cs.map(c => c.terminate()));
  // Default grace is 2 s: every one of them goes offline after it.
  await Promise.all(ids.map(u => watcher.change(u, false, 8000)));
  const batch = await watcher.request({ type: 'get_statuses', user_ids: ids });
  assert.ok(batch.users.every(u => !u.is_online));
  await watcher.close();
});
