// Contacts across a 2-node cluster: the visibility a user chose travels
// with their state to the other node (deltas, lists, counts, statuses),
// and a change made through either node reaches the user's owner.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './lib/cluster.mjs';
import { eventually } from './lib/harness.mjs';

let cluster;

before(async () => {
  cluster = new Cluster(['--coalesce-window', '5']);
  for (const n of ['a', 'b']) await cluster.add(n);
  await cluster.converged();
});

after(async () => { await cluster.dispose(); });

const as = user => ({ headers: { 'X-User-Id': user } });

test('a contacts-only user on one node is hidden from outsiders on the other, and seen by contacts', async () => {
  const a = cluster.node('a');
  const b = cluster.node('b');
  const dave = await b.ws('/ws?userId=cc-dave&subscribe=none');
  await dave.next(m => m.type === 'joined');
  const eve = await b.ws('/ws?userId=cc-eve&subscribe=none');
  await eve.next(m => m.type === 'joined');
  for (const c of [dave, eve])
    await c.request({ type: 'subscribe', user_ids: ['cc-carol'] });
  const carol = await a.ws('/ws?userId=cc-carol');
  await carol.next(m => m.type === 'joined');
  await dave.change('cc-carol', true);
  await eve.change('cc-carol', true);

  // Set through node b (whichever node owns her).
  const put = await b.http('PUT', '/api/users/cc-carol/contacts',
                           { body: { visibility: 'contacts', contacts: ['cc-dave'] } });
  assert.equal(put.status, 200, put.text);
  const gone = await eve.change('cc-carol', false);
  assert.equal(gone.last_seen, null);

  for (const node of [a, b]) {
    const e = await node.get('/api/users/cc-carol/status', as('cc-eve'));
    assert.equal(e.body.data.is_online, false, `eve on ${node.url}`);
    assert.equal(e.body.data.last_seen, null);
    const d = await node.get('/api/users/cc-carol/status', as('cc-dave'));
    assert.equal(d.body.data.is_online, true, `dave on ${node.url}`);
    const le = await node.get('/api/online-users', as('cc-eve'));
    assert.equal(le.body.data.some(u => u.id === 'cc-carol'), false);
    const ld = await node.get('/api/online-users', as('cc-dave'));
    assert.equal(ld.body.data.some(u => u.id === 'cc-carol'), true);
    const n = async who => (await node.get('/api/online-users?countOnly=true', as(who))).body.count;
    assert.equal(await n('cc-dave'), (await n('cc-eve')) + 1);
  }
  const el = await eve.request({ type: 'list_online' });
  assert.equal(el.users.some(u => u.user_id === 'cc-carol'), false);
  const dl = await dave.request({ type: 'list_online' });
  assert.equal(dl.users.some(u => u.user_id === 'cc-carol'), true);

  // She leaves: Dave on the other node sees when, Eve never does.
  await carol.close();
  const left = await dave.change('cc-carol', false);
  assert.ok(left.last_seen);
  await eventually(async () =>
    (await b.get('/api/users/cc-carol/status', as('cc-dave'))).body.data.last_seen, 5000,
    'Dave reads her last_seen');
  assert.equal((await b.get('/api/users/cc-carol/status', as('cc-eve'))).body.data.last_seen, null);
  assert.equal((await a.get('/api/users/cc-carol/status', as('cc-eve'))).body.data.last_seen, null);
  for (const c of [dave, eve]) await c.close();
});
