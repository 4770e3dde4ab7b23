#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"
#include "edge/common/activity.hpp"
#include "edge/common/edge_probe.hpp"
#include "edge/common/jwt_keys.hpp"
#include "edge/common/online_index.hpp"
#include "edge/common/session_sink.hpp"

namespace presence::edge {

/// What every part of the edge shares: the node's actors (reached only
/// through the node's API), settings, the clock, metrics, the server's
/// lifecycle flags, the open connections and the live WebSocket sessions.
/// Created by edge/server.cpp; thread-safe.
struct edge_context {
  edge_context(caf::actor_system& sys, const config& cfg);

  caf::actor_system& sys;
  config cfg;
  presence_api api;
  store_api store;
  rooms_api rooms;
  membership_api membership;
  /// Forwards the activity the edge records (heartbeats answered at the
  /// edge) to user actors (edge/common/activity.hpp).
  activity_flusher_api activity;
  /// Called (any thread) after a profile was written through this edge:
  /// caches of profiles forget that user (the server wires it to the
  /// seed-000 list actor).
  std::function<void(const std::string& user)> profile_changed;
  /// Who is online as the node's feed says (kept by the seed-000 list
  /// actor; edge/common/online_index.hpp).
  std::shared_ptr<online_index> online = std::make_shared<online_index>();
  wall_clock now = system_now;
  const store_stats* store_counters = nullptr;
  edge_probe probe;
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::atomic<uint32_t> connections{0};
  /// The node's gossiped figures (connections are counted here).
  std::shared_ptr<node_stats> stats;
  /// Where native sessions register to get deltas straight from the
  /// fan-out (null: as messages).
  std::shared_ptr<direct_listeners> direct;

  /// One more (+1) or one fewer (-1) open TCP connection; returns the count.
  uint32_t count_connection(int delta);

  /// The edge's coarse clocks: work the listener runs every `period` on an
  /// I/O thread (per-connection deadlines checked in one sweep instead of
  /// a timer per connection). Added before the listener starts.
  struct ticker {
    std::chrono::steady_clock::duration period;
    std::function<void()> tick;
  };
  std::vector<ticker> tickers;

  /// Registers a live WebSocket session (for shutdown); returns its key.
  uint64_t add_session(std::weak_ptr<session_sink> s);
  void remove_session(uint64_t key);
  /// Asks every live session to close; returns how many there were.
  size_t close_all(uint16_t code, const std::string& reason);
  size_t live_sessions();
  /// One tick of the idle clock to every live session (session_sink::tick;
  /// the listener's sweep, every tenth of --ws-idle-timeout); returns how
  /// many there were.
  size_t tick_sessions();

  /// The client behind `cell` was active at `now`: recorded in the cell,
  /// and the cell handed to the activity flusher on its first activity
  /// (edge/common/activity.hpp). Any thread.
  void record_activity(const activity_cell_ptr& cell, millis now);

  /// Hands a session's new cell to the activity flusher, which follows
  /// its route from then on (also while the client is quiet: the views,
  /// activity.hpp). Any thread.
  void track_activity(const activity_cell_ptr& cell);

  /// One more connection from source address `address` (its raw bytes);
  /// false, counting nothing, if that address already holds
  /// --max-connections-per-ip. Any thread.
  bool add_from(const std::string& address);
  /// One fewer from `address` (after a true add_from).
  void remove_from(const std::string& address);

  /// A fresh device id for a session that brought none.
  std::string make_device_id();

  /// The keys tokens are checked against now (empty in dev mode). Any
  /// thread; a caller keeps the set it got even if a reload replaces it.
  std::shared_ptr<const jwt_keys> keys() const;
  /// Reads the key files of cfg.edge again (at start and on SIGHUP). On
  /// failure the keys in use stay and `err` says why.
  bool reload_keys(std::string& err);

private:
  /// The live sessions, taken out of sessions_ under mu_.
  std::vector<std::shared_ptr<session_sink>> live();

  std::mutex mu_;
  uint64_t next_key_ = 0;
  std::unordered_map<uint64_t, std::weak_ptr<session_sink>> sessions_;
  std::mutex address_mu_; // guards per_address_ (accepts and closes)
  std::unordered_map<std::string, uint32_t> per_address_;
  std::atomic<uint64_t> device_counter_{0};
  /// Read and replaced with std::atomic_load / atomic_store.
  std::shared_ptr<const jwt_keys> keys_ = std::make_shared<jwt_keys>();
  uint64_t device_salt_;
};

} // namespace presence::edge
