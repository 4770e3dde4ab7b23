// Heartbeats answered at the edge reach the user actor at most once per gap,
// always with the latest activity (edge/common/activity).

#include <catch2/catch.hpp>

#include <algorithm>
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

TEST_CASE("activity after a long silence goes at once", "[activity]") {
  fixture f;
  // The first record hands the cell over; the send went too (nothing was
  // sent before, so the silence is long).
  CHECK(f.cell->record(1000, 250));
  f.run();
  REQUIRE(f.log->size() == 1);
  CHECK(f.log->at(0) == std::make_pair(std::string{"dev-1"}, millis{1000}));
  // Later ones never hand it over again; only a silence of `urgent` sends.
  CHECK_FALSE(f.cell->record(1100, 250));
  CHECK_FALSE(f.cell->record(1300, 250));
  f.run();
  REQUIRE(f.log->size() == 2);
  CHECK(f.log->back().second == 1300);
}

TEST_CASE("activity soon after the join waits for the flusher", "[activity]") {
  fixture f;
  // The join started the device at 1000 in the user actor: a ping 100 ms
  // later is not news that cannot wait (urgent 250).
  f.cell->known(1000);
  CHECK(f.cell->record(1100, 250)); // still handed to the flusher
  f.run();
  CHECK(f.log->empty());
  activity_cell::forward fw;
  REQUIRE(f.cell->take(fw));
  CHECK(fw.at == 1100);
  // A silence of `urgent` after what the user actor knows sends at once.
  f.cell->record(1400, 250);
  f.run();
  REQUIRE(f.log->size() == 1);
  CHECK(f.log->back().second == 1400);
  // Known never moves back, and activity it covers is not taken again.
  f.cell->known(900);
  f.cell->known(1500);
  CHECK_FALSE(f.cell->take(fw));
}

TEST_CASE("activity within the urgent age waits, and the latest is taken",
          "[activity]") {
  fixture f;
  f.cell->record(1000, 250);
  CHECK_FALSE(f.cell->record(1100, 250));
  CHECK_FALSE(f.cell->record(1150, 250));
  f.run();
  CHECK(f.log->size() == 1);
  activity_cell::forward fw;
  REQUIRE(f.cell->take(fw));
  CHECK(fw.at == 1150);
  CHECK(fw.device_id == "dev-1");
  CHECK(fw.user == f.user);
  // Nothing new: nothing to take until the next activity.
  CHECK_FALSE(f.cell->take(fw));
  f.cell->record(1200, 250);
  CHECK(f.cell->last() == 1200);
  REQUIRE(f.cell->take(fw));
  CHECK(fw.at == 1200);
}

TEST_CASE(
  "sends verify the user actor when fresh, every few, and at least "
  "every few gaps of activity",
  "[activity]") {
  fixture f;
  activity_cell::forward fw;
  millis t = 1000;
  auto take = [&](millis verify_after) {
    f.cell->record(t, 1'000'000);
    t += 100;
    REQUIRE(f.cell->take(fw, verify_after));
    return fw.verify;
  };
  // The first ones after a route change.
  for (uint32_t i = 0; i < activity_cell::verify_fresh; ++i)
    CHECK(take(0));
  // Then every verify_every-th by count.
  for (uint32_t i = 1; i < activity_cell::verify_every; ++i)
    CHECK_FALSE(take(0));
  CHECK(take(0));
  // Sparse activity: by time too, however few the sends since.
  CHECK_FALSE(take(10'000));
  t += 10'000;
  CHECK(take(10'000));
  CHECK_FALSE(take(10'000)); // both counts start again
  // A new route: fresh again.
  f.cell->route(session_api{}, f.user, "dev-1");
  CHECK(take(0));
}

TEST_CASE(
  "the flusher sends every live cell's latest activity each gap, "
  "and forgets the cells that are gone",
  "[activity]") {
  fixture f;
  // 250 ms: two ticks of 125 ms per round, each with half the cells.
  auto flusher = spawn_activity_flusher(f.sys, 250ms);
  auto round = [&] {
    for (int i = 0; i < 2; ++i) {
      f.sched.advance_time(125ms);
      f.run();
    }
  };
  auto other = std::make_shared<activity_cell>();
  other->route(session_api{}, f.user, "dev-2");
  auto record = [&](const activity_cell_ptr& c, millis t) {
    if (c->record(t, 500))
      caf::anon_send(flusher, activity_atom::value, c);
  };
  record(f.cell, 1000); // at once (first), handed over
  record(other, 1000);  // the same
  for (millis t : {1010, 1020, 1090})
    record(f.cell, t);
  f.run();
  REQUIRE(f.log->size() == 2); // only the first of each so far
  round();
  REQUIRE(f.log->size() == 3); // dev-1 moved, dev-2 did not
  CHECK(f.log->back() == std::make_pair(std::string{"dev-1"}, millis{1090}));
  // Quiet now: the next round sends nothing, but keeps looking.
  round();
  CHECK(f.log->size() == 3);
  record(other, 1400);
  round();
  REQUIRE(f.log->size() == 4);
  CHECK(f.log->back() == std::make_pair(std::string{"dev-2"}, millis{1400}));
  // A cell whose connection is gone is forgotten, even with news in it.
  f.cell->record(1400, 500);
  f.cell.reset();
  round();
  CHECK(f.log->size() == 4);
  caf::anon_send_exit(flusher, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE(
  "a round spreads its sends over the gap, and covers every cell "
  "once per gap while cells come and go",
  "[activity]") {
  fixture f;
  // 1 s: ten ticks of 100 ms, as there are cells enough for ten shares
  // (a tick carries at least 256 of them).
  auto flusher = spawn_activity_flusher(f.sys, 1000ms);
  constexpr int share = 256;
  std::vector<activity_cell_ptr> cells;
  for (int i = 0; i < 10 * share; ++i) {
    auto c = std::make_shared<activity_cell>();
    c->route(session_api{}, f.user, "d" + std::to_string(i));
    if (c->record(1000, 60'000)) // nothing sent yet: not urgent
      caf::anon_send(flusher, activity_atom::value, c);
    cells.push_back(c);
  }
  f.run();
  CHECK(f.log->empty());
  for (int tick = 1; tick <= 10; ++tick) {
    f.sched.advance_time(100ms);
    f.run();
    // A share per tick.
    CHECK(f.log->size() == static_cast<size_t>(share * tick));
    // Connections that had their turn end mid-round: the order of the
    // round does not change (dropping them now would move later cells
    // behind the round's position), so no live cell misses its turn.
    if (tick == 3)
      for (int i = 0; i < share; ++i)
        cells[i].reset();
  }
  CHECK(f.log->size() == 10 * share);
  f.log->clear();
  for (int i = share; i < 10 * share; ++i)
    cells[i]->record(2000, 60'000);
  for (int tick = 1; tick <= 10; ++tick) {
    f.sched.advance_time(100ms);
    f.run();
  }
  CHECK(f.log->size() == 9 * share); // every live cell, once
  caf::anon_send_exit(flusher, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("a node with few cells looks at them all in one tick per gap",
          "[activity]") {
  fixture f;
  // 1 s, but 100 cells: one tick carries them all, then the next round's
  // comes a gap later (not ten ticks of ten cells, each waking threads).
  auto flusher = spawn_activity_flusher(f.sys, 1000ms);
  std::vector<activity_cell_ptr> cells;
  for (int i = 0; i < 100; ++i) {
    auto c = std::make_shared<activity_cell>();
    c->route(session_api{}, f.user, "d" + std::to_string(i));
    if (c->record(1000, 60'000))
      caf::anon_send(flusher, activity_atom::value, c);
    cells.push_back(c);
  }
  f.run();
  f.sched.advance_time(100ms); // the first tick: a time slice after them
  f.run();
  CHECK(f.log->size() == 100);
  f.log->clear();
  for (auto& c : cells)
    c->record(2000, 60'000);
  for (int tick = 1; tick <= 9; ++tick) {
    f.sched.advance_time(100ms);
    f.run();
    CHECK(f.log->empty());
  }
  f.sched.advance_time(100ms);
  f.run();
  CHECK(f.log->size() == 100); // a gap after the first
  caf::anon_send_exit(flusher, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("a round is one gap long even while connections keep coming",
          "[activity]") {
  fixture f;
  auto flusher = spawn_activity_flusher(f.sys, 1000ms); // ten ticks
  std::vector<activity_cell_ptr> cells;
  auto add = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto c = std::make_shared<activity_cell>();
      c->route(session_api{}, f.user, "c" + std::to_string(cells.size()));
      if (c->record(1000, 60'000))
        caf::anon_send(flusher, activity_atom::value, c);
      cells.push_back(c);
    }
    f.run();
  };
  add(10);
  int seen_at = 0;
  for (int tick = 1; tick <= 40 && seen_at == 0; ++tick) {
    add(20 + 2 * tick); // more every tick
    if (tick == 5)
      cells[0]->record(5000, 60'000);
    f.sched.advance_time(100ms);
    f.run();
    for (auto& [device, at] : *f.log)
      if (device == "c0" && at == 5000)
        seen_at = tick;
  }
  REQUIRE(seen_at > 0);
  // Recorded during tick 5: forwarded at its next look, within one
  // round (ten ticks), though the cells grow by a fifth every tick.
  CHECK(seen_at - 5 <= 10);
  CHECK(seen_at >= 5);
  caf::anon_send_exit(flusher, caf::exit_reason::user_shutdown);
  f.run();
}

TEST_CASE("a gap of 0 sends every activity", "[activity]") {
  fixture f;
  for (millis t : {5, 6, 7})
    f.cell->record(t, activity_urgent(0ms, 90'000ms));
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

TEST_CASE(
  "activity while the session has no user actor is kept until it has one "
  "again",
  "[activity]") {
  // Its user actor went down and the rejoin is under way: neither the
  // urgent send nor the flusher may drop what the client did meanwhile
  // (the new owner starts the device at its join, and last_seen would end
  // under the client's last ping).
  fixture f;
  f.cell->record(1000, 250);
  f.run();
  REQUIRE(f.log->size() == 1);
  f.cell->route(session_api{}, user_api{}, "dev-1");
  f.cell->record(2000, 250); // urgent, but nobody to send it to
  f.cell->record(2100, 250);
  activity_cell::forward fw;
  CHECK_FALSE(f.cell->take(fw));
  f.run();
  CHECK(f.log->size() == 1);
  // Joined again: the flusher's next look sends the latest.
  f.cell->route(session_api{}, f.user, "dev-1");
  REQUIRE(f.cell->take(fw));
  CHECK(fw.at == 2100);
  CHECK(fw.user == f.user);
  CHECK_FALSE(f.cell->take(fw));
}

TEST_CASE("the gap is the checkpoint interval, at most a third of the TTL",
          "[activity]") {
  CHECK(activity_gap(1000ms, 90'000ms) == 1000ms);
  CHECK(activity_gap(5000ms, 1000ms) == 333ms);
  CHECK(activity_gap(1ms, 90'000ms) == 1ms);
  CHECK(activity_gap(10ms, 1ms) == 1ms);
  CHECK(activity_gap(0ms, 90'000ms) == 0ms);
}

TEST_CASE(
  "activity goes at once only when the device could expire before "
  "the flusher's next round",
  "[activity]") {
  CHECK(activity_urgent(5000ms, 90'000ms) == 80'000);
  CHECK(activity_urgent(333ms, 1000ms) == 334);
  CHECK(activity_urgent(1000ms, 1000ms) == 1000); // at least a gap
  CHECK(activity_urgent(0ms, 90'000ms) == 0);
}
