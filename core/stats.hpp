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

} // namespace presence
