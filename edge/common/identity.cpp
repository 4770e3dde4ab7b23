#include "edge/common/identity.hpp"

#include "core/ids.hpp"
#include "edge/common/auth.hpp"

namespace presence::edge {

client_identity resolve_identity(const jwt_keys& keys, millis now,
                                 const credentials& c, bool required) {
  client_identity out;
  if (!keys.enabled()) {
    out.user_id = !c.claimed.empty() ? c.claimed : c.established;
    if (!out.user_id.empty() && !valid_id(out.user_id))
      out.failure = identity_failure::invalid_id;
    else if (out.user_id.empty() && required)
      out.failure = identity_failure::missing_user;
    return out;
  }
  std::string who = c.established;
  if (!c.token.empty()) {
    auto v = verify_jwt(keys, c.token, now, c.admin_claim);
    if (!v.ok) {
      out.failure = identity_failure::bad_token;
      out.code = std::move(v.code);
      out.message = std::move(v.message);
      return out;
    }
    if (!c.established.empty() && v.user_id != c.established) {
      out.failure = identity_failure::token_mismatch;
      return out;
    }
    who = std::move(v.user_id);
    out.admin = v.admin;
    out.expires_at = v.expires_at;
  }
  if (who.empty()) {
    if (required) {
      // Worded as the verifier words an absent token.
      auto v = verify_jwt(keys, std::string{}, now);
      out.failure = identity_failure::missing_token;
      out.code = std::move(v.code);
      out.message = std::move(v.message);
    }
    return out;
  }
  if (!c.claimed.empty() && c.claimed != who) {
    out.failure = identity_failure::claim_mismatch;
    return out;
  }
  out.user_id = std::move(who);
  out.verified = true;
  return out;
}

refresh_result check_refresh(const jwt_keys& keys,
                             const std::string& admin_claim, millis now,
                             const std::string& token,
                             const std::string& established) {
  refresh_result out;
  if (!keys.enabled()) {
    out.code = "bad_request";
    out.message = "there are no tokens to refresh in dev mode";
    return out;
  }
  credentials c;
  c.token = token;
  c.established = established;
  c.admin_claim = admin_claim;
  out.who = resolve_identity(keys, now, c, true);
  switch (out.who.failure) {
    case identity_failure::none:
      out.ok = true;
      break;
    case identity_failure::bad_token:
    case identity_failure::missing_token:
      out.code = out.who.code;
      out.message = out.who.message;
      break;
    default:
      out.code = "forbidden";
      out.message = "the token names a different user than this session";
      break;
  }
  return out;
}

std::string request_token(const http_request& req, const parsed_target& t) {
  auto token = bearer_token(req.authorization);
  if (token.empty())
    token = query_param(t, "token");
  return token;
}

std::string request_user(const parsed_target& t) {
  return query_param(t, "userId", "user_id");
}

} // namespace presence::edge
