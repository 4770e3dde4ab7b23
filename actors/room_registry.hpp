#pragma once

#include <caf/fwd.hpp>

#include "core/messages.hpp"

namespace presence::actors {

/// Spawns the rooms of one node: named groups of session actors (seed 002's
/// chat sessions) that pass ephemeral signals such as typing indicators to
/// each other. Members are monitored; a dead one leaves all its rooms; one
/// member may be in at most 256 rooms. Interface: `rooms_api`
/// (core/messages.hpp).
rooms_api spawn_room_registry(caf::actor_system& sys);

} // namespace presence::actors
