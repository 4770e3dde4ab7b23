#pragma once

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::cluster {

/// Spawns a node's router: the presence_api the edge and embedding hosts
/// talk to. Per user it forwards to the owner node's registry (hash ring
/// over the alive members); cluster-wide questions (count, online list)
/// are asked of every member and merged; subscriptions stay local.
/// It follows `membership`'s views. A count, a list or a batch spanning
/// several members fails with the first member's error (fail fast: a
/// partial answer would look whole).
///
/// With no other members every call goes to `local`, the node's registry.
/// Called once by node::start (node/presence_node.cpp) on the thread that
/// starts the node; the router then runs on CAF's scheduler.
presence_api spawn_router(caf::actor_system& sys, const cluster_config& cfg,
                          milliseconds request_timeout, presence_api local,
                          membership_api membership);

} // namespace presence::cluster
