#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

namespace presence {
class node;
} // namespace presence

namespace presence::edge {

struct edge_context;

/// The Beast edge of a node: one listener for HTTP (REST, health, metrics)
/// and WebSocket upgrades, run by cfg.edge.io_threads threads.
class server {
public:
  ~server();

  /// Binds cfg.edge.listen_host:listen_port (port 0 picks a free one) and
  /// starts serving `n`. On failure returns nullptr and sets `err`.
  static std::unique_ptr<server> start(node& n, std::string& err);

  /// The bound port.
  uint16_t port() const;

  /// Serving HTTPS and WSS (--tls-cert).
  bool tls() const;

  /// SIGHUP: reads the JWT key files and the TLS certificate and key again.
  /// What fails to load stays as it was; `err` says what and why, and the
  /// result is false. Any thread.
  bool reload(std::string& err);

  /// Stops accepting and marks the node not ready (/readyz -> 503).
  void drain();

  /// Closes every WebSocket with 1001 (going away), waits up to `wait_ms`
  /// for them to finish, then stops the I/O threads. Idempotent.
  void stop(int wait_ms = 3000);

  std::shared_ptr<edge_context> context() const;

  struct impl;

private:
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace presence::edge
