#pragma once

// One REST request in progress, as every handler sees it (private to
// edge/rest): the request, its parsed target and path parameters, how to
// answer, and the small checks every endpoint shares.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>
#include <nlohmann/json.hpp>

#include "edge/common/ask.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/common/http_types.hpp"
#include "edge/common/identity.hpp"
#include "edge/common/url.hpp"

namespace presence::edge::rest {

using json = nlohmann::json;
using respond_fn = std::function<void(http_response)>;

/// A JSON body with `status`.
http_response json_response(unsigned status, const json& body);

/// One call. Shared (read-only) by the callbacks of its handler; `done`
/// is called exactly once, from any thread.
struct rest_call {
  std::shared_ptr<edge_context> ctx;
  http_request req;
  parsed_target target;
  /// The path's captured segments (":user" in a route), in order.
  std::vector<std::string> params;
  respond_fn done;

  std::chrono::milliseconds timeout() const {
    return ctx->cfg.actors.request_timeout;
  }

  void reply(unsigned status, const json& body) const;
  void fail(unsigned status, const std::string& code,
            const std::string& message) const;
  /// A failed actor request (edge/common/client_error).
  void fail(const caf::error& err) const;

  /// The authenticated requester. JWT mode: the bearer token (or ?token=).
  /// Dev mode: X-User-Id, ?userId=, or `fallback` (from the body field
  /// `body_field`, named in the 401 when nobody is named).
  /// Returns false after replying 401/400 when it must know and cannot.
  bool requester(std::string& out, bool required,
                 const std::string& fallback = {},
                 const char* body_field = nullptr) const;

  /// JWT mode: the bearer token is valid and an admin's (--admin-claim).
  /// Dev mode: false.
  bool admin() const;

  /// Who is looking, for users who restrict who sees them: an admin sees
  /// everyone; otherwise the requester (as requester() finds them, dev
  /// mode's X-User-Id / ?userId= included), or someone anonymous.
  viewer who() const;

  /// The requester's credentials as requester() and who() read them.
  credentials creds(const std::string& fallback = {}) const;

  /// ?limit= within [1, max], `dflt` when absent; replies 400 when junk.
  bool limit(uint32_t dflt, uint32_t max, uint32_t& out) const;

  /// The body as a JSON object; replies 400 and returns false otherwise.
  bool json_body(json& out) const;
};

using call_ptr = std::shared_ptr<const rest_call>;

/// A REST endpoint.
using rest_handler = void (*)(const call_ptr& c);

/// Asks `dest` from a one-shot actor; `on_ok` gets the answer, a failure
/// is answered as an HTTP error.
template <class T, class Handle, class... Ts>
void ask_then(const call_ptr& c, const Handle& dest,
              std::function<void(T&)> on_ok, Ts... xs) {
  ask<T>(c->ctx->sys, dest, c->timeout(),
         std::function<void(caf::expected<T>)>{[c, on_ok](caf::expected<T> r) {
           if (r)
             on_ok(*r);
           else
             c->fail(r.error());
         }},
         xs...);
}

} // namespace presence::edge::rest
