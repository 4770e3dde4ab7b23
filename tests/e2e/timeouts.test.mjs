// Timeouts: idle HTTP connections are closed after --http-timeout, but a
// WebSocket (which came in over HTTP) lives on for as long as it is used.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Server, withTimeout } from './lib/harness.mjs';

let srv;

before(async () => {
  srv = await new Server({ args: ['--http-timeout', '0.5'] }).start();
});

after(async () => { await srv.dispose(); });

/** Resolves when the server closes a raw TCP connection that sent `data`. */
function closedByServer(data) {
  return new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1', () => { if (data) s.write(data); });
    const t0 = Date.now();
    s.on('data', () => {});
    s.on('close', () => resolve(Date.now() - t0));
    s.on('error', reject);
  });
}

test('an idle HTTP connection is closed after the HTTP timeout', async () => {
  const ms = await withTimeout(closedByServer(null), 5000, 'idle close');
  assert.ok(ms >= 400, `closed after ${ms} ms`);
});

test('a request trickling in too slowly is cut off', async () => {
  const ms = await withTimeout(closedByServer('GET /healthz HTTP/1.1\r\nHost: x\r\n'), 5000,
                               'slow request close');
  assert.ok(ms >= 400);
});

test('a WebSocket outlives the HTTP timeout', async () => {
  const c = await srv.ws('/ws?userId=longlived');
  await c.next(m => m.type === 'joined');
  const until = Date.now() + 2000;  // four times the HTTP timeout
  while (Date.now() < until) {
    const pong = await c.request({ type: 'ping' });
    assert.equal(pong.type, 'pong');
    await new Promise(r => setTimeout(r, 200));
  }
  const st = await c.request({ type: 'get_status', user_id: 'longlived' });
  assert.equal(st.user.is_online, true);
  await c.close();
});
