#pragma once

// Heartbeats are answered where they arrive: the WebSocket's strand replies
// at once and records the client's activity in the device's activity cell,
// a few atomic stores and no message. The node's activity flusher looks at
// every live cell once per gap (--checkpoint-interval) and sends the latest
// activity of each one that moved to its user actor, so the user actor's
// checkpoints (crash recovery) and TTL stay as fresh as before while a
// ping costs no actor message. Only activity after a long silence (when the
// device could expire before the flusher's next round) goes to the user
// actor at once, from the strand.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>

#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::edge {

/// Where a device's activity goes and what is waiting to go there. Shared
/// by the endpoint (records, on its strand), the session actor (routes, on
/// a CAF thread; a Socket.IO actor also records), and the flusher (takes).
/// Thread-safe.
class activity_cell {
public:
  /// Where the activity goes, and when.
  struct forward {
    millis at = 0;
    session_api session;
    user_api user;
    std::string device_id;
    /// The flusher also asks the user actor whether it is still there
    /// (see verify_fresh).
    bool verify = false;
  };

  /// The flusher's sends to a user actor on another node that are also
  /// requests (activity_flusher): the first `verify_fresh` after the
  /// session's user actor changed (a rejoin or rehome, when the link
  /// between the nodes may just be coming back), then every
  /// `verify_every`-th, and at the latest when `verify_every` gaps of
  /// activity passed since the last one (a client that pings less often
  /// than once a gap has fewer reports to count). A session whose user
  /// actor died without the
  /// session hearing of it (its monitor was set up while the connection
  /// between the nodes came back, and was lost) learns it that way and
  /// registers again.
  static constexpr uint32_t verify_fresh = 3;
  static constexpr uint32_t verify_every = 6;

  /// The session's device is held by `user` now; an invalid `user` (not
  /// joined) drops what comes. Called by the session actor whenever its
  /// device link changes.
  void route(session_api session, user_api user, std::string device_id);

  /// The user actor knows the client active at `t`: its join (or rejoin)
  /// started the device then. A record within `urgent` of it is left to
  /// the flusher instead of sent at once: the first pings after a storm of
  /// joins were one message each to every user actor, and a checkpoint
  /// each, in the same second (docs/benchmarks.md, eighteenth session).
  void known(millis t);

  /// The client was active at `t`: sent to the user actor at once if the
  /// last send is at least `urgent` old (activity_urgent), else left for
  /// the flusher. Returns true the first time only: the caller hands the
  /// cell to the flusher, which looks at it every gap while it lives.
  /// Called on the socket's strand, and by a Socket.IO session actor (its
  /// `ping` event, polling requests) at the same time: two records racing
  /// may both send, or leave a time a few ms older to the flusher; never
  /// lose the later one for longer than a gap.
  bool record(millis t, millis urgent);

  /// Flusher only: the latest activity not sent yet, and where to (a copy).
  /// False if there is none. `verify_after`: activity time after which a
  /// send verifies again whatever the count (0: by count only).
  bool take(forward& out, millis verify_after = 0);

  /// The latest recorded activity (0: none).
  millis last() const { return last_.load(std::memory_order_acquire); }

  /// True the first time only: the caller hands the cell to the flusher
  /// (edge_context::track_activity; record does the same on its own).
  bool hand() {
    return !handed_.load(std::memory_order_relaxed)
           && !handed_.exchange(true, std::memory_order_acq_rel);
  }

  /// Where the activity goes now (a copy; `at` and `verify` untouched).
  void peek(forward& out) const;

  /// Sends `f` to its user actor as its session (a user actor that does
  /// not know the device asks that session to join again).
  static void send(const forward& f);

private:
  /// Copies the route into `out` (mu_ held).
  void copy_route(forward& out) const;

  std::atomic<millis> last_{0};
  std::atomic<millis> sent_{0};
  std::atomic<bool> handed_{false};
  /// Rounds that had activity to send (the flusher's only), and verifying
  /// sends still due since the route changed (guarded by mu_).
  uint32_t takes_ = 0;
  uint32_t fresh_ = 0;
  /// The activity time of the last verifying send (guarded by mu_).
  millis verified_at_ = 0;
  mutable std::mutex mu_; // guards the route
  session_api session_;
  user_api user_;
  std::string device_id_;
};

using activity_cell_ptr = std::shared_ptr<activity_cell>;

/// The node's activity flusher (activity.cpp): gets each cell once, when
/// its session starts (edge_context::track_activity); every gap it sends
/// the latest activity of every cell that moved to its user actor
/// (`heartbeat_atom`, sent as the session) and forgets the cells whose
/// connection is gone. Some of those sends to a user actor on another node
/// also ask it for its status (the first few after the session's user
/// actor changed, then every few: `activity_cell::verify_fresh`,
/// `verify_every`): no answer (it is gone, or unreachable) makes the
/// session register again (`rejoin_atom`).
///
/// It also follows the cluster's views: a session whose user actor is on a
/// node a view no longer holds gets the down message CAF would send for
/// it (`remote_link_unreachable`), so it registers again after
/// `rejoin_delay` unless a rehome comes first. CAF sends that message
/// itself when the connection to the node closes, except for a monitor
/// set up while that connection was coming back, which can be lost (the
/// chaos test: a session rehomed to a node just thawed, which was then
/// killed, never heard of it; its user was closed as an orphan and read
/// offline while connected). A second down for the same actor is ignored.
using activity_flusher_api
  = caf::typed_actor<caf::reacts_to<activity_atom, activity_cell_ptr>,
                     caf::reacts_to<view_atom, cluster_view>>;

/// Spawns the flusher of a node's edge (edge/server.cpp).
activity_flusher_api spawn_activity_flusher(caf::actor_system& sys,
                                            std::chrono::milliseconds gap);

/// The gap for a checkpoint interval and heartbeat TTL: the interval itself
/// (what checkpoints need; a quarter of it cost ~20 us per native ping at
/// one ping a second, docs/benchmarks.md), but at most a third of the TTL
/// (a device must hear of its heartbeats before it expires); at least 1 ms
/// (0 for a 0 interval, which sends every heartbeat).
std::chrono::milliseconds activity_gap(std::chrono::milliseconds checkpoint,
                                       std::chrono::milliseconds ttl);

/// The gap for a node's settings (--checkpoint-interval, --heartbeat-ttl).
std::chrono::milliseconds activity_gap(const config& cfg);

/// How old the last send must be for activity to go to the user actor at
/// once rather than through the flusher: TTL - 2 gaps (at least a gap).
/// Activity the flusher carries reaches the user actor within a gap, so a
/// device whose last send is younger than this cannot expire meanwhile;
/// after a longer silence the activity goes at once. 0 for a gap of 0
/// (every activity goes at once).
millis activity_urgent(std::chrono::milliseconds gap,
                       std::chrono::milliseconds ttl);

} // namespace presence::edge

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(presence::edge::activity_cell_ptr)
