#include "cluster/router.hpp"

#include <map>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cluster/merge.hpp"
#include "core/hash_ring.hpp"

namespace presence::cluster {

namespace {

using router_api = presence_api::extend<caf::reacts_to<view_atom, cluster_view>>;

struct router_state {
  cluster_config cfg;
  milliseconds timeout{5000};
  presence_api local;
  std::string self;
  hash_ring ring;
  /// Registries of the alive members, by node id (self included).
  std::map<std::string, presence_api> registries;
  static inline const char* name = "presence.router";
};

using router_ptr = router_api::stateful_pointer<router_state>;

const presence_api& owner(router_ptr self, const std::string& user) {
  auto& st = self->state;
  auto node = st.ring.owner(user);
  auto i = st.registries.find(node);
  if (node.empty() || node == st.self || i == st.registries.end())
    return st.local;
  return i->second;
}

/// Collects one reply per member, then calls `done` with all of them.
template <class T>
struct gather {
  std::vector<T> replies;
  size_t pending = 0;
  bool failed = false;
};

router_api::behavior_type router_impl(router_ptr self, cluster_config cfg,
                                      milliseconds timeout, presence_api local,
                                      membership_api membership) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.timeout = timeout;
  st.local = std::move(local);
  st.ring = hash_ring{st.cfg.vnodes};
  if (membership)
    caf::anon_send(membership, subscribe_atom::value, view_listener{self});
  return {
    [=](view_atom, const cluster_view& v) {
      auto& st = self->state;
      st.self = v.self;
      st.ring = hash_ring::of(v.node_ids(), st.cfg.vnodes);
      st.registries.clear();
      for (auto& m : v.members) {
        if (m.node_id != v.self)
          st.registries.emplace(m.node_id, m.registry);
      }
    },
    [=](get_atom, const std::string& user) -> caf::result<user_status> {
      return self->delegate(owner(self, user), get_atom::value, user);
    },
    [=](get_atom, const std::vector<std::string>& users)
      -> caf::result<std::vector<user_status>> {
      auto& st = self->state;
      // Group the ids by owner; answer in the order asked.
      std::map<caf::actor_addr, std::pair<presence_api, std::vector<size_t>>>
        groups;
      for (size_t i = 0; i < users.size(); ++i) {
        auto& h = owner(self, users[i]);
        auto& g = groups[h.address()];
        g.first = h;
        g.second.push_back(i);
      }
      if (groups.size() <= 1)
        return self->delegate(groups.empty() ? st.local
                                             : groups.begin()->second.first,
                              get_atom::value, users);
      auto rp = self->make_response_promise<std::vector<user_status>>();
      auto out = std::make_shared<std::vector<user_status>>(users.size());
      auto pending = std::make_shared<size_t>(groups.size());
      auto failed = std::make_shared<bool>(false);
      for (auto& kvp : groups) {
        auto slots = kvp.second.second;
        std::vector<std::string> ids;
        for (auto i : slots)
          ids.push_back(users[i]);
        self->request(kvp.second.first, st.timeout, get_atom::value, ids)
          .then(
            [=](std::vector<user_status>& xs) mutable {
              for (size_t k = 0; k < xs.size() && k < slots.size(); ++k)
                (*out)[slots[k]] = std::move(xs[k]);
              if (--*pending == 0 && !*failed)
                rp.deliver(std::move(*out));
            },
            [=](caf::error& err) mutable {
              if (!*failed) {
                *failed = true;
                rp.deliver(std::move(err));
              }
            });
      }
      return rp;
    },
    [=](list_atom, const std::string& cursor,
        uint32_t limit) -> caf::result<online_page> {
      auto& st = self->state;
      if (st.registries.empty())
        return self->delegate(st.local, list_atom::value, cursor, limit);
      auto rp = self->make_response_promise<online_page>();
      auto g = std::make_shared<gather<online_page>>();
      g->pending = st.registries.size() + 1;
      auto on_page = [=](online_page& p) mutable {
        g->replies.push_back(std::move(p));
        if (--g->pending > 0 || g->failed)
          return;
        rp.deliver(merge_pages(std::move(g->replies), limit));
      };
      auto on_error = [=](caf::error& err) mutable {
        if (!g->failed) {
          g->failed = true;
          rp.deliver(std::move(err));
        }
      };
      self->request(st.local, st.timeout, list_atom::value, cursor, limit)
        .then(on_page, on_error);
      for (auto& kvp : st.registries)
        self->request(kvp.second, st.timeout, list_atom::value, cursor, limit)
          .then(on_page, on_error);
      return rp;
    },
    [=](count_atom) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.registries.empty())
        return self->delegate(st.local, count_atom::value);
      auto rp = self->make_response_promise<uint64_t>();
      auto sum = std::make_shared<uint64_t>(0);
      auto pending = std::make_shared<size_t>(st.registries.size() + 1);
      auto failed = std::make_shared<bool>(false);
      auto on_count = [=](uint64_t n) mutable {
        *sum += n;
        if (--*pending == 0 && !*failed)
          rp.deliver(*sum);
      };
      auto on_error = [=](caf::error& err) mutable {
        if (!*failed) {
          *failed = true;
          rp.deliver(std::move(err));
        }
      };
      self->request(st.local, st.timeout, count_atom::value)
        .then(on_count, on_error);
      for (auto& kvp : st.registries)
        self->request(kvp.second, st.timeout, count_atom::value)
          .then(on_count, on_error);
      return rp;
    },
    [=](subscribe_atom, const delta_listener& l,
        std::vector<std::string>& users,
        bool global) -> caf::result<bool> {
      return self->delegate(self->state.local, subscribe_atom::value, l,
                            std::move(users), global);
    },
    [=](unsubscribe_atom, const delta_listener& l,
        std::vector<std::string>& users,
        bool global) -> caf::result<bool> {
      return self->delegate(self->state.local, unsubscribe_atom::value, l,
                            std::move(users), global);
    },
    [=](join_atom, join_request& req) -> caf::result<join_ack> {
      auto& h = owner(self, req.user_id);
      return self->delegate(h, join_atom::value, std::move(req));
    },
    [=](touch_atom, const std::string& user) -> caf::result<user_status> {
      return self->delegate(owner(self, user), touch_atom::value, user);
    },
    [=](shutdown_atom) -> caf::result<uint64_t> {
      return self->delegate(self->state.local, shutdown_atom::value);
    },
  };
}

} // namespace

presence_api spawn_router(caf::actor_system& sys, const cluster_config& cfg,
                          milliseconds request_timeout, presence_api local,
                          membership_api membership) {
  return sys.spawn(router_impl, cfg, request_timeout, std::move(local),
                   std::move(membership));
}

} // namespace presence::cluster
