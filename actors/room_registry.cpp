#include "actors/room_registry.hpp"

#include <unordered_map>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/messages.hpp"

namespace presence::actors {

namespace {

/// Rooms one member may be in at once (bounds what a client can make us
/// hold).
constexpr size_t max_rooms_per_member = 256;

struct rooms_state {
  std::unordered_map<std::string, std::unordered_set<room_member>> rooms;
  std::unordered_map<room_member, std::unordered_set<std::string>> member_of;
  static inline const char* name = "presence.rooms";
};

using rooms_ptr = rooms_api::stateful_pointer<rooms_state>;

void leave(rooms_ptr self, const std::string& room, const room_member& m) {
  auto& st = self->state;
  auto r = st.rooms.find(room);
  if (r != st.rooms.end()) {
    r->second.erase(m);
    if (r->second.empty())
      st.rooms.erase(r);
  }
  auto i = st.member_of.find(m);
  if (i != st.member_of.end()) {
    i->second.erase(room);
    if (i->second.empty()) {
      st.member_of.erase(i);
      self->demonitor(m.address());
    }
  }
}

rooms_api::behavior_type rooms_impl(rooms_ptr self) {
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto i = st.member_of.begin(); i != st.member_of.end(); ++i) {
      if (i->first.address() != dm.source)
        continue;
      auto m = i->first;
      auto rooms = i->second;
      for (auto& r : rooms)
        leave(self, r, m);
      return;
    }
  });
  return {
    [=](join_atom, const std::string& room, const room_member& m) {
      auto& st = self->state;
      if (!m)
        return;
      auto& mine = st.member_of[m];
      if (mine.size() >= max_rooms_per_member && mine.count(room) == 0)
        return;
      if (mine.empty())
        self->monitor(m);
      mine.insert(room);
      st.rooms[room].insert(m);
    },
    [=](leave_atom, const std::string& room, const room_member& m) {
      leave(self, room, m);
    },
    [=](room_atom, const room_member& sender, const room_signal& sig) {
      auto& st = self->state;
      auto r = st.rooms.find(sig.room);
      if (r == st.rooms.end() || r->second.count(sender) == 0)
        return; // only members may signal a room
      for (auto& m : r->second)
        if (m != sender)
          self->send(m, room_atom::value, sig);
    },
  };
}

} // namespace

rooms_api spawn_room_registry(caf::actor_system& sys) {
  return sys.spawn(rooms_impl);
}

} // namespace presence::actors
