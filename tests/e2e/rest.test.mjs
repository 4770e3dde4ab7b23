// REST endpoints with the seeds' shapes, field by field, plus profiles,
// history, health and metrics.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, eventually } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

let srv;
const clients = [];

const keys = obj => Object.keys(obj).sort();

before(async () => {
  srv = await new Server({ args: ['--reconnect-grace', '0'] }).start();
  const put = await srv.http('PUT', '/api/users/u-ann/profile', {
    body: { name: 'Ann Example', username: 'ann', email: 'ann@example.com',
            avatar: '/uploads/profiles/ann.jpg' },
  });
  assert.equal(put.status, 200);
  for (const u of ['u-ann', 'u-ben']) {
    const c = await srv.ws(`/ws?userId=${u}`);
    await c.next(m => m.type === 'joined');
    clients.push(c);
  }
});

after(async () => {
  for (const c of clients) await c.close();
  await srv.dispose();
});

test('seed 000: GET /api/online-users', async () => {
  const r = await srv.get('/api/online-users');
  assert.equal(r.status, 200);
  assert.deepEqual(keys(r.body), ['count', 'data', 'success', 'timestamp']);
  assert.equal(r.body.success, true);
  assert.equal(r.body.count, r.body.data.length);
  assert.ok(!Number.isNaN(Date.parse(r.body.timestamp)));
  assert.match(r.body.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const ann = r.body.data.find(u => u.id === 'u-ann');
  assert.deepEqual(keys(ann), ['avatar', 'email', 'id', 'name', 'status', 'username']);
  assert.deepEqual(ann, { id: 'u-ann', name: 'Ann Example', username: 'ann',
                          email: 'ann@example.com', avatar: '/uploads/profiles/ann.jpg',
                          status: 'online' });
  // No profile stored: the id stands in for the names.
  const ben = r.body.data.find(u => u.id === 'u-ben');
  assert.equal(ben.username, 'u-ben');
  assert.equal(ben.status, 'online');

  const ex = await srv.get('/api/online-users?excludeUserId=u-ann');
  assert.ok(!ex.body.data.some(u => u.id === 'u-ann'));
  assert.equal(ex.body.count, r.body.count - 1);

  const co = await srv.get('/api/online-users?countOnly=true');
  assert.deepEqual(keys(co.body), ['count', 'success', 'timestamp']);
  assert.equal(co.body.count, 2);
});

test('seed 002: /api/user-status/*', async () => {
  const online = await srv.get('/api/user-status/online');
  assert.equal(online.status, 200);
  assert.equal(online.body.success, true);
  assert.equal(online.body.count, 2);
  const ann = online.body.data.find(u => u.userId === 'u-ann');
  assert.deepEqual(keys(ann), ['_id', 'avatar', 'isOnline', 'lastSeen', 'name',
                               'status', 'userId', 'username']);
  assert.equal(ann.isOnline, true);

  const count = await srv.get('/api/user-status/online/count');
  assert.equal(count.body.success, true);
  assert.equal(count.body.data.count, 2);
  assert.equal(count.body.count, 2);

  const one = await srv.get('/api/user-status/u-ben');
  assert.equal(one.body.success, true);
  assert.deepEqual(keys(one.body.data), ['devices', 'isOnline', 'lastSeen', 'status',
                                         'userId', 'version']);
  assert.equal(one.body.data.isOnline, true);
  assert.equal(one.body.data.devices, 1);

  const batch = await srv.http('POST', '/api/user-status/batch',
                               { body: { userIds: ['u-ann', 'u-nobody'] } });
  assert.equal(batch.status, 200);
  assert.deepEqual(batch.body.data.map(s => [s.userId, s.isOnline]),
                   [['u-ann', true], ['u-nobody', false]]);
  assert.equal(batch.body.data[1].lastSeen, null);

  // Dev mode: the caller names itself.
  const before = Date.now();
  const ls = await srv.http('PUT', '/api/user-status/last-seen',
                            { body: { userId: 'u-offline' } });
  assert.equal(ls.status, 200);
  assert.equal(ls.body.data.userId, 'u-offline');
  assert.ok(Date.parse(ls.body.data.lastSeen) >= before - 5);
  const numeric = await srv.http('PUT', '/api/user-status/last-seen', { body: { userId: 12345 } });
  assert.equal(numeric.status, 200);
  assert.equal(numeric.body.data.userId, '12345');
  const anon = await srv.http('PUT', '/api/user-status/last-seen', { body: {} });
  assert.equal(anon.status, 401);
  assert.equal(anon.body.code, 'unauthorized');
});

test('seed 003: GET /api/users/online/ excludes the requester', async () => {
  const r = await srv.get('/api/users/online/', { headers: { 'X-User-Id': 'u-ben' } });
  assert.equal(r.status, 200);
  assert.ok(Array.isArray(r.body));
  assert.deepEqual(r.body.map(u => u.id), ['u-ann']);
  assert.deepEqual(keys(r.body[0]), ['id', 'is_online', 'last_activity', 'last_seen',
                                     'profile_image_url', 'username']);
  assert.equal(r.body[0].username, 'ann');
  assert.equal(r.body[0].profile_image_url, '/uploads/profiles/ann.jpg');
  assert.equal(r.body[0].is_online, true);
  // Paging: the bare array stays; the next page is named in a header.
  const p1 = await srv.get('/api/users/online/?limit=1');
  assert.equal(p1.body.length, 1);
  const next = p1.headers.get('x-next-cursor');
  assert.equal(next, p1.body[0].id);
  const p2 = await srv.get(`/api/users/online/?limit=1&cursor=${next}`);
  assert.notEqual(p2.body[0].id, p1.body[0].id);
  assert.equal(p2.headers.get('x-next-cursor'), null);
});

test('profiles: partial update, validation, 404', async () => {
  const r = await srv.http('PUT', '/api/users/u-cat/profile', { body: { name: 'Cat' } });
  assert.equal(r.status, 200);
  const r2 = await srv.http('PUT', '/api/users/u-cat/profile', { body: { email: 'c@x.io' } });
  assert.deepEqual(r2.body.data, { id: 'u-cat', name: 'Cat', username: '', email: 'c@x.io',
                                   avatar: null });
  const g = await srv.get('/api/users/u-cat/profile');
  assert.deepEqual(g.body.data, r2.body.data);
  assert.equal((await srv.get('/api/users/u-none/profile')).status, 404);
  const bad = await srv.http('PUT', '/api/users/u-cat/profile', { body: { name: 42 } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'bad_request');
  const junk = await srv.http('PUT', '/api/users/u-cat/profile', { body: '{nope' });
  assert.equal(junk.status, 400);
  assert.equal(junk.body.code, 'bad_json');
});

test('history lists sessions newest first, the open one included', async () => {
  const watcher = clients[0];
  await watcher.request({ type: 'subscribe', user_ids: ['u-hist'] });
  const c = await srv.ws('/ws?userId=u-hist');
  await c.next(m => m.type === 'joined');
  await c.close();
  await watcher.change('u-hist', false);
  const c2 = await srv.ws('/ws?userId=u-hist');
  await c2.next(m => m.type === 'joined');
  const h = await srv.get('/api/users/u-hist/history?limit=5');
  assert.equal(h.status, 200);
  assert.equal(h.body.data.length, 2);
  assert.equal(h.body.data[0].open, true);
  assert.equal(h.body.data[0].end, null);
  assert.equal(h.body.data[1].open, false);
  assert.ok(h.body.data[1].end_ms >= h.body.data[1].start_ms);
  assert.equal(h.body.data[1].duration_ms, h.body.data[1].end_ms - h.body.data[1].start_ms);
  assert.equal((await srv.get('/api/users/u-hist/history?limit=0')).status, 400);
  await c2.close();
});

test('health, readiness, metrics, errors', async () => {
  assert.deepEqual((await srv.get('/healthz')).body, { status: 'ok' });
  assert.deepEqual((await srv.get('/readyz')).body, { status: 'ready' });
  const m = await srv.get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type'), /text\/plain/);
  assert.match(m.text, /presence_online_users \d+/);
  assert.match(m.text, /presence_ws_sessions \d+/);
  const nf = await srv.get('/api/nothing-here');
  assert.equal(nf.status, 404);
  assert.deepEqual(keys(nf.body), ['code', 'message', 'success']);
  assert.equal(nf.body.success, false);
  const bad = await srv.get('/api/user-status/bad%20id');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'invalid_id');
  const method = await srv.http('DELETE', '/api/user-status/online');
  assert.equal(method.status, 405);
  assert.equal(method.headers.get('allow'), 'GET');
  const pm = await srv.http('DELETE', '/api/users/u-ann/profile');
  assert.equal(pm.status, 405);
  assert.equal(pm.headers.get('allow'), 'GET, PUT');
  const cors = await srv.http('OPTIONS', '/api/online-users');
  assert.equal(cors.status, 204);
  assert.equal(cors.headers.get('access-control-allow-origin'), '*');
});

/** The value of series `series` (name and labels, as printed) in /metrics. */
const metric = series => srv.metric(series);

test('metrics: sessions by dialect, the cluster view, delivery and store histograms', async () => {
  const native = 'presence_sessions{dialect="native"}';
  const seed000 = 'presence_sessions{dialect="seed000"}';
  const seed004 = 'presence_sessions{dialect="seed004"}';
  const [n0, s0, f0] = [await metric(native), await metric(seed000), await metric(seed004)];
  // A native session counts from its upgrade to its close.
  const c = await srv.ws('/ws?userId=u-metrics');
  await c.next(m => m.type === 'joined');
  await eventually(async () => await metric(native) === n0 + 1, 5000, 'native session counted');
  // A Socket.IO namespace counts once its dialect is known: seed 000's
  // join_user, seed 004's namespace at connect.
  const a = await sioConnect(srv.url, { path: '/api/socketio', transports: ['websocket'] });
  assert.equal(await metric(seed000), s0);
  a.emit('join_user', 'u-metrics-sio');
  await a.next('online_users_list');
  assert.equal(await metric(seed000), s0 + 1);
  a.emit('join_user', 'u-metrics-sio'); // again: still one socket
  await a.next('online_users_list');
  assert.equal(await metric(seed000), s0 + 1);
  const f = await sioConnect(`${srv.url}/ws/messages`,
                             { path: '/api/socketio', transports: ['websocket'], auth: { userId: 'u-metrics-f' } });
  await eventually(async () => await metric(seed004) === f0 + 1, 5000, 'seed 004 socket counted');
  await c.close();
  a.close();
  f.close();
  await eventually(async () => await metric(native) === n0 && await metric(seed000) === s0
                             && await metric(seed004) === f0, 5000, 'closed sessions uncounted');
  // One node: itself, alive; no view change yet.
  assert.equal(await metric('presence_cluster_members{state="alive"}'), 1);
  assert.equal(await metric('presence_cluster_members{state="dead"}'), 0);
  assert.ok(await metric('presence_ring_version') >= 0);
  // Every change went through the fan-out and every join wrote the store:
  // both histograms counted them (bucket counts add up to _count).
  const text = (await srv.get('/metrics')).text;
  for (const h of ['presence_delivery_delay_seconds', 'presence_store_write_seconds']) {
    const count = Number(new RegExp(`^${h}_count (\\S+)$`, 'm').exec(text)[1]);
    assert.ok(count > 0, `${h} observed something`);
    const inf = Number(new RegExp(`^${h}_bucket\\{le="\\+Inf"\\} (\\S+)$`, 'm').exec(text)[1]);
    assert.equal(inf, count, `${h}: +Inf bucket = count`);
  }
});
