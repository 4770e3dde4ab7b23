#pragma once

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::cluster {

/// Spawns a node's replicator: a store_api in front of the stores of the
/// cluster. Every write for a user goes to that user's replicas (the owner
/// and the next distinct nodes on the ring, `cfg.replication` in all);
/// reads ask every replica and merge (latest last_seen and version, the
/// union of history), repairing replicas that were behind, so a read
/// survives the loss of any one node and a node that was away catches up
/// as it is read. A read of a record, a last_seen touch or a profile write
/// that no replica answered fails with the store error `unavailable`
/// (persistence::errc). It follows `membership`'s views; alone, it is
/// `local`. Called once by node::start (node/presence_node.cpp) on the
/// thread that starts the node; the replicator then runs on CAF's
/// scheduler.
store_api spawn_replicator(caf::actor_system& sys, const cluster_config& cfg,
                           milliseconds request_timeout, store_api local,
                           membership_api membership);

} // namespace presence::cluster
