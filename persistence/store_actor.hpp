#pragma once

#include <atomic>
#include <memory>

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"
#include "persistence/store_db.hpp"

namespace presence::persistence {

/// The store's counters (core/stats.hpp).
using store_probe = store_stats;

/// Spawns the store actor, detached (own thread: RocksDB blocks), owning `db`.
/// Heartbeat checkpoints are kept in memory and written in one batch every
/// `cfg.checkpoint_interval`; opens and closes are written at once.
store_api spawn_store(caf::actor_system& sys, std::unique_ptr<store_db> db,
                      const persistence_config& cfg,
                      std::shared_ptr<store_probe> probe);

} // namespace presence::persistence
