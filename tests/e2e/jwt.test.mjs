// JWT mode: with --jwt-secret the token decides who a client is.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, eventually, signJwt } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

const SECRET = 'e2e-secret-please-rotate';
let srv;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  srv = await new Server({ env: { PRESENCE_JWT_SECRET: SECRET } }).start();
});

after(async () => { await srv.dispose(); });

test('a valid token joins as its subject (query, header, numeric claim)', async () => {
  const t1 = await signJwt({ sub: 'jwt-ann', exp: now() + 60 }, SECRET);
  const a = await srv.ws(`/ws?token=${t1}`);
  const ja = await a.next(m => m.type === 'joined');
  assert.equal(ja.user_id, 'jwt-ann');

  const t2 = await signJwt({ user_id: 42, exp: now() + 60 }, SECRET);  // Django simplejwt style
  const b = await srv.ws('/ws', { headers: { Authorization: `Bearer ${t2}` } });
  assert.equal((await b.next(m => m.type === 'joined')).user_id, '42');

  // The Authorization header wins over ?token= (as for REST).
  const viaHeader = await srv.ws('/ws?token=not.a.token', { headers: { Authorization: `Bearer ${t1}` } });
  assert.equal((await viaHeader.next(m => m.type === 'joined')).user_id, 'jwt-ann');
  await viaHeader.close();

  const t3 = await signJwt({ userId: 'jwt-cy' }, SECRET);  // no exp: accepted
  const c = await srv.ws(`/ws/user-status/?token=${t3}`);
  assert.equal((await c.next(m => m.type === 'joined')).user_id, 'jwt-cy');
  // Joining as someone else by frame is refused.
  const other = await c.request({ type: 'join', user_id: 'jwt-ann' });
  assert.equal(other.code, 'forbidden');
  for (const x of [a, b, c]) await x.close();
});

test('missing, forged, expired and alg=none tokens are refused with 401', async () => {
  const cases = [
    ['/ws', 'missing_token'],
    [`/ws?token=${await signJwt({ sub: 'x', exp: now() + 60 }, 'wrong-secret')}`, 'invalid_token'],
    [`/ws?token=${await signJwt({ sub: 'x', exp: now() - 3600 }, SECRET)}`, 'token_expired'],
    [`/ws?token=${await signJwt({ sub: 'x' }, SECRET, { alg: 'none', typ: 'JWT' })}`, 'invalid_token'],
    [`/ws?token=${await signJwt({ sub: 'x' }, SECRET, { alg: 'HS512', typ: 'JWT' })}`, 'invalid_token'],
    [`/ws?token=${await signJwt({ name: 'no subject' }, SECRET)}`, 'invalid_user_id'],
    ['/ws?token=not.a.jwt', 'invalid_token'],
  ];
  for (const [path, code] of cases) {
    await assert.rejects(srv.ws(path), e => {
      assert.equal(e.status, 401, path);
      assert.equal(e.body.code, code, path);
      return true;
    });
  }
  // Naming a different user than the token's is forbidden.
  const t = await signJwt({ sub: 'jwt-dee' }, SECRET);
  await assert.rejects(srv.ws(`/ws?token=${t}&userId=jwt-eve`), e => e.status === 403);
});

test('REST: writes and seed 003 need a bearer token', async () => {
  const t = await signJwt({ sub: 'jwt-fay', exp: now() + 60 }, SECRET);
  const auth = { Authorization: `Bearer ${t}` };
  assert.equal((await srv.http('PUT', '/api/user-status/last-seen')).status, 401);
  const ls = await srv.http('PUT', '/api/user-status/last-seen', { headers: auth });
  assert.equal(ls.status, 200);
  assert.equal(ls.body.data.userId, 'jwt-fay');
  // Dev-mode identity headers mean nothing here.
  const spoof = await srv.http('PUT', '/api/user-status/last-seen',
                               { headers: { 'X-User-Id': 'jwt-fay' } });
  assert.equal(spoof.status, 401);
  assert.equal((await srv.get('/api/users/online/')).status, 401);
  assert.equal((await srv.get('/api/users/online/', { headers: auth })).status, 200);
  const mine = await srv.http('PUT', '/api/users/jwt-fay/profile',
                              { headers: auth, body: { name: 'Fay' } });
  assert.equal(mine.status, 200);
  const theirs = await srv.http('PUT', '/api/users/jwt-gus/profile',
                                { headers: auth, body: { name: 'Not Gus' } });
  assert.equal(theirs.status, 403);
});

test('REST in JWT mode: every endpoint but /, /api, /healthz and /readyz needs a bearer token; ops need an admin', async () => {
  const user = { Authorization: `Bearer ${await signJwt({ sub: 'jwt-hal', exp: now() + 60 }, SECRET)}` };
  const admin = { Authorization: `Bearer ${await signJwt({ sub: 'jwt-ops', admin: true }, SECRET)}` };
  const reads = ['/api/online-users', '/api/user-status/online', '/api/user-status/online/count',
                 '/api/user-status/jwt-hal', '/api/users/online/', '/api/users/jwt-hal/status',
                 '/api/users/jwt-hal/profile', '/api/users/jwt-hal/history',
                 '/api/presence/changes?since=0'];
  for (const path of reads) {
    const anon = await srv.get(path);
    assert.equal(anon.status, 401, path);
    assert.equal(anon.body.code, 'missing_token', path);
    assert.equal(anon.headers.get('www-authenticate'), 'Bearer', path);
    const forged = await srv.get(path, { headers: { Authorization: 'Bearer not.a.jwt' } });
    assert.equal(forged.status, 401, path);
    assert.equal(forged.body.code, 'invalid_token', path);
    const ok = await srv.get(path, { headers: user });
    assert.notEqual(ok.status, 401, path);
    assert.notEqual(ok.status, 403, path);
  }
  const batch = await srv.http('POST', '/api/user-status/batch', { body: { userIds: ['jwt-hal'] } });
  assert.equal(batch.status, 401);
  for (const path of ['/', '/api', '/healthz', '/readyz'])
    assert.equal((await srv.get(path)).status, 200, path);
  // Operations: an admin token only.
  for (const path of ['/metrics', '/api/cluster']) {
    assert.equal((await srv.get(path)).status, 401, path);
    const plain = await srv.get(path, { headers: user });
    assert.equal(plain.status, 403, path);
    assert.equal(plain.body.code, 'forbidden', path);
    assert.equal((await srv.get(path, { headers: admin })).status, 200, path);
  }
  // Writes on behalf of others: an admin may.
  const other = await srv.http('PUT', '/api/users/jwt-ivo/profile',
                               { headers: admin, body: { name: 'Ivo' } });
  assert.equal(other.status, 200);
  assert.equal((await srv.get('/api/users/jwt-ivo/profile', { headers: user })).body.data.name, 'Ivo');
});

test('--metrics-auth open: Prometheus scrapes without a token', async () => {
  const own = new Server({ env: { PRESENCE_JWT_SECRET: SECRET }, args: ['--metrics-auth', 'open'] });
  await own.start();
  try {
    const m = await own.get('/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /presence_/);
    assert.equal((await own.get('/api/cluster')).status, 401);
  } finally {
    await own.dispose();
  }
});

test('--global-feed admin: only an admin token follows everyone; by id stays open', async () => {
  const own = new Server({ env: { PRESENCE_JWT_SECRET: SECRET },
                           args: ['--global-feed', 'admin', '--admin-claim', 'staff'] });
  await own.start();
  try {
    const plain = await signJwt({ sub: 'gf-ann', exp: now() + 60 }, SECRET);
    const staff = await signJwt({ sub: 'gf-boss', staff: true, exp: now() + 60 }, SECRET);
    const role = await signJwt({ sub: 'gf-ops', roles: ['viewer', 'staff'], exp: now() + 60 }, SECRET);
    const wrong = await signJwt({ sub: 'gf-eve', staff: 'yes', admin: true, exp: now() + 60 }, SECRET);
    // Seed 003's path is the global feed: refused at the upgrade without
    // the claim.
    for (const t of [plain, wrong])
      await assert.rejects(own.ws(`/ws/user-status/?token=${t}`), e => {
        assert.equal(e.status, 403);
        assert.equal(e.body.code, 'forbidden');
        return true;
      });
    // The same user may follow others by id, not everyone.
    const ann = await own.ws(`/ws?token=${plain}&subscribe=none`);
    await ann.next(m => m.type === 'joined');
    const g = await ann.request({ type: 'subscribe', global: true });
    assert.deepEqual([g.type, g.code], ['error', 'forbidden']);
    const byId = await ann.request({ type: 'subscribe', user_ids: ['gf-boss'] });
    assert.equal(byId.type, 'subscribed');
    // An admin (the claim true, or named in roles) follows everyone.
    const boss = await own.ws(`/ws/user-status/?token=${staff}`);
    await boss.next(m => m.type === 'joined');
    const ops = await own.ws(`/ws?token=${role}&subscribe=none`);
    await ops.next(m => m.type === 'joined');
    assert.equal((await ops.request({ type: 'subscribe', global: true })).type, 'subscribed');
    const cy = await own.ws(`/ws?token=${await signJwt({ sub: 'gf-cy' }, SECRET)}&subscribe=none`);
    await cy.next(m => m.type === 'joined');
    await boss.change('gf-cy', true);
    await ops.change('gf-cy', true);
    for (const c of [ann, boss, ops, cy]) await c.close();
  } finally {
    await own.dispose();
  }
});

test('Socket.IO in JWT mode: a socket reads presence only once it identified with a token', async () => {
  const t = await signJwt({ sub: 'jwt-sio', exp: now() + 60 }, SECRET);
  for (const transports of [['polling'], ['websocket']]) {
    const c = await sioConnect(srv.url, { path: '/api/socketio', transports });
    const list = await c.ask('get_online_users');
    assert.equal(list.success, false);
    assert.match(JSON.stringify(list), /identify first/);
    const check = await c.ask('check_user_online', 'jwt-fay');
    assert.equal(check.success, false, JSON.stringify(check));
    assert.equal(c.has('user_online_status'), false);
    const s2 = await c.ask('get-online-users');
    assert.equal(s2.success, false);
    // join_user with the token: then it may.
    assert.equal((await c.ask('join_user', { userId: 'jwt-sio', token: t })).success, true);
    assert.equal((await c.ask('get_online_users')).success, true);
    const ok = await c.ask('check_user_online', 'jwt-sio');
    assert.equal(ok.success, true, JSON.stringify(ok));
    assert.equal(ok.data.userId, 'jwt-sio');
    c.close();
  }
  // A token at CONNECT identifies the socket at once.
  const d = await sioConnect(srv.url, { path: '/api/socketio', transports: ['websocket'],
                                        auth: { token: t } });
  assert.equal((await d.ask('get_online_users')).success, true);
  d.close();
});

test('--global-feed admin also keeps GET /api/presence/changes to admins', async () => {
  const own = new Server({ env: { PRESENCE_JWT_SECRET: SECRET }, args: ['--global-feed', 'admin'] });
  await own.start();
  try {
    const plain = { Authorization: `Bearer ${await signJwt({ sub: 'ch-ann' }, SECRET)}` };
    const admin = { Authorization: `Bearer ${await signJwt({ sub: 'ch-ops', admin: true }, SECRET)}` };
    const since = Date.now();
    const r = await own.get(`/api/presence/changes?since=${since}`, { headers: plain });
    assert.equal(r.status, 403);
    assert.equal(r.body.code, 'forbidden');
    assert.notEqual((await own.get(`/api/presence/changes?since=${since}`, { headers: admin })).status, 403);
  } finally {
    await own.dispose();
  }
});

test('a native session ends when its token expires (close 4003) unless a refresh brings a fresh one first', async () => {
  const ms = Date.now();
  // exp is in whole seconds: tokens that end 2-3 s from now.
  const soon = Math.floor(ms / 1000) + 3;
  const watcher = await srv.ws(`/ws?token=${await signJwt({ sub: 'exp-watch', exp: now() + 60 }, SECRET)}&subscribe=none`);
  await watcher.next(m => m.type === 'joined');
  await watcher.request({ type: 'subscribe', user_ids: ['exp-ann', 'exp-bob'] });

  const ann = await srv.ws(`/ws?token=${await signJwt({ sub: 'exp-ann', exp: soon }, SECRET)}`);
  await ann.next(m => m.type === 'joined');
  const bob = await srv.ws(`/ws?token=${await signJwt({ sub: 'exp-bob', exp: soon }, SECRET)}`);
  await bob.next(m => m.type === 'joined');

  // Refreshes that do not count: another user's token, a forged one, none
  // in the frame; the session goes on meanwhile.
  const other = await bob.request({ type: 'refresh', token: await signJwt({ sub: 'exp-ann', exp: now() + 60 }, SECRET) });
  assert.equal(other.code, 'forbidden');
  const forged = await bob.request({ type: 'refresh', token: await signJwt({ sub: 'exp-bob', exp: now() + 60 }, 'wrong') });
  assert.equal(forged.code, 'invalid_token');
  const empty = await bob.request({ type: 'refresh' });
  assert.equal(empty.code, 'bad_request');
  // Bob refreshes in time.
  const fresh = now() + 60;
  const r = await bob.request({ type: 'refresh', token: await signJwt({ sub: 'exp-bob', exp: fresh }, SECRET) });
  assert.equal(r.type, 'refreshed');
  assert.equal(r.expires_at_ms, fresh * 1000);

  // Ann's token runs out: an error frame, then close 4003; she goes offline.
  const err = await ann.next(m => m.type === 'error' && m.code === 'token_expired', 6000);
  assert.match(err.message, /refresh/);
  const closed = await ann.closed;
  assert.equal(closed.code, 4003);
  assert.equal(closed.reason, 'token expired');
  const gone = await watcher.change('exp-ann', false, 5000);
  assert.ok(gone.version > 0);
  // Bob is still there past the old expiry.
  assert.ok(Date.now() > soon * 1000);
  const pong = await bob.request({ type: 'ping' });
  assert.equal(pong.type, 'pong');
  assert.equal(watcher.has(m => m.type === 'user.status.changed' && m.user_id === 'exp-bob'
                                && m.is_online === false), false);
  for (const c of [bob, watcher]) await c.close();
});

test('a Socket.IO session ends when its token expires (token_expired, then a server disconnect) unless refresh_token comes first', async () => {
  const soon = now() + 3;
  const ws = { transports: ['websocket'] };
  // Seed 004 connects with the token (CONNECT auth); seed 000 with it too.
  const ann = await sioConnect(`${srv.url}/ws/messages`, { auth: { token: await signJwt({ sub: 'exp-sio-ann', exp: soon }, SECRET) }, ...ws });
  await ann.next('user-online', x => x.userId === 'exp-sio-ann');
  const reasons = [];
  ann.socket.on('disconnect', r => reasons.push(r));
  const bob = await sioConnect(srv.url, { path: '/api/socketio', auth: { token: await signJwt({ sub: 'exp-sio-bob', exp: soon }, SECRET) }, ...ws });
  assert.equal((await bob.ask('join_user', 'exp-sio-bob')).success, true);

  // Refreshes that do not count; then Bob's that does.
  const other = await bob.ask('refresh_token', { token: await signJwt({ sub: 'exp-sio-ann', exp: now() + 60 }, SECRET) });
  assert.equal(other.success, false);
  const forged = await bob.ask('refresh_token', { token: await signJwt({ sub: 'exp-sio-bob', exp: now() + 60 }, 'wrong') });
  assert.equal(forged.success, false);
  const fresh = now() + 60;
  const r = await bob.ask('refresh_token', await signJwt({ sub: 'exp-sio-bob', exp: fresh }, SECRET));
  assert.equal(r.success, true, JSON.stringify(r));
  assert.equal(Date.parse(r.data.expiresAt), fresh * 1000);

  // Ann's runs out: the event, then the server disconnects her socket.
  const why = await ann.next('token_expired', () => true, 6000);
  assert.equal(why.code, 'token_expired');
  await eventually(() => reasons.length > 0, 3000, 'the disconnect');
  // Disconnected by the server: socket.io-client does not reconnect by itself.
  assert.equal(reasons[0], 'io server disconnect');
  // Bob is still connected past the old expiry, and answered.
  assert.ok(Date.now() > soon * 1000);
  assert.equal(bob.socket.connected, true);
  assert.equal((await bob.ask('ping')).success, true);
  bob.close();
});
