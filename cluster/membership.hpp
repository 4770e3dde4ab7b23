#pragma once

#include <atomic>
#include <memory>

#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"

namespace presence::cluster {

/// Spawns the membership actor of a node. It knows the other members (seeds
/// first, then whoever they know: every node says hello to every other),
/// detects failures (a monitor on each member's membership actor, plus a
/// heartbeat timeout for members that hang without dropping the
/// connection), retries dead members and seeds so a healed partition or a
/// restarted node is learned again, and pushes the alive set as a
/// `(view_atom, cluster_view)` to local subscribers on every change.
///
/// `self` describes this node; its `membership` handle is filled in here.
/// The caller (node::start, node/presence_node.cpp, on the thread that
/// starts the node) publishes the returned actor on the cluster port.
/// Interface: `membership_api` (core/messages.hpp).
membership_api spawn_membership(caf::actor_system& sys,
                                const cluster_config& cfg, member_info self,
                                uint32_t replication,
                                std::shared_ptr<node_stats> stats,
                                wall_clock now);

/// Replication factor for `members` alive nodes under setting `configured`
/// (0 = 2 when there is more than one node). Pure; called by the replicator
/// on every view and by membership for `/api/cluster`.
uint32_t effective_replication(uint32_t configured, size_t members);

} // namespace presence::cluster
