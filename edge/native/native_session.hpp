#pragma once

#include <memory>
#include <string>

#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>

#include "core/messages.hpp"
#include "edge/common/activity.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/native/native_protocol.hpp"
#include "edge/transport/ws_endpoint.hpp"

namespace presence::edge {

/// What the WebSocket upgrade learned about a client (native_upgrade.cpp).
struct session_params {
  /// Who the client is: from the JWT (fixed) or, in dev mode, ?userId=.
  /// Empty: anonymous until a join frame names someone.
  std::string user_id;
  /// True when user_id comes from a verified token (JWT mode).
  bool authenticated = false;
  std::string device_id;
  /// device_id was made up by the server (the client named no device).
  bool device_generated = false;
  std::string user_agent;
  std::string platform;
  /// Subscribe to every user's changes from the start (seed 003's path).
  bool global_feed = false;
  /// May subscribe to the global feed (--global-feed, admin token).
  bool global_allowed = true;
  /// The token is an admin's: sees everyone, whoever they let see them.
  bool admin = false;
  /// When the session's token expires (ms; 0: never, or dev mode): the
  /// session ends then (close 4003) unless a `refresh` brings a newer one.
  millis token_expires = 0;
};

/// The actor behind one native-protocol WebSocket: the session side of its
/// device (`session_api`), a `delta_listener` for its subscriptions, and
/// what its socket tells it.
using native_session_api
  = session_api::extend_with<delta_listener, room_member>::extend<
    // one frame from the client, parsed on the socket's strand (pings are
    // answered there and never come here)
    caf::reacts_to<frame_atom, native_command>,
    // the socket is gone
    caf::reacts_to<closed_atom>,
    // private: the device link's rejoin timer (key, epoch, attempt)
    caf::reacts_to<rejoin_atom, std::string, uint64_t, int>,
    // private: the token's expiry timer (its epoch)
    caf::reacts_to<deadline_atom, uint64_t>>;

/// Spawns the session actor of one native WebSocket. It handles the
/// client's frames (parsed by the endpoint), talks to the presence service
/// and the user actor in typed messages, and writes replies and deltas
/// through `sink`; it routes `activity` (where the endpoint records
/// heartbeats) to the user actor holding its device. `params.device_id`
/// is set and the welcome frame sent by the caller (the endpoint, on the
/// socket's strand, so it is the first frame). Runs on the CAF scheduler.
native_session_api spawn_native_session(std::shared_ptr<edge_context> ctx,
                                        std::shared_ptr<session_sink> sink,
                                        session_params params,
                                        activity_cell_ptr activity);

/// The native protocol on a WebSocket (called on the socket's strand):
/// parses every frame there, answers pings at once (the heartbeat is
/// recorded in the device's activity cell, which the node's flusher
/// forwards), and hands every other frame to the session actor it spawns
/// on open.
std::shared_ptr<ws_endpoint>
make_native_endpoint(std::shared_ptr<edge_context> ctx, session_params params);

} // namespace presence::edge
