#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "cluster/scatter_gather.hpp"
#include "tests/cluster/test_fixture.hpp"

// The scatter-gather helper driven message by message (CAF's test
// coordinator): small fake members that answer at once, late, with an
// error or never.

using namespace presence;
using namespace presence::cluster;
using namespace std::chrono_literals;

namespace {

constexpr auto timeout = 100ms;

/// Answers (get, x) with 100 * id + x at once.
caf::behavior quick(caf::event_based_actor*, int32_t id) {
  return {
    [=](get_atom, int32_t x) { return 100 * id + x; },
  };
}

/// Answers (get, x) with 100 * id + x after `delay`.
caf::behavior late(caf::event_based_actor* self, int32_t id,
                   std::chrono::milliseconds delay) {
  using promise = caf::typed_response_promise<int32_t>;
  auto waiting = std::make_shared<std::vector<std::pair<promise, int32_t>>>();
  return {
    [=](get_atom, int32_t x) -> caf::result<int32_t> {
      auto rp = self->make_response_promise<int32_t>();
      waiting->emplace_back(rp, x);
      self->delayed_send(self, delay, tick_atom::value);
      return rp;
    },
    [=](tick_atom) {
      for (auto& w : *waiting)
        w.first.deliver(100 * id + w.second);
      waiting->clear();
    },
  };
}

/// Answers (get, x) with an error.
caf::behavior failing(caf::event_based_actor*) {
  return {
    [=](get_atom, int32_t) -> caf::result<int32_t> {
      return make_error(errc::invalid_argument);
    },
  };
}

/// Never answers (get, x).
caf::behavior silent(caf::event_based_actor* self) {
  return {
    [=](get_atom, int32_t) -> caf::result<int32_t> {
      return self->make_response_promise<int32_t>();
    },
  };
}

/// What the finish function was called with, every time.
struct outcome {
  std::vector<gathered<int32_t>> calls;
  /// `finish` had run by the time scatter_gather returned.
  bool finished_inline = false;
};

struct gather_fixture : presence::test::fixture {
  /// Spawns an actor that asks each to[i] (get, i + 1) and records what its
  /// finish function gets.
  std::shared_ptr<outcome> gather(std::vector<caf::actor> to,
                                  gather_policy policy) {
    auto out = std::make_shared<outcome>();
    sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
      scatter_gather<int32_t>(
        self, to, timeout, policy,
        [](size_t i) {
          return std::make_tuple(get_atom::value, static_cast<int32_t>(i + 1));
        },
        [=](gathered<int32_t>& g) { out->calls.push_back(g); });
      out->finished_inline = !out->calls.empty();
      // Stay alive for the replies; this handler never runs.
      return {[](stop_atom) {}};
    });
    return out;
  }
};

std::vector<int32_t> values(gathered<int32_t> g) {
  return answered(g);
}

} // namespace

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather keeps the order asked, not the order of "
                 "arrival") {
  for (auto policy : {gather_policy::fail_fast, gather_policy::use_answered}) {
    auto out = gather({sys.spawn(late, 1, 30ms), sys.spawn(quick, 2),
                       sys.spawn(late, 3, 10ms)},
                      policy);
    run();
    CHECK(out->calls.empty()); // 2 answered; 1 and 3 are late
    advance(10ms);
    CHECK(out->calls.empty()); // 3 answered; 1 is late
    advance(20ms);
    REQUIRE(out->calls.size() == 1);
    auto& g = out->calls[0];
    CHECK_FALSE(g.error);
    CHECK(g.failed == 0);
    REQUIRE(g.replies.size() == 3);
    CHECK(values(g) == std::vector<int32_t>{101, 202, 303});
    CHECK_FALSE(out->finished_inline);
  }
}

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather: same_message asks everyone the same") {
  auto out = std::make_shared<outcome>();
  std::vector<caf::actor> to{sys.spawn(quick, 1), sys.spawn(quick, 2)};
  sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
    scatter_gather<int32_t>(self, to, timeout, gather_policy::fail_fast,
                            same_message(get_atom::value, int32_t{7}),
                            [=](gathered<int32_t>& g) {
                              out->calls.push_back(g);
                            });
    return {[](stop_atom) {}};
  });
  run();
  REQUIRE(out->calls.size() == 1);
  CHECK(values(out->calls[0]) == std::vector<int32_t>{107, 207});
}

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather fail_fast: the first error finishes at "
                 "once, and only once") {
  auto out = gather({sys.spawn(late, 1, 30ms), sys.spawn(failing),
                     sys.spawn(quick, 3)},
                    gather_policy::fail_fast);
  run();
  REQUIRE(out->calls.size() == 1); // not waiting for the late one
  auto& g = out->calls[0];
  CHECK(presence_code(g.error) == errc::invalid_argument);
  CHECK(g.failed == 1);
  CHECK_FALSE(g.replies[0]);
  CHECK_FALSE(g.replies[1]);
  advance(30ms); // the late reply comes after the outcome
  CHECK(out->calls.size() == 1);
}

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather fail_fast: two failures still finish once, "
                 "with the first error") {
  auto dead = sys.spawn(quick, 9);
  caf::anon_send_exit(dead, caf::exit_reason::kill);
  run();
  auto out = gather({sys.spawn(failing), dead}, gather_policy::fail_fast);
  run();
  REQUIRE(out->calls.size() == 1);
  CHECK(out->calls[0].failed == 1);
  // The first to arrive: a request to a dead actor bounces at once.
  CHECK(out->calls[0].error == caf::sec::request_receiver_down);
}

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather use_answered: a failure leaves its slot "
                 "empty and the rest still count") {
  auto out = gather({sys.spawn(late, 1, 30ms), sys.spawn(failing),
                     sys.spawn(quick, 3)},
                    gather_policy::use_answered);
  run();
  CHECK(out->calls.empty()); // waiting for the late one
  advance(30ms);
  REQUIRE(out->calls.size() == 1);
  auto& g = out->calls[0];
  CHECK(presence_code(g.error) == errc::invalid_argument);
  CHECK(g.failed == 1);
  REQUIRE(g.replies.size() == 3);
  REQUIRE(g.replies[0]);
  CHECK(*g.replies[0] == 101);
  CHECK_FALSE(g.replies[1]);
  REQUIRE(g.replies[2]);
  CHECK(*g.replies[2] == 303);
  CHECK(values(g) == std::vector<int32_t>{101, 303});
}

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather use_answered: no answer within the timeout "
                 "is a failure") {
  auto out = gather({sys.spawn(silent), sys.spawn(quick, 2)},
                    gather_policy::use_answered);
  run();
  CHECK(out->calls.empty());
  advance(timeout);
  REQUIRE(out->calls.size() == 1);
  auto& g = out->calls[0];
  CHECK(g.error == caf::sec::request_timeout);
  CHECK(g.failed == 1);
  CHECK(values(g) == std::vector<int32_t>{202});
}

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather use_answered: everyone failing finishes "
                 "with no replies") {
  auto dead = sys.spawn(quick, 9);
  caf::anon_send_exit(dead, caf::exit_reason::kill);
  run();
  auto out = gather({sys.spawn(failing), dead}, gather_policy::use_answered);
  run();
  REQUIRE(out->calls.size() == 1);
  auto& g = out->calls[0];
  CHECK(g.failed == 2);
  // The first to arrive: a request to a dead actor bounces at once.
  CHECK(g.error == caf::sec::request_receiver_down);
  CHECK(values(g).empty());
}

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather of zero handles finishes at once with no "
                 "replies") {
  for (auto policy : {gather_policy::fail_fast, gather_policy::use_answered}) {
    auto out = gather({}, policy);
    run();
    REQUIRE(out->calls.size() == 1);
    CHECK(out->finished_inline);
    CHECK(out->calls[0].replies.empty());
    CHECK_FALSE(out->calls[0].error);
    CHECK(out->calls[0].failed == 0);
  }
}

TEST_CASE_METHOD(gather_fixture,
                 "scatter_gather with a watch: handles on a node the view "
                 "dropped fail at once, and only once") {
  // A request to a node that died is lost with its connection: without
  // the watch it waits out the whole timeout.
  for (auto policy : {gather_policy::use_answered, gather_policy::fail_fast}) {
    auto out = std::make_shared<outcome>();
    std::vector<caf::actor> to{sys.spawn(silent), sys.spawn(quick, 2)};
    auto asker = sys.spawn([=](caf::event_based_actor* self) -> caf::behavior {
      auto watch = std::make_shared<gather_watch>();
      scatter_gather<int32_t>(
        self, to, timeout, policy, same_message(get_atom::value, int32_t{1}),
        [=](gathered<int32_t>& g) { out->calls.push_back(g); }, watch.get());
      return {
        // A view: the nodes still alive.
        [=](put_atom, bool this_node_alive) {
          std::set<caf::node_id> alive;
          if (this_node_alive)
            alive.insert(self->node());
          watch->keep_only(alive);
        },
      };
    });
    run();
    CHECK(out->calls.empty()); // waiting for the silent one
    // A view that keeps every node changes nothing.
    caf::anon_send(asker, put_atom::value, true);
    run();
    CHECK(out->calls.empty());
    // A view without the node (here: this process) fails what is waiting.
    caf::anon_send(asker, put_atom::value, false);
    run();
    REQUIRE(out->calls.size() == 1);
    auto& g = out->calls[0];
    CHECK(g.error == caf::sec::request_receiver_down);
    CHECK(g.failed == 1);
    REQUIRE(g.replies.size() == 2);
    CHECK_FALSE(g.replies[0]);
    if (policy == gather_policy::use_answered) {
      REQUIRE(g.replies[1]); // answered before: kept
      CHECK(*g.replies[1] == 201);
    }
    // The request's own timeout later does not finish it again.
    advance(timeout + 10ms);
    CHECK(out->calls.size() == 1);
    caf::anon_send_exit(asker, caf::exit_reason::kill);
    run();
  }
}
