#pragma once

#include <memory>

#include "edge/common/edge_context.hpp"
#include "edge/socketio/eio_session.hpp"
#include "edge/socketio/sio_session.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

/// The WebSocket transport of Engine.IO: a direct session
/// (transport=websocket without sid: a new Engine.IO session and its
/// Socket.IO actor) when `upgrade` is null, else the upgrade of that
/// polling session (the probe, then the switch). Called on the socket's
/// strand.
std::shared_ptr<ws_endpoint>
make_eio_ws_endpoint(std::shared_ptr<edge_context> ctx,
                     std::shared_ptr<eio_registry> reg,
                     std::shared_ptr<eio_session> upgrade, sio_params params);

} // namespace presence::edge
