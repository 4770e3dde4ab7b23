// The WebSocket layer itself (edge/transport/ws_session.cpp, ws_frame.cpp),
// spoken byte by byte over a raw TCP socket: the handshake, control frames,
// fragments, frames sent right behind the upgrade request, the close
// handshake, protocol errors and their close codes, and the order of many
// replies written together.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { Server, eventually, withTimeout } from './lib/harness.mjs';

let srv;

before(async () => {
  srv = await new Server({ args: ['--rate-limit', '1000', '--rate-burst', '1000'] }).start();
});

after(async () => {
  await srv.dispose();
});

const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };

/** One client frame, masked unless `mask` is false. */
function frame(op, payload = Buffer.alloc(0), { fin = true, mask = true } = {}) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const len = data.length;
  let head;
  if (len < 126) {
    head = Buffer.from([(fin ? 0x80 : 0) | op, (mask ? 0x80 : 0) | len]);
  } else if (len <= 0xffff) {
    head = Buffer.from([(fin ? 0x80 : 0) | op, (mask ? 0x80 : 0) | 126, len >> 8, len & 0xff]);
  } else {
    head = Buffer.alloc(10);
    head[0] = (fin ? 0x80 : 0) | op;
    head[1] = (mask ? 0x80 : 0) | 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  if (!mask) return Buffer.concat([head, data]);
  const key = randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i] ^= key[i % 4];
  return Buffer.concat([head, key, body]);
}

const closeBody = (code, reason = '') =>
  Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

/** A WebSocket client over a raw socket: every server frame, as sent. */
class RawWs {
  constructor(socket) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frames = [];
    this.waiters = [];
    this.ended = new Promise(resolve => socket.once('close', resolve));
  }

  /** Connects and upgrades; `after` bytes go in the same write as the request. */
  static async open(path, { headers = {}, after = Buffer.alloc(0), server = srv } = {}) {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const key = randomBytes(16).toString('base64');
    const all = { Host: `127.0.0.1:${server.port}`, Upgrade: 'websocket', Connection: 'Upgrade',
                  'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', ...headers };
    const head = `GET ${path} HTTP/1.1\r\n`
      + Object.entries(all).filter(([, v]) => v !== null).map(([k, v]) => `${k}: ${v}\r\n`).join('')
      + '\r\n';
    const c = new RawWs(socket);
    const response = new Promise((resolve, reject) => {
      let got = Buffer.alloc(0);
      const onData = d => {
        got = Buffer.concat([got, d]);
        const end = got.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const text = got.subarray(0, end).toString();
        const [status, ...lines] = text.split('\r\n');
        const hdrs = Object.fromEntries(lines.map(l => {
          const i = l.indexOf(':');
          return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
        }));
        const rest = got.subarray(end + 4);
        resolve({ status: Number(status.split(' ')[1]), headers: hdrs, rest });
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
    socket.write(Buffer.concat([Buffer.from(head), after]));
    const res = await withTimeout(response, 5000, 'the handshake response');
    c.status = res.status;
    c.headers = res.headers;
    c.expectedAccept = createHash('sha1')
      .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    if (res.status === 101) {
      socket.on('data', d => c.feed(d));
      c.feed(res.rest);
    } else {
      c.body = res.rest.toString();
    }
    return c;
  }

  feed(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0];
      const b1 = this.buf[1];
      assert.equal(b1 & 0x80, 0, 'server frames are not masked');
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.frames.push({ fin: (b0 & 0x80) !== 0, op: b0 & 0x0f, payload: Buffer.from(payload) });
      this.buf = this.buf.subarray(off + len);
      this.waiters = this.waiters.filter(w => !w());
    }
  }

  send(buf) { this.socket.write(buf); }

  sendText(obj) { this.send(frame(OP.text, JSON.stringify(obj))); }

  /** The first frame (removed) for which `pred` holds. */
  next(pred, what = 'a frame') {
    return withTimeout(new Promise(resolve => {
      const check = () => {
        const i = this.frames.findIndex(pred);
        if (i < 0) return false;
        resolve(this.frames.splice(i, 1)[0]);
        return true;
      };
      if (!check()) this.waiters.push(check);
    }), 5000, what);
  }

  json(pred = () => true, what = 'a text frame') {
    return this.next(f => f.op === OP.text && pred(JSON.parse(f.payload)), what)
      .then(f => JSON.parse(f.payload));
  }

  closeFrame() {
    return this.next(f => f.op === OP.close, 'a close frame').then(f => ({
      code: f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005,
      reason: f.payload.subarray(2).toString(),
    }));
  }
}

test('the handshake answers the key, and frames behind the request are read', async () => {
  // A ping in the same TCP write as the upgrade request.
  const c = await RawWs.open('/ws?userId=eager', {
    after: frame(OP.text, JSON.stringify({ type: 'ping', id: 'early' })),
  });
  assert.equal(c.status, 101);
  assert.equal(c.headers['sec-websocket-accept'], c.expectedAccept);
  assert.equal(c.headers.upgrade.toLowerCase(), 'websocket');
  // The welcome is the first frame, even with a ping already waiting.
  const first = await c.next(() => true, 'the first frame');
  assert.equal(JSON.parse(first.payload).type, 'welcome');
  const pong = await c.json(m => m.id === 'early', 'the early ping answered');
  assert.equal(pong.type, 'pong');
  c.socket.destroy();
});

test('a join answers its upgrade in one write: the 101, the welcome and the joined', async () => {
  // The session joins as it opens: the 101 and the welcome wait for the
  // join's answer and leave with it (one send on the server). What this
  // can catch: a held 101 that never goes, or frames out of order (loopback
  // may also deliver two quick writes in one read, so it cannot tell one
  // write from two; bench/syscalls.sh counts the sends).
  const c = await RawWs.open('/ws?userId=onewrite');
  assert.equal(c.status, 101);
  const types = c.frames.map(f => JSON.parse(f.payload).type);
  assert.deepEqual(types, ['welcome', 'joined'],
                   'the frames that arrived with the 101');
  c.socket.destroy();
  // Without a user to join nothing is waited for: the 101 and the welcome.
  const o = await RawWs.open('/ws/user-status/');
  assert.equal(o.status, 101);
  assert.equal(JSON.parse((await o.next(() => true, 'the welcome')).payload).type,
               'welcome');
  o.socket.destroy();
});

test('welcome is the first frame even with a ping or a close right behind the request', async () => {
  // A WebSocket ping in the upgrade's own TCP write: welcome, then the pong.
  const p = await RawWs.open('/ws?userId=eagerping', { after: frame(OP.ping, 'hi') });
  assert.equal(p.status, 101);
  const first = await p.next(() => true, 'the first frame');
  assert.equal(first.op, OP.text);
  assert.equal(JSON.parse(first.payload).type, 'welcome');
  assert.equal((await p.next(f => f.op === OP.pong, 'the pong')).payload.toString(), 'hi');
  p.socket.destroy();
  // A close frame there: welcome, then the close's answer.
  const c = await RawWs.open('/ws?userId=eagerclose',
                             { after: frame(OP.close, closeBody(1000, 'bye')) });
  assert.equal(c.status, 101);
  const w = await c.next(() => true, 'the first frame');
  assert.equal(w.op, OP.text);
  assert.equal(JSON.parse(w.payload).type, 'welcome');
  assert.equal((await c.closeFrame()).code, 1000);
  c.socket.destroy();
});

test('pings sent in one write are answered in order, past what one write of replies holds', async () => {
  // The replies to one read are framed in a small per-thread buffer and
  // sent together; what does not fit goes through the session's queue.
  // Forty pings (some with long ids, a WebSocket ping among them) in one
  // TCP write: every pong whole, in the order asked, across that border.
  const c = await RawWs.open('/ws?userId=burst');
  await c.json(m => m.type === 'joined');
  const ids = [];
  const parts = [];
  for (let i = 0; i < 40; ++i) {
    const id = i % 7 === 3 ? `long-${i}-${'x'.repeat(200)}` : `p${i}`;
    ids.push(id);
    parts.push(frame(OP.text, JSON.stringify({ type: 'ping', id })));
    if (i === 5)
      parts.push(frame(OP.ping, 'between'));
  }
  c.send(Buffer.concat(parts));
  assert.equal((await c.next(f => f.op === OP.pong, 'the pong')).payload.toString(),
               'between');
  const got = [];
  while (got.length < ids.length) {
    const m = await c.json(x => x.type === 'pong', `pong ${got.length}`);
    got.push(m.id);
  }
  assert.deepEqual(got, ids);
  c.socket.destroy();
});

test('bad handshakes: 426 for another version, 400 for a bad key', async () => {
  const v = await RawWs.open('/ws', { headers: { 'Sec-WebSocket-Version': '8' } });
  assert.equal(v.status, 426);
  assert.equal(v.headers['sec-websocket-version'], '13');
  v.socket.destroy();
  const k = await RawWs.open('/ws', { headers: { 'Sec-WebSocket-Key': 'short' } });
  assert.equal(k.status, 400);
  k.socket.destroy();
  const none = await RawWs.open('/ws', { headers: { 'Sec-WebSocket-Key': null } });
  assert.equal(none.status, 400);
  none.socket.destroy();
});

test('a ping gets a pong with its payload; fragments make one message', async () => {
  const c = await RawWs.open('/ws?userId=frag');
  await c.json(m => m.type === 'joined');
  c.send(frame(OP.ping, 'are you there'));
  const pong = await c.next(f => f.op === OP.pong, 'a pong');
  assert.equal(pong.payload.toString(), 'are you there');
  // {"type":"ping","id":"f1"} in three fragments, a ping between them,
  // sent one byte at a time.
  const msg = JSON.stringify({ type: 'ping', id: 'f1' });
  const wire = Buffer.concat([
    frame(OP.text, msg.slice(0, 5), { fin: false }),
    frame(OP.ping, 'mid'),
    frame(OP.cont, msg.slice(5, 12), { fin: false }),
    frame(OP.cont, msg.slice(12)),
  ]);
  for (const b of wire) c.send(Buffer.from([b]));
  assert.equal((await c.next(f => f.op === OP.pong)).payload.toString(), 'mid');
  assert.equal((await c.json(m => m.id === 'f1')).type, 'pong');
  c.socket.destroy();
});

test('the client closes: the server answers with the same code and hangs up', async () => {
  const c = await RawWs.open('/ws?userId=leaver');
  await c.json(m => m.type === 'joined');
  c.send(frame(OP.close, closeBody(1000, 'bye')));
  const { code } = await c.closeFrame();
  assert.equal(code, 1000);
  await withTimeout(c.ended, 5000, 'the server closing the TCP connection');
});

test('protocol errors close with 1002, 1007, 1009; the server serves on', async () => {
  const cases = [
    [frame(OP.text, '{"type":"ping"}', { mask: false }), 1002, 'unmasked'],
    [frame(3, 'x'), 1002, 'reserved opcode'],
    [frame(OP.cont, 'x'), 1002, 'continuation of nothing'],
    [frame(OP.ping, 'x', { fin: false }), 1002, 'fragmented ping'],
    [frame(OP.text, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 1007, 'bad UTF-8'],
    // Too big is known from the header: no payload follows.
    [frame(OP.text, 'x'.repeat(70_000)).subarray(0, 14), 1009, 'over --max-frame-bytes'],
  ];
  for (const [bytes, want, what] of cases) {
    const c = await RawWs.open(`/ws?userId=bad${want}`);
    await c.json(m => m.type === 'joined');
    c.send(bytes);
    const { code } = await c.closeFrame();
    assert.equal(code, want, what);
    await withTimeout(c.ended, 7000, `the connection ending after ${what}`);
  }
  assert.equal((await srv.get('/healthz')).status, 200);
});

test('many replies written together arrive whole and in order', async () => {
  const c = await RawWs.open('/ws?userId=burst');
  await c.json(m => m.type === 'joined');
  const n = 500;
  const wire = [];
  for (let i = 0; i < n; i++) wire.push(frame(OP.text, JSON.stringify({ type: 'ping', id: `b${i}` })));
  c.send(Buffer.concat(wire)); // one write: the replies queue up together
  const seen = [];
  while (seen.length < n) {
    const m = await c.json(x => x.type === 'pong', 'the burst of pongs');
    seen.push(m.id);
  }
  assert.deepEqual(seen, Array.from({ length: n }, (_, i) => `b${i}`));
  c.socket.destroy();
});

test('a silent socket gets a ping at half --ws-idle-timeout and is dropped at the end', async () => {
  const quick = await new Server({ args: ['--ws-idle-timeout', '1'] }).start();
  try {
    const open = path => RawWs.open(path, { server: quick });
    // One client answers nothing; another answers the pings.
    const silent = await open('/ws?userId=silent');
    const lively = await open('/ws?userId=lively');
    await silent.json(m => m.type === 'joined');
    await lively.json(m => m.type === 'joined');
    lively.socket.on('data', () => {
      for (const f of lively.frames.filter(x => x.op === OP.ping)) {
        lively.send(frame(OP.pong, f.payload));
      }
      lively.frames = lively.frames.filter(x => x.op !== OP.ping);
    });
    const ping = await silent.next(f => f.op === OP.ping, 'the idle ping');
    assert.equal(ping.payload.length, 0);
    // Dropped without a close frame once the timeout passed, and counted.
    await withTimeout(silent.ended, 5000, 'the silent socket dropped');
    assert.ok(!silent.frames.some(f => f.op === OP.close));
    assert.equal(await quick.metric('presence_ws_idle_timeouts_total'), 1);
    // The one that answered is still there and served.
    lively.sendText({ type: 'ping', id: 'still' });
    assert.equal((await lively.json(m => m.id === 'still')).type, 'pong');
    lively.socket.destroy();
  } finally {
    await quick.dispose();
  }
});

test('a client that stops reading: the server writes the rest when it reads again, '
  + 'whole and in order; one that never reads is closed as a slow consumer', async () => {
  // Writes are tried at once and finish asynchronously from the first byte
  // the socket did not take (ws_session::send): this fills the kernel's
  // buffers so both happen, many times over.
  const big = await new Server({
    args: ['--rate-limit', '100000', '--rate-burst', '100000',
           '--write-queue-bytes', '1048576', '--slow-consumer-ms', '1500'],
  }).start();
  try {
    const open = path => RawWs.open(path, { server: big });
    const pad = 'p'.repeat(240);
    const burst = (c, tag, n) => {
      const wire = [];
      for (let i = 0; i < n; i++) {
        wire.push(frame(OP.text, JSON.stringify({ type: 'ping', id: `${tag}${i}-${pad}` })));
      }
      c.send(Buffer.concat(wire));
    };
    // Paused for a moment, below the slow-consumer limit: ~6 MB of pongs,
    // more than the kernel's buffers hold, wait in them and in the queue,
    // then arrive whole, in order.
    const a = await open('/ws?userId=pauser');
    await a.json(m => m.type === 'joined');
    a.socket.pause();
    const n = 20000;
    burst(a, 'a', n);
    await new Promise(r => setTimeout(r, 500));
    a.socket.resume();
    for (let i = 0; i < n; i++) {
      const m = await a.json(x => x.type === 'pong', `pong ${i}`);
      assert.equal(m.id, `a${i}-${pad}`);
    }
    // Still served after the backlog.
    a.sendText({ type: 'ping', id: 'after' });
    assert.equal((await a.json(m => m.id === 'after')).type, 'pong');
    a.socket.destroy();

    // Does not read: above --write-queue-bytes for --slow-consumer-ms, it
    // is closed with 4001 (what it did not read is dropped; the close frame
    // follows what was already in flight).
    const b = await open('/ws?userId=sleeper');
    await b.json(m => m.type === 'joined');
    b.socket.pause();
    burst(b, 'b', 40000);
    const slow = async () => {
      const text = await fetch(`${big.url}/metrics`).then(r => r.text());
      return /^presence_slow_consumers_total 1\b/m.test(text);
    };
    await eventually(slow, 10000, 'the slow consumer counted');
    b.socket.resume();
    await withTimeout(b.ended, 10000, 'the slow consumer closed');
    const close = b.frames.find(f => f.op === OP.close);
    assert.ok(close, 'a close frame after the backlog');
    assert.equal(close.payload.readUInt16BE(0), 4001);
    // Every frame before it is whole: pongs of this burst, in order.
    const ids = b.frames.filter(f => f.op === OP.text)
      .map(f => JSON.parse(f.payload)).filter(m => m.type === 'pong').map(m => m.id);
    ids.forEach((id, i) => assert.equal(id, `b${i}-${pad}`));
    assert.ok(ids.length < 40000, `${ids.length} pongs before the close`);
  } finally {
    await big.dispose();
  }
});

test('clients that reset the connection right after the upgrade leave nothing behind', async () => {
  // The welcome is written at once, inside the endpoint's on_open: a reset
  // racing it must still end the session (and the user's device) there.
  const metric = async name => {
    const text = await fetch(`${srv.url}/metrics`).then(r => r.text());
    const m = text.match(new RegExp(`^${name} (\\d+)`, 'm'));
    return m ? Number(m[1]) : NaN;
  };
  const sessions = await metric('presence_ws_sessions');
  const n = 100;
  await Promise.all(Array.from({ length: n }, (_, i) => new Promise((resolve, reject) => {
    const socket = net.connect(srv.port, '127.0.0.1', () => {
      const key = randomBytes(16).toString('base64');
      socket.write(`GET /ws?userId=reset${i} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`
        + `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      // Reset as soon as the 101 arrives (or at once for half of them).
      if (i % 2 === 0) { socket.resetAndDestroy(); resolve(); return; }
      socket.once('data', () => { socket.resetAndDestroy(); resolve(); });
    });
    socket.on('error', reject);
  })));
  await eventually(async () => (await metric('presence_ws_sessions')) === sessions, 10000,
                   'every reset session closed');
  await eventually(async () => {
    const res = await fetch(`${srv.url}/api/users/online/`).then(r => r.json());
    const ids = JSON.stringify(res);
    return !/reset\d+/.test(ids);
  }, 10000, 'no reset user left online');
});

test('connections per source address are bounded (--max-connections-per-ip), 127.0.0.1 exempt', async () => {
  const lim = await new Server({ args: ['--max-connections-per-ip', '3'] }).start();
  const open = [];
  // An upgrade from `from`: the status line, and the socket (kept open).
  const upgrade = (from, user) => new Promise((resolve, reject) => {
    const socket = net.connect({ port: lim.port, host: '127.0.0.1', localAddress: from }, () => {
      socket.write(`GET /ws?userId=${user} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n`
        + `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n`
        + 'Sec-WebSocket-Version: 13\r\n\r\n');
    });
    let got = '';
    socket.on('data', d => {
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeAllListeners('data');
      open.push(socket);
      resolve({ status: Number(got.split(' ')[1]), body: got.slice(end + 4), socket });
    });
    socket.on('error', reject);
  });
  try {
    for (let i = 0; i < 3; i++) assert.equal((await upgrade('127.0.0.2', `ip2-${i}`)).status, 101);
    // The fourth from the same address is refused, with a reason.
    const over = await upgrade('127.0.0.2', 'ip2-x');
    assert.equal(over.status, 429);
    assert.match(over.body, /too_many_connections/);
    assert.match(over.body, /at most 3/);
    // Other addresses are not affected; 127.0.0.1 is exempt.
    assert.equal((await upgrade('127.0.0.3', 'ip3-0')).status, 101);
    for (let i = 0; i < 4; i++) assert.equal((await upgrade('127.0.0.1', `ip1-${i}`)).status, 101);
    // A held WebSocket that closes gives its place back.
    const first = open[0];
    first.destroy();
    await eventually(async () => (await upgrade('127.0.0.2', `ip2-again-${Date.now()}`)).status === 101,
                     5000, 'a place freed on 127.0.0.2');
    // A refused client that sends nothing does not keep its place long.
    const idle = net.connect({ port: lim.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    open.push(idle);
    const ended = new Promise(resolve => idle.once('close', resolve));
    idle.on('error', () => {});
    await withTimeout(ended, 5000, 'the idle refused connection closed');
  } finally {
    for (const s of open) s.destroy();
    await lim.dispose();
  }
  // Over --max-connections: 503 for anyone.
  const full = await new Server({ args: ['--max-connections', '2'] }).start();
  try {
    const held = [];
    for (let i = 0; i < 2; i++) {
      const c = await RawWs.open(`/ws?userId=full${i}`, { server: full });
      assert.equal(c.status, 101);
      held.push(c);
    }
    const over = await RawWs.open('/ws?userId=full-x', { server: full });
    assert.equal(over.status, 503);
    assert.match(over.body, /too_many_connections/);
    for (const c of [...held, over]) c.socket.destroy();
  } finally {
    await full.dispose();
  }
});
