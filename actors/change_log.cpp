#include "actors/change_log.hpp"

#include <algorithm>

namespace presence::actors {

change_log::change_log(size_t capacity, uint64_t oldest, uint64_t max_age)
  : capacity_(std::max<size_t>(capacity, 1)), oldest_(oldest),
    max_age_(max_age) {
  // nop
}

void change_log::drop_oldest() {
  auto first = by_version_.begin();
  oldest_ = std::max(oldest_, first->version);
  entry_of_.erase(first->user_id);
  by_version_.erase(first);
}

void change_log::expire(uint64_t now) {
  if (max_age_ > 0 && now > max_age_)
    while (!by_version_.empty()
           && by_version_.begin()->version < now - max_age_)
      drop_oldest();
}

void change_log::add(const presence_delta& d, uint64_t now) {
  expire(now);
  if (auto i = entry_of_.find(d.user_id); i != entry_of_.end()) {
    if (i->second->version >= d.version)
      return; // a newer change of this user is in already
    // The key views the entry about to go: take it out first.
    auto old = i->second;
    entry_of_.erase(i);
    by_version_.erase(old);
  }
  auto it = by_version_.insert(d).first;
  entry_of_.emplace(it->user_id, it);
  while (by_version_.size() > capacity_)
    drop_oldest();
}

uint64_t change_log::cursor() const {
  return by_version_.empty() ? oldest_
                             : std::max(oldest_, by_version_.rbegin()->version);
}

} // namespace presence::actors
