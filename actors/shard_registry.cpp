#include "actors/shard_registry.hpp"

#include <map>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/presence_logic.hpp"

namespace presence::actors {

namespace {

struct registry_state {
  std::shared_ptr<const user_env> env;
  caf::actor fanout;
  std::unordered_map<std::string, user_api> users;
  std::unordered_map<caf::actor_addr, std::string> names;
  /// Users visible online, ordered by id for paging.
  std::map<std::string, presence_delta> online;
  bool shutting_down = false;
  static inline const char* name = "presence.registry";
};

using registry_ptr = registry_api::stateful_pointer<registry_state>;

user_status offline_status(const user_record& r) {
  user_status s;
  s.user_id = r.user_id;
  s.last_seen = r.last_seen;
  s.version = r.version;
  return s;
}

void apply_delta(registry_ptr self, presence_delta d) {
  auto& st = self->state;
  if (d.online)
    st.online[d.user_id] = d;
  else
    st.online.erase(d.user_id);
  caf::anon_send(st.fanout, delta_atom::value, std::move(d));
}

registry_api::behavior_type registry_impl(registry_ptr self, user_env env,
                                          caf::actor fanout) {
  env.registry = caf::actor_cast<registry_sink>(self);
  self->state.env = std::make_shared<const user_env>(std::move(env));
  self->state.fanout = std::move(fanout);
  // A user actor that ends without being stopped (it failed) must not stay
  // online in the index.
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    auto n = st.names.find(dm.source);
    if (n == st.names.end())
      return;
    auto uid = n->second;
    st.names.erase(n);
    auto u = st.users.find(uid);
    if (u != st.users.end() && u->second.address() == dm.source)
      st.users.erase(u);
    auto o = st.online.find(uid);
    if (o != st.online.end() && st.users.count(uid) == 0) {
      auto d = o->second;
      d.online = false;
      d.status = presence_status::offline;
      d.online_since = 0;
      d.version = next_version(d.version, st.env->now());
      apply_delta(self, std::move(d));
    }
  });
  return {
    // -- queries --------------------------------------------------------------
    [=](get_atom, const std::string& uid) -> caf::result<user_status> {
      auto& st = self->state;
      auto rp = self->make_response_promise<user_status>();
      auto u = st.users.find(uid);
      if (u != st.users.end())
        return rp.delegate(u->second, get_atom::value);
      self->request(st.env->store, st.env->cfg.request_timeout,
                    load_atom::value, uid)
        .then([=](const user_record& r) mutable { rp.deliver(offline_status(r)); },
              [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](get_atom, const std::vector<std::string>& uids)
      -> caf::result<std::vector<user_status>> {
      auto& st = self->state;
      std::vector<user_status> out(uids.size());
      std::vector<std::string> missing;
      std::vector<size_t> slots;
      for (size_t i = 0; i < uids.size(); ++i) {
        auto o = st.online.find(uids[i]);
        if (o != st.online.end()) {
          out[i] = status_of(o->second);
        } else {
          missing.push_back(uids[i]);
          slots.push_back(i);
        }
      }
      if (missing.empty())
        return out;
      auto rp = self->make_response_promise<std::vector<user_status>>();
      self->request(st.env->store, st.env->cfg.request_timeout,
                    load_atom::value, std::move(missing))
        .then(
          [=](const std::vector<user_record>& rs) mutable {
            auto result = out;
            for (size_t i = 0; i < rs.size() && i < slots.size(); ++i)
              result[slots[i]] = offline_status(rs[i]);
            rp.deliver(std::move(result));
          },
          [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](list_atom, const std::string& cursor, uint32_t limit) {
      auto& st = self->state;
      online_page page;
      page.total = st.online.size();
      auto i = cursor.empty() ? st.online.begin()
                              : st.online.upper_bound(cursor);
      for (; i != st.online.end() && page.users.size() < limit; ++i)
        page.users.push_back(i->second);
      if (i != st.online.end() && !page.users.empty())
        page.next_cursor = page.users.back().user_id;
      return page;
    },
    [=](count_atom) {
      return static_cast<uint64_t>(self->state.online.size());
    },
    [=](subscribe_atom, const caf::actor& l, std::vector<std::string>& users,
        bool global) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      return rp.delegate(self->state.fanout, subscribe_atom::value, l,
                         std::move(users), global);
    },
    [=](unsubscribe_atom, const caf::actor& l, std::vector<std::string>& users,
        bool global) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      return rp.delegate(self->state.fanout, unsubscribe_atom::value, l,
                         std::move(users), global);
    },
    // -- sessions -------------------------------------------------------------
    [=](join_atom, join_request& req) -> caf::result<join_ack> {
      auto& st = self->state;
      if (st.shutting_down)
        return make_error(errc::shutting_down);
      auto u = st.users.find(req.user_id);
      if (u == st.users.end()) {
        auto actor = spawn_user(self->system(), req.user_id, st.env);
        self->monitor(actor);
        st.names.emplace(actor.address(), req.user_id);
        u = st.users.emplace(req.user_id, std::move(actor)).first;
      }
      return self->delegate(u->second, join_atom::value, std::move(req));
    },
    [=](touch_atom, const std::string& uid) -> caf::result<user_status> {
      auto& st = self->state;
      auto rp = self->make_response_promise<user_status>();
      auto u = st.users.find(uid);
      if (u != st.users.end())
        return rp.delegate(u->second, touch_atom::value);
      self->request(st.env->store, st.env->cfg.request_timeout,
                    last_seen_atom::value, uid, st.env->now())
        .then([=](const user_record& r) mutable { rp.deliver(offline_status(r)); },
              [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [=](shutdown_atom) -> caf::result<uint64_t> {
      auto& st = self->state;
      st.shutting_down = true;
      auto rp = self->make_response_promise<uint64_t>();
      if (st.users.empty()) {
        rp.deliver(uint64_t{0});
        return rp;
      }
      auto pending = std::make_shared<size_t>(st.users.size());
      auto closed = std::make_shared<uint64_t>(0);
      auto done = [=]() mutable {
        if (--*pending == 0)
          rp.deliver(*closed);
      };
      for (auto& kvp : st.users)
        self->request(kvp.second, st.env->cfg.request_timeout,
                      shutdown_atom::value)
          .then([=](bool) mutable { ++*closed; done(); },
                [=](caf::error&) mutable { done(); });
      return rp;
    },
    // -- from user actors -----------------------------------------------------
    [=](delta_atom, presence_delta& d) { apply_delta(self, std::move(d)); },
    [=](idle_atom, const std::string& uid, const user_api& actor) {
      auto& st = self->state;
      auto u = st.users.find(uid);
      if (u == st.users.end() || u->second != actor)
        return;
      // Nothing else is handled until the actor answers: a join for this
      // user must not reach an actor that is about to end.
      self->request(actor, st.env->cfg.request_timeout, stop_atom::value)
        .await(
          [=](bool stopped) {
            if (!stopped)
              return;
            auto& st = self->state;
            st.names.erase(actor.address());
            auto u = st.users.find(uid);
            if (u != st.users.end() && u->second == actor)
              st.users.erase(u);
          },
          [=](caf::error&) {
            // The actor is gone already; the down handler cleans up.
          });
    },
  };
}

} // namespace

registry_api spawn_registry(caf::actor_system& sys, user_env env,
                            caf::actor fanout) {
  return sys.spawn(registry_impl, std::move(env), std::move(fanout));
}

} // namespace presence::actors
