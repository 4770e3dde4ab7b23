#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace presence {

using std::chrono::milliseconds;

/// Options of the actors/ folder: presence semantics.
struct actors_config {
  /// A device that sends nothing for this long is removed.
  milliseconds heartbeat_ttl{90'000};
  /// After a user's last device goes, wait this long before announcing them
  /// offline; a reconnect in between is invisible to everyone else.
  milliseconds reconnect_grace{2'000};
  /// Adaptive coalescing: after a quiet spell a delta goes out at once;
  /// deltas within this window after it are gathered and sent together
  /// (the latest state per user wins); a send to many listeners opens a
  /// longer window (actors/fanout.hpp). 0 = send at once, always.
  /// 0.25 ms: a busy node's join -> observer p99 was 3.6-4.6 ms with it
  /// against 5.4-6.9 ms with 2 ms (docs/benchmarks.md, twenty-first
  /// session); storms are bounded by the longer windows of large sends.
  std::chrono::microseconds coalesce_window{250};
  /// Timeout of internal actor requests.
  milliseconds request_timeout{5'000};
  /// Devices one user may hold at once; joins beyond it are refused.
  uint32_t max_devices_per_user = 64;
  /// Users one connection may follow by id at once (the global feed counts
  /// as none); subscribes beyond it are refused (too_many_subscriptions).
  uint32_t max_subscriptions = 10'000;
  /// Users who never chose who may see them are seen by their contacts
  /// only (--visibility contacts), else by everyone (the default).
  bool contacts_by_default = false;
  /// Contacts one user may list (PUT /api/users/:id/contacts refuses more).
  uint32_t max_contacts = 1'000;
  /// A typing indicator ends by itself this long after its last start
  /// (a client that vanished mid-word stops "typing" for everyone).
  milliseconds typing_timeout{5'000};
  /// Users whose latest change each node keeps for `resync` and
  /// GET /api/presence/changes (the oldest go first).
  uint32_t change_log_size = 100'000;
  /// ... and for this long at most (0 = as long as they fit): a client away
  /// longer lists again. 2 minutes, as Socket.IO's connection state
  /// recovery (maxDisconnectionDuration). Bounds the log's memory by the
  /// churn of that window rather than by the users ever seen.
  milliseconds change_log_ttl{120'000};
  /// A resync looks back this far before its cursor: deltas reach a node
  /// out of version order (other nodes, coalescing, equal versions).
  milliseconds resync_margin{2'000};
};

/// Options of the persistence/ folder: RocksDB.
struct persistence_config {
  std::string data_dir = "./data";
  /// Online sessions remembered per user (oldest dropped first).
  uint32_t history_limit = 100;
  /// MiB RocksDB's memtables may hold (all column families) before they
  /// are flushed: the store's share of a node's memory above its data
  /// (persistence::memtable_budget).
  uint32_t memtable_mb = 8;
  /// MiB of RocksDB's block cache (data read from disk), shared by every
  /// column family.
  uint32_t cache_mb = 8;
  /// Activity of online users is written at most this often (crash recovery
  /// loses at most twice this: the edge may hold activity back for one
  /// interval, the store for another). 0 = write every heartbeat. 5 s: at 1 s every user's
  /// heartbeat cost a user-actor message and a checkpoint, 142 vs 78 us of
  /// CPU per native ping (docs/benchmarks.md).
  milliseconds checkpoint_interval{5'000};
  /// Private messages kept per conversation (oldest dropped first).
  uint32_t chat_history_limit = 1000;
};

/// Options of the edge/ folder: sockets, HTTP, WebSocket, auth.
struct edge_config {
  bool enabled = true;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  /// HS256 secret. With no secret and no public key: dev mode (clients
  /// name themselves).
  std::string jwt_secret;
  /// PEM file of RSA / EC public keys or certificates (RS256/384/512,
  /// ES256/384/512 tokens); reread on SIGHUP.
  std::string jwt_public_key;
  /// JWKS file ({"keys": [...]}, RSA and EC keys, matched by kid); reread
  /// on SIGHUP.
  std::string jwt_jwks;
  /// When set, a token's `iss` must equal it / its `aud` must be or hold it.
  std::string jwt_issuer;
  std::string jwt_audience;
  /// Clock skew allowed on a token's exp and nbf.
  milliseconds jwt_leeway{30'000};
  /// TLS for clients: PEM certificate chain and private key files. Both set:
  /// the listener speaks only HTTPS and WSS; reread on SIGHUP.
  std::string tls_cert;
  std::string tls_key;
  /// JWT mode: some key is configured.
  bool jwt_mode() const {
    return !jwt_secret.empty() || !jwt_public_key.empty() || !jwt_jwks.empty();
  }
  /// JWT mode: a token is an admin's when this claim is `true` or its
  /// `roles` array holds this name.
  std::string admin_claim = "admin";
  /// Who may follow every user's changes (the native global feed, seed
  /// 003's path) in JWT mode: "open" (any verified user) or "admin".
  std::string global_feed = "open";
  /// JWT mode: who may read /metrics: "admin" (an admin token) or "open"
  /// (a Prometheus scraper without a token).
  std::string metrics_auth = "admin";
  /// Outgoing webhooks (edge/webhooks): http:// or https:// endpoints that
  /// get every presence change of the users this node owns, and the
  /// HMAC-SHA256 key of their signature header (empty: unsigned).
  std::vector<std::string> webhook_urls;
  std::string webhook_secret;
  /// PEM file of the authorities https:// endpoints are checked against
  /// (empty: the system's).
  std::string webhook_ca;
  /// Hooks waiting per endpoint (beyond it the oldest is dropped).
  uint32_t webhook_queue = 10'000;
  /// Threads running the Asio io_context.
  uint32_t io_threads = 1;
  /// A fan-out delivery task of at least this many of an I/O thread's
  /// subscribers is shared with that thread's helper thread, which sleeps
  /// otherwise (0: no helper threads).
  uint32_t fanout_helper_min = 32;
  /// Largest WebSocket message accepted (bigger: close 1009).
  std::size_t max_frame_bytes = 64 * 1024;
  /// Largest HTTP request body accepted (bigger: 413).
  std::size_t max_body_bytes = 1024 * 1024;
  /// Slow-consumer policy. A client whose write queue stays above
  /// write_queue_bytes for slow_consumer_ms, or ever exceeds
  /// write_queue_max_bytes, is disconnected (close 4001). Short bursts (a
  /// thousand users joining at once) pass; a client that stops reading
  /// does not.
  std::size_t write_queue_bytes = 1024 * 1024;
  std::size_t write_queue_max_bytes = 16 * 1024 * 1024;
  milliseconds slow_consumer_ms{5'000};
  /// An idle HTTP keep-alive connection (or one sending its request too
  /// slowly) is closed after this long.
  milliseconds http_timeout{30'000};
  /// A WebSocket from which nothing arrives for this long is dropped; at
  /// half of it the server sends a ping (both checked every tenth).
  milliseconds ws_idle_timeout{300'000};
  /// Messages per second one WebSocket may send (token bucket) and the burst.
  double rate_limit = 50.0;
  double rate_burst = 100.0;
  /// Connections held at once; more are refused with 503.
  uint32_t max_connections = 19'000;
  /// Connections held at once from one source address (127.0.0.1 and ::1
  /// exempt: a proxy on the same host, most tests and benchmarks); more
  /// are refused with 429. 0 = no limit (behind a proxy on another host).
  uint32_t max_connections_per_ip = 2'000;
  /// Access-Control-Allow-Origin on every HTTP response ("" = none).
  std::string cors_origin = "*";
  /// Socket.IO: request paths served (comma-separated), Engine.IO
  /// heartbeat (a client that vanishes is gone after interval + timeout),
  /// largest payload, and how often seed 000's full online_users_list may
  /// be pushed to one socket.
  std::string sio_paths = "/socket.io/,/api/socketio/";
  milliseconds sio_ping_interval{25'000};
  milliseconds sio_ping_timeout{20'000};
  std::size_t sio_max_payload = 1'000'000; // capped by max_body_bytes
  milliseconds sio_list_window{1'000};
  /// The seed-000 list stops following the global feed this long after
  /// its last listener left (edge/socketio/seed000_list.hpp).
  milliseconds sio_list_idle{60'000};
  /// Auto-away for native devices that do not ask for their own
  /// (`auto_away` in join): after this long without input they turn away.
  /// 0 = off (the default; the seed dialects have no notion of it).
  milliseconds auto_away{0};
  /// Private messages waiting for a user who had no live device; a send to
  /// a user with this many waiting is refused (too_many_requests).
  uint32_t chat_queue_limit = 1000;
};

/// Options of the cluster/ folder: membership, placement, replication.
struct cluster_config {
  /// This node's stable name in the cluster (default: the cluster listen
  /// address "host:port", else "local"). A node that restarts with the same
  /// id takes its share back.
  std::string node_id;
  /// Where other nodes reach this one (CAF middleman); empty = no cluster
  /// port: a cluster of one that nobody can join.
  std::string listen_host;
  uint16_t listen_port = 0;
  bool listen_enabled = false;
  /// host:port other nodes dial to reach this one (default: the listen
  /// address, or this host's name when listening on 0.0.0.0 / ::).
  std::string advertise;
  /// host:port of nodes to contact at start (any member will do).
  std::vector<std::string> seeds;
  /// Copies of last_seen/history/profiles (owner + next nodes on the ring);
  /// 0 = 2 when there is more than one node, else 1.
  uint32_t replication = 0;
  /// Virtual nodes per member on the hash ring.
  uint32_t vnodes = 128;
  /// Heartbeats between members, and how long a silent member lives on
  /// before it is declared dead (also CAF's middleman connection timeout).
  milliseconds heartbeat_interval{500};
  milliseconds failure_timeout{3'000};
  /// After a member dies, how long its users' devices on other nodes have
  /// to re-register before the users it owned are recorded offline.
  milliseconds rehome_window{1'000};
  /// Replica repair: records copied per second at most to nodes that
  /// became replicas of them (after a member died, came back or joined);
  /// 0 = no repair.
  uint32_t repair_rate = 2'000;
  /// Mutual TLS on the cluster port: this node's PEM certificate chain and
  /// key, and the CA that signs every node's certificate. All three or
  /// none (then the cluster port is plaintext and unauthenticated).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  bool tls_enabled() const { return !tls_cert.empty(); }
};

/// The one configuration struct. Precedence (app/): command line >
/// PRESENCE_* environment > config file > these defaults.
struct config {
  actors_config actors;
  persistence_config persistence;
  edge_config edge;
  cluster_config cluster;
  std::string log_level = "info";
  /// "text" (lines for people) or "json" (one object per line for log
  /// pipelines; app/log_format.hpp).
  std::string log_format = "text";
  /// CAF scheduler threads (0 = the cores the I/O threads leave, at least
  /// one: scheduler_threads(); CAF's own default is the cores, at least 4).
  uint32_t scheduler_threads = 0;
  /// CAF's scheduling policy: "lazy" (core/scheduler.hpp: one queue; a
  /// sleeping thread is woken only for work beyond the threads awake, the
  /// clock only for timers due before it planned to wake), "sharing"
  /// (CAF's: one queue; a thread woken per message, the clock per timer)
  /// or "stealing" (CAF's default: a queue per thread, idle threads poll).
  /// docs/benchmarks.md, "nineteenth session".
  std::string scheduler_policy = "lazy";
  /// glibc's mmap threshold in KiB: blocks this large or larger are
  /// mmapped when the heap has no free chunk for them, and their pages go
  /// back when freed. 0 = glibc's own dynamic threshold, which rises to
  /// each freed mmapped block's size (RocksDB's 1 MiB memtable blocks then
  /// come from the heap and stay free there: docs/operations.md,
  /// "Memory"). MALLOC_MMAP_THRESHOLD_ or GLIBC_TUNABLES win over it.
  uint32_t mmap_threshold_kb = 1024;
};

/// The address other nodes dial: cfg.advertise, else the listen address
/// (with this host's name for a wildcard host), with `port` as bound.
std::string advertised_endpoint(const cluster_config& cfg, uint16_t port);

/// cfg.node_id, or the advertised cluster address, or "local".
std::string effective_node_id(const cluster_config& cfg);

/// The CAF scheduler threads to run: cfg.scheduler_threads, or when 0 the
/// cores (`cores`, 0: this machine's) the I/O threads leave, at least one.
/// On 2 cores one thread beside the I/O thread gave the lowest CPU per
/// join, ping and delivery (docs/benchmarks.md, "nineteenth session").
uint32_t scheduler_threads(const config& cfg, uint32_t cores = 0);

/// Returns an empty string when `cfg` is usable, else what is wrong with it.
std::string validate(const config& cfg);

} // namespace presence
