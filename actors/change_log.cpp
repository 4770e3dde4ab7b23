#include "actors/change_log.hpp"

#include <algorithm>

namespace presence::actors {

change_log::change_log(size_t capacity, uint64_t oldest)
  : capacity_(std::max<size_t>(capacity, 1)), oldest_(oldest) {
  // nop
}

void change_log::add(const presence_delta& d) {
  auto i = version_of_.find(d.user_id);
  if (i != version_of_.end()) {
    if (i->second >= d.version)
      return; // a newer change of this user is in already
    by_version_.erase({i->second, d.user_id});
    i->second = d.version;
  } else {
    version_of_.emplace(d.user_id, d.version);
  }
  by_version_.emplace(std::make_pair(d.version, d.user_id), d);
  while (by_version_.size() > capacity_) {
    auto first = by_version_.begin();
    oldest_ = std::max(oldest_, first->first.first);
    version_of_.erase(first->first.second);
    by_version_.erase(first);
  }
}

uint64_t change_log::cursor() const {
  return by_version_.empty()
           ? oldest_
           : std::max(oldest_, by_version_.rbegin()->first.first);
}

} // namespace presence::actors
