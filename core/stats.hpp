#pragma once

#include <atomic>
#include <cstdint>

namespace presence {

/// Live figures of one node, shared between its registry (users owned),
/// its edge (connections) and its membership actor (which gossips them for
/// /api/cluster). Thread-safe.
struct node_stats {
  std::atomic<uint64_t> users_owned{0};
  std::atomic<uint64_t> connections{0};
};

/// What the store of one node has done, for /metrics and tests. Written by
/// the store actor (persistence/), read from any thread.
struct store_stats {
  std::atomic<uint64_t> checkpoint_flushes{0};
  std::atomic<uint64_t> checkpoints_written{0};
  std::atomic<uint64_t> sessions_closed{0};
  std::atomic<uint64_t> sessions_recovered{0};
};

} // namespace presence
