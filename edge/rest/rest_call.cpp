#include "edge/rest/rest_call.hpp"

#include <cstdlib>

#include "edge/common/auth.hpp"
#include "edge/common/client_error.hpp"
#include "edge/common/identity.hpp"
#include "edge/common/json_input.hpp"

namespace presence::edge::rest {

http_response json_response(unsigned status, const json& body) {
  http_response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

void rest_call::reply(unsigned status, const json& body) const {
  done(json_response(status, body));
}

void rest_call::fail(unsigned status, const std::string& code,
                     const std::string& message) const {
  done(error_response(status, code, message));
}

void rest_call::fail(const caf::error& err) const {
  auto e = to_client_error(err);
  done(error_response(e.http_status, e.code, e.message));
}

credentials rest_call::creds(const std::string& fallback) const {
  credentials c;
  c.token = request_token(req, target);
  c.admin_claim = ctx->cfg.edge.admin_claim;
  if (!ctx->cfg.edge.jwt_mode()) {
    // Dev mode: the client names itself (JWT mode ignores these).
    c.claimed = !req.user_header.empty() ? req.user_header
                                         : request_user(target);
    if (c.claimed.empty())
      c.claimed = fallback;
  }
  return c;
}

bool rest_call::requester(std::string& out, bool required,
                          const std::string& fallback,
                          const char* body_field) const {
  auto who = resolve_identity(*ctx->keys(), ctx->now(), creds(fallback),
                              required);
  switch (who.failure) {
    case identity_failure::none:
      out = std::move(who.user_id);
      return true;
    case identity_failure::bad_token:
    case identity_failure::missing_token:
      fail(401, who.code, who.message);
      return false;
    case identity_failure::invalid_id:
    case identity_failure::token_mismatch:
    case identity_failure::claim_mismatch:
      fail(400, "invalid_id", "the requesting user id is not valid");
      return false;
    case identity_failure::missing_user:
      fail(401, "unauthorized",
           body_field == nullptr
             ? std::string{"name yourself with X-User-Id or ?userId= (dev "
                           "mode)"}
             : std::string{"name yourself with X-User-Id, ?userId= or the "
                           "body's "}
                 + body_field + " (dev mode)");
      return false;
  }
  return false;
}

bool rest_call::admin() const {
  const auto& edge = ctx->cfg.edge;
  if (!edge.jwt_mode())
    return false;
  auto v = verify_jwt(*ctx->keys(), request_token(req, target), ctx->now(),
                      edge.admin_claim);
  return v.ok && v.admin;
}

viewer rest_call::who() const {
  // One verification: the token's user and whether it is an admin's.
  viewer v;
  auto found = resolve_identity(*ctx->keys(), ctx->now(), creds(), false);
  if (found.failure != identity_failure::none)
    return v;
  v.all = found.admin;
  if (!v.all)
    v.user_id = std::move(found.user_id);
  return v;
}

bool rest_call::limit(uint32_t dflt, uint32_t max, uint32_t& out) const {
  auto s = query_param(target, "limit");
  if (s.empty()) {
    out = dflt;
    return true;
  }
  char* end = nullptr;
  auto v = std::strtol(s.c_str(), &end, 10);
  if (end == s.c_str() || *end != '\0' || v < 1 || v > max) {
    fail(400, "bad_request",
         "limit must be an integer from 1 to " + std::to_string(max));
    return false;
  }
  out = static_cast<uint32_t>(v);
  return true;
}

bool rest_call::json_body(json& out) const {
  out = parse_client_json(req.body);
  if (out.is_discarded() || !out.is_object()) {
    fail(400, "bad_json", "the body must be a JSON object");
    return false;
  }
  return true;
}

} // namespace presence::edge::rest
