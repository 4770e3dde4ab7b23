#pragma once

// A node's change log: the latest change of each user it heard of, ordered
// by version, bounded. A client that was away asks for what changed after
// the newest version it saw (`resync`, GET /api/presence/changes) instead
// of listing everyone again. Pure: the fan-out holds one.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/messages.hpp"

namespace presence::actors {

class change_log {
public:
  /// Keeps the latest change of at most `capacity` users. Changes with
  /// versions up to `oldest` are not in it (a node's start time: versions
  /// are at least the wall clock of the owner, so everything after the
  /// start is).
  change_log(size_t capacity, uint64_t oldest);

  /// Records `d` unless the log has a newer change of the same user.
  void add(const presence_delta& d);

  /// The latest change of every user whose version is newer than `since`
  /// and for whom `wanted(user_id)` holds, oldest first. Not complete
  /// (no changes) when changes after `since` may be gone, or more than
  /// `limit` match.
  template <class Pred>
  change_page since(uint64_t since, size_t limit, Pred wanted) const {
    change_page out;
    out.cursor = cursor();
    out.oldest = oldest_;
    if (since < oldest_) {
      out.complete = false;
      return out;
    }
    for (auto i = by_version_.upper_bound({since, std::string{}});
         i != by_version_.end(); ++i) {
      if (i->first.first <= since || !wanted(i->first.second))
        continue;
      if (out.changes.size() == limit) {
        out.complete = false;
        out.changes.clear();
        return out;
      }
      out.changes.push_back(i->second);
    }
    return out;
  }

  /// Changes up to `version` may be missing (resync_required before it).
  void forget_before(uint64_t version) { oldest_ = std::max(oldest_, version); }

  /// The newest version in the log (or `oldest` when empty).
  uint64_t cursor() const;

  size_t size() const { return by_version_.size(); }

private:
  size_t capacity_;
  uint64_t oldest_;
  std::map<std::pair<uint64_t, std::string>, presence_delta> by_version_;
  std::unordered_map<std::string, uint64_t> version_of_;
};

} // namespace presence::actors
