#include "cluster/router.hpp"

#include <map>
#include <tuple>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "cluster/cluster_log.hpp"
#include "cluster/merge.hpp"
#include "cluster/scatter_gather.hpp"
#include "core/hash_ring.hpp"

namespace presence::cluster {

namespace {

/// The router's full interface: the views it follows are private.
using router_api
  = presence_api::extend<caf::reacts_to<view_atom, cluster_view>>;

struct router_state {
  cluster_config cfg;
  /// For each request to a registry (actors.request_timeout, set at spawn).
  milliseconds timeout{};
  /// This node's registry.
  presence_api local;
  std::string self;
  hash_ring ring;
  /// Registries of the other alive members, by node id (this node's is
  /// `local`).
  std::map<std::string, presence_api> registries;
  /// Its scatter-gathers still waiting: a view that drops a node fails
  /// their requests to it at once.
  gather_watch watch;
  static inline const char* name = "presence.router";
};

using router_ptr = router_api::stateful_pointer<router_state>;

/// The registry of `user`'s owner (`local` when that is this node, or
/// when the ring names a node the router has no handle for).
const presence_api& owner(router_ptr self, const std::string& user) {
  auto& st = self->state;
  auto node = st.ring.owner(user);
  auto i = st.registries.find(node);
  if (node.empty() || node == st.self || i == st.registries.end())
    return st.local;
  return i->second;
}

/// Every alive member's registry, this node's first (cluster-wide
/// questions go to all of them).
std::vector<presence_api> members(router_ptr self) {
  auto& st = self->state;
  std::vector<presence_api> out{st.local};
  for (auto& kvp : st.registries)
    out.push_back(kvp.second);
  return out;
}

/// Routes a join to the user's owner. A join sent to another node waits
/// for its answer here, watched: when the view drops that node while the
/// join is on its way (a member killed, hung or cut off: CAF 0.17 loses a
/// request with its connection and fails it only at its timeout), it goes
/// to the user's owner in the new view instead, at most twice. Before, the
/// client waited the whole request timeout (5 s) and got an error; its
/// WebSocket upgrade waited with it.
///
/// All attempts share one deadline, a tenth of the timeout before the
/// edge's own request (asked with the same timeout, a moment earlier)
/// gives up: an answer the edge no longer waits for would leave a device
/// joined that its client was told failed. A re-routed join may also run
/// twice (a hung owner still holds its copy and runs it when it thaws);
/// that copy belongs to a stale actor or a session that is gone by then,
/// and the stale-actor and hand-over rules settle it as after any thaw.
void route_join(router_ptr self, join_request req,
                caf::typed_response_promise<join_ack> rp,
                caf::actor_clock::time_point deadline, int reroutes) {
  auto& st = self->state;
  auto to = owner(self, req.user_id);
  if (to == st.local) {
    rp.delegate(to, join_atom::value, std::move(req));
    return;
  }
  auto left = std::chrono::duration_cast<milliseconds>(deadline
                                                       - self->clock().now());
  if (left.count() <= 0) {
    rp.deliver(caf::make_error(caf::sec::request_timeout));
    return;
  }
  auto node = to.node();
  scatter_gather<join_ack>(
    self, std::vector<presence_api>{to}, left, gather_policy::fail_fast,
    same_message(join_atom::value, req),
    [=](gathered<join_ack>& g) mutable {
      if (!g.error) {
        rp.deliver(std::move(*g.replies[0]));
        return;
      }
      // Dropped from the view (the watch fails it so): the ring has
      // changed already; a timeout or the owner's own error goes back.
      if (g.error == caf::sec::request_receiver_down && reroutes < 2
          && owner(self, req.user_id).node() != node) {
        cluster_log().debug(
          "a join for {} went to a node that is gone: "
          "sent to its new owner",
          req.user_id);
        route_join(self, std::move(req), std::move(rp), deadline, reroutes + 1);
        return;
      }
      rp.deliver(std::move(g.error));
    },
    &st.watch);
}

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
      st.watch.keep_only(alive_nodes(v, self->node()));
    },
    [=](get_atom, const std::string& user) -> caf::result<user_status> {
      auto& to = owner(self, user);
      if (to == self->state.local)
        return self->delegate(to, get_atom::value, user);
      // Watched: a read of a node that just died fails when the view drops
      // it, not at the timeout.
      auto rp = self->make_response_promise<user_status>();
      ask_watched<user_status>(self, to, self->state.timeout,
                               &self->state.watch, rp, get_atom::value, user);
      return rp;
    },
    [=](get_atom, const std::vector<std::string>& users)
      -> caf::result<std::vector<user_status>> {
      auto& st = self->state;
      // One request per owner; the answer in the order asked.
      auto batches = group_by<presence_api>(users, [=](const std::string& u) {
        return owner(self, u);
      });
      if (batches.size() <= 1)
        return self->delegate(batches.empty() ? st.local : batches.front().key,
                              get_atom::value, users);
      auto rp = self->make_response_promise<std::vector<user_status>>();
      auto n = users.size();
      scatter_gather<std::vector<user_status>>(
        self, keys_of(batches), st.timeout, gather_policy::fail_fast,
        [&](size_t i) {
          return std::make_tuple(get_atom::value, batches[i].ids);
        },
        [=](gathered<std::vector<user_status>>& g) mutable {
          if (g.error)
            rp.deliver(g.error);
          else
            rp.deliver(ungroup(batches, g.replies, n));
        },
        &self->state.watch);
      return rp;
    },
    [=](list_atom, const std::string& cursor, uint32_t limit,
        const viewer& who) -> caf::result<online_page> {
      auto& st = self->state;
      if (st.registries.empty())
        return self->delegate(st.local, list_atom::value, cursor, limit, who);
      auto rp = self->make_response_promise<online_page>();
      scatter_gather<online_page>(
        self, members(self), st.timeout, gather_policy::fail_fast,
        same_message(list_atom::value, cursor, limit, who),
        [=](gathered<online_page>& g) mutable {
          if (g.error)
            rp.deliver(g.error);
          else
            rp.deliver(merge_pages(answered(g), limit));
        },
        &self->state.watch);
      return rp;
    },
    [=](count_atom, const viewer& who) -> caf::result<uint64_t> {
      auto& st = self->state;
      if (st.registries.empty())
        return self->delegate(st.local, count_atom::value, who);
      auto rp = self->make_response_promise<uint64_t>();
      scatter_gather<uint64_t>(
        self, members(self), st.timeout, gather_policy::fail_fast,
        same_message(count_atom::value, who),
        [=](gathered<uint64_t>& g) mutable {
          if (g.error) {
            rp.deliver(g.error);
            return;
          }
          uint64_t sum = 0;
          for (auto n : answered(g))
            sum += n;
          rp.deliver(sum);
        },
        &self->state.watch);
      return rp;
    },
    [=](subscribe_atom, const delta_listener& l,
        std::vector<std::string>& users, bool global) -> caf::result<bool> {
      return self->delegate(self->state.local, subscribe_atom::value, l,
                            std::move(users), global);
    },
    [=](changes_atom, const delta_listener& l, uint64_t since,
        uint32_t limit) -> caf::result<change_page> {
      return self->delegate(self->state.local, changes_atom::value, l, since,
                            limit);
    },
    [=](unsubscribe_atom, const delta_listener& l,
        std::vector<std::string>& users, bool global) -> caf::result<bool> {
      return self->delegate(self->state.local, unsubscribe_atom::value, l,
                            std::move(users), global);
    },
    [=](join_atom, join_request& req) -> caf::result<join_ack> {
      auto& h = owner(self, req.user_id);
      if (h == self->state.local)
        return self->delegate(h, join_atom::value, std::move(req));
      auto rp = self->make_response_promise<join_ack>();
      auto& st = self->state;
      route_join(self, std::move(req), rp,
                 self->clock().now() + st.timeout - st.timeout / 10, 0);
      return rp;
    },
    [=](touch_atom, const std::string& user) -> caf::result<user_status> {
      return self->delegate(owner(self, user), touch_atom::value, user);
    },
    [=](touch_atom, const std::string& user, const std::string& device,
        const caf::actor_addr& session) -> caf::result<user_status> {
      return self->delegate(owner(self, user), touch_atom::value, user, device,
                            session);
    },
    [=](contacts_atom, const std::string& user, const contact_settings& s) {
      self->send(owner(self, user), contacts_atom::value, user, s);
    },
    [=](shutdown_atom) -> caf::result<uint64_t> {
      return self->delegate(self->state.local, shutdown_atom::value);
    },
    [=](message_atom, const std::string& user, chat_message& m,
        std::string& except) -> caf::result<uint32_t> {
      return self->delegate(owner(self, user), message_atom::value, user,
                            std::move(m), std::move(except));
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
