#pragma once

// One device a session holds in the presence service: its join, the user
// actor holding it (which may move to another node, or die with its node),
// rejoins with back-off, rehoming and expiry. The native session holds one
// link; a Socket.IO session one per namespace. Both kinds of session
// implement `session_api` (core/messages.hpp) by calling these functions,
// so a user actor's notices mean the same thing to both.
//
// The functions run inside the owning session actor (`Self`, a typed
// actor whose interface includes `session_api` and the rejoin timer
// `(rejoin_atom, std::string key, uint64_t epoch, int attempt)`). A link
// may be gone by the time an answer comes (a Socket.IO namespace closed):
// every callback finds it again through `find`, which returns nullptr
// then. `key` names the link inside its session ("" for the native one,
// the namespace for Socket.IO).

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include <caf/system_messages.hpp>
#include <caf/error.hpp>

#include "core/messages.hpp"
#include "edge/common/activity.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/common/edge_log.hpp"

namespace presence::edge {

/// After the user actor holding a device went down, how long a session
/// waits for a rehome (the user moved nodes) before it joins again.
constexpr std::chrono::milliseconds rejoin_delay{200};

/// Rejoins tried before a session gives up on its device (the client is
/// then told the presence owner is lost and reconnects anywhere).
constexpr int max_rejoin_attempts = 8;

/// Back-off before rejoin attempt `attempt + 1`: 100 ms doubling, at most
/// 3.2 s.
inline std::chrono::milliseconds rejoin_backoff(int attempt) {
  return std::chrono::milliseconds(100 << std::min(attempt, 5));
}

/// The state of one device link.
struct device_link {
  enum class phase { idle, joining, joined };

  phase ph = phase::idle;
  /// Who the device joined as.
  std::string user_id;
  /// What a (re)join sends: device id, user agent, platform, status.
  device_info device;
  /// The user actor holding the device (joined), else invalid.
  user_api user;
  /// Bumped whenever `user` changes: stale rejoin timers see it.
  uint64_t epoch = 0;
  /// Where the edge records the client's activity (heartbeats answered at
  /// the edge); routed to `user` whenever it changes. May be null (the
  /// session sends heartbeats itself).
  activity_cell_ptr activity;
  /// The last join said private messages may wait in the user's offline
  /// queue (join_ack::queued): the session takes them once.
  bool queued = false;
  /// This session takes the offline queue on joins (join_request).
  bool collects_queue = false;
  /// The client's own name for the device, under which it takes the
  /// offline queue (its cursor there); "" when the client named none (the
  /// user's unnamed devices share one cursor).
  std::string queue_device;

  bool joined() const { return ph == phase::joined; }

  /// True if this link holds `device_id` right now.
  bool holds(const std::string& device_id) const {
    return ph == phase::joined && device.device_id == device_id;
  }
};

/// Points the link's activity cell at its current user actor.
template <class Self>
void route_activity(Self* self, const device_link& l) {
  if (l.activity)
    l.activity->route(session_api{self}, l.user, l.device.device_id);
}

/// The user actor that answered a join asked at `asked` started the device
/// no earlier: activity up to then is known there (activity_cell::known).
inline void joined_at(device_link& l, millis asked) {
  if (l.activity)
    l.activity->known(asked);
}

/// Follows the user actor holding the device (monitored, so its loss is
/// noticed).
template <class Self>
void set_user(Self* self, device_link& l, user_api user) {
  if (l.user == user)
    return;
  if (l.user)
    self->demonitor(l.user.address());
  l.user = std::move(user);
  ++l.epoch;
  if (l.user)
    self->monitor(l.user);
  route_activity(self, l);
}

/// The join request of `l`, held by `self`; `first`: a join, not a
/// rejoin (only a join takes the offline queue).
template <class Self>
join_request make_join(Self* self, const device_link& l, bool first = true) {
  join_request req;
  req.user_id = l.user_id;
  req.device = l.device;
  req.session = session_api{self};
  req.collects_queue = first && l.collects_queue;
  req.queue_device = l.queue_device;
  return req;
}

/// The device goes (the client left, or the socket closed): the user
/// actor hears it from this session (a leave from a session that was
/// replaced on the device is ignored there).
template <class Self>
void leave(Self* self, const edge_context& ctx, device_link& l) {
  if (l.ph == device_link::phase::joined) {
    if (l.user)
      self->send(l.user, leave_atom::value, l.device.device_id,
                 self->address());
    // Nobody hears that leave between a lost user actor and the rejoin:
    // the owner records the user seen now instead (a user actor there
    // without devices raises last_seen; none: the stored last_seen goes
    // up), so last_seen covers the client's last moment. (Not after every
    // leave to another node: when the leave went through first, that
    // touch moved a last_seen readers had seen by a few ms.)
    // With the device and this session: a user actor that got the device
    // by a handover meanwhile drops it (else the user stayed online there
    // until the TTL: a ghost found by the chaos test after a restart).
    if (!l.user)
      self
        ->request(ctx.api, ctx.cfg.actors.request_timeout, touch_atom::value,
                  l.user_id, l.device.device_id, self->address())
        .then([](user_status&) {},
              [user = l.user_id](caf::error& err) {
                log_edge().warn("{}: the leave's last_seen not recorded: {}",
                                user, to_string(err));
              });
  }
  l.ph = device_link::phase::idle;
  set_user(self, l, user_api{});
}

/// Joins `l` (user_id and device filled in by the caller). On success the
/// link is joined and `ok(ack)` runs; on failure it is idle again (unless
/// another join for it is under way) and `fail(err)` runs. If the link is
/// gone or joined someone else meanwhile, the join is undone and `gone()`
/// runs instead.
template <class Self, class Find, class Ok, class Fail, class Gone>
void join(Self* self, const edge_context& ctx, device_link& l, Find find, Ok ok,
          Fail fail, Gone gone) {
  l.ph = device_link::phase::joining;
  auto user = l.user_id;
  auto asked = ctx.now();
  self
    ->request(ctx.api, ctx.cfg.actors.request_timeout, join_atom::value,
              make_join(self, l))
    .then(
      [=](join_ack& ack) mutable {
        device_link* lk = find();
        if (lk == nullptr || lk->user_id != user) {
          self->send(ack.user, leave_atom::value, ack.device_id,
                     self->address());
          gone();
          return;
        }
        set_user(self, *lk, ack.user);
        joined_at(*lk, asked);
        lk->ph = device_link::phase::joined;
        lk->queued = ack.queued;
        ok(ack);
      },
      [=](caf::error& err) mutable {
        device_link* lk = find();
        if (lk != nullptr && lk->ph == device_link::phase::joining)
          lk->ph = device_link::phase::idle;
        fail(err);
      });
}

/// Registers the device again (its user actor is gone, or does not know
/// it): the ring may name another owner now. Idempotent per session, so a
/// late duplicate does no harm. After max_rejoin_attempts failures `lost()`
/// runs (the session closes its client).
template <class Self, class Find, class Lost>
void rejoin(Self* self, const edge_context& ctx, const std::string& key,
            uint64_t epoch, int attempt, Find find, Lost lost) {
  device_link* l = find();
  if (l == nullptr || !l->joined() || l->epoch != epoch)
    return;
  auto asked = ctx.now();
  self
    ->request(ctx.api, ctx.cfg.actors.request_timeout, join_atom::value,
              make_join(self, *l, false))
    .then(
      [=](join_ack& ack) {
        device_link* lk = find();
        if (lk == nullptr || lk->epoch != epoch || !lk->joined())
          return;
        log_edge().debug("{}: rejoined (attempt {})", lk->user_id, attempt + 1);
        set_user(self, *lk, ack.user);
        joined_at(*lk, asked);
      },
      [=](caf::error& err) {
        device_link* lk = find();
        if (lk == nullptr || lk->epoch != epoch)
          return;
        log_edge().debug("rejoin of {} (attempt {}) failed: {}", lk->user_id,
                         attempt + 1, self->system().render(err));
        if (attempt >= max_rejoin_attempts) {
          log_edge().warn("{}: presence owner lost after {} rejoins ({})",
                          lk->user_id, attempt + 1, self->system().render(err));
          lost();
          return;
        }
        self->delayed_send(self, rejoin_backoff(attempt), rejoin_atom::value,
                           key, epoch, attempt + 1);
      });
}

/// The user actor holding `l` went down (it moved, or its node died):
/// returns true if it was `l`'s, and then schedules a rejoin after
/// rejoin_delay (a rehome arriving first makes that timer stale).
template <class Self>
bool user_down(Self* self, device_link& l, const std::string& key,
               const caf::down_msg& dm) {
  if (!l.joined() || !l.user || l.user.address() != dm.source)
    return false;
  log_edge().debug("{}: its user actor went down ({}): rejoin soon", l.user_id,
                   self->system().render(dm.reason));
  // The down may be the activity flusher's (a view dropped the actor's
  // node) while CAF's monitor is still in place.
  self->demonitor(dm.source);
  l.user = user_api{};
  route_activity(self, l);
  auto epoch = ++l.epoch;
  self->delayed_send(self, rejoin_delay, rejoin_atom::value, key, epoch, 0);
  return true;
}

/// session_api's rehome: the device is held by `user` now.
template <class Self>
void rehome(Self* self, device_link& l, const std::string& device_id,
            const user_api& user) {
  if (l.holds(device_id)) {
    log_edge().debug("{}: rehomed", l.user_id);
    set_user(self, l, user);
  }
}

/// session_api's rejoin: the user actor does not know the device (any
/// more); register again at once.
template <class Self, class Find, class Lost>
void rejoin_now(Self* self, const edge_context& ctx, device_link& l,
                const std::string& key, const std::string& device_id, Find find,
                Lost lost) {
  if (l.holds(device_id))
    rejoin(self, ctx, key, ++l.epoch, 0, find, lost);
}

/// session_api's expire: returns true if `l` held `device_id`, which is
/// then gone (the session tells its client).
template <class Self>
bool expire(Self* self, device_link& l, const std::string& device_id) {
  if (!l.holds(device_id))
    return false;
  l.ph = device_link::phase::idle;
  set_user(self, l, user_api{});
  return true;
}

} // namespace presence::edge
