// Embedding presenced in a host program's own actor system: no sockets, just
// the typed presence API. What seed 004's getUserOnlineStatus(),
// getOnlineUsers(), getOnlineUsersCount() and sendNotification() become.
//
//   embed [DATA_DIR]
//   embed DATA_DIR SEED REMOTE_USER
//
// With a SEED (host:port of a presenced cluster node) the embedded node
// joins that cluster, checks that REMOTE_USER (connected to another node) is
// online, joins "alice", sends REMOTE_USER a notification (send_to_user),
// prints READY and keeps her online until standard
// input closes.
//
// Exits 0 when every step behaved as expected, 1 otherwise (the test suite
// runs it both ways).

#include <cstdio>
#include <cstdlib>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/io/middleman.hpp>
#include <caf/scoped_actor.hpp>
#include <iostream>

#include "core/messages.hpp"
#include "core/scheduler.hpp"
#include "node/presence_node.hpp"

using namespace presence;
using namespace std::chrono_literals;

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok)
    ++failures;
}

/// A host actor that wants to hear about presence changes (a
/// `delta_listener`): it forwards every delta to `sink` (here: the main
/// thread's scoped actor).
delta_listener::behavior_type listener(delta_listener::pointer,
                                       caf::actor sink) {
  return {
    [=](delta_atom, const delta_batch& batch) {
      for (auto& d : *batch.deltas)
        caf::anon_send(sink, d);
    },
  };
}

} // namespace

int cluster_main(caf::actor_system& sys, config pcfg, const std::string& seed,
                 const std::string& remote_user);

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "./embed-data";
  std::string seed = argc > 3 ? argv[2] : "";

  // The host's own actor system; presenced only needs its types registered
  // (and, to join a cluster, CAF's middleman with heartbeats on).
  caf::actor_system_config cfg;
  register_types(cfg);
  // Optional: the scheduler presenced itself runs (fewer thread wake-ups on
  // sparse traffic; core/scheduler.hpp). Any CAF scheduler works.
  use_lazy_sharing(cfg);
  if (!seed.empty()) {
    cfg.load<caf::io::middleman>();
    cfg.set("middleman.heartbeat-interval", caf::timespan{500ms});
    cfg.set("middleman.connection-timeout", caf::timespan{3000ms});
  }
  caf::actor_system sys{cfg};

  config pcfg;
  pcfg.persistence.data_dir = dir;
  pcfg.actors.reconnect_grace = 0ms; // announce offline at once
  pcfg.actors.coalesce_window = 0ms; // deliver deltas at once
  if (!seed.empty())
    return cluster_main(sys, pcfg, seed, argv[3]);
  std::string err;
  auto n = node::start(sys, pcfg, err);
  if (!n) {
    std::fprintf(stderr, "cannot start node: %s\n", err.c_str());
    return 1;
  }
  auto api = n->api();
  caf::scoped_actor self{sys};

  // Subscribe a listener to everyone's changes.
  auto l = sys.spawn(listener, caf::actor{self});
  self
    ->request(api, 5s, subscribe_atom::value, l, std::vector<std::string>{},
              true)
    .receive([&](bool ok) { check(ok, "subscribe to the global feed"); },
             [&](caf::error& e) { check(false, "subscribe"); });

  // A device joins on behalf of "alice". `session` holds the device: it
  // would hear of expiry, rehoming and rejoins (session_api); here the
  // host's scoped actor stands in and ignores them.
  join_request req;
  req.user_id = "alice";
  req.device.device_id = "host-device-1";
  req.device.platform = "embedded";
  req.session = caf::actor_cast<session_api>(self);
  user_api alice;
  self->request(api, 5s, join_atom::value, req)
    .receive(
      [&](join_ack& ack) {
        alice = ack.user;
        check(ack.status.online, "alice is online after joining");
      },
      [&](caf::error& e) { check(false, "join"); });

  self->receive(
    [&](presence_delta& d) {
      check(d.user_id == "alice" && d.online,
            "listener hears alice come online");
    },
    caf::after(5s) >> [&] { check(false, "no delta within 5 s"); });

  // getUserOnlineStatus(userId)
  self->request(api, 5s, get_atom::value, std::string{"alice"})
    .receive(
      [&](user_status& s) {
        check(s.online && s.devices.size() == 1
                && s.devices[0].platform == "embedded",
              "status of alice: online, one device");
      },
      [&](caf::error&) { check(false, "get status"); });

  // getOnlineUsersCount() and getOnlineUsers()
  self->request(api, 5s, count_atom::value, viewer::everything())
    .receive([&](uint64_t c) { check(c == 1, "one user online"); },
             [&](caf::error&) { check(false, "count"); });
  self
    ->request(api, 5s, list_atom::value, std::string{}, uint32_t{100},
              viewer::everything())
    .receive(
      [&](online_page& p) {
        check(p.users.size() == 1 && p.users[0].user_id == "alice",
              "online list holds alice");
      },
      [&](caf::error&) { check(false, "list"); });

  // The device leaves; the listener hears alice go offline.
  self->send(alice, leave_atom::value, std::string{"host-device-1"},
             self->address());
  self->receive(
    [&](presence_delta& d) {
      check(d.user_id == "alice" && !d.online && d.last_seen > 0,
            "listener hears alice go offline with a last_seen");
    },
    caf::after(5s) >> [&] { check(false, "no delta within 5 s"); });

  // Batch status, answered partly from the store.
  self
    ->request(api, 5s, get_atom::value,
              std::vector<std::string>{"alice", "bob"})
    .receive(
      [&](std::vector<user_status>& xs) {
        check(xs.size() == 2 && !xs[0].online && xs[0].last_seen > 0
                && !xs[1].online && xs[1].last_seen == 0,
              "batch status: alice seen before, bob never");
      },
      [&](caf::error&) { check(false, "batch"); });

  self->send_exit(l, caf::exit_reason::user_shutdown);
  n->stop();
  std::printf("%s\n", failures == 0 ? "embed: all good" : "embed: FAILED");
  return failures == 0 ? 0 : 1;
}

int cluster_main(caf::actor_system& sys, config pcfg, const std::string& seed,
                 const std::string& remote_user) {
  pcfg.cluster.node_id = "embedded";
  pcfg.cluster.listen_enabled = true;
  pcfg.cluster.listen_host = "127.0.0.1";
  pcfg.cluster.listen_port = 0;
  pcfg.cluster.seeds = {seed};
  std::string err;
  auto n = node::start(sys, pcfg, err);
  if (!n) {
    std::fprintf(stderr, "cannot start node: %s\n", err.c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  // Wait (bounded) until the cluster knows us and we know it.
  bool joined = false;
  for (int i = 0; i < 100 && !joined; ++i) {
    self->request(n->membership(), 5s, get_atom::value, cluster_atom::value)
      .receive(
        [&](cluster_status& cs) {
          size_t alive = 0;
          for (auto& m : cs.members)
            alive += m.state != "dead" ? 1 : 0;
          joined = alive >= 2;
        },
        [&](caf::error&) {});
    if (!joined)
      self->receive(caf::after(100ms) >> [] {});
  }
  check(joined, "joined the cluster");
  // A user connected to another node is online here too.
  bool remote_online = false;
  for (int i = 0; i < 50 && !remote_online; ++i) {
    self->request(n->api(), 5s, get_atom::value, remote_user)
      .receive([&](user_status& s) { remote_online = s.online; },
               [&](caf::error&) {});
    if (!remote_online)
      self->receive(caf::after(100ms) >> [] {});
  }
  check(remote_online, "a user of another node is online here");
  join_request req;
  req.user_id = "alice";
  req.device.device_id = "embedded-device";
  req.session = caf::actor_cast<session_api>(self);
  user_api alice;
  self->request(n->api(), 5s, join_atom::value, req)
    .receive([&](join_ack& ack) { alice = ack.user; },
             [&](caf::error&) { check(false, "join alice"); });
  check(static_cast<bool>(alice), "alice joined through the cluster");
  // Seed 004's sendNotification(userId, message): to the remote user's
  // live device on the other node.
  chat_message note;
  note.id = "note-1";
  note.sender_id = "system";
  note.content = "hello from the embedded node";
  caf::actor me = caf::actor_cast<caf::actor>(self);
  n->send_to_user(remote_user, note, [me](caf::expected<uint32_t> r) {
    caf::anon_send(me, r ? *r : uint32_t{9999});
  });
  self->receive(
    [&](uint32_t reached) {
      check(reached == 1, "a notification reached the remote user's device");
    },
    caf::after(5s) >> [&] { check(false, "no answer to send_to_user"); });
  std::printf("READY\n");
  std::fflush(stdout);
  // Alice stays online until the test closes our standard input.
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  self->send(alice, leave_atom::value, std::string{"embedded-device"},
             self->address());
  // The leave is delivered before we go (a round trip to her actor).
  self->request(alice, 5s, get_atom::value)
    .receive([](user_status&) {}, [](caf::error&) {});
  n->stop();
  std::printf("%s\n", failures == 0 ? "embed: all good" : "embed: FAILED");
  return failures == 0 ? 0 : 1;
}
