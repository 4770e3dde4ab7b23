#pragma once

// HTTP as the protocols see it: plain structs, no Beast. The transport
// (edge/transport/listener.cpp) converts each Beast request into an
// http_request once and writes each http_response back.

#include <string>
#include <utility>
#include <vector>

namespace presence::edge {

/// Longest User-Agent a session keeps (for device views and logs).
constexpr std::size_t max_user_agent_bytes = 512;

/// An HTTP request as the protocols see it.
struct http_request {
  std::string method; // "GET", "PUT", ...
  std::string target; // path and query, as received
  std::string body;
  std::string authorization; // Authorization header, may be empty
  std::string content_type;
  std::string user_header; // X-User-Id (dev mode identity)
  std::string user_agent;  // User-Agent, may be empty
  /// A WebSocket upgrade request (Connection: upgrade, Upgrade: websocket).
  bool websocket_upgrade = false;
};

/// An HTTP response produced by a protocol.
struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// A JSON error: {"success":false,"code":..,"message":..} with `status`.
/// The shape of every REST and transport error (docs/api.md).
http_response error_response(unsigned status, const std::string& code,
                             const std::string& message);

} // namespace presence::edge
