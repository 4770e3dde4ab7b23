// Seed 000's online_users_list, built once per node and shared by every
// seed-000 socket (edge/socketio/seed000_list.*): a joiner sees itself at
// once, everyone gets the same list, a profile change shows in the next
// list, and get_online_users answers with the current one.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server } from './lib/harness.mjs';
import { sioConnect } from './lib/sio.mjs';

let srv;

before(async () => {
  srv = await new Server({
    args: ['--reconnect-grace', '0', '--sio-list-window', '100'],
  }).start();
});

after(async () => { await srv.dispose(); });

const opts = { path: '/api/socketio', transports: ['websocket'] };

test('every seed-000 socket gets the same list; a joiner sees itself at once', async () => {
  const users = ['l-a', 'l-b', 'l-c'];
  const socks = [];
  for (const u of users) {
    const s = await sioConnect(srv.url, opts);
    s.emit('join_user', u);
    const mine = await s.next('online_users_list', d => d.users.some(x => x.id === u));
    assert.ok(mine.users.some(x => x.id === u), `${u} sees itself`);
    socks.push(s);
  }
  // Once everyone is in, every socket converges on one list of all three.
  const lists = await Promise.all(socks.map(s => s.next('online_users_list',
    d => users.every(u => d.users.some(x => x.id === u)))));
  for (const l of lists)
    assert.deepEqual(l, lists[0]);
  assert.deepEqual(lists[0].users.map(x => x.id), users);
  for (const s of socks) s.close();
});

test('a profile change shows in the next list', async () => {
  const a = await sioConnect(srv.url, opts);
  a.emit('join_user', 'p-ann');
  await a.next('online_users_list', d => d.users.some(x => x.id === 'p-ann'));
  const b = await sioConnect(srv.url, opts);
  b.emit('join_user', 'p-bob');
  const before = await a.next('online_users_list', d => d.users.some(x => x.id === 'p-bob'));
  assert.equal(before.users.find(x => x.id === 'p-bob').name, 'p-bob');
  const put = await srv.http('PUT', '/api/users/p-bob/profile',
                             { body: { name: 'Bobby', email: 'bob@x.io' } });
  assert.equal(put.status, 200);
  // Pushed with the next build, and what get_online_users answers.
  const pushed = await a.next('online_users_list',
                              d => d.users.some(x => x.id === 'p-bob' && x.name === 'Bobby'));
  assert.equal(pushed.users.find(x => x.id === 'p-bob').email, 'bob@x.io');
  const reply = await new Promise(resolve => a.socket.emit('get_online_users', resolve));
  assert.equal(reply.success, true);
  assert.equal(reply.data.users.find(x => x.id === 'p-bob').name, 'Bobby');
  // A user who leaves drops out of the list.
  b.close();
  await a.next('online_users_list', d => !d.users.some(x => x.id === 'p-bob'));
  a.close();
});

test('a joiner gets its list at once; the others wait for the window', async () => {
  // A window of a minute: after the first build, no list is pushed within
  // this test, so every list a socket gets is one it caused.
  const slow = await new Server({
    args: ['--reconnect-grace', '0', '--sio-list-window', '60000'],
  }).start();
  try {
    const a = await sioConnect(slow.url, opts);
    a.emit('join_user', 'w-ann');
    await a.next('online_users_list', d => d.users.some(x => x.id === 'w-ann'));
    // Ann's join opened the window (the first build went to every socket,
    // Ann's too): a round trip, then forget what she got so far.
    await new Promise(resolve => a.socket.emit('get_online_users', resolve));
    a.events = a.events.filter(e => e.event !== 'online_users_list');
    const b = await sioConnect(slow.url, opts);
    b.emit('join_user', 'w-bob');
    const mine = await b.next('online_users_list', d => d.users.some(x => x.id === 'w-bob'));
    assert.deepEqual(mine.users.map(x => x.id), ['w-ann', 'w-bob']);
    await a.next('user_online', d => d.userId === 'w-bob');
    // The list actor answered Bob before Ann's request; anything it pushed
    // to Ann for Bob's join would reach her before this answer.
    const reply = await new Promise(resolve => a.socket.emit('get_online_users', resolve));
    assert.deepEqual(reply.data.users.map(x => x.id), ['w-ann', 'w-bob']);
    await a.next('online_users_list', d => d.users.some(x => x.id === 'w-bob'));
    // (A late copy of the first build, without Bob, may still arrive on a
    // loaded machine: only lists with Bob count.)
    assert.equal(a.count('online_users_list', d => d.users.some(x => x.id === 'w-bob')), 0,
                 'no list was pushed for Bob\'s join');
    a.close();
    b.close();
  } finally {
    await slow.dispose();
  }
});

test('an invisible user who opens a seed-000 tab stays off everyone\'s list', async () => {
  const ws = { transports: ['websocket'] };
  const obs = await sioConnect(srv.url, { path: '/api/socketio', ...ws });
  assert.equal((await obs.ask('join_user', 'lk-obs')).success, true);
  const phone = await srv.ws('/ws?userId=lk-ivy&deviceId=phone');
  await phone.next(m => m.type === 'joined');
  assert.equal((await phone.request({ type: 'set_status', status: 'invisible' })).user.status,
               'invisible');
  const tab = await sioConnect(srv.url, { path: '/api/socketio', ...ws });
  assert.equal((await tab.ask('join_user', 'lk-ivy')).success, true);
  // A later join rebuilds the list; it must not have Ivy.
  const other = await sioConnect(srv.url, { path: '/api/socketio', ...ws });
  assert.equal((await other.ask('join_user', 'lk-other')).success, true);
  const list = await other.next('online_users_list', l => l.users.some(u => u.id === 'lk-other'));
  assert.equal(list.users.some(u => u.id === 'lk-ivy'), false, JSON.stringify(list.users));
  obs.emit('check_user_online', 'lk-ivy');
  assert.deepEqual(await obs.next('user_online_status', x => x.userId === 'lk-ivy'),
                   { userId: 'lk-ivy', online: false });
  for (const c of [obs, tab, other]) c.close();
  await phone.close();
});

test('after the last seed-000 client left the node drops its copy; the next one still gets the whole list', async () => {
  const s = await new Server({
    args: ['--reconnect-grace', '0', '--sio-list-window', '100', '--sio-list-idle', '0.3'],
  }).start();
  try {
    const ws = { path: '/api/socketio', transports: ['websocket'] };
    // A native user, online all along.
    const nat = await s.ws('/ws?userId=idle-nat');
    await nat.next(m => m.type === 'joined');
    const first = await sioConnect(s.url, ws);
    assert.equal((await first.ask('join_user', 'idle-a')).success, true);
    // (A build for listeners may come before the one with her own join.)
    await first.next('online_users_list', x => x.users.some(u => u.id === 'idle-nat')
                                               && x.users.some(u => u.id === 'idle-a'));
    first.close();
    // Longer than --sio-list-idle with nobody on seed 000; a user comes
    // meanwhile (the node no longer follows the feed for the list).
    await new Promise(r => setTimeout(r, 800));
    const late = await s.ws('/ws?userId=idle-late');
    await late.next(m => m.type === 'joined');
    const second = await sioConnect(s.url, ws);
    assert.equal((await second.ask('join_user', 'idle-b')).success, true);
    const l2 = await second.next('online_users_list', x => x.users.some(u => u.id === 'idle-b'));
    const ids = l2.users.map(u => u.id).sort();
    assert.ok(ids.includes('idle-nat') && ids.includes('idle-late'), ids.join(','));
    assert.equal(ids.includes('idle-a'), false, 'the first client left');
    second.emit('check_user_online', 'idle-late');
    assert.equal((await second.next('user_online_status', x => x.userId === 'idle-late')).online, true);
    second.close();
    for (const c of [nat, late]) await c.close();
  } finally {
    await s.dispose();
  }
});
