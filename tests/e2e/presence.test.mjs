// Presence over the native WebSocket protocol, against a real presenced.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, eventually } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

let srv;

before(async () => {
  // Short TTL so expiry is observable; grace 0 so leaves are immediate.
  srv = await new Server({
    args: ['--heartbeat-ttl', '2', '--reconnect-grace', '0', '--coalesce-window', '20'],
  }).start();
});

after(async () => { await srv.dispose(); });

test('two users see each other join and leave', async () => {
  const alice = await srv.ws('/ws/user-status/?userId=alice2u');
  await alice.next(m => m.type === 'joined');
  const bob = await srv.ws('/ws/user-status/?userId=bob2u');
  await bob.next(m => m.type === 'joined');
  // Each one's global feed carries the other's arrival.
  const bobSeen = await alice.change('bob2u', true);
  assert.equal(bobSeen.status, 'online');
  assert.equal(typeof bobSeen.version, 'number');
  // Alice joined before Bob subscribed: Bob asks for her status instead.
  const st = await bob.request({ type: 'get_status', user_id: 'alice2u' });
  assert.equal(st.type, 'status');
  assert.equal(st.user.is_online, true);
  await bob.close();
  const gone = await alice.change('bob2u', false);
  assert.equal(gone.status, 'offline');
  assert.ok(Date.parse(gone.last_seen) > 0, 'last_seen is an ISO timestamp');
  assert.ok(gone.version > bobSeen.version, 'versions grow');
  await alice.close();
});

test('a user with two devices stays online until the second closes', async () => {
  const watcher = await srv.ws('/ws?subscribe=none');
  await watcher.request({ type: 'subscribe', user_ids: ['carol2d'] });
  const phone = await srv.ws('/ws?userId=carol2d&deviceId=phone');
  await phone.next(m => m.type === 'joined');
  const laptop = await srv.ws('/ws?userId=carol2d&deviceId=laptop');
  const joined = await laptop.next(m => m.type === 'joined');
  assert.equal(joined.user.devices.length, 2);
  await watcher.change('carol2d', true);
  await phone.close();
  // The server learns of the close a moment after the client does.
  const st = await eventually(async () => {
    const r = await watcher.request({ type: 'get_status', user_id: 'carol2d' });
    return r.user.devices.length === 1 && r;
  }, 5000, 'the phone to leave');
  assert.equal(st.user.is_online, true);
  assert.deepEqual(st.user.devices.map(d => d.device_id), ['laptop']);
  assert.equal(watcher.has(m => m.type === 'user.status.changed' && m.is_online === false), false);
  await laptop.close();
  await watcher.change('carol2d', false);
  await watcher.close();
});

test('a device that stops heartbeating expires after the TTL', async () => {
  const watcher = await srv.ws('/ws');
  await watcher.request({ type: 'subscribe', user_ids: ['dave2t', 'erin2t'] });
  const silent = await srv.ws('/ws?userId=dave2t');
  await silent.next(m => m.type === 'joined');
  const chatty = await srv.ws('/ws?userId=erin2t');
  await chatty.next(m => m.type === 'joined');
  const started = Date.now();
  // Erin pings every 500 ms; Dave says nothing.
  const pinger = setInterval(() => chatty.send({ type: 'ping' }), 500);
  try {
    const expired = await silent.next(m => m.type === 'session.expired', 6000);
    assert.equal(expired.reason, 'heartbeat timeout');
    const { code } = await silent.closed;
    assert.equal(code, 4000);
    const off = await watcher.change('dave2t', false, 6000);
    assert.ok(Date.now() - started >= 1500, 'not before the TTL');
    assert.ok(Date.parse(off.last_seen) <= Date.now());
    const st = await watcher.request({ type: 'get_status', user_id: 'erin2t' });
    assert.equal(st.user.is_online, true, 'the heartbeating user stays online');
  } finally {
    clearInterval(pinger);
  }
  await chatty.close();
  await watcher.close();
});

test('sparse pings keep a device past the TTL, through the activity flusher or at once', async () => {
  // TTL 3 s, gap 0.5 s: activity within TTL - 2 gaps (2 s) of the last
  // one the user actor heard waits for the flusher's next round; later
  // activity goes at once (edge/common/activity.hpp).
  const sparse = await new Server({
    args: ['--heartbeat-ttl', '3', '--checkpoint-interval', '500', '--reconnect-grace', '0'],
  }).start();
  const open = [];
  const timers = [];
  try {
    const ws = async path => { const c = await sparse.ws(path); open.push(c); return c; };
    const watcher = await ws('/ws');
    await watcher.request({ type: 'subscribe', user_ids: ['viaflush', 'direct', 'mute1', 'mute2'] });
    const pinger = async (user, everyMs) => {
      const c = await ws(`/ws?userId=${user}`);
      await c.next(m => m.type === 'joined');
      timers.push(setInterval(() => c.send({ type: 'ping' }), everyMs));
      return c;
    };
    await pinger('viaflush', 1800); // through the flusher
    await pinger('direct', 2600);   // at once, from the socket's strand
    const mute1 = await ws('/ws?userId=mute1');
    await mute1.next(m => m.type === 'joined');
    // Two TTLs, measured by two silent devices expiring one after the other.
    await watcher.change('mute1', false, 8000);
    const mute2 = await ws('/ws?userId=mute2');
    await mute2.next(m => m.type === 'joined');
    await watcher.change('mute2', false, 8000);
    for (const user of ['viaflush', 'direct']) {
      assert.ok(!watcher.has(m => m.type === 'user.status.changed' && m.user_id === user
                                  && m.is_online === false), `${user} never went offline`);
      const st = await watcher.request({ type: 'get_status', user_id: user });
      assert.equal(st.user.is_online, true, `${user} is online after two TTLs`);
    }
  } finally {
    timers.forEach(clearInterval);
    for (const c of open) await c.close().catch(() => {});
    await sparse.dispose();
  }
});

test('a connection follows at most --max-subscriptions users by id', async () => {
  const small = await new Server({ args: ['--max-subscriptions', '3'] }).start();
  try {
    const c = await small.ws('/ws?subscribe=none');
    const sub = ids => c.request({ type: 'subscribe', user_ids: ids });
    assert.equal((await sub(['a', 'b'])).type, 'subscribed');
    const over = await sub(['c', 'd']);
    assert.deepEqual([over.type, over.code], ['error', 'too_many_subscriptions']);
    // What it follows already does not count twice; the refused ones were
    // not added.
    assert.equal((await sub(['a', 'c'])).type, 'subscribed');
    const again = await sub(['d']);
    assert.equal(again.code, 'too_many_subscriptions');
    // Unfollowing makes room; the global feed is not counted.
    assert.equal((await c.request({ type: 'unsubscribe', user_ids: ['b'] })).type, 'unsubscribed');
    assert.equal((await sub(['d'])).type, 'subscribed');
    assert.equal((await c.request({ type: 'subscribe', global: true })).type, 'subscribed');
    // Another connection has its own budget.
    const d = await small.ws('/ws?subscribe=none');
    assert.equal((await d.request({ type: 'subscribe', user_ids: ['x', 'y', 'z'] })).type, 'subscribed');
    await c.close();
    await d.close();
  } finally {
    await small.dispose();
  }
});

test('a change to many subscribers, its sends shared with the I/O thread\'s helper, reaches each once and in order', async () => {
  // --fanout-helper-min 2: every delivery to the watchers is shared
  // between the I/O thread (or each of them, with PRESENCED_IO_THREADS=2)
  // and its helper thread.
  const helped = await new Server({ args: ['--fanout-helper-min', '2', '--reconnect-grace', '0'] }).start();
  const open = [];
  try {
    const seen = [];
    for (let i = 0; i < 80; i++) {
      const w = await helped.ws('/ws?subscribe=none');
      open.push(w);
      const deltas = [];
      w.socket.on('message', data => {
        const m = JSON.parse(data.toString());
        if (m.type === 'user.status.changed') deltas.push([m.user_id, m.version, m.is_online]);
      });
      seen.push(deltas);
      assert.equal((await w.request({ type: 'subscribe', global: true })).type, 'subscribed');
    }
    const users = Array.from({ length: 8 }, (_, i) => `helped${i}`);
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      const devices = await Promise.all(users.map(u => helped.ws(`/ws?userId=${u}`)));
      await Promise.all(devices.map(d => d.next(m => m.type === 'joined')));
      for (const w of open) for (const u of users) await w.change(u, true);
      await Promise.all(devices.map(d => d.close()));
      for (const w of open) for (const u of users) await w.change(u, false);
    }
    // Every watcher: each user online and offline in turn, at growing
    // versions, nothing twice; and all of them the same versions.
    const perUser = deltas => Object.fromEntries(users.map(u => [u, deltas.filter(d => d[0] === u)]));
    const first = perUser(seen[0]);
    for (const [i, deltas] of seen.entries()) {
      const mine = perUser(deltas);
      for (const u of users) {
        const states = mine[u].map(d => d[2]);
        assert.deepEqual(states, Array.from({ length: 2 * rounds }, (_, k) => k % 2 === 0),
                         `watcher ${i}: ${u} online and offline in turn`);
        const versions = mine[u].map(d => d[1]);
        for (let k = 1; k < versions.length; k++)
          assert.ok(versions[k] > versions[k - 1], `watcher ${i}: ${u}'s versions grow`);
        assert.deepEqual(versions, first[u].map(d => d[1]), `watcher ${i}: ${u}'s versions as watcher 0's`);
      }
    }
    // The sends were shared (not all done by the I/O thread alone).
    assert.ok(await helped.metric('presence_fanout_shared_tasks_total') > 0, 'tasks shared with the helper');
  } finally {
    for (const c of open) await c.close().catch(() => {});
    await helped.dispose();
  }
});

test('queries: count, paged list, batch status, status changes', async () => {
  const users = ['q1', 'q2', 'q3', 'q4', 'q5'];
  const clients = [];
  for (const u of users) {
    const c = await srv.ws(`/ws?userId=${u}`);
    await c.next(m => m.type === 'joined');
    clients.push(c);
  }
  const q = clients[0];
  const count = await q.request({ type: 'count_online' });
  assert.ok(count.count >= 5);
  // Page through everyone online two at a time.
  const seen = [];
  let cursor = null;
  for (let i = 0; i < 20; i++) {
    const page = await q.request({ type: 'list_online', limit: 2, cursor });
    assert.ok(page.users.length <= 2);
    seen.push(...page.users.map(u => u.user_id));
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  for (const u of users) assert.ok(seen.includes(u), `${u} listed`);
  assert.deepEqual([...seen].sort(), seen, 'ordered by user id');
  const batch = await q.request({ type: 'get_statuses', user_ids: ['q2', 'nobody-q'] });
  assert.equal(batch.users[0].is_online, true);
  assert.equal(batch.users[1].is_online, false);
  assert.equal(batch.users[1].last_seen, null);
  const set = await q.request({ type: 'set_status', status: 'dnd' });
  assert.equal(set.user.status, 'dnd');
  const again = await clients[1].request({ type: 'get_status', user_id: 'q1' });
  assert.equal(again.user.status, 'dnd');
  for (const c of clients) await c.close();
});

test('join by frame, leave by frame, heartbeat replies pong', async () => {
  const c = await srv.ws('/ws');
  const welcome = await c.next(m => m.type === 'welcome');
  assert.equal(welcome.user_id, null);
  assert.match(welcome.device_id, /^dev-/, 'the device id the server picked');
  const pong = await c.request({ type: 'ping' });
  assert.equal(pong.type, 'pong');
  const joined = await c.request({ type: 'join', user_id: 'frank-f', device_id: 'd1', status: 'away' });
  assert.equal(joined.type, 'joined');
  assert.equal(joined.user.status, 'away');
  const other = await c.request({ type: 'join', user_id: 'someone-else' });
  assert.equal(other.code, 'already_joined');
  const left = await c.request({ type: 'leave' });
  assert.equal(left.type, 'left');
  const st = await c.request({ type: 'get_status', user_id: 'frank-f' });
  assert.equal(st.user.is_online, false);
  await c.close();
});

test('subscribe answers with the current state of what it follows (snapshot, then deltas)', async () => {
  const dana = await srv.ws('/ws?userId=snap-dana&deviceId=d1');
  await dana.next(m => m.type === 'joined');
  const watcher = await srv.ws('/ws?subscribe=none');
  // By id: every followed user's state with its version, the unknown one
  // as never seen; no separate get_statuses needed.
  const r = await watcher.request({ type: 'subscribe', user_ids: ['snap-dana', 'snap-nobody'] });
  assert.equal(r.type, 'subscribed');
  assert.deepEqual(r.users.map(u => [u.user_id, u.is_online]),
                   [['snap-dana', true], ['snap-nobody', false]]);
  assert.ok(r.users[0].version > 0);
  assert.equal(r.users[1].version, 0);
  // A change after the reply comes as a delta with a newer version.
  await dana.request({ type: 'set_status', status: 'busy' });
  const d = await watcher.next(m => m.type === 'user.status.changed' && m.user_id === 'snap-dana'
                                    && m.status === 'busy');
  assert.ok(d.version > r.users[0].version);
  // Global: a first page of online users on request.
  const g = await watcher.request({ type: 'subscribe', global: true, snapshot: true, limit: 1000 });
  assert.equal(g.global, true);
  assert.ok(g.online.users.some(u => u.user_id === 'snap-dana' && u.status === 'busy'));
  assert.equal(g.online.total >= 1, true);
  assert.equal('users' in g, false, 'no by-id states when no ids were named');
  // Without snapshot: as before, no page.
  const plain = await watcher.request({ type: 'subscribe', global: true });
  assert.equal('online' in plain, false);
  const bad = await watcher.request({ type: 'subscribe', global: true, snapshot: 'yes' });
  assert.deepEqual([bad.type, bad.code], ['error', 'bad_request']);
  await dana.close();
  await watcher.close();
});

test('a custom status message: set, seen by followers and REST, ends by itself', async () => {
  const ivy = await srv.ws('/ws?userId=cs-ivy&deviceId=d');
  await ivy.next(m => m.type === 'joined');
  const watcher = await srv.ws('/ws?subscribe=none');
  await watcher.request({ type: 'subscribe', user_ids: ['cs-ivy'] });
  const r = await ivy.request({ type: 'set_status', status: 'busy', status_text: 'In a meeting',
                                status_expires_in: 1 });
  assert.equal(r.type, 'status_set');
  assert.equal(r.user.status, 'busy');
  assert.equal(r.user.status_text, 'In a meeting');
  assert.ok(Date.parse(r.user.status_expires_at) > Date.now() - 1000);
  const d = await watcher.next(m => m.type === 'user.status.changed' && m.status_text === 'In a meeting');
  assert.equal(d.user_id, 'cs-ivy');
  const rest = await srv.get('/api/users/cs-ivy/status');
  assert.equal(rest.body.data.status_text, 'In a meeting');
  // Seed payloads keep their shapes.
  const seed = await srv.get('/api/user-status/cs-ivy');
  assert.equal('status_text' in seed.body.data, false);
  // It ends by itself after a second: announced with a newer version (the
  // join's own delta, without a text, may reach the watcher late: older).
  const ended = await watcher.next(m => m.type === 'user.status.changed' && m.user_id === 'cs-ivy'
                                        && m.status_text === null && m.version > d.version, 5000);
  assert.equal(ended.status, 'busy', 'the status stays');
  // Text alone; then cleared with null.
  const t = await ivy.request({ type: 'set_status', status_text: 'Lunch' });
  assert.deepEqual([t.user.status_text, t.user.status_expires_at], ['Lunch', null]);
  const c = await ivy.request({ type: 'set_status', status_text: null });
  assert.equal(c.user.status_text, null);
  const bad = await ivy.request({ type: 'set_status', status_text: 'x'.repeat(101) });
  assert.deepEqual([bad.type, bad.code], ['error', 'bad_request']);
  await ivy.close();
  await watcher.close();
});

test('auto-away: an idle native device turns away and comes back on activity', async () => {
  const watcher = await srv.ws('/ws?subscribe=none');
  await watcher.request({ type: 'subscribe', user_ids: ['aa-kim'] });
  const kim = await srv.ws('/ws?subscribe=none');
  const j = await kim.request({ type: 'join', user_id: 'aa-kim', device_id: 'd', auto_away: 1 });
  assert.equal(j.type, 'joined');
  await watcher.next(m => m.type === 'user.status.changed' && m.user_id === 'aa-kim' && m.status === 'online');
  // Heartbeats are not input: it still turns away.
  await kim.request({ type: 'ping' });
  const away = await watcher.next(m => m.type === 'user.status.changed' && m.user_id === 'aa-kim'
                                       && m.status === 'away', 5000);
  assert.equal(away.is_online, true);
  const a = await kim.request({ type: 'activity' });
  assert.equal(a.type, 'active');
  await watcher.next(m => m.type === 'user.status.changed' && m.user_id === 'aa-kim'
                          && m.status === 'online');
  const bad = await kim.request({ type: 'join', user_id: 'aa-kim', auto_away: -5 });
  assert.deepEqual([bad.type, bad.code], ['error', 'bad_request']);
  await kim.close();
  await watcher.close();
});

test('invisible: offline to everyone else over REST, native and each Socket.IO dialect; the truth to the user', async () => {
  const ws = { transports: ['websocket'] };
  // Observers: a native follower, seed 000, seed 002 and seed 004 sockets.
  const watcher = await srv.ws('/ws?subscribe=none');
  await watcher.request({ type: 'subscribe', user_ids: ['inv-ivy'] });
  const s0 = await sioConnect(srv.url, { path: '/api/socketio', ...ws });
  assert.equal((await s0.ask('join_user', 'inv-s0')).success, true);
  const s2 = await sioConnect(srv.url, ws);
  s2.emit('authenticate', { userId: 'inv-s2' });
  await s2.next('authentication-success');
  const s4 = await sioConnect(`${srv.url}/ws/messages`, { auth: { userId: 'inv-s4' }, ...ws });
  await s4.next('user-online', x => x.userId === 'inv-s4');

  const phone = await srv.ws('/ws?userId=inv-ivy&deviceId=phone');
  await phone.next(m => m.type === 'joined');
  await watcher.change('inv-ivy', true);
  await s0.next('user_online', x => x.userId === 'inv-ivy');
  await s2.next('user-status-change', x => x.userId === 'inv-ivy' && x.isOnline);
  await s4.next('user-online', x => x.userId === 'inv-ivy');

  // Ivy turns invisible: her own device hears the truth ...
  const set = await phone.request({ type: 'set_status', status: 'invisible' });
  assert.equal(set.type, 'status_set');
  assert.equal(set.user.status, 'invisible');
  assert.equal(set.user.is_online, true);
  // ... everyone else sees her leave.
  const gone = await watcher.change('inv-ivy', false);
  assert.equal(gone.status, 'offline');
  await s0.next('user_offline', x => x.userId === 'inv-ivy');
  await s2.next('user-status-change', x => x.userId === 'inv-ivy' && !x.isOnline);
  await s4.next('user-offline', x => x.userId === 'inv-ivy');
  const hidden = async () => {
    const st = await srv.get('/api/user-status/inv-ivy');
    assert.equal(st.body.data.isOnline, false);
    assert.equal(st.body.data.devices, 0);
    const own = await srv.get('/api/users/inv-ivy/status');
    assert.equal(own.body.data.is_online, false);
    assert.equal(own.body.data.status, 'offline');
    assert.deepEqual(own.body.data.devices, []);
    const list = await srv.get('/api/online-users');
    assert.equal(list.body.data.some(u => u.id === 'inv-ivy'), false);
    const s3 = await srv.get('/api/users/online/');
    assert.equal(s3.body.some(u => u.id === 'inv-ivy'), false);
    const native = await watcher.request({ type: 'get_status', user_id: 'inv-ivy' });
    assert.equal(native.user.is_online, false);
    s0.emit('check_user_online', 'inv-ivy');
    assert.deepEqual(await s0.next('user_online_status', x => x.userId === 'inv-ivy'),
                     { userId: 'inv-ivy', online: false });
    return own.body.data.last_seen;
  };
  const lastSeen = await hidden();
  assert.ok(lastSeen, 'last seen when she went invisible');
  // Activity while invisible does not move last_seen; a second device
  // joins invisible too and sees the truth.
  await phone.request({ type: 'activity' });
  const laptop = await srv.ws('/ws?userId=inv-ivy&deviceId=laptop');
  const j = await laptop.next(m => m.type === 'joined');
  assert.equal(j.user.status, 'invisible');
  assert.equal(await hidden(), lastSeen);
  assert.equal(watcher.has(m => m.type === 'user.status.changed' && m.user_id === 'inv-ivy'
                                && m.is_online === true && m.version > gone.version), false);
  // A private message reaches her devices, but the sender is told "not
  // delivered", as for someone offline.
  const conv = (await srv.http('POST', '/api/privatechat/conversations',
                               { body: { participants: ['inv-ivy', 'inv-s0'] } })).body.conversation;
  const sent = await srv.http('POST', '/api/privatechat/message',
                              { body: { senderId: 'inv-s0', conversationId: conv.id, content: 'psst' } });
  assert.equal(sent.status, 201, sent.text);
  assert.equal(sent.body.delivered, false);
  await laptop.next(m => m.type === 'message' && m.message.id === sent.body.message.id);
  // A visible status chosen on the laptop shows her again.
  await laptop.request({ type: 'set_status', status: 'busy' });
  const back = await watcher.change('inv-ivy', true);
  assert.equal(back.status, 'busy');
  await s4.next('user-online', x => x.userId === 'inv-ivy');
  for (const c of [phone, laptop, watcher]) await c.close();
  for (const c of [s0, s2, s4]) c.close();
});

test('resync: a reconnecting client gets exactly what changed while it was away', async () => {
  const mine = (cs) => cs.filter(c => c.user_id.startsWith('rs-'))
                         .map(c => [c.user_id, c.is_online, c.status]);
  const w1 = await srv.ws('/ws?subscribe=none');
  await w1.request({ type: 'subscribe', global: true });
  const a = await srv.ws('/ws?userId=rs-a&deviceId=d');
  await a.next(m => m.type === 'joined');
  const seen = await w1.change('rs-a', true);
  await w1.close();
  // While the watcher is away: a status change, a join, a join and leave.
  await a.request({ type: 'set_status', status: 'busy' });
  const b = await srv.ws('/ws?userId=rs-b&deviceId=d');
  await b.next(m => m.type === 'joined');
  const c = await srv.ws('/ws?userId=rs-c&deviceId=d');
  await c.next(m => m.type === 'joined');
  await c.close();
  await eventually(async () => (await srv.get('/api/user-status/rs-c')).body.data.isOnline === false,
                   5000, 'rs-c offline');
  // Back: subscribe again, then ask for what changed since the last version seen.
  const w2 = await srv.ws('/ws?subscribe=none');
  await w2.request({ type: 'subscribe', global: true });
  const r = await w2.request({ type: 'resync', since: seen.version });
  assert.equal(r.type, 'resynced', JSON.stringify(r));
  // The reply looks back --resync-margin before the cursor (changes reach
  // a node out of version order); applied by version, what is new is
  // exactly what was missed.
  const fresh = (cs, since) => cs.filter(x => x.version > since);
  assert.deepEqual(mine(fresh(r.changes, seen.version)),
                   [['rs-a', true, 'busy'], ['rs-b', true, 'online'], ['rs-c', false, 'offline']]);
  assert.ok(r.cursor >= Math.max(...r.changes.map(x => x.version)));
  // Nothing since the newest: nothing new.
  const none = await w2.request({ type: 'resync', since: r.cursor });
  assert.deepEqual(mine(fresh(none.changes, r.cursor)), []);
  // A connection following one user hears only of that user.
  const w3 = await srv.ws('/ws?subscribe=none');
  await w3.request({ type: 'subscribe', user_ids: ['rs-b'] });
  const one = await w3.request({ type: 'resync', since: seen.version });
  assert.deepEqual(one.changes.map(x => x.user_id), ['rs-b']);   // only rs-b, margin or not
  // Older than the node: the client must list again.
  const old = await w2.request({ type: 'resync', since: 1 });
  assert.equal(old.type, 'resync_required');
  assert.ok(old.oldest > 1);
  const bad = await w2.request({ type: 'resync' });
  assert.deepEqual([bad.type, bad.code], ['error', 'bad_request']);
  // The same for servers over REST.
  const rest = await srv.get(`/api/presence/changes?since=${seen.version}`);
  assert.equal(rest.status, 200);
  assert.deepEqual(mine(fresh(rest.body.changes, seen.version)),
                   mine(fresh(r.changes, seen.version)));
  const gone = await srv.get('/api/presence/changes?since=1');
  assert.equal(gone.status, 410);
  assert.equal(gone.body.code, 'resync_required');
  assert.equal((await srv.get('/api/presence/changes')).status, 400);
  assert.equal((await srv.get('/api/presence/changes?since=x')).status, 400);
  for (const x of [a, b, w2, w3]) await x.close();
});

/** Runs `fn(own, w)` against a server of its own with `args` (no grace, no
 *  resync margin) and `w`, a connection following everyone. */
async function withChangeLog(args, fn) {
  const own = new Server({ args: ['--reconnect-grace', '0', '--resync-margin', '0', ...args] });
  await own.start();
  try {
    const w = await own.ws('/ws?subscribe=none');
    await w.request({ type: 'subscribe', global: true });
    await fn(own, w);
    await w.close();
  } finally {
    await own.dispose();
  }
}

test('resync: a cursor the bounded change log no longer reaches gets resync_required', async () => {
  await withChangeLog(['--change-log-size', '2'], async (own, w) => {
    const users = [];
    for (const u of ['cl-a', 'cl-b', 'cl-c']) {
      const x = await own.ws(`/ws?userId=${u}&deviceId=d`);
      await x.next(m => m.type === 'joined');
      users.push(x);
    }
    const first = await w.change('cl-a', true);
    await w.change('cl-c', true);
    // cl-a's change is gone from a log of two users: since before it, no.
    const r = await w.request({ type: 'resync', since: first.version - 1 });
    assert.equal(r.type, 'resync_required', JSON.stringify(r));
    // Since cl-a's version the log still has all (cl-b, cl-c).
    const ok = await w.request({ type: 'resync', since: first.version });
    assert.deepEqual(ok.changes.map(x => x.user_id), ['cl-b', 'cl-c']);
    for (const x of users) await x.close();
  });
});

test('resync: a change older than --change-log-ttl is gone from the log, and the cursor gets resync_required', async () => {
  await withChangeLog(['--change-log-ttl', '1'], async (own, w) => {
    const a = await own.ws('/ws?userId=ttl-a&deviceId=d');
    await a.next(m => m.type === 'joined');
    const first = await w.change('ttl-a', true);
    // Within the second the log answers from before ttl-a's change.
    const ok = await w.request({ type: 'resync', since: first.version - 1 });
    assert.equal(ok.type, 'resynced', JSON.stringify(ok));
    assert.deepEqual(ok.changes.map(x => x.user_id), ['ttl-a']);
    // Later changes push it out once it is older than a second (the log
    // drops by age as changes come in, and before each resync): each try
    // adds one.
    let i = 0;
    let r;
    let last;
    await eventually(async () => {
      const x = await own.ws(`/ws?userId=ttl-b${i}&deviceId=d`);
      await x.next(m => m.type === 'joined');
      last = await w.change(`ttl-b${i}`, true);
      await x.close();
      // Its offline change is in the log before the resync (it would
      // otherwise come after and could age the log on).
      await w.change(`ttl-b${i++}`, false);
      r = await w.request({ type: 'resync', since: first.version - 1 });
      return r.type === 'resync_required';
    }, 10000, 'ttl-a\'s change to age out of the log');
    assert.ok(r.oldest >= first.version, JSON.stringify(r));
    // What is younger than the second is still there: the latest change
    // (not the oldest left, which may age out between two requests).
    const recent = await w.request({ type: 'resync', since: last.version - 1 });
    assert.equal(recent.type, 'resynced', JSON.stringify(recent));
    assert.ok(recent.changes.some(x => x.user_id === `ttl-b${i - 1}`), JSON.stringify(recent));
    await a.close();
  });
});

test('closed connections free their actors (presence_lean_actors falls back)', async () => {
  const leanActors = async () => {
    const text = (await srv.get('/metrics')).text;
    const m = text.match(/^presence_lean_actors (\S+)$/m);
    assert.ok(m, 'presence_lean_actors in /metrics');
    return Number(m[1]);
  };
  const before = await leanActors();
  const natives = [];
  for (let i = 0; i < 30; ++i) {
    const c = await srv.ws(`/ws?userId=leak-n${i}`);
    await c.next(m => m.type === 'joined');
    natives.push(c);
  }
  const sios = [];
  for (let i = 0; i < 10; ++i) {
    const s = await sioConnect(srv.url, { path: '/api/socketio', transports: ['websocket'] });
    assert.equal((await s.ask('join_user', `leak-s${i}`)).success, true);
    sios.push(s);
  }
  // A session and a user actor per client.
  const held = await leanActors();
  assert.ok(held >= before + 80, `${held} lean actors with 40 clients (before: ${before})`);
  for (const c of natives) await c.close();
  for (const s of sios) s.close();
  // Each one's session and user actor end and are freed.
  await eventually(async () => (await leanActors()) <= before, 10000,
                   'the closed clients\' actors to be freed');
});

test('/metrics reports the heap: in use and held free', async () => {
  const gauge = (text, name) => {
    const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
    assert.ok(m, `${name} in /metrics`);
    return Number(m[1]);
  };
  const text = (await srv.get('/metrics')).text;
  // A running node holds megabytes (its actors, RocksDB's memtables), and
  // less than its whole address space; the arenas always keep some free
  // (the top chunk at least). A gauge read from the wrong mallinfo2 field,
  // or not read at all (0), fails here.
  const inUse = gauge(text, 'presence_heap_in_use_bytes');
  const free = gauge(text, 'presence_heap_free_bytes');
  assert.ok(inUse > 2 ** 20 && inUse < 2 ** 40, `heap in use ${inUse}`);
  assert.ok(free > 0 && free < 2 ** 40, `heap free ${free}`);
});
