// Seed 000's list on one node shows a profile written through another
// node at once: every node's list keeps profiles in memory (30 s at most
// before it reads them again), and a profile write tells every node's
// list to forget that user's (through the rooms' node-to-node path,
// actors/room_registry).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './lib/cluster.mjs';
import { sioConnect } from './lib/sio.mjs';

const cluster = new Cluster(['--sio-list-window', '100']);

before(async () => {
  await cluster.add('a');
  await cluster.add('b');
  await cluster.converged();
});

after(async () => { await cluster.dispose(); });

const opts = { path: '/api/socketio', transports: ['websocket'] };

test('a profile written on one node shows in the next list on another', async () => {
  const a = cluster.node('a');
  const b = cluster.node('b');
  const obs = await sioConnect(b.url, opts);
  assert.equal((await obs.ask('join_user', 'pc-obs')).success, true);
  const bob = await sioConnect(b.url, opts);
  assert.equal((await bob.ask('join_user', 'pc-bob')).success, true);
  // b's list has read Bob's profile (none yet: his id as his name).
  const before = await obs.next('online_users_list',
                                d => d.users.some(x => x.id === 'pc-bob'));
  assert.equal(before.users.find(x => x.id === 'pc-bob').name, 'pc-bob');
  const put = await a.http('PUT', '/api/users/pc-bob/profile',
                           { body: { name: 'Bobby', email: 'bob@x.io' } });
  assert.equal(put.status, 200);
  // Well before b's cached copy would be read again (30 s).
  const after = await obs.next('online_users_list',
                               d => d.users.some(x => x.id === 'pc-bob' && x.name === 'Bobby'),
                               5000);
  assert.equal(after.users.find(x => x.id === 'pc-bob').email, 'bob@x.io');
  obs.close();
  bob.close();
});
