#include "core/hash_ring.hpp"

#include <algorithm>

namespace presence {

hash_ring::hash_ring(uint32_t vnodes_per_node)
  : vnodes_(vnodes_per_node == 0 ? 1 : vnodes_per_node) {
  // nop
}

uint64_t hash_ring::hash(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // splitmix64 finaliser: FNV alone clusters similar keys ("node-1#1", ...).
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

void hash_ring::add(const std::string& node_id) {
  if (contains(node_id))
    return;
  nodes_.push_back(node_id);
  std::sort(nodes_.begin(), nodes_.end());
  for (uint32_t i = 0; i < vnodes_; ++i) {
    auto point = hash(node_id + "#" + std::to_string(i));
    // On a (vanishingly rare) collision the smaller node id wins, so every
    // node computes the same ring whatever the order of additions.
    auto [it, added] = ring_.emplace(point, node_id);
    if (!added && node_id < it->second)
      it->second = node_id;
  }
}

void hash_ring::remove(const std::string& node_id) {
  auto i = std::find(nodes_.begin(), nodes_.end(), node_id);
  if (i == nodes_.end())
    return;
  nodes_.erase(i);
  // Rebuild: cheap (nodes x vnodes) and keeps collision handling exact.
  ring_.clear();
  auto rest = nodes_;
  nodes_.clear();
  for (auto& n : rest)
    add(n);
}

bool hash_ring::contains(const std::string& node_id) const {
  return std::find(nodes_.begin(), nodes_.end(), node_id) != nodes_.end();
}

std::string hash_ring::owner(const std::string& key) const {
  if (ring_.empty())
    return {};
  auto i = ring_.lower_bound(hash(key));
  if (i == ring_.end())
    i = ring_.begin();
  return i->second;
}

std::vector<std::string> hash_ring::replicas(const std::string& key,
                                             size_t n) const {
  std::vector<std::string> out;
  if (ring_.empty() || n == 0)
    return out;
  n = std::min(n, nodes_.size());
  auto start = ring_.lower_bound(hash(key));
  if (start == ring_.end())
    start = ring_.begin();
  auto i = start;
  do {
    if (std::find(out.begin(), out.end(), i->second) == out.end())
      out.push_back(i->second);
    if (++i == ring_.end())
      i = ring_.begin();
  } while (out.size() < n && i != start);
  return out;
}

} // namespace presence
