#pragma once

// A node's change log: the latest change of each user it heard of, ordered
// by version, bounded in users and in age. A client that was away asks for
// what changed after the newest version it saw (`resync`, GET
// /api/presence/changes) instead of listing everyone again. Pure: the
// fan-out holds one.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
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
  /// start is). `max_age` (ms, 0 = none): a change whose version is older
  /// than that before the `now` of an add or expire goes (a resync window,
  /// as Socket.IO's connection state recovery and Centrifugo's history
  /// TTL).
  change_log(size_t capacity, uint64_t oldest, uint64_t max_age = 0);

  change_log(const change_log&) = delete;
  change_log& operator=(const change_log&) = delete;
  change_log(change_log&&) = default;
  change_log& operator=(change_log&&) = default;

  /// Records `d` unless the log has a newer change of the same user; first
  /// drops the changes older than `max_age` before `now` (ms, the wall
  /// clock; 0: drops none).
  void add(const presence_delta& d, uint64_t now = 0);

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
    for (auto i = by_version_.upper_bound(
           by_version_order::key{since, std::string_view{}});
         i != by_version_.end(); ++i) {
      if (i->version <= since || !wanted(i->user_id))
        continue;
      if (out.changes.size() == limit) {
        out.complete = false;
        out.changes.clear();
        return out;
      }
      out.changes.push_back(*i);
    }
    return out;
  }

  /// Drops the changes older than `max_age` before `now` (ms; 0: none).
  void expire(uint64_t now);

  /// Calls `f` with every change in the log, oldest first.
  template <class F>
  void for_each(F f) const {
    for (auto& d : by_version_)
      f(d);
  }

  /// Changes up to this version may be missing (0: none went).
  uint64_t oldest() const { return oldest_; }

  /// Changes up to `version` may be missing (resync_required before it).
  void forget_before(uint64_t version) { oldest_ = std::max(oldest_, version); }

  /// The newest version in the log (or `oldest` when empty).
  uint64_t cursor() const;

  size_t size() const { return by_version_.size(); }

private:
  /// Entries ordered by (version, user id); also compared with such a
  /// pair, to look up without a delta.
  struct by_version_order {
    using is_transparent = void;
    using key = std::pair<uint64_t, std::string_view>;
    static key of(const presence_delta& d) { return {d.version, d.user_id}; }
    static const key& of(const key& k) { return k; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const {
      return of(a) < of(b);
    }
  };
  using by_version_set = std::set<presence_delta, by_version_order>;

  /// Drops the oldest entry (its change may now be missing).
  void drop_oldest();

  size_t capacity_;
  uint64_t oldest_;
  uint64_t max_age_;
  by_version_set by_version_;
  /// User id (viewing the entry's own, so each entry holds it once) -> its
  /// entry.
  std::unordered_map<std::string_view, by_version_set::iterator> entry_of_;
};

} // namespace presence::actors
