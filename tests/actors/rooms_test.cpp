// The rooms of two nodes (actors/room_registry) on CAF's deterministic test
// coordinator: signals reach the room's members on both nodes and no one
// else; a typing indicator ends by itself after the timeout unless started
// again; a member that leaves or dies while typing stops. Profile writes
// reach the profile watchers of both nodes.

#include <catch2/catch.hpp>

#include "actors/room_registry.hpp"
#include "tests/actors/test_fixture.hpp"

using namespace presence;
using namespace presence::test;
using namespace std::chrono_literals;

namespace {

struct two_nodes : fixture {
  rooms_api a;
  rooms_api b;

  two_nodes() : fixture(cfg_with_timeout()) {
    a = actors::spawn_room_registry(sys, acfg);
    b = actors::spawn_room_registry(sys, acfg);
    // Each sees the other in the cluster's view.
    cluster_view v;
    member_info ma, mb;
    ma.node_id = "a";
    ma.rooms = a;
    mb.node_id = "b";
    mb.rooms = b;
    v.members = {ma, mb};
    v.self = "a";
    self->send(caf::actor_cast<view_listener>(a), view_atom::value, v);
    v.self = "b";
    self->send(caf::actor_cast<view_listener>(b), view_atom::value, v);
    run();
  }

  static actors_config cfg_with_timeout() {
    auto c = default_cfg();
    c.typing_timeout = 5s;
    return c;
  }

  /// A member on `node` in `room` (none when empty).
  std::pair<caf::actor, std::shared_ptr<inbox>>
  member(const rooms_api& node, const std::string& room) {
    auto box = std::make_shared<inbox>();
    auto m = sys.spawn(recorder, box);
    if (!room.empty())
      self->send(node, join_atom::value, room, caf::actor_cast<room_member>(m));
    run();
    return {m, box};
  }

  void signal(const rooms_api& node, const caf::actor& from,
              const std::string& room, const std::string& user, bool typing) {
    self->send(node, room_atom::value, caf::actor_cast<room_member>(from),
               room_signal{room, user, typing});
    run();
  }
};

size_t count(const inbox& box, const std::string& user, bool typing) {
  size_t n = 0;
  for (auto& s : box.signals)
    n += s.user_id == user && s.typing == typing ? 1 : 0;
  return n;
}

} // namespace

TEST_CASE("a room's signals reach its members on every node, no one else") {
  two_nodes f;
  auto [ann, ann_box] = f.member(f.a, "r");
  auto [bob, bob_box] = f.member(f.b, "r");
  auto [cy, cy_box] = f.member(f.b, "other");
  auto [dee, dee_box] = f.member(f.a, "");
  f.signal(f.a, ann, "r", "ann", true);
  CHECK(count(*bob_box, "ann", true) == 1);
  CHECK(ann_box->signals.empty()); // no echo
  CHECK(cy_box->signals.empty());
  CHECK(dee_box->signals.empty());
  // A non-member may not signal the room.
  f.signal(f.a, dee, "r", "dee", true);
  CHECK(count(*bob_box, "dee", true) == 0);
  f.signal(f.a, ann, "r", "ann", false);
  CHECK(count(*bob_box, "ann", false) == 1);
}

TEST_CASE("a typing indicator ends by itself unless started again") {
  two_nodes f;
  auto [ann, ann_box] = f.member(f.a, "r");
  auto [bob, bob_box] = f.member(f.b, "r");
  f.signal(f.a, ann, "r", "ann", true);
  f.advance(4s);
  CHECK(count(*bob_box, "ann", false) == 0);
  f.signal(f.a, ann, "r", "ann", true); // a refresh
  f.advance(4s);
  CHECK(count(*bob_box, "ann", false) == 0);
  f.advance(2s);
  CHECK(count(*bob_box, "ann", false) == 1);
  f.advance(10s);
  CHECK(count(*bob_box, "ann", false) == 1); // once
  // Stopped in time: no second stop from the timer.
  f.signal(f.a, ann, "r", "ann", true);
  f.signal(f.a, ann, "r", "ann", false);
  f.advance(10s);
  CHECK(count(*bob_box, "ann", false) == 2);
}

TEST_CASE("a typist that leaves or dies stops typing for the others") {
  two_nodes f;
  auto [ann, ann_box] = f.member(f.a, "r");
  auto [bob, bob_box] = f.member(f.b, "r");
  f.signal(f.b, bob, "r", "bob", true);
  f.self->send(f.b, leave_atom::value, std::string{"r"},
               caf::actor_cast<room_member>(bob));
  f.run();
  CHECK(count(*ann_box, "bob", false) == 1);
  f.self->send(f.b, join_atom::value, std::string{"r"},
               caf::actor_cast<room_member>(bob));
  f.run();
  f.signal(f.b, bob, "r", "bob", true);
  f.self->send_exit(bob, caf::exit_reason::user_shutdown);
  f.run();
  CHECK(count(*ann_box, "bob", false) == 2);
  f.advance(10s);
  CHECK(count(*ann_box, "bob", false) == 2); // the timer found it gone
}

TEST_CASE("a typist's node that goes silent: the others end it themselves") {
  two_nodes f;
  auto [ann, ann_box] = f.member(f.a, "r");
  auto [bob, bob_box] = f.member(f.b, "r");
  // Node b's typing signal reaches a; then b is gone (no stop will come).
  f.signal(f.b, bob, "r", "bob", true);
  CHECK(count(*ann_box, "bob", true) == 1);
  f.self->send_exit(f.b, caf::exit_reason::kill);
  f.run();
  f.advance(5s);
  CHECK(count(*ann_box, "bob", false) == 0); // a second of slack first
  f.advance(2s);
  CHECK(count(*ann_box, "bob", false) == 1);
  f.advance(10s);
  CHECK(count(*ann_box, "bob", false) == 1); // once
}

TEST_CASE("a profile write reaches the profile watchers of every node") {
  two_nodes f;
  auto heard_a = std::make_shared<std::vector<std::string>>();
  auto heard_b = std::make_shared<std::vector<std::string>>();
  auto watcher = [&f](std::shared_ptr<std::vector<std::string>> heard) {
    return f.sys.spawn([heard]() -> caf::behavior {
      return {
        [heard](profile_atom, const std::string& u) { heard->push_back(u); }};
    });
  };
  auto wa = watcher(heard_a);
  auto wb = watcher(heard_b);
  f.self->send(f.a, subscribe_atom::value,
               caf::actor_cast<profile_watcher>(wa));
  f.self->send(f.b, subscribe_atom::value,
               caf::actor_cast<profile_watcher>(wb));
  // A second subscribe of the same watcher changes nothing.
  f.self->send(f.b, subscribe_atom::value,
               caf::actor_cast<profile_watcher>(wb));
  f.run();
  f.self->send(f.a, profile_atom::value, std::string{"bob"});
  f.run();
  CHECK(*heard_a == std::vector<std::string>{"bob"});
  CHECK(*heard_b == std::vector<std::string>{"bob"});
  // A room member hears nothing of it (no room carries it).
  auto [ann, ann_box] = f.member(f.b, "bob");
  f.self->send(f.b, profile_atom::value, std::string{"cy"});
  f.run();
  CHECK(ann_box->signals.empty());
  CHECK(heard_a->back() == "cy");
  CHECK(heard_b->back() == "cy");
  CHECK(heard_b->size() == 2);
  // A watcher that ended does not hold up the others.
  caf::anon_send_exit(wb, caf::exit_reason::kill);
  f.run();
  f.self->send(f.b, profile_atom::value, std::string{"dee"});
  f.run();
  CHECK(heard_a->back() == "dee");
}
