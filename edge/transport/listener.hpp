#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace presence::edge {

struct edge_context;
class http_handler;

/// The Beast side of a server: accepts TCP connections on
/// cfg.edge.listen_host:listen_port, runs cfg.edge.io_threads I/O threads,
/// reads HTTP/1.1 requests one at a time per connection (limits: header
/// size, body size, idle time, connections held) and hands each to
/// `handler`; an accepted upgrade becomes a WebSocket session
/// (ws_session.cpp). Knows no protocol: what a request means is the
/// handler's business.
class listener {
public:
  ~listener();

  /// Binds (port 0 picks a free one) and starts the I/O threads. On
  /// failure returns nullptr and sets `err`.
  static std::unique_ptr<listener> start(std::shared_ptr<edge_context> ctx,
                                         std::shared_ptr<http_handler> handler,
                                         std::string& err);

  /// The bound port.
  uint16_t port() const;

  /// Serving HTTPS and WSS (--tls-cert).
  bool tls() const;

  /// Reads --tls-cert and --tls-key again: new connections use them. On
  /// failure the certificate in use stays and `err` says why. Any thread.
  bool reload_tls(std::string& err);

  /// Stops accepting; connections already open go on. Thread-safe.
  void stop_accepting();

  /// Stops the I/O threads and joins them: every socket left is dropped.
  /// Idempotent; called by the destructor.
  void stop();

  struct impl;

private:
  explicit listener(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace presence::edge
