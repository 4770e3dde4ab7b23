#include "actors/user_actor.hpp"

#include <algorithm>
#include <atomic>
#include <map>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/presence_logic.hpp"
#include "actors/ttl_sweep.hpp"
#include "core/logger.hpp"
#include "core/lean_actor.hpp"

namespace presence::actors {

namespace {

spdlog::logger& actors_log() {
  static auto l = folder_logger("actors");
  return *l;
}

/// The user actor's full interface: what its registry may send, plus its
/// own timers (self-sent only; nobody else holds this handle).
using user_actor_impl = user_control_api::extend<
  // a trailing activity checkpoint is due
  caf::reacts_to<checkpoint_atom>,
  // (generation): a device's TTL may have run out (one timer per user)
  caf::reacts_to<ttl_atom, uint64_t>,
  // (grace epoch): the reconnect grace period is over
  caf::reacts_to<grace_atom, uint64_t>,
  // (generation): the custom status message may have run out
  caf::reacts_to<expire_atom, uint64_t>,
  // (device, generation): the device may have been idle long enough
  caf::reacts_to<idle_atom, std::string, uint64_t>>;

struct device_entry {
  device_view view;
  session_api session;
  uint64_t timer_gen = 0;
  /// An auto-away check is scheduled (at most one per device).
  bool idle_armed = false;
};

struct user_state {
  std::string user_id;
  std::shared_ptr<const user_env> env;
  std::map<std::string, device_entry> devices;
  /// Visible state as last announced (an invisible user is offline here).
  bool online = false;
  /// The user's devices make them invisible (combine()): offline to
  /// everyone else, no session open in the store, last_seen still.
  bool hidden = false;
  presence_status status = presence_status::offline;
  /// Start of the open session (0: no session open, nothing in the store).
  millis online_since = 0;
  millis last_seen = 0;
  /// When the last device went; becomes last_seen after the grace period.
  millis left_at = 0;
  uint64_t version = 0;
  bool in_grace = false;
  uint64_t grace_epoch = 0;
  uint64_t timer_gen = 0;
  /// The one TTL timer for all devices: when it fires (0: none armed) and
  /// its generation (older timers are void).
  millis ttl_due = 0;
  uint64_t ttl_gen = 0;
  /// The registry's index knows this user's current state (announced, or
  /// silently indexed after a move or a resume).
  bool indexed = false;
  /// Checkpoint throttling: when the last one went, and whether a trailing
  /// one is scheduled.
  millis last_checkpoint = 0;
  bool checkpoint_armed = false;
  /// The custom status message, its end (0: none) and its timer's
  /// generation.
  std::string status_text;
  millis status_expires = 0;
  uint64_t text_gen = 0;
  /// Private messages may wait in the offline queue (from the stored
  /// record, or a message that found no device); the next join takes them.
  bool maybe_queued = false;
  /// The devices the offline queue knows (user_record::queue_devices)
  /// and when each last took it.
  std::vector<std::pair<std::string, millis>> queue_devices;
  /// Who may see the user (their contacts, or everyone).
  visibility vis;
  /// When this actor started (user_env::stale).
  millis born = 0;
  /// It found itself stale and ended quietly (end_stale): whatever the
  /// rest of the handler does, it announces and writes nothing.
  bool ended_stale = false;
  static inline const char* name = "presence.user";
};

/// A lean actor (core/lean_actor.hpp): one per online user, so no
/// scheduled_actor base; every user actor shares one handler table.
using user_self = lean_stateful<user_state, user_actor_impl>;
using user_ptr = user_self*;

/// How often a known device takes the offline queue even when nothing is
/// known to wait (its cursor stays fresh; store_db::device_ttl is 30 days).
constexpr millis queue_refresh = 24LL * 3600 * 1000;

millis latest_activity(const user_state& st) {
  millis t = 0;
  for (auto& kvp : st.devices)
    t = std::max(t, kvp.second.view.last_active);
  return t;
}

user_status snapshot(const user_state& st) {
  user_status s;
  s.user_id = st.user_id;
  s.online = st.online;
  s.status = st.status;
  s.last_seen = st.online ? std::max(st.left_at, latest_activity(st))
                          : st.last_seen;
  s.online_since = st.online_since;
  s.version = st.version;
  s.vis = st.vis;
  if (st.online) {
    s.status_text = st.status_text;
    s.status_expires = st.status_expires;
    // An invisible device is not shown to others (a visible user may
    // hold one).
    s.devices.reserve(st.devices.size());
    for (auto& kvp : st.devices)
      if (kvp.second.view.status != presence_status::invisible)
        s.devices.push_back(kvp.second.view);
  }
  return s;
}

/// What the user's own devices see: the truth, `invisible` included.
user_status own_snapshot(const user_state& st) {
  auto s = snapshot(st);
  if (st.hidden && !st.devices.empty()) {
    s.online = true;
    s.status = presence_status::invisible;
    s.status_text = st.status_text;
    s.status_expires = st.status_expires;
  }
  s.devices.clear();
  for (auto& kvp : st.devices)
    s.devices.push_back(kvp.second.view);
  return s;
}

bool ends_stale(user_ptr self);

void emit(user_ptr self) {
  if (ends_stale(self))
    return;
  auto& st = self->state;
  st.indexed = true;
  self->send(st.env->registry, delta_atom::value, delta_of(snapshot(st)));
}

/// Puts the user into the registry's index without telling anyone: the
/// state did not change for the rest of the world.
void index_silently(user_ptr self) {
  auto& st = self->state;
  st.indexed = true;
  self->send(st.env->registry, index_atom::value, delta_of(snapshot(st)));
}

void send_checkpoint(user_ptr self) {
  auto& st = self->state;
  // (A stale actor's mark is older than the new owner's; ending it here on
  // a heartbeat ended more actors right at a thaw, and handbacks and joins
  // sent to them were lost: e2e_cluster_freeze under load. Open.)
  if (st.online_since == 0 || st.ended_stale)
    return;
  st.last_checkpoint = st.env->now();
  auto t = std::max(latest_activity(st), st.online_since);
  self->send(st.env->store, checkpoint_atom::value, st.user_id, st.online_since,
             t, st.version, st.status);
}

/// Records activity for crash recovery: at once, or (within the checkpoint
/// interval of the previous one) at the end of that interval.
void checkpoint(user_ptr self) {
  auto& st = self->state;
  if (st.online_since == 0)
    return;
  auto interval = st.env->checkpoint_interval.count();
  auto since = st.env->now() - st.last_checkpoint;
  if (interval == 0 || since >= interval) {
    send_checkpoint(self);
    return;
  }
  if (!st.checkpoint_armed) {
    st.checkpoint_armed = true;
    self->delayed_send(self, std::chrono::milliseconds(interval - since),
                       checkpoint_atom::value);
  }
}

/// The user turned invisible: to everyone else they leave now (their
/// session closes in the store, last_seen is this moment and stays so).
void hide(user_ptr self) {
  if (ends_stale(self))
    return;
  auto& st = self->state;
  st.hidden = true;
  if (!st.online && st.online_since == 0)
    return; // nobody saw the user: nothing to take back
  st.in_grace = false;
  st.last_seen = std::max({st.last_seen, st.left_at, latest_activity(st)});
  st.online = false;
  st.status = presence_status::offline;
  st.version = next_version(st.version, st.env->now());
  if (st.online_since != 0)
    self->send(st.env->store, close_atom::value, st.user_id, st.online_since,
               st.last_seen, st.version);
  st.online_since = 0;
  emit(self);
}

/// Announces a change of the visible state of a user with devices. True
/// when it also recorded that state for crash recovery (an open mark, or a
/// checkpoint sent or due): a caller that would checkpoint next need not.
bool recompute(user_ptr self) {
  auto& st = self->state;
  if (st.devices.empty() || ends_stale(self))
    return false;
  std::vector<device_choice> statuses;
  statuses.reserve(st.devices.size());
  for (auto& kvp : st.devices)
    statuses.push_back({kvp.second.view.status, kvp.second.view.chosen});
  auto agg = combine(statuses);
  if (agg == presence_status::invisible) {
    hide(self);
    return false;
  }
  st.hidden = false;
  // A session opens (a first device, or the user shows again): its mark
  // in the store carries the version it is announced with (a survivor
  // reading the mark after this node died shows that version).
  bool opening = st.online_since == 0;
  if (opening)
    st.online_since = st.env->now();
  auto open_mark = [&] {
    if (opening)
      self->send(st.env->store, open_atom::value, st.user_id, st.online_since,
                 st.version);
  };
  if (st.online && agg == st.status) {
    open_mark();
    if (!st.indexed)
      index_silently(self);
    return false;
  }
  st.online = true;
  st.status = agg;
  st.version = next_version(st.version, st.env->now());
  open_mark();
  emit(self);
  // A session opening online with no activity since is what its open mark
  // says (start, version, online): that mark is its first checkpoint. A
  // checkpoint here was a second write per join on every replica.
  if (opening && agg == presence_status::online
      && latest_activity(st) <= st.online_since) {
    st.last_checkpoint = st.env->now();
    return true;
  }
  checkpoint(self);
  return true;
}

void go_offline(user_ptr self, bool report_idle) {
  if (ends_stale(self))
    return;
  auto& st = self->state;
  st.in_grace = false;
  // A custom status message lives while the user has devices.
  st.status_text.clear();
  st.status_expires = 0;
  ++st.text_gen;
  st.hidden = false;
  if (st.online_since != 0) {
    st.last_seen = std::max(st.last_seen, st.left_at);
    st.online = false;
    st.status = presence_status::offline;
    st.version = next_version(st.version, st.env->now());
    self->send(st.env->store, close_atom::value, st.user_id, st.online_since,
               st.last_seen, st.version);
    st.online_since = 0;
    emit(self);
  }
  if (report_idle)
    self->send(st.env->registry, idle_atom::value, st.user_id,
               user_control_api{self});
}

/// The user was there until `t` while this actor holds no device (a leave
/// of a device it already dropped, a touch): in the grace period that
/// moves the end of the session; once offline, the stored last_seen goes
/// up.
void record_leave(user_ptr self, millis t) {
  auto& st = self->state;
  if (st.in_grace) {
    st.left_at = std::max(st.left_at, t);
    return;
  }
  // A last_seen within one activity gap (how late the edge may report
  // activity) already covers the client's last moment: the leave that
  // came with this touch went through. Raising it by a few ms would only
  // move a last_seen that readers have seen.
  auto gap = std::max<millis>(st.env->checkpoint_interval.count(), 1000);
  if (t <= st.last_seen + gap)
    return;
  st.last_seen = t;
  self
    ->request(st.env->store, st.env->cfg.request_timeout, last_seen_atom::value,
              st.user_id, t)
    .then([](const user_record&) {},
          [=](caf::error& err) {
            actors_log().warn("{}: last_seen of a late leave not written: {}",
                              self->state.user_id, self->system().render(err));
          });
}

/// Called after devices were removed; `end` is when the user was last there.
void devices_changed(user_ptr self, millis end) {
  auto& st = self->state;
  // The user's latest activity never moves backwards when a device goes.
  st.left_at = std::max(st.left_at, end);
  if (!st.devices.empty()) {
    recompute(self);
    return;
  }
  if (st.env->cfg.reconnect_grace.count() == 0) {
    go_offline(self, true);
    return;
  }
  st.in_grace = true;
  ++st.grace_epoch;
  self->delayed_send(self, st.env->cfg.reconnect_grace, grace_atom::value,
                     st.grace_epoch);
}

/// Arms the auto-away timer of a device for when its idle time would be
/// up (it checks again then: input since moves it on).
void arm_idle(user_ptr self, const std::string& device_id) {
  auto& st = self->state;
  auto& e = st.devices[device_id];
  if (e.idle_armed || e.view.auto_away == 0)
    return;
  e.idle_armed = true;
  auto due = e.view.last_input + e.view.auto_away - st.env->now();
  self->delayed_send(self, std::chrono::milliseconds{std::max<millis>(due, 0)},
                     idle_atom::value, device_id, e.timer_gen);
}

/// Takes the armed TTL check, if any, back from the registry's wheel: one
/// entry per actor, and none once it ends (the wheel's weak reference
/// would keep the actor's memory until the check's time: a user who
/// stayed a second, up to --heartbeat-ttl later).
void disarm_ttl(user_ptr self) {
  auto& st = self->state;
  if (st.ttl_due != 0 && st.env->ttl)
    st.env->ttl->disarm(st.ttl_due, self->address());
  st.ttl_due = 0;
}

/// Whether a device of this user is held by `session`.
bool holds_session(const user_state& st, const caf::actor_addr& session) {
  return std::any_of(st.devices.begin(), st.devices.end(),
                     [&](const auto& kvp) {
                       return kvp.second.session.address() == session;
                     });
}

/// Stops watching `session` once none of this user's devices is held by
/// it. The monitor lives on the session's actor and holds this actor's
/// address (a weak reference: CAF 0.17 keeps an actor's memory until the
/// last one goes): a connection that joined and left again and again
/// piled up one per join, and kept an ended user actor's memory for as
/// long as it stayed open.
void release_session(user_ptr self, const caf::actor_addr& session) {
  if (session && !holds_session(self->state, session))
    self->demonitor(session);
}

/// Takes back the monitors on the sessions holding its devices.
void demonitor_sessions(user_ptr self) {
  for (auto& kvp : self->state.devices)
    if (kvp.second.session)
      self->demonitor(kvp.second.session.address());
}

/// Ends the actor, its TTL check and its monitors on the sessions still
/// holding its devices (a handover, a stale end) taken back.
void end_user(user_ptr self) {
  disarm_ttl(self);
  demonitor_sessions(self);
  self->quit();
}

/// Makes sure the TTL check comes within `delay_ms` (or one sweep step
/// later): one check per user, not per device; it looks at every device
/// (ttl_atom). The registry's sweeper sends it (ttl_sweep.hpp): a CAF
/// timer per user would cost ~0.3 KB and hold the actor until it fired.
void arm_ttl(user_ptr self, millis delay_ms) {
  auto& st = self->state;
  auto due = st.env->now() + delay_ms;
  if (st.ttl_due != 0 && st.ttl_due <= due)
    return;         // the armed one comes first and re-arms for the rest
  disarm_ttl(self); // an earlier check replaces the armed one
  st.ttl_due = due;
  auto gen = ++st.ttl_gen;
  if (!st.env->ttl) {
    self->delayed_send(self, std::chrono::milliseconds{delay_ms},
                       ttl_atom::value, gen);
    return;
  }
  if (st.env->ttl->arm(due, self->address(), gen))
    caf::anon_send(st.env->ttl_sweeper, tick_atom::value, uint64_t{0});
}

/// Ends without a word (no offline, no session close): the user is
/// someone else's now. The registry drops the user from its index quietly
/// first (an index update, not a change), so the actor's end is no news
/// either. Only the activity it heard last is kept: its devices' sessions
/// may have reported to it rather than to the new owner while this node
/// stood still, and last_seen only ever goes up in the store.
void end_stale(user_ptr self) {
  auto& st = self->state;
  if (st.ended_stale)
    return;
  st.ended_stale = true;
  actors_log().debug("{}: stale after this node stood still: ends quietly",
                     st.user_id);
  auto latest = std::max(latest_activity(st), st.left_at);
  if (latest > st.last_seen)
    caf::anon_send(st.env->store, last_seen_atom::value, st.user_id, latest);
  presence_delta gone;
  gone.user_id = st.user_id;
  gone.version = st.version;
  // The registry forgets this actor at once (not when its end is known):
  // what comes for the user next (a join, a handover) must not reach it.
  self->send(st.env->registry, stale_atom::value, gone);
  // A join or a handover on its way here already (queued, or sent before
  // the registry reads the above) goes back to the registry, after that
  // message: the registry starts the user's next actor for it. Not an
  // error to the session, not a lost transfer, nothing of it here.
  self->set_successor(
    caf::actor_cast<caf::strong_actor_ptr>(st.env->registry),
    [](const caf::type_erased_tuple& x) {
      return x.match_elements<join_atom, join_request>()
             || x.match_elements<handover_atom, user_transfer>();
    });
  end_user(self);
}

/// Whether this actor is stale (user_env::stale: its node just stood still
/// long enough for the others to take its users over, and it is from
/// before); then it has ended quietly (end_stale). Whatever reaches a stale
/// actor first (a session's leave or status, a join, a timer that fired
/// late because the process stood still) is older than what the new owner
/// says: announced, it would be a flicker with a fresh version everywhere,
/// and a clean leave would move last_seen to the moment of the thaw, after
/// the new owner announced the user offline at their last activity (what
/// readers saw go backwards in the chaos test). Checked where news is made
/// (emit, recompute, hide, go_offline) and, before they forget a device's
/// last activity, by the handlers that remove devices.
bool ends_stale(user_ptr self) {
  auto& st = self->state;
  if (st.ended_stale)
    return true;
  if (!st.env->stale || !st.env->stale(st.born))
    return false;
  end_stale(self);
  return true;
}

/// Removes every device whose session matches `pred`; the user was last
/// seen at the latest activity among them.
template <class Pred>
void drop_devices(user_ptr self, Pred pred) {
  auto& st = self->state;
  // This node just stood still: the others declared it dead, took the
  // user over and moved the devices' sessions to the new owner. Dropping
  // them here would announce the user offline with a fresh version,
  // newer than what the owner says (a flicker everywhere). Ends quietly.
  if (std::any_of(st.devices.begin(), st.devices.end(),
                  [&](const auto& kvp) { return pred(kvp.second.session); })
      && ends_stale(self))
    return;
  millis end = 0;
  bool removed = false;
  for (auto i = st.devices.begin(); i != st.devices.end();) {
    if (pred(i->second.session)) {
      actors_log().debug("{}: device {} dropped (its session's node is gone)",
                         st.user_id, i->first);
      end = std::max(end, i->second.view.last_active);
      auto session = i->second.session.address();
      i = st.devices.erase(i);
      // A session on a node the view dropped (hung, not dead) still has
      // its proxy, and the monitor on it this actor's address.
      release_session(self, session);
      removed = true;
    } else {
      ++i;
    }
  }
  if (removed)
    devices_changed(self, end);
}

/// A session that dies without saying goodbye loses its devices.
void install_down_handler(user_ptr self) {
  self->set_down_handler([](caf::down_msg& dm) {
    auto self = current<user_self>();
    // The user was last seen at the last sign of life of the lost devices
    // (a node that died took its sockets' final moments with it).
    drop_devices(self, [&](const session_api& s) {
      return s.address() == dm.source;
    });
  });
}

/// Adds a device held by `session` (joins and transfers).
void add_device(user_ptr self, const device_view& view,
                const session_api& session) {
  auto& st = self->state;
  // One monitor per session, however many devices or joins it brings.
  bool watched = session && holds_session(st, session.address());
  auto& entry = st.devices[view.device_id];
  auto replaced = entry.session.address();
  entry.view = view;
  entry.session = session;
  entry.timer_gen = ++st.timer_gen;
  if (session && !watched)
    self->monitor(session);
  if (replaced != session.address())
    release_session(self, replaced);
  auto rem = ttl_remaining(view.last_active, st.env->cfg.heartbeat_ttl.count(),
                           st.env->now());
  arm_ttl(self, std::max<millis>(rem, 0));
  entry.idle_armed = false; // a timer of an older generation is void
  if (view.auto_away > 0) {
    if (entry.view.last_input == 0)
      entry.view.last_input = st.env->now();
    arm_idle(self, view.device_id);
  }
}

/// Tells every session of this user that this actor now holds its device.
void rehome_sessions(user_ptr self) {
  user_api me{self};
  for (auto& kvp : self->state.devices)
    caf::anon_send(kvp.second.session, rehome_atom::value, kvp.first, me);
}

user_transfer make_transfer(const user_state& st) {
  user_transfer t;
  t.user_id = st.user_id;
  t.online = st.online;
  t.status = st.status;
  t.online_since = st.online_since;
  t.last_seen = st.last_seen;
  t.left_at = st.left_at;
  t.version = st.version;
  t.in_grace = st.in_grace;
  t.status_text = st.status_text;
  t.status_expires = st.status_expires;
  t.vis = st.vis;
  for (auto& kvp : st.devices) {
    t.devices.push_back(kvp.second.view);
    t.sessions.push_back(kvp.second.session);
  }
  return t;
}

void user_init(user_ptr self, std::string user_id,
               std::shared_ptr<const user_env> env) {
  auto& st = self->state;
  st.user_id = std::move(user_id);
  st.env = std::move(env);
  st.born = st.env->now();
  // Nothing else is handled before last_seen and version are known.
  self
    ->request(st.env->store, st.env->cfg.request_timeout, load_atom::value,
              st.user_id)
    .await(
      [=](const user_record& r) {
        auto& st = self->state;
        st.last_seen = r.last_seen;
        st.version = r.version;
        st.maybe_queued = r.queued > 0;
        st.vis = make_visibility(r.contacts, st.env->cfg.contacts_by_default);
        for (size_t i = 0; i < r.queue_devices.size(); ++i)
          st.queue_devices.emplace_back(
            r.queue_devices[i], i < r.queue_seen.size() ? r.queue_seen[i] : 0);
        if (r.open) {
          // A session a dead owner node left open: this user is online as
          // far as everyone knows. Resume it; the first join then changes
          // nothing anyone can see.
          st.online = true;
          st.status = r.open_status;
          st.online_since = r.open_start;
        }
      },
      [=](caf::error& err) {
        // Store unavailable (or the record is corrupt): start fresh on
        // purpose, a user must be able to come online while the store is
        // down. next_version() still moves versions forward with the clock,
        // and the store keeps the higher last_seen when this session closes.
        // What is lost: a session a dead owner left open is announced anew
        // instead of resumed, and who may see the user is the server's
        // default (--visibility) until the actor starts again: hiding every
        // user for as long as the store is down would be the larger harm.
        // During an outage every spawn fails alike: the first failure and
        // then every 1000th are logged.
        self->state.vis
          = make_visibility(contact_settings{},
                            self->state.env->cfg.contacts_by_default);
        static std::atomic<uint64_t> failed_loads{0};
        auto n = ++failed_loads;
        if (n == 1 || n % 1000 == 0)
          actors_log().warn(
            "user {} starts without its stored record ({} "
            "such starts so far): {}",
            self->state.user_id, n, self->system().render(err));
      });
  install_down_handler(self);
}

/// The user was seen now: every device is active now, and with no device
/// (in the grace period, or offline while this actor lives on) last_seen
/// is now all the same (a REST touch, or a leave whose device was dropped
/// before it came).
user_status touch_now(user_ptr self) {
  auto& st = self->state;
  auto t = st.env->now();
  for (auto& kvp : st.devices)
    kvp.second.view.last_active = t;
  if (st.devices.empty())
    record_leave(self, t);
  checkpoint(self);
  return snapshot(st);
}

/// One handler table for every user actor.
const user_actor_impl::behavior_type& running() {
  static const user_actor_impl::behavior_type shared{
    [](join_atom, join_request& req) -> caf::result<join_ack> {
      auto self = current<user_self>();
      auto& st = self->state;
      // Stale (this node just stood still): the join goes to the user's
      // next actor (end_stale) before anything here takes it in (its
      // activity would become a last_seen of the thaw).
      if (ends_stale(self)) {
        self->forward_current();
        return caf::delegated<join_ack>{};
      }
      auto& dev_id = req.device.device_id;
      auto existing = st.devices.find(dev_id);
      if (existing == st.devices.end()
          && st.devices.size() >= st.env->cfg.max_devices_per_user)
        return make_error(errc::too_many_devices);
      auto t = st.env->now();
      if (st.in_grace) {
        // Reconnect within the grace period: nobody hears of the gap.
        st.in_grace = false;
        ++st.grace_epoch;
      }
      if (existing != st.devices.end()
          && existing->second.session != req.session)
        caf::anon_send(existing->second.session, expire_atom::value, dev_id,
                       std::string{"replaced"});
      // The same session registering again (after its user moved or its
      // owner died) is the same device: keep when it connected.
      bool same_session = existing != st.devices.end()
                          && existing->second.session == req.session;
      auto connected_at = same_session ? existing->second.view.connected_at : t;
      device_view view;
      view.device_id = dev_id;
      view.user_agent = std::move(req.device.user_agent);
      view.platform = std::move(req.device.platform);
      view.chosen = req.device.status != presence_status::offline;
      view.status = view.chosen ? req.device.status : presence_status::online;
      view.connected_at = connected_at;
      view.last_active = t;
      view.auto_away = std::max<millis>(req.device.auto_away, 0);
      view.last_input = t;
      actors_log().debug("{}: device {} joins", st.user_id, dev_id);
      add_device(self, view, req.session);
      // The join is activity: recorded by the state change it made, or
      // else by a checkpoint (a second device, a rejoin). Both was a
      // second write per join, an interval later, on every replica.
      if (!recompute(self))
        checkpoint(self);
      // Only a session that takes the queue hears of it. The hint stays:
      // every device takes what it has not taken yet (the store keeps a
      // cursor per device), so each joining device asks. A device the
      // queue does not know yet takes it once anyway: that makes it known,
      // so it gets what comes while the user is away. The unnamed devices
      // ("") need no turn of their own while no named device is known:
      // then whoever joins first takes everything anyway (and a join of a
      // new user costs no store write).
      // A known device takes it at least once a day too: that keeps its
      // cursor from being forgotten (store_db::device_ttl) while it is in
      // use.
      auto& known = st.queue_devices;
      auto k = std::find_if(known.begin(), known.end(), [&](const auto& x) {
        return x.first == req.queue_device;
      });
      bool unknown = k == known.end()
                     && (!req.queue_device.empty() || !known.empty());
      bool stale = k != known.end() && k->second + queue_refresh < t;
      bool take = req.collects_queue && (st.maybe_queued || unknown || stale);
      if (take && unknown)
        known.emplace_back(req.queue_device, t);
      else if (take && k != known.end())
        k->second = t;
      return join_ack{user_api{self}, dev_id, own_snapshot(st), take};
    },
    [](leave_atom, const std::string& device_id,
       const caf::actor_addr& session) {
      auto self = current<user_self>();
      auto& st = self->state;
      if (ends_stale(self))
        return;
      auto i = st.devices.find(device_id);
      // A leave from a session that was replaced on this device is stale.
      if (i == st.devices.end() || i->second.session.address() != session) {
        // The client was there until now all the same: when this actor
        // lost the device earlier (its session's node seemed gone) and the
        // user is offline, last_seen must not stay at that older moment.
        if (st.devices.empty() && i == st.devices.end())
          record_leave(self, st.env->now());
        return;
      }
      actors_log().debug("{}: device {} leaves", st.user_id, device_id);
      st.devices.erase(i);
      release_session(self, session);
      devices_changed(self, st.env->now());
    },
    [](heartbeat_atom, const std::string& device_id, millis at) {
      auto self = current<user_self>();
      auto& st = self->state;
      auto i = st.devices.find(device_id);
      if (i == st.devices.end()) {
        actors_log().debug("{}: heartbeat of unknown device {}: rejoin",
                           st.user_id, device_id);
        // A device this actor does not hold (dropped while its node was
        // cut off, or lost in a move): its session registers again.
        if (auto sender = caf::actor_cast<session_api>(self->current_sender()))
          caf::anon_send(sender, rejoin_atom::value, device_id);
        return;
      }
      // The edge's clock may run ahead of ours (another node): never
      // later than now, never earlier than what we knew.
      auto& last = i->second.view.last_active;
      auto seen = std::min(at, st.env->now());
      actors_log().trace("{}: activity of {} at {}", st.user_id, device_id, at);
      if (seen <= last)
        return; // nothing new (a late or repeated heartbeat)
      last = seen;
      // Checkpointed at once: the edge sends a device's activity about
      // once per gap (its flusher, edge/common/activity.hpp; an Engine.IO
      // pong every ping interval). Throttled here, most would wait for a
      // timer in step with the user's last state change rather than with
      // the flusher's rounds: a timer per user per interval.
      send_checkpoint(self);
    },
    [](status_atom, const std::string& device_id,
       presence_status status) -> caf::result<user_status> {
      auto self = current<user_self>();
      auto& st = self->state;
      auto i = st.devices.find(device_id);
      if (i == st.devices.end() || status == presence_status::offline)
        return make_error(errc::invalid_argument);
      i->second.view.status = status;
      i->second.view.chosen = true;
      i->second.view.last_active = st.env->now();
      // The client chose: not automatic any more, and it counts as input.
      i->second.view.auto_away_active = false;
      i->second.view.last_input = st.env->now();
      arm_idle(self, device_id);
      recompute(self);
      checkpoint(self);
      return own_snapshot(st);
    },
    [](status_atom, const std::string& text,
       millis expires) -> caf::result<user_status> {
      auto self = current<user_self>();
      auto& st = self->state;
      if (!st.online && !st.hidden)
        return make_error(errc::invalid_argument);
      if (text == st.status_text && expires == st.status_expires)
        return own_snapshot(st);
      st.status_text = text;
      st.status_expires = text.empty() ? 0 : expires;
      auto gen = ++st.text_gen;
      if (st.status_expires > 0)
        self->delayed_send(self,
                           std::chrono::milliseconds{
                             std::max<millis>(st.status_expires - st.env->now(),
                                              0)},
                           expire_atom::value, gen);
      if (st.online) { // an invisible user's message shows when they do
        st.version = next_version(st.version, st.env->now());
        emit(self);
      }
      return own_snapshot(st);
    },
    [](activity_atom, const std::string& device_id, millis at) {
      auto self = current<user_self>();
      auto& st = self->state;
      auto i = st.devices.find(device_id);
      if (i == st.devices.end())
        return;
      auto& v = i->second.view;
      auto t = std::max(v.last_input, std::min(at, st.env->now()));
      v.last_input = t;
      v.last_active = std::max(v.last_active, t);
      if (v.auto_away_active) {
        v.auto_away_active = false;
        v.status = presence_status::online;
        recompute(self);
      }
      arm_idle(self, device_id);
    },
    [](idle_atom, const std::string& device_id, uint64_t gen) {
      auto self = current<user_self>();
      auto& st = self->state;
      auto i = st.devices.find(device_id);
      if (i == st.devices.end() || i->second.timer_gen != gen)
        return;
      i->second.idle_armed = false;
      auto& v = i->second.view;
      if (v.auto_away == 0)
        return;
      if (v.last_input + v.auto_away > st.env->now()) {
        arm_idle(self, device_id); // input since: check again later
        return;
      }
      if (v.status == presence_status::online && !v.auto_away_active) {
        v.status = presence_status::away;
        v.auto_away_active = true;
        recompute(self);
      }
      // Stays away until input, which re-arms the check below.
    },
    [](expire_atom, uint64_t gen) {
      auto self = current<user_self>();
      auto& st = self->state;
      if (gen != st.text_gen || st.status_text.empty())
        return;
      st.status_text.clear();
      st.status_expires = 0;
      if (!st.online)
        return; // invisible: nobody else saw it
      st.version = next_version(st.version, st.env->now());
      emit(self);
    },
    [](get_atom) { return snapshot(current<user_self>()->state); },
    [](contacts_atom, const contact_settings& s) {
      auto self = current<user_self>();
      auto& st = self->state;
      auto vis = make_visibility(s, st.env->cfg.contacts_by_default);
      if (same_visibility(vis, st.vis))
        return;
      // Everyone learns what they may see now: the newly hidden see the
      // user go offline (this version is the one they are told), the newly
      // allowed see the truth.
      st.version = next_version(st.version, st.env->now());
      st.vis = with_since(vis, st.version);
      emit(self);
    },
    [](touch_atom, const std::string& device_id,
       const caf::actor_addr& session) -> caf::result<user_status> {
      auto self = current<user_self>();
      auto& st = self->state;
      if (ends_stale(self))
        return persistence::make_error(persistence::errc::unavailable);
      // The device came with a handover while its session had lost its user
      // actor: the session's leave went to the owner (its monitor on the
      // session may have been lost with a connection coming back).
      auto i = st.devices.find(device_id);
      if (i != st.devices.end() && i->second.session.address() == session) {
        actors_log().debug(
          "{}: device {} leaves (its session had no user "
          "actor)",
          st.user_id, device_id);
        st.devices.erase(i);
        release_session(self, session);
        devices_changed(self, st.env->now());
        return snapshot(st);
      }
      return touch_now(self);
    },
    [](touch_atom) -> caf::result<user_status> {
      auto self = current<user_self>();
      if (ends_stale(self))
        return persistence::make_error(persistence::errc::unavailable);
      return touch_now(self);
    },
    [](message_atom, const chat_message& m, const std::string& except) {
      auto self = current<user_self>();
      // Every live device but the sender's gets it once (its session may
      // be on another node).
      uint32_t n = 0;
      for (auto& kvp : self->state.devices) {
        if (kvp.first == except || !kvp.second.session)
          continue;
        self->send(kvp.second.session, message_atom::value, kvp.first, m);
        ++n;
      }
      // No device: the sender queues it; the next join takes it.
      if (n == 0 && except.empty())
        self->state.maybe_queued = true;
      // Invisible, or hiding from the sender: "not delivered", as for
      // someone offline.
      auto& st = self->state;
      bool hide = st.hidden
                  || !may_see(viewer{m.sender_id, false}, st.user_id, st.vis);
      return hide ? n | hidden_recipient : n;
    },
    [](stop_atom) {
      auto self = current<user_self>();
      auto& st = self->state;
      if (!st.devices.empty() || st.in_grace || st.online_since != 0)
        return false;
      end_user(self);
      return true;
    },
    [](shutdown_atom) {
      auto self = current<user_self>();
      auto& st = self->state;
      if (!st.devices.empty())
        st.left_at = std::max(st.left_at, st.env->now());
      demonitor_sessions(self);
      st.devices.clear();
      go_offline(self, false);
      end_user(self);
      return true;
    },
    [](handover_atom, const node_registry_api& new_registry) {
      auto self = current<user_self>();
      auto& st = self->state;
      if (st.devices.empty()) {
        // Nothing live to move: finish here (a grace period ends early).
        if (st.online_since != 0)
          go_offline(self, false);
        end_user(self);
        return;
      }
      // Sent as this actor: the new owner's registry sees which node it
      // came from and never passes it straight back (shard_registry.cpp,
      // take_over).
      self->send(new_registry, handover_atom::value, make_transfer(st));
      // Silently: the new owner carries on; nobody else hears of the move.
      end_user(self);
    },
    [](handover_atom, user_transfer& t) {
      auto self = current<user_self>();
      auto& st = self->state;
      // Handed back to a stale actor (this node stood still, the others
      // took the user over and now give it back before the registry ended
      // the stale actors): the transfer is the truth, whole (devices,
      // sessions, status, online_since, visibility). This actor ends
      // quietly and the transfer goes back to the registry, which starts
      // the user's next actor from it (end_stale).
      if (ends_stale(self)) {
        actors_log().debug(
          "{}: handed back while stale: the transfer "
          "starts a new actor",
          st.user_id);
        self->forward_current();
        return;
      }
      for (size_t i = 0; i < t.devices.size() && i < t.sessions.size(); ++i)
        if (st.devices.count(t.devices[i].device_id) == 0)
          add_device(self, t.devices[i], t.sessions[i]);
      st.version = std::max(st.version, t.version);
      if (st.online_since == 0
          || (t.online_since > 0 && t.online_since < st.online_since))
        st.online_since = t.online_since;
      if (t.online && !st.online) {
        // Others saw the user online through the old owner: what they see
        // next (online, or offline if hidden here) is announced.
        st.online = true;
        st.status = t.status;
      }
      rehome_sessions(self);
      recompute(self);
      checkpoint(self);
    },
    [](delta_atom) {
      auto self = current<user_self>();
      auto& st = self->state;
      // A hidden user is announced (offline) too: a side that missed the
      // hide must not keep them online.
      if (!st.online && !st.hidden)
        return;
      st.version = next_version(st.version, st.env->now());
      emit(self);
    },
    [](stale_atom) { end_stale(current<user_self>()); },
    [](checkpoint_atom) {
      auto self = current<user_self>();
      self->state.checkpoint_armed = false;
      send_checkpoint(self);
    },
    [](drop_atom, const caf::node_id& dead) {
      auto self = current<user_self>();
      drop_devices(self,
                   [&](const session_api& s) { return s && s.node() == dead; });
    },
    [](ttl_atom, uint64_t gen) {
      auto self = current<user_self>();
      auto& st = self->state;
      if (gen != st.ttl_gen)
        return; // a later arm_ttl replaced this timer
      st.ttl_due = 0;
      auto ttl = st.env->cfg.heartbeat_ttl.count();
      auto now = st.env->now();
      std::vector<std::string> expired;
      millis next = -1;
      for (auto& kvp : st.devices) {
        auto rem = ttl_remaining(kvp.second.view.last_active, ttl, now);
        if (rem <= 0)
          expired.push_back(kvp.first);
        else if (next < 0 || rem < next)
          next = rem;
      }
      // Expired while the process stood still: the new owner has them.
      if (!expired.empty() && ends_stale(self))
        return;
      for (auto& device_id : expired) {
        auto i = st.devices.find(device_id);
        if (i == st.devices.end())
          continue;
        auto end = i->second.view.last_active;
        auto session = i->second.session;
        caf::anon_send(session, expire_atom::value, device_id,
                       std::string{"heartbeat timeout"});
        st.devices.erase(i);
        release_session(self, session.address());
        devices_changed(self, end);
      }
      if (next >= 0 && !st.devices.empty())
        arm_ttl(self, next);
    },
    [](grace_atom, uint64_t epoch) {
      auto self = current<user_self>();
      auto& st = self->state;
      if (st.in_grace && epoch == st.grace_epoch && st.devices.empty())
        go_offline(self, true);
    },
  };
  return shared;
}

void user_from_init(user_ptr self, user_transfer t,
                    std::shared_ptr<const user_env> env) {
  auto& st = self->state;
  st.user_id = t.user_id;
  st.env = std::move(env);
  st.born = st.env->now();
  st.online = t.online;
  st.status = t.status;
  st.online_since = t.online_since;
  st.last_seen = t.last_seen;
  st.left_at = t.left_at;
  st.version = t.version;
  st.status_text = t.status_text;
  st.status_expires = t.status_expires;
  st.vis = t.vis;
  // Not known here: the next join asks the store.
  st.maybe_queued = true;
  if (!st.status_text.empty() && st.status_expires > 0)
    self->delayed_send(self,
                       std::chrono::milliseconds{
                         std::max<millis>(st.status_expires - st.env->now(),
                                          0)},
                       expire_atom::value, st.text_gen);
  install_down_handler(self);
  for (size_t i = 0; i < t.devices.size() && i < t.sessions.size(); ++i)
    add_device(self, t.devices[i], t.sessions[i]);
  rehome_sessions(self);
  // Announced again with a new version: to the nodes that saw it all along
  // nothing changes, and a side that was cut off (and heard otherwise)
  // catches up. The visible state is the same, so nobody sees a flicker.
  if (st.online) {
    st.version = next_version(st.version, st.env->now());
    emit(self);
  }
  recompute(self);
  // The open-session mark now lives on this owner's replicas.
  checkpoint(self);
}

} // namespace

user_control_api spawn_user_from(caf::actor_system& sys, user_transfer t,
                                 std::shared_ptr<const user_env> env) {
  return user_self::spawn(sys, running(), [&](user_ptr self) {
    user_from_init(self, std::move(t), std::move(env));
  });
}

user_control_api spawn_user(caf::actor_system& sys, std::string user_id,
                            std::shared_ptr<const user_env> env) {
  return user_self::spawn(sys, running(), [&](user_ptr self) {
    user_init(self, std::move(user_id), std::move(env));
  });
}

} // namespace presence::actors
