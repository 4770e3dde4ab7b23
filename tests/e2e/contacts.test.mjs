// Contacts and visibility: a user who lets only their contacts see them is
// offline, never seen, to everyone else, on every read path (native, REST,
// each Socket.IO dialect, lists, counts, deltas, resync), and the truth to
// their contacts; the choice is stored and survives the user actor.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, eventually, signJwt } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

let srv;

before(async () => {
  srv = await new Server({
    args: ['--heartbeat-ttl', '5', '--reconnect-grace', '0', '--coalesce-window', '5',
           '--max-contacts', '3', '--resync-margin', '0'],
  }).start();
});

after(async () => { await srv.dispose(); });

const as = user => ({ headers: { 'X-User-Id': user } });

test('contacts only: the truth to contacts, offline and never seen to everyone else', async () => {
  const ws = { transports: ['websocket'] };
  // Dave is Carol's contact, Eve is not; both follow her.
  const dave = await srv.ws('/ws?userId=ct-dave&subscribe=none');
  await dave.next(m => m.type === 'joined');
  const eve = await srv.ws('/ws?userId=ct-eve&subscribe=none');
  await eve.next(m => m.type === 'joined');
  for (const c of [dave, eve])
    await c.request({ type: 'subscribe', user_ids: ['ct-carol'] });
  // Seed 000 sockets of both.
  const s0dave = await sioConnect(srv.url, { path: '/api/socketio', ...ws });
  assert.equal((await s0dave.ask('join_user', 'ct-dave')).success, true);
  const s0eve = await sioConnect(srv.url, { path: '/api/socketio', ...ws });
  assert.equal((await s0eve.ask('join_user', 'ct-eve')).success, true);
  const s4eve = await sioConnect(`${srv.url}/ws/messages`, { auth: { userId: 'ct-eve' }, ...ws });
  await s4eve.next('user-online', x => x.userId === 'ct-eve');

  const carol = await srv.ws('/ws?userId=ct-carol&deviceId=phone');
  await carol.next(m => m.type === 'joined');
  await dave.change('ct-carol', true);
  await eve.change('ct-carol', true);
  await s0eve.next('user_online', x => x.userId === 'ct-carol');

  // Carol lets only Dave see her.
  const set = await carol.request({ type: 'set_contacts', visibility: 'contacts',
                                    contacts: ['ct-dave', 'ct-dave'] });
  assert.equal(set.type, 'contacts');
  assert.equal(set.visibility, 'contacts');
  assert.equal(set.effective, 'contacts');
  assert.deepEqual(set.contacts, ['ct-dave']);

  // Eve sees her go offline, with no last_seen; Dave sees her online still.
  const gone = await eve.change('ct-carol', false);
  assert.equal(gone.last_seen, null);
  assert.equal(gone.status, 'offline');
  const still = await dave.next(m => m.type === 'user.status.changed' && m.user_id === 'ct-carol'
                                     && m.version === gone.version);
  assert.equal(still.is_online, true);
  await s0eve.next('user_offline', x => x.userId === 'ct-carol');
  await s4eve.next('user-offline', x => x.userId === 'ct-carol');
  assert.equal(s0dave.has('user_offline', x => x.userId === 'ct-carol'), false);

  // Her later changes reach Dave only: Eve is not told when she changes
  // (no delta, and reads keep the version that hid her).
  await carol.request({ type: 'set_status', status: 'busy' });
  const busy = await dave.next(m => m.type === 'user.status.changed' && m.user_id === 'ct-carol'
                                    && m.status === 'busy');
  assert.ok(busy.version > gone.version);
  const seen = await eve.request({ type: 'get_status', user_id: 'ct-carol' });
  assert.equal(seen.user.version, gone.version);
  await eve.request({ type: 'count_online' }); // a round trip after Dave's delta
  assert.equal(eve.has(m => m.type === 'user.status.changed' && m.user_id === 'ct-carol'), false);
  assert.equal(s0eve.has('user_offline', x => x.userId === 'ct-carol'), false);

  const check = async () => {
    // Native reads.
    const ev = await eve.request({ type: 'get_status', user_id: 'ct-carol' });
    assert.equal(ev.user.is_online, false);
    assert.equal(ev.user.last_seen, null);
    const dv = await dave.request({ type: 'get_status', user_id: 'ct-carol' });
    assert.equal(dv.user.is_online, true);
    const el = await eve.request({ type: 'list_online' });
    assert.equal(el.users.some(u => u.user_id === 'ct-carol'), false);
    const dl = await dave.request({ type: 'list_online' });
    assert.equal(dl.users.some(u => u.user_id === 'ct-carol'), true);
    const ec = await eve.request({ type: 'count_online' });
    const dc = await dave.request({ type: 'count_online' });
    assert.equal(dc.count, ec.count + 1);
    // REST: anonymous, as Eve, as Dave.
    for (const opts of [undefined, as('ct-eve')]) {
      const st = await srv.get('/api/users/ct-carol/status', opts);
      assert.equal(st.body.data.is_online, false);
      assert.equal(st.body.data.last_seen, null);
      assert.deepEqual(st.body.data.devices, []);
      const s2 = await srv.get('/api/user-status/ct-carol', opts);
      assert.equal(s2.body.data.isOnline, false);
      const list = await srv.get('/api/online-users', opts);
      assert.equal(list.body.data.some(u => u.id === 'ct-carol'), false);
      const hist = await srv.get('/api/users/ct-carol/history', opts);
      assert.equal(hist.body.lastSeen, null);
      assert.deepEqual(hist.body.data, []);
    }
    const st = await srv.get('/api/users/ct-carol/status', as('ct-dave'));
    assert.equal(st.body.data.is_online, true);
    const list = await srv.get('/api/online-users', as('ct-dave'));
    assert.equal(list.body.data.some(u => u.id === 'ct-carol'), true);
    const n = async who => (await srv.get('/api/online-users?countOnly=true', who && as(who))).body.count;
    assert.equal(await n('ct-dave'), (await n('ct-eve')) + 1);
    assert.equal(await n(undefined), await n('ct-eve'));
    // Seed 000: check_user_online and the list, per socket.
    s0eve.emit('check_user_online', 'ct-carol');
    assert.equal((await s0eve.next('user_online_status', x => x.userId === 'ct-carol')).online, false);
    s0dave.emit('check_user_online', 'ct-carol');
    assert.equal((await s0dave.next('user_online_status', x => x.userId === 'ct-carol')).online, true);
    const le = await s0eve.ask('get_online_users');
    assert.equal(le.data.users.some(u => u.id === 'ct-carol'), false);
    const ld = await s0dave.ask('get_online_users');
    assert.equal(ld.data.users.some(u => u.id === 'ct-carol'), true);
    // Seed 004 statuses.
    const s4 = await s4eve.ask('check-user-status', { userId: 'ct-carol' });
    assert.equal(s4.data.online, false);
    assert.equal(s4.data.lastActive, null);
  };
  await check();

  // A private message from Eve reaches Carol, but Eve hears "not
  // delivered", as for someone offline; Dave hears "delivered".
  for (const [from, delivered] of [['ct-eve', false], ['ct-dave', true]]) {
    const conv = (await srv.http('POST', '/api/privatechat/conversations',
                                 { body: { participants: ['ct-carol', from] } })).body.conversation;
    const sent = await srv.http('POST', '/api/privatechat/message',
                                { body: { senderId: from, conversationId: conv.id, content: 'hi' } });
    assert.equal(sent.status, 201, sent.text);
    assert.equal(sent.body.delivered, delivered, from);
    await carol.next(m => m.type === 'message' && m.message.id === sent.body.message.id);
  }

  // Resync: Eve's catch-up shows the hidden form too.
  const rs = await eve.request({ type: 'resync', since: Math.max(0, gone.version - 1) });
  assert.equal(rs.type, 'resynced', JSON.stringify(rs));
  const mine = rs.changes.filter(c => c.user_id === 'ct-carol');
  assert.ok(mine.length > 0);
  for (const c of mine) {
    assert.equal(c.is_online, false);
    assert.equal(c.last_seen, null);
  }

  // She leaves: Dave sees when; to Eve she was never seen.
  await carol.close();
  const left = await dave.change('ct-carol', false);
  assert.ok(left.last_seen);
  await eventually(async () => {
    const d = await srv.get('/api/users/ct-carol/status', as('ct-dave'));
    return !d.body.data.is_online && d.body.data.last_seen;
  }, 5000, 'Dave reads when Carol was last seen');
  const e = await srv.get('/api/users/ct-carol/status', as('ct-eve'));
  assert.equal(e.body.data.last_seen, null);
  const batch = await srv.http('POST', '/api/user-status/batch',
                               { body: { userIds: ['ct-carol'] }, ...as('ct-eve') });
  assert.equal(batch.body.data[0].lastSeen, null);

  // Stored: she comes back, and the rule holds from her first delta on.
  const again = await srv.ws('/ws?userId=ct-carol&deviceId=laptop');
  await again.next(m => m.type === 'joined');
  await dave.change('ct-carol', true);
  await check();
  assert.equal(eve.has(m => m.type === 'user.status.changed' && m.user_id === 'ct-carol'
                            && m.is_online === true), false);

  // Everyone again: Eve sees her.
  const open = await srv.http('PUT', '/api/users/ct-carol/contacts',
                              { body: { visibility: 'everyone' } });
  assert.equal(open.status, 200, open.text);
  assert.equal(open.body.data.effective, 'everyone');
  assert.deepEqual(open.body.data.contacts, ['ct-dave']);
  await eve.change('ct-carol', true);
  await s0eve.next('user_online', x => x.userId === 'ct-carol');
  const now = await srv.get('/api/users/ct-carol/status');
  assert.equal(now.body.data.is_online, true);

  for (const c of [again, dave, eve]) await c.close();
  for (const c of [s0dave, s0eve, s4eve]) c.close();
});

test('an offline user who hides is announced again: those left out no longer see when they were last seen', async () => {
  const eve = await srv.ws('/ws?userId=ct-eve2&subscribe=none');
  await eve.next(m => m.type === 'joined');
  const ivan = await srv.ws('/ws?userId=ct-ivan');
  await ivan.next(m => m.type === 'joined');
  await ivan.close();
  await eventually(async () => (await srv.get('/api/users/ct-ivan/status')).body.data.last_seen,
                   5000, 'ivan offline with a last_seen');
  const sub = await eve.request({ type: 'subscribe', user_ids: ['ct-ivan'] });
  assert.ok(sub.users[0].last_seen);
  const put = await srv.http('PUT', '/api/users/ct-ivan/contacts', { body: { visibility: 'contacts' } });
  assert.equal(put.status, 200, put.text);
  // (His own offline delta may still reach Eve after the subscribe: the
  // announcement is the first one newer than what she read.)
  const d = await eve.next(m => m.type === 'user.status.changed' && m.user_id === 'ct-ivan'
                                && m.version > sub.users[0].version);
  assert.equal(d.last_seen, null);
  assert.equal(d.is_online, false);
  const st = await srv.get('/api/users/ct-ivan/status', as('ct-eve2'));
  assert.equal(st.body.data.last_seen, null);
  const own = await srv.get('/api/users/ct-ivan/status', as('ct-ivan'));
  assert.ok(own.body.data.last_seen, 'he still sees his own');
  const changes = await srv.get(`/api/presence/changes?since=${sub.users[0].version}`, as('ct-eve2'));
  const c = changes.body.changes.find(x => x.user_id === 'ct-ivan');
  assert.equal(c.last_seen, null);
  await eve.close();
});

test('contacts: stored with the profile, validated, bounded by --max-contacts', async () => {
  const put = body => srv.http('PUT', '/api/users/ct-frank/contacts', { body });
  const got0 = await srv.get('/api/users/ct-frank/contacts');
  assert.equal(got0.status, 200);
  assert.deepEqual(got0.body.data, { userId: 'ct-frank', visibility: 'default',
                                     effective: 'everyone', contacts: [] });
  let r = await put({ visibility: 'friends' });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 'bad_request');
  r = await put({ contacts: ['ok', 'has space'] });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 'invalid_id');
  r = await put({ contacts: ['a', 'b', 'c', 'd'] });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 'too_many_contacts');
  r = await put({});
  assert.equal(r.status, 400);
  r = await put({ contacts: ['c', 42, 'a'] });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.body.data.contacts, ['42', 'a', 'c']);
  assert.equal(r.body.data.visibility, 'default');
  // A profile write keeps the contacts, and the profile never shows them.
  const p = await srv.http('PUT', '/api/users/ct-frank/profile', { body: { name: 'Frank' } });
  assert.equal(p.status, 200, p.text);
  assert.equal(p.body.data.contacts, undefined);
  const got = await srv.get('/api/users/ct-frank/contacts');
  assert.deepEqual(got.body.data.contacts, ['42', 'a', 'c']);
  // The native frame needs a joined session, and checks the same rules.
  const anon = await srv.ws('/ws?subscribe=none');
  const nj = await anon.request({ type: 'set_contacts', visibility: 'contacts' });
  assert.equal(nj.code, 'not_joined');
  await anon.close();
  const frank = await srv.ws('/ws?userId=ct-frank');
  await frank.next(m => m.type === 'joined');
  const bad = await frank.request({ type: 'set_contacts', contacts: ['a', 'b', 'c', 'd'] });
  assert.equal(bad.code, 'too_many_contacts');
  const read = await frank.request({ type: 'get_contacts' });
  assert.deepEqual(read.contacts, ['42', 'a', 'c']);
  await frank.close();
});

test('--visibility contacts: users who never chose are seen by their contacts only; JWT: own contacts only', async () => {
  const secret = 'contacts-secret';
  const s = await new Server({
    args: ['--visibility', 'contacts', '--reconnect-grace', '0', '--coalesce-window', '5',
           '--jwt-secret', secret],
  }).start();
  try {
    const tok = async (sub, extra = {}) => signJwt({ sub, exp: Math.floor(Date.now() / 1000) + 600, ...extra }, secret);
    const bearer = async (sub, extra) => ({ headers: { authorization: `Bearer ${await tok(sub, extra)}` } });
    const gina = await s.ws(`/ws?token=${await tok('ct-gina')}`);
    const joined = await gina.next(m => m.type === 'joined');
    assert.equal(joined.user.is_online, true, 'her own devices see the truth');
    const hal = await s.ws(`/ws?token=${await tok('ct-hal')}&subscribe=none`);
    await hal.next(m => m.type === 'joined');
    const sub = await hal.request({ type: 'subscribe', user_ids: ['ct-gina'] });
    assert.equal(sub.users[0].is_online, false);
    assert.equal((await s.get('/api/users/ct-gina/status', await bearer('ct-hal'))).body.data.is_online, false);
    assert.equal((await s.get('/api/users/ct-gina/status', await bearer('ct-gina'))).body.data.is_online, true);
    assert.equal((await s.get('/api/users/ct-gina/status', await bearer('ops', { admin: true }))).body.data.is_online, true);
    // Hal may not change Gina's contacts; Gina may.
    const no = await s.http('PUT', '/api/users/ct-gina/contacts',
                            { body: { contacts: ['ct-hal'] }, ...(await bearer('ct-hal')) });
    assert.equal(no.status, 403);
    const none = await s.http('GET', '/api/users/ct-gina/contacts');
    assert.equal(none.status, 401);
    const yes = await s.http('PUT', '/api/users/ct-gina/contacts',
                             { body: { contacts: ['ct-hal'] }, ...(await bearer('ct-gina')) });
    assert.equal(yes.status, 200, yes.text);
    assert.equal(yes.body.data.effective, 'contacts');
    await hal.change('ct-gina', true);
    assert.equal((await s.get('/api/users/ct-gina/status', await bearer('ct-hal'))).body.data.is_online, true);
    await gina.close();
    await hal.close();
  } finally {
    await s.dispose();
  }
});

test('a follower gets each user\'s versions in order, whether the user restricts who sees them or not', async () => {
  // Deltas of users who restrict who sees them go through the follower's
  // session (its viewer); the others straight from the fan-out to the
  // socket. Interleaved changes of both kinds must still arrive in each
  // user's version order, ending with the latest.
  const fol = await srv.ws('/ws?userId=ct-ord-f&subscribe=none');
  await fol.next(m => m.type === 'joined');
  const seen = [];
  fol.socket.on('message', data => {
    const m = JSON.parse(data.toString());
    if (m.type === 'user.status.changed') seen.push(m);
  });
  const a = await srv.ws('/ws?userId=ct-ord-a&deviceId=d');
  await a.next(m => m.type === 'joined');
  const b = await srv.ws('/ws?userId=ct-ord-b&deviceId=d');
  await b.next(m => m.type === 'joined');
  await a.request({ type: 'set_contacts', visibility: 'contacts', contacts: ['ct-ord-f'] });
  await fol.request({ type: 'subscribe', user_ids: ['ct-ord-a', 'ct-ord-b'] });
  const statuses = ['busy', 'away', 'dnd', 'online'];
  const replies = [];
  for (let i = 0; i < 40; i++) {
    replies.push(a.request({ type: 'set_status', status: statuses[i % 4] }));
    // b sometimes alone in a window, sometimes with a.
    if (i % 3 !== 0) replies.push(b.request({ type: 'set_status', status: statuses[i % 4] }));
    if (i % 10 === 9) await new Promise(r => setTimeout(r, 8));
  }
  const done = await Promise.all(replies);
  const latest = user => Math.max(...done.filter(r => r.user.user_id === user).map(r => r.user.version));
  const finals = { 'ct-ord-a': latest('ct-ord-a'), 'ct-ord-b': latest('ct-ord-b') };
  await eventually(() => Object.entries(finals).every(([u, v]) => seen.some(m => m.user_id === u && m.version === v)),
                   5000, 'both users\' latest versions reached the follower');
  for (const u of Object.keys(finals)) {
    const versions = seen.filter(m => m.user_id === u).map(m => m.version);
    assert.ok(versions.length >= 2, `${u}: ${versions.length} deltas`);
    for (let i = 1; i < versions.length; i++)
      assert.ok(versions[i] > versions[i - 1], `${u}: version ${versions[i]} after ${versions[i - 1]}`);
    assert.equal(versions.at(-1), finals[u]);
    // The restricted user is seen as they are by a contact (not hidden).
    const last = done.find(r => r.user.user_id === u && r.user.version === finals[u]);
    assert.equal(seen.filter(m => m.user_id === u).at(-1).status, last.user.status);
  }
  for (const c of [fol, a, b]) await c.close();
});
