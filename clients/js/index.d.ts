// Types of @presenced/client (index.js): presenced's native WebSocket
// protocol, docs/protocol.md part 1.

/** A device status a client may set. */
export type DeviceStatus = 'online' | 'away' | 'busy' | 'dnd' | 'invisible';
/** A user's aggregated status as others see it. */
export type UserStatus = 'online' | 'away' | 'busy' | 'dnd' | 'offline';
/** The own user's status in the replies to its own frames (`joined`, `status_set`). */
export type SelfStatus = UserStatus | 'invisible';

export type ConnectionState =
  | 'idle' | 'connecting' | 'syncing' | 'ready' | 'reconnecting' | 'closed';

export declare const STATUSES: readonly DeviceStatus[];
export declare const STATES: readonly ConnectionState[];

/** A user as deltas, snapshots and lists carry it (no devices). Frozen. */
export interface UserState {
  readonly user_id: string;
  readonly is_online: boolean;
  readonly status: UserStatus;
  /** ISO-8601 UTC with ms; null: never seen. */
  readonly last_seen: string | null;
  readonly last_seen_ms: number | null;
  readonly online_since: string | null;
  /** Grows with every visible change; 0 for a user never seen. */
  readonly version: number;
  readonly status_text?: string | null;
  readonly status_expires_at?: string | null;
}

export interface Device {
  device_id: string;
  user_agent: string;
  platform: string;
  status: DeviceStatus;
  connected_at: string;
  last_active: string;
}

/** The own user with devices (`joined`, `status_set`, `status`). */
export interface SelfUser extends Omit<UserState, 'status'> {
  readonly status: SelfStatus;
  readonly devices: Device[];
}

/** The full user object of `get_status` (devices included). */
export interface UserWithDevices extends UserState {
  readonly devices: Device[];
}

export interface Welcome {
  type: 'welcome';
  user_id: string | null;
  device_id: string;
  heartbeat_ttl_ms: number;
  global_feed: boolean;
  server: 'presenced';
}

/** Any server frame (see docs/protocol.md 1.5 for the types). */
export interface Frame {
  type: string;
  id?: string | number;
  [field: string]: unknown;
}

export interface OnlinePage {
  users: UserState[];
  next_cursor: string | null;
  total: number;
}

export interface ReconnectOptions {
  /** Delay before the first retry, before jitter (500). */
  initialDelayMs?: number;
  /** Cap of the delay (30000). */
  maxDelayMs?: number;
  /** Growth per attempt (2). */
  factor?: number;
  /** The random share of each delay, 0-1 (0.5: between half and all of it). */
  jitter?: number;
  /** Attempts in a row before giving up (Infinity). */
  maxAttempts?: number;
}

/** What the client needs of a WebSocket (the platform's and ws's both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onmessage: ((ev: any) => void) | null;
  onclose: ((ev: any) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export interface PresenceClientOptions {
  /** `ws://host:8080`, `wss://host/ws`, `http(s)://...` (made ws(s)), or relative in a browser. Path `/` becomes `/ws`. */
  url: string;
  /** Dev mode: join as this user (`?userId=`). Without it and without a token: an anonymous observer. */
  userId?: string | number;
  /** JWT mode: the token, or a function asked before every connection (for a fresh one). */
  token?: string | (() => string | Promise<string>);
  /** Name this device (`?deviceId=`); recommended: a stable id per browser/app install. */
  deviceId?: string;
  /** Free text stored with the device. */
  platform?: string;
  /** The device status to hold (set after each join; default `online`). */
  status?: DeviceStatus;
  /** Users to follow by id from the first connection on. */
  subscribe?: Array<string | number>;
  /** Follow every user (the global feed) from the first connection on. */
  global?: boolean;
  /** The WebSocket constructor (default: globalThis.WebSocket; Node < 22: pass ws's). */
  WebSocket?: new (url: string) => WebSocketLike;
  /** Ping interval; default: a third of the welcome's heartbeat_ttl_ms, 100 ms to 30 s. 0: no automatic pings. */
  heartbeatIntervalMs?: number;
  /** A ping unanswered this long ends the connection; default: the interval, 2 s to 10 s. */
  pongTimeoutMs?: number;
  /** A connection without `welcome` this long is given up (10000). */
  connectTimeoutMs?: number;
  /** A request without reply this long rejects with `timeout` (10000). */
  requestTimeoutMs?: number;
  /** Backoff settings, or false: never reconnect. */
  reconnect?: ReconnectOptions | false;
  /** Source of randomness for the jitter (Math.random). */
  random?: () => number;
}

export declare class PresenceError extends Error {
  /** The server's code (`not_joined`, `forbidden`, ...) or `disconnected`, `timeout`, `closed`, `not_connected`. */
  readonly code: string;
  /** The error frame, when the server sent one. */
  readonly frame?: Frame;
  /** True when the server refused (not a connection failure). */
  readonly fromServer: boolean;
  /** True when the server refused for good (`forbidden`, `invalid_id`, `too_many_subscriptions`, ...). */
  readonly isRefusal: boolean;
}

export interface ChangeEvent {
  userId: string;
  /** The state now held; null when the user left the map (unsubscribed). */
  user: UserState | null;
  /** The state held before; null if none. */
  previous: UserState | null;
  source: 'snapshot' | 'delta' | 'resync' | 'unsubscribe';
}

export interface PresenceEvents {
  state: { state: ConnectionState; previous: ConnectionState };
  welcome: { welcome: Welcome };
  joined: { user: SelfUser; deviceId: string };
  /** After a connection joined, followed what is wanted and caught up. */
  ready: { reconnected: boolean; sync: 'snapshot' | 'resync' | 'none' };
  change: ChangeEvent;
  self: { user: SelfUser };
  heartbeat: { rttMs: number; timestamp: string };
  disconnected: { code: number; reason: string; willReconnect: boolean; delayMs: number | null };
  reconnecting: { attempt: number; delayMs: number };
  /** `session.expired`: `heartbeat timeout` (close 4000) or `replaced` (4002). */
  expired: { reason: string; deviceId: string };
  error: { error: Error };
  /** Every server frame, after the client handled it. */
  frame: Frame;
  /** Every frame the client sent (with its id). */
  sent: Frame;
  closed: { code: number; reason: string; byClient: boolean };
}

export declare class Emitter<Events extends object = PresenceEvents> {
  on<K extends keyof Events>(type: K, listener: (detail: Events[K]) => void): () => void;
  once<K extends keyof Events>(type: K, listener: (detail: Events[K]) => void): () => void;
  off<K extends keyof Events>(type: K, listener: (detail: Events[K]) => void): void;
  emit<K extends keyof Events>(type: K, detail: Events[K]): void;
}

/** Per-user states that only move forward in version. */
export declare class PresenceState implements Iterable<[string, UserState]> {
  /**
   * Takes the state if newer than the one held; true if taken. `source`:
   * a change (`delta`, `resync`) or a read (`snapshot`); default `delta`
   * for a `user.status.changed` frame, else `snapshot`. At an equal version
   * only a change that differs from a snapshot's read replaces it.
   */
  apply(user: { user_id: string; version: number; type?: string } & Partial<UserState>,
        source?: 'delta' | 'resync' | 'snapshot'): boolean;
  get(userId: string | number): UserState | undefined;
  has(userId: string | number): boolean;
  delete(userId: string | number): boolean;
  clear(): void;
  readonly size: number;
  keys(): IterableIterator<string>;
  values(): IterableIterator<UserState>;
  entries(): IterableIterator<[string, UserState]>;
  [Symbol.iterator](): IterableIterator<[string, UserState]>;
  forEach(fn: (user: UserState, userId: string, map: Map<string, UserState>) => void, thisArg?: unknown): void;
  /** The users held online, sorted by id. */
  online(): UserState[];
  /** The highest version offered so far (taken or not). */
  readonly newestVersion: number | null;
}

export declare class PresenceClient extends Emitter<PresenceEvents> {
  constructor(options: PresenceClientOptions);

  /** Everyone followed, by user id. */
  readonly users: PresenceState;
  readonly state: ConnectionState;
  readonly ready: boolean;
  readonly userId: string | null;
  readonly deviceId: string | null;
  /** The own user as this device's replies tell it (the truth, even when invisible). */
  readonly self: SelfUser | null;
  readonly welcome: Welcome | null;
  readonly heartbeatIntervalMs: number | null;
  /** The newest version known: `since` of the next resync. */
  readonly cursor: number | null;
  readonly subscriptions: { userIds: string[]; global: boolean };

  /** Starts (re)connecting; resolves at the next 'ready', rejects on close(). */
  connect(): Promise<void>;
  whenReady(): Promise<void>;
  /** While waiting to reconnect: try now (e.g. on the browser's 'online' event). */
  reconnectNow(): void;
  /** Closes for good (no reconnect); resolves when the socket closed. */
  close(code?: number, reason?: string): Promise<void>;

  /** Any client frame, once ready; resolves with the reply echoing its id. */
  request<T extends Frame = Frame>(frame: { type: string; [field: string]: unknown },
                                   options?: { timeoutMs?: number }): Promise<T>;
  setStatus(status: DeviceStatus): Promise<SelfUser>;
  setStatus(change: { status?: DeviceStatus; text?: string | null; expiresIn?: number }): Promise<SelfUser>;
  subscribe(userIds: Array<string | number>): Promise<Array<UserState | undefined>>;
  unsubscribe(userIds: Array<string | number>): Promise<void>;
  subscribeGlobal(): Promise<void>;
  unsubscribeGlobal(): Promise<void>;
  getStatus(userId: string | number): Promise<UserWithDevices>;
  getStatuses(userIds: Array<string | number>): Promise<UserState[]>;
  listOnline(options?: { limit?: number; cursor?: string | null }): Promise<Frame & OnlinePage>;
  countOnline(): Promise<number>;
  /** JWT mode: extend the session with a fresh token (kept for reconnects). */
  refresh(token: string): Promise<Frame & { expires_at: string | null; expires_at_ms: number | null }>;
  /** Handle one server frame as if it came on the socket. */
  receive(frame: string | Frame): void;
}

/** The delay before reconnect attempt `attempt` (0-based). */
export declare function backoffDelay(attempt: number, options?: ReconnectOptions,
                                     random?: () => number): number;
/** The default ping interval for a heartbeat TTL in ms. */
export declare function heartbeatInterval(ttlMs: number | undefined): number;

export default PresenceClient;
