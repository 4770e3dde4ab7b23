#pragma once

#include <caf/fwd.hpp>

namespace presence::actors {

/// Spawns the rooms of one node: named groups of session actors (seed 002's
/// chat sessions) that pass ephemeral signals such as typing indicators to
/// each other. Members are monitored; a dead one leaves all its rooms.
///
/// Messages:
///   (join_atom, string room, actor member)
///   (leave_atom, string room, actor member)
///   (room_atom, actor sender, room_signal)  -> (room_atom, room_signal) to
///                                              every other member
caf::actor spawn_room_registry(caf::actor_system& sys);

} // namespace presence::actors
