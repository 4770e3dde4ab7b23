#pragma once

#include <memory>
#include <string>

#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>

#include "core/messages.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/socketio/eio_session.hpp"
#include "edge/socketio/seed000_list.hpp"

namespace presence::edge {

/// What the Engine.IO handshake request told us about a Socket.IO client.
struct sio_params {
  /// JWT from "Authorization: Bearer" or ?token= (may be empty).
  std::string token;
  /// ?userId= (dev mode only).
  std::string user_id;
  /// ?deviceId=: the client's name for its device (the offline queue of
  /// private messages keeps a cursor per named device); may be empty.
  std::string device_name;
  std::string user_agent;
};

/// The Socket.IO session actor of one Engine.IO session: what its
/// transport tells it (`eio_listener_api`), the session side of its devices
/// (`session_api`, one device per namespace), its subscription to the
/// global feed (`delta_listener`), its chat rooms (`room_member`), and its
/// own timers; seed 000's online list comes from the node's list actor
/// (`seed000_list_listener`).
using sio_session_api
  = eio_listener_api::extend_with<session_api, delta_listener, room_member,
                                  seed000_list_listener>::
    extend<
      // private: a device link's rejoin timer (namespace, epoch, attempt)
      caf::reacts_to<rejoin_atom, std::string, uint64_t, int>,
      // private: the session's token expires (its epoch)
      caf::reacts_to<expire_atom, uint64_t>>;

/// Spawns the Socket.IO side of one Engine.IO session: namespaces "/" and
/// "/ws/messages", the events of seeds 000/001, 002 and 004 (one file per
/// dialect: seed000_dialect.cpp, ...), their broadcasts, acknowledgements
/// and the Engine.IO heartbeat (a client that stops answering pings is
/// dropped after ping interval + ping timeout). Runs on the CAF scheduler.
sio_session_api spawn_sio_session(std::shared_ptr<edge_context> ctx,
                                  std::shared_ptr<eio_transport> eio,
                                  sio_params params, seed000_list_api lists);

} // namespace presence::edge
