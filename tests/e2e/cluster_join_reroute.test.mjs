// A join on its way to a member that hangs (SIGSTOP) goes to the user's
// new owner once the cluster drops that member, instead of waiting out the
// request timeout (5 s) and failing: CAF 0.17 loses a request with its
// connection and fails it only at its timeout. The client's WebSocket
// upgrade (a join by userId) waited with it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/harness.mjs';
import { Cluster, DETECTION_MS } from './lib/cluster.mjs';

const cluster = new Cluster();

before(async () => {
  await cluster.add('a');
  await cluster.add('b');
  await cluster.converged();
});

after(async () => {
  const b = cluster.node('b');
  if (b?.proc?.exitCode === null) b.proc.kill('SIGCONT');
  await cluster.dispose();
});

/** Online users `node` owns, as it counts them itself. */
async function owned(node) {
  const nodes = (await cluster.node(node).get('/api/cluster')).body.data.nodes;
  return nodes.find(n => n.node_id === node)?.users_owned ?? 0;
}

test('a join routed to a member that hangs is answered by the new owner', async () => {
  const a = cluster.node('a');
  const b = cluster.node('b');
  // A user b owns (the ring is a hash of the ids: try until one lands there).
  let user = null;
  for (let i = 0; i < 40 && !user; i++) {
    const was = { a: await owned('a'), b: await owned('b') };
    const ws = await a.ws(`/ws?userId=reroute-${i}`);
    await ws.next(m => m.type === 'joined');
    // Whichever node owns it counts it (its registry may index it a moment
    // after the ack).
    const now = await eventually(async () => {
      const c = { a: await owned('a'), b: await owned('b') };
      return c.a + c.b > was.a + was.b && c;
    }, 3000, `an owner to count reroute-${i}`);
    if (now.b > was.b) user = `reroute-${i}`;
    await ws.close();
    // Offline again before the next try (no grace: --reconnect-grace 0).
    await eventually(async () => (await owned('a')) === was.a && (await owned('b')) === was.b,
                     3000, 'the try to end');
  }
  assert.ok(user, 'no user of 40 is owned by b');
  b.proc.kill('SIGSTOP');
  try {
    const t0 = Date.now();
    // The upgrade answers once the join is done.
    const ws = await a.ws(`/ws?userId=${user}`);
    const m = await ws.next(m => m.type === 'joined' || m.type === 'error', 8000);
    const took = Date.now() - t0;
    assert.equal(m.type, 'joined', JSON.stringify(m));
    // Detection (failure timeout) and the hand-over, well before the
    // 5 s request timeout.
    assert.ok(took < DETECTION_MS + 2000, `the join took ${took} ms`);
    await eventually(async () => (await a.get(`/api/user-status/${user}`)).body.data.isOnline === true,
                     3000, `${user} online as a reads it`);
    await ws.close();
  } finally {
    b.proc.kill('SIGCONT');
  }
  await cluster.converged();
});
