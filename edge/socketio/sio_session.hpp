#pragma once

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "edge/socketio/eio_session.hpp"
#include "edge/common/edge_context.hpp"

namespace presence::edge {

/// What the Engine.IO handshake request told us about a Socket.IO client.
struct sio_params {
  /// JWT from ?token= or "Authorization: Bearer" (may be empty).
  std::string token;
  /// ?userId= (dev mode only).
  std::string user_id;
  std::string user_agent;
};

/// Spawns the Socket.IO side of one Engine.IO session: namespaces "/" and
/// "/ws/messages", the events of seeds 000/001, 002 and 004, their
/// broadcasts, acknowledgements and the Engine.IO heartbeat (a client that
/// stops answering pings is dropped after ping interval + ping timeout).
///
/// Messages from the transport:
///   (frame_atom, std::string)   the data of one Engine.IO message
///   (pong_atom)                 an Engine.IO pong
///   (closed_atom)               the session is gone
caf::actor spawn_sio_session(std::shared_ptr<edge_context> ctx,
                             std::shared_ptr<eio_transport> eio,
                             sio_params params);

/// The WebSocket transport of Engine.IO: a direct session
/// (transport=websocket without sid) when `upgrade` is null, else the
/// upgrade of that polling session.
std::shared_ptr<ws_endpoint>
make_eio_ws_endpoint(std::shared_ptr<edge_context> ctx,
                     std::shared_ptr<eio_registry> reg,
                     std::shared_ptr<eio_session> upgrade, sio_params params);

} // namespace presence::edge
