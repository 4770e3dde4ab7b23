#pragma once

// The JSON shapes of the seeds' payloads, in one place: the REST endpoints
// and the Socket.IO events of the same seed must agree field by field.

#include <string>

#include <nlohmann/json.hpp>

#include "core/messages.hpp"

namespace presence::edge::seeds {

using json = nlohmann::json;

/// ISO-8601 UTC with milliseconds, or null for 0 ("never").
json iso_or_null(millis ms);

/// The string, or null when empty.
json or_null(const std::string& s);

/// A user's state in presenced's own field names (native deltas, lists,
/// /api/presence/changes): {user_id, is_online, status, last_seen,
/// last_seen_ms, online_since, version, status_text, status_expires_at}.
json native_user(const presence_delta& d);

/// Seed 000/001 user (`/api/online-users`, `online_users_list`):
/// {id, name, username, email, avatar, status}. Without a profile, name and
/// username are the user id; email and avatar are null.
json seed000_user(const presence_delta& u, const profile& p);

/// Seed 002 list entry (`/api/user-status/online`, `online-users-list`):
/// {_id, userId, username, name, avatar, isOnline, lastSeen, status}.
json seed002_user(const presence_delta& u, const profile& p);

/// Seed 002 status (`/api/user-status/:id`, batch):
/// {userId, isOnline, lastSeen, status, version}.
json seed002_status(const user_status& s);

/// Seed 003 serializer (`/api/users/online/`): {id, username,
/// profile_image_url, is_online, last_seen, last_activity}.
json seed003_user(const presence_delta& u, const profile& p);

/// Seed 004 status (acknowledgements): {userId, online, lastActive,
/// connectedAt}.
json seed004_status(const user_status& s);

/// presenced's profile object: {id, name, username, email, avatar}.
json profile_json(const std::string& id, const profile& p);

} // namespace presence::edge::seeds
