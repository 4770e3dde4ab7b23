// Outgoing webhooks (--webhook-url, --webhook-secret) with real HTTP
// receivers on 127.0.0.1: every change of a user is POSTed, signed
// (HMAC-SHA256), with an idempotency key, retried after a failure, in
// order per endpoint; a receiver that hangs delays neither presence nor
// the other endpoint.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import crypto from 'node:crypto';
import { Server, eventually, tempDir } from './lib/harness.mjs';

const SECRET = 'hook-secret';
let srv, good, hang;
const hooks = [];      // what the good receiver got, in order
const hanging = [];    // requests the hanging receiver holds open

function listen(handler) {
  return new Promise(resolve => {
    const s = http.createServer(handler);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

before(async () => {
  const failedOnce = new Set();
  good = await listen((req, res) => {
    let body = '';
    req.on('data', c => { body += c; });
    req.on('end', () => {
      hooks.push({ url: req.url, headers: req.headers, body });
      const key = req.headers['idempotency-key'];
      // The first try of each hook fails: the sender must retry it.
      if (!failedOnce.has(key)) {
        failedOnce.add(key);
        res.writeHead(500).end('try again');
        return;
      }
      res.writeHead(204).end();
    });
  });
  hang = await listen((req) => { hanging.push(req); });   // never answers
  srv = await new Server({ args: [
    '--reconnect-grace', '0', '--resync-margin', '0',   // a node just started
    '--webhook-url', `http://127.0.0.1:${good.address().port}/hooks/presence`,
    '--webhook-url', `http://127.0.0.1:${hang.address().port}/`,
    '--webhook-secret', SECRET,
  ] }).start();
});

after(async () => {
  await srv.dispose();
  for (const r of hanging) r.socket.destroy();
  good.close();
  hang.close();
});

test('changes are POSTed signed, retried, de-duplicable, in order; a hanging receiver delays nothing', async () => {
  const watcher = await srv.ws('/ws?subscribe=none');
  await watcher.request({ type: 'subscribe', user_ids: ['wh-ann'] });
  const ann = await srv.ws('/ws?userId=wh-ann&deviceId=d');
  await ann.next(m => m.type === 'joined');
  const online = await watcher.change('wh-ann', true);
  // The hanging receiver holds its first hook open; presence goes on.
  await eventually(async () => hanging.length >= 1, 5000, 'the hanging receiver got a request');
  await ann.request({ type: 'set_status', status: 'busy' });
  await watcher.next(m => m.type === 'user.status.changed' && m.user_id === 'wh-ann'
                          && m.status === 'busy');
  await ann.close();
  const offline = await watcher.change('wh-ann', false);
  // The good receiver: each hook twice (a 500, then the retry), in order.
  const mine = () => hooks.filter(h => JSON.parse(h.body).userId === 'wh-ann');
  await eventually(async () => mine().length >= 6, 15000, 'three hooks, each retried once');
  const got = mine();
  const events = got.map(h => JSON.parse(h.body).event);
  assert.deepEqual(events, ['user.online', 'user.online', 'user.status', 'user.status',
                            'user.offline', 'user.offline']);
  for (const h of got) {
    assert.equal(h.url, '/hooks/presence');
    assert.equal(h.headers['content-type'], 'application/json');
    const sig = 'sha256=' + crypto.createHmac('sha256', SECRET).update(h.body).digest('hex');
    assert.equal(h.headers['x-presenced-signature'], sig, 'signed with the secret');
    const b = JSON.parse(h.body);
    assert.equal(h.headers['idempotency-key'], `wh-ann:${b.version}`);
    assert.equal(b.idempotencyKey, h.headers['idempotency-key']);
    assert.equal(h.headers['x-presenced-event'], b.event);
  }
  // A retry carries the same key; different changes, different keys.
  assert.equal(got[0].headers['idempotency-key'], got[1].headers['idempotency-key']);
  assert.notEqual(got[0].headers['idempotency-key'], got[2].headers['idempotency-key']);
  assert.equal(JSON.parse(got[0].body).version, online.version);
  const last = JSON.parse(got[5].body);
  assert.equal(last.version, offline.version);
  assert.equal(last.isOnline, false);
  assert.equal(JSON.parse(got[2].body).status, 'busy');
  // Only one request at a time on the hanging endpoint: it is still stuck
  // on the first hook (its timeout has not run out yet or it retries it).
  assert.ok(hanging.length <= 2, `${hanging.length} requests to the hanging receiver`);
  // A receiver that missed hooks catches up from the changes endpoint.
  const since = await srv.get(`/api/presence/changes?since=${online.version - 1}`);
  const ann2 = since.body.changes.find(c => c.user_id === 'wh-ann');
  assert.equal(ann2.is_online, false);
  assert.equal(ann2.version, offline.version);
  // /metrics counts them: 3 delivered, at least the 3 failed first tries,
  // and what waits (the hanging endpoint's three hooks at least).
  const value = async name => {
    const text = await fetch(`${srv.url}/metrics`).then(r => r.text());
    const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
    assert.ok(m, `${name} in /metrics`);
    return Number(m[1]);
  };
  assert.equal(await value('presence_webhooks_sent'), 3);
  assert.ok(await value('presence_webhooks_failed') >= 3);
  assert.equal(await value('presence_webhooks_dropped'), 0);
  assert.ok(await value('presence_webhooks_queued') >= 3, 'the hanging endpoint\'s hooks wait');
  await watcher.close();
});

test('a webhook URL that is not http:// or https://, or a CA file that cannot be read, is refused at start', async () => {
  const bad = new Server({ args: ['--webhook-url', 'ftp://example.com/hook'] });
  await assert.rejects(bad.start(), /webhook-url must be http:\/\/ or https:\/\//);
  await bad.dispose();
  const noCa = new Server({ args: ['--webhook-url', 'https://localhost/hook',
                                   '--webhook-ca', '/nonexistent/ca.pem'] });
  await assert.rejects(noCa.start(), /webhook-ca: cannot load certificate authorities/);
  await noCa.dispose();
});

test('https:// endpoints: hooks go over TLS to a receiver whose certificate checks out, never to one that does not', async () => {
  // A self-signed certificate for "localhost", made for this test.
  const dir = tempDir('presenced-tls-');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
                                     '-nodes', '-keyout', key, '-out', cert, '-days', '1',
                                     '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'],
                         { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const got = [];
  const tls = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
    let body = '';
    req.on('data', c => { body += c; });
    req.on('end', () => { got.push({ headers: req.headers, body }); res.writeHead(204).end(); });
  });
  await new Promise(r => tls.listen(0, '127.0.0.1', r));
  const url = `https://localhost:${tls.address().port}/tls-hooks`;
  // Trusted through --webhook-ca; the same receiver without it is refused
  // (its certificate is nobody's the system trusts).
  const trusting = await new Server({ args: ['--reconnect-grace', '0', '--webhook-url', url,
                                             '--webhook-ca', cert, '--webhook-secret', SECRET] }).start();
  const wary = await new Server({ args: ['--reconnect-grace', '0', '--webhook-url', url] }).start();
  try {
    const a = await trusting.ws('/ws?userId=tls-ann');
    await a.next(m => m.type === 'joined');
    await eventually(() => got.some(h => JSON.parse(h.body).userId === 'tls-ann'), 5000, 'a hook over TLS');
    const h = got.find(x => JSON.parse(x.body).userId === 'tls-ann');
    assert.equal(h.headers['x-presenced-event'], 'user.online');
    assert.equal(h.headers['x-presenced-signature'],
                 'sha256=' + crypto.createHmac('sha256', SECRET).update(h.body).digest('hex'));
    await a.close();
    const b = await wary.ws('/ws?userId=tls-bob');
    await b.next(m => m.type === 'joined');
    const failed = async () => {
      const text = await fetch(`${wary.url}/metrics`).then(r => r.text());
      return Number(text.match(/^presence_webhooks_failed (\S+)$/m)?.[1] ?? 0);
    };
    await eventually(async () => (await failed()) >= 1, 5000, 'the untrusted receiver refused');
    assert.equal(got.some(x => JSON.parse(x.body).userId === 'tls-bob'), false);
    await b.close();
  } finally {
    await trusting.dispose();
    await wary.dispose();
    tls.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('at shutdown the last changes get a moment to go out; what cannot is said in the log', async () => {
  const held = [];   // requests the stuck receiver holds
  const stuck = await listen(req => { held.push(req); });
  const s = await new Server({ args: [
    '--reconnect-grace', '0',
    '--webhook-url', `http://127.0.0.1:${stuck.address().port}/`,
  ] }).start();
  try {
    const c = await s.ws('/ws?userId=wh-last&deviceId=d');
    await c.next(m => m.type === 'joined');
    await eventually(async () => held.length >= 1, 5000, 'the first hook in flight');
    const started = Date.now();
    await s.stop();
    // Online (in flight) and offline (at shutdown) never went out.
    assert.match(s.output, /\d+ webhooks not sent at shutdown/);
    assert.ok(Date.now() - started < 10000, 'the wait is bounded');
  } finally {
    for (const r of held) r.socket.destroy();
    stuck.close();
    await s.dispose();
  }
});
