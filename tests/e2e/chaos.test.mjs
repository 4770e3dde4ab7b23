// Chaos: a 3-node cluster while users join, heartbeat and leave; faults in
// turn: kill -9 a random node and restart it with its data dir, or
// SIGSTOP a node for a while and SIGCONT it. A checker keeps what clients
// were told (joined, pongs, closes) and what readers saw, and asserts:
// - no last_seen once read goes backwards, and every offline user's
//   last_seen covers their last acknowledged activity (within the
//   checkpoint bound when their node, or a node around their close,
//   died or froze);
// - no lost online user: after each fault, every connected client that was
//   acknowledged reads online on every live node;
// - no ghost: once every client has left, nobody reads online anywhere;
// - the survivors agree within the detection bound after each fault.
// The short version (90 users, 4 rounds: two kills, two freezes, ~30 s)
// runs in make test; `make chaos` runs the long one (CHAOS_USERS=600,
// CHAOS_ROUNDS=10). CHAOS_DEBUG=1 runs the nodes at debug level (=trace:
// every activity report too), and
// CHAOS_LOGS=dir writes their logs there and prints when each fault
// happened and how long the nodes took to agree (docs/operations.md,
// "Chaos"). Figures go to stdout as one JSON line.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Client, eventually, withTimeout } from './lib/harness.mjs';
import { Cluster, DETECTION_MS } from './lib/cluster.mjs';

const USERS = Number(process.env.CHAOS_USERS ?? 90);
const ROUNDS = Number(process.env.CHAOS_ROUNDS ?? 4);
const CHECKPOINT_MS = 1000;
const SLACK = 2500;          // scheduling on a loaded 2-core machine
const STOP_MS = 2000;        // how long a node stays frozen (> failure timeout)
const names = ['n1', 'n2', 'n3'];
const cluster = new Cluster(['--checkpoint-interval', String(CHECKPOINT_MS),
                             ...(process.env.CHAOS_DEBUG
                               ? ['--log-level', process.env.CHAOS_DEBUG === 'trace' ? 'trace' : 'debug'] : [])]);

/** user -> { client, node, busy, acked, lastAck, acks, floor, closes };
 *  `acks`: the times of its recent acknowledged activity, oldest first;
 *  `closes`: the closes the server answered (closeFloor). */
const users = new Map();
/** user -> the newest last_seen (ms) any reader saw while it was offline,
 *  { ls, node, at }: which node gave it and when. */
const seenLastSeen = new Map();
const frozen = new Set();
/** node -> when it was last killed or frozen. */
const faultAt = new Map();
/** When every kill and freeze happened (any node). */
const faultTimes = [];
const figures = { faults: [], ops: { joins: 0, pings: 0, leaves: 0, lost: 0 }, reads: 0, stalls: [] };

/** With CHAOS_LOGS: when each fault happened (goes with the node logs). */
const mark = what => {
  if (process.env.CHAOS_LOGS) console.log(`# ${new Date().toISOString()} ${what}`);
};
const pick = xs => xs[Math.floor(Math.random() * xs.length)];
const reachable = () => cluster.live().map(([n]) => n).filter(n => !frozen.has(n));
const ids = () => [...users.keys()];

/** With CHAOS_LOGS: every node's log (earlier lives included) to that dir. */
function writeLogs() {
  if (!process.env.CHAOS_LOGS) return;
  mkdirSync(process.env.CHAOS_LOGS, { recursive: true });
  for (const [n, srv] of cluster.nodes)
    writeFileSync(`${process.env.CHAOS_LOGS}/${n}.log`, srv.earlierOutput + srv.output);
}

/** Set once the test is over (passed or failed): client loops end. */
let halted = false;

after(async () => {
  // A failed check leaves a drive() loop running (its stop() is never
  // called): without this it kept node's test runner alive until its
  // timeout.
  halted = true;
  writeLogs();
  for (const u of users.values()) u.client?.terminate();
  for (const n of frozen) cluster.node(n).proc.kill('SIGCONT');
  await cluster.dispose();
});

/** `u`'s client was told its activity was recorded (joined, pong);
 *  `sent`: when it asked (the server's clock read comes after that). */
function acked(u, sent) {
  u.lastAck = sent;
  u.acks.push(u.lastAck);
  // Enough history for the crash bound: the newest ack older than it, and
  // every one since.
  const keep = u.lastAck - 4 * (2 * CHECKPOINT_MS + SLACK);
  while (u.acks.length > 1 && u.acks[1] < keep) u.acks.shift();
}

/** `u` lost its client without the server answering (its node died or
 *  froze). A crash loses what the node had not checkpointed yet: activity
 *  reaches the user actor within a checkpoint interval and is
 *  checkpointed at once, so its last_seen must cover every acknowledged
 *  activity from two checkpoint intervals (and scheduling slack) before
 *  the fault, but not what came after (a client that pinged 0.1 s before a
 *  kill may have pinged 4 s before that the time before). The fault is
 *  the kill or freeze of its node if nothing was acknowledged since, else
 *  now (the close itself). */
function lost(u) {
  const now = Date.now();
  const f = faultAt.get(u.node);
  // (A pong already on its way when the node was stopped may come after.)
  const fault = f !== undefined && f >= u.lastAck - 500 ? Math.min(f, now) : now;
  const cutoff = fault - 2 * CHECKPOINT_MS - SLACK;
  const covered = u.acks.filter(t => t <= cutoff).at(-1);
  if (covered !== undefined) u.floor = Math.max(u.floor, covered);
}

/** The bound for a close the server answered: the last acknowledged
 *  activity, unless a node died or froze around it. The close is answered
 *  by the client's node, while the user's owner (maybe another node)
 *  writes last_seen: if the owner dies or stands still before that write
 *  reached the replicas, the crash bound of that fault holds instead
 *  (two checkpoint intervals and slack before the fault). The checker does
 *  not know the owner, so any fault in the window counts. */
function closeFloor(c) {
  const window = 2 * CHECKPOINT_MS + SLACK;
  const f = faultTimes.find(t => t >= c.lastAck - window && t <= c.at + window);
  if (f === undefined) return c.lastAck;
  return c.acks.filter(t => t <= f - window).at(-1) ?? 0;
}

/** The bound `u`'s last_seen must meet at the end. */
const floorOf = u => Math.max(u.floor, ...u.closes.map(closeFloor));

/** One client action for `id`: join when offline; else ping, or leave.
 *  `pingsOnly`: connected clients heartbeat, nobody joins or leaves (what
 *  clients do while the checker compares the nodes). */
async function act(id, pingsOnly = false) {
  const u = users.get(id);
  if (u.busy || (pingsOnly && !u.client)) return;
  u.busy = true;
  try {
    if (!u.client) {
      const node = pick(reachable());
      // A new session: what the last one acknowledged is in u.floor (its
      // loss) or u.closes (its close) already. Kept here, a join that
      // failed on a node killed now measured that session's acks (on
      // another node, maybe frozen since) against this node's kill
      // (CI, 2026-12-05: acks on frozen n2, bound from n3's kill).
      u.acks = [];
      const sent = Date.now();
      const c = new Client(`${cluster.node(node).wsUrl}/ws?userId=${id}`);
      c.socket.on('error', () => {});
      c.socket.on('close', () => {
        if (u.client !== c) return;
        note(u, `lost on ${node}`);
        // Not closed by us: its node died or froze. Its last_seen must
        // still cover the last acknowledged activity, less what a crash
        // may lose (two checkpoint intervals).
        u.client = null;
        u.acked = false;
        lost(u);
        figures.ops.lost++;
      });
      u.client = c;
      u.node = node;
      note(u, `join on ${node}`);
      try {
        // A node frozen meanwhile accepts the TCP connection and says
        // nothing: no join then, and no client left behind either.
        await withTimeout(c.opened, 4000, 'the upgrade');
        await c.next(m => m.type === 'joined', 4000);
      } catch (e) {
        note(u, `join failed: ${e.message}`);
        u.client = null;
        c.terminate();
        throw e;
      }
      u.acked = true;
      acked(u, sent);
      note(u, `joined (sent ${new Date(sent).toISOString().slice(11, 23)})`);
      figures.ops.joins++;
    } else if (!pingsOnly && Math.random() < 0.25) {
      await leave(u);
    } else {
      const sent = Date.now();
      const r = await u.client.request({ type: 'ping' }, 2000);
      if (r.type === 'pong') {
        note(u, `pong (sent ${new Date(sent).toISOString().slice(11, 23)})`);
        acked(u, sent);
        figures.ops.pings++;
      }
    }
  } catch (e) {
    note(u, `failed: ${e?.message}`);
    // A node went away under this client: the close handler above (or the
    // next action) deals with it.
    if (u.client && u.client.socket.readyState !== 1) {
      u.client.terminate();
      u.client = null;
      u.acked = false;
      lost(u); // its close handler no longer counts it (u.client is gone)
    }
  } finally {
    u.busy = false;
  }
}

/** Closes `u`'s client. A close the server answered means last_seen covers
 *  the last pong; one it did not answer (its node froze or died) only the
 *  crash bound. */
async function leave(u) {
  const c = u.client;
  u.client = null;
  u.acked = false;
  try {
    note(u, 'close');
    await withTimeout(c.close(), 3000, 'the close handshake');
    note(u, 'closed');
    u.closes.push({ at: Date.now(), lastAck: u.lastAck, acks: [...u.acks] });
    figures.ops.leaves++;
  } catch {
    note(u, 'close unanswered');
    c.terminate();
    lost(u);
    figures.ops.lost++;
  }
}

/** Clients act until `stop()` is called. */
function drive(pingsOnly = false) {
  let running = true;
  const loop = (async () => {
    while (running && !halted) {
      for (let i = 0; i < Math.max(3, USERS / 15); i++) act(pick(ids()), pingsOnly);
      await new Promise(r => setTimeout(r, 100));
    }
  })();
  return async () => {
    running = false;
    await loop;
    await eventually(() => [...users.values()].every(u => !u.busy), 8000, 'client actions to finish');
  };
}

/** Statuses of every user as `node` reads them (null if it cannot answer). */
async function read(node) {
  let r;
  try {
    r = await cluster.node(node).http('POST', '/api/user-status/batch', { body: { userIds: ids() } });
  } catch (e) {
    figures.lastReadError = `${node}: ${e.message} ${e.cause?.code ?? ''}`;
    return null;
  }
  if (r.status !== 200) {
    figures.lastReadError = `${node}: ${r.status} ${(r.text ?? '').slice(0, 200)}`;
    return null;
  }
  figures.reads++;
  return new Map(r.body.data.map(s => [s.userId, s]));
}

/** Notes what `u`'s client did (the last 20 events go into failure
 *  messages). */
function note(u, what) {
  u.events.push(`${new Date().toISOString().slice(11, 23)} ${what}`);
  if (u.events.length > 20) u.events.shift();
}

/** What the clients of (at most 5) users named in `text` did. */
function clientsOf(text) {
  const ids = [...new Set(text.match(/chaos-\d{4}/g) ?? [])].slice(0, 5);
  return ids.map(id => `\n  ${id} client: ${users.get(id)?.events.join(', ')}`).join('');
}

/** What `id`'s client did and what every node says of it now (for
 *  failure messages; with CHAOS_LOGS the node logs are written too). */
async function explain(id) {
  const out = [`client: ${users.get(id).events.join(', ')}`,
               `faults: ${figures.faults.length} done; kills/freezes at ${faultTimes.map(t => new Date(t).toISOString().slice(11, 23))}`];
  for (const n of reachable()) {
    try {
      const r = await cluster.node(n).get(`/api/users/${id}/status`);
      const h = await cluster.node(n).get(`/api/users/${id}/history?limit=3`);
      out.push(`${n}: ${JSON.stringify(r.body.data ?? r.body)} history ${JSON.stringify(h.body.data ?? h.body)}`);
    } catch (e) {
      out.push(`${n}: ${e.message}`);
    }
  }
  writeLogs();
  return `\n  ${out.join('\n  ')}`;
}

/** Checks last_seen against what readers saw before and the floors. */
async function checkLastSeen(node, statuses, final = false) {
  for (const [id, s] of statuses) {
    if (s.isOnline) continue;
    const ls = s.lastSeen ? Date.parse(s.lastSeen) : 0;
    const seen = seenLastSeen.get(id);
    const before = seen?.ls ?? 0;
    if (ls < before)
      assert.fail(`${id} on ${node}: last_seen went back from ${before} to ${ls} (${new Date(before).toISOString()} -> ${new Date(ls).toISOString()}; read on ${seen.node} at ${seen.at})${await explain(id)}`);
    if (ls > before) seenLastSeen.set(id, { ls, node, at: new Date().toISOString().slice(11, 23) });
    if (final && ls < floorOf(users.get(id))) {
      const u = users.get(id);
      assert.fail(`${id} on ${node}: last_seen ${ls} older than its last acknowledged activity bound ${floorOf(u)}`
                  + ` (last on ${u.node}, last ack ${new Date(u.lastAck).toISOString()}, acks ${u.acks.map(t => new Date(t).toISOString().slice(11, 23))})${await explain(id)}`);
    }
  }
}

/** Every reachable node agrees that exactly the acknowledged, connected
 *  users are online; resolves with how long it took. */
/** The users that must read online: acknowledged, connected clients on
 *  nodes that are not frozen. */
function wanted() {
  return ids().filter(id => {
    const u = users.get(id);
    return u.acked && u.client && u.client.socket.readyState === 1 && !frozen.has(u.node);
  }).sort();
}

/** Why `node`'s statuses `st` differ from `want` ('' if they agree). */
async function disagreement(node, st, want) {
  const online = [...st.values()].filter(s => s.isOnline).map(s => s.userId).sort();
  if (JSON.stringify(online) === JSON.stringify(want)) return '';
  const lost = want.filter(id => !online.includes(id));
  const ghosts = online.filter(id => !want.includes(id));
  let why = `${node}: lost ${lost.slice(0, 5)} (${lost.length}), ghosts ${ghosts.slice(0, 5)} (${ghosts.length})`
    + ` [lost users' nodes: ${lost.slice(0, 5).map(id => users.get(id).node)}]`;
  if (process.env.CHAOS_LOGS && lost.length) {
    const id = lost[0];
    const views = [];
    for (const n of reachable()) {
      const r = await cluster.node(n).get(`/api/users/${id}/status`);
      views.push(`${n}: ${JSON.stringify(r.body.data ?? r.body)}`);
    }
    why += `\n  ${id} as each node reads it:\n  ${views.join('\n  ')}`;
  }
  return why;
}

/** Every reachable node agrees that exactly the acknowledged, connected
 *  users are online; resolves with how long after `since` the earliest
 *  round of reads that agreed began its last read. A round reads every
 *  reachable node, one after the other; a new
 *  round starts every 50 ms while earlier ones may still wait (a read that
 *  needs a frozen owner waits out the request timeout until the node is
 *  declared dead): that wait is the reads' stall, reported apart, not the
 *  cluster's disagreement. last_seen is checked afterwards, by one round
 *  read in order (concurrent rounds finish out of order). */
async function agreement(since, ms, what) {
  let last = '';
  const beat = drive(true);
  const deadline = Date.now() + ms;
  let agreedAt = null;
  let stall = 0;
  const inFlight = new Set();
  const round = async () => {
    const want = wanted();
    // When the round's last read began: every node it read agreed by then
    // (its reads run one after the other).
    let started = 0;
    for (const node of reachable()) {
      const t = Date.now();
      started = t;
      const st = await read(node);
      stall = Math.max(stall, Date.now() - t);
      if (!st) { last = `${node} did not answer (${figures.lastReadError})`; return; }
      const why = await disagreement(node, st, want);
      if (why) { last = why; return; }
    }
    if (agreedAt === null || started < agreedAt) agreedAt = started;
  };
  while (agreedAt === null && Date.now() < deadline) {
    if (inFlight.size < 40) {
      const p = round();
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    }
    await new Promise(r => setTimeout(r, 50));
  }
  await Promise.all(inFlight);
  if (agreedAt === null) {
    await beat();
    writeLogs();
    throw new Error(`timed out after ${ms} ms: ${what}: every node to agree\nlast disagreement: ${last}${clientsOf(last)}`);
  }
  const took = Math.max(0, agreedAt - since);
  mark(`${what}: agreed after ${took} ms (slowest read ${stall} ms); the last disagreement before: ${last || 'none'}`);
  // The same answer read in order, with the last_seen checks.
  await eventually(async () => {
    const want = wanted();
    for (const node of reachable()) {
      const st = await read(node);
      if (!st) { last = `${node} did not answer (${figures.lastReadError})`; return false; }
      await checkLastSeen(node, st);
      if ((last = await disagreement(node, st, want))) return false;
    }
    return true;
  }, ms, `${what}: every node to agree (in order)`).catch(e => {
    e.message += `\nlast disagreement: ${last}${clientsOf(last)}`;
    throw e;
  });
  await beat();
  figures.stalls.push(stall);
  return took;
}

test('chaos: kill -9, restart, SIGSTOP/SIGCONT while users come and go',
     { timeout: 1_800_000 }, async () => {
  for (let i = 0; i < USERS; i++)
    users.set(`chaos-${String(i).padStart(4, '0')}`, { client: null, node: null, busy: false, acked: false, lastAck: 0, acks: [], floor: 0, closes: [], events: [] });
  for (const n of names) await cluster.add(n);
  await cluster.converged();

  for (let round = 0; round < ROUNDS; round++) {
    // Activity, then the clients pause while the cluster must agree.
    let stop = drive();
    await new Promise(r => setTimeout(r, 1500));
    await stop();
    await agreement(Date.now(), 10_000, `round ${round}: before the fault`);

    stop = drive();
    const victim = pick(reachable());
    const t0 = Date.now();
    let kind;
    if (round % 2 === 0) {
      kind = 'kill9+restart';
      // Clients act right up to the kill; then only the checker's pings, so
      // the agreement time is the cluster's (actions in flight toward the
      // dead node fail at once).
      // (The agreement's rounds start while client actions toward the dead
      // node still wait for their timeouts: each round takes the clients'
      // state as it is when it begins.)
      mark(`kill -9 ${victim}`);
      faultAt.set(victim, Date.now());
      faultTimes.push(Date.now());
      await cluster.node(victim).kill9();
      const stopping = stop();
      const detected = await agreement(t0, DETECTION_MS + SLACK + 4000, `round ${round}: ${victim} killed`);
      await stopping;
      stop = drive();
      const t1 = Date.now();
      mark(`restart ${victim}`);
      await cluster.node(victim).start();
      await cluster.converged(15_000);
      await stop();
      const rejoined = await agreement(t1, 10_000, `round ${round}: ${victim} restarted`);
      figures.faults.push({ kind, node: victim, agree_ms: detected, rejoin_agree_ms: rejoined });
    } else {
      kind = 'sigstop+sigcont';
      // Quiet clients while the others detect the freeze (actions toward
      // a frozen node wait for their timeouts, which would be measured);
      // then clients act again, toward the frozen node too, until the thaw.
      await stop();
      const tStop = Date.now();
      frozen.add(victim);
      mark(`SIGSTOP ${victim}`);
      faultAt.set(victim, Date.now());
      faultTimes.push(Date.now());
      cluster.node(victim).proc.kill('SIGSTOP');
      // Its users are offline elsewhere (its clients cannot be reached).
      const detected = await agreement(tStop, DETECTION_MS + SLACK + 4000, `round ${round}: ${victim} frozen`);
      stop = drive();
      await new Promise(r => setTimeout(r, Math.max(0, STOP_MS - (Date.now() - tStop))));
      await stop();
      const t1 = Date.now();
      mark(`SIGCONT ${victim}`);
      cluster.node(victim).proc.kill('SIGCONT');
      frozen.delete(victim);
      await cluster.converged(15_000);
      const healed = await agreement(t1, 15_000, `round ${round}: ${victim} thawed`);
      figures.faults.push({ kind, node: victim, agree_ms: detected, heal_agree_ms: healed });
    }
  }

  // Everyone leaves: no ghost anywhere, and every last_seen covers the
  // last acknowledged activity.
  await Promise.all([...users.values()].filter(u => u.client).map(leave));
  const tEnd = Date.now();
  const emptied = await agreement(tEnd, DETECTION_MS + SLACK, 'everyone left');
  for (const node of reachable()) {
    const st = await read(node);
    assert.ok(st, `${node} answers`);
    await checkLastSeen(node, st, true);
    // The count sums every registry's own users: it agrees as soon as no
    // node runs an online user actor any more.
    let count;
    await eventually(async () => {
      count = (await cluster.node(node).get('/api/user-status/online/count')).body.count;
      return count === 0;
    }, DETECTION_MS + SLACK, `${node} to count nobody online`).catch(async e => {
      const list = (await cluster.node(node).get('/api/user-status/online?limit=10')).body;
      writeLogs();
      e.message += `: ${count} counted, listed ${JSON.stringify(list)}`;
      throw e;
    });
  }
  // Agreement after each kind of fault: p50 and max.
  const spread = kind => {
    const xs = figures.faults.filter(f => f.kind === kind).map(f => f.agree_ms).sort((a, b) => a - b);
    return xs.length ? { p50: xs[Math.floor(xs.length / 2)], max: xs.at(-1) } : null;
  };
  console.log(JSON.stringify({
    chaos: {
      users: USERS, rounds: ROUNDS, ...figures.ops, reads: figures.reads,
      agree_ms_after_kill9: spread('kill9+restart'), agree_ms_after_freeze: spread('sigstop+sigcont'),
      slowest_read_ms: Math.max(...figures.stalls),
      emptied_ms: emptied, faults: figures.faults,
    },
  }));
});
