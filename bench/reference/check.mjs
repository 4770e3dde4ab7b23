// Functional check of a seed-000 Socket.IO server with the real
// socket.io-client: two clients join and see each other online and offline,
// check_user_online answers, get_online_users lists them, user_activity
// refreshes the Redis TTLs, and seed 004's /ws/messages namespace answers.
//
//   node check.mjs                 start redis-server and server.js on free
//                                  loopback ports, check them, stop them
//   node check.mjs http://127.0.0.1:PORT [PATH]
//                                  check a running server (the reference or
//                                  presenced; PATH defaults to /api/socketio)
//
// socket.io-client comes from a tests/node_modules (not from this package,
// which is the server side): SIO_CLIENT_DIR, else ../../tests/node_modules,
// else /work/main/tests/node_modules.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
const clientDirs = [
  process.env.SIO_CLIENT_DIR,
  join(here, '../../tests/node_modules'),
  '/work/main/tests/node_modules',
].filter(Boolean);
const clientDir = clientDirs.find((d) => existsSync(join(d, 'socket.io-client')));
if (!clientDir) {
  console.error(`check: socket.io-client not found in ${clientDirs.join(', ')} (npm ci in tests/)`);
  process.exit(2);
}
const { io } = createRequire(join(clientDir, 'x.js'))('socket.io-client');
const localRequire = createRequire(import.meta.url);

let passed = 0;
let failed = 0;
function ok(cond, what) {
  if (cond) passed++;
  else failed++;
  console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function waitFor(socket, event, pred = () => true, ms = 3000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`timeout waiting for ${event}`));
    }, ms);
    const on = (data) => {
      if (!pred(data)) return;
      clearTimeout(t);
      socket.off(event, on);
      resolve(data);
    };
    socket.on(event, on);
  });
}
function connect(url, opts) {
  const s = io(url, { forceNew: true, reconnection: false, ...opts });
  return new Promise((resolve, reject) => {
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
}
const emitAck = (s, ...args) => s.timeout(3000).emitWithAck(...args);
function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
async function waitFile(f, ms = 10000) {
  for (let t = 0; t < ms; t += 50) {
    if (existsSync(f) && readFileSync(f, 'utf8').trim()) return readFileSync(f, 'utf8').trim().split('\n')[0];
    await sleep(50);
  }
  throw new Error(`no port file ${f}`);
}

async function run(base, path, redisUrl) {
  const opts = { path, transports: ['websocket'] };
  const names = (list) => list.users.map((u) => u.id).sort().join(',');

  const a = await connect(base, opts);
  const aList = waitFor(a, 'online_users_list', (d) => d.users.some((u) => u.id === 'alice'));
  const aAck = await emitAck(a, 'join_user', 'alice');
  ok(aAck && aAck.success === true, 'join_user alice: acknowledged (when asked)');
  const l1 = await aList;
  ok(l1.users.every((u) => 'id' in u && 'name' in u && 'username' in u && 'email' in u && 'avatar' in u && 'status' in u),
    'online_users_list entries are {id,name,username,email,avatar,status}');

  const aSeesBob = waitFor(a, 'user_online', (d) => d.userId === 'bob');
  let bobHeardHimself = false;
  const b = await connect(base, opts);
  b.on('user_online', (d) => { if (d.userId === 'bob') bobHeardHimself = true; });
  const bList = waitFor(b, 'online_users_list', (d) => d.users.some((u) => u.id === 'bob'));
  b.emit('join_user', { userId: 'bob' }); // object form, no ack: the seed's own client
  const seen = await aSeesBob;
  ok(seen.userId === 'bob', 'alice gets user_online {userId:"bob"}');
  const bl = await bList;
  ok(names(bl).includes('alice') && names(bl).includes('bob'), `bob gets online_users_list (${names(bl)})`);

  let st = waitFor(b, 'user_online_status', (d) => d.userId === 'alice');
  b.emit('check_user_online', 'alice');
  ok((await st).online === true, 'check_user_online alice -> user_online_status online:true');
  st = waitFor(b, 'user_online_status', (d) => d.userId === 'nobody');
  b.emit('check_user_online', { userId: 'nobody' });
  ok((await st).online === false, 'check_user_online nobody -> online:false');

  const all = waitFor(a, 'online_users_list', (d) => d.users.length >= 2);
  a.emit('get_online_users');
  ok(names(await all) === 'alice,bob', 'get_online_users -> online_users_list alice,bob');

  const act = await emitAck(a, 'user_activity');
  ok(act && act.success === true, 'user_activity acknowledged (when asked)');

  if (redisUrl) {
    const { createClient } = localRequire('redis');
    const r = createClient({ url: redisUrl });
    await r.connect();
    const sid = await r.get('online:user:socket:alice');
    ok(sid === a.id, 'online:user:socket:alice = the socket id');
    ok((await r.get(`online:socket:user:${a.id}`)) === 'alice', 'online:socket:user:{socketId} = alice');
    const ttl = await r.ttl('online:presence:alice');
    ok(ttl > 3500 && ttl <= 3600, `online:presence:alice has a 1-hour TTL (${ttl} s)`);
    ok(JSON.parse(await r.get('online:presence:alice')).id === 'alice', 'online:presence:alice holds the user JSON');
    ok((await r.sMembers('online:users:set')).sort().join(',') === 'alice,bob', 'online:users:set = {alice,bob}');
    await r.expire('online:presence:alice', 100);
    await emitAck(a, 'user_activity');
    ok((await r.ttl('online:presence:alice')) > 3500, 'user_activity refreshes the TTL');
    await r.quit();
  }

  const off = waitFor(a, 'user_offline', (d) => d.userId === 'bob');
  b.disconnect();
  ok((await off).userId === 'bob', 'alice gets user_offline {userId:"bob"} when bob disconnects');
  ok(!bobHeardHimself, 'bob never heard user_online about himself');
  st = waitFor(a, 'user_online_status', (d) => d.userId === 'bob');
  a.emit('check_user_online', 'bob');
  ok((await st).online === false, 'check_user_online bob -> online:false after disconnect');

  // The seed's client connects with the default transports (polling, then
  // the upgrade to WebSocket).
  const c = await connect(base, { path });
  const aSeesCarol = waitFor(a, 'user_online', (d) => d.userId === 'carol');
  c.emit('join_user', 'carol');
  ok((await aSeesCarol).userId === 'carol', 'a polling-first client joins too');
  c.disconnect();
  a.disconnect();

  // Seed 004: namespace /ws/messages.
  const d = await connect(`${base}/ws/messages`, { path, transports: ['websocket'], auth: { userId: 'dave' } });
  const dSeesErin = waitFor(d, 'user-online', (x) => x.userId === 'erin');
  const e = await connect(`${base}/ws/messages`, { path, transports: ['websocket'], auth: { userId: 'erin' } });
  ok((await dSeesErin).userId === 'erin', '/ws/messages: dave gets user-online erin');
  const cs = await emitAck(d, 'check-user-status', { userId: 'erin' });
  ok(cs.success && cs.data.online === true, '/ws/messages: check-user-status erin -> online');
  const hb = await emitAck(d, 'heartbeat');
  ok(hb.success && typeof hb.data.timestamp === 'string', '/ws/messages: heartbeat acknowledged');
  const dSeesErinOff = waitFor(d, 'user-offline', (x) => x.userId === 'erin');
  e.disconnect();
  ok((await dSeesErinOff).userId === 'erin', '/ws/messages: dave gets user-offline erin');
  d.disconnect();
}

async function main() {
  const [, , url, pathArg] = process.argv;
  const path = pathArg || '/api/socketio';
  const procs = [];
  const tmp = mkdtempSync(join(tmpdir(), 'refcheck-'));
  try {
    let base = url;
    let redisUrl = null;
    if (!base) {
      const rport = await freePort();
      const redis = spawn('redis-server', ['--port', String(rport), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
      procs.push(redis);
      redisUrl = `redis://127.0.0.1:${rport}`;
      await sleep(300);
      const server = spawn(process.execPath, [join(here, 'server.js'), '--port', '0', '--port-file', join(tmp, 'port'), '--redis-url', redisUrl, '--path', path], {
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, NODE_ENV: 'production' },
      });
      procs.push(server);
      base = `http://127.0.0.1:${await waitFile(join(tmp, 'port'))}`;
    }
    await run(base, path, redisUrl);
  } catch (err) {
    failed++;
    console.log(`FAIL ${err.message}`);
  } finally {
    // The server first (it exits once its sockets are closed), then Redis.
    for (const p of procs.reverse()) {
      if (p.exitCode !== null) continue;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      await Promise.race([exited, sleep(3000)]);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
main();
