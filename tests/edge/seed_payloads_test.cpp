// The seeds' payload shapes (edge/common/seed_payloads.*), field by field,
// against what each seed's front-end reads (/work/shared/seeds: seed 000's
// `/api/online-users` entry, seed 002's IUser fields, seed 003's
// UserStatusSerializer, seed 004's getUserOnlineStatus) and against the
// examples in docs/api.md and docs/protocol.md, byte for byte where the docs
// print one.

#include <catch2/catch.hpp>

#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "edge/common/seed_payloads.hpp"

using namespace presence;
using namespace presence::edge::seeds;
using keys = std::set<std::string>;

namespace {

constexpr millis t0 = 1'704'067'200'000; // 2024-01-01T00:00:00.000Z

/// The instant of the examples in docs/api.md.
constexpr millis doc_ms = 1'795'424'154'504; // 2026-11-23T08:55:54.504Z

keys keys_of(const json& j) {
  REQUIRE(j.is_object());
  keys out;
  for (auto& [k, v] : j.items())
    out.insert(k);
  return out;
}

/// "YYYY-MM-DDTHH:MM:SS.mmmZ".
bool iso_utc_millis(const json& j) {
  if (!j.is_string())
    return false;
  auto s = j.get<std::string>();
  if (s.size() != 24)
    return false;
  const std::string pattern = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (size_t i = 0; i < s.size(); ++i) {
    bool digit = s[i] >= '0' && s[i] <= '9';
    if (pattern[i] == 'd' ? !digit : s[i] != pattern[i])
      return false;
  }
  return true;
}

profile alice_profile() {
  profile p;
  p.known = true;
  p.name = "Alice Liddell";
  p.username = "alice";
  p.email = "alice@example.com";
  p.avatar = "/uploads/alice.jpg";
  return p;
}

profile bob_profile() {
  profile p;
  p.known = true;
  p.name = "Bob Builder";
  p.username = "bob";
  return p;
}

presence_delta delta(const std::string& id, bool online, presence_status st,
                     millis last_seen, millis online_since = 0) {
  presence_delta d;
  d.user_id = id;
  d.online = online;
  d.status = st;
  d.last_seen = last_seen;
  d.online_since = online_since;
  d.version = static_cast<uint64_t>(last_seen);
  return d;
}

user_status status_of(const std::string& id, bool online, presence_status st,
                      millis last_seen, millis online_since, uint64_t v) {
  user_status s;
  s.user_id = id;
  s.online = online;
  s.status = st;
  s.last_seen = last_seen;
  s.online_since = online_since;
  s.version = v;
  return s;
}

} // namespace

// -- timestamps and nulls -----------------------------------------------------

TEST_CASE("iso_or_null: ISO-8601 UTC with milliseconds, null for never",
          "[seeds]") {
  CHECK(iso_or_null(0).is_null());
  CHECK(iso_or_null(t0) == "2024-01-01T00:00:00.000Z");
  CHECK(iso_or_null(t0 + 5) == "2024-01-01T00:00:00.005Z");
  CHECK(iso_or_null(t0 + 86'399'999) == "2024-01-01T23:59:59.999Z");
  CHECK(iso_or_null(1) == "1970-01-01T00:00:00.001Z");
  CHECK(iso_or_null(doc_ms) == "2026-11-23T08:55:54.504Z");
  CHECK(iso_or_null(1'709'164'800'000) == "2024-02-29T00:00:00.000Z");
  for (millis ms : {millis{1}, t0, t0 + 123, doc_ms, millis{4'102'444'800'000}})
    CHECK(iso_utc_millis(iso_or_null(ms)));
}

TEST_CASE("or_null: the string, or null when empty", "[seeds]") {
  CHECK(or_null("").is_null());
  CHECK(or_null("x") == "x");
  CHECK(or_null(" ") == " ");
}

// -- seed 000/001 -------------------------------------------------------------

TEST_CASE("seed 000 user: {id, name, username, email, avatar, status}",
          "[seeds]") {
  auto j = seed000_user(delta("alice", true, presence_status::online, t0),
                        alice_profile());
  // The fields of the seed README's `/api/online-users` entry, no more.
  CHECK(keys_of(j)
        == keys{"id", "name", "username", "email", "avatar", "status"});
  CHECK(j["id"] == "alice");
  CHECK(j["name"] == "Alice Liddell");
  CHECK(j["username"] == "alice");
  CHECK(j["email"] == "alice@example.com");
  CHECK(j["avatar"] == "/uploads/alice.jpg");
  CHECK(j["status"] == "online");
  // docs/api.md, GET /api/online-users.
  CHECK(j.dump()
        == R"({"avatar":"/uploads/alice.jpg","email":"alice@example.com",)"
           R"("id":"alice","name":"Alice Liddell","status":"online",)"
           R"("username":"alice"})");
  CHECK(
    seed000_user(delta("bob", true, presence_status::away, t0), bob_profile())
      .dump()
    == R"({"avatar":null,"email":null,"id":"bob","name":"Bob Builder",)"
       R"("status":"away","username":"bob"})");
}

TEST_CASE("seed 000 user without a profile: the id, and nulls", "[seeds]") {
  auto j = seed000_user(delta("carol", true, presence_status::online, t0),
                        profile{});
  CHECK(j["id"] == "carol");
  CHECK(j["name"] == "carol");
  CHECK(j["username"] == "carol");
  CHECK(j["email"].is_null());
  CHECK(j["avatar"].is_null());
  CHECK(j.dump()
        == R"({"avatar":null,"email":null,"id":"carol","name":"carol",)"
           R"("status":"online","username":"carol"})");
}

TEST_CASE("seed 000 name: the profile's name, else username, else the id",
          "[seeds]") {
  auto d = delta("u1", true, presence_status::online, t0);
  profile p;
  p.known = true;
  p.username = "handle";
  auto j = seed000_user(d, p);
  CHECK(j["name"] == "handle");
  CHECK(j["username"] == "handle");
  p.username.clear();
  p.name = "Full Name";
  j = seed000_user(d, p);
  CHECK(j["name"] == "Full Name");
  CHECK(j["username"] == "u1"); // username never falls back to the name
  p.email = "e@x";
  CHECK(seed000_user(d, p)["email"] == "e@x");
  CHECK(seed000_user(d, p)["avatar"].is_null());
}

TEST_CASE("seed 000 status carries every status name", "[seeds]") {
  struct row {
    presence_status st;
    const char* name;
  };
  for (auto r :
       {row{presence_status::online, "online"},
        row{presence_status::away, "away"}, row{presence_status::busy, "busy"},
        row{presence_status::dnd, "dnd"},
        row{presence_status::offline, "offline"}}) {
    INFO(r.name);
    auto j = seed000_user(delta("u", true, r.st, t0), profile{});
    CHECK(j["status"] == r.name);
  }
}

// -- seed 002 -----------------------------------------------------------------

TEST_CASE(
  "seed 002 list entry: {_id, userId, username, name, avatar, "
  "isOnline, lastSeen, status}",
  "[seeds]") {
  auto j = seed002_user(delta("alice", true, presence_status::online, doc_ms),
                        alice_profile());
  CHECK(keys_of(j)
        == keys{"_id", "userId", "username", "name", "avatar", "isOnline",
                "lastSeen", "status"});
  CHECK(j["_id"] == "alice");
  CHECK(j["userId"] == "alice");
  CHECK(j["isOnline"].is_boolean());
  CHECK(j["isOnline"] == true);
  CHECK(iso_utc_millis(j["lastSeen"]));
  // docs/api.md, GET /api/user-status/online.
  CHECK(j.dump()
        == R"({"_id":"alice","avatar":"/uploads/alice.jpg","isOnline":true,)"
           R"("lastSeen":"2026-11-23T08:55:54.504Z","name":"Alice Liddell",)"
           R"("status":"online","userId":"alice","username":"alice"})");
  CHECK(seed002_user(delta("bob", true, presence_status::away, doc_ms + 308),
                     bob_profile())
          .dump()
        == R"({"_id":"bob","avatar":null,"isOnline":true,)"
           R"("lastSeen":"2026-11-23T08:55:54.812Z","name":"Bob Builder",)"
           R"("status":"away","userId":"bob","username":"bob"})");
  // No profile: as in seed 000.
  auto carol = seed002_user(delta("carol", true, presence_status::online,
                                  doc_ms),
                            profile{});
  CHECK(carol["name"] == "carol");
  CHECK(carol["username"] == "carol");
  CHECK(carol["avatar"].is_null());
}

TEST_CASE("seed 002 list entry of a user never seen", "[seeds]") {
  auto j = seed002_user(delta("zoe", false, presence_status::offline, 0),
                        profile{});
  CHECK(j["isOnline"] == false);
  CHECK(j["lastSeen"].is_null());
  CHECK(j["status"] == "offline");
}

TEST_CASE("seed 002 status: {userId, isOnline, lastSeen, status, version}",
          "[seeds]") {
  auto s = status_of("alice", true, presence_status::online, doc_ms, t0,
                     1'795'424'154'504);
  auto j = seed002_status(s);
  CHECK(keys_of(j)
        == keys{"userId", "isOnline", "lastSeen", "status", "version"});
  CHECK(j["version"].is_number_unsigned());
  // docs/api.md, POST /api/user-status/batch.
  CHECK(j.dump()
        == R"({"isOnline":true,"lastSeen":"2026-11-23T08:55:54.504Z",)"
           R"("status":"online","userId":"alice","version":1795424154504})");
  // A user presenced has never seen: offline, lastSeen null, version 0.
  auto never = seed002_status(
    status_of("42", false, presence_status::offline, 0, 0, 0));
  CHECK(never.dump()
        == R"({"isOnline":false,"lastSeen":null,"status":"offline",)"
           R"("userId":"42","version":0})");
  // Versions keep all 64 bits.
  auto big = seed002_status(status_of("u", false, presence_status::offline, t0,
                                      0, 18'446'744'073'709'551'615ULL));
  CHECK(big["version"].get<uint64_t>() == 18'446'744'073'709'551'615ULL);
}

// -- seed 003 -----------------------------------------------------------------

TEST_CASE(
  "seed 003 user: {id, username, profile_image_url, is_online, "
  "last_seen, last_activity}",
  "[seeds]") {
  auto j = seed003_user(delta("alice", true, presence_status::online, doc_ms),
                        alice_profile());
  // The fields of the seed's UserStatusSerializer, no more.
  CHECK(keys_of(j)
        == keys{"id", "username", "profile_image_url", "is_online", "last_seen",
                "last_activity"});
  CHECK(j["is_online"].is_boolean());
  CHECK(j["last_activity"] == j["last_seen"]);
  // docs/api.md, GET /api/users/online/.
  CHECK(j.dump()
        == R"({"id":"alice","is_online":true,)"
           R"("last_activity":"2026-11-23T08:55:54.504Z",)"
           R"("last_seen":"2026-11-23T08:55:54.504Z",)"
           R"("profile_image_url":"/uploads/alice.jpg","username":"alice"})");
  auto bob = seed003_user(delta("bob", true, presence_status::away, doc_ms),
                          bob_profile());
  CHECK(bob["profile_image_url"].is_null());
  CHECK(bob["username"] == "bob");
  // No profile: the id as username, no image.
  auto carol = seed003_user(delta("carol", true, presence_status::online,
                                  doc_ms),
                            profile{});
  CHECK(carol["username"] == "carol");
  CHECK(carol["profile_image_url"].is_null());
  // Never seen: both timestamps null.
  auto zoe = seed003_user(delta("zoe", false, presence_status::offline, 0),
                          profile{});
  CHECK(zoe["is_online"] == false);
  CHECK(zoe["last_seen"].is_null());
  CHECK(zoe["last_activity"].is_null());
}

// -- seed 004 -----------------------------------------------------------------

TEST_CASE("seed 004 status: {userId, online, lastActive, connectedAt}",
          "[seeds]") {
  auto online = seed004_status(
    status_of("user-123", true, presence_status::online, t0 + 5'000, t0, 9));
  // getUserOnlineStatus's { online, lastActive, connectedAt } plus the id.
  CHECK(keys_of(online)
        == keys{"userId", "online", "lastActive", "connectedAt"});
  CHECK(online["userId"] == "user-123");
  CHECK(online["online"] == true);
  CHECK(online["lastActive"] == "2024-01-01T00:00:05.000Z");
  CHECK(online["connectedAt"] == "2024-01-01T00:00:00.000Z");
  // Offline: lastActive is last_seen, connectedAt null (docs/protocol.md).
  auto offline = seed004_status(
    status_of("user-123", false, presence_status::offline, t0 + 9'000, 0, 10));
  CHECK(offline["online"] == false);
  CHECK(offline["lastActive"] == "2024-01-01T00:00:09.000Z");
  CHECK(offline["connectedAt"].is_null());
  // Never seen.
  auto never = seed004_status(
    status_of("nobody", false, presence_status::offline, 0, 0, 0));
  CHECK(never.dump()
        == R"({"connectedAt":null,"lastActive":null,"online":false,)"
           R"("userId":"nobody"})");
}

// -- presenced's profile object -----------------------------------------------

TEST_CASE("profile_json: strings, empty when unset, avatar null when unset",
          "[seeds]") {
  auto j = profile_json("alice", alice_profile());
  CHECK(keys_of(j) == keys{"id", "name", "username", "email", "avatar"});
  // docs/api.md, GET /api/users/:id/profile.
  CHECK(j.dump()
        == R"({"avatar":"/uploads/alice.jpg","email":"alice@example.com",)"
           R"("id":"alice","name":"Alice Liddell","username":"alice"})");
  // docs/api.md, PUT /api/users/:id/profile: fields cleared with null.
  profile p;
  p.known = true;
  p.name = "Alice";
  CHECK(profile_json("alice", p).dump()
        == R"({"avatar":null,"email":"","id":"alice","name":"Alice",)"
           R"("username":""})");
  profile bob;
  bob.known = true;
  bob.username = "bob";
  bob.avatar = "/uploads/bob.png";
  CHECK(profile_json("bob", bob).dump()
        == R"({"avatar":"/uploads/bob.png","email":"","id":"bob","name":"",)"
           R"("username":"bob"})");
}
