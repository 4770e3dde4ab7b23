#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"
#include "edge/edge_probe.hpp"

namespace presence::edge {

class eio_registry;

/// A live session's outbound side, implemented by the WebSocket session.
/// Thread-safe: session actors call it from CAF threads; the calls are posted
/// onto the session's strand.
class session_sink {
public:
  virtual ~session_sink();
  /// Queues one text frame (shared: a broadcast shares one payload).
  virtual void send_text(std::shared_ptr<const std::string> frame) = 0;
  /// Sends what is queued, then a close frame with `code` and `reason`.
  virtual void close(uint16_t code, std::string reason) = 0;
};

/// What every edge component shares: the node's actors, settings, metrics
/// and the set of live sessions (for shutdown).
struct server_context {
  server_context(caf::actor_system& sys, const config& cfg);

  caf::actor_system& sys;
  config cfg;
  presence_api api;
  store_api store;
  rooms_api rooms;
  membership_api membership;
  wall_clock now = system_now;
  const store_stats* store_counters = nullptr;
  edge_probe probe;
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::atomic<uint32_t> connections{0};
  /// The node's gossiped figures (connections are counted here).
  std::shared_ptr<node_stats> stats;

  /// One more (+1) or one fewer (-1) open TCP connection; returns the count.
  uint32_t count_connection(int delta);
  /// Live Engine.IO (Socket.IO) sessions by sid; owned by the server (its
  /// sessions hold this context, so the context must not own them).
  std::weak_ptr<eio_registry> eio;

  /// True if `path` is one of cfg.edge.sio_paths (trailing '/' ignored).
  bool is_sio_path(const std::string& path) const;

  /// Registers a live session; returns its key.
  uint64_t add_session(std::weak_ptr<session_sink> s);
  void remove_session(uint64_t key);
  /// Asks every live session to close; returns how many there were.
  size_t close_all(uint16_t code, const std::string& reason);
  size_t live_sessions();

  /// A fresh device id for a session that brought none.
  std::string make_device_id();

private:
  std::mutex mu_;
  uint64_t next_key_ = 0;
  std::unordered_map<uint64_t, std::weak_ptr<session_sink>> sessions_;
  std::atomic<uint64_t> device_counter_{0};
  uint64_t device_salt_;
};

} // namespace presence::edge
