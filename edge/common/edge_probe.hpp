#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/stats.hpp"

namespace prometheus {
class Registry;
class Counter;
class Gauge;
class Histogram;
} // namespace prometheus

namespace presence {
struct cluster_status;
} // namespace presence

namespace presence::edge {

/// The edge's metrics (prometheus-cpp). Counters and gauges are thread-safe;
/// sessions on I/O threads and session actors update them directly.
struct edge_probe {
  edge_probe();
  ~edge_probe();

  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Gauge* connections = nullptr; // open TCP connections
  prometheus::Gauge* ws_sessions = nullptr; // open WebSockets
  prometheus::Counter* ws_accepted = nullptr;
  prometheus::Counter* ws_rejected = nullptr; // failed auth / limits
  prometheus::Counter* frames_in = nullptr;
  prometheus::Counter* frames_out = nullptr;
  prometheus::Counter* protocol_errors = nullptr; // error frames sent
  prometheus::Counter* rate_limited = nullptr;
  prometheus::Counter* slow_consumers = nullptr; // closed with 4001
  /// Fan-out tasks an I/O thread shared with its helper (send_helper).
  prometheus::Counter* fanout_shared = nullptr;
  prometheus::Counter* sio_ping_timeouts = nullptr; // no Engine.IO pong
  prometheus::Counter* ws_idle_timeouts = nullptr;  // silent past the limit
  prometheus::Counter* http_requests = nullptr;
  prometheus::Counter* http_errors = nullptr; // 4xx and 5xx
  prometheus::Counter* tls_handshake_failures = nullptr;
  prometheus::Gauge* online_users = nullptr;    // refreshed at scrape
  prometheus::Counter* chat_messages = nullptr; // private messages stored

  /// Open sessions by dialect (`presence_sessions{dialect=...}`): native
  /// WebSocket sessions, and Socket.IO namespaces once their dialect is
  /// known (a seed-001 client speaks seed 000's).
  struct dialect_gauges {
    prometheus::Gauge* native = nullptr;
    prometheus::Gauge* seed000 = nullptr;
    prometheus::Gauge* seed002 = nullptr;
    prometheus::Gauge* seed004 = nullptr;
  } sessions;

  /// The cluster as this node's membership sees it (refreshed at scrape):
  /// `presence_cluster_members{state="alive"|"dead"}` (this node counts as
  /// alive) and `presence_ring_version` (up by one at every view change).
  prometheus::Gauge* members_alive = nullptr;
  prometheus::Gauge* members_dead = nullptr;
  prometheus::Gauge* ring_version = nullptr;

  /// Sets the cluster gauges (at scrape time).
  void refresh(const cluster_status& cs) const;

  /// Adds what the node's histograms (core/stats.hpp) gathered since the
  /// last scrape to their Prometheus histograms: the fan-out's delivery
  /// delay and the store's write latency. Scrapes are serialized by the
  /// caller's order; a concurrent one may only move counts to the next.
  void refresh(const node_stats* node, const store_stats* store) const;

  /// One gauge per store counter (core/stats.hpp), refreshed at scrape.
  struct store_gauge {
    prometheus::Gauge* gauge;
    std::atomic<uint64_t> store_stats::*counter;
  };
  std::vector<store_gauge> store_gauges;

  /// Copies the store's counters into their gauges (at scrape time).
  void refresh(const store_stats& s) const;

  /// A gauge set from `read` at every scrape, for what the edge does not
  /// own (the app's webhooks). Thread-safe; names must be unique.
  void add_scraped(const std::string& name, const std::string& help,
                   std::function<double()> read);

  /// Sets the gauges of add_scraped (at scrape time).
  void refresh_scraped() const;

  /// The registry in Prometheus text format.
  std::string render() const;

private:
  /// A Prometheus histogram fed from a latency_histogram, and the counts
  /// it has taken over so far.
  struct fed_histogram {
    prometheus::Histogram* histogram = nullptr;
    std::vector<uint64_t> taken;
    uint64_t taken_sum_us = 0;
    void feed(const latency_histogram& h);
  };
  mutable std::mutex histograms_mu_;
  mutable fed_histogram delivery_delay_;
  mutable fed_histogram tick_delay_;
  mutable fed_histogram store_write_;

  mutable std::mutex scraped_mu_;
  std::vector<std::pair<prometheus::Gauge*, std::function<double()>>> scraped_;
};

/// While one is open on a thread, count() adds to it instead of to the
/// counter, and its end adds the sum in one step: a fan-out task's frames
/// (one add per chunk of sockets, not one per frame; with two I/O threads
/// the counter's cache line would otherwise move between the cores with
/// every frame). For one counter at a time: another counter's counts go
/// straight to it. The counter must outlive the tally.
class counter_tally {
public:
  counter_tally();
  ~counter_tally();
  counter_tally(const counter_tally&) = delete;
  counter_tally& operator=(const counter_tally&) = delete;

  /// Adds `n` to `c` (may be null: nothing), through the tally open on
  /// this thread if there is one.
  static void count(prometheus::Counter* c, double n = 1);

private:
  prometheus::Counter* counter_ = nullptr;
  double n_ = 0;
  counter_tally* outer_;
};

} // namespace presence::edge
