#include "actors/ttl_sweep.hpp"

#include <algorithm>
#include <chrono>

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "core/messages.hpp"

namespace presence::actors {

ttl_wheel::ttl_wheel(millis granularity)
  : step_(std::max<millis>(granularity, 1)) {
  // nop
}

millis ttl_wheel::step_of(millis due) const {
  return (std::max<millis>(due, 0) + step_ - 1) / step_ * step_;
}

bool ttl_wheel::arm(millis due, caf::actor_addr who, uint64_t gen) {
  auto step = step_of(due);
  std::lock_guard<std::mutex> guard{mu_};
  bool first = steps_.empty() || step < steps_.begin()->first;
  steps_[step].push_back(entry{std::move(who), gen});
  ++size_;
  return first;
}

bool ttl_wheel::disarm(millis due, const caf::actor_addr& who) {
  auto step = step_of(due);
  std::lock_guard<std::mutex> guard{mu_};
  auto i = steps_.find(step);
  if (i == steps_.end())
    return false;
  auto& es = i->second;
  auto j = std::find_if(es.begin(), es.end(),
                        [&who](const entry& e) { return e.who == who; });
  if (j == es.end())
    return false;
  // A step's entries are due together: their order does not matter.
  *j = std::move(es.back());
  es.pop_back();
  --size_;
  if (es.empty())
    steps_.erase(i); // the sweeper finds nothing due there
  return true;
}

std::vector<ttl_wheel::entry> ttl_wheel::take_due(millis now) {
  std::vector<entry> out;
  std::lock_guard<std::mutex> guard{mu_};
  while (!steps_.empty() && steps_.begin()->first <= now) {
    auto& es = steps_.begin()->second;
    if (out.empty())
      out.swap(es);
    else
      out.insert(out.end(), std::make_move_iterator(es.begin()),
                 std::make_move_iterator(es.end()));
    steps_.erase(steps_.begin());
  }
  size_ -= out.size();
  return out;
}

millis ttl_wheel::earliest() const {
  std::lock_guard<std::mutex> guard{mu_};
  return steps_.empty() ? 0 : steps_.begin()->first;
}

size_t ttl_wheel::size() const {
  std::lock_guard<std::mutex> guard{mu_};
  return size_;
}

millis ttl_step(millis ttl) {
  return std::clamp<millis>(ttl / 100, 10, 500);
}

namespace {

struct sweeper_state {
  std::shared_ptr<ttl_wheel> wheel;
  wall_clock now;
  /// The step the pending timer is for (0: none) and its generation.
  millis timer_for = 0;
  uint64_t gen = 0;
  /// The time the pending timer was set.
  millis armed_at = 0;
  static inline const char* name = "presence.ttl-sweep";
};

caf::behavior sweeper(caf::stateful_actor<sweeper_state>* self,
                      std::shared_ptr<ttl_wheel> wheel, wall_clock now,
                      caf::actor_addr owner) {
  self->state.wheel = std::move(wheel);
  self->state.now = std::move(now);
  // Ends with its registry.
  if (auto o = caf::actor_cast<caf::actor>(owner))
    self->monitor(o);
  else
    self->quit();
  self->set_down_handler([=](caf::down_msg&) { self->quit(); });
  return {
    [=](tick_atom, uint64_t gen) {
      auto& st = self->state;
      auto now = st.now();
      bool mine = gen != 0 && gen == st.gen;
      auto due = st.wheel->take_due(now);
      for (auto& e : due)
        if (auto a = caf::actor_cast<caf::actor>(e.who))
          caf::anon_send(a, ttl_atom::value, e.gen);
      if (mine) {
        st.timer_for = 0;
        // A timer that fired before the clock moved (a test scheduler
        // firing every timer at its end) is not set again: that would
        // never end. A real timer of >= 1 ms always sees the clock move.
        if (due.empty() && now == st.armed_at)
          return;
      }
      auto next = st.wheel->earliest();
      if (next == 0 || (st.timer_for != 0 && st.timer_for <= next))
        return;
      st.timer_for = next;
      st.armed_at = now;
      self->delayed_send(self,
                         std::chrono::milliseconds{
                           std::max<millis>(next - now, 1)},
                         tick_atom::value, ++st.gen);
    },
  };
}

} // namespace

caf::actor spawn_ttl_sweeper(caf::actor_system& sys,
                             std::shared_ptr<ttl_wheel> wheel, wall_clock now,
                             caf::actor_addr owner) {
  return sys.spawn(sweeper, std::move(wheel), std::move(now), std::move(owner));
}

} // namespace presence::actors
