#pragma once

// The REST endpoints, grouped by what they serve (private to edge/rest).

#include <functional>
#include <string>

#include "edge/common/online_users.hpp"
#include "edge/rest/route_table.hpp"

namespace presence::edge::rest {

/// The seeds' endpoints (seed_routes.cpp): /api/online-users (000),
/// /api/user-status/... (002), /api/users/online/ (003).
void add_seed_routes(route_table& t);

/// presenced's user endpoints (user_routes.cpp): /api/users/:user/profile,
/// /history, /status.
void add_user_routes(route_table& t);

/// Seed 001's private messages (chat_routes.cpp): /api/privatechat/...
void add_chat_routes(route_table& t);

/// Operations (ops_routes.cpp): the page at /, /api, /healthz, /readyz,
/// /metrics, /api/cluster.
void add_ops_routes(route_table& t);

/// A page of online users with their profiles (edge/common/online_users),
/// fetched from a one-shot actor; a failure is answered as an HTTP error.
void online_users_then(const call_ptr& c, const std::string& cursor,
                       uint32_t limit, std::function<void(online_users&)> then);

} // namespace presence::edge::rest
