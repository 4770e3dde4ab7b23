#include "cluster/replicator.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "cluster/membership.hpp"
#include "cluster/merge.hpp"
#include "core/hash_ring.hpp"

namespace presence::cluster {

namespace {

using replicator_api
  = store_api::extend<caf::reacts_to<view_atom, cluster_view>>;

struct replicator_state {
  cluster_config cfg;
  milliseconds timeout{5000};
  store_api local;
  std::string self;
  hash_ring ring;
  std::map<std::string, store_api> stores;  // alive members, self included
  uint32_t rf = 1;
  static inline const char* name = "presence.replicator";
};

using replicator_ptr = replicator_api::stateful_pointer<replicator_state>;

/// The stores holding `user`: owner first.
std::vector<store_api> replicas(replicator_ptr self, const std::string& user) {
  auto& st = self->state;
  std::vector<store_api> out;
  for (auto& node : st.ring.replicas(user, st.rf)) {
    auto i = st.stores.find(node);
    if (i != st.stores.end())
      out.push_back(i->second);
  }
  if (out.empty())
    out.push_back(st.local);
  return out;
}

/// Asks every store in `to` the same question; `done` gets the replies that
/// came (owner's first when it answered), in the order of `to`.
template <class T, class... Ts>
void scatter(replicator_ptr self, const std::vector<store_api>& to,
             std::function<void(std::vector<T>&)> done, Ts... xs) {
  struct gather {
    std::vector<std::optional<T>> replies;
    size_t pending = 0;
  };
  auto g = std::make_shared<gather>();
  g->replies.resize(to.size());
  g->pending = to.size();
  auto finish = [g, done] {
    std::vector<T> ok;
    for (auto& r : g->replies)
      if (r)
        ok.push_back(std::move(*r));
    done(ok);
  };
  for (size_t i = 0; i < to.size(); ++i)
    self->request(to[i], self->state.timeout, xs...)
      .then(
        [=](T& x) {
          g->replies[i] = std::move(x);
          if (--g->pending == 0)
            finish();
        },
        [=](caf::error&) {
          if (--g->pending == 0)
            finish();
        });
}

template <class... Ts>
void write_all(replicator_ptr self, const std::string& user, Ts... xs) {
  for (auto& h : replicas(self, user))
    self->send(h, xs...);
}

replicator_api::behavior_type
replicator_impl(replicator_ptr self, cluster_config cfg, milliseconds timeout,
                store_api local, membership_api membership) {
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
      st.stores.clear();
      for (auto& m : v.members) {
        st.stores.emplace(m.node_id, m.node_id == v.self
                                       ? st.local
                                       : m.store);
      }
      st.rf = effective_replication(st.cfg.replication, v.members.size());
    },
    // -- reads: every replica, merged -------------------------------------------
    [=](load_atom, const std::string& user) -> caf::result<user_record> {
      auto to = replicas(self, user);
      if (to.size() == 1)
        return self->delegate(to.front(), load_atom::value, user);
      auto rp = self->make_response_promise<user_record>();
      scatter<user_record>(
        self, to,
        [=](std::vector<user_record>& rs) mutable {
          if (rs.empty()) {
            rp.deliver(make_error(errc::invalid_argument));
            return;
          }
          auto m = merge_records(user, rs);
          // Read repair: replicas behind the merged record catch up.
          for (auto& h : to)
            self->send(h, merge_atom::value, m);
          rp.deliver(std::move(m));
        },
        load_atom::value, user);
      return rp;
    },
    [=](load_atom, const std::vector<std::string>& users)
      -> caf::result<std::vector<user_record>> {
      auto& st = self->state;
      if (st.stores.size() <= 1)
        return self->delegate(st.local, load_atom::value, users);
      // One request per store with the ids it replicates.
      std::map<caf::actor_addr, std::pair<store_api, std::vector<std::string>>>
        per_store;
      for (auto& u : users)
        for (auto& h : replicas(self, u)) {
          auto& e = per_store[h.address()];
          e.first = h;
          e.second.push_back(u);
        }
      auto rp = self->make_response_promise<std::vector<user_record>>();
      auto replies
        = std::make_shared<std::vector<std::vector<user_record>>>();
      auto pending = std::make_shared<size_t>(per_store.size());
      auto finish = [=]() mutable {
        rp.deliver(merge_batch_records(users, std::move(*replies)));
      };
      for (auto& kvp : per_store)
        self->request(kvp.second.first, st.timeout, load_atom::value,
                      kvp.second.second)
          .then(
            [=](std::vector<user_record>& rs) mutable {
              replies->push_back(std::move(rs));
              if (--*pending == 0)
                finish();
            },
            [=](caf::error&) mutable {
              if (--*pending == 0)
                finish();
            });
      return rp;
    },
    [=](history_atom, const std::string& user,
        uint32_t limit) -> caf::result<std::vector<session_record>> {
      auto to = replicas(self, user);
      if (to.size() == 1)
        return self->delegate(to.front(), history_atom::value, user, limit);
      auto rp = self->make_response_promise<std::vector<session_record>>();
      scatter<std::vector<session_record>>(
        self, to,
        [=](std::vector<std::vector<session_record>>& all) mutable {
          rp.deliver(merge_history(all, limit));
        },
        history_atom::value, user, limit);
      return rp;
    },
    [=](get_atom, profile_atom,
        const std::string& user) -> caf::result<profile> {
      auto to = replicas(self, user);
      if (to.size() == 1)
        return self->delegate(to.front(), get_atom::value,
                              profile_atom::value, user);
      auto rp = self->make_response_promise<profile>();
      scatter<profile>(
        self, to,
        [=](std::vector<profile>& ps) mutable {
          rp.deliver(first_known(std::move(ps)));
        },
        get_atom::value, profile_atom::value, user);
      return rp;
    },
    [=](get_atom, profile_atom, const std::vector<std::string>& users)
      -> caf::result<std::vector<profile>> {
      auto& st = self->state;
      if (st.stores.size() <= 1)
        return self->delegate(st.local, get_atom::value, profile_atom::value,
                              users);
      // Each id from its owner's store (replicas only if that fails).
      std::map<caf::actor_addr, std::pair<store_api, std::vector<size_t>>>
        per_store;
      for (size_t i = 0; i < users.size(); ++i) {
        auto h = replicas(self, users[i]).front();
        auto& e = per_store[h.address()];
        e.first = h;
        e.second.push_back(i);
      }
      auto rp = self->make_response_promise<std::vector<profile>>();
      auto out = std::make_shared<std::vector<profile>>(users.size());
      auto pending = std::make_shared<size_t>(per_store.size());
      for (auto& kvp : per_store) {
        auto slots = kvp.second.second;
        std::vector<std::string> ids;
        for (auto i : slots)
          ids.push_back(users[i]);
        self->request(kvp.second.first, st.timeout, get_atom::value,
                      profile_atom::value, ids)
          .then(
            [=](std::vector<profile>& ps) mutable {
              for (size_t k = 0; k < ps.size() && k < slots.size(); ++k)
                (*out)[slots[k]] = std::move(ps[k]);
              if (--*pending == 0)
                rp.deliver(std::move(*out));
            },
            [=](caf::error&) mutable {
              if (--*pending == 0)
                rp.deliver(std::move(*out));
            });
      }
      return rp;
    },
    // -- writes: every replica ------------------------------------------------------
    [=](open_atom, const std::string& user, millis start, uint64_t version) {
      write_all(self, user, open_atom::value, user, start, version);
    },
    [=](checkpoint_atom, const std::string& user, millis start,
        millis last_active, uint64_t version, presence_status status) {
      write_all(self, user, checkpoint_atom::value, user, start, last_active,
                version, status);
    },
    [=](close_atom, const std::string& user, millis start, millis end,
        uint64_t version) {
      write_all(self, user, close_atom::value, user, start, end, version);
    },
    [=](drop_atom, const std::string& user) {
      write_all(self, user, drop_atom::value, user);
    },
    [=](merge_atom, const user_record& r) {
      write_all(self, r.user_id, merge_atom::value, r);
    },
    [=](last_seen_atom, const std::string& user,
        millis when) -> caf::result<user_record> {
      auto to = replicas(self, user);
      if (to.size() == 1)
        return self->delegate(to.front(), last_seen_atom::value, user, when);
      auto rp = self->make_response_promise<user_record>();
      scatter<user_record>(
        self, to,
        [=](std::vector<user_record>& rs) mutable {
          if (rs.empty())
            rp.deliver(make_error(errc::invalid_argument));
          else
            rp.deliver(merge_records(user, rs));
        },
        last_seen_atom::value, user, when);
      return rp;
    },
    [=](put_atom, profile_atom, const std::string& user, profile& p,
        uint8_t mask) -> caf::result<profile> {
      auto to = replicas(self, user);
      if (to.size() == 1)
        return self->delegate(to.front(), put_atom::value,
                              profile_atom::value, user, std::move(p), mask);
      auto rp = self->make_response_promise<profile>();
      scatter<profile>(
        self, to,
        [=](std::vector<profile>& ps) mutable {
          if (ps.empty())
            rp.deliver(make_error(errc::invalid_argument));
          else
            rp.deliver(std::move(ps.front()));
        },
        put_atom::value, profile_atom::value, user, p, mask);
      return rp;
    },
    // -- this node's own store --------------------------------------------------
    [=](flush_atom) -> caf::result<bool> {
      return self->delegate(self->state.local, flush_atom::value);
    },
    [=](orphan_atom) -> caf::result<std::vector<user_record>> {
      return self->delegate(self->state.local, orphan_atom::value);
    },
  };
}

} // namespace

store_api spawn_replicator(caf::actor_system& sys, const cluster_config& cfg,
                           milliseconds request_timeout, store_api local,
                           membership_api membership) {
  return sys.spawn(replicator_impl, cfg, request_timeout, std::move(local),
                   std::move(membership));
}

} // namespace presence::cluster
