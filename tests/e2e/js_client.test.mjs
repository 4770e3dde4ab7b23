// The JavaScript client for the native protocol (clients/js) against the
// real binary: join and presence through subscribe (snapshot, then
// deltas), versions that never go backwards in its state map, set_status,
// the global feed, heartbeats that keep a device past a short
// --heartbeat-ttl, a dead connection found by missing pongs (a frozen
// server), a server restart mid-session (the client reconnects, rejoins,
// resubscribes and converges), resync after a dropped connection, close()
// that stops reconnecting, the cases that must not reconnect (replaced,
// an expired fixed token), a token function for JWT mode and a refused
// automatic join. The client is given ws's WebSocket (Node 20 has no
// global one).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import WebSocket from 'ws';
import { Server, signJwt, withTimeout } from './lib/harness.mjs';
import {
  PresenceClient, PresenceState, PresenceError, backoffDelay, heartbeatInterval,
} from '../../clients/js/index.js';

let srv;

before(async () => {
  // A short grace so offline deltas come soon; a resync margin smaller than
  // the time the tests take to reach the resync (the node's change log
  // starts with the node: `since` minus the margin must be after it).
  srv = await new Server({
    args: ['--reconnect-grace', '0.3', '--resync-margin', '200'],
  }).start();
});

after(async () => {
  await srv.dispose();
});

/**
 * A client on `server` with ws's WebSocket, closed when test `t` ends;
 * `c.sockets` are the sockets it opened (to count them, or to cut one as a
 * network failure would).
 */
function client(t, server, opts = {}) {
  const sockets = [];
  class TrackedWebSocket extends WebSocket {
    constructor(...args) {
      super(...args);
      sockets.push(this);
    }
  }
  const c = new PresenceClient({
    url: server.wsUrl, WebSocket: TrackedWebSocket, requestTimeoutMs: 5000, ...opts,
  });
  c.sockets = sockets;
  t.after(() => c.close());
  // Invariant of every test: a state replaces another of the same user
  // only with a greater version (or, at an equal one, a change replaces a
  // snapshot's different read: see PresenceState).
  c.violations = [];
  c.on('change', ({ user, previous, source }) => {
    if (user && previous && !(user.version > previous.version
                              || (user.version === previous.version && source !== 'snapshot')))
      c.violations.push({ user, previous, source });
  });
  return c;
}

/** Resolves with the next `type` event of `c` for which `pred` holds. */
function nextEvent(c, type, pred = () => true, ms = 5000) {
  let off;
  const p = new Promise(resolve => {
    off = c.on(type, d => { if (pred(d)) { off(); resolve(d); } });
  });
  return withTimeout(p, ms, `${type} event`).finally(() => off());
}

/**
 * Resolves once `check()` holds: now, or after one of `c`'s changes. On a
 * timeout the error shows `c`'s map.
 */
async function until(c, check, ms = 5000, what = 'state') {
  if (check()) return;
  let off;
  const p = new Promise(resolve => {
    off = c.on('change', () => { if (check()) { off(); resolve(); } });
  });
  try {
    await withTimeout(p, ms, what);
  } catch (err) {
    err.message += `; ${c.state}, map: ${JSON.stringify([...c.users.values()])}`;
    throw err;
  } finally {
    off();
  }
}

/** A port on 127.0.0.1 nothing listens on. */
async function deadPort() {
  const s = net.createServer();
  await new Promise(r => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise(r => s.close(r));
  return port;
}

test('pure parts: backoff is capped and jittered, heartbeat follows the TTL, the state map keeps the newest version', () => {
  const r = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 };
  assert.equal(backoffDelay(0, r, () => 0), 100);
  assert.equal(backoffDelay(0, r, () => 1), 50);
  assert.equal(backoffDelay(3, r, () => 0), 800);
  assert.equal(backoffDelay(10, r, () => 0), 1000);         // capped
  assert.equal(backoffDelay(10, r, () => 0.999), 500);      // jitter within the cap
  assert.equal(heartbeatInterval(90000), 30000);
  assert.equal(heartbeatInterval(1000), 333);
  assert.equal(heartbeatInterval(600000), 30000);
  assert.equal(heartbeatInterval(undefined), 30000);

  const s = new PresenceState();
  const at = (version, status) => ({ user_id: 'u', version, status, is_online: status !== 'offline' });
  assert.equal(s.apply(at(10, 'online')), true);
  assert.equal(s.apply(at(9, 'offline')), false);           // older
  assert.equal(s.apply(at(10, 'busy')), false);             // same version: same state
  assert.equal(s.get('u').status, 'online');
  assert.equal(s.apply(at(11, 'away')), true);
  assert.equal(s.get('u').status, 'away');
  assert.equal(s.newestVersion, 11);
  assert.equal(s.apply({ user_id: 'u' }), false);           // no version: ignored
  assert.ok(Object.isFrozen(s.get('u')));

  // Equal versions: a change replaces a snapshot's read only if it differs
  // (a subscribe during a first join can read the join's version with the
  // state before it); nothing else replaces a state of the same version.
  const v = (version, is_online, type) => ({ user_id: 'w', version, is_online,
                                               status: is_online ? 'online' : 'offline', type });
  assert.equal(s.apply(v(5, false)), true);                             // a snapshot's read
  assert.equal(s.apply(v(5, false, 'user.status.changed')), false);     // same state
  assert.equal(s.apply(v(5, true, 'user.status.changed')), true);       // the change itself
  assert.equal(s.apply(v(5, false, 'user.status.changed')), false);     // change vs change
  assert.equal(s.apply(v(5, false)), false);                            // read vs change
  assert.equal(s.apply(v(5, false), 'resync'), false);
  assert.equal(s.get('w').is_online, true);
});

test('join, then another user seen through subscribe: snapshot first, then deltas; set_status; leave', async t => {
  const alice = client(t, srv, { userId: 'alice', deviceId: 'a-laptop', platform: 'test' });
  const changes = [];
  alice.on('change', d => changes.push(d));
  const ready = nextEvent(alice, 'ready');
  await alice.connect();
  assert.deepEqual(await ready, { reconnected: false, sync: 'none' });
  assert.equal(alice.state, 'ready');
  assert.equal(alice.userId, 'alice');
  assert.equal(alice.deviceId, 'a-laptop');
  assert.equal(alice.self.user_id, 'alice');
  assert.equal(alice.self.is_online, true);
  assert.equal(alice.self.devices[0].platform, 'test');
  assert.equal(alice.welcome.heartbeat_ttl_ms, 90000);
  assert.equal(alice.heartbeatIntervalMs, 30000);

  // Snapshot: bob was never seen (version 0, offline).
  const [snap] = await alice.subscribe(['bob']);
  assert.equal(snap.user_id, 'bob');
  assert.equal(snap.is_online, false);
  assert.equal(snap.version, 0);
  assert.equal(alice.users.get('bob'), snap);
  assert.deepEqual(changes.map(c => [c.userId, c.source]), [['bob', 'snapshot']]);
  assert.deepEqual(alice.subscriptions, { userIds: ['bob'], global: false });

  // Delta: bob joins.
  const bob = client(t, srv, { userId: 'bob', deviceId: 'b-phone' });
  const bobOnline = nextEvent(alice, 'change', d => d.userId === 'bob' && d.user.is_online);
  await bob.connect();
  const d1 = await bobOnline;
  assert.equal(d1.source, 'delta');
  assert.equal(d1.previous, snap);
  assert.equal(d1.user.version, bob.self.version);
  assert.equal(d1.user.status, 'online');
  assert.ok(d1.user.online_since);

  // set_status: the reply is bob's own user; alice gets the delta.
  const busy = nextEvent(alice, 'change', d => d.userId === 'bob' && d.user.status === 'busy');
  const mine = await bob.setStatus('busy');
  assert.equal(mine.status, 'busy');
  assert.equal(bob.self, mine);
  const d2 = await busy;
  assert.equal(d2.source, 'delta');
  assert.ok(d2.user.version > d1.user.version);
  assert.equal(d2.user.version, mine.version);

  // The status message: a delta of its own.
  const texted = nextEvent(alice, 'change', d => d.userId === 'bob' && d.user.status_text === 'In a meeting');
  const withText = await bob.setStatus({ text: 'In a meeting', expiresIn: 600 });
  assert.equal(withText.status_text, 'In a meeting');
  assert.ok(withText.status_expires_at);
  assert.equal((await texted).user.status, 'busy');

  // A second follower's snapshot holds what alice holds.
  const carol = client(t, srv, { userId: 'carol' });
  await carol.connect();
  const [seen] = await carol.subscribe(['bob']);
  assert.equal(seen.version, alice.users.get('bob').version);
  assert.equal(seen.status, 'busy');
  assert.ok(/^dev-/.test(carol.deviceId), carol.deviceId);   // the server's id

  // Refusals: a status the protocol has not (client side), and set_status
  // without a join (server side), which leaves nothing to restore.
  await assert.rejects(bob.setStatus('offline'), TypeError);
  const watcher = client(t, srv);
  await watcher.connect();
  assert.equal(watcher.userId, null);
  await assert.rejects(watcher.setStatus('away'),
                       e => e instanceof PresenceError && e.code === 'not_joined');

  // Bob closes: alice sees him go offline, with when he was last seen.
  const gone = nextEvent(alice, 'change', d => d.userId === 'bob' && !d.user.is_online);
  await bob.close();
  const d3 = await gone;
  assert.equal(d3.user.status, 'offline');
  assert.ok(d3.user.last_seen);
  assert.equal(d3.user.status_text, null);
  assert.ok(d3.user.version > d2.user.version);

  // Unsubscribing drops bob from the map.
  const dropped = nextEvent(alice, 'change', d => d.userId === 'bob' && d.user === null);
  await alice.unsubscribe(['bob']);
  assert.equal((await dropped).source, 'unsubscribe');
  assert.equal(alice.users.has('bob'), false);
  for (const c of [alice, carol]) assert.deepEqual(c.violations, []);
  await Promise.all([alice.close(), carol.close(), watcher.close()]);
});

test('the state map never goes back in version: older or equal deltas are dropped, unfollowed users ignored', async t => {
  const vic = client(t, srv, { userId: 'vic' });
  const dan = client(t, srv, { userId: 'dan', status: 'away' });
  await dan.connect();
  assert.equal(dan.self.status, 'away');                    // the status option, after the join
  await vic.connect();
  const [held] = await vic.subscribe(['dan']);
  assert.equal(held.is_online, true);
  assert.equal(held.status, 'away');
  const changes = [];
  vic.on('change', d => changes.push(d));

  const delta = (version, extra = {}) => JSON.stringify({
    type: 'user.status.changed', user_id: 'dan', is_online: false, status: 'offline',
    last_seen: null, last_seen_ms: null, online_since: null, version, ...extra,
  });
  vic.receive(delta(held.version - 1));                     // older: dropped
  vic.receive(delta(held.version - 1000, { is_online: true, status: 'dnd' }));
  vic.receive(delta(held.version, {                         // equal, the same state
    is_online: true, status: 'away', online_since: held.online_since, last_seen: 'x' }));
  assert.equal(vic.users.get('dan'), held);
  assert.equal(changes.length, 0);
  vic.receive(delta(held.version + 1, { user_id: 'stranger' }));   // not followed
  assert.equal(vic.users.has('stranger'), false);

  // A real, newer delta still goes through; then an old one arriving late
  // (the server's previous state) is dropped again.
  const dnd = nextEvent(vic, 'change', d => d.userId === 'dan' && d.user.status === 'dnd');
  await dan.setStatus('dnd');
  const now = (await dnd).user;
  assert.ok(now.version > held.version);
  vic.receive({ ...held, type: 'user.status.changed' });
  vic.receive(delta(now.version));                          // equal to a change: dropped
  assert.equal(vic.users.get('dan'), now);
  assert.equal(changes.length, 1);
  assert.ok(vic.cursor >= now.version);
  assert.deepEqual(vic.violations, []);
  await Promise.all([vic.close(), dan.close()]);
});

test('the global feed: a snapshot of everyone online, then deltas of anyone', async t => {
  const erin = client(t, srv, { userId: 'erin' });
  await erin.connect();
  const watch = client(t, srv, { global: true });
  const ready = nextEvent(watch, 'ready');
  await watch.connect();
  assert.deepEqual(await ready, { reconnected: false, sync: 'snapshot' });
  assert.equal(watch.users.get('erin')?.is_online, true);
  assert.ok(watch.users.online().some(u => u.user_id === 'erin'));
  const frank = client(t, srv, { userId: 'frank' });
  const seen = nextEvent(watch, 'change', d => d.userId === 'frank' && d.user.is_online);
  await frank.connect();
  assert.equal((await seen).source, 'delta');
  // Leaving the feed empties the map of those not followed by id.
  await watch.unsubscribeGlobal();
  assert.equal(watch.users.size, 0);
  assert.deepEqual(watch.violations, []);
  await Promise.all([erin.close(), frank.close(), watch.close()]);
});

test('heartbeats keep a device online past a short --heartbeat-ttl; missing pongs end a dead connection', async t => {
  const ttlSrv = await new Server({ args: ['--heartbeat-ttl', '1.5', '--reconnect-grace', '0.2'] }).start();
  t.after(() => ttlSrv.dispose());
  const hal = client(t, ttlSrv, { userId: 'hal', deviceId: 'h1', connectTimeoutMs: 1500,
                               reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
  const watch = client(t, ttlSrv, { subscribe: ['hal', 'ctl'] });
  const bad = [];
  hal.on('expired', d => bad.push(['expired', d]));
  hal.on('disconnected', d => bad.push(['disconnected', d]));
  await hal.connect();
  await watch.connect();
  assert.equal(hal.welcome.heartbeat_ttl_ms, 1500);
  assert.equal(hal.heartbeatIntervalMs, 500);               // a third of it
  const joinedVersion = watch.users.get('hal').version;
  assert.equal(watch.users.get('hal').is_online, true);

  // The control: a device that does not ping expires within the TTL.
  const ctl = await ttlSrv.ws('/ws?userId=ctl');
  const expired = ctl.next(m => m.type === 'session.expired', 5000);
  const start = Date.now();
  assert.equal((await expired).reason, 'heartbeat timeout');
  assert.equal((await ctl.closed).code, 4000);
  await until(watch, () => watch.users.get('ctl')?.is_online === false, 3000, 'ctl offline');

  // Meanwhile, and for three TTLs, hal's pings keep it.
  let pongs = 0;
  await withTimeout(new Promise(resolve => {
    const off = hal.on('heartbeat', () => {
      pongs += 1;
      if (Date.now() - start > 4500) { off(); resolve(); }
    });
  }), 9000, 'three TTLs of heartbeats');
  assert.ok(pongs >= 6, `pongs: ${pongs}`);
  assert.deepEqual(bad, []);
  assert.equal(hal.state, 'ready');
  const seen = watch.users.get('hal');
  assert.equal(seen.is_online, true);
  assert.equal(seen.version, joinedVersion);                // never went offline and back
  const rest = await ttlSrv.get('/api/user-status/hal');
  assert.equal(rest.body.data.isOnline, true);

  // Freeze the server: pongs stop, the client gives the connection up,
  // retries (its new socket gets no welcome while frozen) and is back once
  // the server thaws.
  const dead = nextEvent(hal, 'disconnected', () => true, 5000);
  const back = nextEvent(hal, 'ready', () => true, 10000);
  ttlSrv.proc.kill('SIGSTOP');
  let d;
  try {
    d = await dead;
  } finally {
    ttlSrv.proc.kill('SIGCONT');
  }
  assert.match(d.reason, /no pong within 2000 ms/);
  assert.equal(d.willReconnect, true);
  assert.deepEqual(await back, { reconnected: true, sync: 'none' });
  assert.equal(hal.self.is_online, true);
  assert.deepEqual(watch.violations, []);
  await Promise.all([hal.close(), watch.close()]);
});

test('a server restart mid-session: the client reconnects, rejoins, resubscribes and converges', async t => {
  const rs = await new Server({ args: ['--reconnect-grace', '0.3'] }).start();
  t.after(() => rs.dispose());
  // While this server restarts, its port is free: a server of another test
  // file may take it, and these clients would reconnect there. Ids of
  // this run only keep them from taking over anyone else's devices.
  const [RITA, SAM, TOM] = ['rita', 'sam', 'tom'].map(n => `${n}-${process.pid}`);
  const fast = { initialDelayMs: 100, maxDelayMs: 1000 };
  const rita = client(t, rs, { userId: RITA, deviceId: 'r-desk', subscribe: [SAM], reconnect: fast });
  const sam = client(t, rs, { userId: SAM, deviceId: 's-phone', reconnect: fast });
  const watch = client(t, rs, { global: true, reconnect: fast });
  await Promise.all([rita.connect(), sam.connect(), watch.connect()]);
  await rita.setStatus('dnd');
  // tom has no client of ours: he will not come back after the restart.
  const tom = await rs.ws(`/ws?userId=${TOM}`);
  await tom.next(m => m.type === 'joined');
  await until(watch, () => watch.users.get(RITA)?.status === 'dnd'
                           && watch.users.get(TOM)?.is_online, 5000, 'watch before');
  await until(rita, () => rita.users.get(SAM)?.is_online, 5000, 'rita sees sam');
  const before = { rita: watch.users.get(RITA).version, tom: watch.users.get(TOM).version };

  const all = [rita, sam, watch];
  const states = new Map(all.map(c => [c, []]));
  for (const c of all) c.on('state', d => states.get(c).push(d.state));
  const waits = all.map(c => Promise.all([
    nextEvent(c, 'disconnected', () => true, 20000),
    nextEvent(c, 'ready', d => d.reconnected, 20000),
  ]));
  await rs.restart();
  const results = await Promise.all(waits);
  results.forEach(([gone, ready], i) => {
    const c = all[i];
    assert.equal(gone.code, 1001, `${c.userId}: ${JSON.stringify(gone)}`);
    assert.equal(gone.reason, 'server shutting down');
    assert.equal(gone.willReconnect, true);
    assert.equal(c.state, 'ready');
    const seq = states.get(c);
    assert.deepEqual(seq.slice(0, 2), ['reconnecting', 'connecting'], JSON.stringify(seq));
    assert.equal(seq.at(-1), 'ready');
  });
  // The watcher had a cursor: it asked to resync, and a node that just
  // started cannot answer from its log (resync_required), so it listed.
  assert.equal(results[2][1].sync, 'snapshot');

  // Rejoined with the same device and the status set before.
  assert.equal(rita.self.status, 'dnd');
  assert.deepEqual(rita.self.devices.map(x => x.device_id), ['r-desk']);
  const rest = await rs.get(`/api/user-status/${RITA}`);
  assert.equal(rest.body.data.isOnline, true);
  assert.equal(rest.body.data.status, 'dnd');

  // Converged: rita and sam online again with newer versions, and tom, who
  // went with the restart, offline (the snapshot asked for the users it
  // held online and no longer listed).
  await until(watch, () => {
    const r = watch.users.get(RITA);
    return r?.is_online && r.status === 'dnd' && r.version > before.rita
      && watch.users.get(SAM)?.is_online;
  }, 5000, 'watch converges on rita and sam');
  const t2 = watch.users.get(TOM);
  assert.equal(t2.is_online, false);
  assert.ok(t2.version > before.tom);
  await until(rita, () => rita.users.get(SAM)?.is_online, 5000, 'rita sees sam again');

  // The subscriptions are live on the new connections.
  const away = nextEvent(watch, 'change', d => d.userId === SAM && d.user.status === 'away');
  const away2 = nextEvent(rita, 'change', d => d.userId === SAM && d.user.status === 'away');
  await sam.setStatus('away');
  await Promise.all([away, away2]);
  for (const c of all) assert.deepEqual(c.violations, []);
  await Promise.all(all.map(c => c.close()));
});

test('after a dropped connection the global feed catches up with resync (only what changed)', async t => {
  // A retry far away: the test makes its changes, then calls reconnectNow().
  const watch = client(t, srv, { global: true, reconnect: { initialDelayMs: 60000, maxDelayMs: 60000, jitter: 0 } });
  await watch.connect();
  const gus = client(t, srv, { userId: 'gus' });
  await gus.connect();
  await until(watch, () => watch.users.get('gus')?.is_online, 3000, 'gus online');
  const cursor = watch.cursor;
  assert.ok(cursor >= watch.users.get('gus').version);

  // Cut the TCP connection under the client (no close handshake).
  assert.equal(watch.sockets.length, 1);
  const down = nextEvent(watch, 'disconnected');
  watch.sockets[0].terminate();
  const d = await down;
  assert.equal(d.code, 1006);
  assert.equal(d.delayMs, 60000);
  // While it waits to reconnect, gus goes busy and hank comes.
  const probe = client(t, srv, { subscribe: ['gus', 'hank'] });
  await probe.connect();
  const hank = client(t, srv, { userId: 'hank' });
  await hank.connect();
  await gus.setStatus('busy');
  await until(probe, () => probe.users.get('gus')?.status === 'busy'
                           && probe.users.get('hank')?.is_online, 3000, 'changes made');
  assert.equal(watch.state, 'reconnecting');                // the changes fell in the gap

  const changes = [];
  watch.on('change', c => changes.push(c));
  const back = nextEvent(watch, 'ready', () => true, 5000);
  watch.reconnectNow();
  const ready = await back;
  assert.deepEqual(ready, { reconnected: true, sync: 'resync' });
  assert.equal(watch.users.get('gus').status, 'busy');
  assert.equal(watch.users.get('hank').is_online, true);
  assert.ok(changes.every(c => c.source === 'resync'), JSON.stringify(changes));
  assert.ok(changes.some(c => c.userId === 'hank'));
  assert.ok(watch.cursor > cursor);
  assert.deepEqual(watch.violations, []);
  await Promise.all([watch.close(), gus.close(), hank.close(), probe.close()]);
});

test('close() ends the session and stops reconnecting, also while waiting to reconnect', async t => {
  const ivy = client(t, srv, { userId: 'ivy', reconnect: { initialDelayMs: 20, maxDelayMs: 40 } });
  const watch = client(t, srv, { subscribe: ['ivy'] });
  await Promise.all([ivy.connect(), watch.connect()]);
  await until(watch, () => watch.users.get('ivy')?.is_online, 3000, 'ivy online');
  assert.equal(ivy.sockets.length, 1);
  const states = [];
  ivy.on('state', d => states.push(d.state));
  const closed = nextEvent(ivy, 'closed');
  await ivy.close();
  assert.deepEqual(await closed, { code: 1000, reason: 'client closed', byClient: true });
  assert.equal(ivy.state, 'closed');
  // The server saw the close: ivy goes offline after the grace, which is
  // far longer than ivy's reconnect delay would have been.
  await until(watch, () => watch.users.get('ivy')?.is_online === false, 3000, 'ivy offline');
  assert.equal((await srv.get('/api/user-status/ivy')).body.data.isOnline, false);
  assert.equal(ivy.sockets.length, 1);
  assert.deepEqual(states, ['closed']);
  await assert.rejects(ivy.request({ type: 'count_online' }), e => e.code === 'not_connected');

  // Nothing listens: the client keeps retrying, with growing delays, until
  // close(), which also fails the pending connect().
  const port = await deadPort();
  const lost = client(t, { wsUrl: `ws://127.0.0.1:${port}` },
                      { userId: 'lost', reconnect: { initialDelayMs: 10, maxDelayMs: 80 } });
  const delays = [];
  const threeTries = withTimeout(new Promise(resolve => {
    lost.on('reconnecting', d => { delays.push(d.delayMs); if (delays.length === 4) resolve(); });
  }), 5000, 'four reconnect attempts');
  const pending = lost.connect();
  await threeTries;
  assert.ok(delays[3] >= 40 && delays[3] <= 80, JSON.stringify(delays));   // capped, jittered
  const count = lost.sockets.length;
  await lost.close();
  await assert.rejects(pending, e => e.code === 'closed');
  // An absence can only be shown by waiting: a retry timer left running
  // would change the state within 80 ms; none may come in 300.
  await assert.rejects(nextEvent(lost, 'state', () => true, 300), /timed out/);
  assert.equal(lost.sockets.length, count);
  assert.equal(lost.state, 'closed');
});

test('a second connection with the same user and device replaces the first, which stops for good', async t => {
  const one = client(t, srv, { userId: 'jay', deviceId: 'j1', reconnect: { initialDelayMs: 10, maxDelayMs: 20 } });
  await one.connect();
  const expired = nextEvent(one, 'expired');
  const closed = nextEvent(one, 'closed');
  const gone = nextEvent(one, 'disconnected');
  const two = client(t, srv, { userId: 'jay', deviceId: 'j1' });
  await two.connect();
  assert.deepEqual(await expired, { reason: 'replaced', deviceId: 'j1' });
  const g = await gone;
  assert.equal(g.code, 4002);
  assert.equal(g.willReconnect, false);
  const c = await closed;
  assert.equal(c.byClient, false);
  assert.match(c.reason, /replaced/);
  assert.equal(one.state, 'closed');
  // two holds the device: a status it sets is the user's.
  assert.equal((await two.setStatus('busy')).devices.length, 1);
  assert.equal(two.state, 'ready');
});

test('JWT mode: the token names the user; a token function is asked again for each connection, so an expired session (4003) comes back; a fixed token stops', async t => {
  const secret = 'js-client-secret';
  const jwtSrv = await new Server({ args: ['--jwt-secret', secret, '--jwt-leeway', '0'] }).start();
  t.after(() => jwtSrv.dispose());
  const soon = () => Math.floor(Date.now() / 1000) + 2;
  let minted = 0;
  const kim = client(t, jwtSrv, {
    token: async () => { minted += 1; return signJwt({ sub: 'kim', exp: minted === 1 ? soon() : soon() + 3600 }, secret); },
    deviceId: 'k1', reconnect: { initialDelayMs: 20, maxDelayMs: 40 },
  });
  const fixed = client(t, jwtSrv, { token: await signJwt({ sub: 'lee', exp: soon() }, secret) });
  const kimBack = nextEvent(kim, 'ready', d => d.reconnected, 6000);
  const kimGone = nextEvent(kim, 'disconnected', () => true, 6000);
  const leeClosed = nextEvent(fixed, 'closed', () => true, 6000);
  await Promise.all([kim.connect(), fixed.connect()]);
  assert.equal(kim.userId, 'kim');
  assert.equal(kim.self.user_id, 'kim');
  assert.equal(fixed.userId, 'lee');
  const g = await kimGone;
  assert.equal(g.code, 4003);
  assert.equal(g.willReconnect, true);
  await kimBack;
  assert.equal(minted, 2);
  assert.equal(kim.self.is_online, true);
  const c = await leeClosed;
  assert.equal(c.code, 4003);
  assert.match(c.reason, /token expired/);
  assert.equal(fixed.state, 'closed');
});

test('a refused automatic join (too_many_devices) is retried with backoff until it goes through', async t => {
  const one = await new Server({ args: ['--max-devices-per-user', '1'] }).start();
  t.after(() => one.dispose());
  const first = client(t, one, { userId: 'max', deviceId: 'm1' });
  await first.connect();
  const second = client(t, one, { userId: 'max', deviceId: 'm2', reconnect: { initialDelayMs: 50, maxDelayMs: 100 } });
  const refused = nextEvent(second, 'error', e => e.error.code === 'too_many_devices');
  const retry = nextEvent(second, 'disconnected');
  const pending = second.connect();
  await refused;
  const d = await retry;
  assert.equal(d.code, 0);
  assert.match(d.reason, /sync failed: this user has too many devices/);
  assert.equal(d.willReconnect, true);
  await first.close();
  await pending;
  assert.equal(second.self.devices[0].device_id, 'm2');
});
