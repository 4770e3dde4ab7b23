// Heartbeats answered at the edge reach the user actor at most once per gap,
// always with the latest activity (edge/common/activity).

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "edge/common/activity.hpp"
#include "tests/testing_config.hpp"

using namespace presence;
using namespace presence::edge;
using namespace std::chrono_literals;

namespace {

/// What the stand-in user actor was told: (device, when).
using beats = std::vector<std::pair<std::string, millis>>;

caf::behavior fake_user(caf::event_based_actor*, std::shared_ptr<beats> log) {
  return {
    [=](heartbeat_atom, const std::string& device, millis at) {
      log->emplace_back(device, at);
    },
  };
}

struct fixture : test::testing_config {
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<beats> log = std::make_shared<beats>();
  user_api user;
  activity_cell_ptr cell = std::make_shared<activity_cell>();

  fixture()
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    user = caf::actor_cast<user_api>(sys.spawn(fake_user, log));
    cell->route(session_api{}, user, "dev-1");
  }

  ~fixture() { sys.await_actors_before_shutdown(false); }

  void run() { sched.run(); }
};

} // namespace

TEST_CASE("the first activity after a quiet gap goes at once", "[activity]") {
  fixture f;
  CHECK_FALSE(f.cell->record(1000, 250)); // sent, nothing to hand over
  f.run();
  REQUIRE(f.log->size() == 1);
  CHECK(f.log->at(0) == std::make_pair(std::string{"dev-1"}, millis{1000}));
}

TEST_CASE("activity within a gap waits, and the latest is taken",
          "[activity]") {
  fixture f;
  f.cell->record(1000, 250);
  // Within the gap: the first hands the cell over, the rest only record.
  CHECK(f.cell->record(1100, 250));
  CHECK_FALSE(f.cell->record(1150, 250));
  f.run();
  CHECK(f.log->size() == 1);
  activity_cell::forward fw;
  REQUIRE(f.cell->take(fw));
  CHECK(fw.at == 1150);
  CHECK(fw.device_id == "dev-1");
  CHECK(fw.user == f.user);
  // Nothing new: the cell is quiet, and the next activity hands it over
  // again.
  CHECK_FALSE(f.cell->take(fw));
  CHECK(f.cell->record(1200, 250));
  CHECK(f.cell->last() == 1200);
}

TEST_CASE("the flusher sends the latest activity at the end of the gap",
          "[activity]") {
  fixture f;
  auto flusher = spawn_activity_flusher(f.sys, 250ms);
  f.cell->record(1000, 250);
  for (millis t : {1010, 1020, 1090})
    if (f.cell->record(t, 250))
      caf::anon_send(flusher, activity_atom::value, f.cell);
  f.run();
  REQUIRE(f.log->size() == 1); // only the first so far
  f.sched.advance_time(250ms);
  f.run();
  REQUIRE(f.log->size() == 2);
  CHECK(f.log->back().second == 1090);
  // Quiet now: the next tick sends nothing and forgets the cell.
  f.sched.advance_time(250ms);
  f.run();
  CHECK(f.log->size() == 2);
  caf::anon_send_exit(flusher, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("a gap of 0 sends every activity", "[activity]") {
  fixture f;
  for (millis t : {5, 6, 7})
    CHECK_FALSE(f.cell->record(t, 0));
  f.run();
  CHECK(f.log->size() == 3);
}

TEST_CASE("a device that is not joined sends nothing", "[activity]") {
  fixture f;
  f.cell->route(session_api{}, user_api{}, "dev-1");
  f.cell->record(1000, 250);
  f.run();
  CHECK(f.log->empty());
}

TEST_CASE("the gap is the checkpoint interval, at most a third of the TTL",
          "[activity]") {
  CHECK(activity_gap(1000ms, 90'000ms) == 1000ms);
  CHECK(activity_gap(5000ms, 1000ms) == 333ms);
  CHECK(activity_gap(1ms, 90'000ms) == 1ms);
  CHECK(activity_gap(10ms, 1ms) == 1ms);
  CHECK(activity_gap(0ms, 90'000ms) == 0ms);
}
