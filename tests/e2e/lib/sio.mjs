// Socket.IO test clients: the real socket.io-client@4 from npm, with every
// received event buffered so tests can wait for one.

import { io } from 'socket.io-client';
import { withTimeout } from './harness.mjs';

export class SioClient {
  /** `url` includes the namespace; `opts` go to io() unchanged. */
  constructor(url, opts = {}) {
    this.url = url;
    this.socket = io(url, { reconnection: false, forceNew: true, ...opts });
    this.events = [];
    this.waiters = [];
    this.socket.onAny((event, ...args) => {
      this.events.push({ event, args });
      this.waiters = this.waiters.filter(w => !w());
    });
    this.connected = new Promise((resolve, reject) => {
      this.socket.once('connect', () => resolve(this));
      this.socket.once('connect_error', reject);
    });
  }

  /** Waits for `event` whose first argument satisfies `pred`; consumes it. */
  next(event, pred = () => true, ms = 5000) {
    const p = new Promise(resolve => {
      const check = () => {
        const i = this.events.findIndex(e => e.event === event && pred(e.args[0]));
        if (i < 0) return false;
        const [e] = this.events.splice(i, 1);
        resolve(e.args[0]);
        return true;
      };
      if (!check()) this.waiters.push(check);
    });
    return withTimeout(p, ms, `event ${event} on ${this.url}`);
  }

  /** True if a buffered `event` satisfies `pred` (nothing consumed). */
  has(event, pred = () => true) {
    return this.events.some(e => e.event === event && pred(e.args[0]));
  }

  count(event, pred = () => true) {
    return this.events.filter(e => e.event === event && pred(e.args[0])).length;
  }

  emit(event, ...args) { this.socket.emit(event, ...args); }

  /** Emits with an acknowledgement callback; resolves with its argument. */
  ask(event, arg, ms = 5000) {
    const p = new Promise(resolve => {
      if (arg === undefined) this.socket.emit(event, resolve);
      else this.socket.emit(event, arg, resolve);
    });
    return withTimeout(p, ms, `ack of ${event}`);
  }

  get transport() { return this.socket.io.engine?.transport?.name; }

  close() { this.socket.close(); }
}

/** Connects and resolves once the namespace is connected. */
export async function sioConnect(url, opts) {
  const c = new SioClient(url, opts);
  await withTimeout(c.connected, 8000, `connect to ${url}`);
  return c;
}

/** Resolves once the client runs over a WebSocket (after the upgrade). */
export function upgraded(c, ms = 5000) {
  if (c.transport === 'websocket') return Promise.resolve();
  return withTimeout(new Promise(resolve => c.socket.io.engine.once('upgrade', resolve)),
                     ms, 'upgrade to websocket');
}
