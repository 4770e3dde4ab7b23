#pragma once

#include <string>

#include "core/messages.hpp"
#include "edge/common/jwt_keys.hpp"

namespace presence::edge {

/// Who a client is, once its credentials are checked.
struct identity {
  bool ok = false;
  std::string user_id;
  /// On failure: a stable code ("missing_token", "invalid_token",
  /// "token_expired", "invalid_user_id") and a message for humans.
  std::string code;
  std::string message;
  /// The token's claim `admin_claim` is true, or its `roles` array holds
  /// that name.
  bool admin = false;
  /// When the token expires (its `exp`, in ms; 0: it does not).
  millis expires_at = 0;
};

/// Verifies a JWT against `keys` (libjwt) and extracts the user from the
/// `sub`, `userId` or `user_id` claim (strings or integers). The header's
/// alg picks the key: HS256 the secret, RS256/384/512 an RSA key, ES256/
/// 384/512 an EC key of that curve, `kid` the key among several; nothing
/// else (never "none", never a public key as an HMAC secret). `exp` and
/// `nbf` are enforced when present with the keys' leeway, `iss` and `aud`
/// when the keys require them. Called on edge I/O threads and session
/// actors; thread-safe.
identity verify_jwt(const jwt_keys& keys, const std::string& token, millis now,
                    const std::string& admin_claim = "admin");

/// The token in an "Authorization: Bearer <token>" header value, else "".
std::string bearer_token(const std::string& authorization);

} // namespace presence::edge
