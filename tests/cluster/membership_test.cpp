#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "cluster/membership.hpp"
#include "tests/cluster/test_fixture.hpp"

// The membership actor of node "a" with one other member, on CAF's test
// coordinator: the test moves CAF's time (the heartbeat ticks) and each
// node's wall clock (what the ticks measure silence with) by hand.

using namespace presence;
using namespace presence::test;
using namespace std::chrono_literals;

namespace {

constexpr auto beat = 100ms;
constexpr auto failure_timeout = 500ms;

/// The views a membership actor published, oldest first.
struct view_log {
  std::vector<cluster_view> views;
};

view_listener::behavior_type recorder(view_listener::pointer,
                                      std::shared_ptr<view_log> log) {
  return {[=](view_atom, const cluster_view& v) { log->views.push_back(v); }};
}

bool has(const cluster_view& v, const std::string& id) {
  for (auto& m : v.members)
    if (m.node_id == id)
      return true;
  return false;
}

/// A member that is connected but never says anything (hung): answers
/// hellos with nobody and sends no heartbeats.
membership_api::behavior_type hung(membership_api::pointer) {
  return {
    [](hello_atom, member_info&) { return std::vector<member_info>{}; },
    [](member_atom, member_info&) {},
    [](heartbeat_atom, const std::string&, millis, const member_stats&) {},
    [](subscribe_atom, const view_listener&) {},
    [](get_atom, cluster_atom) { return cluster_status{}; },
    [](put_atom, const std::string&) {},
    [](put_atom, uint16_t) {},
    [](leave_atom) { return true; },
    [](leave_atom, bool) { return true; },
    [](leave_atom, const std::string&) { return true; },
  };
}

struct members : fixture {
  cluster_config ccfg;
  std::shared_ptr<std::atomic<millis>> a_now
    = std::make_shared<std::atomic<millis>>(1'000'000);
  std::shared_ptr<node_stats> a_stats = std::make_shared<node_stats>();
  std::shared_ptr<view_log> a_views = std::make_shared<view_log>();
  membership_api a;

  members() {
    ccfg.heartbeat_interval = beat;
    ccfg.failure_timeout = failure_timeout;
    member_info me;
    me.node_id = "a";
    me.incarnation = 1;
    a = cluster::spawn_membership(sys, ccfg, me, 1, a_stats,
                                  [n = a_now] { return n->load(); });
    spawned.push_back(a.address());
    caf::anon_send(a, subscribe_atom::value,
                   view_listener{sys.spawn(recorder, a_views)});
    run();
  }

  // Their ticks re-arm themselves forever: the test coordinator would run
  // them at shutdown without end.
  ~members() {
    for (auto& x : spawned)
      caf::anon_send_exit(x, caf::exit_reason::kill);
    run();
  }

  std::vector<caf::actor_addr> spawned;

  /// `a` learns of `m` (as from gossip).
  void meet(member_info m) {
    spawned.push_back(m.membership.address());
    caf::anon_send(a, member_atom::value, std::move(m));
    run();
  }

  /// A heartbeat interval passes: CAF's time and a's wall clock move on
  /// by one beat, and every tick that came due runs.
  void tick() {
    *a_now += beat.count();
    advance(beat);
  }

  bool in_every_view_since(size_t first, const std::string& id) {
    for (size_t i = first; i < a_views->views.size(); ++i)
      if (!has(a_views->views[i], id))
        return false;
    return true;
  }
};

} // namespace

TEST_CASE_METHOD(members,
                 "membership: a tick that ran late does not declare members "
                 "dead whose heartbeats came behind it") {
  cluster_config bcfg = ccfg;
  member_info b;
  b.node_id = "b";
  b.incarnation = 1;
  auto b_now = std::make_shared<std::atomic<millis>>(2'000'000);
  b.membership = cluster::spawn_membership(sys, bcfg, b, 1, nullptr,
                                           [b_now] { return b_now->load(); });
  meet(b);
  for (int i = 0; i < 10; ++i)
    tick();
  REQUIRE(!a_views->views.empty());
  REQUIRE(has(a_views->views.back(), "b"));
  auto seen = a_views->views.size();
  // "a" stands still for 2 s (four failure timeouts): its next tick comes
  // due, and b's heartbeat arrives behind it in its mailbox.
  *a_now += 2'000 + beat.count();
  sched.advance_time(beat);
  caf::anon_send(a, heartbeat_atom::value, std::string{"b"}, millis{1},
                 member_stats{});
  run();
  // It noticed that it stood still...
  CHECK(a_stats->stall_len.load() >= 2'000);
  // ...and blamed nobody else for it.
  CHECK(in_every_view_since(seen, "b"));
  for (int i = 0; i < 10; ++i)
    tick();
  CHECK(in_every_view_since(seen, "b"));
}

TEST_CASE_METHOD(members,
                 "membership: a member silent for the failure timeout is "
                 "declared dead, not sooner") {
  member_info c;
  c.node_id = "c";
  c.incarnation = 1;
  c.membership = sys.spawn(hung);
  meet(c);
  REQUIRE(has(a_views->views.back(), "c"));
  auto seen = a_views->views.size();
  // Learned just now: silent from here on. Half the timeout: still alive.
  for (int i = 0; i < 3; ++i)
    tick();
  CHECK(in_every_view_since(seen, "c"));
  // Past the timeout (and a beat's slack): dead.
  for (int i = 0; i < 4; ++i)
    tick();
  CHECK_FALSE(has(a_views->views.back(), "c"));
}
