// JWT mode with public keys: RS256 from a PEM file, ES256 from a JWKS file
// chosen by kid, iss / aud checks, key rotation with SIGHUP, and the start
// refusing bad key files.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server, eventually, signJwt, tempDir } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

const ISS = 'https://auth.e2e.test/';
const AUD = 'presenced';
const now = () => Math.floor(Date.now() / 1000);
const b64 = obj => Buffer.from(JSON.stringify(obj)).toString('base64url');

/** A JWT signed with an RSA (RS256) or EC P-256 (ES256) private key. */
function signWith(privateKey, alg, payload, kid) {
  const header = { alg, typ: 'JWT', ...(kid ? { kid } : {}) };
  const data = `${b64(header)}.${b64(payload)}`;
  const sig = cryptoSign('sha256', Buffer.from(data),
    alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey);
  return `${data}.${sig.toString('base64url')}`;
}

const claims = (sub, extra = {}) => ({ sub, iss: ISS, aud: [AUD, 'other'], exp: now() + 300, ...extra });
const bearer = t => ({ Authorization: `Bearer ${t}` });

const dir = tempDir('presenced-keys-');
const pemFile = join(dir, 'rsa.pem');
const jwksFile = join(dir, 'jwks.json');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = (pair, kid) => ({ ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'ES256' });
let srv;

before(async () => {
  writeFileSync(pemFile, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk(ec1, 'ec-1'), { kty: 'OKP', crv: 'Ed25519', x: 'AAAA', kid: 'ed' }] }));
  srv = await new Server({
    args: ['--jwt-public-key', pemFile, '--jwt-jwks', jwksFile,
           '--jwt-issuer', ISS, '--jwt-audience', AUD],
  }).start();
});

after(async () => {
  await srv.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test('RS256 and ES256 tokens identify clients on every protocol', async () => {
  // The log line may reach the pipe after the port file appeared.
  await eventually(() => /JWT keys: 1 RSA key, 1 EC key, iss https:\/\/auth\.e2e\.test\/, aud presenced/.test(srv.output),
                   5000, 'the keys logged at start');
  const rs = signWith(rsa.privateKey, 'RS256', claims('rs-ann'));
  const es = signWith(ec1.privateKey, 'ES256', claims('es-bob'), 'ec-1');

  const a = await srv.ws(`/ws?token=${rs}`);
  assert.equal((await a.next(m => m.type === 'joined')).user_id, 'rs-ann');
  const b = await srv.ws('/ws', { headers: bearer(es) });
  assert.equal((await b.next(m => m.type === 'joined')).user_id, 'es-bob');

  // REST: the token is required and decides who writes.
  assert.equal((await srv.get('/api/users/online/')).status, 401);
  const online = await srv.get('/api/users/online/', { headers: bearer(es) });
  assert.equal(online.status, 200);
  const ls = await srv.http('PUT', '/api/user-status/last-seen', { headers: bearer(rs) });
  assert.equal(ls.status, 200);
  assert.equal(ls.body.data.userId, 'rs-ann');

  // Socket.IO: a token at CONNECT identifies the socket.
  const s = await sioConnect(srv.url, { path: '/api/socketio', transports: ['websocket'],
                                        auth: { token: es } });
  const check = await s.ask('check_user_online', { userId: 'rs-ann' });
  assert.deepEqual(check, { success: true, data: { userId: 'rs-ann', online: true } });
  s.close();
  await a.close();
  await b.close();
});

test('tokens of the wrong issuer, audience, key, kid or algorithm get 401', async () => {
  const pemText = rsa.publicKey.export({ type: 'spki', format: 'pem' });
  const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cases = [
    [signWith(rsa.privateKey, 'RS256', claims('x', { iss: 'https://evil/' })), /issuer/],
    [signWith(rsa.privateKey, 'RS256', claims('x', { aud: 'someone-else' })), /audience/],
    [signWith(stranger.privateKey, 'ES256', claims('x'), 'ec-1'), /signature/],
    [signWith(ec1.privateKey, 'ES256', claims('x'), 'ec-9'), /kid ec-9/],
    // The public key's PEM used as an HMAC secret: HS256 has no secret here.
    [await signJwt(claims('x'), pemText), /HS256 tokens are not accepted/],
    [await signJwt(claims('x'), 'c2VjcmV0', { alg: 'HS256', kid: 'ec-1' }), /HS256 tokens are not accepted/],
    [signWith(rsa.privateKey, 'RS256', claims('x')).replace(/^[^.]+/, b64({ alg: 'RS256', typ: 'at+jwt' })), /typ\) at\+jwt/],
    [await signJwt(claims('x'), '', { alg: 'none' }), /must be signed with RS256/],
    [signWith(rsa.privateKey, 'RS256', claims('x', { exp: now() - 3600 })), /expired/],
  ];
  for (const [token, why] of cases) {
    const r = await srv.get('/api/users/online/', { headers: bearer(token) });
    assert.equal(r.status, 401, token);
    assert.match(r.body.message, why);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer');
    await assert.rejects(srv.ws(`/ws?token=${token}`), e => e.status === 401);
  }
});

test('SIGHUP rereads the key files; a bad file keeps the keys in use', async () => {
  const old = signWith(ec1.privateKey, 'ES256', claims('rot-old'), 'ec-1');
  const fresh = signWith(ec2.privateKey, 'ES256', claims('rot-new'), 'ec-2');
  assert.equal((await srv.get('/api/users/online/', { headers: bearer(fresh) })).status, 401);
  // A session joined with the old key goes on after the rotation (until
  // its token expires).
  const held = await srv.ws(`/ws?token=${old}`);
  await held.next(m => m.type === 'joined');

  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk(ec2, 'ec-2')] }));
  srv.proc.kill('SIGHUP');
  await eventually(async () => (await srv.get('/api/users/online/', { headers: bearer(fresh) })).status === 200,
                   5000, 'the new key to be accepted');
  assert.equal((await srv.get('/api/users/online/', { headers: bearer(old) })).status, 401);
  await eventually(() => /SIGHUP: reloaded; JWT keys: 1 RSA key, 1 EC key/.test(srv.output), 5000, 'the reload logged');
  const pong = await held.request({ type: 'ping' });
  assert.equal(pong.type, 'pong');

  // A broken file: the log says so, the keys in use stay.
  writeFileSync(jwksFile, '{"keys": [');
  srv.proc.kill('SIGHUP');
  await eventually(() => /SIGHUP: JWT keys: .*jwks\.json is not JSON \(what failed stays as it was\)/.test(srv.output),
                   5000, 'the reload error in the log');
  assert.equal((await srv.get('/api/users/online/', { headers: bearer(fresh) })).status, 200);
  await held.close();
});

test('the server does not start with key files it cannot use', async () => {
  const priv = join(dir, 'private.pem');
  writeFileSync(priv, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const empty = join(dir, 'empty.json');
  writeFileSync(empty, JSON.stringify({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }] }));
  const signing = join(dir, 'signing.json');
  writeFileSync(signing, JSON.stringify({ keys: [ec1.privateKey.export({ format: 'jwk' })] }));
  const cut = join(dir, 'cut.pem');
  const two = rsa.publicKey.export({ type: 'spki', format: 'pem' }) + ec1.publicKey.export({ type: 'spki', format: 'pem' });
  writeFileSync(cut, two.slice(0, two.length - 40));
  for (const [args, why] of [
    [['--jwt-public-key', priv], /PRIVATE KEY.*-pubout/],
    [['--jwt-public-key', join(dir, 'missing.pem')], /cannot read .*missing\.pem/],
    [['--jwt-jwks', empty], /holds no RSA or EC signing key/],
    [['--jwt-jwks', signing], /holds private key material \("d"\)/],
    [['--jwt-public-key', cut], /PEM block 2 is broken/],
    [['--jwt-jwks', pemFile], /is not JSON/],
  ]) {
    const bad = new Server({ args });
    await assert.rejects(bad.start(), e => {
      assert.match(e.message, /exited early \(1\)/);
      assert.match(e.message, why);
      return true;
    });
    await bad.dispose();
  }
});
