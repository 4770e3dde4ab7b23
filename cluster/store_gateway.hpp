#pragma once

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::cluster {

/// Spawns the handle other nodes use for this node's store: an ordinary
/// (scheduled) actor that forwards to the detached store actor and answers
/// in its own name. Remote references then never point at the detached
/// store itself: CAF waits at exit until a detached actor's last reference
/// is gone, and references held by connections to other nodes would keep
/// it waiting. Called once by node::start (node/presence_node.cpp); the
/// gateway then runs on CAF's scheduler.
store_api spawn_store_gateway(caf::actor_system& sys, store_api store,
                              milliseconds timeout);

} // namespace presence::cluster
