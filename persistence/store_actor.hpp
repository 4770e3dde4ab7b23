#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

#include <caf/fwd.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"
#include "persistence/store_db.hpp"

namespace presence::persistence {

/// The store's counters (core/stats.hpp).
using store_probe = store_stats;

/// How often the store retries failed writes (and reopens RocksDB) while
/// writes are failing.
constexpr std::chrono::milliseconds default_retry_interval{1'000};

/// At most this many failed writes wait for a retry; more are dropped (and
/// counted in store_stats::writes_dropped).
constexpr size_t retry_queue_limit = 100'000;

/// Spawns the store actor, detached (own thread: RocksDB blocks), owning `db`.
/// Heartbeat checkpoints are kept in memory (the latest per user) and each
/// is written about `cfg.checkpoint_interval` after it started waiting, in
/// batches every tenth of the interval (the oldest tenth of what waits,
/// and all that waited an interval); opens and closes are written at once.
///
/// Failures (policy in persistence/README.md): requests that reply (loads,
/// last_seen touch, profiles, history, flush, orphans) are answered with the
/// store error (category "store"). Writes nobody waits for (open,
/// checkpoint, close, drop, merge) are counted in `write_errors`, logged
/// once per run of failures on the "store" logger, and kept: failed ones wait
/// in a retry queue (at most `retry_queue_limit`), retried in order every
/// `retry_interval` after reopening RocksDB; later ones queue behind them.
store_api
spawn_store(caf::actor_system& sys, std::unique_ptr<store_db> db,
            const persistence_config& cfg, std::shared_ptr<store_probe> probe,
            std::chrono::milliseconds retry_interval = default_retry_interval);

} // namespace presence::persistence
