#pragma once

// Requests on a Socket.IO path (cfg.edge.sio_paths): Engine.IO polling and
// the WebSocket transport. Called by the server's request router on the
// connection's strand.

#include <memory>
#include <string>

#include "core/config.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/common/http_types.hpp"
#include "edge/common/url.hpp"
#include "edge/socketio/eio_session.hpp"
#include "edge/transport/http_handler.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

/// True if `path` is one of cfg.sio_paths (comma-separated; a trailing '/'
/// is ignored on both sides).
bool is_sio_path(const edge_config& cfg, const std::string& path);

/// An Engine.IO polling request (handshake, long-poll GET, POST of
/// packets); `respond` is called exactly once.
void sio_request(const std::shared_ptr<edge_context>& ctx,
                 const std::shared_ptr<eio_registry>& reg,
                 const http_request& req, const parsed_target& target,
                 respond_fn respond);

/// A WebSocket upgrade on a Socket.IO path: a direct Engine.IO WebSocket
/// session, or the upgrade of a polling session (?sid=). Returns the
/// endpoint, or nullptr after filling `refusal` with an Engine.IO error.
std::shared_ptr<ws_endpoint>
sio_upgrade(const std::shared_ptr<edge_context>& ctx,
            const std::shared_ptr<eio_registry>& reg, const http_request& req,
            const parsed_target& target, http_response& refusal);

} // namespace presence::edge
