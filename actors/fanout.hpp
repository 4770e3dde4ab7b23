#pragma once

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::actors {

/// Spawns the fan-out of one node: it holds subscriptions (listener actor ->
/// users or the global feed) and coalesces adaptively: a delta after a
/// quiet spell goes out at once and opens a window of `cfg.coalesce_window`;
/// deltas arriving within it are gathered (the latest state per user wins)
/// and sent together when it ends, opening the next window, until a window
/// gathers nothing. Each listener gets one `(delta_atom, delta_batch)` per
/// send with what it asked for; global listeners share one batch object.
/// A user's deltas are never reordered. Listeners are monitored; a dead one
/// is forgotten. Interface: `fanout_api` (core/messages.hpp).
fanout_api spawn_fanout(caf::actor_system& sys, const actors_config& cfg);

} // namespace presence::actors
