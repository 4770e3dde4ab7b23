#pragma once

#include <cstddef>
#include <list>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include <caf/error.hpp>

#include "core/messages.hpp"
#include "persistence/store_db.hpp"

namespace presence::persistence {

// -- fire-and-forget writes ---------------------------------------------------

/// A user came online: its open-session mark.
struct open_write {
  std::string user;
  open_session mark;
};

/// A user went offline: history entry, last_seen, mark removed.
struct close_write {
  std::string user;
  millis start = 0;
  millis end = 0;
  uint64_t version = 0;
};

/// The user's mark goes (it moved to another owner).
struct drop_write {
  std::string user;
};

/// Read repair: last_seen and version raised to at least the record's.
struct merge_write {
  user_record record;
};

/// A write nobody waits for (open, close, drop, merge), kept to be retried
/// when it fails. Checkpoints are not here: the store actor keeps the latest
/// one per user in memory until a batch of them is written.
using store_write
  = std::variant<open_write, close_write, drop_write, merge_write>;

/// The user a write is about.
const std::string& user_of(const store_write& w);

/// What a write does, for the log ("close session", ...).
const char* name_of(const store_write& w);

/// Does `w` on `db` (blocking).
caf::error apply(store_db& db, const store_write& w);

// -- the retry queue ----------------------------------------------------------

/// Writes that failed and wait to be retried in order, bounded. Owned by the
/// store actor (its thread only); unit-tested without it.
///
/// Order is kept: writes leave in the order they came. A write that settles
/// a user's open-session mark (open, drop, close) supersedes that user's
/// queued opens and drops: the mark ends as the newest one says whatever
/// came before, and opens and drops touch nothing else. Closes and merges are
/// never superseded (history entries, last_seen).
class retry_queue {
public:
  /// Bounded to `limit` writes.
  explicit retry_queue(size_t limit);

  /// Appends `w` after removing what it supersedes. Returns false (and keeps
  /// nothing of `w`) when the queue holds `limit` writes.
  bool push(store_write w);

  bool empty() const { return writes_.empty(); }

  size_t size() const { return writes_.size(); }

  size_t limit() const { return limit_; }

  /// The oldest write. Precondition: !empty().
  const store_write& front() const { return writes_.front(); }

  /// Removes the oldest write. Precondition: !empty().
  void pop();

private:
  using list = std::list<store_write>;

  size_t limit_;
  list writes_;
  /// Per user: its queued opens and drops, oldest first.
  std::unordered_map<std::string, std::vector<list::iterator>> marks_;
};

} // namespace presence::persistence
