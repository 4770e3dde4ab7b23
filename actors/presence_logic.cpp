#include "actors/presence_logic.hpp"

#include <algorithm>

namespace presence::actors {

namespace {

int rank(presence_status x) {
  switch (x) {
    case presence_status::dnd:
      return 4;
    case presence_status::busy:
      return 3;
    case presence_status::online:
      return 2;
    case presence_status::away:
      return 1;
    case presence_status::offline:
    case presence_status::invisible: // hides the user; see user_actor.cpp
      break;
  }
  return 0;
}

} // namespace

presence_status aggregate(const std::vector<presence_status>& devices) {
  auto best = presence_status::offline;
  for (auto s : devices)
    if (rank(s) > rank(best))
      best = s;
  return best;
}

presence_status combine(const std::vector<device_choice>& devices) {
  bool invisible = false;
  bool chosen_visible = false;
  std::vector<presence_status> visible;
  visible.reserve(devices.size());
  for (auto& d : devices) {
    if (d.status == presence_status::invisible) {
      invisible = true;
      continue;
    }
    chosen_visible = chosen_visible || d.chosen;
    visible.push_back(d.status);
  }
  if (invisible && !chosen_visible)
    return presence_status::invisible;
  return aggregate(visible);
}

uint64_t next_version(uint64_t prev, millis now) {
  return std::max(prev + 1, static_cast<uint64_t>(std::max<millis>(now, 0)));
}

} // namespace presence::actors
