// core/scheduler: the lazy scheduler (lazy_sharing's workers, lazy_clock)
// runs every job and every timer of a real CAF actor system, wakes a
// sleeping thread only for work beyond the threads awake, and wakes its
// clock only for timers due before it planned to wake.

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "core/scheduler.hpp"
#include "tests/core/lazy_config.hpp"

using namespace std::chrono_literals;

namespace {

using hop_atom = caf::atom_constant<caf::atom("shop")>;
using done_atom = caf::atom_constant<caf::atom("sdone")>;
using tick_atom = caf::atom_constant<caf::atom("stick")>;
using count_atom = caf::atom_constant<caf::atom("scount")>;

/// An actor system on the lazy scheduler with `threads` workers.
struct lazy_system : presence::test::lazy_config {
  caf::actor_system sys;
  explicit lazy_system(size_t threads) : lazy_config(threads), sys(cfg) {
    // nop
  }

  presence::lazy_clock& clock() {
    auto* c = dynamic_cast<presence::lazy_clock*>(&sys.clock());
    REQUIRE(c != nullptr);
    return *c;
  }
};

/// Records the threads that ran it; passes a hop count on to `next`, or
/// tells `done` when it reaches 0.
struct threads_seen {
  std::mutex mu;
  std::set<std::thread::id> ids;
  void add() {
    std::lock_guard<std::mutex> guard{mu};
    ids.insert(std::this_thread::get_id());
  }
};

caf::behavior hopper(caf::event_based_actor* self, threads_seen* seen,
                     caf::actor done) {
  return {
    [=](hop_atom, caf::actor next, int left) {
      seen->add();
      if (left == 0)
        self->send(done, done_atom::value);
      else
        self->send(next, hop_atom::value, caf::actor_cast<caf::actor>(self),
                   left - 1);
    },
  };
}

/// Counts what it gets; answers count_atom with the count.
caf::behavior counter(caf::event_based_actor*, std::shared_ptr<int> n) {
  return {
    [=](tick_atom) { ++*n; },
    [=](count_atom) { return *n; },
  };
}

} // namespace

TEST_CASE("lazy scheduler: a chain of hops stays on the thread that runs it",
          "[scheduler]") {
  // Two actors pass a message back and forth 2,000 times. Each send is the
  // only job in the queue while the sending thread is awake, so no other
  // thread is woken for it: every hop runs on one thread. (CAF's own work
  // sharing wakes a thread per send and spreads the hops.)
  lazy_system s{4};
  caf::scoped_actor self{s.sys};
  threads_seen seen;
  auto a = s.sys.spawn(hopper, &seen, caf::actor{self});
  auto b = s.sys.spawn(hopper, &seen, caf::actor{self});
  // The four threads start awake: wait until all sleep.
  auto* coord = dynamic_cast<presence::lazy_coordinator*>(&s.sys.scheduler());
  REQUIRE(coord != nullptr);
  auto until = std::chrono::steady_clock::now() + 10s;
  while (coord->sleeping_threads() < 4
         && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  REQUIRE(coord->sleeping_threads() == 4);
  caf::anon_send(a, hop_atom::value, b, 2000);
  bool done = false;
  self->receive([&](done_atom) { done = true; },
                caf::after(10s) >> [] { FAIL("the chain never ended"); });
  CHECK(done);
  CHECK(seen.ids.size() == 1);
}

TEST_CASE("lazy scheduler: every job runs when many threads send at once",
          "[scheduler]") {
  // 8 threads outside the scheduler each send 5,000 messages to 16
  // counters on 2 and on 4 workers: no job is lost (a lost wake-up would
  // leave messages unread and the count short).
  for (size_t threads : {size_t{1}, size_t{2}, size_t{4}}) {
    lazy_system s{threads};
    caf::scoped_actor self{s.sys};
    std::vector<caf::actor> counters;
    std::vector<std::shared_ptr<int>> counts;
    for (int i = 0; i < 16; ++i) {
      counts.push_back(std::make_shared<int>(0));
      counters.push_back(s.sys.spawn(counter, counts.back()));
    }
    std::vector<std::thread> senders;
    for (int t = 0; t < 8; ++t)
      senders.emplace_back([&, t] {
        for (int i = 0; i < 5000; ++i)
          caf::anon_send(counters[(t + i) % counters.size()], tick_atom::value);
      });
    for (auto& t : senders)
      t.join();
    int total = 0;
    for (auto& c : counters)
      self->request(c, 10s, count_atom::value)
        .receive([&](int n) { total += n; },
                 [&](caf::error& e) { FAIL(s.sys.render(e)); });
    CHECK(total == 8 * 5000);
  }
}

TEST_CASE("lazy clock: delayed messages arrive, none early, in due order",
          "[scheduler]") {
  lazy_system s{2};
  caf::scoped_actor self{s.sys};
  auto start = std::chrono::steady_clock::now();
  // Short (exact) and long (rounded up) delays, set out of order.
  for (int ms : {120, 3, 40, 1, 80})
    self->delayed_send(self, std::chrono::milliseconds{ms}, ms);
  std::vector<int> got;
  for (int i = 0; i < 5; ++i)
    self->receive(
      [&](int ms) {
        auto waited = std::chrono::steady_clock::now() - start;
        CHECK(waited >= std::chrono::milliseconds{ms});
        got.push_back(ms);
      },
      caf::after(10s) >> [] { FAIL("a delayed message never came"); });
  CHECK(got == std::vector<int>{1, 3, 40, 80, 120});
}

TEST_CASE("lazy clock: request timeouts fire; answered requests do not",
          "[scheduler]") {
  lazy_system s{2};
  caf::scoped_actor self{s.sys};
  auto n = std::make_shared<int>(0);
  auto c = s.sys.spawn(counter, n);
  // A request nobody answers (tick_atom has no reply) times out ...
  auto silent = s.sys.spawn([](caf::event_based_actor* me) -> caf::behavior {
    return {[=](int) { return me->make_response_promise(); }};
  });
  caf::error err;
  self->request(silent, 50ms, 1)
    .receive([](int) { FAIL("an answer from nobody"); },
             [&](caf::error& e) { err = e; });
  CHECK(err.code() == static_cast<uint8_t>(caf::sec::request_timeout));
  // ... an answered one does not.
  int got = -1;
  self->request(c, 50ms, count_atom::value)
    .receive([&](int x) { got = x; },
             [&](caf::error& e) { FAIL(s.sys.render(e)); });
  CHECK(got == 0);
}

TEST_CASE("lazy clock: timers due after its next wake-up do not wake it",
          "[scheduler]") {
  // 500 timers 30 s out, set after one 200 ms out: CAF's clock woke for
  // each of them; this one wakes for none, then once for the 200 ms timer.
  lazy_system s{2};
  caf::scoped_actor self{s.sys};
  auto& clock = s.clock();
  self->delayed_send(self, 200ms, 0);
  // The clock takes the first timer, then sleeps until it is due.
  std::this_thread::sleep_for(50ms);
  auto before = clock.wakeups();
  for (int i = 1; i <= 500; ++i)
    self->delayed_send(self, 30s, i);
  int first = -1;
  self->receive([&](int x) { first = x; },
                caf::after(10s) >> [] { FAIL("the 200 ms timer never came"); });
  CHECK(first == 0);
  CHECK(clock.wakeups() - before <= 2);
}

TEST_CASE("lazy scheduler: an actor system on it shuts down", "[scheduler]") {
  // CAF's stop() hands each worker a shutdown job as soon as the previous
  // worker has run its own, before that worker leaves: the job must reach
  // a sleeping worker (it once waited forever for the one leaving).
  for (int i = 0; i < 50; ++i) {
    lazy_system s{4};
    auto n = std::make_shared<int>(0);
    auto c = s.sys.spawn(counter, n);
    caf::anon_send(c, tick_atom::value);
  }
  SUCCEED("50 actor systems started and stopped");
}
