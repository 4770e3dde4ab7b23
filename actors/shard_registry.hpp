#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "actors/user_actor.hpp"
#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"

namespace presence::actors {

/// The registry's interface within a node: what other nodes see
/// (`node_registry_api`: the presence service and handovers), what its user
/// actors tell it, and the membership's views.
using registry_api = node_registry_api::extend_with<registry_sink>::extend<
  // the cluster changed (from the membership actor)
  caf::reacts_to<view_atom, cluster_view>>;

/// Spawns the shard registry of one node. It maps user id -> user actor
/// (spawning on first join, ending idle actors), keeps the index of visible
/// online users it owns (for count and paged lists), answers for offline
/// users from the store, and sends every delta to the fan-out of every
/// node (`fanout` here, the others' from the cluster view).
///
/// In a cluster it follows the views: users the ring gives to another node
/// are handed over (live state, no announcement), and after a member dies
/// the sessions it left open for users now owned here are closed once they
/// had `cluster.rehome_window` to re-register.
///
/// `env.registry` is filled in by the registry itself.
registry_api spawn_registry(caf::actor_system& sys, user_env env,
                            fanout_api fanout,
                            std::shared_ptr<node_stats> stats = nullptr,
                            const cluster_config& cluster = {});

} // namespace presence::actors
