#pragma once

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "core/messages.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

/// What the WebSocket upgrade learned about a client.
struct session_params {
  /// Who the client is: from the JWT (fixed) or, in dev mode, ?userId=.
  /// Empty: anonymous until a join frame names someone.
  std::string user_id;
  /// True when user_id comes from a verified token (JWT mode).
  bool authenticated = false;
  std::string device_id;
  std::string user_agent;
  std::string platform;
  /// Subscribe to every user's changes from the start (seed 003's path).
  bool global_feed = false;
};

/// Spawns the actor behind one native-protocol WebSocket. It parses frames
/// (JSON stays at the edge), talks to the presence service and the user actor
/// in typed messages, and writes replies and deltas through `sink`.
///
/// Messages from the socket side:
///   (frame_atom, std::string text)   one text message
///   (closed_atom)                    the socket is gone
caf::actor spawn_native_session(std::shared_ptr<edge_context> ctx,
                                std::shared_ptr<session_sink> sink,
                                session_params params);

} // namespace presence::edge

namespace presence::edge {

/// The native protocol on a WebSocket: spawns the session actor on open and
/// forwards frames to it.
std::shared_ptr<ws_endpoint>
make_native_endpoint(std::shared_ptr<edge_context> ctx,
                     session_params params);

} // namespace presence::edge
