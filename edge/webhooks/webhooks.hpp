#pragma once

// Outgoing webhooks (--webhook-url, --webhook-secret): every change of a
// user this node owns is POSTed to each endpoint as JSON, signed with
// HMAC-SHA256, with an idempotency key (user id and version). Each endpoint
// has its own bounded queue, one request in flight at a time (its hooks
// arrive in order), retries with backoff, and a thread of its own: a slow,
// hanging or dead receiver never delays presence. A receiver that missed
// hooks catches up with GET /api/presence/changes.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/messages.hpp"

namespace presence::edge {

struct webhook_config {
  /// http:// or https://host[:port][/path] endpoints.
  std::vector<std::string> urls;
  /// PEM file of the certificate authorities https endpoints are checked
  /// against (empty: the system's, /etc/ssl/certs).
  std::string ca_file;
  /// HMAC-SHA256 key of the X-Presenced-Signature header; empty: unsigned.
  std::string secret;
  /// Hooks waiting per endpoint; beyond it the oldest is dropped.
  size_t queue_limit = 10'000;
  /// One request's deadline (connect, write, read).
  std::chrono::milliseconds timeout{5'000};
  /// Tries per hook before it is dropped (backoff 0.5 s doubling, at most
  /// 30 s between tries).
  int max_attempts = 8;
};

/// What the webhooks did, for /metrics.
struct webhook_counters {
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> failed{0};  // attempts that failed (retried)
  std::atomic<uint64_t> dropped{0}; // given up: queue full or out of tries
  std::atomic<uint64_t> queued{0};  // waiting now, all endpoints together
};

/// An http:// or https:// URL taken apart; false when it is not one.
struct http_url {
  bool tls = false;
  std::string host;
  std::string port = "80";
  std::string target = "/";
};
bool parse_http_url(const std::string& url, http_url& out);

/// "sha256=" and the hex HMAC-SHA256 of `body` under `secret`.
std::string webhook_signature(const std::string& secret,
                              const std::string& body);

/// The event a change is: "user.online", "user.offline" or "user.status".
const char* webhook_event(const presence_delta& d, bool was_online);

/// The idempotency key of the hook for `d`: "<user id>:<version>".
std::string webhook_key(const presence_delta& d);

/// The JSON body of the hook for `d`.
std::string webhook_body(const presence_delta& d, bool was_online);

class webhooks {
public:
  /// Starts the sender thread; nullptr and `err` when a URL is not an
  /// http:// or https:// URL, or the CA file cannot be read.
  static std::shared_ptr<webhooks> start(webhook_config cfg, std::string& err);

  ~webhooks();

  /// Queues the hook of `d` for every endpoint. Thread-safe, never blocks
  /// on the network.
  void post(const presence_delta& d, bool was_online);

  /// Waits until nothing is queued or `within` passed (at shutdown, after
  /// the node's last changes); returns how many hooks are still queued.
  size_t drain(std::chrono::milliseconds within);

  /// Stops the thread (what is still queued is dropped).
  void stop();

  const webhook_counters& counters() const;

  struct impl;

private:
  explicit webhooks(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace presence::edge
