#include "core/scheduler.hpp"

#include <caf/detail/set_thread_name.hpp>

namespace presence {

// -- lazy_clock ---------------------------------------------------------------

lazy_clock::~lazy_clock() {
  stop();
}

void lazy_clock::set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                                      caf::atom_value type, uint64_t id) {
  push(new ordinary_timeout(t, self->ctrl(), type, id), t);
}

void lazy_clock::set_request_timeout(time_point t, caf::abstract_actor* self,
                                     caf::message_id id) {
  push(new request_timeout(t, self->ctrl(), id), t);
}

void lazy_clock::set_multi_timeout(time_point t, caf::abstract_actor* self,
                                   caf::atom_value type, uint64_t id) {
  push(new multi_timeout(t, self->ctrl(), type, id), t);
}

void lazy_clock::cancel_ordinary_timeout(caf::abstract_actor* self,
                                         caf::atom_value type) {
  push(new ordinary_timeout_cancellation(self->id(), type), time_point::max());
}

void lazy_clock::cancel_request_timeout(caf::abstract_actor* self,
                                        caf::message_id id) {
  push(new request_timeout_cancellation(self->id(), id), time_point::max());
}

void lazy_clock::cancel_timeouts(caf::abstract_actor* self) {
  push(new timeouts_cancellation(self->id()), time_point::max());
}

void lazy_clock::schedule_message(time_point t, caf::strong_actor_ptr receiver,
                                  caf::mailbox_element_ptr content) {
  push(new actor_msg(t, std::move(receiver), std::move(content)), t);
}

void lazy_clock::schedule_message(time_point t, caf::group target,
                                  caf::strong_actor_ptr sender,
                                  caf::message content) {
  push(new group_msg(t, std::move(target), std::move(sender),
                     std::move(content)),
       t);
}

void lazy_clock::cancel_all() {
  push(new drop_all, time_point::max());
}

void lazy_clock::start() {
  thread_ = std::thread{[this] {
    // CAF's coordinator still runs its own (idle) "caf.clock" thread.
    caf::detail::set_thread_name("presenced.clock");
    run();
  }};
}

void lazy_clock::stop() {
  if (!thread_.joinable())
    return;
  push(new shutdown, time_point::min());
  thread_.join();
}

size_t lazy_clock::wakeups() const {
  std::lock_guard<std::mutex> guard{mu_};
  return wakeups_;
}

lazy_clock::time_point lazy_clock::coarse(time_point due, time_point now) {
  using namespace std::chrono;
  auto delay = duration_cast<microseconds>(due - now).count();
  // A timer fires up to a sixteenth of its delay late (at most ~65 ms), so
  // timers set at about the same time share one wake-up: a power of two of
  // microseconds at most delay / 16, due times rounded up to its multiple.
  // Short timers (the fan-out's coalescing window) stay exact.
  if (delay < 4096)
    return due;
  int64_t grain = 256;
  while (grain * 2 <= delay / 16 && grain < 65536)
    grain *= 2;
  auto us = duration_cast<microseconds>(due.time_since_epoch()).count();
  auto rounded = (us + grain - 1) / grain * grain;
  return time_point{duration_cast<time_point::duration>(microseconds{rounded})};
}

void lazy_clock::push(event* ptr, time_point due) {
  unique_event_ptr x{ptr};
  if (due != time_point::max() && due != time_point::min())
    due = coarse(due, now());
  std::lock_guard<std::mutex> guard{mu_};
  pending_.emplace_back(std::move(x), due);
  // Wake the thread only for what it must do before it planned to wake
  // (while it is awake wake_at_ is min: it reads pending_ before sleeping).
  // A long list of cancellations is applied early rather than kept.
  if (due < wake_at_ || pending_.size() >= 1024) {
    wake_at_ = time_point::min();
    cv_.notify_one();
  }
}

void lazy_clock::run() {
  std::vector<std::pair<unique_event_ptr, time_point>> batch;
  std::unique_lock<std::mutex> lock{mu_};
  for (;;) {
    batch.swap(pending_);
    lock.unlock();
    for (auto& x : batch)
      if (!apply(x.first, x.second))
        return;
    batch.clear();
    // Ships what is due (outside the lock: an enqueue may set a timer).
    trigger_expired_timeouts();
    lock.lock();
    if (!pending_.empty())
      continue;
    wake_at_ = schedule_.empty() ? time_point::max() : schedule_.begin()->first;
    // A push that needs the thread sooner sets wake_at_ to min.
    auto woken = [this] { return wake_at_ == time_point::min(); };
    if (wake_at_ == time_point::max())
      cv_.wait(lock, woken);
    else
      cv_.wait_until(lock, wake_at_, woken);
    wake_at_ = time_point::min();
    ++wakeups_;
  }
}

bool lazy_clock::apply(unique_event_ptr& x, time_point key) {
  switch (x->subtype) {
    case ordinary_timeout_cancellation_type:
      handle(static_cast<ordinary_timeout_cancellation&>(*x));
      break;
    case request_timeout_cancellation_type:
      handle(static_cast<request_timeout_cancellation&>(*x));
      break;
    case timeouts_cancellation_type:
      handle(static_cast<timeouts_cancellation&>(*x));
      break;
    case drop_all_type:
      schedule_.clear();
      actor_lookup_.clear();
      break;
    case shutdown_type:
      schedule_.clear();
      actor_lookup_.clear();
      return false;
    case ordinary_timeout_type:
      add<ordinary_timeout>(x, key);
      break;
    case multi_timeout_type:
      add<multi_timeout>(x, key);
      break;
    case request_timeout_type:
      add<request_timeout>(x, key);
      break;
    case actor_msg_type:
      add<actor_msg>(x, key);
      break;
    case group_msg_type:
      add<group_msg>(x, key);
      break;
    default:
      break;
  }
  x.reset();
  return true;
}

// -- lazy_coordinator ---------------------------------------------------------

void lazy_coordinator::start() {
  clock_.start();
  super::start();
}

void lazy_coordinator::stop() {
  super::stop();
  clock_.stop();
}

void use_lazy_sharing(caf::actor_system_config& cfg) {
  // An actor system takes a module with the scheduler's id from the
  // factories instead of the one `scheduler.policy` names (CAF 0.17's
  // actor_system constructor).
  cfg.module_factories.push_back(
    [](caf::actor_system& sys) -> caf::actor_system::module* {
      return new lazy_coordinator(sys);
    });
}

} // namespace presence
