#pragma once

// Who is online, as this node's global feed says: written by one actor
// that follows the feed (the seed-000 list actor), read from any thread
// without a message round trip (seed 000's check_user_online). It lags the
// user actors by what the feed lags (the coalescing window), like every
// observer; until its first full sync it is not `ready` and readers ask
// the presence service instead.

#include <atomic>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "core/messages.hpp"

namespace presence::edge {

class online_index {
public:
  /// The user is online (true, seen by `vis`) or not (false) from now on.
  /// Writer only.
  void set(const std::string& user, bool online, visibility vis = {}) {
    std::unique_lock<std::shared_mutex> guard{mu_};
    if (online)
      users_.insert(user);
    else
      users_.erase(user);
    if (online && vis.restricted())
      restricted_[user] = std::move(vis);
    else if (!restricted_.empty())
      restricted_.erase(user);
  }

  /// The index holds everyone who was online when the writer started
  /// following the feed. Writer only.
  void mark_ready() { ready_.store(true, std::memory_order_release); }

  /// The writer stopped following the feed: empty and not ready again.
  /// Writer only.
  void reset() {
    std::unique_lock<std::shared_mutex> guard{mu_};
    ready_.store(false, std::memory_order_release);
    users_.clear();
    restricted_.clear();
  }

  /// False until the first full sync: ask the presence service instead.
  bool ready() const { return ready_.load(std::memory_order_acquire); }

  /// The user is online as far as `who` may see.
  bool online(const std::string& user, const viewer& who) const {
    std::shared_lock<std::shared_mutex> guard{mu_};
    if (users_.count(user) == 0)
      return false;
    auto i = restricted_.find(user);
    return i == restricted_.end() || may_see(who, user, i->second);
  }

  /// Whether `user` is online for anyone who asks; nothing when the user
  /// is online and restricts who may see them (the answer then depends on
  /// who asks). One lock for both.
  std::optional<bool> online_for_anyone(const std::string& user) const {
    std::shared_lock<std::shared_mutex> guard{mu_};
    if (users_.count(user) == 0)
      return false;
    if (!restricted_.empty() && restricted_.count(user) > 0)
      return std::nullopt;
    return true;
  }

  size_t size() const {
    std::shared_lock<std::shared_mutex> guard{mu_};
    return users_.size();
  }

private:
  mutable std::shared_mutex mu_;
  std::unordered_set<std::string> users_;
  /// The online users who restrict who may see them (usually few).
  std::unordered_map<std::string, visibility> restricted_;
  std::atomic<bool> ready_{false};
};

} // namespace presence::edge
