#include "actors/room_registry.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

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

/// The registry's full interface: the cluster's views and its typing
/// timers are private.
using rooms_impl_api = rooms_api::extend<
  caf::reacts_to<view_atom, cluster_view>,
  // (room, user, generation): a typing indicator may have run out
  caf::reacts_to<ttl_atom, std::string, std::string, uint64_t>>;

/// Someone typing in a room, started by one of this node's members: it
/// ends at `until` unless started again; one timer per typist at a time.
struct typist {
  room_member member;
  uint64_t gen = 0;
  millis until = 0;
  bool armed = false;
};

struct rooms_state {
  actors_config cfg;
  /// This node's members of each room.
  std::unordered_map<std::string, std::unordered_set<room_member>> rooms;
  std::unordered_map<room_member, std::unordered_set<std::string>> member_of;
  /// The rooms of the other nodes (from the cluster's view).
  std::vector<rooms_api> peers;
  /// (room, user) typing, started here; ends by itself after
  /// cfg.typing_timeout without a new start.
  std::map<std::pair<std::string, std::string>, typist> typing;
  /// (room, user) typing on another node, as its signals said: if that
  /// node goes silent (it died) this node ends the indicator for its own
  /// members, a second after the typing node would have.
  std::map<std::pair<std::string, std::string>, typist> remote_typing;
  uint64_t next_gen = 0;
  /// Told of every profile write in the cluster (monitored).
  std::vector<profile_watcher> watchers;
  static inline const char* name = "presence.rooms";
};

using rooms_ptr = rooms_impl_api::stateful_pointer<rooms_state>;

/// Now on the actor clock's time line in ms (CAF's test coordinator moves
/// it in tests).
millis steady_ms(rooms_ptr self) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           self->clock().now().time_since_epoch())
    .count();
}

/// Passes `sig` to this node's members of its room but `except`.
void deliver_local(rooms_ptr self, const room_signal& sig,
                   const room_member& except) {
  auto& st = self->state;
  auto r = st.rooms.find(sig.room);
  if (r == st.rooms.end())
    return;
  for (auto& m : r->second)
    if (m != except)
      self->send(m, room_atom::value, sig);
}

/// Passes `sig` to every member of its room but `except`, on every node.
void broadcast(rooms_ptr self, const room_signal& sig,
               const room_member& except) {
  deliver_local(self, sig, except);
  for (auto& p : self->state.peers)
    self->send(p, room_atom::value, sig);
}

/// The typing indicators `m` started end now (it left, or is gone).
void stop_typing_of(rooms_ptr self, const room_member& m,
                    const std::string* only_room = nullptr) {
  auto& st = self->state;
  for (auto i = st.typing.begin(); i != st.typing.end();) {
    if (i->second.member != m
        || (only_room != nullptr && i->first.first != *only_room)) {
      ++i;
      continue;
    }
    room_signal stop{i->first.first, i->first.second, false};
    i = st.typing.erase(i);
    broadcast(self, stop, m);
  }
}

void leave(rooms_ptr self, const std::string& room, const room_member& m) {
  auto& st = self->state;
  stop_typing_of(self, m, &room);
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

/// Keeps the typing state of a signal one of this node's members sent.
void track(rooms_ptr self, const room_member& sender, const room_signal& sig) {
  auto& st = self->state;
  auto key = std::make_pair(sig.room, sig.user_id);
  if (!sig.typing) {
    st.typing.erase(key);
    return;
  }
  auto now = steady_ms(self);
  auto& t = st.typing[key];
  if (t.member != sender || t.gen == 0)
    t.gen = ++st.next_gen;
  t.member = sender;
  t.until = now + st.cfg.typing_timeout.count();
  if (t.armed)
    return; // the running timer looks at `until` when it fires
  t.armed = true;
  self->delayed_send(self, st.cfg.typing_timeout, ttl_atom::value, sig.room,
                     sig.user_id, t.gen);
}

/// Keeps the typing state another node's signal told of.
void track_remote(rooms_ptr self, const room_signal& sig) {
  auto& st = self->state;
  auto key = std::make_pair(sig.room, sig.user_id);
  if (!sig.typing) {
    st.remote_typing.erase(key);
    return;
  }
  // Only rooms with members here need it.
  if (st.rooms.count(sig.room) == 0)
    return;
  auto& t = st.remote_typing[key];
  if (t.gen == 0)
    t.gen = ++st.next_gen;
  auto wait = st.cfg.typing_timeout + std::chrono::seconds{1};
  t.until = steady_ms(self) + wait.count();
  if (t.armed)
    return;
  t.armed = true;
  self->delayed_send(self, wait, ttl_atom::value, sig.room, sig.user_id, t.gen);
}

rooms_impl_api::behavior_type rooms_impl(rooms_ptr self, actors_config cfg) {
  self->state.cfg = cfg;
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    st.watchers.erase(std::remove_if(st.watchers.begin(), st.watchers.end(),
                                     [&](const profile_watcher& w) {
                                       return w.address() == dm.source;
                                     }),
                      st.watchers.end());
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
      track(self, sender, sig);
      broadcast(self, sig, sender);
    },
    [=](room_atom, const room_signal& sig) {
      // From another node: its member was checked there.
      track_remote(self, sig);
      deliver_local(self, sig, room_member{});
    },
    [=](ttl_atom, const std::string& room, const std::string& user,
        uint64_t gen) {
      auto& st = self->state;
      auto key = std::make_pair(room, user);
      if (auto r = st.remote_typing.find(key);
          r != st.remote_typing.end() && r->second.gen == gen) {
        auto left = r->second.until - steady_ms(self);
        if (left > 0) {
          self->delayed_send(self, std::chrono::milliseconds{left},
                             ttl_atom::value, room, user, gen);
          return;
        }
        // The typing node went silent: end it for the members here.
        st.remote_typing.erase(r);
        deliver_local(self, room_signal{room, user, false}, room_member{});
        return;
      }
      auto i = st.typing.find(key);
      if (i == st.typing.end() || i->second.gen != gen)
        return; // stopped or restarted since
      auto left = i->second.until - steady_ms(self);
      if (left > 0) {
        // Started again meanwhile: wait for the rest.
        self->delayed_send(self, std::chrono::milliseconds{left},
                           ttl_atom::value, room, user, gen);
        return;
      }
      auto member = i->second.member;
      st.typing.erase(i);
      broadcast(self, room_signal{room, user, false}, member);
    },
    [=](subscribe_atom, const profile_watcher& w) {
      auto& st = self->state;
      if (!w
          || std::find(st.watchers.begin(), st.watchers.end(), w)
               != st.watchers.end())
        return;
      self->monitor(w);
      st.watchers.push_back(w);
    },
    [=](profile_atom, const std::string& user) {
      for (auto& w : self->state.watchers)
        self->send(w, profile_atom::value, user);
      if (self->state.peers.empty())
        return;
      std::vector<std::string> users{user};
      for (auto& p : self->state.peers)
        self->send(p, profile_atom::value, users);
    },
    [=](profile_atom, const std::vector<std::string>& users) {
      for (auto& w : self->state.watchers)
        for (auto& u : users)
          self->send(w, profile_atom::value, u);
    },
    [=](view_atom, const cluster_view& v) {
      auto& st = self->state;
      st.peers.clear();
      for (auto& m : v.members)
        if (m.node_id != v.self && m.rooms)
          st.peers.push_back(m.rooms);
    },
  };
}

} // namespace

rooms_api spawn_room_registry(caf::actor_system& sys,
                              const actors_config& cfg) {
  return sys.spawn(rooms_impl, cfg);
}

} // namespace presence::actors
