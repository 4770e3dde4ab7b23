#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace presence {

/// Durations in fixed buckets, filled lock-free from any thread and read at
/// scrape time (edge/common/edge_probe turns it into a Prometheus
/// histogram in seconds).
struct latency_histogram {
  /// Upper bounds of the buckets, in microseconds; one more bucket takes
  /// everything above the last.
  static constexpr std::array<uint64_t, 14> bounds_us{
    100,    250,    500,     1'000,   2'500,   5'000,     10'000,
    25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 5'000'000};
  std::array<std::atomic<uint64_t>, bounds_us.size() + 1> buckets{};
  std::atomic<uint64_t> sum_us{0};

  void observe(uint64_t us) {
    size_t i = 0;
    while (i < bounds_us.size() && us > bounds_us[i])
      ++i;
    buckets[i].fetch_add(1, std::memory_order_relaxed);
    sum_us.fetch_add(us, std::memory_order_relaxed);
  }
};

/// Live figures of one node, shared between its registry (users owned),
/// its edge (connections) and its membership actor (which gossips them for
/// /api/cluster). Thread-safe.
struct node_stats {
  std::atomic<uint64_t> users_owned{0};
  std::atomic<uint64_t> connections{0};
  /// How old each change is when the node's fan-out hands it to its
  /// subscribers (now minus the change's version, a time in ms): the
  /// coalescing window and the queues before it.
  latency_histogram delivery_delay;
  /// How late each of the membership actor's heartbeat ticks ran (cluster
  /// mode): near the failure timeout, the others declare this node dead.
  latency_histogram tick_delay;

  /// This node standing still (SIGSTOP, a VM pause, a starved machine), as
  /// the membership actor's heartbeat tick sees it: when it last ran (ms),
  /// and the end and length of the last stall it noticed (a tick later
  /// than due by a failure timeout or more: long enough for the other
  /// members to declare this node dead and take its users over). Written
  /// by the membership actor, read by the registry (cluster mode only).
  std::atomic<int64_t> tick_at{0};
  std::atomic<int64_t> stall_end{0};
  std::atomic<int64_t> stall_len{0};
  /// Other members in the registry's last cluster view: a stall only makes
  /// this node's user actors stale when someone was there to take its
  /// users over.
  std::atomic<uint32_t> peers{0};

  /// A stall of this node: `start` is its last tick before it (ms), `len`
  /// how long the node stood still (0: none).
  struct stall {
    int64_t start = 0;
    int64_t len = 0;
  };

  /// The stall this node is just coming out of: one in progress (the tick,
  /// due every `tick_every` ms, is late: the process resumed and the tick
  /// has not run yet), or the last one if it ended within `recent` ms.
  stall last_stall(int64_t now, int64_t tick_every, int64_t recent) const {
    auto tick = tick_at.load();
    if (tick > 0 && now - tick > tick_every)
      return {tick, now - tick};
    auto end = stall_end.load();
    auto len = stall_len.load();
    if (end > 0 && now - end <= recent)
      return {end - len, len};
    return {};
  }
};

/// What the store of one node has done, for /metrics and tests. Written by
/// the store actor (persistence/), read from any thread.
struct store_stats {
  std::atomic<uint64_t> checkpoint_flushes{0};
  std::atomic<uint64_t> checkpoints_written{0};
  /// The newest activity time (ms since the epoch) a checkpoint has
  /// written: what a crash now would keep (a gauge).
  std::atomic<uint64_t> checkpoint_newest_ms{0};
  /// Bytes in RocksDB's memtables after the last write (a gauge; at most
  /// --store-memtable-mb, then flushed to disk).
  std::atomic<uint64_t> memtable_bytes{0};
  /// Bytes in RocksDB's block cache (a gauge, read after a write at most
  /// once a second; about --store-cache-mb at most).
  std::atomic<uint64_t> block_cache_bytes{0};
  /// Bytes RocksDB holds for its open tables' index and filter blocks (a
  /// gauge, read like block_cache_bytes).
  std::atomic<uint64_t> table_reader_bytes{0};
  std::atomic<uint64_t> sessions_closed{0};
  std::atomic<uint64_t> sessions_recovered{0};
  /// Writes that failed: each write once when it failed (a request answered
  /// with an error, or a write kept for a retry); failed retries are not
  /// counted again.
  std::atomic<uint64_t> write_errors{0};
  /// Failed writes waiting in the retry queue right now (a gauge).
  std::atomic<uint64_t> writes_pending{0};
  /// Writes given up: the retry queue was full, a retry failed with
  /// corruption, or the store stopped before they could be written.
  std::atomic<uint64_t> writes_dropped{0};
  /// Replica repair (cluster/repairer.cpp): bundles this node copied to
  /// new replicas, copies that failed (retried by a later pass), passes
  /// finished, and whether a pass is running now (a gauge, 0 or 1).
  std::atomic<uint64_t> repair_copies{0};
  std::atomic<uint64_t> repair_failures{0};
  std::atomic<uint64_t> repair_passes{0};
  std::atomic<uint64_t> repair_running{0};
  /// How long each RocksDB write (a batch) took.
  latency_histogram write_latency;
};

} // namespace presence
