#include "actors/shard_registry.hpp"

#include "actors/change_log.hpp"
#include "actors/ttl_sweep.hpp"
#include "cluster/scatter_gather.hpp"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <spdlog/spdlog.h>

#include "actors/presence_logic.hpp"
#include "core/hash_ring.hpp"
#include "core/logger.hpp"

namespace presence::actors {

namespace {

spdlog::logger& actors_log() {
  static auto l = folder_logger("actors");
  return *l;
}

/// How long a failed orphan scan waits before the next try.
constexpr std::chrono::seconds orphan_scan_retry{5};

/// The registry's full interface: its orphan scan timer is private.
using registry_impl_api
  = registry_api::extend<caf::reacts_to<orphan_atom>,
                         caf::reacts_to<delta_atom, flush_atom>>;

/// A member the view lost (declared dead, cut off) and what this node
/// announced meanwhile: its fan-out did not get those changes, so its
/// subscribers would never hear them (a leave made while a busy member
/// was declared dead for a second, or on the far side of a partition,
/// left it believing the user online for good). Replayed when the same
/// life of the member is back.
struct away_member {
  /// Its life when it was lost: a restart has new subscribers (they list
  /// or resync against a fresh change log), so nothing is replayed there.
  millis incarnation = 0;
  /// When it was lost (ms).
  millis since = 0;
  /// The latest change of each user announced since, bounded as the fan-out's
  /// own change log (--change-log-size, --change-log-ttl).
  change_log missed;
  /// Away longer than --change-log-ttl: nothing more is kept for it.
  bool given_up = false;

  /// Keeps nothing more for it (its log freed): if it comes back, its
  /// subscribers are told nothing of the time (logged then).
  void give_up() {
    given_up = true;
    missed = change_log{1, 1};
  }
};

struct registry_state {
  std::shared_ptr<const user_env> env;
  /// Users whose idle actor was asked to stop and has not answered: what
  /// came for them meanwhile waits here (replayed once the actor answered),
  /// so nothing reaches an actor that is about to end and the registry
  /// never waits (a blocking wait would serialize every mass leave).
  std::unordered_map<std::string, std::vector<std::function<void()>>> stopping;
  fanout_api fanout;
  std::shared_ptr<node_stats> stats;
  cluster_config cluster;
  // The cluster as of the last view (alone: just this node).
  std::string self_node;
  hash_ring ring;
  /// Joins passed on to another node and not answered yet: a view that
  /// drops that node fails them at once.
  cluster::gather_watch watch;
  std::vector<fanout_api> remote_fanouts;
  /// Deltas for the remote fan-outs not sent yet: they leave together, as
  /// one message per member, once the registry has taken in what its
  /// mailbox held when the first of them came (flush_remote). In a storm
  /// that is several per message; alone, one, a mailbox pass later.
  std::vector<presence_delta> remote_out;
  /// Members lost since they were last in the view, by node id.
  std::map<std::string, away_member> away;
  /// The lives of the members of the last view, by node id.
  std::map<std::string, millis> incarnations;
  std::map<std::string, node_registry_api> registries; // other members
  std::set<std::string> members;                       // alive, self included
  std::set<std::string> ever_members;                  // every id ever seen
  std::map<std::string, caf::node_id> member_nodes;    // others: CAF node ids
  bool had_view = false;
  /// When the last member was lost (or the first view came): orphans are
  /// closed only rehome_window after it.
  millis last_loss = 0;
  /// A scan is scheduled because the last one could not finish.
  bool orphan_retry_armed = false;
  /// A scan is scheduled because user actors here ended as stale.
  bool stale_scan_armed = false;
  /// Orphans a scan is closing now (a store read on its way): a scan that
  /// overlaps it leaves them alone.
  std::set<std::string> closing_orphans;
  /// When the first view came (this node's start in the cluster).
  millis first_view_at = 0;
  /// The stall (node_stats::stall::start) whose stale user actors this
  /// registry ended (end_if_stale: once per stall).
  millis stale_handled = 0;
  /// User actors handing over to another node (until they end).
  std::set<caf::actor_addr> moving;
  std::optional<caf::typed_response_promise<uint64_t>> shutdown_rp;
  size_t shutdown_pending = 0;
  uint64_t shutdown_closed = 0;

  /// A node that others may join (its sessions may outlive their owner).
  bool cluster_mode() const {
    return cluster.listen_enabled || !cluster.seeds.empty();
  }
  std::unordered_map<std::string, user_control_api> users;
  std::unordered_map<caf::actor_addr, std::string> names;
  /// Users visible online, ordered by id for paging.
  std::map<std::string, presence_delta> online;
  /// The online users who restrict who may see them (usually few).
  std::set<std::string> restricted;
  bool shutting_down = false;
  static inline const char* name = "presence.registry";
};

using registry_ptr = registry_impl_api::stateful_pointer<registry_state>;

user_status offline_status(const user_record& r, const actors_config& cfg) {
  user_status s;
  s.user_id = r.user_id;
  s.last_seen = r.last_seen;
  // A session its owner left open (the owner died; its devices are gone
  // or re-registering): offline as of its last checkpoint, never "never
  // seen" (issue 11), until the orphan close writes the same.
  if (r.open)
    s.last_seen = std::max(s.last_seen,
                           std::max(r.open_start, r.open_last_active));
  s.version = r.version;
  s.vis = make_visibility(r.contacts, cfg.contacts_by_default);
  return s;
}

/// Online users `who` may see: only those who restrict who sees them (in
/// `restricted`, usually few) are checked.
uint64_t count_visible(const registry_state& st, const viewer& who) {
  if (st.restricted.empty() || who.all)
    return st.online.size();
  uint64_t hidden = 0;
  for (auto& u : st.restricted)
    if (auto i = st.online.find(u);
        i != st.online.end() && hidden_from(who, i->second))
      ++hidden;
  return st.online.size() - hidden;
}

void index(registry_ptr self, const presence_delta& d) {
  auto& st = self->state;
  if (d.online)
    st.online[d.user_id] = d;
  else
    st.online.erase(d.user_id);
  if (d.online && d.vis.restricted())
    st.restricted.insert(d.user_id);
  else if (!st.restricted.empty())
    st.restricted.erase(d.user_id);
  if (st.stats)
    st.stats->users_owned = st.online.size();
}

/// Sends the deltas waiting for the remote fan-outs, one message per
/// member, in the order they were announced. Called before anything else
/// goes to those fan-outs or their list changes, so nothing overtakes them.
void flush_remote(registry_ptr self) {
  auto& st = self->state;
  if (st.remote_out.empty())
    return;
  std::vector<presence_delta> out;
  out.swap(st.remote_out);
  if (out.size() == 1) {
    // Alone as the plain message every build knows: a quiet cluster
    // loses nothing to a node on an older build during a rolling update.
    for (auto& f : st.remote_fanouts)
      caf::anon_send(f, delta_atom::value, out.front());
    return;
  }
  for (auto& f : st.remote_fanouts)
    caf::anon_send(f, delta_atom::value, out);
}

/// Announces `d`; `to_index`: it also goes into this node's index (not
/// for news from a user actor that is no longer the user's actor here).
void apply_delta(registry_ptr self, presence_delta d, bool to_index = true) {
  auto& st = self->state;
  if (st.env->on_change) {
    // A visible change only: a re-announcement (a move, a healed
    // partition) with the same state is not one.
    auto prev = st.online.find(d.user_id);
    bool was = prev != st.online.end();
    bool same = was ? d.online && prev->second.status == d.status
                        && prev->second.status_text == d.status_text
                    : !d.online;
    if (!same)
      st.env->on_change(d, was);
  }
  actors_log().debug("{} announces {} {} (version {})", st.self_node, d.user_id,
                     d.online ? "online" : "offline", d.version);
  if (to_index)
    index(self, d);
  // Once per node: each fan-out delivers to its own subscribers. Remote
  // ones get what this mailbox pass announces in one message (each remote
  // message costs its serialization and the other node's BASP work).
  if (!st.remote_fanouts.empty()) {
    if (st.remote_out.empty())
      self->send(self, delta_atom::value, flush_atom::value);
    st.remote_out.push_back(d);
  }
  if (!st.away.empty()) {
    auto now = st.env->now();
    auto ttl = st.env->cfg.change_log_ttl.count();
    for (auto& kvp : st.away) {
      auto& a = kvp.second;
      if (a.given_up)
        continue;
      if (ttl > 0 && now - a.since > ttl) {
        // Away longer than a resync window (gone for good, most likely):
        // nothing more is kept for it.
        a.give_up();
        continue;
      }
      a.missed.add(d, static_cast<uint64_t>(std::max<millis>(now, 0)));
    }
  }
  caf::anon_send(st.fanout, delta_atom::value, std::move(d));
}

/// Members that view `v` lost start keeping what this node announces;
/// those it has again (the same life) get what they missed.
void keep_for_away(registry_ptr self, const cluster_view& v,
                   const std::set<std::string>& now_members) {
  auto& st = self->state;
  // What waits goes to the members it was announced for, before any
  // replay and before their list changes.
  flush_remote(self);
  auto now = st.env->now();
  for (auto& old : st.members) {
    if (old == st.self_node || old == v.self || now_members.count(old) > 0
        || st.away.count(old) > 0)
      continue;
    auto& cfg = st.env->cfg;
    auto inc = st.incarnations.find(old);
    away_member a{inc == st.incarnations.end() ? 0 : inc->second, now,
                  change_log{cfg.change_log_size, 0,
                             static_cast<uint64_t>(std::max<int64_t>(
                               cfg.change_log_ttl.count(), 0))}};
    st.away.emplace(old, std::move(a));
  }
  st.incarnations.clear();
  for (auto& m : v.members) {
    if (m.node_id == v.self)
      continue;
    st.incarnations[m.node_id] = m.incarnation;
    auto i = st.away.find(m.node_id);
    if (i == st.away.end())
      continue;
    auto& a = i->second;
    auto ttl = st.env->cfg.change_log_ttl.count();
    if (ttl > 0 && now - a.since > ttl && !a.given_up) {
      // Away past the TTL with nothing announced since: given up all the
      // same (apply_delta gives up only when something is announced).
      a.give_up();
    }
    if (a.incarnation == m.incarnation && m.fanout) {
      if (a.missed.oldest() > 0)
        // The oldest went: the rest is still news to it.
        actors_log().warn(
          "{} was away for {} ms: more changes were made meanwhile than "
          "--change-log-size / --change-log-ttl keep; its subscribers may "
          "miss some until they list again",
          m.node_id, now - a.since);
      else if (a.missed.size() > 0)
        actors_log().info(
          "{} was away for {} ms: it gets the {} changes it "
          "missed",
          m.node_id, now - a.since, a.missed.size());
      a.missed.for_each([&m](const presence_delta& d) {
        caf::anon_send(m.fanout, delta_atom::value, d);
      });
    }
    st.away.erase(i);
  }
}

/// Whether news `d` from the user actor `sender` goes into the index: an
/// actor that is no longer the user's actor here (handed over, or stale
/// while a newer one runs) may still have news on the way. Announced, it
/// does no harm (the new owner announces a newer version), but indexed
/// online it stays there for good: the registry forgot that actor, and
/// its end takes nothing out (a ghost in the online list and count, found
/// by the chaos test after a thaw). Its offline news only counts when no
/// other actor holds the user here.
bool indexes(const registry_state& st, const presence_delta& d,
             const caf::strong_actor_ptr& sender) {
  auto u = st.users.find(d.user_id);
  if (u == st.users.end())
    return !d.online;
  return u->second.address() == caf::actor_cast<caf::actor_addr>(sender);
}

bool owned_here(const registry_state& st, const std::string& user) {
  if (st.ring.size() == 0)
    return true;
  return st.ring.owner(user) == st.self_node;
}

/// How often a join or a transfer is passed on to the owner a registry
/// knows before one keeps it (views that disagree for long cannot bounce
/// it forever; the next view change moves it).
constexpr uint8_t max_hops = 3;

/// Counts down a pending shutdown; answers once nothing is left.
void shutdown_step(registry_ptr self, bool count = true) {
  auto& st = self->state;
  if (!st.shutdown_rp)
    return;
  if (count && st.shutdown_pending > 0)
    --st.shutdown_pending;
  if (st.shutdown_pending == 0 && st.moving.empty()) {
    // The other nodes hear the last announcements before the node goes
    // on to leave the cluster.
    flush_remote(self);
    st.shutdown_rp->deliver(st.shutdown_closed);
    st.shutdown_rp.reset();
  }
}

void track(registry_ptr self, const std::string& user, user_control_api actor) {
  auto& st = self->state;
  self->monitor(actor);
  st.names.emplace(actor.address(), user);
  st.users[user] = std::move(actor);
}

/// The stall this node came out of within `recent` ms, if it was long
/// enough (a failure timeout) for the others to declare it dead; {} if
/// none (or not a cluster node).
node_stats::stall recent_stall(const registry_state& st, millis recent) {
  if (!st.cluster_mode() || !st.stats)
    return {};
  auto& c = st.cluster;
  auto stall = st.stats->last_stall(st.env->now(), c.heartbeat_interval.count(),
                                    recent);
  return stall.len >= c.failure_timeout.count() ? stall : node_stats::stall{};
}

/// User actors here ended as stale (they said nothing): an orphan scan a
/// rehome window later (it waits while this node just stood still) closes
/// the marks of those whose devices joined nowhere else meanwhile, and says
/// that they left (close_orphans). Without one, a node that stood still
/// without losing a member from its view (the others declared it dead,
/// not it them) never scanned, and those users stayed online for every
/// observer.
void scan_after_stale(registry_ptr self) {
  auto& st = self->state;
  if (st.stale_scan_armed)
    return;
  st.stale_scan_armed = true;
  self->delayed_send(self, st.cluster.rehome_window, orphan_atom::value);
}

/// Members are lost right after this node stood still (SIGSTOP, a VM
/// pause): the others declared it dead meanwhile, took its users over and
/// moved the devices their sessions hold to the new owners. The user
/// actors here are stale; dropping the lost members' devices now would
/// announce those users offline with fresh versions, newer than what
/// their owners say (a flicker everywhere, issue 11). They end without a
/// word instead, and leave the index quietly; sessions here that still
/// point at them join again, and users this node owns once the ring is
/// whole again are handed back by the others.
void end_if_stale(registry_ptr self) {
  auto& st = self->state;
  auto stall = recent_stall(st, st.cluster.failure_timeout.count());
  if (stall.len == 0 || stall.start == st.stale_handled)
    return;
  st.stale_handled = stall.start;
  if (st.users.empty())
    return;
  actors_log().warn(
    "{} stood still for {} ms: its {} user actors are stale "
    "(the others took their users over) and end quietly",
    st.self_node, stall.len, st.users.size());
  for (auto& kvp : st.users) {
    st.names.erase(kvp.second.address());
    self->send(kvp.second, stale_atom::value);
  }
  scan_after_stale(self);
  st.users.clear();
  st.online.clear();
  st.restricted.clear();
  st.stats->users_owned = 0;
}

/// This node came out of a stall long enough for the others to take its
/// users over less than two failure timeouts and a rehome window ago: they
/// closed what was orphaned then, and what they hand back is on its way.
/// An orphan scan now would close the marks of users who are online
/// elsewhere (this node's store holds replicas of others' marks, and its
/// view may be missing the members it lost the connection to).
bool just_stood_still(const registry_state& st) {
  auto& c = st.cluster;
  return recent_stall(st,
                      2 * c.failure_timeout.count() + c.rehome_window.count())
           .len
         > 0;
}

/// A scan for orphaned sessions failed (the store could not answer): scan
/// again later, or those sessions stay open forever. Logged once per retry.
void retry_orphan_scan(registry_ptr self, const std::string& what,
                       const caf::error& err) {
  auto& st = self->state;
  if (st.orphan_retry_armed)
    return;
  st.orphan_retry_armed = true;
  actors_log().warn("orphan scan: {} failed ({}); scanning again in {} s", what,
                    self->system().render(err), orphan_scan_retry.count());
  self->delayed_send(self, orphan_scan_retry, orphan_atom::value);
}

/// Closes the sessions a dead owner left open for users this node owns now
/// and nobody re-registered: offline at their last checkpoint. A mark that
/// was closed already (this node was away meanwhile, or its actor ended as
/// stale) only goes, and the user is announced offline once more.
void close_orphans(registry_ptr self, std::vector<user_record>& marks) {
  auto& st = self->state;
  // The scan began before this node noticed it had stood still (its timer
  // fired on the way out of the stall): not now (just_stood_still).
  if (just_stood_still(st)) {
    self->delayed_send(self, st.cluster.rehome_window, orphan_atom::value);
    return;
  }
  for (auto& m : marks) {
    if (!m.open || !owned_here(st, m.user_id) || st.users.count(m.user_id) > 0
        || !st.closing_orphans.insert(m.user_id).second)
      continue;
    auto mark = m;
    self
      ->request(st.env->store, st.env->cfg.request_timeout, load_atom::value,
                m.user_id)
      .then(
        [=](const user_record& merged) {
          auto& st = self->state;
          st.closing_orphans.erase(mark.user_id);
          if (st.users.count(mark.user_id) > 0)
            return; // a device re-registered meanwhile
          if (just_stood_still(st) || !owned_here(st, mark.user_id))
            return; // the next scan decides
          // A newer session is open (the user came back elsewhere): its
          // owner speaks for the user; the next scan decides.
          if (merged.open && merged.open_start != mark.open_start)
            return;
          auto end = std::max(mark.open_start, mark.open_last_active);
          auto version = next_version(std::max(mark.version, merged.version),
                                      st.env->now());
          // Closed already: a node closed it while this one was away, or
          // its actor here ended as stale (end_stale wrote its last
          // activity). The mark only goes, but the leave is said all the
          // same: a stale actor ends without a word, trusting the node that
          // took its users over, and that node never heard of a device
          // whose client left meanwhile (a 6-node mass close with members
          // flapping: observers never heard thousands of leaves). Said
          // twice, an offline is no change to anyone.
          bool closed = merged.last_seen >= end && merged.last_seen > 0;
          if (closed)
            self->send(st.env->store, drop_atom::value, mark.user_id);
          else
            self->send(st.env->store, close_atom::value, mark.user_id,
                       mark.open_start, end, version);
          presence_delta d;
          d.user_id = mark.user_id;
          d.last_seen = closed ? merged.last_seen : end;
          d.version = version;
          d.vis = make_visibility(merged.contacts,
                                  st.env->cfg.contacts_by_default);
          apply_delta(self, std::move(d));
        },
        [=](caf::error& err) {
          self->state.closing_orphans.erase(mark.user_id);
          retry_orphan_scan(self, "loading " + mark.user_id, err);
        });
  }
}

/// True (and `f` kept for later) while the actor of `uid` is being
/// stopped.
template <class F>
bool defer_if_stopping(registry_ptr self, const std::string& uid, F f) {
  auto& st = self->state;
  auto i = st.stopping.find(uid);
  if (i == st.stopping.end())
    return false;
  i->second.emplace_back(std::move(f));
  return true;
}

/// The idle actor of `uid` answered (or not): forget it if it stopped, then
/// replay what waited.
void stopped_user(registry_ptr self, const std::string& uid,
                  const user_control_api& actor, bool stopped) {
  auto& st = self->state;
  if (stopped) {
    st.names.erase(actor.address());
    auto u = st.users.find(uid);
    if (u != st.users.end() && u->second == actor)
      st.users.erase(u);
  }
  auto i = st.stopping.find(uid);
  if (i == st.stopping.end())
    return;
  auto waiting = std::move(i->second);
  st.stopping.erase(i);
  for (auto& f : waiting)
    f();
}

void get_user(registry_ptr self, const std::string& uid,
              caf::typed_response_promise<user_status> rp) {
  if (defer_if_stopping(self, uid, [=] { get_user(self, uid, rp); }))
    return;
  auto& st = self->state;
  auto u = st.users.find(uid);
  if (u != st.users.end()) {
    rp.delegate(u->second, get_atom::value);
    return;
  }
  self
    ->request(st.env->store, st.env->cfg.request_timeout, load_atom::value, uid)
    .then(
      [=](const user_record& r) mutable {
        rp.deliver(offline_status(r, self->state.env->cfg));
      },
      [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

/// A touch; with `device` set, the leave of that device's client whose
/// session (`session`) had no user actor: the user actor here drops the
/// device if it holds it from that session (presence_api).
void touch_user(registry_ptr self, const std::string& uid,
                caf::typed_response_promise<user_status> rp,
                const std::string& device = {},
                const caf::actor_addr& session = {}) {
  if (defer_if_stopping(self, uid,
                        [=] { touch_user(self, uid, rp, device, session); }))
    return;
  auto& st = self->state;
  // This node just stood still while it had peers: they took its users
  // over, and who owns `uid` is not settled yet (its view may hold only
  // itself). A last_seen of "now" written here (a leave whose session had
  // lost its user actor, a client's PUT) would reach no owner, and readers
  // saw it go back once the owner answered again (the long chaos run). The
  // caller may try again (REST: 503).
  auto u = st.users.find(uid);
  if (u == st.users.end() && st.stats && st.stats->peers > 0
      && just_stood_still(st)) {
    rp.deliver(persistence::make_error(persistence::errc::unavailable));
    return;
  }
  if (u != st.users.end()) {
    if (device.empty())
      rp.delegate(u->second, touch_atom::value);
    else
      rp.delegate(u->second, touch_atom::value, device, session);
    return;
  }
  self
    ->request(st.env->store, st.env->cfg.request_timeout, last_seen_atom::value,
              uid, st.env->now())
    .then(
      [=](const user_record& r) mutable {
        rp.deliver(offline_status(r, self->state.env->cfg));
      },
      [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
}

/// A user's visibility changed (stored already). A running actor shows it
/// at once. For a user without one, the node announces the offline user
/// again with the new visibility, so those now left out see no last_seen
/// (and the change log keeps the new form); an actor that starts later
/// loads it with the record.
void contacts_changed(registry_ptr self, const std::string& uid,
                      const contact_settings& s) {
  if (defer_if_stopping(self, uid, [=] { contacts_changed(self, uid, s); }))
    return;
  auto& st = self->state;
  if (auto i = st.users.find(uid); i != st.users.end()) {
    self->send(i->second, contacts_atom::value, s);
    return;
  }
  self
    ->request(st.env->store, st.env->cfg.request_timeout, load_atom::value, uid)
    .then(
      [=](const user_record& r) {
        auto& st = self->state;
        // Online meanwhile (its actor announces it), or open on an owner
        // that died (the orphan scan closes it): nothing to say here.
        if (!r.known || r.open || st.users.count(uid) > 0)
          return;
        presence_delta d;
        d.user_id = uid;
        d.last_seen = r.last_seen;
        d.version = next_version(r.version, st.env->now());
        d.vis = with_since(make_visibility(s, st.env->cfg.contacts_by_default),
                           d.version);
        apply_delta(self, std::move(d));
      },
      [=](caf::error& err) {
        actors_log().warn("contacts of {}: not announced: {}", uid,
                          self->system().render(err));
      });
}

void join_user(registry_ptr self, join_request req,
               caf::typed_response_promise<join_ack> rp) {
  auto uid = req.user_id;
  if (defer_if_stopping(self, uid,
                        [=]() mutable { join_user(self, std::move(req), rp); }))
    return;
  auto& st = self->state;
  if (st.shutting_down) {
    rp.deliver(make_error(errc::shutting_down));
    return;
  }
  auto u = st.users.find(uid);
  if (u == st.users.end()) {
    track(self, uid, spawn_user(self->system(), uid, st.env));
    u = st.users.find(uid);
  }
  rp.delegate(u->second, join_atom::value, std::move(req));
}

/// A user moved here from its previous owner (or more devices for one
/// that joined here first: merged).
void take_over(registry_ptr self, user_transfer t) {
  auto uid = t.user_id;
  if (defer_if_stopping(self, uid,
                        [=]() mutable { take_over(self, std::move(t)); }))
    return;
  auto& st = self->state;
  // The ring moved again while the user was on the way (a member came back
  // meanwhile): kept here, nothing would move it on, and the owner would
  // read the user offline. It goes on to the owner this node knows.
  // Never back to the node it came from: a member leaving gracefully hands
  // its users to nodes that may still count it in their ring, and they
  // would pass them straight back (found in the cluster e2e test: the
  // leaving node's shutdown then waited out its watchdog). The next view
  // change moves what is kept here.
  auto sender = self->current_sender();
  auto from = sender ? sender->node() : caf::node_id{};
  // Leaving (its view no longer holds itself) or shutting down: an actor
  // spawned now would outlive the registry's shutdown (and keep the
  // process from exiting), or go offline with it (a flicker: a late
  // handover bounced back here by a node that still counted this one in
  // its ring).
  bool leaving = st.had_view && st.cluster_mode()
                 && st.members.count(st.self_node) == 0;
  if (st.shutting_down || leaving) {
    // The user goes to the next node of the ring instead.
    for (auto& node : st.ring.replicas(uid, 2)) {
      auto target = st.registries.find(node);
      if (node != st.self_node && target != st.registries.end()) {
        self->send(target->second, handover_atom::value, std::move(t));
        return;
      }
    }
    // Nobody else: its sessions see their old actor end and join again.
    return;
  }
  if (!owned_here(st, uid) && t.hops < max_hops) {
    auto target = st.registries.find(st.ring.owner(uid));
    if (target != st.registries.end() && target->second.node() != from) {
      ++t.hops;
      actors_log().debug("{} passes {} on to {}", st.self_node, uid,
                         st.ring.owner(uid));
      self->send(target->second, handover_atom::value, std::move(t));
      return;
    }
  }
  auto u = st.users.find(uid);
  actors_log().debug("{} takes {} over ({} devices, actor here: {})",
                     st.self_node, uid, t.devices.size(), u != st.users.end());
  if (u != st.users.end()) {
    self->send(u->second, handover_atom::value, std::move(t));
    return;
  }
  track(self, uid, spawn_user_from(self->system(), std::move(t), st.env));
}

registry_impl_api::behavior_type
registry_impl(registry_ptr self, user_env env, fanout_api fanout,
              std::shared_ptr<node_stats> stats, cluster_config cluster) {
  env.registry = caf::actor_cast<registry_sink>(self);
  self->state.fanout = std::move(fanout);
  self->state.stats = std::move(stats);
  self->state.cluster = std::move(cluster);
  if (self->state.stats && self->state.cluster_mode())
    env.stale =
      [stats = self->state.stats, now = env.now,
       tick = self->state.cluster.heartbeat_interval.count(),
       timeout = self->state.cluster.failure_timeout.count()](millis born) {
        auto stall = stats->last_stall(now(), tick, timeout);
        return stall.len >= timeout && born <= stall.start + tick
               && stats->peers.load() > 0;
      };
  env.ttl = std::make_shared<ttl_wheel>(
    ttl_step(env.cfg.heartbeat_ttl.count()));
  env.ttl_sweeper = spawn_ttl_sweeper(self->system(), env.ttl, env.now,
                                      self->address());
  self->state.env = std::make_shared<const user_env>(std::move(env));
  self->state.ring = hash_ring{self->state.cluster.vnodes};
  // A user actor that ends without being stopped (it failed) must not stay
  // online in the index.
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.moving.erase(dm.source) > 0) {
      shutdown_step(self, false);
      return;
    }
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
      auto rp = self->make_response_promise<user_status>();
      get_user(self, uid, rp);
      return rp;
    },
    [=](get_atom, const std::vector<std::string>& uids)
      -> caf::result<std::vector<user_status>> {
      auto& st = self->state;
      // The answer fills in from the online index, then from the live user
      // actors of the others (a join under way: its open mark may already
      // be in the store, with the version of the online delta still on its
      // way here), then from the store for the rest.
      struct gather {
        std::vector<user_status> out;
        size_t pending = 0;
        bool done = false;
        caf::typed_response_promise<std::vector<user_status>> rp;
      };
      auto g = std::make_shared<gather>();
      g->out.resize(uids.size());
      std::vector<std::string> missing;
      std::vector<size_t> slots;
      std::vector<std::pair<size_t, user_control_api>> live;
      for (size_t i = 0; i < uids.size(); ++i) {
        if (auto o = st.online.find(uids[i]); o != st.online.end()) {
          g->out[i] = status_of(o->second);
        } else if (auto u = st.users.find(uids[i]);
                   u != st.users.end() && st.stopping.count(uids[i]) == 0) {
          live.emplace_back(i, u->second);
        } else {
          missing.push_back(uids[i]);
          slots.push_back(i);
        }
      }
      if (missing.empty() && live.empty())
        return std::move(g->out);
      g->rp = self->make_response_promise<std::vector<user_status>>();
      g->pending = live.size() + (missing.empty() ? 0 : 1);
      auto one_done = [g] {
        if (--g->pending == 0 && !g->done) {
          g->done = true;
          g->rp.deliver(std::move(g->out));
        }
      };
      auto failed = [g](caf::error& err) {
        if (!g->done) {
          g->done = true;
          g->rp.deliver(std::move(err));
        }
      };
      auto timeout = st.env->cfg.request_timeout;
      for (auto& [i, actor] : live)
        self->request(actor, timeout, get_atom::value)
          .then(
            [g, i = i, one_done](user_status& s) {
              g->out[i] = std::move(s);
              one_done();
            },
            [=, i = i, uid = uids[i]](caf::error&) {
              // It ended meanwhile: what it left is in the store.
              self
                ->request(self->state.env->store, timeout, load_atom::value,
                          uid)
                .then(
                  [=](const user_record& r) {
                    g->out[i] = offline_status(r, self->state.env->cfg);
                    one_done();
                  },
                  failed);
            });
      if (!missing.empty())
        self
          ->request(st.env->store, timeout, load_atom::value,
                    std::move(missing))
          .then(
            [=](const std::vector<user_record>& rs) {
              for (size_t i = 0; i < rs.size() && i < slots.size(); ++i)
                g->out[slots[i]] = offline_status(rs[i], self->state.env->cfg);
              one_done();
            },
            failed);
      return g->rp;
    },
    [=](list_atom, const std::string& cursor, uint32_t limit,
        const viewer& who) {
      auto& st = self->state;
      online_page page;
      page.total = count_visible(st, who);
      auto i = cursor.empty() ? st.online.begin()
                              : st.online.upper_bound(cursor);
      for (; i != st.online.end() && page.users.size() < limit; ++i)
        if (!hidden_from(who, i->second))
          page.users.push_back(i->second);
      if (i != st.online.end() && !page.users.empty())
        page.next_cursor = page.users.back().user_id;
      return page;
    },
    [=](count_atom, const viewer& who) {
      return count_visible(self->state, who);
    },
    [=](contacts_atom, const std::string& uid, const contact_settings& s) {
      contacts_changed(self, uid, s);
    },
    [=](subscribe_atom, const delta_listener& l,
        std::vector<std::string>& users, bool global) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      return rp.delegate(self->state.fanout, subscribe_atom::value, l,
                         std::move(users), global);
    },
    [=](changes_atom, const delta_listener& l, uint64_t since,
        uint32_t limit) -> caf::result<change_page> {
      auto rp = self->make_response_promise<change_page>();
      return rp.delegate(self->state.fanout, changes_atom::value, l, since,
                         limit);
    },
    [=](unsubscribe_atom, const delta_listener& l,
        std::vector<std::string>& users, bool global) -> caf::result<bool> {
      auto rp = self->make_response_promise<bool>();
      return rp.delegate(self->state.fanout, unsubscribe_atom::value, l,
                         std::move(users), global);
    },
    // -- sessions -------------------------------------------------------------
    [=](join_atom, join_request& req) -> caf::result<join_ack> {
      if (self->state.shutting_down)
        return make_error(errc::shutting_down);
      // A router whose view lags (its node just came back from a freeze)
      // may name this node the owner when it is not: kept here, the user
      // would be online on a node nobody asks. On to the owner it is.
      auto& st = self->state;
      if (!owned_here(st, req.user_id) && req.hops < max_hops) {
        auto target = st.registries.find(st.ring.owner(req.user_id));
        if (target != st.registries.end()) {
          actors_log().debug("{} passes the join of {} on to {}", st.self_node,
                             req.user_id, st.ring.owner(req.user_id));
          ++req.hops;
          // Watched: a join passed to a node that just died is lost with
          // its connection; the session's rejoin then waited out the
          // whole request timeout (5 s of a connected user read offline
          // after a kill -9, in the chaos test) instead of trying the new
          // owner as soon as the view drops the dead one.
          auto rp = self->make_response_promise<join_ack>();
          cluster::ask_watched<join_ack>(self, target->second,
                                         st.env->cfg.request_timeout, &st.watch,
                                         rp, join_atom::value, std::move(req));
          return rp;
        }
      }
      auto rp = self->make_response_promise<join_ack>();
      join_user(self, std::move(req), rp);
      return rp;
    },
    [=](touch_atom, const std::string& uid) -> caf::result<user_status> {
      auto rp = self->make_response_promise<user_status>();
      touch_user(self, uid, rp);
      return rp;
    },
    [=](touch_atom, const std::string& uid, const std::string& device,
        const caf::actor_addr& session) -> caf::result<user_status> {
      auto rp = self->make_response_promise<user_status>();
      touch_user(self, uid, rp, device, session);
      return rp;
    },
    [=](message_atom, const std::string& uid, chat_message& m,
        std::string& except) -> caf::result<uint32_t> {
      // Only a user with an actor here has live devices.
      auto i = self->state.users.find(uid);
      if (i == self->state.users.end())
        return uint32_t{0};
      return self->delegate(i->second, message_atom::value, std::move(m),
                            std::move(except));
    },
    [=](shutdown_atom) -> caf::result<uint64_t> {
      auto& st = self->state;
      st.shutting_down = true;
      auto rp = self->make_response_promise<uint64_t>();
      // Answered once every user here went offline and every user that
      // moved away has handed over (so nothing is lost in flight).
      st.shutdown_rp = rp;
      st.shutdown_pending = st.users.size() + 1;
      for (auto& kvp : st.users)
        self
          ->request(kvp.second, st.env->cfg.request_timeout,
                    shutdown_atom::value)
          .then(
            [=](bool) {
              ++self->state.shutdown_closed;
              shutdown_step(self);
            },
            [=](caf::error&) { shutdown_step(self); });
      shutdown_step(self);
      return rp;
    },
    // -- from user actors -----------------------------------------------------
    [=](delta_atom, presence_delta& d) {
      bool to_index = indexes(self->state, d, self->current_sender());
      apply_delta(self, std::move(d), to_index);
    },
    [=](index_atom, const presence_delta& d) {
      if (indexes(self->state, d, self->current_sender()))
        index(self, d);
    },
    [=](stale_atom, const presence_delta& d) {
      // A user actor found itself stale and ended quietly (user_actor.cpp,
      // ends_stale); after end_if_stale it is forgotten already.
      auto& st = self->state;
      auto sender = caf::actor_cast<caf::actor_addr>(self->current_sender());
      if (indexes(st, d, self->current_sender()))
        index(self, d);
      auto u = st.users.find(d.user_id);
      if (u != st.users.end() && u->second.address() == sender) {
        st.names.erase(sender);
        st.users.erase(u);
      }
      scan_after_stale(self);
    },
    // -- the cluster ------------------------------------------------------------
    [=](view_atom, const cluster_view& v) {
      auto& st = self->state;
      bool lost_member = false;
      std::set<std::string> now_members;
      for (auto& m : v.members)
        now_members.insert(m.node_id);
      for (auto& old : st.members)
        lost_member = lost_member || now_members.count(old) == 0;
      if (lost_member)
        end_if_stale(self);
      // A member that was known before and is here again (restarted, or the
      // far side of a healed partition) may have heard stale news of our
      // users meanwhile: they announce themselves again.
      bool member_back = false;
      for (auto& m : now_members)
        if (st.members.count(m) == 0 && st.ever_members.count(m) > 0)
          member_back = true;
      for (auto& m : now_members)
        st.ever_members.insert(m);
      keep_for_away(self, v, now_members);
      // Devices held by sessions on a member that is gone (dead or hung):
      // their users may be owned here.
      for (auto& kvp : st.member_nodes)
        if (now_members.count(kvp.first) == 0)
          for (auto& u : st.users)
            self->send(u.second, drop_atom::value, kvp.second);
      st.member_nodes.clear();
      for (auto& m : v.members)
        if (m.node_id != v.self && m.membership)
          st.member_nodes.emplace(m.node_id, m.membership.node());
      bool first = !st.had_view;
      if (first)
        st.first_view_at = st.env->now();
      st.had_view = true;
      st.members = std::move(now_members);
      st.self_node = v.self;
      st.ring = hash_ring::of(v.node_ids(), st.cluster.vnodes);
      st.watch.keep_only(cluster::alive_nodes(v, self->node()));
      st.remote_fanouts.clear();
      st.registries.clear();
      for (auto& m : v.members) {
        if (m.node_id != v.self) {
          st.remote_fanouts.push_back(m.fanout);
          st.registries.emplace(m.node_id, m.registry);
        }
      }
      // Right after a stall the view that lost the others must not make the
      // stale actors fresh again: their mailboxes may still hold news from
      // before the stale_atom end_if_stale sent them (user_env::stale).
      if (st.stats) {
        auto n = static_cast<uint32_t>(st.registries.size());
        if (n > st.stats->peers || !just_stood_still(st))
          st.stats->peers = n;
      }
      // Users the ring gives to another node move there, live state and
      // all; nobody hears of it.
      std::vector<std::string> moving;
      for (auto& kvp : st.users)
        if (!owned_here(st, kvp.first))
          moving.push_back(kvp.first);
      for (auto& user : moving) {
        auto target = st.registries.find(st.ring.owner(user));
        if (target == st.registries.end())
          continue;
        auto actor = st.users[user];
        actors_log().debug("{} hands {} over to {}", st.self_node, user,
                           st.ring.owner(user));
        self->send(actor, handover_atom::value, target->second);
        st.names.erase(actor.address());
        st.moving.insert(actor.address());
        st.users.erase(user);
        st.online.erase(user);
        st.restricted.erase(user);
      }
      if (st.stats)
        st.stats->users_owned = st.online.size();
      if (member_back)
        for (auto& kvp : st.users)
          self->send(kvp.second, delta_atom::value);
      // Changes other nodes made while this one did not hear them (before
      // its first view, across a partition, lost with a member) are not in
      // this node's change log: cursors from before now get
      // resync_required.
      if ((first || lost_member || member_back) && st.cluster_mode())
        self->send(st.fanout, changes_atom::value,
                   static_cast<uint64_t>(std::max<millis>(st.env->now(), 0)));
      // Sessions a dead member (or this node's previous life) left open:
      // closed once their devices had time to re-register elsewhere.
      if ((lost_member || first) && st.cluster_mode()) {
        st.last_loss = st.env->now();
        self->delayed_send(self, st.cluster.rehome_window, orphan_atom::value);
      }
    },
    [=](handover_atom, user_transfer& t) { take_over(self, std::move(t)); },
    [=](delta_atom, flush_atom) { flush_remote(self); },
    [=](orphan_atom) {
      auto& st = self->state;
      st.orphan_retry_armed = false;
      st.stale_scan_armed = false;
      if (just_stood_still(st)) {
        self->delayed_send(self, st.cluster.rehome_window, orphan_atom::value);
        return;
      }
      // The stall is behind: the peers count follows the view again (the
      // view right after the stall was not allowed to lower it).
      if (st.stats)
        st.stats->peers = static_cast<uint32_t>(st.registries.size());
      // A node that (re)starts with seeds sees only itself at first: its
      // store alone would miss what the others wrote while it was away (a
      // newer last_seen), and closing its old marks from that would
      // announce an older one. It waits until it has met another member,
      // or for two failure timeouts (the seeds are all gone: it is alone).
      if (!st.cluster.seeds.empty() && st.ever_members.size() <= 1
          && st.env->now() - st.first_view_at
               < 2 * st.cluster.failure_timeout.count()) {
        self->delayed_send(self, st.cluster.rehome_window, orphan_atom::value);
        return;
      }
      // Devices get the full window after the latest loss to re-register.
      auto wait = st.last_loss + st.cluster.rehome_window.count()
                  - st.env->now();
      if (wait > 0) {
        self->delayed_send(self, std::chrono::milliseconds(wait),
                           orphan_atom::value);
        return;
      }
      self
        ->request(st.env->store, st.env->cfg.request_timeout,
                  orphan_atom::value)
        .then(
          [=](std::vector<user_record>& marks) { close_orphans(self, marks); },
          [=](caf::error& err) {
            retry_orphan_scan(self, "reading the open marks", err);
          });
    },
    [=](idle_atom, const std::string& uid, const user_control_api& actor) {
      auto& st = self->state;
      auto u = st.users.find(uid);
      if (u == st.users.end() || u->second != actor
          || st.stopping.count(uid) > 0)
        return;
      // Until the actor answers, what comes for this user waits (see
      // registry_state::stopping); everything else goes on.
      st.stopping[uid];
      self->request(actor, st.env->cfg.request_timeout, stop_atom::value)
        .then([=](bool stopped) { stopped_user(self, uid, actor, stopped); },
              [=](caf::error&) {
                // No answer: the actor may still live (it was slow) or be
                // gone (the down handler cleans up). Keep it.
                stopped_user(self, uid, actor, false);
              });
    },
  };
}

} // namespace

registry_api spawn_registry(caf::actor_system& sys, user_env env,
                            fanout_api fanout,
                            std::shared_ptr<node_stats> stats,
                            const cluster_config& cluster) {
  return sys.spawn(registry_impl, std::move(env), std::move(fanout),
                   std::move(stats), cluster);
}

} // namespace presence::actors
