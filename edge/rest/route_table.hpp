#pragma once

#include <string>
#include <vector>

#include "edge/rest/rest_call.hpp"

namespace presence::edge::rest {

/// Who may call an endpoint in JWT mode (dev mode: anyone).
enum class access {
  open,    // no token needed (/, /healthz, /readyz)
  user,    // a valid bearer token (401 otherwise)
  admin,   // a valid bearer token with the admin claim (403 otherwise)
  metrics, // admin, or open with --metrics-auth open
};

/// Method + path pattern -> handler. A pattern is "/"-separated segments;
/// ":name" captures one segment into rest_call::params. Built once at
/// start, then read-only (any thread).
class route_table {
public:
  /// Adds a route; `pattern` is e.g. "/api/users/:user/profile".
  void add(const char* method, const std::string& pattern, rest_handler h,
           access a = access::user);

  /// Answers `c` (params are filled in here):
  ///   OPTIONS on any path         -> 204 (CORS preflight)
  ///   the best matching pattern   -> its handler for the method, else 405
  ///                                  with Allow naming its methods; in JWT
  ///                                  mode first its access: 401 (with
  ///                                  WWW-Authenticate: Bearer) or 403
  ///   no pattern matches          -> 404
  /// The best pattern prefers a literal segment over a capture, from the
  /// left: "/api/user-status/online" wins over "/api/user-status/:user".
  void dispatch(const std::shared_ptr<rest_call>& c) const;

private:
  struct method_entry {
    std::string method;
    rest_handler handler;
    access who;
  };
  struct route {
    std::vector<std::string> segments; // ":x" = capture
    std::vector<method_entry> methods;
  };

  /// Whether `r` matches `path`; fills `score` (true per literal segment).
  static bool matches(const route& r, const std::vector<std::string>& path,
                      std::vector<bool>& score);

  std::vector<route> routes_;
};

} // namespace presence::edge::rest
