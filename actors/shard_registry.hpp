#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "actors/user_actor.hpp"
#include "core/messages.hpp"

namespace presence::actors {

/// The registry's full interface: the public presence_api plus what user
/// actors tell it.
using registry_api = presence_api::extend_with<registry_sink>;

/// Spawns the shard registry of one node. It maps user id -> user actor
/// (spawning on first join, ending idle actors), keeps the index of visible
/// online users (for count and paged lists), answers for offline users from
/// the store, and forwards every delta to `fanout`.
///
/// `env.registry` is filled in by the registry itself.
registry_api spawn_registry(caf::actor_system& sys, user_env env,
                            caf::actor fanout);

} // namespace presence::actors
