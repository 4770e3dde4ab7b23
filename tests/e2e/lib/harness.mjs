// End-to-end harness: starts the real presenced binary on 127.0.0.1 with a
// free port (port 0) and a temporary data dir, talks to it over real sockets
// and stops it by PID. Everything waits on events (process output, socket
// messages) with a timeout as a guard, never on fixed sleeps.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';

export const BIN = process.env.PRESENCED_BIN
  ?? new URL('../../../build/app/presenced', import.meta.url).pathname;

/** Rejects after `ms` with `what` in the message. */
export function withTimeout(promise, ms, what) {
  let timer;
  const guard = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/**
 * Re-runs `check` (async, returns truthy when satisfied) until it holds or
 * `ms` pass; for state that changes without a message to wait for. Returns
 * the last value `check` returned.
 */
export async function eventually(check, ms = 5000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise(r => setTimeout(r, 20));
  }
}

export function tempDir(prefix = 'presenced-e2e-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

// Servers still running when the test process exits are killed, whatever
// went wrong in the test: no orphans outlive a run.
const live = new Set();
// Every server of the run: when a test failed, what each one printed goes
// to stderr (ctest keeps it), so a failure seen once in CI can be read;
// E2E_DUMP=1 prints it after a passing run too.
const started = [];
const TAIL = 6000;
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch { /* already gone */ }
  }
  if (!process.exitCode && !process.env.E2E_DUMP) return;
  for (const s of started) {
    const all = (s.earlierOutput ?? '') + s.output;
    const tail = all.length > TAIL ? `[... ${all.length - TAIL} bytes before]\n${all.slice(-TAIL)}` : all;
    process.stderr.write(`\n--- presenced ${s.extraArgs.join(' ')} (port ${s.port}) printed:\n${tail}\n`);
  }
});

/** A presenced process. */
export class Server {
  /**
   * `host`: the address to listen on and to reach it at (default loopback);
   * `wrap`: a command prefix to run it under (e.g. ['ip', 'netns', 'exec', ns]).
   */
  constructor({ args = [], env = {}, dataDir, port = 0, host = '127.0.0.1', wrap = [] } = {}) {
    this.host = host;
    this.wrap = wrap;
    this.ownDir = !dataDir;
    this.dataDir = dataDir ?? join(tempDir(), 'data');
    this.extraArgs = args;
    this.env = env;
    this.requestedPort = port;
    this.output = '';
    this.proc = null;
    this.port = null;
  }

  /** Spawns the process and resolves once it is listening. */
  async start() {
    // The port file appears (atomically, by rename) once the server listens;
    // it works whatever the log level.
    const portFile = join(this.dataDir, '..', `port-${process.pid}-${Date.now()}`);
    // PRESENCED_IO_THREADS: every server of the run with that many I/O
    // threads (one io_context each; connections are spread over them).
    const io = process.env.PRESENCED_IO_THREADS
      ? ['--io-threads', process.env.PRESENCED_IO_THREADS] : [];
    const args = ['--listen', `${this.host}:${this.requestedPort}`,
                  '--data-dir', this.dataDir, '--port-file', portFile,
                  ...io, ...this.extraArgs];
    // What earlier runs of this server printed (a restart keeps its data
    // dir; a failing test may want the whole story).
    this.earlierOutput = (this.earlierOutput ?? '') + this.output;
    this.output = '';
    const [cmd, ...pre] = [...this.wrap, BIN];
    if (!started.includes(this)) started.push(this);
    this.proc = spawn(cmd, [...pre, ...args], {
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const onData = chunk => { this.output += chunk.toString(); };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    let early = null;
    const proc = this.proc;
    live.add(proc);
    this.exited = new Promise(resolve => {
      proc.on('exit', (code, signal) => {
        live.delete(proc);
        early = { code, signal };
        resolve(early);
      });
    });
    const port = await eventually(() => {
      if (early) {
        throw new Error(`presenced exited early (${early.code ?? early.signal}):\n${this.output}`);
      }
      try {
        const lines = readFileSync(portFile, 'utf8').split('\n');
        const http = Number(lines[0]);
        if (!http || lines.length < 2) return false;
        return { http, cluster: Number(lines[1]) };
      } catch { return false; }
    }, 20000, 'presenced to listen');
    rmSync(portFile, { force: true });
    this.port = port.http;
    this.clusterPort = port.cluster;
    // A restart keeps the cluster port too (its peers know it).
    const i = this.extraArgs.indexOf('--cluster-listen');
    if (i >= 0 && this.clusterPort)
      this.extraArgs[i + 1] = this.extraArgs[i + 1].replace(/:0$/, `:${this.clusterPort}`);
    // Keep the port for restarts: clients reconnect to the same address.
    this.requestedPort = this.port;
    return this;
  }

  get url() { return `http://${this.host}:${this.port}`; }
  get wsUrl() { return `ws://${this.host}:${this.port}`; }

  /** Sends `signal` to the process and waits for it to end. */
  async stop(signal = 'SIGTERM') {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null)
      return this.exited;
    this.proc.kill(signal);
    return withTimeout(this.exited, 20000, `presenced to exit on ${signal}`);
  }

  kill9() { return this.stop('SIGKILL'); }

  async restart() {
    await this.stop();
    return this.start();
  }

  /** Stops the process (SIGKILL if it must) and removes the temp dir. */
  async dispose() {
    try { await this.stop(); } catch { await this.stop('SIGKILL'); }
    if (this.ownDir) rmSync(join(this.dataDir, '..'), { recursive: true, force: true });
  }

  /** fetch() against the server; resolves to { status, headers, body, text }. */
  async http(method, path, { body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (body !== undefined) {
      init.body = typeof body === 'string' ? body : JSON.stringify(body);
      init.headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.url + path, init);
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, headers: res.headers, body: json, text };
  }

  get(path, opts) { return this.http('GET', path, opts); }

  /** The value of `series` (a name, with its labels as printed) in /metrics. */
  async metric(series) {
    const m = await this.get('/metrics');
    const line = m.text.split('\n').find(l => l.startsWith(series + ' '));
    if (!line) throw new Error(`${series} is not in /metrics`);
    return Number(line.slice(series.length + 1));
  }

  /** Opens a WebSocket client on `path`; resolves once open. */
  async ws(path, opts = {}) {
    const c = new Client(this.wsUrl + path, opts);
    await c.opened;
    return c;
  }
}

/** A WebSocket client that buffers every message for later matching. */
export class Client {
  /** `ca`: the authority a wss:// server's certificate is checked against. */
  constructor(url, { headers, maxPayload, ca } = {}) {
    this.url = url;
    this.socket = new WebSocket(url, { headers, maxPayload, ...(ca ? { ca } : {}) });
    this.messages = [];
    this.waiters = [];
    this.nextId = 1;
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', resolve);
      this.socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', d => { body += d; });
        res.on('end', () => {
          const err = new Error(`upgrade refused: HTTP ${res.statusCode} ${body}`);
          err.status = res.statusCode;
          try { err.body = JSON.parse(body); } catch { err.body = body; }
          reject(err);
        });
      });
      this.socket.once('error', reject);
    });
    this.closed = new Promise(resolve => {
      this.socket.once('close', (code, reason) =>
        resolve({ code, reason: reason.toString() }));
    });
    this.socket.on('message', (data, isBinary) => {
      let msg;
      try { msg = JSON.parse(data.toString()); } catch { msg = { raw: data.toString(), isBinary }; }
      this.messages.push(msg);
      this.waiters = this.waiters.filter(w => !w.check());
    });
  }

  send(obj) {
    this.socket.send(typeof obj === 'string' ? obj : JSON.stringify(obj));
  }

  /** Sends `obj` with a fresh id and resolves with the reply echoing it. */
  request(obj, ms = 5000) {
    const id = `r${this.nextId++}`;
    this.send({ ...obj, id });
    return this.next(m => m.id === id, ms, `reply to ${obj.type}`);
  }

  /**
   * Resolves with the first buffered or future message for which `pred`
   * holds, removing it from the buffer (so repeated waits see later ones).
   */
  next(pred, ms = 5000, what = 'a matching message') {
    const p = new Promise(resolve => {
      const w = {
        check: () => {
          const i = this.messages.findIndex(pred);
          if (i < 0) return false;
          const [m] = this.messages.splice(i, 1);
          resolve(m);
          return true;
        },
      };
      if (!w.check()) this.waiters.push(w);
    });
    return withTimeout(p, ms, `${what} on ${this.url}`);
  }

  /** Next presence delta about `user` with is_online === `online`. */
  change(user, online, ms = 5000) {
    return this.next(m => m.type === 'user.status.changed' && m.user_id === user
                          && m.is_online === online, ms,
                     `${user} going ${online ? 'online' : 'offline'}`);
  }

  /** True if a buffered message matches `pred` (nothing is consumed). */
  has(pred) { return this.messages.some(pred); }

  close(code, reason) {
    this.socket.close(code, reason);
    return this.closed;
  }

  /** Drops the TCP connection without a close handshake. */
  terminate() {
    this.socket.terminate();
    return this.closed;
  }
}

/** Signs an HS256 JWT with `secret` (for tests of JWT mode). */
export async function signJwt(payload, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const { createHmac } = await import('node:crypto');
  const b64 = obj => Buffer.from(JSON.stringify(obj)).toString('base64url');
  const data = `${b64(header)}.${b64(payload)}`;
  const sig = header.alg === 'none' ? ''
    : createHmac(header.alg === 'HS512' ? 'sha512' : 'sha256', secret)
        .update(data).digest('base64url');
  return `${data}.${sig}`;
}
