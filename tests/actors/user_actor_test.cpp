#include <catch2/catch.hpp>

#include "tests/actors/test_fixture.hpp"

using namespace presence;
using namespace presence::test;
using namespace std::chrono_literals;

namespace {

/// A join of `user` on `device` held by `session`, as a session sends it
/// (`status` offline: none chosen).
join_request request(const caf::actor& session, const std::string& user,
                     const std::string& device,
                     presence_status status = presence_status::offline) {
  join_request req;
  req.user_id = user;
  req.device.device_id = device;
  req.device.status = status;
  req.session = caf::actor_cast<session_api>(session);
  return req;
}

} // namespace

TEST_CASE("a join makes the user online and tells global subscribers") {
  fixture f;
  auto feed = f.subscribe({}, true);
  auto ack = f.join("alice", "phone");
  CHECK(ack.status.online);
  CHECK(ack.status.status == presence_status::online);
  CHECK(ack.status.devices.size() == 1);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
  // After a quiet spell a delta goes out at once (adaptive coalescing).
  f.run();
  REQUIRE(count_for(*feed, "alice", true) == 1);
  CHECK(feed->deltas.back().version > 0);
  REQUIRE(f.log->opens.size() == 1);
  CHECK(f.log->opens[0].first == "alice");
}

TEST_CASE("a user with two devices stays online until the second leaves") {
  fixture f;
  auto feed = f.subscribe({}, true);
  caf::actor s1, s2;
  auto a1 = f.join("bob", "phone", nullptr, &s1);
  auto a2 = f.join("bob", "laptop", nullptr, &s2);
  CHECK(a2.status.devices.size() == 2);
  f.advance(60ms);
  CHECK(count_for(*feed, "bob", true) == 1);
  auto user = caf::actor_cast<user_api>(a1.user);
  f.self->send(user, leave_atom::value, std::string{"phone"}, s1.address());
  f.advance(5s);
  CHECK(count_for(*feed, "bob", false) == 0);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
  auto leave_at = f.now();
  f.self->send(user, leave_atom::value, std::string{"laptop"}, s2.address());
  f.run();
  // Grace period: still online for everyone else.
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
  f.advance(2100ms);
  REQUIRE(count_for(*feed, "bob", false) == 1);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 0);
  REQUIRE(f.log->closes.size() == 1);
  CHECK(std::get<2>(f.log->closes[0]) == leave_at);
  auto st = f.ask<user_status>(get_atom::value, std::string{"bob"});
  CHECK_FALSE(st.online);
  CHECK(st.last_seen == leave_at);
}

TEST_CASE("a leave from a replaced session is ignored") {
  fixture f;
  caf::actor s1, s2;
  std::shared_ptr<inbox> box1;
  auto a1 = f.join("carol", "phone", &box1, &s1);
  f.join("carol", "phone", nullptr, &s2);
  // The old session hears it was replaced.
  REQUIRE(box1->expired.size() == 1);
  CHECK(box1->expired[0].second == "replaced");
  auto user = caf::actor_cast<user_api>(a1.user);
  f.self->send(user, leave_atom::value, std::string{"phone"}, s1.address());
  f.advance(3s);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
}

TEST_CASE("a device that stops heartbeating expires after the TTL") {
  fixture f;
  auto feed = f.subscribe({}, true);
  std::shared_ptr<inbox> session_box;
  auto ack = f.join("dave", "phone", &session_box);
  auto user = caf::actor_cast<user_api>(ack.user);
  f.advance(60s);
  f.self->send(user, heartbeat_atom::value, std::string{"phone"}, f.now());
  f.run();
  auto last_beat = f.now();
  // 90 s after the join, but only 30 s after the heartbeat: still there.
  f.advance(40s);
  CHECK(session_box->expired.empty());
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
  // 90 s after the heartbeat: gone, and offline once the grace has passed.
  f.advance(51s);
  REQUIRE(session_box->expired.size() == 1);
  CHECK(session_box->expired[0].second == "heartbeat timeout");
  f.advance(2100ms);
  CHECK(count_for(*feed, "dave", false) == 1);
  auto st = f.ask<user_status>(get_atom::value, std::string{"dave"});
  CHECK_FALSE(st.online);
  // last_seen is the last sign of life, not the moment of expiry.
  CHECK(st.last_seen == last_beat);
}

TEST_CASE("one TTL timer per user expires each of its devices on time") {
  fixture f;
  std::shared_ptr<inbox> phone_box, laptop_box;
  auto ack = f.join("dora", "phone", &phone_box);
  f.advance(30s);
  f.join("dora", "laptop", &laptop_box);
  auto user = caf::actor_cast<user_api>(ack.user);
  // The phone keeps beating; the laptop (joined 30 s later) goes quiet.
  f.advance(50s);
  f.self->send(user, heartbeat_atom::value, std::string{"phone"}, f.now());
  f.run();
  auto phone_beat = f.now();
  // 90 s after the phone's join: the phone beat since, nothing expires.
  f.advance(15s);
  CHECK(phone_box->expired.empty());
  CHECK(laptop_box->expired.empty());
  // 90 s after the laptop's join: the laptop alone expires.
  f.advance(26s);
  REQUIRE(laptop_box->expired.size() == 1);
  CHECK(laptop_box->expired[0].second == "heartbeat timeout");
  CHECK(phone_box->expired.empty());
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
  // 90 s after the phone's last beat: the phone too, then offline.
  f.advance(std::chrono::milliseconds{phone_beat + 90'000 - f.now() - 1});
  CHECK(phone_box->expired.empty());
  f.advance(2s);
  REQUIRE(phone_box->expired.size() == 1);
  f.advance(2100ms);
  auto st = f.ask<user_status>(get_atom::value, std::string{"dora"});
  CHECK_FALSE(st.online);
  CHECK(st.last_seen == phone_beat);
}

TEST_CASE("a reconnect within the grace period announces nothing") {
  fixture f;
  auto feed = f.subscribe({}, true);
  caf::actor s1;
  auto ack = f.join("erin", "tab", nullptr, &s1);
  f.advance(100ms);
  auto before = feed->deltas.size();
  auto user = caf::actor_cast<user_api>(ack.user);
  f.self->send(user, leave_atom::value, std::string{"tab"}, s1.address());
  f.advance(500ms);
  f.join("erin", "tab");
  f.advance(5s);
  CHECK(feed->deltas.size() == before);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
  CHECK(f.log->closes.empty());
}

TEST_CASE("zero grace announces offline at once") {
  fixture f{fixture::immediate_cfg()};
  auto feed = f.subscribe({}, true);
  caf::actor s1;
  auto ack = f.join("fay", "tab", nullptr, &s1);
  f.self->send(caf::actor_cast<user_api>(ack.user), leave_atom::value,
               std::string{"tab"}, s1.address());
  f.run();
  CHECK(count_for(*feed, "fay", true) == 1);
  CHECK(count_for(*feed, "fay", false) == 1);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 0);
}

TEST_CASE("versions grow with every change and start above the stored one") {
  fixture f{fixture::immediate_cfg()};
  f.log->records["gus"] = user_record{"gus", true, 5, fixture::base * 2};
  auto feed = f.subscribe({"gus"}, false);
  caf::actor s1;
  auto ack = f.join("gus", "a", nullptr, &s1);
  auto user = caf::actor_cast<user_api>(ack.user);
  f.ask_actor<user_status>(user, status_atom::value, std::string{"a"},
                           presence_status::busy);
  f.self->send(user, leave_atom::value, std::string{"a"}, s1.address());
  f.run();
  REQUIRE(feed->deltas.size() == 3);
  CHECK(feed->deltas[0].version > static_cast<uint64_t>(fixture::base * 2));
  CHECK(feed->deltas[1].status == presence_status::busy);
  CHECK(feed->deltas[1].version > feed->deltas[0].version);
  CHECK(feed->deltas[2].version > feed->deltas[1].version);
}

TEST_CASE("status changes aggregate across devices") {
  fixture f{fixture::unbatched_cfg()};
  auto ack = f.join("hal", "phone");
  f.join("hal", "desk");
  auto user = caf::actor_cast<user_api>(ack.user);
  auto st = f.ask_actor<user_status>(user, status_atom::value,
                                     std::string{"phone"},
                                     presence_status::away);
  CHECK(st.status == presence_status::online);
  st = f.ask_actor<user_status>(user, status_atom::value, std::string{"desk"},
                                presence_status::away);
  CHECK(st.status == presence_status::away);
  st = f.ask_actor<user_status>(user, status_atom::value, std::string{"desk"},
                                presence_status::dnd);
  CHECK(st.status == presence_status::dnd);
}

TEST_CASE("the device limit refuses extra devices") {
  auto c = fixture::default_cfg();
  c.max_devices_per_user = 2;
  fixture f{c};
  f.join("ivy", "1");
  f.join("ivy", "2");
  CHECK_THROWS(f.join("ivy", "3"));
  // Re-joining an existing device is not an extra device.
  CHECK_NOTHROW(f.join("ivy", "2"));
}

TEST_CASE("a session that dies without leaving loses its device") {
  auto c = fixture::default_cfg();
  c.reconnect_grace = 0ms;
  fixture f{c};
  caf::actor s1;
  f.join("jan", "tab", nullptr, &s1);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
  f.self->send_exit(s1, caf::exit_reason::kill);
  f.run();
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 0);
}

TEST_CASE("shutdown records every online user offline") {
  fixture f;
  f.join("kim", "a");
  f.join("lee", "b");
  f.advance(1s);
  auto closed = f.ask<uint64_t>(shutdown_atom::value);
  CHECK(closed == 2);
  CHECK(f.log->closes.size() == 2);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 0);
  CHECK_THROWS(f.join("max", "c"));
}

TEST_CASE("an online user's last_seen never goes backwards") {
  fixture f;
  caf::actor s1, s2;
  auto ack = f.join("nia", "phone", nullptr, &s1);
  f.join("nia", "desk", nullptr, &s2);
  auto user = caf::actor_cast<user_api>(ack.user);
  f.advance(10s);
  f.self->send(user, heartbeat_atom::value, std::string{"phone"}, f.now());
  f.run();
  auto before = f.ask<user_status>(get_atom::value, std::string{"nia"});
  // The most recently active device goes; the other one is older.
  f.self->send(user, leave_atom::value, std::string{"phone"}, s1.address());
  f.run();
  auto after = f.ask<user_status>(get_atom::value, std::string{"nia"});
  CHECK(after.online);
  CHECK(after.last_seen >= before.last_seen);
}

TEST_CASE(
  "a join online writes its open mark and no checkpoint; a join "
  "with another status checkpoints it") {
  fixture f{fixture::default_cfg(), 1s};
  f.join("pia", "phone");
  f.advance(1100ms);
  REQUIRE(f.log->opens.size() == 1);
  CHECK(f.log->opens[0].first == "pia");
  // The mark says start, version and online: a checkpoint would say it again.
  CHECK(f.log->checkpoints.empty());
  f.join("quinn", "phone", nullptr, nullptr, presence_status::away);
  f.advance(1100ms);
  CHECK(f.log->opens.size() == 2);
  REQUIRE(f.log->checkpoints.size() == 1);
  CHECK(std::get<0>(f.log->checkpoints[0]) == "quinn");
}

TEST_CASE(
  "a heartbeat is checkpointed at once, state changes are "
  "throttled, and the last one always follows") {
  fixture f{fixture::default_cfg(), 1s};
  auto ack = f.join("oli", "phone");
  auto user = caf::actor_cast<user_api>(ack.user);
  f.advance(1100ms); // the join's own checkpoints are out
  // The edge sends a device's activity at most once per gap: each is
  // written at once, with its time.
  for (int i = 0; i < 3; ++i) {
    auto before = f.log->checkpoints.size();
    f.advance(1000ms);
    f.self->send(user, heartbeat_atom::value, std::string{"phone"}, f.now());
    f.run();
    REQUIRE(f.log->checkpoints.size() == before + 1);
    CHECK(std::get<2>(f.log->checkpoints.back()) == f.now());
  }
  // Status changes in quick succession: one checkpoint per interval at
  // most, and the last state follows at the end of the interval.
  auto before = f.log->checkpoints.size();
  millis last_change = 0;
  for (int i = 0; i < 20; ++i) {
    f.advance(100ms);
    f.ask_actor<user_status>(user, status_atom::value, std::string{"phone"},
                             i % 2 == 0 ? presence_status::busy
                                        : presence_status::away);
    last_change = f.now();
  }
  f.advance(1100ms);
  auto sent = f.log->checkpoints.size() - before;
  CHECK(sent >= 2);
  CHECK(sent <= 4); // 20 changes over 2 s, one per second at most
  REQUIRE_FALSE(f.log->checkpoints.empty());
  CHECK(std::get<2>(f.log->checkpoints.back()) == last_change);
}

TEST_CASE(
  "a custom status message is announced, ends by itself, and goes "
  "with the user") {
  fixture f{fixture::immediate_cfg()};
  auto feed = f.subscribe({"ivy"}, false);
  caf::actor s1;
  auto ack = f.join("ivy", "phone", nullptr, &s1);
  auto user = caf::actor_cast<user_api>(ack.user);
  auto until = f.now() + 60'000;
  auto st = f.ask_actor<user_status>(user, status_atom::value,
                                     std::string{"In a meeting"}, until);
  CHECK(st.status_text == "In a meeting");
  CHECK(st.status_expires == until);
  REQUIRE(feed->deltas.size() == 2);
  CHECK(feed->deltas[1].status_text == "In a meeting");
  CHECK(feed->deltas[1].version > feed->deltas[0].version);
  // The same again changes nothing.
  f.ask_actor<user_status>(user, status_atom::value,
                           std::string{"In a meeting"}, until);
  CHECK(feed->deltas.size() == 2);
  // It ends by itself at its time, announced.
  f.advance(59s);
  CHECK(feed->deltas.size() == 2);
  f.advance(2s);
  REQUIRE(feed->deltas.size() == 3);
  CHECK(feed->deltas[2].status_text.empty());
  CHECK(f.ask_actor<user_status>(user, get_atom::value).status_text.empty());
  // Without an end it stays until cleared, or until the user goes offline.
  f.ask_actor<user_status>(user, status_atom::value, std::string{"Lunch"},
                           millis{0});
  f.advance(20s); // (within the device's TTL: no heartbeats here)
  CHECK(f.ask_actor<user_status>(user, get_atom::value).status_text == "Lunch");
  f.self->send(user, leave_atom::value, std::string{"phone"}, s1.address());
  f.run();
  CHECK_FALSE(feed->deltas.back().online);
  CHECK(feed->deltas.back().status_text.empty());
}

TEST_CASE("auto-away: an idle device turns away, input brings it back") {
  auto c = fixture::default_cfg();
  c.coalesce_window = 0ms;
  c.heartbeat_ttl = 1h;
  fixture f{c};
  auto feed = f.subscribe({"jo"}, false);
  // The phone auto-aways after 60 s; the desk never.
  auto [phone_session, phone_box] = f.listener();
  join_request req;
  req.user_id = "jo";
  req.device.device_id = "phone";
  req.device.auto_away = 60'000;
  req.session = caf::actor_cast<session_api>(phone_session);
  auto ack = f.ask<join_ack>(join_atom::value, req);
  auto user = caf::actor_cast<user_api>(ack.user);
  REQUIRE(feed->deltas.size() == 1);
  f.advance(50s);
  f.self->send(user, activity_atom::value, std::string{"phone"}, f.now());
  f.run();
  f.advance(50s); // 50 s since the input: still online
  CHECK(feed->deltas.size() == 1);
  f.advance(15s); // 65 s: away
  REQUIRE(feed->deltas.size() == 2);
  CHECK(feed->deltas[1].status == presence_status::away);
  CHECK(feed->deltas[1].online);
  // Input: online again at once; idle again later: away again.
  f.self->send(user, activity_atom::value, std::string{"phone"}, f.now());
  f.run();
  REQUIRE(feed->deltas.size() == 3);
  CHECK(feed->deltas[2].status == presence_status::online);
  f.advance(61s);
  REQUIRE(feed->deltas.size() == 4);
  CHECK(feed->deltas[3].status == presence_status::away);
  // A second device without auto-away keeps the user online (most
  // available wins) while the phone stays away.
  f.join("jo", "desk");
  REQUIRE(feed->deltas.size() == 5);
  CHECK(feed->deltas[4].status == presence_status::online);
  f.advance(10min);
  CHECK(feed->deltas.size() == 5);
  // A status the client chose is not automatic: it stays until changed.
  auto st = f.ask_actor<user_status>(user, status_atom::value,
                                     std::string{"phone"},
                                     presence_status::busy);
  f.advance(10min);
  for (auto& d : st.devices)
    if (d.device_id == "phone")
      CHECK(d.status == presence_status::busy);
  auto now = f.ask_actor<user_status>(user, get_atom::value);
  for (auto& d : now.devices)
    if (d.device_id == "phone")
      CHECK(d.status == presence_status::busy);
}

TEST_CASE("every join that takes the queue hears that messages may wait") {
  auto c = fixture::default_cfg();
  fixture f{c};
  user_record r{"kai", true, 5, 7};
  r.queued = 2;
  f.log->records["kai"] = r;
  auto join = [&](const std::string& dev, bool collects,
                  std::shared_ptr<inbox>* box = nullptr) {
    auto [session, b] = f.listener();
    if (box)
      *box = b;
    auto req = request(session, "kai", dev);
    req.collects_queue = collects;
    return f.ask<join_ack>(join_atom::value, req);
  };
  // A seed-002/004 socket (does not take the queue) leaves the hint alone.
  CHECK_FALSE(join("watch", false).queued);
  std::shared_ptr<inbox> phone_box;
  auto first = join("phone", true, &phone_box);
  CHECK(first.queued);
  // Each device takes what it has not taken (the store's cursor per
  // device), so the desk hears it too.
  CHECK(join("desk", true).queued);
  // A message for every device: delivered, no hint.
  auto user = caf::actor_cast<user_api>(first.user);
  chat_message m;
  m.id = "c:1";
  auto n = f.ask_actor<uint32_t>(user, message_atom::value, m,
                                 std::string{"desk"});
  CHECK(n == 2); // watch and phone, not the sending desk
  f.run();
  REQUIRE(phone_box->messages.size() == 1);
  CHECK(phone_box->messages[0].id == "c:1");
}

TEST_CASE("a device the offline queue does not know takes it once") {
  auto c = fixture::default_cfg();
  fixture f{c};
  user_record r{"lee", true, 5, 7};
  r.queue_devices = {"phone", "old-tab"};
  // The phone took the queue an hour ago, the tab two days ago.
  r.queue_seen = {f.now() - 3'600'000, f.now() - 2 * 86'400'000};
  f.log->records["lee"] = r;
  auto join = [&](const std::string& name) {
    auto [session, b] = f.listener();
    auto req = request(session, "lee", "d-" + name);
    req.collects_queue = true;
    req.queue_device = name;
    return f.ask<join_ack>(join_atom::value, req).queued;
  };
  // Nothing waits: a known device does not ask the store.
  CHECK_FALSE(join("phone"));
  // A new one asks once (the store then keeps its cursor).
  CHECK(join("tab"));
  CHECK_FALSE(join("tab"));
  CHECK(join("")); // the unnamed devices, once
  CHECK_FALSE(join(""));
  // A device that has not taken it for over a day takes it (which keeps
  // its cursor from being forgotten), then not again that day.
  CHECK(join("old-tab"));
  CHECK_FALSE(join("old-tab"));
}

TEST_CASE("a new user's unnamed devices do not ask the store") {
  auto c = fixture::default_cfg();
  fixture f{c};
  auto [session, b] = f.listener();
  auto req = request(session, "newbie", "sio-1");
  req.collects_queue = true;
  CHECK_FALSE(f.ask<join_ack>(join_atom::value, req).queued);
}

TEST_CASE(
  "invisible: offline to everyone else, the truth to the user's own "
  "devices, last_seen still") {
  fixture f{fixture::unbatched_cfg()};
  auto feed = f.subscribe({}, true);
  auto ack = f.join("ivy", "phone");
  f.join("ivy", "desk");
  f.run();
  REQUIRE(count_for(*feed, "ivy", true) == 1);
  auto user = caf::actor_cast<user_api>(ack.user);
  f.advance(1s);
  auto hid_at = f.now();
  auto own = f.ask_actor<user_status>(user, status_atom::value,
                                      std::string{"phone"},
                                      presence_status::invisible);
  // The phone sees the truth; the desk only joined, so it does not show
  // the user.
  CHECK(own.online);
  CHECK(own.status == presence_status::invisible);
  CHECK(own.devices.size() == 2);
  f.run();
  REQUIRE(count_for(*feed, "ivy", false) == 1);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 0);
  auto seen = f.ask<user_status>(get_atom::value, std::string{"ivy"});
  CHECK_FALSE(seen.online);
  CHECK(seen.status == presence_status::offline);
  CHECK(seen.devices.empty());
  CHECK(seen.last_seen == hid_at);
  REQUIRE(f.log->closes.size() == 1);
  CHECK(std::get<2>(f.log->closes[0]) == hid_at);
  // Activity while invisible moves nothing anyone sees, nor the store.
  auto checkpoints = f.log->checkpoints.size();
  f.advance(20s);
  f.self->send(user, heartbeat_atom::value, std::string{"desk"}, f.now());
  f.advance(20s);
  CHECK(f.log->checkpoints.size() == checkpoints);
  CHECK(f.ask<user_status>(get_atom::value, std::string{"ivy"}).last_seen
        == hid_at);
  // A device joining later sees the truth too; others still see offline.
  auto third = f.join("ivy", "tab");
  CHECK(third.status.status == presence_status::invisible);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 0);
  // A visible status chosen on the desk shows the user again: a new
  // session, announced.
  auto shown = f.ask_actor<user_status>(user, status_atom::value,
                                        std::string{"desk"},
                                        presence_status::busy);
  CHECK(shown.status == presence_status::busy);
  f.run();
  CHECK(count_for(*feed, "ivy", true) == 2);
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 1);
  CHECK(f.log->opens.size() == 2);
}

TEST_CASE("a device that joins invisible never shows the user") {
  fixture f{fixture::immediate_cfg()};
  auto feed = f.subscribe({}, true);
  user_record r{"ned", true, 5'000, 7};
  f.log->records["ned"] = r;
  auto [session, box] = f.listener();
  auto ack = f.ask<join_ack>(join_atom::value,
                             request(session, "ned", "phone",
                                     presence_status::invisible));
  CHECK(ack.status.status == presence_status::invisible);
  f.run();
  CHECK(feed->deltas.empty());
  CHECK(f.log->opens.empty());
  CHECK(f.ask<uint64_t>(count_atom::value, viewer::everything()) == 0);
  auto user = caf::actor_cast<user_api>(ack.user);
  f.self->send(user, leave_atom::value, std::string{"phone"},
               session.address());
  f.run();
  CHECK(feed->deltas.empty());
  CHECK(f.log->closes.empty());
  CHECK(f.ask<user_status>(get_atom::value, std::string{"ned"}).last_seen
        == 5'000);
}

TEST_CASE(
  "a visible user handed over to an actor where they are hidden goes "
  "offline for everyone") {
  fixture f{fixture::immediate_cfg()};
  auto feed = f.subscribe({}, true);
  auto [session, box] = f.listener();
  auto ack = f.ask<join_ack>(join_atom::value,
                             request(session, "ned", "phone",
                                     presence_status::invisible));
  f.run();
  REQUIRE(feed->deltas.empty());
  // The old owner showed ned online (a tab that only joined) and hands him
  // over.
  auto [s2, box2] = f.listener();
  user_transfer t;
  t.user_id = "ned";
  t.online = true;
  t.status = presence_status::online;
  t.online_since = f.now() - 10'000;
  t.version = 42;
  device_view v;
  v.device_id = "tab";
  v.last_active = f.now();
  t.devices.push_back(v);
  t.sessions.push_back(caf::actor_cast<session_api>(s2));
  f.self->send(f.registry, handover_atom::value, t);
  f.run();
  CHECK(count_for(*feed, "ned", false) == 1);
  CHECK(f.log->closes.size() == 1);
  CHECK_FALSE(f.ask<user_status>(get_atom::value, std::string{"ned"}).online);
  auto user = caf::actor_cast<user_api>(ack.user);
  f.advance(100ms);
  f.self->send(user, heartbeat_atom::value, std::string{"tab"}, f.now());
  f.advance(20s);
  CHECK(f.log->checkpoints.empty());
}

TEST_CASE("others do not see a visible user's invisible device") {
  fixture f{fixture::unbatched_cfg()};
  auto ack = f.join("ora", "phone");
  auto user = caf::actor_cast<user_api>(ack.user);
  f.ask_actor<user_status>(user, status_atom::value, std::string{"phone"},
                           presence_status::busy);
  auto [session, box] = f.listener();
  auto own = f.ask<join_ack>(join_atom::value,
                             request(session, "ora", "laptop",
                                     presence_status::invisible));
  CHECK(own.status.devices.size() == 2); // the truth to her own device
  CHECK(own.status.status == presence_status::busy);
  auto seen = f.ask<user_status>(get_atom::value, std::string{"ora"});
  CHECK(seen.online);
  REQUIRE(seen.devices.size() == 1);
  CHECK(seen.devices[0].device_id == "phone");
}
