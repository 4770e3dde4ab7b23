#include "edge/common/activity.hpp"

#include "edge/common/edge_log.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_clock.hpp>
#include <caf/exit_reason.hpp>
#include <caf/system_messages.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace presence::edge {

// -- activity_cell ------------------------------------------------------------

void activity_cell::route(session_api session, user_api user,
                          std::string device_id) {
  std::lock_guard<std::mutex> guard{mu_};
  session_ = std::move(session);
  user_ = std::move(user);
  device_id_ = std::move(device_id);
  fresh_ = verify_fresh;
}

void activity_cell::known(millis t) {
  auto prev = sent_.load(std::memory_order_relaxed);
  while (prev < t
         && !sent_.compare_exchange_weak(prev, t, std::memory_order_release,
                                         std::memory_order_relaxed)) {
  }
}

bool activity_cell::record(millis t, millis urgent) {
  // The latest wins: a record racing on another thread with an older
  // clock reading does not move the time back.
  auto prev = last_.load(std::memory_order_relaxed);
  while (prev < t
         && !last_.compare_exchange_weak(prev, t, std::memory_order_release,
                                         std::memory_order_relaxed)) {
  }
  if (t - sent_.load(std::memory_order_acquire) >= urgent) {
    forward f;
    f.at = t;
    {
      std::lock_guard<std::mutex> guard{mu_};
      copy_route(f);
    }
    // No user actor right now (it went down, a rejoin is under way): kept
    // unsent for the flusher, which sends it once the session is routed
    // again. Marked sent here, it was lost: the new owner started the
    // device at its join, and last_seen could end under what the client
    // was told (found by review; the chaos test's unexplained case).
    if (f.user) {
      sent_.store(t, std::memory_order_release);
      send(f);
    }
  }
  return hand();
}

bool activity_cell::take(forward& out, millis verify_after) {
  auto t = last_.load(std::memory_order_acquire);
  if (t <= sent_.load(std::memory_order_acquire))
    return false;
  std::lock_guard<std::mutex> guard{mu_};
  copy_route(out);
  if (!out.user)
    return false; // kept until the session has a user actor again (record)
  sent_.store(t, std::memory_order_release);
  out.at = t;
  if (fresh_ > 0) {
    --fresh_;
    out.verify = true;
  } else {
    out.verify = ++takes_ % verify_every == 0
                 || (verify_after > 0 && t - verified_at_ >= verify_after);
  }
  if (out.verify) {
    verified_at_ = t;
    takes_ = 0;
  }
  return true;
}

void activity_cell::peek(forward& out) const {
  std::lock_guard<std::mutex> guard{mu_};
  copy_route(out);
}

void activity_cell::copy_route(forward& out) const {
  out.session = session_;
  out.user = user_;
  out.device_id = device_id_;
}

void activity_cell::send(const forward& f) {
  if (log_edge().should_log(spdlog::level::trace))
    log_edge().trace("{}: activity at {} to {}", f.device_id, f.at,
                     f.user ? caf::to_string(f.user.address()) : "nobody");
  if (f.user)
    caf::send_as(f.session, f.user, heartbeat_atom::value, f.device_id, f.at);
}

std::chrono::milliseconds activity_gap(std::chrono::milliseconds checkpoint,
                                       std::chrono::milliseconds ttl) {
  if (checkpoint.count() == 0)
    return checkpoint;
  return std::max(std::chrono::milliseconds{1}, std::min(checkpoint, ttl / 3));
}

std::chrono::milliseconds activity_gap(const config& cfg) {
  return activity_gap(cfg.persistence.checkpoint_interval,
                      cfg.actors.heartbeat_ttl);
}

millis activity_urgent(std::chrono::milliseconds gap,
                       std::chrono::milliseconds ttl) {
  if (gap.count() == 0)
    return 0;
  return std::max(gap.count(), ttl.count() - 2 * gap.count());
}

// -- the flusher ----------------------------------------------------------------

namespace {

/// The flusher's full interface: its tick is private.
using flusher_impl_api
  = activity_flusher_api::extend<caf::reacts_to<tick_atom>>;

struct flusher_state {
  std::chrono::milliseconds gap{0};
  /// A round over every cell takes a gap, in `slices` ticks of
  /// `gap / slices`, each looking at its share of the cells: the messages
  /// to user actors (and their checkpoints) spread over the gap instead of
  /// one burst per gap (19,000 at once stalled the pings behind them).
  /// Set when a round begins (round_slices): a tick's share is at least
  /// min_flusher_share cells, so a node with few cells wakes its threads
  /// a few times per gap rather than ten times a second.
  uint32_t slices = 1;
  /// Every cell handed over whose connection may still be there; the
  /// ones gone are dropped when a round ends.
  std::vector<std::weak_ptr<activity_cell>> cells;
  /// The current round: cells [0, round_end) as they were when it began
  /// (cells handed over meanwhile wait for the next round), `next` the
  /// first one of the next tick's share, `ticks_left` in the round.
  size_t round_end = 0;
  size_t next = 0;
  uint32_t ticks_left = 0;
  /// When the next tick is due (ticks keep to the schedule however late
  /// one runs), and whether one is armed.
  caf::actor_clock::time_point due;
  bool armed = false;
  /// With a gap of 0 (no rounds): the size at which gone cells are
  /// dropped next.
  size_t prune_at = 1024;
  /// The nodes of the last cluster view (empty: none came, not a cluster),
  /// and its version.
  std::set<caf::node_id> alive;
  uint64_t view_version = 0;
  /// Rounds that still check every route against `alive` when they begin
  /// (check_routes).
  uint32_t rechecks = 0;
  static inline const char* name = "presence.activity";
};

using flusher_ptr = flusher_impl_api::stateful_pointer<flusher_state>;

/// Drops the cells whose connection is gone.
void drop_gone(std::vector<std::weak_ptr<activity_cell>>& cells) {
  cells.erase(std::remove_if(cells.begin(), cells.end(),
                             [](const std::weak_ptr<activity_cell>& c) {
                               return c.expired();
                             }),
              cells.end());
}

/// Ticks per round: one per `flusher_slice`, at most `max_flusher_slices`,
/// and no more than one per `min_flusher_share` cells. Each tick wakes the
/// clock's thread, a CAF worker and the store's thread (~20 us of CPU on
/// this PVM guest for each wake-up): with 1,000 clients pinging once a
/// second, ten ticks a second of 20 cells each were ~2 us per ping
/// (docs/benchmarks.md, twenty-sixth session).
constexpr std::chrono::milliseconds flusher_slice{100};
constexpr uint32_t max_flusher_slices = 50;
constexpr size_t min_flusher_share = 256;

/// The ticks of a round over `cells` cells with gap `gap`.
uint32_t round_slices(std::chrono::milliseconds gap, size_t cells) {
  auto by_time = std::clamp<int64_t>(gap / flusher_slice, 1,
                                     max_flusher_slices);
  auto shares = cells / min_flusher_share + (cells % min_flusher_share != 0);
  auto by_cells = static_cast<int64_t>(
    std::min<size_t>(shares, max_flusher_slices));
  return static_cast<uint32_t>(std::clamp<int64_t>(by_cells, 1, by_time));
}

/// Asks the user actor of `f` (on another node) whether it is there. CAF
/// compares remote handles by node and id, and a monitor asked for while
/// the connection between two nodes was coming back can be lost with the
/// connection: the session then holds a handle to a user actor that has
/// ended, sends it heartbeats nobody reads, and its user reads offline
/// everywhere while its client is connected (found by the chaos test after
/// a SIGSTOP/SIGCONT). An error (the actor is gone, or no answer in time)
/// makes the session register again; a rejoin is idempotent.
void verify(flusher_ptr self, const activity_cell::forward& f) {
  auto session = f.session;
  auto device = f.device_id;
  self->request(f.user, self->state.gap * 2, get_atom::value)
    .then([](user_status&) {},
          [=](caf::error&) {
            caf::anon_send(session, rejoin_atom::value, device);
          });
}

/// Gives every session whose user actor is on a node the last view does not
/// hold the down message CAF would send for it (activity.hpp); `when`
/// names the occasion in the log.
void check_routes(flusher_ptr self, const char* when) {
  auto& st = self->state;
  if (st.alive.empty())
    return;
  size_t lost = 0;
  activity_cell::forward f;
  for (auto& c : st.cells)
    if (auto cell = c.lock()) {
      cell->peek(f);
      if (f.user && f.session && st.alive.count(f.user.node()) == 0) {
        ++lost;
        caf::anon_send(
          caf::actor_cast<caf::actor>(f.session),
          caf::down_msg{f.user.address(),
                        caf::exit_reason::remote_link_unreachable});
      }
    }
  if (lost > 0)
    log_edge().debug(
      "view {} ({}): {} sessions' user actors are on nodes it "
      "no longer holds: they join again",
      st.view_version, when, lost);
}

/// Forwards what this tick's share of the round's cells recorded since the
/// last round. A round is exactly `slices` ticks, so each live cell is
/// looked at once per gap (two looks are less than two gaps apart); the
/// cells whose connection is gone are dropped when a round ends (not
/// before: the order must not change under a round, or a cell could miss
/// its turn).
void flush(flusher_ptr self) {
  auto& st = self->state;
  auto& cells = st.cells;
  if (st.ticks_left == 0) {
    drop_gone(cells);
    st.round_end = cells.size();
    st.next = 0;
    st.slices = round_slices(st.gap, cells.size());
    st.ticks_left = st.slices;
    // A session may be routed to an actor on a dropped node after the view
    // came (a join answer in flight, a registry whose view lagged): the
    // next rounds check again.
    if (st.rechecks > 0) {
      --st.rechecks;
      check_routes(self, "a later round");
    }
  }
  auto share = (st.round_end - st.next + st.ticks_left - 1) / st.ticks_left;
  auto end = st.next + share;
  auto verify_after = st.gap.count() * activity_cell::verify_every;
  activity_cell::forward f;
  for (auto i = st.next; i < end; ++i)
    if (auto cell = cells[i].lock(); cell && cell->take(f, verify_after)) {
      activity_cell::send(f);
      if (f.verify && f.user && f.user.node() != self->node())
        verify(self, f);
    }
  st.next = end;
  --st.ticks_left;
}

flusher_impl_api::behavior_type flusher_impl(flusher_ptr self,
                                             std::chrono::milliseconds gap) {
  auto& st = self->state;
  st.gap = gap;
  // The first tick comes a time slice after the first cell (a round then
  // begins and sizes its ticks by the cells it has).
  st.slices = round_slices(gap, std::numeric_limits<size_t>::max());
  // Arms the next tick a tick after the last one was due (at the latest
  // now: a flusher that fell behind does not catch up in a burst).
  auto arm = [self] {
    auto& st = self->state;
    auto now = self->clock().now();
    st.due = std::max(st.due + st.gap / st.slices, now);
    st.armed = true;
    self->scheduled_send(self, st.due, tick_atom::value);
  };
  return {
    [=](activity_atom, const activity_cell_ptr& cell) {
      auto& st = self->state;
      st.cells.emplace_back(cell);
      if (st.gap.count() == 0) {
        // Every activity went at once: the cells are kept for the views
        // only, and the gone ones dropped here (there are no rounds).
        if (st.cells.size() >= st.prune_at) {
          drop_gone(st.cells);
          st.prune_at = std::max<size_t>(1024, 2 * st.cells.size());
        }
        return;
      }
      if (!st.armed) {
        st.due = self->clock().now();
        arm();
      }
    },
    [=](view_atom, const cluster_view& v) {
      auto& st = self->state;
      st.alive = {self->node()};
      for (auto& m : v.members)
        if (m.membership)
          st.alive.insert(m.membership.node());
      st.view_version = v.version;
      st.rechecks = 2;
      check_routes(self, "as it came");
    },
    [=](tick_atom) {
      auto& st = self->state;
      st.armed = false;
      flush(self);
      // Ticks go on while cells are there (the round that drops the last
      // dead ones ends it).
      if (!st.cells.empty())
        arm();
    },
  };
}

} // namespace

activity_flusher_api spawn_activity_flusher(caf::actor_system& sys,
                                            std::chrono::milliseconds gap) {
  return sys.spawn(flusher_impl, gap);
}

} // namespace presence::edge
