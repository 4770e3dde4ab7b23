// The fan-out's direct way into a Socket.IO session
// (edge/socketio/sio_direct): each socket hears a change in its dialect's
// words, encoded once per delivery and shared; a socket's own user is left
// out where its seed says so; a batch with a user who restricts who sees
// them goes through the session actor, and later batches wait for it.

#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "edge/socketio/sio_direct.hpp"
#include "edge/socketio/sio_dialects.hpp"
#include "tests/testing_config.hpp"

using namespace presence;
using namespace presence::edge;

namespace {

/// An Engine.IO session that keeps what it was given.
struct recording_eio : eio_transport {
  std::vector<std::shared_ptr<const std::string>> packets;
  void send(std::shared_ptr<const std::string> p) override {
    packets.push_back(std::move(p));
  }
  void send_all(std::vector<std::shared_ptr<const std::string>> ps) override {
    for (auto& p : ps)
      packets.push_back(std::move(p));
  }
  void send_urgent(std::shared_ptr<const std::string> p) override {
    packets.push_back(std::move(p));
  }
  void close(const std::string&) override {}
  const std::string& sid() const override { return sid_; }
  void fast_path(const std::string&, activity_cell_ptr) override {}
  std::shared_ptr<delivery_home> home() const override { return home_; }
  std::vector<std::string> texts() const {
    std::vector<std::string> out;
    for (auto& p : packets)
      out.push_back(*p);
    return out;
  }
  std::string sid_ = "sid";
  std::shared_ptr<delivery_home> home_;
};

/// A home that runs nothing (only its identity matters here).
struct idle_home : delivery_home {
  void deliver(std::shared_ptr<const listeners>, std::size_t, std::size_t,
               delta_batch) override {}
  void deliver(batches) override {}
};

caf::behavior fake_session(caf::event_based_actor*,
                           std::shared_ptr<std::vector<delta_batch>> got) {
  return {
    [=](delta_atom, const delta_batch& b) { got->push_back(b); },
  };
}

presence_delta delta(std::string user, bool online, uint64_t version,
                     bool restricted = false) {
  presence_delta d;
  d.user_id = std::move(user);
  d.online = online;
  d.status = online ? presence_status::online : presence_status::offline;
  d.version = version;
  if (restricted)
    d.vis = make_visibility(
      contact_settings{visibility_mode::contacts, {"someone"}, 1}, false);
  return d;
}

delta_batch
batch_of(std::vector<presence_delta> ds,
         std::shared_ptr<delta_memo> memo = std::make_shared<delta_memo>()) {
  delta_batch b;
  b.deltas = std::make_shared<const std::vector<presence_delta>>(std::move(ds));
  b.memo = std::move(memo);
  return b;
}

sio_socket socket_of(std::string nsp, dialect d, std::string user) {
  sio_socket s;
  s.nsp = std::move(nsp);
  s.d = d;
  s.link.user_id = std::move(user);
  return s;
}

struct fixture : test::testing_config {
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<std::vector<delta_batch>> got
    = std::make_shared<std::vector<delta_batch>>();
  std::shared_ptr<recording_eio> eio = std::make_shared<recording_eio>();
  caf::actor session;
  std::shared_ptr<sio_direct> direct;
  std::map<std::string, sio_socket> sockets;

  fixture()
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    session = sys.spawn(fake_session, got);
    direct = std::make_shared<sio_direct>(eio, nullptr, session.address());
  }

  ~fixture() { sys.await_actors_before_shutdown(false); }

  void add(std::string nsp, dialect d, std::string user) {
    sockets[nsp] = socket_of(nsp, d, std::move(user));
    direct->update(sockets);
  }

  void run() { sched.run(); }
};

} // namespace

TEST_CASE(
  "each socket hears a change in its dialect's words, but not of "
  "its own user",
  "[sio_direct]") {
  fixture f;
  f.add("/", dialect::seed000, "me");
  f.add("/ws/messages", dialect::seed004, "me");
  f.direct->deliver(batch_of(
    {delta("a", true, 1), delta("me", true, 2), delta("b", false, 3)}));
  f.run();
  CHECK(f.got->empty());
  CHECK(f.eio->texts()
        == std::vector<std::string>{
          R"(42["user_online",{"userId":"a"}])",
          R"(42/ws/messages,["user-online",{"userId":"a"}])",
          R"(42["user_offline",{"userId":"b"}])",
          R"(42/ws/messages,["user-offline",{"userId":"b"}])",
        });
}

TEST_CASE("seed 002 sockets hear user-status-change, their own user too",
          "[sio_direct]") {
  fixture f;
  f.add("/", dialect::seed002, "me");
  f.direct->deliver(batch_of({delta("me", true, 1)}));
  REQUIRE(f.eio->packets.size() == 1);
  auto text = *f.eio->packets[0];
  CHECK(text.rfind(R"(42["user-status-change",{)", 0) == 0);
  CHECK(text.find(R"("userId":"me")") != std::string::npos);
  CHECK(text.find(R"("isOnline":true)") != std::string::npos);
}

TEST_CASE(
  "sockets not identified yet hear nothing; the view follows the "
  "session",
  "[sio_direct]") {
  fixture f;
  f.add("/", dialect::none, "");
  f.direct->deliver(batch_of({delta("a", true, 1)}));
  CHECK(f.eio->packets.empty());
  // join_user: seed 000 as "me".
  f.add("/", dialect::seed000, "me");
  f.direct->deliver(batch_of({delta("a", false, 2), delta("me", true, 3)}));
  CHECK(f.eio->texts()
        == std::vector<std::string>{R"(42["user_offline",{"userId":"a"}])"});
  // The socket disconnected from "/".
  f.sockets.clear();
  f.direct->update(f.sockets);
  f.direct->deliver(batch_of({delta("a", true, 4)}));
  CHECK(f.eio->packets.size() == 1);
  f.run();
  CHECK(f.got->empty());
}

TEST_CASE("one delivery's packets are shared among sessions", "[sio_direct]") {
  fixture f;
  fixture g;
  f.add("/", dialect::seed000, "x");
  g.add("/", dialect::seed000, "y");
  auto memo = std::make_shared<delta_memo>();
  f.direct->deliver(batch_of({delta("a", true, 1)}, memo));
  g.direct->deliver(batch_of({delta("a", true, 1)}, memo));
  REQUIRE(f.eio->packets.size() == 1);
  REQUIRE(g.eio->packets.size() == 1);
  CHECK(f.eio->packets[0].get() == g.eio->packets[0].get());
}

TEST_CASE("Socket.IO: after a restricted batch, batches wait for the actor",
          "[sio_direct]") {
  fixture f;
  f.add("/", dialect::seed000, "me");
  f.direct->deliver(batch_of({delta("a", true, 1, true)}));
  f.direct->deliver(batch_of({delta("a", false, 2)})); // must not overtake
  CHECK(f.eio->packets.empty());
  f.run();
  REQUIRE(f.got->size() == 2);
  CHECK(f.got->at(0).forwarded);
  CHECK(f.got->at(1).forwarded);
  CHECK(f.got->at(1).deltas->at(0).version == 2);
  // One of the two written: the next still waits behind the other.
  f.direct->written();
  f.direct->deliver(batch_of({delta("a", true, 3)}));
  f.run();
  CHECK(f.eio->packets.empty());
  REQUIRE(f.got->size() == 3);
  CHECK(f.got->at(2).deltas->at(0).version == 3);
  f.direct->written();
  f.direct->written();
  f.direct->deliver(batch_of({delta("a", false, 4)}));
  f.run();
  CHECK(f.got->size() == 3);
  CHECK(f.eio->texts()
        == std::vector<std::string>{R"(42["user_offline",{"userId":"a"}])"});
}

TEST_CASE("a Socket.IO session being disconnected hears nothing more",
          "[sio_direct]") {
  fixture f;
  f.add("/", dialect::seed000, "me");
  f.direct->clear();
  f.direct->deliver(batch_of({delta("a", true, 1)}));
  f.run();
  CHECK(f.eio->packets.empty());
  CHECK(f.got->empty());
}

TEST_CASE("a Socket.IO session that ended gets nothing more", "[sio_direct]") {
  fixture f;
  f.add("/", dialect::seed000, "me");
  f.direct->end();
  f.direct->deliver(batch_of({delta("a", true, 1)}));
  f.direct->deliver(batch_of({delta("a", false, 2, true)}));
  f.run();
  CHECK(f.eio->packets.empty());
  CHECK(f.got->empty());
}

TEST_CASE(
  "a Socket.IO session's deliveries are best run where its "
  "transport writes",
  "[sio_direct]") {
  fixture f;
  // Polling (no WebSocket): on the fan-out's thread.
  CHECK(f.direct->home() == nullptr);
  // Over a WebSocket: on that socket's I/O thread, which writes at once.
  f.eio->home_ = std::make_shared<idle_home>();
  CHECK(f.direct->home() == f.eio->home_);
}
