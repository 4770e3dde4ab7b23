// A client for presenced's native WebSocket protocol (docs/protocol.md,
// part 1): connects as a user (dev user id or JWT) or as an anonymous
// observer, keeps the device alive with heartbeats, follows users by id or
// through the global feed, holds a per-user state map that only moves
// forward in version (1.9), and reconnects by itself with jittered
// exponential backoff, rejoining, resubscribing and catching up with
// `resync` (or a fresh snapshot when the server asks for one).
//
// No dependencies: it uses the platform's WebSocket (browsers, Node >= 22),
// or the constructor passed as the `WebSocket` option (Node 18/20: `ws`).

/** Device statuses a client may set (`offline` is the server's alone). */
export const STATUSES = Object.freeze(['online', 'away', 'busy', 'dnd', 'invisible']);

/** Connection states, in the order a healthy connection goes through them. */
export const STATES = Object.freeze(
  ['idle', 'connecting', 'syncing', 'ready', 'reconnecting', 'closed']);

/** Ids per `subscribe`, `unsubscribe` and `get_statuses` frame (the server's limit). */
const ids_per_frame = 1000;
/** `list_online` page size used for snapshots (the server's maximum). */
const page_size = 1000;
/** Close codes after which reconnecting would be wrong (1.7). */
const close_replaced = 4002;
const close_token_expired = 4003;
/** Codes the client itself gives to failures that are not the server's. */
const local_codes = new Set(['disconnected', 'timeout', 'closed', 'not_connected']);
/**
 * Server codes that refuse a subscription for good (docs/protocol.md 1.6);
 * the others (`unavailable`, `storage_unavailable`, `shutting_down`, ...)
 * say "retry".
 */
const refusal_codes = new Set(['forbidden', 'bad_request', 'invalid_id', 'too_many_ids',
                               'too_many_subscriptions', 'unauthorized']);

/** An error frame from the server, or a local failure (`disconnected`, `timeout`, `closed`). */
export class PresenceError extends Error {
  constructor(code, message, frame) {
    super(message || code);
    this.name = 'PresenceError';
    this.code = code;
    this.frame = frame;
  }

  /** True when the server refused the request (as opposed to the connection failing). */
  get fromServer() { return !local_codes.has(this.code); }

  /** True when the server refused for good (retrying the same request would not help). */
  get isRefusal() { return refusal_codes.has(this.code); }
}

/**
 * The reconnect delay before attempt `attempt` (0-based): exponential from
 * `initialDelayMs` by `factor`, capped at `maxDelayMs`, with the top
 * `jitter` fraction of it random (0.5: between half and all of it).
 */
export function backoffDelay(attempt, {
  initialDelayMs = 500, maxDelayMs = 30000, factor = 2, jitter = 0.5,
} = {}, random = Math.random) {
  const ceiling = Math.min(maxDelayMs, initialDelayMs * factor ** attempt);
  return Math.round(ceiling * (1 - jitter * random()));
}

/**
 * The ping interval for a heartbeat TTL (`welcome.heartbeat_ttl_ms`): a
 * third of it, so two pings may be lost before the device expires, and at
 * most 30 s (the seeds' interval, for the default 90 s TTL).
 */
export function heartbeatInterval(ttlMs) {
  if (!(ttlMs > 0)) return 30000;
  return Math.max(100, Math.min(30000, Math.floor(ttlMs / 3)));
}

/** The fields of a user state, without a frame's `type` and `id`. */
function userState(u) {
  const { type, id, devices, ...rest } = u;
  return Object.freeze(rest);
}

/** The fields two states of one version must share (1.9: only `last_seen` may differ). */
const visible_fields = ['is_online', 'status', 'online_since', 'status_text', 'status_expires_at'];

function sameVisibleState(a, b) {
  return visible_fields.every(k => (a[k] ?? null) === (b[k] ?? null));
}

/**
 * Per-user presence state that only moves forward: a state is taken only
 * if its `version` is greater than the one held (docs/protocol.md 1.9).
 * Used by PresenceClient; usable alone for another transport.
 *
 * One exception to "greater": a change (a delta or a resync entry) with
 * the same version as a state read by a snapshot, but another visible
 * state, replaces it. Equal versions should mean equal states, but
 * presenced can answer a subscribe made while a user's first join is being
 * written with the join's version and the state before it (offline); the
 * join's own delta, with that version, is the truth.
 */
export class PresenceState {
  #users = new Map();
  #read = new Set();     // users whose state came from a snapshot (a read)
  #newest = null;

  /**
   * Takes `user` if it is newer than what is held. `source`: `delta` or
   * `resync` for a change, `snapshot` for a state read by a query
   * (default: `delta` for a `user.status.changed` frame, else `snapshot`).
   * Returns true if it was taken.
   */
  apply(user, source = user?.type === 'user.status.changed' ? 'delta' : 'snapshot') {
    if (!user || typeof user.user_id !== 'string' || typeof user.version !== 'number')
      return false;
    if (this.#newest === null || user.version > this.#newest) this.#newest = user.version;
    const id = user.user_id;
    const change = source !== 'snapshot';
    const held = this.#users.get(id);
    if (held) {
      if (user.version < held.version) return false;
      if (user.version === held.version
          && (!change || !this.#read.has(id) || sameVisibleState(held, user)))
        return false;
    }
    this.#users.set(id, userState(user));
    if (change) this.#read.delete(id);
    else this.#read.add(id);
    return true;
  }

  get(userId) { return this.#users.get(String(userId)); }
  has(userId) { return this.#users.has(String(userId)); }
  delete(userId) {
    this.#read.delete(String(userId));
    return this.#users.delete(String(userId));
  }

  clear() {
    this.#users.clear();
    this.#read.clear();
  }

  get size() { return this.#users.size; }
  keys() { return this.#users.keys(); }
  values() { return this.#users.values(); }
  entries() { return this.#users.entries(); }
  [Symbol.iterator]() { return this.#users.entries(); }
  forEach(fn, thisArg) { this.#users.forEach(fn, thisArg); }

  /** The users held online, by user id. */
  online() {
    return [...this.#users.values()].filter(u => u.is_online)
      .sort((a, b) => (a.user_id < b.user_id ? -1 : a.user_id > b.user_id ? 1 : 0));
  }

  /** The highest version seen in any state offered (taken or not); null before any. */
  get newestVersion() { return this.#newest; }
}

/** A tiny event emitter: `on` returns a function that removes the listener. */
export class Emitter {
  #listeners = new Map();

  on(type, listener) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(listener);
    return () => this.off(type, listener);
  }

  once(type, listener) {
    const off = this.on(type, detail => { off(); listener(detail); });
    return off;
  }

  off(type, listener) {
    this.#listeners.get(type)?.delete(listener);
  }

  emit(type, detail) {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(detail);
      } catch (err) {
        // A listener's bug must not break the protocol handling that called
        // it; report it the way an uncaught error in an event handler is.
        queueMicrotask(() => { throw err; });
      }
    }
  }
}

const noop = () => {};

function toId(v) {
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v === 'string' && v.length > 0) return v;
  throw new TypeError(`not a user id: ${JSON.stringify(v)}`);
}

function chunks(list, n) {
  const out = [];
  for (let i = 0; i < list.length; i += n) out.push(list.slice(i, i + n));
  return out;
}

function textOf(data) {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data))
    return new TextDecoder().decode(data);  // Node's Buffer (ws) is a Uint8Array
  return String(data);
}

/**
 * A connection to presenced that stays up: see README.md for the options,
 * the events and the reconnect rules.
 */
export class PresenceClient extends Emitter {
  constructor(options = {}) {
    super();
    if (!options.url) throw new TypeError("the 'url' option is required");
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    if (typeof this._WebSocket !== 'function')
      throw new TypeError('no WebSocket: pass the WebSocket option (e.g. the ws package\'s) on Node < 22');
    if (options.status !== undefined && !STATUSES.includes(options.status))
      throw new TypeError(`status must be one of ${STATUSES.join(', ')}`);
    this._opts = {
      connectTimeoutMs: 10000,
      requestTimeoutMs: 10000,
      ...options,
    };
    this._reconnect = options.reconnect === false ? null : {
      initialDelayMs: 500, maxDelayMs: 30000, factor: 2, jitter: 0.5,
      maxAttempts: Infinity, ...(options.reconnect ?? {}),
    };
    this._token = options.token;
    this._status = options.status ?? null;       // the device status to keep
    this._desired = {
      ids: new Set((options.subscribe ?? []).map(toId)),
      global: !!options.global,
    };
    /** The per-user state map of everyone followed. */
    this.users = new PresenceState();
    this._state = 'idle';
    this._conn = null;
    this._attempt = 0;
    this._retryTimer = null;
    this._everReady = false;
    this._globalSynced = false;    // a global snapshot or resync completed once
    this._cursor = null;           // newest version known (for resync)
    this._self = null;
    this._welcome = null;
    this._waiters = [];            // { resolve, reject } for the next 'ready'
    this._nextId = 1;
  }

  // -- Read-only views ------------------------------------------------------

  get state() { return this._state; }
  get ready() { return this._state === 'ready'; }
  /** This session's user: the `welcome`'s, else the option; null for an observer. */
  get userId() { return this._welcome?.user_id ?? this._opts.userId ?? null; }
  /** This session's device id (the option, else the server's, from `welcome`/`joined`). */
  get deviceId() { return this._deviceId ?? this._opts.deviceId ?? null; }
  /** The own user as this device's replies tell it (`joined`, `status_set`): the truth, even when invisible. */
  get self() { return this._self; }
  /** The last `welcome` frame. */
  get welcome() { return this._welcome; }
  /** The ping interval in use on this connection (null before `welcome`). */
  get heartbeatIntervalMs() { return this._conn?.interval ?? null; }
  /** The newest version known, sent as `since` in a resync after a reconnect. */
  get cursor() { return this._cursor; }
  /** The user ids followed by id, and whether the global feed is followed. */
  get subscriptions() { return { userIds: [...this._desired.ids], global: this._desired.global }; }

  // -- Lifecycle ------------------------------------------------------------

  /**
   * Starts connecting (and reconnecting, until close()). Resolves at the
   * next 'ready'; rejects if the client is closed first.
   */
  connect() {
    if (this._state === 'idle' || this._state === 'closed') {
      this._attempt = 0;
      this._setState('connecting');
      this._open();
    }
    return this.whenReady();
  }

  /**
   * While waiting to reconnect, tries at once (e.g. on the browser's
   * 'online' event, or when a hidden page becomes visible again).
   */
  reconnectNow() {
    if (this._state !== 'reconnecting') return;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._setState('connecting');
    this._open();
  }

  /** Resolves at once when ready, else at the next 'ready'; rejects on close(). */
  whenReady() {
    if (this._state === 'ready') return Promise.resolve();
    if (this._state === 'closed' || this._state === 'idle')
      return Promise.reject(new PresenceError('not_connected', 'the client is not connecting'));
    return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
  }

  /**
   * Closes the connection for good (1000); no reconnect follows. Resolves
   * once the socket is closed (or after 2 s).
   */
  close(code = 1000, reason = 'client closed') {
    if (this._state === 'closed' || this._state === 'idle') return Promise.resolve();
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const conn = this._conn;
    this._conn = null;
    let done = Promise.resolve();
    if (conn) {
      this._teardown(conn, new PresenceError('closed', 'the client was closed'));
      const s = conn.socket;
      if (s) {
        done = new Promise(resolve => {
          const t = setTimeout(() => { this._kill(s); resolve(); }, 2000);
          s.onclose = () => { clearTimeout(t); resolve(); };
        });
        try { s.close(code, reason); } catch { this._kill(s); }
      }
    }
    this._finish({ code, reason, byClient: true });
    return done;
  }

  // -- Requests -------------------------------------------------------------

  /**
   * Sends a frame (`{type, ...fields}`) once ready and resolves with the
   * reply echoing its id; rejects with a PresenceError on an `error` reply,
   * a timeout, a disconnect or close().
   */
  async request(frame, { timeoutMs } = {}) {
    await this.whenReady();
    return this._send(this._conn, frame, timeoutMs);
  }

  /**
   * Sets this device's status (`online`, `away`, `busy`, `dnd`,
   * `invisible`) and/or the user's status message: `setStatus('busy')` or
   * `setStatus({ status, text, expiresIn })` (`text: null` clears it;
   * `expiresIn` in seconds). The device status is kept across reconnects.
   * Resolves with the own user (`self`).
   */
  async setStatus(arg) {
    const o = typeof arg === 'string' ? { status: arg } : { ...arg };
    if (o.status !== undefined && !STATUSES.includes(o.status))
      throw new TypeError(`status must be one of ${STATUSES.join(', ')}`);
    if (o.status === undefined && !('text' in o))
      throw new TypeError('name a status, a text, or both');
    const frame = { type: 'set_status' };
    if (o.status !== undefined) frame.status = o.status;
    if ('text' in o) frame.status_text = o.text ?? null;
    if (o.expiresIn !== undefined) frame.status_expires_in = o.expiresIn;
    const before = this._status;
    if (o.status !== undefined) this._status = o.status;
    for (;;) {
      try {
        const reply = await this.request(frame);
        return reply.user;
      } catch (err) {
        // A disconnect in flight: the status is set again after the rejoin.
        if (err.code === 'disconnected') {
          await this.whenReady();
          if (this._status === o.status && !('text' in o)) return this._self;
          continue;
        }
        // Refused, not connected or closed: nothing was set (after a
        // timeout it may have been, so the wish stands).
        if (err.code !== 'timeout' && o.status !== undefined && this._status === o.status)
          this._status = before;
        throw err;
      }
    }
  }

  /**
   * Follows users by id (kept across reconnects). Resolves, once their
   * snapshot is in the state map, with their states in the order given.
   */
  async subscribe(userIds) {
    const ids = [...new Set(userIds.map(toId))];
    const added = ids.filter(id => !this._desired.ids.has(id));
    for (const id of added) this._desired.ids.add(id);
    await this._converge(conn => this._followIds(conn, added.filter(
      id => this._desired.ids.has(id) && !conn.subscribed.has(id))), () => {
      for (const id of added) this._desired.ids.delete(id);
      this._prune();
    });
    return ids.map(id => this.users.get(id));
  }

  /** Stops following users by id; their states leave the map (unless the global feed covers them). */
  async unsubscribe(userIds) {
    const ids = userIds.map(toId).filter(id => this._desired.ids.has(id));
    for (const id of ids) this._desired.ids.delete(id);
    this._prune();
    await this._converge(null);
  }

  /**
   * Follows every user (the global feed; kept across reconnects). Resolves
   * once the snapshot of everyone online is in the state map.
   */
  async subscribeGlobal() {
    const was = this._desired.global;
    this._desired.global = true;
    await this._converge(null, () => {
      this._desired.global = was;
      this._prune();
    });
  }

  /** Stops the global feed; users not followed by id leave the map. */
  async unsubscribeGlobal() {
    this._desired.global = false;
    this._prune();
    await this._converge(null);
  }

  getStatus(userId) {
    return this.request({ type: 'get_status', user_id: toId(userId) }).then(r => r.user);
  }

  getStatuses(userIds) {
    return this.request({ type: 'get_statuses', user_ids: userIds.map(toId) }).then(r => r.users);
  }

  listOnline({ limit, cursor } = {}) {
    const f = { type: 'list_online' };
    if (limit !== undefined) f.limit = limit;
    if (cursor !== undefined && cursor !== null) f.cursor = cursor;
    return this.request(f);
  }

  countOnline() {
    return this.request({ type: 'count_online' }).then(r => r.count);
  }

  /** JWT mode: extends the session with a fresh token of the same user (also used for reconnects). */
  async refresh(token) {
    const reply = await this.request({ type: 'refresh', token });
    if (typeof this._token !== 'function') this._token = token;
    return reply;
  }

  /**
   * Processes one server frame (JSON text or an object) as if it had come
   * on the socket: for tests, and for feeding frames from another transport.
   */
  receive(data) {
    const frame = typeof data === 'string' ? JSON.parse(data) : data;
    this._handle(this._conn, frame);
  }

  // -- Connection -------------------------------------------------------------

  _setState(state) {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this.emit('state', { state, previous });
  }

  async _url() {
    const base = globalThis.location?.href;
    const u = new URL(this._opts.url, base);
    if (u.protocol === 'http:') u.protocol = 'ws:';
    else if (u.protocol === 'https:') u.protocol = 'wss:';
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/ws';
    const q = u.searchParams;
    if (this._opts.userId !== undefined && this._opts.userId !== null)
      q.set('userId', toId(this._opts.userId));
    if (this._opts.deviceId) q.set('deviceId', this._opts.deviceId);
    if (this._opts.platform) q.set('platform', this._opts.platform);
    const token = typeof this._token === 'function' ? await this._token() : this._token;
    if (token) q.set('token', token);
    // Subscriptions are this client's to make (after the snapshot rule), not
    // the path's default (seed 003's path follows everyone).
    if (!q.has('subscribe')) q.set('subscribe', 'none');
    return u.toString();
  }

  async _open() {
    const conn = {
      socket: null, welcome: null, pending: new Map(),
      subscribed: new Set(), global: false, chain: Promise.resolve(),
      openTimer: null, hbTimer: null, interval: null, pingInFlight: false,
      join: null, syncMode: 'none', dead: false,
    };
    this._conn = conn;
    // The automatic join's `joined` (no id) may come right after `welcome`.
    conn.join = {};
    conn.join.promise = new Promise((resolve, reject) => {
      conn.join.resolve = resolve;
      conn.join.reject = reject;
    });
    conn.join.promise.catch(noop);
    let url;
    try {
      url = await this._url();
    } catch (err) {
      if (this._conn !== conn) return;
      this.emit('error', { error: err });
      this._lost(conn, { code: 0, reason: `no URL: ${err.message}` });
      return;
    }
    if (this._conn !== conn) return;   // closed meanwhile
    let socket;
    try {
      socket = new this._WebSocket(url);
    } catch (err) {
      this.emit('error', { error: err });
      this._lost(conn, { code: 0, reason: err.message });
      return;
    }
    conn.socket = socket;
    conn.openTimer = setTimeout(
      () => this._lost(conn, { code: 0, reason: 'no welcome in time' }),
      this._opts.connectTimeoutMs);
    socket.onmessage = ev => {
      if (this._conn !== conn) return;
      let frame;
      try {
        frame = JSON.parse(textOf(ev.data));
      } catch {
        this.emit('error', { error: new PresenceError('bad_json', 'the server sent a frame that is not JSON') });
        return;
      }
      this._handle(conn, frame);
    };
    socket.onerror = ev => { conn.lastError = ev?.error?.message ?? ev?.message ?? 'socket error'; };
    socket.onclose = ev => {
      if (this._conn !== conn) return;
      this._lost(conn, { code: ev?.code ?? 1006, reason: ev?.reason || conn.lastError || '' });
    };
  }

  /** Forcibly ends a socket (ws's terminate; the platform's close otherwise). */
  _kill(socket) {
    try {
      if (typeof socket.terminate === 'function') socket.terminate();
      else socket.close();
    } catch { /* already closed */ }
  }

  /** Stops a connection's timers and fails its requests; leaves the socket to the caller. */
  _teardown(conn, error) {
    conn.dead = true;
    clearTimeout(conn.openTimer);
    clearInterval(conn.hbTimer);
    for (const p of conn.pending.values()) {
      clearTimeout(p.timer);
      p.reject(error);
    }
    conn.pending.clear();
    conn.join.reject(error);
    const s = conn.socket;
    if (s) {
      // ws throws an 'error' without a listener: keep one.
      s.onmessage = noop;
      s.onerror = noop;
      s.onclose = noop;
    }
  }

  /** The connection is gone (or given up on): reconnect, unless it must not. */
  _lost(conn, { code, reason }) {
    if (this._conn !== conn || conn.dead) return;
    this._conn = null;
    this._teardown(conn, new PresenceError('disconnected', `disconnected: ${reason || code}`));
    if (conn.socket && conn.socket.readyState !== 3 /* CLOSED */) this._kill(conn.socket);
    const r = this._reconnect;
    let stop = null;
    if (code === close_replaced) stop = 'replaced by another connection with the same device id';
    else if (code === close_token_expired && typeof this._token !== 'function')
      stop = 'token expired (pass a token function to reconnect with a fresh one)';
    else if (!r) stop = 'reconnect is off';
    else if (this._attempt >= r.maxAttempts) stop = 'reconnect attempts exhausted';
    const delayMs = stop ? null : backoffDelay(this._attempt, r, this._opts.random);
    this.emit('disconnected', { code, reason, willReconnect: !stop, delayMs });
    if (stop) {
      this._finish({ code, reason: stop, byClient: false });
      return;
    }
    this._attempt += 1;
    this._setState('reconnecting');
    this.emit('reconnecting', { attempt: this._attempt, delayMs });
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      this._setState('connecting');
      this._open();
    }, delayMs);
  }

  _finish({ code, reason, byClient }) {
    this._setState('closed');
    const err = new PresenceError('closed', `closed: ${reason}`);
    const waiters = this._waiters;
    this._waiters = [];
    for (const w of waiters) w.reject(err);
    this.emit('closed', { code, reason, byClient });
  }

  /** Sends a frame with a fresh id on `conn`; resolves with its reply. */
  _send(conn, frame, timeoutMs = this._opts.requestTimeoutMs) {
    if (!conn || conn.dead || !conn.socket || conn.socket.readyState !== 1 /* OPEN */)
      return Promise.reject(new PresenceError('disconnected', 'not connected'));
    const id = `c${this._nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.pending.delete(id);
        reject(new PresenceError('timeout', `no reply to '${frame.type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      conn.pending.set(id, { resolve, reject, timer });
      const out = { ...frame, id };
      try {
        conn.socket.send(JSON.stringify(out));
      } catch (err) {
        clearTimeout(timer);
        conn.pending.delete(id);
        reject(new PresenceError('disconnected', err.message));
        return;
      }
      this.emit('sent', out);
    });
  }

  // -- Frames -----------------------------------------------------------------

  _handle(conn, f) {
    if (!f || typeof f !== 'object' || typeof f.type !== 'string') return;
    switch (f.type) {
      case 'welcome':
        if (conn && !conn.welcome) this._onWelcome(conn, f);
        break;
      case 'user.status.changed':
        this._apply(f, 'delta');
        break;
      case 'joined':
        this._deviceId = f.device_id ?? this._deviceId;
        this._setSelf(f.user);
        if (f.id === undefined && conn) {
          conn.joined = true;
          conn.join.resolve(f);
        }
        this.emit('joined', { user: f.user, deviceId: f.device_id });
        break;
      case 'status_set':
        this._setSelf(f.user);
        break;
      case 'session.expired':
        this.emit('expired', { reason: f.reason, deviceId: f.device_id });
        break;
      case 'error':
        if (f.id === undefined || !conn?.pending.has(f.id)) {
          const error = new PresenceError(f.code, f.message, f);
          // An error without id while the automatic join is under way is
          // that join's answer (1.2); any other is for the application.
          if (conn && conn.welcome?.user_id != null && !conn.joined && f.id === undefined)
            conn.join.reject(error);
          else this.emit('error', { error });
        }
        break;
      default:
        break;
    }
    if (conn && f.id !== undefined && conn.pending.has(f.id)) {
      const p = conn.pending.get(f.id);
      conn.pending.delete(f.id);
      clearTimeout(p.timer);
      if (f.type === 'error') p.reject(new PresenceError(f.code, f.message, f));
      else p.resolve(f);
    }
    this.emit('frame', f);
  }

  _setSelf(user) {
    if (!user) return;
    this._self = user;
    this.emit('self', { user });
  }

  _followed(userId) {
    return this._desired.global || this._desired.ids.has(userId);
  }

  /** Puts one state into the map if followed and newer; emits 'change'. */
  _apply(u, source) {
    if (!u || typeof u.user_id !== 'string' || typeof u.version !== 'number') return false;
    if (this._cursor === null || u.version > this._cursor) this._cursor = u.version;
    if (!this._followed(u.user_id)) return false;
    const previous = this.users.get(u.user_id) ?? null;
    if (!this.users.apply(u, source)) return false;
    this.emit('change', { userId: u.user_id, user: this.users.get(u.user_id), previous, source });
    return true;
  }

  /** Drops from the map the users no longer followed. */
  _prune() {
    if (this._desired.global) return;
    for (const id of [...this.users.keys()]) {
      if (this._desired.ids.has(id)) continue;
      const previous = this.users.get(id);
      this.users.delete(id);
      this.emit('change', { userId: id, user: null, previous, source: 'unsubscribe' });
    }
  }

  _onWelcome(conn, f) {
    clearTimeout(conn.openTimer);
    conn.welcome = f;
    this._welcome = f;
    this._deviceId = f.device_id ?? this._deviceId;
    conn.interval = this._opts.heartbeatIntervalMs ?? heartbeatInterval(f.heartbeat_ttl_ms);
    conn.pongTimeout = this._opts.pongTimeoutMs
      ?? Math.min(10000, Math.max(2000, conn.interval));
    // 0: no automatic pings (the application sends them, or the device
    // expires after the TTL); nor is a dead connection noticed then.
    if (conn.interval > 0) conn.hbTimer = setInterval(() => this._ping(conn), conn.interval);
    this._setState('syncing');
    this.emit('welcome', { welcome: f });
    this._sync(conn);
  }

  _ping(conn) {
    if (conn.dead || conn.pingInFlight) return;
    conn.pingInFlight = true;
    const sent = Date.now();
    this._send(conn, { type: 'ping' }, conn.pongTimeout).then(pong => {
      conn.pingInFlight = false;
      this.emit('heartbeat', { rttMs: Date.now() - sent, timestamp: pong.timestamp });
    }, err => {
      conn.pingInFlight = false;
      if (err.code === 'timeout')
        this._lost(conn, { code: 0, reason: `no pong within ${conn.pongTimeout} ms` });
    });
  }

  /** After `welcome`: join (automatic), follow, catch up, restore the status; then 'ready'. */
  async _sync(conn) {
    try {
      const expectJoin = conn.welcome.user_id != null;
      let joinTimer;
      const joined = expectJoin
        ? Promise.race([conn.join.promise, new Promise((_, reject) => {
            joinTimer = setTimeout(() => reject(new PresenceError('timeout', 'no joined in time')),
                                   this._opts.requestTimeoutMs);
          })]).finally(() => clearTimeout(joinTimer))
        : null;
      joined?.catch(noop);
      await this._enqueue(conn, () => this._reconcile(conn, true));
      if (joined) {
        await joined;
        // A rejoin resets the device to `online` (1.4, join): set it again.
        if (this._status && this._status !== 'online')
          await this._send(conn, { type: 'set_status', status: this._status });
      }
      if (this._conn !== conn || conn.dead) return;
      this._attempt = 0;
      const reconnected = this._everReady;
      this._everReady = true;
      this._setState('ready');
      const waiters = this._waiters;
      this._waiters = [];
      for (const w of waiters) w.resolve();
      this.emit('ready', { reconnected, sync: conn.syncMode });
    } catch (err) {
      if (this._conn !== conn || conn.dead) return;
      this.emit('error', { error: err });
      this._lost(conn, { code: 0, reason: `sync failed: ${err.message}` });
    }
  }

  /** Runs `step` after the connection's earlier steps (one at a time). */
  _enqueue(conn, step) {
    const run = conn.chain.then(() => {
      if (conn.dead) throw new PresenceError('disconnected', 'disconnected');
      return step();
    });
    conn.chain = run.catch(noop);
    return run;
  }

  /**
   * Makes the live connection follow what is desired. `undo` runs when the
   * server refuses (then the promise rejects); a disconnect waits for the
   * next 'ready', whose sync covers the desire.
   */
  async _converge(step, undo) {
    const conn = this._conn;
    if (this._state === 'idle' || this._state === 'closed') return;
    if (!conn || !conn.welcome || conn.dead) {
      await this.whenReady();
      return;
    }
    try {
      await this._enqueue(conn, step ? () => step(conn) : () => this._reconcile(conn, false));
      // The step followed what it was given; anything else left over too.
      if (step) await this._enqueue(conn, () => this._reconcile(conn, false));
    } catch (err) {
      // Lost on the way: the next connection's sync follows what is desired.
      if (err.code === 'disconnected') {
        await this.whenReady();
        return;
      }
      undo?.();
      throw err;
    }
  }

  /** One pass of making `conn` follow exactly what is desired. */
  async _reconcile(conn, first) {
    const report = err => {
      // During the connection's first sync a refusal must not fail the sync
      // (it would reconnect for ever): the desire is dropped and reported.
      if (!first || !err.isRefusal) throw err;
      this.emit('error', { error: err });
    };
    if (this._desired.global && !conn.global) {
      try {
        await this._followGlobal(conn, first && this._globalSynced);
      } catch (err) {
        if (err.isRefusal) {
          this._desired.global = false;
          this._prune();
        }
        report(err);
      }
    } else if (!this._desired.global && conn.global) {
      await this._send(conn, { type: 'unsubscribe', global: true });
      conn.global = false;
    }
    const drop = [...conn.subscribed].filter(id => !this._desired.ids.has(id));
    for (const part of chunks(drop, ids_per_frame)) {
      await this._send(conn, { type: 'unsubscribe', user_ids: part });
      for (const id of part) conn.subscribed.delete(id);
    }
    const add = [...this._desired.ids].filter(id => !conn.subscribed.has(id));
    try {
      await this._followIds(conn, add);
    } catch (err) {
      report(err);
    }
  }

  async _followIds(conn, ids) {
    for (const part of chunks(ids, ids_per_frame)) {
      let reply;
      try {
        reply = await this._send(conn, { type: 'subscribe', user_ids: part });
      } catch (err) {
        if (err.isRefusal) {
          for (const id of part) this._desired.ids.delete(id);
          this._prune();
        }
        throw err;
      }
      for (const id of part) conn.subscribed.add(id);
      if (conn.syncMode === 'none') conn.syncMode = 'snapshot';
      for (const u of reply.users ?? []) this._apply(u, 'snapshot');
    }
  }

  /**
   * Follows everyone. After a reconnect, asks `resync` for what changed
   * since the newest version known; a fresh snapshot otherwise, or when the
   * server answers `resync_required` (1.4, resync; 1.9).
   */
  async _followGlobal(conn, mayResync) {
    if (mayResync && this._cursor !== null) {
      await this._send(conn, { type: 'subscribe', global: true });
      conn.global = true;
      let r;
      try {
        r = await this._send(conn, { type: 'resync', since: this._cursor });
      } catch (err) {
        if (!err.fromServer) throw err;
        r = { type: 'resync_refused' };   // refused (e.g. unavailable): list instead
      }
      if (r.type === 'resynced') {
        for (const c of r.changes ?? []) this._apply(c, 'resync');
        if (typeof r.cursor === 'number' && r.cursor > this._cursor) this._cursor = r.cursor;
        conn.syncMode = 'resync';
        this._globalSynced = true;
        return;
      }
      // resync_required: what is older than its cursor is in the snapshot
      // read next; what is newer comes as deltas (already following).
      await this._snapshot(conn, null);
      if (typeof r.cursor === 'number' && r.cursor > this._cursor) this._cursor = r.cursor;
      return;
    }
    const r = await this._send(conn, { type: 'subscribe', global: true, snapshot: true, limit: page_size });
    conn.global = true;
    await this._snapshot(conn, r.online ?? { users: [], next_cursor: null });
  }

  /**
   * Reads every online user (`first`: the page the subscribe brought) and
   * then asks for the users held online that the listing left out: they
   * went offline (or hid) while this client was not listening.
   */
  async _snapshot(conn, first) {
    const listed = new Set();
    let page = first ?? await this._send(conn, { type: 'list_online', limit: page_size });
    for (;;) {
      for (const u of page.users ?? []) {
        listed.add(u.user_id);
        this._apply(u, 'snapshot');
      }
      if (!page.next_cursor) break;
      page = await this._send(conn, { type: 'list_online', limit: page_size, cursor: page.next_cursor });
    }
    const missing = [...this.users.values()]
      .filter(u => u.is_online && !listed.has(u.user_id)).map(u => u.user_id);
    for (const part of chunks(missing, ids_per_frame)) {
      const r = await this._send(conn, { type: 'get_statuses', user_ids: part });
      for (const u of r.users ?? []) this._apply(u, 'snapshot');
    }
    conn.syncMode = 'snapshot';
    this._globalSynced = true;
  }
}

export default PresenceClient;
