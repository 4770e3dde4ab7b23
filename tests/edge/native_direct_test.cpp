// The fan-out's direct way into a native session (edge/native/native_direct):
// plain batches go straight to the socket; a batch of a user who restricts
// who sees them, and every batch after it until the session actor wrote
// them, goes through the actor, so a user's versions stay in order.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include <prometheus/registry.h>

#include "edge/common/edge_probe.hpp"
#include "edge/native/native_direct.hpp"
#include "tests/testing_config.hpp"

using namespace presence;
using namespace presence::edge;

namespace {

/// A socket that keeps what it was given.
struct recording_sink : session_sink {
  std::vector<std::string> frames;
  void send_text(std::shared_ptr<const std::string> f) override {
    frames.push_back(*f);
  }
  void close(uint16_t, std::string) override {}
};

/// The stand-in session actor: the batches passed on to it, in order.
caf::behavior fake_session(caf::event_based_actor*,
                           std::shared_ptr<std::vector<delta_batch>> got) {
  return {
    [=](delta_atom, const delta_batch& b) { got->push_back(b); },
  };
}

delta_batch batch_of(std::string user, uint64_t version, bool restricted) {
  presence_delta d;
  d.user_id = std::move(user);
  d.online = true;
  d.status = presence_status::online;
  d.version = version;
  if (restricted)
    d.vis = make_visibility(
      contact_settings{visibility_mode::contacts, {"someone"}, 1}, false);
  delta_batch b;
  b.deltas = std::make_shared<const std::vector<presence_delta>>(
    std::vector<presence_delta>{d});
  b.memo = std::make_shared<delta_memo>();
  return b;
}

struct fixture : test::testing_config {
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<std::vector<delta_batch>> got
    = std::make_shared<std::vector<delta_batch>>();
  std::shared_ptr<recording_sink> sink = std::make_shared<recording_sink>();
  caf::actor session;
  std::shared_ptr<native_direct> direct;

  fixture()
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    session = sys.spawn(fake_session, got);
    direct = std::make_shared<native_direct>(sink, nullptr, session.address());
  }

  ~fixture() { sys.await_actors_before_shutdown(false); }

  void run() { sched.run(); }
};

} // namespace

TEST_CASE("plain batches go straight to the socket", "[native_direct]") {
  fixture f;
  f.direct->deliver(batch_of("a", 1, false));
  f.direct->deliver(batch_of("b", 2, false));
  f.run();
  REQUIRE(f.sink->frames.size() == 2);
  CHECK(f.sink->frames[0].find("\"a\"") != std::string::npos);
  CHECK(f.sink->frames[1].find("\"b\"") != std::string::npos);
  CHECK(f.got->empty());
}

TEST_CASE("after a restricted batch, batches wait for the session actor",
          "[native_direct]") {
  fixture f;
  f.direct->deliver(batch_of("a", 1, true));  // needs the viewer
  f.direct->deliver(batch_of("a", 2, false)); // must not overtake it
  CHECK(f.sink->frames.empty());
  f.run();
  REQUIRE(f.got->size() == 2);
  CHECK(f.got->at(0).forwarded);
  CHECK(f.got->at(0).deltas->at(0).version == 1);
  CHECK(f.got->at(1).forwarded);
  CHECK(f.got->at(1).deltas->at(0).version == 2);
  // Once the actor wrote both, the direct way is open again.
  f.direct->written();
  f.direct->deliver(batch_of("a", 3, false));
  f.run();
  CHECK(f.sink->frames.empty());
  CHECK(f.got->size() == 3);
  f.direct->written();
  f.direct->written();
  f.direct->deliver(batch_of("a", 4, false));
  f.run();
  CHECK(f.got->size() == 3);
  REQUIRE(f.sink->frames.size() == 1);
  CHECK(f.sink->frames[0].find("\"version\":4") != std::string::npos);
}

TEST_CASE("a session that ended gets nothing more", "[native_direct]") {
  fixture f;
  f.direct->end();
  f.direct->deliver(batch_of("a", 1, false));
  f.direct->deliver(batch_of("a", 2, true));
  f.run();
  CHECK(f.sink->frames.empty());
  CHECK(f.got->empty());
}

TEST_CASE("frames written under a tally are counted once, at its end",
          "[native_direct]") {
  fixture f;
  auto registry = std::make_shared<prometheus::Registry>();
  auto& family = prometheus::BuildCounter().Name("frames").Register(*registry);
  auto& frames = family.Add({{"k", "frames"}});
  auto& other = family.Add({{"k", "other"}});
  std::shared_ptr<prometheus::Counter> counted{registry, &frames};
  auto direct = std::make_shared<native_direct>(f.sink, counted,
                                                f.session.address());
  {
    counter_tally tally;
    direct->deliver(batch_of("a", 1, false));
    direct->deliver(batch_of("b", 2, false));
    CHECK(frames.Value() == 0);   // not yet
    counter_tally::count(&other); // another counter's go straight to it
    CHECK(other.Value() == 1);
  }
  CHECK(frames.Value() == 2);
  CHECK(f.sink->frames.size() == 2);
  // Without a tally, at once.
  direct->deliver(batch_of("c", 3, false));
  CHECK(frames.Value() == 3);
}
