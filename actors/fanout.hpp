#pragma once

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::actors {

/// Spawns the fan-out of one node: it holds subscriptions (listener actor ->
/// users or the global feed), gathers incoming deltas for
/// `cfg.coalesce_window` (the latest state per user wins) and then sends each
/// listener one `(delta_atom, delta_batch)` with what it asked for. Global
/// listeners share one batch object. Listeners are monitored; a dead one is
/// forgotten. Interface: `fanout_api` (core/messages.hpp).
fanout_api spawn_fanout(caf::actor_system& sys, const actors_config& cfg);

} // namespace presence::actors
