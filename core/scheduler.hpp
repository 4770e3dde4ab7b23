#pragma once

// A CAF scheduling policy for sparse traffic on few cores: CAF's work
// sharing (one queue, idle threads asleep on a condition variable), but an
// enqueue wakes a sleeping thread only when the queue holds more jobs than
// there are threads awake to take them.
//
// CAF's own work sharing wakes a thread on every enqueue. When an actor
// sends to another (a session to the registry, the registry to a user
// actor, the user actor to the fan-out), the sending thread will take the
// next job itself a moment later, yet a second thread is woken for it: a
// futex wake-up and two context switches per hop, and with CAF's default of
// at least four threads on two cores most of a join's scheduler CPU
// (docs/benchmarks.md, "nineteenth session").

#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/policy/unprofiled.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>
#include <caf/scheduler/coordinator.hpp>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace presence {

/// A CAF scheduler policy (`caf::scheduler::coordinator<lazy_sharing>`):
/// one central queue; a thread is woken only if the queue then holds more
/// jobs than threads are awake (running a job or about to take one).
class lazy_sharing : public caf::policy::unprofiled {
public:
  struct worker_data {
    explicit worker_data(caf::scheduler::abstract_coordinator*) {
      // nop
    }

    // CAF copies one initial value into every worker: each gets its own.
    worker_data(const worker_data&) {
      // nop
    }

    /// Signalled when a push hands this thread the wake-up.
    std::condition_variable cv;
    bool woken = false;
    bool counted = false;
    bool named = false;
  };

  struct coordinator_data {
    explicit coordinator_data(caf::scheduler::abstract_coordinator*) {
      // nop
    }

    std::deque<caf::resumable*> queue;
    std::mutex lock;
    /// Threads that have taken a job since they started and not shut down.
    size_t running = 0;
    /// Of those, the threads asleep in dequeue(), the latest last.
    std::vector<worker_data*> sleeping;
  };

  template <class Coordinator>
  void central_enqueue(Coordinator* self, caf::resumable* job) {
    push(d(self), job);
  }

  template <class Worker>
  void external_enqueue(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job);
  }

  template <class Worker>
  void internal_enqueue(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job);
  }

  template <class Worker>
  void resume_job_later(Worker* self, caf::resumable* job) {
    push(d(self->parent()), job);
  }

  template <class Worker>
  caf::resumable* dequeue(Worker* self) {
    auto& c = d(self->parent());
    auto& w = d(self);
    if (!w.named) {
      // CAF 0.17 leaves its workers with the name of the thread that
      // started them ("caf.multiplexer" here): profiles and top could not
      // tell the actors' threads from the middleman's.
      w.named = true;
      caf::detail::set_thread_name("presenced.work");
    }
    std::unique_lock<std::mutex> guard{c.lock};
    if (!w.counted) {
      w.counted = true;
      ++c.running;
    }
    while (c.queue.empty()) {
      w.woken = false;
      c.sleeping.push_back(&w);
      // The push that wakes this thread takes it off `sleeping` first: from
      // then on it counts as awake.
      w.cv.wait(guard, [&w] { return w.woken; });
    }
    auto job = c.queue.front();
    c.queue.pop_front();
    return job;
  }

  template <class Worker>
  void before_shutdown(Worker* self) {
    auto& c = d(self->parent());
    worker_data* wake = nullptr;
    {
      std::lock_guard<std::mutex> guard{c.lock};
      if (d(self).counted)
        --c.running;
      // A push made while this thread still counted as awake left its job
      // to it (CAF's stop() enqueues the next worker's shutdown job as soon
      // as this one's has run): hand it on.
      wake = pick_sleeper(c);
    }
    if (wake != nullptr)
      wake->cv.notify_one();
  }

  template <class Worker, class UnaryFunction>
  void foreach_resumable(Worker*, UnaryFunction) {
    // nop: no queue per thread
  }

  template <class Coordinator, class UnaryFunction>
  void foreach_central_resumable(Coordinator* self, UnaryFunction f) {
    auto& c = d(self);
    std::unique_lock<std::mutex> guard{c.lock};
    while (!c.queue.empty()) {
      auto job = c.queue.front();
      c.queue.pop_front();
      f(job);
    }
  }

private:
  /// The thread to wake, taken off `sleeping`, if the queue holds more jobs
  /// than threads are awake (the one that slept last: its cache is
  /// warmest). A thread that has not taken its first job yet is not
  /// counted, so at start-up this wakes more than needed, never less.
  static worker_data* pick_sleeper(coordinator_data& c) {
    auto awake = c.running - c.sleeping.size();
    if (c.sleeping.empty() || c.queue.size() <= awake)
      return nullptr;
    auto w = c.sleeping.back();
    c.sleeping.pop_back();
    w->woken = true;
    return w;
  }

  static void push(coordinator_data& c, caf::resumable* job) {
    worker_data* wake = nullptr;
    {
      std::lock_guard<std::mutex> guard{c.lock};
      c.queue.push_back(job);
      wake = pick_sleeper(c);
    }
    if (wake != nullptr)
      wake->cv.notify_one();
  }
};

/// CAF's actor clock (timeouts and delayed messages), woken only when it
/// must act sooner than it planned to. CAF 0.17's clock thread wakes for
/// every timer set or cancelled from another thread (a push into its
/// queue), then again when the timer is due: with a request timeout per
/// registry request and delayed sends per join, ~4 wake-ups per join and
/// leave. Here a timer due after the clock's next planned wake-up and every
/// cancellation wait in a list the clock reads when it wakes anyway (at the
/// latest at its next due timer, always before that timer fires). And a
/// timer of more than a few milliseconds fires up to a sixteenth of its
/// delay late (at most ~65 ms), so that timers set at about the same time
/// (a request timeout per join) share one wake-up.
///
/// Derives from thread_safe_actor_clock only because CAF's coordinator
/// returns that type; none of its own state or thread is used.
class lazy_clock final : public caf::detail::thread_safe_actor_clock {
public:
  ~lazy_clock() override;

  void set_ordinary_timeout(time_point t, caf::abstract_actor* self,
                            caf::atom_value type, uint64_t id) override;

  void set_request_timeout(time_point t, caf::abstract_actor* self,
                           caf::message_id id) override;

  void set_multi_timeout(time_point t, caf::abstract_actor* self,
                         caf::atom_value type, uint64_t id) override;

  void cancel_ordinary_timeout(caf::abstract_actor* self,
                               caf::atom_value type) override;

  void cancel_request_timeout(caf::abstract_actor* self,
                              caf::message_id id) override;

  void cancel_timeouts(caf::abstract_actor* self) override;

  void schedule_message(time_point t, caf::strong_actor_ptr receiver,
                        caf::mailbox_element_ptr content) override;

  void schedule_message(time_point t, caf::group target,
                        caf::strong_actor_ptr sender,
                        caf::message content) override;

  void cancel_all() override;

  /// Starts the clock's thread.
  void start();

  /// Stops the clock's thread (dropping what is still scheduled).
  void stop();

  /// How often the thread has woken up (tests and benchmarks).
  size_t wakeups() const;

private:
  /// `due`: when the event wants the thread awake (max: whenever).
  void push(event* ptr, time_point due);

  /// When a timer due at `due`, set at `now`, fires.
  static time_point coarse(time_point due, time_point now);

  void run();

  /// Applies a pushed event to the schedule (a timer at `key`); false on
  /// shutdown.
  bool apply(unique_event_ptr& x, time_point key);

  /// Schedules `x`, a timer of type T, at `key`.
  template <class T>
  void add(unique_event_ptr& x, time_point key) {
    add_schedule_entry(key, std::unique_ptr<T>{static_cast<T*>(x.release())});
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  /// Events not yet applied, each with when it fires.
  std::vector<std::pair<unique_event_ptr, time_point>> pending_;
  /// When the thread plans to wake (min while it is awake, or woken).
  time_point wake_at_ = time_point::min();
  size_t wakeups_ = 0;
  std::thread thread_;
};

/// CAF's coordinator with lazy_sharing's workers and a lazy_clock.
class lazy_coordinator final
  : public caf::scheduler::coordinator<lazy_sharing> {
public:
  using super = caf::scheduler::coordinator<lazy_sharing>;

  explicit lazy_coordinator(caf::actor_system& sys) : super(sys) {
    // nop
  }

  lazy_clock& clock() noexcept override { return clock_; }

  /// The threads asleep, waiting for work (tests).
  size_t sleeping_threads() {
    std::lock_guard<std::mutex> guard{data().lock};
    return data().sleeping.size();
  }

protected:
  void start() override;

  void stop() override;

private:
  lazy_clock clock_;
};

/// Makes `cfg`'s actor system use lazy_coordinator (before the system
/// starts; `scheduler.max-threads` still sets the number of threads).
void use_lazy_sharing(caf::actor_system_config& cfg);

} // namespace presence
