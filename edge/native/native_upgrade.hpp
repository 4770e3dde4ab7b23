#pragma once

#include <memory>

#include "edge/common/edge_context.hpp"
#include "edge/common/http_types.hpp"
#include "edge/common/url.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

/// Decides a WebSocket upgrade for the native protocol (docs/protocol.md):
/// the path (`/ws`, or seed 003's `/ws/user-status/` which follows every
/// user from the start), who the client is (JWT: Authorization header or
/// ?token=; dev mode: ?userId=), ?deviceId=, ?platform=, ?subscribe=.
/// Returns the endpoint to run on the socket, or nullptr after filling
/// `refusal` (an HTTP error with a JSON body). Called on the connection's
/// strand by the server's request router.
std::shared_ptr<ws_endpoint>
native_upgrade(const std::shared_ptr<edge_context>& ctx,
               const http_request& req, const parsed_target& target,
               http_response& refusal);

} // namespace presence::edge
