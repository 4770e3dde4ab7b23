#pragma once

#include <memory>

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"

namespace presence::cluster {

/// Spawns a node's replica repairer. Writes reach the replicas of their
/// key under the view of the moment (cluster/replicator.cpp), so when the
/// ring changes (a member died, came back or joined) the nodes that became
/// replicas of a key hold nothing of what was written before. After each
/// change of the member set the repairer pages through this node's store
/// (`repair_atom`: its keys, then bundles of what it holds under them) and
/// copies each key's bundle to the nodes that are its replicas now but were
/// not under the member set of its last finished pass, when this node is
/// the first of the key's former replicas still alive (one copy per key,
/// not one per holder). At most `cfg.repair_rate` bundles per second; a
/// copy that fails leaves the pass unfinished, and it runs again a few
/// seconds later. A bundle is merged by the receiving store without ever
/// lowering or replacing anything newer (store_db::apply_bundle), so a copy
/// arriving late or twice does no harm.
///
/// Counters in `probe` (`repair_*`, /metrics). Follows `membership`'s
/// views; alone (no views) it does nothing. Called once by node::start
/// (node/presence_node.cpp) on the thread that starts the node.
caf::actor spawn_repairer(caf::actor_system& sys, const cluster_config& cfg,
                          milliseconds request_timeout, store_api local,
                          membership_api membership,
                          std::shared_ptr<store_stats> probe);

} // namespace presence::cluster
