// TLS for clients: with --tls-cert / --tls-key the one listener serves
// HTTPS, WSS and Socket.IO over both transports; plain HTTP and TLS 1.1
// are refused; SIGHUP swaps the certificate; bad files stop the start.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { Client, Server, eventually, tempDir, withTimeout } from './lib/harness.mjs';

const dir = tempDir('presenced-tls-');
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');

/** A self-signed certificate for 127.0.0.1 and localhost, as { cert, key } paths. */
function makeCert(name) {
  const cert = join(dir, `${name}.cert.pem`);
  const key = join(dir, `${name}.key.pem`);
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                                     '-nodes', '-keyout', key, '-out', cert, '-days', '1',
                                     '-subj', `/CN=${name}`,
                                     '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']);
  assert.equal(made.status, 0, made.stderr?.toString());
  return { cert, key };
}

const first = makeCert('presenced-first');
const second = makeCert('presenced-second');
let srv;
let ca;

before(async () => {
  copyFileSync(first.cert, certFile);
  copyFileSync(first.key, keyFile);
  ca = readFileSync(first.cert);
  srv = await new Server({ args: ['--tls-cert', certFile, '--tls-key', keyFile] }).start();
});

after(async () => {
  await srv.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const base = () => `https://127.0.0.1:${srv.port}`;

/** GET over HTTPS trusting `ca`; resolves to { status, body, cert }. */
function get(path, { caCert = ca, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(base() + path, { ca: caCert, headers }, res => {
      const cert = res.socket.getPeerCertificate();
      let text = '';
      res.on('data', d => { text += d; });
      res.on('end', () => {
        let body;
        try { body = JSON.parse(text); } catch { body = text; }
        resolve({ status: res.statusCode, body, cert });
      });
    });
    req.on('error', reject);
  });
}

async function wss(path) {
  const c = new Client(`wss://127.0.0.1:${srv.port}${path}`, { ca });
  await c.opened;
  return c;
}

test('HTTPS, WSS and Socket.IO over TLS on the one listener', async () => {
  // The line is logged before the port file is written, but its bytes may
  // reach this process's pipe after the port file is read.
  await eventually(() => /listening on https:\/\/127\.0\.0\.1:/.test(srv.output), 5000,
                   'the log to say it listens on https');
  const health = await get('/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.cert.subject.CN, 'presenced-first');

  // Native protocol over WSS: a watcher sees a user come online.
  const watcher = await wss('/ws?subscribe=none');
  await watcher.request({ type: 'subscribe', user_ids: ['tls-ann'] });
  const ann = await wss('/ws?userId=tls-ann');
  await ann.next(m => m.type === 'joined');
  await watcher.change('tls-ann', true);
  assert.equal((await ann.request({ type: 'ping' })).type, 'pong');
  // Many frames at once: the replies to one read leave as one batch.
  ann.socket.send([...Array(50).keys()].map(i => JSON.stringify({ type: 'ping', id: `b${i}` })).join('\n'));
  for (let i = 0; i < 50; ++i) ann.send({ type: 'ping', id: `b${i}` });
  for (let i = 0; i < 50; ++i) await ann.next(m => m.type === 'pong' && m.id === `b${i}`);
  // A frame in (~30 KB) and a frame out (~100 KB) larger than a TLS record.
  const ids = [...Array(1000).keys()].map(i => `tls-big-${String(i).padStart(6, '0')}`);
  const big = await watcher.request({ type: 'subscribe', user_ids: ids });
  assert.equal(big.type, 'subscribed');
  assert.equal(big.users.length, 1000);
  assert.equal(big.users[999].user_id, ids[999]);

  // REST over HTTPS sees the WSS user.
  const status = await get('/api/user-status/tls-ann');
  assert.equal(status.status, 200);
  assert.equal(status.body.data.isOnline, true);

  // Socket.IO, long-polling then upgraded, and WebSocket only.
  for (const transports of [['polling', 'websocket'], ['websocket']]) {
    const c = io(base(), { path: '/api/socketio', transports, ca, forceNew: true, reconnection: false });
    await withTimeout(new Promise((resolve, reject) => { c.once('connect', resolve); c.once('connect_error', reject); }),
                      8000, `Socket.IO connect over ${transports}`);
    const ack = await withTimeout(c.emitWithAck('check_user_online', { userId: 'tls-ann' }), 5000, 'ack');
    assert.deepEqual(ack, { success: true, data: { userId: 'tls-ann', online: true } });
    c.close();
  }
  await ann.close();
  await watcher.close();
});

test('a change to many WSS subscribers, its sends shared with the I/O thread\'s helper, reaches each once', async () => {
  // --fanout-helper-min 2: the TLS sessions' writes (each an SSL_write and
  // an asynchronous socket write) run on the helper's thread too.
  const helped = await new Server({ args: ['--tls-cert', certFile, '--tls-key', keyFile,
                                           '--fanout-helper-min', '2', '--reconnect-grace', '0'] }).start();
  const open = [];
  const connect = async path => {
    const c = new Client(`wss://127.0.0.1:${helped.port}${path}`, { ca });
    await c.opened;
    open.push(c);
    return c;
  };
  try {
    const watchers = [];
    for (let i = 0; i < 40; i++) {
      const w = await connect('/ws?subscribe=none');
      assert.equal((await w.request({ type: 'subscribe', global: true })).type, 'subscribed');
      watchers.push(w);
    }
    for (const round of [1, 2]) {
      const u = await connect('/ws?userId=tls-many');
      await u.next(m => m.type === 'joined');
      for (const w of watchers) await w.change('tls-many', true);
      await u.close();
      for (const w of watchers) await w.change('tls-many', false);
      for (const [i, w] of watchers.entries())
        assert.equal(w.has(m => m.type === 'user.status.changed' && m.user_id === 'tls-many'), false,
                     `watcher ${i}: nothing twice in round ${round}`);
    }
    const metrics = await new Promise((resolve, reject) => {
      https.get(`https://127.0.0.1:${helped.port}/metrics`, { ca }, res => {
        let text = '';
        res.on('data', d => { text += d; });
        res.on('end', () => resolve(text));
      }).on('error', reject);
    });
    const shared = Number(metrics.match(/^presence_fanout_shared_tasks_total (\S+)$/m)?.[1]);
    assert.ok(shared > 0, `shared tasks: ${shared}`);
  } finally {
    for (const c of open) await c.close().catch(() => {});
    await helped.dispose();
  }
});

test('plain HTTP, TLS 1.1 and untrusting clients are refused; the server goes on', async () => {
  // Plain HTTP on the HTTPS port: the handshake fails, the connection ends.
  const reply = await withTimeout(new Promise(resolve => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
    let got = '';
    s.on('data', d => { got += d.toString('latin1'); });
    s.on('close', () => resolve(got));
    s.on('error', () => {});
  }), 5000, 'the plain connection to end');
  // Whatever came back (a TLS alert, or nothing) was not an HTTP answer.
  assert.doesNotMatch(reply, /HTTP\//);

  // TLS 1.1 (the client allows it with SECLEVEL=0): the server's alert.
  await assert.rejects(withTimeout(new Promise((resolve, reject) => {
    const s = tls.connect({ port: srv.port, host: '127.0.0.1', ca, maxVersion: 'TLSv1.1', minVersion: 'TLSv1',
                            ciphers: 'DEFAULT@SECLEVEL=0' },
                          () => { s.end(); resolve(); });
    s.on('error', reject);
  }), 5000, 'TLS 1.1'), e => e.code === 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');

  // A client that does not trust the certificate.
  await assert.rejects(get('/healthz', { caCert: readFileSync(second.cert) }), /self.signed|unable to verify|certificate/i);

  // Counted by the server (after its alert went out: polled).
  await eventually(async () => {
    const metrics = await get('/metrics');
    return Number(/presence_tls_handshake_failures_total (\d+)/.exec(metrics.body)[1]) >= 2;
  }, 5000, 'the failed handshakes counted');
  assert.equal((await get('/healthz')).status, 200);
});

test('SIGHUP loads a new certificate for new connections; a bad one keeps the old', async () => {
  const held = await wss('/ws?userId=tls-held');
  await held.next(m => m.type === 'joined');

  copyFileSync(second.cert, certFile);
  copyFileSync(second.key, keyFile);
  srv.proc.kill('SIGHUP');
  const secondCa = readFileSync(second.cert);
  await eventually(async () => {
    try { return (await get('/healthz', { caCert: secondCa })).cert.subject.CN === 'presenced-second'; }
    catch { return false; }
  }, 5000, 'the new certificate');
  await eventually(() => /SIGHUP: reloaded; TLS certificate/.test(srv.output), 5000, 'the reload logged');
  // The connection made before goes on with its session.
  assert.equal((await held.request({ type: 'ping' })).type, 'pong');

  // A key that is not the certificate's: refused, the second stays.
  copyFileSync(first.key, keyFile);
  srv.proc.kill('SIGHUP');
  await eventually(() => /SIGHUP: TLS: tls-key: .* is not the key of the certificate/.test(srv.output),
                   5000, 'the reload error');
  assert.equal((await get('/healthz', { caCert: secondCa })).cert.subject.CN, 'presenced-second');
  await held.close();
});

test('the server does not start with TLS files it cannot use', async () => {
  const junk = join(dir, 'junk.pem');
  writeFileSync(junk, 'not a certificate\n');
  for (const [args, why] of [
    [['--tls-cert', first.cert], /tls-cert and tls-key go together/],
    [['--tls-cert', join(dir, 'missing.pem'), '--tls-key', first.key], /tls-cert: cannot load .*missing\.pem/],
    [['--tls-cert', junk, '--tls-key', first.key], /tls-cert: cannot load .*junk\.pem/],
    [['--tls-cert', first.cert, '--tls-key', second.key], /is not the key of the certificate/],
  ]) {
    const bad = new Server({ args });
    await assert.rejects(bad.start(), e => {
      assert.match(e.message, /exited early \((1|2)\)/);
      assert.doesNotMatch(e.message, /exiting hard/);
      assert.match(e.message, why);
      return true;
    });
    await bad.dispose();
  }
});
