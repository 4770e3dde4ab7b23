#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace presence {

/// A consistent-hash ring with virtual nodes: maps a user id to the node that
/// owns it. Adding or removing a node moves only the keys of that node.
/// A plain value type: the router, the replicator and the registry each
/// build one from every cluster view (`hash_ring::of(view.node_ids(), n)`).
class hash_ring {
public:
  explicit hash_ring(uint32_t vnodes_per_node = 128);

  /// The ring over `node_ids` (every node computes the same one).
  template <class Range>
  static hash_ring of(const Range& node_ids, uint32_t vnodes_per_node) {
    hash_ring r{vnodes_per_node};
    for (auto& id : node_ids)
      r.add(id);
    return r;
  }

  void add(const std::string& node_id);
  void remove(const std::string& node_id);
  bool contains(const std::string& node_id) const;
  size_t size() const { return nodes_.size(); }
  std::vector<std::string> nodes() const { return nodes_; }

  /// Owner of `key`; empty string when the ring is empty.
  std::string owner(const std::string& key) const;

  /// The first `n` distinct nodes clockwise from `key` (owner first).
  std::vector<std::string> replicas(const std::string& key, size_t n) const;

  /// 64-bit FNV-1a followed by a finaliser; stable across platforms.
  static uint64_t hash(const std::string& s);

private:
  uint32_t vnodes_;
  std::vector<std::string> nodes_;
  std::map<uint64_t, std::string> ring_;
};

} // namespace presence
