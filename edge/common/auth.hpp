#pragma once

#include <string>

#include "core/messages.hpp"

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

/// Verifies an HS256 JWT against `secret` (libjwt) and extracts the user
/// from the `sub`, `userId` or `user_id` claim (strings or integers). `exp`
/// and `nbf` are enforced when present, with `leeway_ms` of clock skew.
/// Called on edge I/O threads and session actors; thread-safe.
identity verify_jwt(const std::string& secret, const std::string& token,
                    millis now, millis leeway_ms = 30'000,
                    const std::string& admin_claim = "admin");

/// The token in an "Authorization: Bearer <token>" header value, else "".
std::string bearer_token(const std::string& authorization);

} // namespace presence::edge
