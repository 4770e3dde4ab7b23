#include <catch2/catch.hpp>

#include "actors/ttl_sweep.hpp"
#include "tests/actors/test_fixture.hpp"

using namespace presence;
using namespace presence::actors;
using namespace presence::test;
using namespace std::chrono_literals;

TEST_CASE("the TTL wheel hands out entries by step, earliest first") {
  ttl_wheel w{100};
  caf::actor_addr none;
  CHECK(w.earliest() == 0);
  // The first entry, and each one for an earlier step, is news for the
  // sweeper; one for the same or a later step is not.
  CHECK(w.arm(1'050, none, 1));
  CHECK_FALSE(w.arm(1'100, none, 2));
  CHECK_FALSE(w.arm(2'000, none, 3));
  CHECK(w.arm(901, none, 4));
  CHECK(w.size() == 4);
  CHECK(w.earliest() == 1'000); // 901 rounded up to its step
  // An entry fires at the end of its step, never before its time.
  CHECK(w.take_due(999).empty());
  auto first = w.take_due(1'000);
  REQUIRE(first.size() == 1);
  CHECK(first[0].gen == 4);
  auto next = w.take_due(1'100);
  REQUIRE(next.size() == 2);
  CHECK(next[0].gen + next[1].gen == 3);
  CHECK(w.size() == 1);
  CHECK(w.earliest() == 2'000);
  CHECK(w.take_due(5'000).size() == 1);
  CHECK(w.earliest() == 0);
  CHECK(w.size() == 0);
}

TEST_CASE("an entry taken back from the TTL wheel does not fire") {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto a = sys.spawn([] { return caf::behavior{[](int) {}}; });
  auto b = sys.spawn([] { return caf::behavior{[](int) {}}; });
  ttl_wheel w{100};
  w.arm(1'050, a.address(), 1);
  w.arm(1'020, b.address(), 2);
  w.arm(3'000, a.address(), 3);
  // Only the entry of that actor in that step goes.
  CHECK(w.disarm(1'010, a.address()));       // the same step as 1'050
  CHECK_FALSE(w.disarm(1'050, a.address())); // gone already
  CHECK_FALSE(w.disarm(2'000, b.address())); // armed for another step
  CHECK(w.size() == 2);
  auto due = w.take_due(1'100);
  REQUIRE(due.size() == 1);
  CHECK(due[0].gen == 2);
  // A step left empty is gone: the earliest is the next one.
  w.arm(5'000, b.address(), 4);
  CHECK(w.earliest() == 3'000);
  CHECK(w.disarm(3'000, a.address()));
  CHECK(w.earliest() == 5'000);
  CHECK(w.disarm(5'000, b.address()));
  CHECK(w.size() == 0);
  CHECK(w.earliest() == 0);
  caf::anon_send_exit(a, caf::exit_reason::kill);
  caf::anon_send_exit(b, caf::exit_reason::kill);
}

TEST_CASE("the sweep step is a hundredth of the TTL, 10 ms to 500 ms") {
  CHECK(ttl_step(90'000) == 500);
  CHECK(ttl_step(3'000) == 30);
  CHECK(ttl_step(200) == 10);
}

namespace {

/// Joins `user`'s phone from a new session (`session`); the user actor's
/// address, no strong reference to it kept.
caf::actor_addr join_phone(fixture& f, const std::string& user,
                           caf::actor& session) {
  return f.join(user, "phone", nullptr, &session).user.address();
}

/// The phone of the user actor at `who` leaves from `session`.
void leave_phone(fixture& f, const caf::actor_addr& who,
                 const caf::actor& session) {
  f.self->send(caf::actor_cast<user_api>(who), leave_atom::value,
               std::string{"phone"}, session.address());
  f.run();
}

} // namespace

TEST_CASE(
  "a user who went offline is freed at once, not when their "
  "TTL check would have come") {
  fixture f;
  caf::actor session;
  auto who = join_phone(f, "ulla", session);
  leave_phone(f, who, session);
  // The grace period (2 s) ends: offline, and the registry stops the
  // actor. Its TTL check (90 s after the join) is still to come; a CAF
  // timer for it kept the actor (and its state) until then.
  f.advance(3s);
  CHECK_FALSE(f.ask<user_status>(get_atom::value, std::string{"ulla"}).online);
  CHECK(caf::actor_cast<caf::actor>(who) == nullptr);
  // Its memory is not held for the check either: the registry's TTL wheel
  // let go of it when it ended (CAF frees an actor's memory with the last
  // weak reference; the wheel's was dropped only when the check came).
  auto weak_refs = who.get()->weak_refs.load();
  // The check, when its time comes, finds nobody and is dropped.
  f.advance(90s);
  CHECK_FALSE(f.ask<user_status>(get_atom::value, std::string{"ulla"}).online);
  CHECK(who.get()->weak_refs == weak_refs);
}

TEST_CASE(
  "a connection that joins again and again holds one monitor of the user, "
  "and none once the user's actor ends") {
  fixture f;
  caf::actor session;
  auto who = join_phone(f, "vera", session);
  auto rejoin = [&] {
    join_request req;
    req.user_id = "vera";
    req.device.device_id = "phone";
    req.session = caf::actor_cast<session_api>(session);
    auto h = f.self->request(f.api, caf::infinite, join_atom::value, req);
    f.run();
    bool joined = false;
    h.receive([&](join_ack& a) { joined = a.user.address() == who; },
              [](caf::error&) {});
    REQUIRE(joined); // the same actor, within its grace period
  };
  leave_phone(f, who, session);
  rejoin();
  auto weak_refs = who.get()->weak_refs.load();
  // Each monitor on the session held the user actor's address: ten more
  // rejoins of the same connection kept ten more.
  for (int i = 0; i < 10; ++i) {
    leave_phone(f, who, session);
    rejoin();
  }
  CHECK(who.get()->weak_refs == weak_refs);
  // The user leaves for good; the grace period ends and the actor with
  // it. Only `who` holds its address now: nothing on the still open
  // session keeps its memory.
  leave_phone(f, who, session);
  f.advance(3s);
  REQUIRE(caf::actor_cast<caf::actor>(who) == nullptr);
  CHECK(who.get()->weak_refs == 1);
}

TEST_CASE(
  "devices dropped with their node leave no monitor on their sessions") {
  fixture f;
  caf::actor session;
  auto who = join_phone(f, "wanda", session);
  // The view dropped the session's node (here: this one). A hung node's
  // sessions keep their proxies, and a monitor on one this actor's memory.
  // (drop_atom is the registry's, outside user_api.)
  caf::anon_send(caf::actor_cast<caf::actor>(who), drop_atom::value,
                 f.sys.node());
  f.run();
  f.advance(3s);
  REQUIRE(caf::actor_cast<caf::actor>(who) == nullptr);
  CHECK(who.get()->weak_refs == 1);
}
