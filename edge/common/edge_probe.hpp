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
} // namespace prometheus

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
  prometheus::Counter* http_requests = nullptr;
  prometheus::Counter* http_errors = nullptr; // 4xx and 5xx
  prometheus::Counter* tls_handshake_failures = nullptr;
  prometheus::Gauge* online_users = nullptr;    // refreshed at scrape
  prometheus::Counter* chat_messages = nullptr; // private messages stored

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
  mutable std::mutex scraped_mu_;
  std::vector<std::pair<prometheus::Gauge*, std::function<double()>>> scraped_;
};

} // namespace presence::edge
