#pragma once

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::actors {

/// Spawns the rooms of one node: named groups of session actors (seed 002's
/// chat sessions) that pass ephemeral signals such as typing indicators to
/// each other, across the cluster: each node's rooms hold that node's
/// members, and a member's signal goes to the other members here and to
/// every other node's rooms (from the cluster views the node subscribes it
/// to), which pass it to their members of the room. Only members may
/// signal. A typing indicator ends by itself `cfg.typing_timeout` after its
/// last start (a stop signal to everyone), and when its member leaves the
/// room or is gone. Members are monitored; a dead one leaves all its
/// rooms; one member may be in at most 256 rooms. The same path carries
/// profile writes to every node's profile watchers (the seed-000 list's
/// profile cache), outside any room. Interface: `rooms_api`
/// (core/messages.hpp).
rooms_api spawn_room_registry(caf::actor_system& sys, const actors_config& cfg);

} // namespace presence::actors
