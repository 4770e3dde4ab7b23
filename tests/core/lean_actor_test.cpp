// core/lean_actor: what the native session relies on, against a real CAF
// actor system (presenced's scheduler and clock, other actors).

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_actor.hpp>

#include "core/lean_actor.hpp"
#include "tests/core/lazy_config.hpp"

using namespace std::chrono_literals;

namespace {

using get_atom = caf::atom_constant<caf::atom("lget")>;
using seq_atom = caf::atom_constant<caf::atom("lseq")>;
using ask_atom = caf::atom_constant<caf::atom("lask")>;
using watch_atom = caf::atom_constant<caf::atom("lwatch")>;
using unwatch_atom = caf::atom_constant<caf::atom("lunwatch")>;
using later_atom = caf::atom_constant<caf::atom("llater")>;
using stop_atom = caf::atom_constant<caf::atom("lstop")>;
using ok_atom = caf::atom_constant<caf::atom("lok")>;
using err_atom = caf::atom_constant<caf::atom("lerr")>;
using down_atom = caf::atom_constant<caf::atom("ldown")>;
using wait_atom = caf::atom_constant<caf::atom("lwait")>;
using who_atom = caf::atom_constant<caf::atom("lwho")>;
using gone_atom = caf::atom_constant<caf::atom("lgone")>;

/// Tells `to` when destroyed.
struct gone_signal {
  caf::actor to;
  ~gone_signal() {
    if (to)
      caf::anon_send(to, gone_atom::value);
  }
};

using probe_api = caf::typed_actor<
  // answered: x * 2
  caf::replies_to<get_atom, int>::with<int>,
  // reported to the test as (seq, x)
  caf::reacts_to<seq_atom, int>,
  // requests (peer, x, timeout ms); reports (ok, result) or (err, code)
  caf::reacts_to<ask_atom, caf::actor, int, int>,
  caf::reacts_to<watch_atom, caf::actor>,
  caf::reacts_to<unwatch_atom, caf::actor>,
  // sends (seq, x) to itself after 20 ms
  caf::reacts_to<later_atom, int>, caf::reacts_to<stop_atom>,
  // requests x of peer (timeout ms) and awaits the answer; reports (ok,
  // result) or (err, code)
  caf::reacts_to<wait_atom, caf::actor, int, int>,
  // reports (who, current_sender)
  caf::reacts_to<who_atom>>;

struct probe_state {
  caf::actor report;
  /// A handle to the actor itself (a cycle), and who hears when the state
  /// goes.
  caf::actor me;
  gone_signal signal;
  static inline const char* name = "test.lean";
};

using probe_self = presence::lean_stateful<probe_state, probe_api>;

const probe_api::behavior_type& probe_behavior() {
  static const probe_api::behavior_type shared{
    [](get_atom, int x) { return x * 2; },
    [](seq_atom, int x) {
      auto self = presence::current<probe_self>();
      self->send(self->state.report, seq_atom::value, x);
    },
    [](ask_atom, const caf::actor& peer, int x, int timeout_ms) {
      auto self = presence::current<probe_self>();
      self->request(peer, std::chrono::milliseconds{timeout_ms}, x)
        .then([self](
                int y) { self->send(self->state.report, ok_atom::value, y); },
              [self](caf::error& err) {
                self->send(self->state.report, err_atom::value, err.code());
              });
    },
    [](watch_atom, const caf::actor& x) {
      presence::current<probe_self>()->monitor(x);
    },
    [](unwatch_atom, const caf::actor& x) {
      presence::current<probe_self>()->demonitor(x.address());
    },
    [](later_atom, int x) {
      auto self = presence::current<probe_self>();
      self->delayed_send(probe_api{self}, 20ms, seq_atom::value, x);
    },
    [](stop_atom) { presence::current<probe_self>()->quit(); },
    [](wait_atom, const caf::actor& peer, int x, int timeout_ms) {
      auto self = presence::current<probe_self>();
      self->request(peer, std::chrono::milliseconds{timeout_ms}, x)
        .await([self](
                 int y) { self->send(self->state.report, ok_atom::value, y); },
               [self](caf::error& err) {
                 self->send(self->state.report, err_atom::value, err.code());
               });
    },
    [](who_atom) {
      auto self = presence::current<probe_self>();
      self->send(self->state.report, who_atom::value,
                 caf::actor_cast<caf::actor_addr>(self->current_sender()));
    },
  };
  return shared;
}

probe_api spawn_probe(caf::actor_system& sys, const caf::actor& report,
                      int sends_during_init = 0, bool cycle = false) {
  return probe_self::spawn(sys, probe_behavior(), [&](probe_self* self) {
    self->state.report = report;
    if (cycle) {
      self->state.me = caf::actor_cast<caf::actor>(self->ctrl());
      self->state.signal.to = report;
    }
    self->set_down_handler([](caf::down_msg& dm) {
      auto self = presence::current<probe_self>();
      self->send(self->state.report, down_atom::value, dm.source);
    });
    for (int i = 0; i < sends_during_init; ++i)
      self->send(probe_api{self}, seq_atom::value, i);
  });
}

/// Answers x + 1; x < 0: an error; x == 0: never.
caf::behavior peer(caf::event_based_actor*) {
  return {
    [](int x) -> caf::result<int> {
      if (x < 0)
        return caf::make_error(caf::sec::invalid_argument);
      if (x == 0)
        return caf::delegated<int>{};
      return x + 1;
    },
  };
}

/// Answers every int with 99, but only once told to (ok_atom); tells
/// `watcher` (wait_atom) when it holds a request.
caf::behavior gate(caf::event_based_actor* self, caf::actor watcher) {
  auto held = std::make_shared<std::vector<caf::response_promise>>();
  return {
    [=](int) {
      caf::anon_send(watcher, wait_atom::value);
      held->push_back(self->make_response_promise());
      return held->back();
    },
    [=](ok_atom) {
      for (auto& rp : *held)
        rp.deliver(99);
      held->clear();
    },
  };
}

/// On the scheduler presenced runs: its clock keeps the delayed messages.
struct fixture : presence::test::lazy_config {
  caf::actor_system sys{cfg};
  caf::scoped_actor self{sys};
};

int next_seq(caf::scoped_actor& self) {
  int got = -1;
  self->receive([&](seq_atom, int x) { got = x; },
                caf::after(std::chrono::seconds(10)) >>
                  [] { FAIL("no message from the lean actor"); });
  return got;
}

/// Drops the test's handle to `probe` (the last one but what the actor
/// system keeps) and returns the reason of its down message; `why`: the
/// failure if none comes.
caf::error last_handle_gone(caf::scoped_actor& self, probe_api& probe,
                            const char* why) {
  self->monitor(probe);
  probe = nullptr;
  caf::error reason;
  self->receive([&](caf::down_msg& dm) { reason = dm.reason; },
                caf::after(std::chrono::seconds(10)) >> [&] { FAIL(why); });
  return reason;
}

} // namespace

TEST_CASE_METHOD(fixture,
                 "lean actor: messages in arrival order, those sent "
                 "during setup first",
                 "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self}, 3);
  for (int i = 3; i < 500; ++i)
    self->send(probe, seq_atom::value, i);
  for (int i = 0; i < 500; ++i)
    REQUIRE(next_seq(self) == i);
}

TEST_CASE_METHOD(fixture, "lean actor: answers requests", "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self});
  int got = 0;
  self->request(probe, caf::infinite, get_atom::value, 21)
    .receive([&](int x) { got = x; },
             [&](caf::error& err) { FAIL(sys.render(err)); });
  CHECK(got == 42);
}

TEST_CASE_METHOD(fixture,
                 "lean actor: its requests get results, errors and "
                 "timeouts",
                 "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self});
  auto p = sys.spawn(peer);
  auto expect_ok = [&](int want) {
    self->receive([&](ok_atom, int y) { CHECK(y == want); },
                  [&](err_atom, uint8_t code) {
                    FAIL("error " << static_cast<int>(code));
                  },
                  caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  };
  auto expect_err = [&](caf::sec want) {
    self->receive([&](ok_atom, int y) { FAIL("ok " << y); },
                  [&](err_atom, uint8_t code) {
                    CHECK(code == static_cast<uint8_t>(want));
                  },
                  caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  };
  self->send(probe, ask_atom::value, p, 41, 5000);
  expect_ok(42);
  self->send(probe, ask_atom::value, p, -1, 5000);
  expect_err(caf::sec::invalid_argument);
  self->send(probe, ask_atom::value, p, 0, 50);
  expect_err(caf::sec::request_timeout);
  // Several in flight at once, each to its own handler.
  for (int i = 1; i <= 20; ++i)
    self->send(probe, ask_atom::value, p, i, 5000);
  int sum = 0;
  for (int i = 1; i <= 20; ++i)
    self->receive([&](ok_atom, int y) { sum += y; },
                  [&](err_atom, uint8_t) { FAIL("error"); });
  CHECK(sum == 210 + 20);
  // To an actor that is gone: an error, not a wait for the timeout.
  self->send_exit(p, caf::exit_reason::kill);
  self->wait_for(p);
  self->send(probe, ask_atom::value, p, 5, 60000);
  expect_err(caf::sec::request_receiver_down);
}

TEST_CASE_METHOD(fixture, "lean actor: monitors others and is monitored",
                 "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self});
  auto watched = sys.spawn(peer);
  auto ignored = sys.spawn(peer);
  self->send(probe, watch_atom::value, watched);
  self->send(probe, watch_atom::value, ignored);
  self->send(probe, unwatch_atom::value, ignored);
  self->send(probe, seq_atom::value, 1); // all three handled before this
  REQUIRE(next_seq(self) == 1);
  // Each kill's down messages are queued when wait_for returns, so a
  // message sent after it is handled after them.
  self->send_exit(ignored, caf::exit_reason::kill);
  self->wait_for(ignored);
  self->send(probe, seq_atom::value, 2);
  REQUIRE(next_seq(self) == 2); // no down for the one no longer watched
  self->send_exit(watched, caf::exit_reason::kill);
  caf::actor_addr down_of;
  self->receive([&](down_atom, const caf::actor_addr& a) { down_of = a; },
                caf::after(std::chrono::seconds(10)) >>
                  [] { FAIL("no down"); });
  CHECK(down_of == watched.address());

  // Monitored itself: quitting tells the monitor, runs attached functors,
  // and a request after it fails at once.
  caf::actor_cast<caf::abstract_actor*>(probe)->attach_functor(
    [me = caf::actor{self}] { caf::anon_send(me, ok_atom::value, -1); });
  self->monitor(probe);
  self->send(probe, stop_atom::value);
  caf::error reason = caf::make_error(caf::sec::unexpected_message);
  bool down = false;
  bool detached = false;
  for (int i = 0; i < 2; ++i)
    self->receive([&](caf::down_msg& dm) { down = true, reason = dm.reason; },
                  [&](ok_atom, int x) { detached = x == -1; },
                  caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  CHECK(down);
  CHECK(!reason);
  CHECK(detached);
  caf::error err;
  self->request(probe, caf::infinite, get_atom::value, 1)
    .receive([&](int) { FAIL("answered after quit"); },
             [&](caf::error& e) { err = e; });
  CHECK(err == caf::sec::request_receiver_down);
}

TEST_CASE_METHOD(fixture,
                 "lean actor: delayed sends arrive, and the last "
                 "handle going ends it",
                 "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self});
  self->send(probe, later_atom::value, 7);
  REQUIRE(next_seq(self) == 7);
  // No handle left: the actor goes.
  CHECK(last_handle_gone(self, probe, "no down")
        == caf::exit_reason::unreachable);
}

TEST_CASE_METHOD(fixture,
                 "lean actor: an awaited answer comes before what "
                 "arrived meanwhile, in order",
                 "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self});
  auto g = sys.spawn(gate, caf::actor{self});
  self->send(probe, wait_atom::value, g, 1, 10000);
  // The gate holds the request: the probe awaits the answer.
  self->receive([](wait_atom) {},
                caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  for (int i = 0; i < 5; ++i)
    self->send(probe, seq_atom::value, i);
  self->send(g, ok_atom::value); // after the seqs reached the probe
  int first = 0;
  self->receive([&](ok_atom, int y) { first = y; },
                [&](seq_atom, int x) {
                  FAIL("seq " << x << " before the answer");
                },
                caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  CHECK(first == 99);
  for (int i = 0; i < 5; ++i)
    REQUIRE(next_seq(self) == i);
  // The sender of the message being handled.
  self->send(probe, who_atom::value);
  caf::actor_addr who;
  auto get_who = [&] {
    self->receive([&](who_atom, const caf::actor_addr& a) { who = a; },
                  caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  };
  get_who();
  CHECK(who == self->address());
  caf::anon_send(probe, who_atom::value);
  get_who();
  CHECK(!who);
}

TEST_CASE_METHOD(fixture,
                 "lean actor: its state goes when it terminates, "
                 "even when it holds a handle to the actor",
                 "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self}, 0, true);
  self->send(probe, stop_atom::value);
  probe = nullptr;
  bool gone = false;
  self->receive([&](gone_atom) { gone = true; },
                caf::after(std::chrono::seconds(10)) >>
                  [] { FAIL("the state outlived the actor"); });
  CHECK(gone);
}

TEST_CASE_METHOD(fixture, "lean actor: an answer cancels its request's timeout",
                 "[lean_actor]") {
  // A pending request timeout holds a reference to the requester (in CAF
  // 0.17's clock, or now in the request sweeper): the answer must drop it,
  // or an answered request with a long timeout keeps the actor alive (and
  // fires a late timeout into it) long after.
  auto probe = spawn_probe(sys, caf::actor{self});
  auto p = sys.spawn(peer);
  self->send(probe, ask_atom::value, p, 41, 3600 * 1000);
  self->receive([&](ok_atom, int y) { CHECK(y == 42); },
                [&](err_atom, uint8_t code) {
                  FAIL("error " << static_cast<int>(code));
                },
                caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  // No handle left but the request sweeper's, if it kept one.
  CHECK(last_handle_gone(self, probe, "the answered request's timeout kept it")
        == caf::exit_reason::unreachable);
}

TEST_CASE_METHOD(fixture,
                 "lean actor: an awaited request that times out gets its "
                 "error first, then what arrived meanwhile",
                 "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self});
  auto g = sys.spawn(gate, caf::actor{self}); // holds the request
  self->send(probe, wait_atom::value, g, 1, 200);
  self->receive([](wait_atom) {},
                caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  for (int i = 0; i < 3; ++i)
    self->send(probe, seq_atom::value, i);
  uint8_t code = 0;
  self->receive([&](err_atom, uint8_t c) { code = c; },
                [&](ok_atom, int y) { FAIL("ok " << y); },
                [&](seq_atom, int x) {
                  FAIL("seq " << x << " before the timeout");
                },
                caf::after(std::chrono::seconds(10)) >>
                  [] { FAIL("the awaited request never timed out"); });
  CHECK(code == static_cast<uint8_t>(caf::sec::request_timeout));
  for (int i = 0; i < 3; ++i)
    REQUIRE(next_seq(self) == i);
  // A late answer after the timeout goes nowhere; the probe still answers.
  self->send(g, ok_atom::value);
  self->send(probe, seq_atom::value, 7);
  REQUIRE(next_seq(self) == 7);
}

TEST_CASE_METHOD(fixture,
                 "lean actor: many requests time out, each once, while "
                 "others are answered",
                 "[lean_actor]") {
  auto probe = spawn_probe(sys, caf::actor{self});
  auto p = sys.spawn(peer);
  // x == 0: the peer never answers.
  for (int i = 0; i < 10; ++i) {
    self->send(probe, ask_atom::value, p, 0, 100 + 30 * i);
    self->send(probe, ask_atom::value, p, i + 1, 5000);
  }
  int timeouts = 0;
  int oks = 0;
  for (int i = 0; i < 20; ++i)
    self->receive([&](ok_atom, int) { ++oks; },
                  [&](err_atom, uint8_t c) {
                    CHECK(c == static_cast<uint8_t>(caf::sec::request_timeout));
                    ++timeouts;
                  },
                  caf::after(std::chrono::seconds(10)) >> [] { FAIL("none"); });
  CHECK(oks == 10);
  CHECK(timeouts == 10);
  // Nothing more comes (each timed out once).
  bool more = false;
  self->receive([&](ok_atom, int) { more = true; },
                [&](err_atom, uint8_t) { more = true; },
                caf::after(std::chrono::milliseconds(400)) >> [] {});
  CHECK_FALSE(more);
}
