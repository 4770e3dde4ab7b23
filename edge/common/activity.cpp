#include "edge/common/activity.hpp"

#include <algorithm>
#include <vector>

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
}

bool activity_cell::record(millis t, millis gap) {
  last_.store(t, std::memory_order_release);
  if (t - sent_.load(std::memory_order_acquire) >= gap) {
    sent_.store(t, std::memory_order_release);
    forward f;
    f.at = t;
    route_of(f);
    send(f);
    return false;
  }
  return !dirty_.exchange(true, std::memory_order_acq_rel);
}

bool activity_cell::take(forward& out) {
  auto t = last_.load(std::memory_order_acquire);
  if (t <= sent_.load(std::memory_order_acquire)) {
    // Nothing new: quiet again. A record() between the load above and this
    // store sees the cell dirty and does not hand it over; look again.
    dirty_.store(false, std::memory_order_release);
    t = last_.load(std::memory_order_acquire);
    if (t <= sent_.load(std::memory_order_acquire)
        || dirty_.exchange(true, std::memory_order_acq_rel))
      return false;
  }
  sent_.store(t, std::memory_order_release);
  out.at = t;
  route_of(out);
  return true;
}

void activity_cell::route_of(forward& out) {
  std::lock_guard<std::mutex> guard{mu_};
  out.session = session_;
  out.user = user_;
  out.device_id = device_id_;
}

void activity_cell::send(const forward& f) {
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

// -- the flusher ----------------------------------------------------------------

namespace {

/// The flusher's full interface: its tick is private.
using flusher_impl_api
  = activity_flusher_api::extend<caf::reacts_to<tick_atom>>;

struct flusher_state {
  std::chrono::milliseconds gap{0};
  /// Busy cells (each once).
  std::vector<activity_cell_ptr> busy;
  bool armed = false;
  static inline const char* name = "presence.activity";
};

using flusher_ptr = flusher_impl_api::stateful_pointer<flusher_state>;

/// Forwards what every busy cell recorded; forgets the quiet ones.
void flush(flusher_ptr self) {
  auto& busy = self->state.busy;
  activity_cell::forward f;
  for (size_t i = 0; i < busy.size();) {
    if (busy[i]->take(f)) {
      activity_cell::send(f);
      ++i;
    } else {
      busy[i] = std::move(busy.back());
      busy.pop_back();
    }
  }
}

flusher_impl_api::behavior_type flusher_impl(flusher_ptr self,
                                             std::chrono::milliseconds gap) {
  self->state.gap = gap;
  return {
    [=](activity_atom, const activity_cell_ptr& cell) {
      auto& st = self->state;
      st.busy.push_back(cell);
      if (!st.armed) {
        st.armed = true;
        self->delayed_send(self, st.gap, tick_atom::value);
      }
    },
    [=](tick_atom) {
      auto& st = self->state;
      st.armed = false;
      flush(self);
      if (!st.busy.empty()) {
        st.armed = true;
        self->delayed_send(self, st.gap, tick_atom::value);
      }
    },
  };
}

} // namespace

activity_flusher_api spawn_activity_flusher(caf::actor_system& sys,
                                            std::chrono::milliseconds gap) {
  return sys.spawn(flusher_impl, gap);
}

} // namespace presence::edge
