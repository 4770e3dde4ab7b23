#pragma once

#include <memory>
#include <string>

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
  prometheus::Gauge* connections = nullptr;  // open TCP connections
  prometheus::Gauge* ws_sessions = nullptr;  // open WebSockets
  prometheus::Counter* ws_accepted = nullptr;
  prometheus::Counter* ws_rejected = nullptr;  // failed auth / limits
  prometheus::Counter* frames_in = nullptr;
  prometheus::Counter* frames_out = nullptr;
  prometheus::Counter* protocol_errors = nullptr;  // error frames sent
  prometheus::Counter* rate_limited = nullptr;
  prometheus::Counter* slow_consumers = nullptr;  // closed with 4001
  prometheus::Counter* http_requests = nullptr;
  prometheus::Counter* http_errors = nullptr;  // 4xx and 5xx
  prometheus::Gauge* online_users = nullptr;  // refreshed at scrape
  prometheus::Gauge* store_checkpoint_flushes = nullptr;
  prometheus::Gauge* store_checkpoints_written = nullptr;
  prometheus::Gauge* store_sessions_closed = nullptr;
  prometheus::Gauge* store_sessions_recovered = nullptr;

  /// The registry in Prometheus text format.
  std::string render() const;
};

} // namespace presence::edge
