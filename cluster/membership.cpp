#include "cluster/membership.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/io/middleman_actor.hpp>
#include <caf/openssl/manager.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "cluster/cluster_log.hpp"
#include "cluster/scatter_gather.hpp"
#include "core/clock.hpp"

namespace presence::cluster {

namespace {

/// How often dead members and unanswered seeds are tried again.
constexpr auto retry_interval = std::chrono::milliseconds(1000);

/// How often dial_indirect tries a member it reaches only through another
/// node (ms).
constexpr millis indirect_redial = 5'000;

/// Copies of each user's data when cluster.replication is 0 (and there
/// are that many members).
constexpr uint32_t default_replication = 2;

/// The membership actor's full interface: its timers are private.
using membership_impl_api = membership_api::extend<
  // heartbeat tick: heartbeats out, silent members declared dead
  caf::reacts_to<tick_atom>,
  // retry tick: dial seeds and dead members again
  caf::reacts_to<rejoin_atom>>;

struct member_entry {
  member_info info;
  bool alive = false;
  millis last_heard = 0;
  member_stats stats;
  /// When dial_indirect may dial it next (it tries at most every
  /// indirect_redial while the member stays reachable only indirectly).
  millis next_direct_dial = 0;
  /// From when its next heartbeat's sender is monitored once more (0:
  /// done; see the heartbeat handler).
  millis monitor_again_at = 0;
};

struct membership_state {
  cluster_config cfg;
  member_info self;
  uint32_t replication = 1;
  std::shared_ptr<node_stats> stats;
  wall_clock now;
  std::map<std::string, member_entry> members; // by node id, without self
  std::set<view_listener> subscribers;
  uint64_t version = 0;
  /// Endpoints being connected to right now (no duplicate attempts).
  std::set<std::string> connecting;
  /// Endpoints whose handshake failed, told once at warn level.
  std::set<std::string> handshake_failed;
  /// This node is leaving: no more heartbeats or views with itself.
  bool leaving = false;
  /// When the last heartbeat tick ran (ms; 0: none yet).
  millis last_tick = 0;
  static inline const char* name = "presence.membership";
};

using membership_ptr = membership_impl_api::stateful_pointer<membership_state>;

/// The alive set as subscribers and `hello` answers see it (self first
/// unless leaving), sorted by node id.
cluster_view make_view(const membership_state& st) {
  cluster_view v;
  v.version = st.version;
  v.self = st.self.node_id;
  if (!st.leaving)
    v.members.push_back(st.self);
  for (auto& kvp : st.members)
    if (kvp.second.alive)
      v.members.push_back(kvp.second.info);
  std::sort(v.members.begin(), v.members.end(),
            [](const member_info& a, const member_info& b) {
              return a.node_id < b.node_id;
            });
  return v;
}

/// A new view version, pushed to every local subscriber (registry, router,
/// replicator).
void publish_view(membership_ptr self) {
  auto& st = self->state;
  ++st.version;
  auto v = make_view(st);
  for (auto& s : st.subscribers)
    self->send(s, view_atom::value, v);
}

void say_hello(membership_ptr self, const membership_api& to);
void connect(membership_ptr self, const std::string& endpoint);
void dial_indirect(membership_ptr self);

/// Adds or refreshes a member; returns true if the alive set changed.
bool learn(membership_ptr self, const member_info& info) {
  auto& st = self->state;
  if (info.node_id.empty() || info.node_id == st.self.node_id
      || !info.membership)
    return false;
  auto i = st.members.find(info.node_id);
  if (i != st.members.end()) {
    auto& e = i->second;
    if (info.incarnation < e.info.incarnation)
      return false; // gossip about an older life of that node
    bool same = e.info.membership == info.membership;
    if (same && e.alive) {
      // The same life announcing its bound ports (they may come after its
      // hello): keep the latest. Nothing about the alive set changed.
      e.info.endpoint = info.endpoint;
      e.info.http_port = info.http_port;
      return false;
    }
    if (same) {
      // The same incarnation is back (a healed partition). The handles we
      // held died with the connection (CAF killed their proxies): take the
      // fresh ones this message brought.
      cluster_log().info("member {} is back", info.node_id);
      e.info = info;
      e.alive = true;
      e.last_heard = st.now();
      self->monitor(info.membership);
      e.monitor_again_at = e.last_heard + st.cfg.failure_timeout.count();
      // Heard of through a third member, it may still count this node
      // dead (after this node stood still, say) and send it no heartbeats
      // until its own retry tick dials here: the tick would declare it
      // silent again meanwhile. A hello tells it now.
      say_hello(self, info.membership);
      // Learned back through another node, it may be reached through it
      // alone: dial it now if so (the retry tick checks again each second,
      // but a kill of the third node within that second cut both off).
      // An earlier dial's back-off does not count: that connection is gone.
      e.next_direct_dial = 0;
      dial_indirect(self);
      return true;
    }
    // A restart: take the new life.
    self->demonitor(e.info.membership.address());
  }
  cluster_log().info("member {} joined ({})", info.node_id, info.endpoint);
  auto& e = st.members[info.node_id];
  e.info = info;
  e.alive = true;
  e.last_heard = st.now();
  self->monitor(info.membership);
  e.monitor_again_at = e.last_heard + st.cfg.failure_timeout.count();
  // A direct connection to every member: a route through a third node
  // would make that node's death look like this one's. Only the smaller id
  // dials: if both dial at once, CAF closes both connections as redundant
  // and purges every proxy of the other node.
  if (!info.endpoint.empty() && st.self.node_id < info.node_id)
    connect(self, info.endpoint);
  // Make sure it knows us too (it may have heard of us only by gossip).
  say_hello(self, info.membership);
  // Tell everyone else about it.
  for (auto& kvp : st.members)
    if (kvp.second.alive && kvp.first != info.node_id)
      self->send(kvp.second.info.membership, member_atom::value, info);
  return true;
}

/// learn() for every member of a hello answer; one view for all changes.
void learn_all(membership_ptr self, const std::vector<member_info>& infos) {
  bool changed = false;
  for (auto& m : infos)
    changed = learn(self, m) || changed;
  if (changed)
    publish_view(self);
}

/// Introduces this node to `to` and learns every member it knows. Called
/// by membership's handlers (on its own thread).
void say_hello(membership_ptr self, const membership_api& to) {
  auto& st = self->state;
  self->request(to, st.cfg.failure_timeout, hello_atom::value, st.self)
    .then([=](std::vector<member_info>& infos) { learn_all(self, infos); },
          [=](caf::error& err) {
            // Nothing to redo here: a member that never heard our hello
            // sends us no heartbeats, so the tick declares it dead and the
            // retry tick dials it (and says hello) again; one declared dead
            // that is still heartbeating gets a hello with every heartbeat.
            cluster_log().debug("hello unanswered: {}",
                                self->system().render(err));
          });
}

/// The middleman that dials members: with cluster TLS, CAF's OpenSSL
/// middleman (it checks the peer's certificate against the cluster's CA).
caf::io::middleman_actor middleman_of(membership_ptr self) {
  return self->state.cfg.tls_enabled()
           ? self->system().openssl_manager().actor_handle()
           : self->system().middleman().actor_handle();
}

/// Dials the alive members this node should dial (the smaller id) that it
/// reaches only through a third node. A member learned back by gossip (a
/// thaw, a healed partition) is not dialled there, and the two nodes then
/// talked through the third: when it died they lost each other too, and
/// declared each other dead a failure timeout later (the chaos test: a
/// kill -9 after a freeze took survivors 1.2-1.8 s to agree, against
/// 0.25 s, and moved users back and forth). Asks the middleman whether the
/// connection is direct first: a second connection next to a direct one
/// would be redundant.
void dial_indirect(membership_ptr self) {
  auto& st = self->state;
  if (st.leaving)
    return;
  auto now = st.now();
  for (auto& kvp : st.members) {
    auto& e = kvp.second;
    if (!e.alive || e.info.endpoint.empty() || !(st.self.node_id < kvp.first)
        || !e.info.membership || st.connecting.count(e.info.endpoint) > 0
        || now < e.next_direct_dial)
      continue;
    auto id = kvp.first;
    auto endpoint = e.info.endpoint;
    self
      ->request(middleman_of(self), st.cfg.failure_timeout,
                caf::get_atom::value, e.info.membership.node())
      .then(
        [=](const caf::node_id&, const std::string&, uint16_t port) {
          auto i = self->state.members.find(id);
          if (port != 0 || i == self->state.members.end() || !i->second.alive)
            return;
          // A member it cannot dial (reachable one way only) is tried again
          // later, not every second.
          i->second.next_direct_dial = self->state.now() + indirect_redial;
          cluster_log().info(
            "member {} is reached through another node: "
            "dialling it",
            id);
          connect(self, endpoint);
        },
        [](caf::error&) {});
  }
}

/// Connects to host:port through the middleman (no thread blocks) and says
/// hello to the membership actor published there.
void connect(membership_ptr self, const std::string& endpoint) {
  auto& st = self->state;
  if (st.connecting.count(endpoint) > 0)
    return;
  auto colon = endpoint.rfind(':');
  if (colon == std::string::npos)
    return;
  auto host = endpoint.substr(0, colon);
  auto port = static_cast<uint16_t>(std::atoi(endpoint.c_str() + colon + 1));
  st.connecting.insert(endpoint);
  auto mm = middleman_of(self);
  self
    ->request(mm, st.cfg.failure_timeout, caf::connect_atom::value, host, port)
    .then(
      [=](const caf::node_id&, caf::strong_actor_ptr& ptr,
          const std::set<std::string>&) {
        self->state.connecting.erase(endpoint);
        self->state.handshake_failed.erase(endpoint);
        auto remote = caf::actor_cast<membership_api>(std::move(ptr));
        if (remote)
          say_hello(self, remote);
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.connecting.erase(endpoint);
        // Seeds nobody answered yet and dead members are dialled again by
        // the retry tick: expected while a node is down, so only debug. A
        // member that is alive (through another node) is not: it keeps no
        // direct connection until it is declared dead.
        for (auto& kvp : st.members)
          if (kvp.second.alive && kvp.second.info.endpoint == endpoint) {
            cluster_log().warn("cannot dial member {} at {}: {}", kvp.first,
                               endpoint, self->system().render(err));
            return;
          }
        if (err == caf::sec::disconnect_during_handshake
            && st.handshake_failed.insert(endpoint).second) {
          // Reached, but refused: a configuration error, not a node that
          // is down (the peer logs nothing).
          cluster_log().warn(
            "cannot dial {}: the peer ended the handshake (with cluster "
            "TLS: a certificate its CA did not sign, or TLS on one side "
            "only)",
            endpoint);
          return;
        }
        cluster_log().debug("cannot dial {}: {}", endpoint,
                            self->system().render(err));
      });
}

/// A member is gone (down message or farewell): a view without it.
void mark_dead(membership_ptr self, member_entry& e) {
  if (!e.alive)
    return;
  cluster_log().warn("member {} is gone", e.info.node_id);
  e.alive = false;
  publish_view(self);
}

membership_impl_api::behavior_type
membership_impl(membership_ptr self, cluster_config cfg, member_info me,
                uint32_t replication, std::shared_ptr<node_stats> stats,
                wall_clock now) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.self = std::move(me);
  st.self.membership = membership_api{self};
  st.replication = replication;
  st.stats = std::move(stats);
  st.now = std::move(now);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    for (auto& kvp : st.members)
      if (kvp.second.info.membership.address() == dm.source) {
        mark_dead(self, kvp.second);
        return;
      }
    st.subscribers.erase(caf::actor_cast<view_listener>(dm.source));
  });
  for (auto& seed : st.cfg.seeds)
    connect(self, seed);
  self->send(self, tick_atom::value);
  self->delayed_send(self, retry_interval, rejoin_atom::value);
  return {
    [=](hello_atom, member_info& info) {
      auto& st = self->state;
      if (learn(self, info))
        publish_view(self);
      auto v = make_view(st);
      return v.members;
    },
    [=](member_atom, member_info& info) {
      if (learn(self, info))
        publish_view(self);
    },
    [=](heartbeat_atom, const std::string& node_id, millis incarnation,
        const member_stats& stats) {
      auto& st = self->state;
      auto i = st.members.find(node_id);
      if (i == st.members.end() || i->second.info.incarnation != incarnation)
        return;
      auto& e = i->second;
      e.last_heard = st.now();
      e.stats = stats;
      // The monitor set up when the member joined or came back can be lost
      // if the connection flapped then (seen in the chaos test: a member
      // gone and back within 20 ms, whose kill 3 s later this node noticed
      // only by silence, a failure timeout late). A failure timeout after
      // it came back, its heartbeat's sender (a handle from the connection
      // in use now) is monitored once more; a second down message finds
      // the member dead already.
      if (e.alive && e.monitor_again_at != 0
          && e.last_heard >= e.monitor_again_at) {
        e.monitor_again_at = 0;
        if (auto from = caf::actor_cast<membership_api>(self->current_sender()))
          self->monitor(from);
      }
      if (!e.alive) {
        // Heard again after being declared dead (a partition healed): our
        // handles to it are dead proxies, so ask it for fresh ones.
        if (auto from = caf::actor_cast<membership_api>(self->current_sender()))
          say_hello(self, from);
      }
    },
    [=](tick_atom) {
      auto& st = self->state;
      auto t = st.now();
      // Members are judged silent as of when this tick was due, not when it
      // ran. A tick that ran late (this node starved or paused) has behind
      // it in the mailbox the heartbeats that came meanwhile: judged now,
      // every member would look silent, and this node declared them all
      // dead for its own stall (a 6-node mass close with a 500 ms failure
      // timeout: each late tick dropped the whole cluster from the view and
      // moved every user, over and over; docs/benchmarks.md).
      auto interval = st.cfg.heartbeat_interval.count();
      auto due = st.last_tick > 0 ? std::min(t, st.last_tick + interval) : t;
      st.last_tick = t;
      // A tick a failure timeout late: this node stood still (the others
      // declared it dead and took its users over meanwhile). Noted before
      // anyone is declared silent below: the registry reads it when the
      // view loses members (actors/shard_registry.cpp). Ticks go on while
      // leaving (a tick that stopped would read as a stall in progress).
      if (st.stats) {
        auto prev = st.stats->tick_at.exchange(t);
        auto late = t - prev - interval;
        if (prev > 0)
          st.stats->tick_delay.observe(
            static_cast<uint64_t>(std::max<millis>(late, 0)) * 1000);
        if (prev > 0 && late >= st.cfg.failure_timeout.count()) {
          st.stats->stall_len = t - prev;
          st.stats->stall_end = t;
          cluster_log().warn(
            "this node stood still for {} ms (paused or "
            "starved): the others have taken its users over",
            t - prev);
        }
      }
      if (st.leaving) {
        self->delayed_send(self, st.cfg.heartbeat_interval, tick_atom::value);
        return;
      }
      member_stats mine;
      if (st.stats) {
        mine.users_owned = st.stats->users_owned;
        mine.connections = st.stats->connections;
      }
      bool changed = false;
      for (auto& kvp : st.members) {
        auto& e = kvp.second;
        if (!e.alive)
          continue;
        if (due - e.last_heard > st.cfg.failure_timeout.count()) {
          // Alive as far as TCP knows, but silent: hung or cut off.
          cluster_log().warn("member {} is silent: declared dead",
                             e.info.node_id);
          e.alive = false;
          changed = true;
          continue;
        }
        self->send(e.info.membership, heartbeat_atom::value, st.self.node_id,
                   st.self.incarnation, mine);
      }
      if (changed)
        publish_view(self);
      self->delayed_send(self, st.cfg.heartbeat_interval, tick_atom::value);
    },
    [=](rejoin_atom) {
      auto& st = self->state;
      // Seeds until someone answered; dead members until they are back.
      if (st.members.empty())
        for (auto& seed : st.cfg.seeds)
          connect(self, seed);
      for (auto& kvp : st.members)
        if (!kvp.second.alive && !kvp.second.info.endpoint.empty())
          connect(self, kvp.second.info.endpoint);
      dial_indirect(self);
      self->delayed_send(self, retry_interval, rejoin_atom::value);
    },
    [=](put_atom, const std::string& endpoint) {
      // The cluster port is bound (port 0 became a real one).
      auto& st = self->state;
      st.self.endpoint = endpoint;
      if (st.cfg.node_id.empty() && st.self.node_id != endpoint) {
        // The default id is the listen address: now the real one.
        st.self.node_id = endpoint;
        publish_view(self);
      }
    },
    [=](put_atom, uint16_t http_port) {
      // The edge is up: tell everyone where it serves HTTP.
      auto& st = self->state;
      st.self.http_port = http_port;
      for (auto& kvp : st.members)
        if (kvp.second.alive)
          self->send(kvp.second.info.membership, member_atom::value, st.self);
    },
    [=](leave_atom) {
      // This node leaves: locally, a view without it (the registry hands its
      // users over to their next owners).
      auto& st = self->state;
      st.leaving = true;
      publish_view(self);
      return true;
    },
    [=](leave_atom, bool) -> caf::result<bool> {
      // ...then a farewell to every member. Each answer also proves that
      // everything sent to that member before (the handovers) arrived.
      auto& st = self->state;
      std::vector<membership_api> to;
      for (auto& kvp : st.members)
        if (kvp.second.alive)
          to.push_back(kvp.second.info.membership);
      auto rp = self->make_response_promise<bool>();
      // A member that does not answer learns that we left from its monitor
      // or its heartbeat timeout, as if we had died: nothing to retry.
      scatter_gather<bool>(self, to, st.cfg.failure_timeout,
                           gather_policy::use_answered,
                           same_message(leave_atom::value, st.self.node_id),
                           [=](gathered<bool>&) mutable { rp.deliver(true); });
      return rp;
    },
    [=](leave_atom, const std::string& node_id) {
      auto& st = self->state;
      auto i = st.members.find(node_id);
      if (i != st.members.end())
        mark_dead(self, i->second);
      return true;
    },
    [=](subscribe_atom, const view_listener& who) {
      auto& st = self->state;
      if (!who)
        return;
      st.subscribers.insert(who);
      self->monitor(who);
      self->send(who, view_atom::value, make_view(st));
    },
    [=](get_atom, cluster_atom) {
      auto& st = self->state;
      cluster_status out;
      out.self = st.self.node_id;
      out.ring_version = st.version;
      member_status me;
      me.node_id = st.self.node_id;
      me.endpoint = st.self.endpoint;
      me.http_port = st.self.http_port;
      me.state = "self";
      if (st.stats) {
        me.stats.users_owned = st.stats->users_owned;
        me.stats.connections = st.stats->connections;
      }
      me.last_heard = st.now();
      out.members.push_back(me);
      size_t alive = 1;
      for (auto& kvp : st.members) {
        auto& e = kvp.second;
        member_status m;
        m.node_id = e.info.node_id;
        m.endpoint = e.info.endpoint;
        m.http_port = e.info.http_port;
        m.state = e.alive ? "alive" : "dead";
        m.stats = e.stats;
        m.last_heard = e.last_heard;
        out.members.push_back(m);
        alive += e.alive ? 1 : 0;
      }
      std::sort(out.members.begin(), out.members.end(),
                [](const member_status& a, const member_status& b) {
                  return a.node_id < b.node_id;
                });
      out.replication = effective_replication(st.replication, alive);
      return out;
    },
  };
}

} // namespace

uint32_t effective_replication(uint32_t configured, size_t members) {
  uint32_t rf = configured == 0 ? default_replication : configured;
  return static_cast<uint32_t>(
    std::max<size_t>(1, std::min<size_t>(rf, members)));
}

membership_api spawn_membership(caf::actor_system& sys,
                                const cluster_config& cfg, member_info self,
                                uint32_t replication,
                                std::shared_ptr<node_stats> stats,
                                wall_clock now) {
  return sys.spawn(membership_impl, cfg, std::move(self), replication,
                   std::move(stats), std::move(now));
}

} // namespace presence::cluster
