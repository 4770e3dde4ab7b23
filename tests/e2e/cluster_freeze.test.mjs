// A frozen owner (SIGSTOP): its CAF connections stay open, so no down
// message tells the sessions on other nodes that their users' actor is
// unreachable. Quiet clients (they pinged once, then nothing) connected to
// the survivors must stay online there, without a single offline delta:
// the new owners take the frozen node's users over from the replicated open
// records and rehome their sessions. After the thaw the frozen node takes
// its share back, everyone reads online everywhere, and once everyone has
// left nobody is online anywhere (no second user actor kept a device).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { eventually } from './lib/harness.mjs';
import { Cluster, watchGlobal } from './lib/cluster.mjs';

const REHOME_MS = 500; // --rehome-window of CLUSTER_ARGS
const USERS = Array.from({ length: 12 }, (_, i) => `fz${String(i).padStart(2, '0')}`);
const NODES = ['n1', 'n2', 'n3'];
let cluster;
const clients = [];
/** A global-feed watcher per node: every delta, with when it came. */
const watchers = new Map();

async function watch(node) {
  const w = await watchGlobal(cluster.node(node));
  watchers.set(node, w);
}

async function allOnline(node) {
  for (const u of USERS) {
    const r = await cluster.node(node).get(`/api/user-status/${u}`);
    if (r.status !== 200 || r.body.data.isOnline !== true) return false;
  }
  return true;
}

/** Users owned per node, as `node` sees the cluster's figures. */
async function owned(node) {
  const nodes = (await cluster.node(node).get('/api/cluster')).body.data.nodes;
  return Object.fromEntries(nodes.filter(n => n.state !== 'dead').map(n => [n.node_id, n.users_owned]));
}

function noOfflineDelta(since, nodes, phase) {
  for (const n of nodes) {
    const bad = watchers.get(n).deltas.filter(d => d.at >= since && USERS.includes(d.user_id) && !d.is_online);
    if (bad.length && process.env.DEBUG_FREEZE) {
      console.log(phase, n, JSON.stringify(watchers.get(n).deltas.filter(d => d.at >= since && USERS.includes(d.user_id)).map(d => [d.user_id, d.is_online, d.version, d.at - since])));
      for (const [name, s] of cluster.nodes) console.log(name, s.output.split('\n').slice(-40).join('\n'));
    }
    assert.deepEqual(bad.map(d => d.user_id), [], `watcher on ${n} saw a connected user go offline`);
  }
}

before(async () => {
  cluster = new Cluster(process.env.FREEZE_LOG ? ['--log-level', 'debug'] : []);
  for (const n of NODES) await cluster.add(n);
  await cluster.converged();
  for (const n of NODES) await watch(n);
});

after(async () => {
  for (const c of clients) c.terminate();
  for (const w of watchers.values()) w.terminate();
  const n2 = cluster.node('n2');
  if (n2?.proc) n2.proc.kill('SIGCONT');
  await cluster.dispose();
});

test('quiet clients whose owner froze stay online on the survivors without a flicker; no ghost after the thaw', async () => {
  // Everyone connects to n1, pings once, then stays quiet.
  for (const u of USERS) {
    const c = await cluster.node('n1').ws(`/ws?userId=${u}`);
    await c.next(m => m.type === 'joined');
    assert.equal((await c.request({ type: 'ping' })).type, 'pong');
    clients.push(c);
  }
  for (const n of NODES) await eventually(() => allOnline(n), 5000, `everyone online on ${n}`);
  // The premise: n2 owns some of them (figures travel with the cluster's
  // heartbeats).
  await eventually(async () => (await owned('n1')).n2 > 0, 5000, 'n2 to own some of the users');

  const t0 = Date.now();
  const n2 = cluster.node('n2');
  n2.proc.kill('SIGSTOP');
  await cluster.converged(8000, ['n2']);
  // n2's users are taken over: the survivors own all of them...
  await eventually(async () => {
    const o = await owned('n3');
    return o.n2 === undefined && (o.n1 ?? 0) + (o.n3 ?? 0) === USERS.length;
  }, 10000, 'the survivors to own every user');
  // ...and read every one online, with no offline delta on the way, over
  // three rehome windows after the takeover (a device that did not find
  // its new owner would be closed after one).
  const until = Date.now() + 3 * REHOME_MS;
  do {
    for (const n of ['n1', 'n3']) assert.ok(await allOnline(n), `everyone online on ${n} while n2 is frozen`);
  } while (Date.now() < until);
  assert.deepEqual(await cluster.counts(['n2']), { n1: USERS.length, n3: USERS.length });
  noOfflineDelta(t0, ['n1', 'n3'], 'freeze');

  // Thaw: n2 is back and takes its share again, and everyone reads
  // online everywhere, with no offline delta on the way: n2's old user
  // actors are stale (it stood still while the others took its users
  // over) and end without a word instead of dropping the devices on the
  // members it lost the connection to.
  n2.proc.kill('SIGCONT');
  await cluster.converged();
  await eventually(async () => (await owned('n1')).n2 > 0, 10000, 'n2 to own its users again');
  for (const n of NODES) {
    await eventually(() => allOnline(n), 10000, `everyone online on ${n} after the thaw`).catch(async e => {
      if (process.env.DEBUG_FREEZE) {
        for (const u of USERS) {
          const r = await cluster.node(n).get(`/api/user-status/${u}`);
          if (!r.body.data?.isOnline) console.log('not online', n, u, JSON.stringify(r.body));
        }
        for (const [name, s] of cluster.nodes) console.log('=====', name, s.output.split('\n').slice(-80).join('\n'));
      }
      throw e;
    });
  }
  noOfflineDelta(t0, ['n1', 'n3'], 'thaw');

  // Everyone leaves: nobody stays online anywhere.
  for (const c of clients) await c.close();
  await eventually(async () => {
    const c = await cluster.counts();
    if (Object.values(c).some(x => x !== 0)) return false;
    for (const n of NODES)
      for (const u of USERS) {
        const r = await cluster.node(n).get(`/api/user-status/${u}`);
        if (r.body.data.isOnline) return false;
      }
    return true;
  }, 10000, 'nobody online after everyone left').catch(async e => {
    if (process.env.DEBUG_FREEZE) {
      console.log('counts', JSON.stringify(await cluster.counts()));
      for (const n of NODES)
        for (const u of USERS) {
          const r = await cluster.node(n).get(`/api/user-status/${u}`);
          if (r.body.data.isOnline) console.log('online', n, u, JSON.stringify(r.body.data));
        }
      for (const [name, s] of cluster.nodes) console.log('=====', name, s.output.split('\n').slice(-80).join('\n'));
    }
    throw e;
  });
});
