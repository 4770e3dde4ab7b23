#pragma once

// Who is this client? The one rule every protocol of the edge applies
// (native upgrade and join frame, REST requests, Socket.IO CONNECT and
// join events). Each protocol gathers the credentials where its dialect
// carries them and words a refusal in its own terms; the decision is here.

#include <string>

#include "core/config.hpp"
#include "core/messages.hpp"
#include "edge/common/http_types.hpp"
#include "edge/common/jwt_keys.hpp"
#include "edge/common/url.hpp"

namespace presence::edge {

/// What a client presented about who it is.
struct credentials {
  /// A JWT (Authorization header, ?token=, a frame's or payload's token);
  /// may be empty. Ignored in dev mode.
  std::string token;
  /// A user id the client names (?userId=, X-User-Id, a frame or payload
  /// field); may be empty. Dev mode: who the client is. JWT mode: must be
  /// the token's user.
  std::string claimed;
  /// Who this connection already is (decided at the upgrade or CONNECT);
  /// may be empty. JWT mode: a token must name this same user.
  std::string established;
  /// The claim that makes a token an admin's (--admin-claim).
  std::string admin_claim = "admin";
};

/// Why a client could not be identified.
enum class identity_failure {
  none,
  /// JWT mode: the token failed verification (`code`/`message` say how).
  bad_token,
  /// JWT mode: no token and nobody established, but someone is required
  /// (`code` "missing_token").
  missing_token,
  /// JWT mode: the token names another user than `established`.
  token_mismatch,
  /// JWT mode: `claimed` is not the user the token (or connection) names.
  claim_mismatch,
  /// Dev mode: the named id is not a valid id.
  invalid_id,
  /// Dev mode: nobody named, but someone is required.
  missing_user,
};

/// The outcome: a user (maybe anonymous) or why not.
struct client_identity {
  identity_failure failure = identity_failure::none;
  /// Who the client is; empty = anonymous (only when not required).
  std::string user_id;
  /// True when user_id comes from a verified token (JWT mode).
  bool verified = false;
  /// When that token expires (ms; 0: it does not, or no token).
  millis expires_at = 0;
  /// The verified token is an admin's (credentials::admin_claim).
  bool admin = false;
  /// bad_token / missing_token: the verifier's stable code
  /// ("missing_token", "invalid_token", "token_expired",
  /// "invalid_user_id") and its message for humans.
  std::string code;
  std::string message;

  bool ok() const { return failure == identity_failure::none; }
};

/// The rule. JWT mode (`keys` enabled): a given token must verify and, if
/// the connection is someone already, name that same user; without a token
/// the established user stands; a claimed id must equal the result. Dev
/// mode: the claimed id, else the established one, and it must be a valid
/// id. With `required`, nobody at all is a failure. Pure; any thread.
client_identity resolve_identity(const jwt_keys& keys, millis now,
                                 const credentials& c, bool required);

/// A fresh token for a session that is `established` (the `refresh` frame,
/// Socket.IO's refresh_token): in JWT mode it must verify and name that
/// same user. On failure `code` and `message` say why, for the client
/// (dev mode: "bad_request", there are no tokens).
struct refresh_result {
  bool ok = false;
  client_identity who;
  std::string code;
  std::string message;
};
refresh_result check_refresh(const jwt_keys& keys,
                             const std::string& admin_claim, millis now,
                             const std::string& token,
                             const std::string& established);

/// May this client follow every user's changes (the global feed)? Dev mode
/// and `--global-feed open`: yes; `admin`: only with an admin token.
inline bool global_feed_allowed(const edge_config& cfg,
                                const client_identity& who) {
  return !cfg.jwt_mode() || cfg.global_feed != "admin" || who.admin;
}

/// The token an HTTP request carries: "Authorization: Bearer" first, then
/// ?token= (browsers cannot set headers on a WebSocket).
std::string request_token(const http_request& req, const parsed_target& t);

/// The user id an HTTP request names: ?userId=, else ?user_id=.
std::string request_user(const parsed_target& t);

} // namespace presence::edge
