// Multi-process clusters on loopback for end-to-end tests: real presenced
// processes linked by CAF's middleman, each with its own ports and data dir.

import { Server, eventually } from './harness.mjs';

/**
 * A global-feed watcher on `server`: a WebSocket whose `deltas` collect every
 * `user.status.changed` with the time it came (`at`).
 */
export async function watchGlobal(server) {
  const w = await server.ws('/ws?subscribe=global');
  w.deltas = [];
  w.socket.on('message', d => {
    const m = JSON.parse(String(d));
    if (m.type === 'user.status.changed') w.deltas.push({ ...m, at: Date.now() });
  });
  await w.next(m => m.type === 'welcome');
  // The welcome comes before the session has subscribed (docs/protocol.md,
  // 1.2): the reply to an explicit subscribe (idempotent) says the feed is
  // in place. Without it a join right after could be missed (a flake of
  // e2e_cluster's first case, ~1 run in 10).
  await w.request({ type: 'subscribe', global: true });
  return w;
}

/** Fast failure detection so tests stay short (docs/operations.md). */
export const CLUSTER_ARGS = [
  '--cluster-heartbeat', '100', '--failure-timeout', '1000',
  '--rehome-window', '500', '--reconnect-grace', '0', '--coalesce-window', '20',
];

/** The bound on "dead node's users are offline everywhere": detection,
 *  then the rehome window. */
export const DETECTION_MS = 1000 + 500;

export class Cluster {
  constructor(extra = []) {
    this.extra = extra;
    this.nodes = new Map();  // name -> Server
  }

  /** Starts node `name` (with `args` of its own); the first node seeds the others. */
  async add(name, own = []) {
    const args = ['--cluster-listen', '127.0.0.1:0', '--node-id', name,
                  ...CLUSTER_ARGS, ...this.extra, ...own];
    // Every live node is a seed, as a deployment would list them all.
    const seeds = this.live().map(([, s]) => `127.0.0.1:${s.clusterPort}`);
    if (seeds.length) args.push('--seeds', seeds.join(','));
    const s = await new Server({ args }).start();
    this.nodes.set(name, s);
    return s;
  }

  node(name) { return this.nodes.get(name); }

  /** Nodes that are running. */
  live() {
    return [...this.nodes.entries()].filter(([, s]) => s.proc && s.proc.exitCode === null
                                                       && s.proc.signalCode === null);
  }

  /** Waits until every live node sees exactly the live nodes alive. */
  async converged(ms = 8000, except = []) {
    const want = this.live().map(([n]) => n).filter(n => !except.includes(n)).sort();
    await eventually(async () => {
      for (const [name, s] of this.live()) {
        if (except.includes(name)) continue;
        const r = await s.get('/api/cluster');
        // A node just thawed may answer with an error while its actors
        // catch up (a CI run under load): not converged yet.
        if (r.status !== 200 || !r.body?.data?.nodes) return false;
        const alive = r.body.data.nodes.filter(n => n.state !== 'dead').map(n => n.node_id).sort();
        if (JSON.stringify(alive) !== JSON.stringify(want)) return false;
      }
      return true;
    }, ms, `cluster of ${want.join(',')} to converge`);
  }

  /** Online counts as each live node reports them. */
  async counts(except = []) {
    const out = {};
    for (const [name, s] of this.live())
      if (!except.includes(name))
        out[name] = (await s.get('/api/user-status/online/count')).body.count;
    return out;
  }

  async dispose() {
    for (const s of this.nodes.values()) await s.dispose();
  }
}
