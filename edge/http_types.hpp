#pragma once

#include <string>
#include <utility>
#include <vector>

namespace presence::edge {

/// An HTTP request as the REST layer sees it (no Beast types).
struct http_request {
  std::string method;  // "GET", "PUT", ...
  std::string target;  // path and query, as received
  std::string body;
  std::string authorization;  // Authorization header, may be empty
  std::string content_type;
  std::string user_header;  // X-User-Id (dev mode identity)
  std::string peer;  // client address, for logs
};

/// An HTTP response produced by the REST layer.
struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

} // namespace presence::edge
