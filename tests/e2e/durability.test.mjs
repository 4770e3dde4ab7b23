// last_seen and history survive a clean restart, a SIGKILL, and shutdown
// closes sockets properly. Each test uses its own server and data dir.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, eventually } from './lib/harness.mjs';

test('SIGTERM: sockets get 1001, users recorded offline, history kept', async () => {
  const srv = await new Server().start();
  try {
    const c = await srv.ws('/ws?userId=tom');
    const joined = await c.next(m => m.type === 'joined');
    const since = Date.parse(joined.user.online_since);
    const t0 = Date.now();
    const exit = await srv.stop('SIGTERM');
    assert.equal(exit.code, 0, srv.output);
    const { code, reason } = await c.closed;
    assert.equal(code, 1001);
    assert.match(reason, /shutting down/);
    await srv.start();
    const st = await srv.get('/api/user-status/tom');
    assert.equal(st.body.data.isOnline, false);
    const lastSeen = Date.parse(st.body.data.lastSeen);
    assert.ok(lastSeen >= t0 - 5 && lastSeen <= Date.now(), `last_seen ${st.body.data.lastSeen}`);
    const h = await srv.get('/api/users/tom/history');
    assert.equal(h.body.data.length, 1);
    assert.equal(h.body.data[0].start_ms, since);
    assert.equal(h.body.data[0].end_ms, lastSeen);
    assert.doesNotMatch(srv.output, /recovered/);
  } finally {
    await srv.dispose();
  }
});

test('SIGKILL: last_seen is no older than the last heartbeat', async () => {
  // Checkpoints every 100 ms; grace 0.
  const srv = await new Server({ args: ['--checkpoint-interval', '100',
                                        '--reconnect-grace', '0'] }).start();
  try {
    const c = await srv.ws('/ws?userId=kim');
    const joined = await c.next(m => m.type === 'joined');
    const since = Date.parse(joined.user.online_since);
    for (let i = 0; i < 3; i++) await c.request({ type: 'ping' });
    const lastBeat = Date.now();
    await c.request({ type: 'ping' });
    // Wait until the store has written the checkpoint of that heartbeat
    // (answered at the edge; the user actor hears of it within one
    // checkpoint interval, the store writes it within another).
    await eventually(async () => (await srv.metric('presence_store_checkpoint_newest_ms')) >= lastBeat,
                     5000, 'the heartbeat checkpoint');
    const exit = await srv.kill9();
    assert.equal(exit.signal, 'SIGKILL');
    await srv.start();
    // The log line may reach the pipe after the port file appeared.
    await eventually(() => /recovered 1 online sessions/.test(srv.output), 5000, 'the recovery logged');
    const st = await srv.get('/api/user-status/kim');
    assert.equal(st.body.data.isOnline, false);
    const lastSeen = Date.parse(st.body.data.lastSeen);
    assert.ok(lastSeen >= lastBeat, `last_seen ${lastSeen} < last heartbeat ${lastBeat}`);
    assert.ok(lastSeen <= Date.now());
    const h = await srv.get('/api/users/kim/history');
    assert.equal(h.body.data.length, 1);
    assert.equal(h.body.data[0].start_ms, since);
    assert.equal(h.body.data[0].end_ms, lastSeen);
    // The version keeps growing across the crash.
    const c2 = await srv.ws('/ws?userId=kim');
    const again = await c2.next(m => m.type === 'joined');
    assert.ok(again.user.version > joined.user.version);
    await c2.close();
  } finally {
    await srv.dispose();
  }
});

test('history stays bounded and survives restarts', async () => {
  const srv = await new Server({ args: ['--history-limit', '3', '--reconnect-grace', '0'] }).start();
  try {
    const watcher = await srv.ws('/ws');
    await watcher.request({ type: 'subscribe', user_ids: ['hal'] });
    for (let i = 0; i < 5; i++) {
      const c = await srv.ws('/ws?userId=hal');
      await c.next(m => m.type === 'joined');
      await c.close();
      await watcher.change('hal', false);
    }
    await watcher.close();
    await srv.restart();
    const h = await srv.get('/api/users/hal/history?limit=3');
    assert.equal(h.body.data.length, 3);
    const starts = h.body.data.map(s => s.start_ms);
    assert.deepEqual([...starts].sort((a, b) => b - a), starts, 'newest first');
  } finally {
    await srv.dispose();
  }
});

test('a second process on the same data dir fails fast', async () => {
  const srv = await new Server().start();
  try {
    const other = new Server({ dataDir: srv.dataDir });
    await assert.rejects(other.start(), /cannot open RocksDB/);
  } finally {
    await srv.dispose();
  }
});
