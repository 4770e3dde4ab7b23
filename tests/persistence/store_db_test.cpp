#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "persistence/store_db.hpp"
#include "tests/persistence/temp_dir.hpp"

using namespace presence;
using presence::persistence::open_session;
using presence::persistence::store_db;
using presence::test::temp_dir;

namespace {

std::unique_ptr<store_db> open_db(const std::string& dir,
                                  uint32_t history_limit = 100) {
  std::string err;
  auto db = store_db::open(dir, history_limit, err);
  INFO("open error: " << err);
  REQUIRE(db != nullptr);
  CHECK(err.empty());
  return db;
}

std::vector<millis> starts(const std::vector<session_record>& xs) {
  std::vector<millis> out;
  for (auto& x : xs)
    out.push_back(x.start);
  return out;
}

std::vector<millis> ends(const std::vector<session_record>& xs) {
  std::vector<millis> out;
  for (auto& x : xs)
    out.push_back(x.end);
  return out;
}

using ms = std::vector<millis>;

} // namespace

TEST_CASE("an unknown user has no record or history or profile or mark",
          "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  auto r = db->load("ghost");
  CHECK(r.user_id == "ghost");
  CHECK_FALSE(r.known);
  CHECK(r.last_seen == 0);
  CHECK(r.version == 0);
  CHECK(db->history("ghost", 100).empty());
  CHECK_FALSE(db->get_profile("ghost").known);
  open_session s;
  CHECK_FALSE(db->open_mark("ghost", s));
  CHECK(db->sync());
}

TEST_CASE("mark_open then close_session records the session", "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  db->mark_open("alice", open_session{1'000, 1'000, 5});
  open_session mark;
  REQUIRE(db->open_mark("alice", mark));
  CHECK(mark.start == 1'000);
  CHECK(mark.last_active == 1'000);
  CHECK(mark.version == 5);
  // Online and never closed: known, with the mark's version.
  auto online = db->load("alice");
  CHECK(online.known);
  CHECK(online.version == 5);
  CHECK(online.last_seen == 0);

  db->close_session("alice", 1'000, 2'000, 6);
  auto r = db->load("alice");
  CHECK(r.known);
  CHECK(r.last_seen == 2'000);
  CHECK(r.version == 6);
  CHECK_FALSE(db->open_mark("alice", mark));
  auto h = db->history("alice", 10);
  REQUIRE(h.size() == 1);
  CHECK(h[0].start == 1'000);
  CHECK(h[0].end == 2'000);
}

TEST_CASE("the stored version is the maximum ever seen", "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  // The open mark carries a newer version than the close: keep the mark's.
  db->mark_open("bob", open_session{100, 150, 9});
  db->close_session("bob", 100, 200, 4);
  CHECK(db->load("bob").version == 9);
  // A later close with an older version does not lower it.
  db->close_session("bob", 300, 400, 2);
  CHECK(db->load("bob").version == 9);
  db->close_session("bob", 500, 600, 12);
  CHECK(db->load("bob").version == 12);
  // touch_last_seen keeps the version.
  CHECK(db->touch_last_seen("bob", 10'000).version == 12);
  CHECK(db->load("bob").version == 12);
}

TEST_CASE("last_seen never goes backwards", "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  db->close_session("carol", 4'000, 5'000, 1);
  REQUIRE(db->load("carol").last_seen == 5'000);
  // A close with an older end (late message, clock step) is recorded in the
  // history but does not lower last_seen.
  db->close_session("carol", 100, 200, 2);
  CHECK(db->load("carol").last_seen == 5'000);
  CHECK(db->history("carol", 10).size() == 2);
  // touch_last_seen with an older time neither.
  auto older = db->touch_last_seen("carol", 1'000);
  CHECK(older.last_seen == 5'000);
  CHECK(older.known);
  CHECK(db->load("carol").last_seen == 5'000);
  // A newer one raises it.
  auto newer = db->touch_last_seen("carol", 9'000);
  CHECK(newer.last_seen == 9'000);
  CHECK(db->load("carol").last_seen == 9'000);
  // And a close ending before that keeps it.
  db->close_session("carol", 6'000, 7'000, 3);
  CHECK(db->load("carol").last_seen == 9'000);
}

TEST_CASE("touch_last_seen makes an unknown user known", "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  auto r = db->touch_last_seen("dave", 1'234);
  CHECK(r.known);
  CHECK(r.user_id == "dave");
  CHECK(r.last_seen == 1'234);
  auto loaded = db->load("dave");
  CHECK(loaded.known);
  CHECK(loaded.last_seen == 1'234);
  CHECK(db->history("dave", 10).empty());
}

TEST_CASE("history is newest first and bounded by history_limit",
          "[store_db]") {
  temp_dir dir;
  {
    auto db = open_db(dir.path(), 5);
    for (millis i = 1; i <= 12; ++i)
      db->close_session("eve", i * 1'000, i * 1'000 + 500, i);
    auto h = db->history("eve", 100);
    CHECK(starts(h) == ms{12'000, 11'000, 10'000, 9'000, 8'000});
    CHECK(ends(h) == ms{12'500, 11'500, 10'500, 9'500, 8'500});
    // A smaller limit returns the newest ones.
    CHECK(starts(db->history("eve", 2)) == ms{12'000, 11'000});
    CHECK(db->history("eve", 0).empty());
  }
  // Trimmed entries are gone from disk, not merely hidden.
  auto db = open_db(dir.path(), 100);
  CHECK(db->history("eve", 100).size() == 5);
}

TEST_CASE("history entries arriving out of order still sort by start",
          "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path(), 10);
  for (millis s : {5'000, 1'000, 9'000, 3'000, 7'000})
    db->close_session("fay", s, s + 10, 1);
  CHECK(starts(db->history("fay", 10))
        == ms{9'000, 7'000, 5'000, 3'000, 1'000});
}

TEST_CASE("a late older session does not evict a newer one",
          "[store_db]") {
  // Bug: trim_history keeps the history_limit - 1 newest *existing* entries
  // and adds the new one whatever its start, so a session closed late with
  // an older start (clock stepped back, late close) evicts a newer entry:
  // "oldest dropped first" (persistence_config::history_limit) is broken.
  temp_dir dir;
  auto db = open_db(dir.path(), 3);
  for (millis s : {20, 30, 40})
    db->close_session("lea", s, s + 5, 1);
  db->close_session("lea", 10, 15, 1);
  CHECK(starts(db->history("lea", 10)) == ms{40, 30, 20});
}

TEST_CASE("closing a session twice keeps history_limit entries",
          "[store_db]") {
  // Bug: when the new entry has the start of an existing one, trim_history
  // counts that entry among the ones to keep and deletes one more, so the
  // history ends one short of history_limit.
  temp_dir dir;
  auto db = open_db(dir.path(), 3);
  for (millis s : {10, 20, 30})
    db->close_session("max", s, s + 5, 1);
  db->close_session("max", 30, 36, 2);  // the same session again
  auto h = db->history("max", 10);
  CHECK(starts(h) == ms{30, 20, 10});
  CHECK(ends(h) == ms{36, 25, 15});
}

TEST_CASE("a history limit of one keeps only the latest session",
          "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path(), 1);
  for (millis i = 1; i <= 4; ++i)
    db->close_session("gus", i * 10, i * 10 + 5, i);
  auto h = db->history("gus", 100);
  REQUIRE(h.size() == 1);
  CHECK(h[0].start == 40);
  CHECK(h[0].end == 45);
}

TEST_CASE("history of one user never shows another's", "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path(), 3);
  // Ids that are prefixes of each other, and ids sorting right around
  // "a" + separator: "a\x01", "a\x7f", "a\x7f\x7f", "a\xff".
  const std::vector<std::string> users = {
    "a", "ab", "abc", "a\x01", "a\x7f", "a\x7f\x7f", "a\xff", "`", "b", "aa",
  };
  for (size_t u = 0; u < users.size(); ++u) {
    // Starts whose big-endian bytes include 0x00, 0x01, 0x7f and 0xff.
    for (millis k : {millis{0}, millis{1}, millis{0x7f7f}, millis{0xff00ff}})
      db->close_session(users[u], static_cast<millis>(u) * 1'000'000'000 + k,
                        static_cast<millis>(u) * 1'000'000'000 + k + 1, 1);
  }
  for (size_t u = 0; u < users.size(); ++u) {
    INFO("user #" << u << " " << Catch::Detail::stringify(users[u]));
    auto h = db->history(users[u], 100);
    // The limit is 3 (4 sessions each): every user keeps exactly its own 3
    // newest, so writes of neighbouring ids neither leaked in nor trimmed
    // this user's entries.
    REQUIRE(h.size() == 3);
    auto base = static_cast<millis>(u) * 1'000'000'000;
    CHECK(starts(h) == ms{base + 0xff00ff, base + 0x7f7f, base + 1});
  }
}

TEST_CASE("writing many sessions of ab leaves a alone", "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path(), 3);
  db->close_session("a", 10, 20, 1);
  db->close_session("a", 30, 40, 1);
  for (millis i = 0; i < 20; ++i) {
    db->close_session("ab", 1'000 + i, 2'000 + i, 1);
    db->close_session("a\x7f", 5'000 + i, 6'000 + i, 1);
  }
  CHECK(starts(db->history("a", 10)) == ms{30, 10});
  CHECK(db->history("ab", 10).size() == 3);
  CHECK(db->history("a\x7f", 10).size() == 3);
  CHECK(db->load("a").last_seen == 40);
}

TEST_CASE("profiles round-trip", "[store_db]") {
  temp_dir dir;
  auto db = open_db(dir.path());
  CHECK_FALSE(db->get_profile("hal").known);

  profile p;
  p.name = "J\xC3\xBCrgen \xE2\x82\xAC \xF0\x9F\x98\x80";
  p.username = "j\xC3\xBC";
  p.email = "";
  p.avatar = "";
  db->put_profile("hal", p);
  auto got = db->get_profile("hal");
  CHECK(got.known);
  CHECK(got.name == p.name);
  CHECK(got.username == p.username);
  CHECK(got.email.empty());
  CHECK(got.avatar.empty());

  // All fields empty is still a known profile.
  db->put_profile("empty", profile{});
  auto e = db->get_profile("empty");
  CHECK(e.known);
  CHECK(e.name.empty());

  // Overwrite; binary-safe fields.
  profile q;
  q.name = std::string("nul\0inside", 10);
  q.username = "u";
  q.email = "a@b.c";
  q.avatar = std::string(10'000, 'x');
  db->put_profile("hal", q);
  auto got2 = db->get_profile("hal");
  CHECK(got2.known);
  CHECK(got2.name == q.name);
  CHECK(got2.username == "u");
  CHECK(got2.email == "a@b.c");
  CHECK(got2.avatar == q.avatar);
  // Profiles are per user.
  CHECK_FALSE(db->get_profile("ha").known);
  CHECK_FALSE(db->get_profile("hall").known);
}

TEST_CASE("recovery closes sessions left open by a dead process",
          "[store_db]") {
  temp_dir dir;
  const millis now = 100'000;
  {
    auto db = open_db(dir.path());
    db->mark_open("u1", open_session{1'000, 1'500, 3});
    // Checkpoint from the future (the clock stepped back): ends now.
    db->mark_open("u2", open_session{2'000, now + 3'600'000, 4});
    db->mark_open_batch({{"u3", open_session{5'000, 8'000, 7}},
                         {"u4", open_session{6'000, 6'000, 1}}});
    // u1 overwritten by a later checkpoint of the same session.
    db->mark_open("u1", open_session{1'000, 1'800, 3});
    // The process dies here: no close_session.
  }
  auto db = open_db(dir.path());
  open_session s;
  REQUIRE(db->open_mark("u1", s));
  CHECK(db->recover_open_sessions(now) == 4);

  auto h1 = db->history("u1", 10);
  REQUIRE(h1.size() == 1);
  CHECK(h1[0].start == 1'000);
  CHECK(h1[0].end == 1'800);
  CHECK(db->load("u1").last_seen == 1'800);
  CHECK(db->load("u1").version == 3);

  auto h2 = db->history("u2", 10);
  REQUIRE(h2.size() == 1);
  CHECK(h2[0].start == 2'000);
  CHECK(h2[0].end == now);
  CHECK(db->load("u2").last_seen == now);

  CHECK(ends(db->history("u3", 10)) == ms{8'000});
  CHECK(db->load("u3").version == 7);
  CHECK(ends(db->history("u4", 10)) == ms{6'000});

  for (auto u : {"u1", "u2", "u3", "u4"})
    CHECK_FALSE(db->open_mark(u, s));
  CHECK(db->recover_open_sessions(now) == 0);
  CHECK(db->history("u1", 10).size() == 1);  // not recorded twice
}

TEST_CASE("recovery keeps a later last_seen and never ends before start",
          "[store_db]") {
  temp_dir dir;
  const millis now = 50'000;
  {
    auto db = open_db(dir.path());
    db->close_session("v", 30'000, 40'000, 2);
    db->mark_open("v", open_session{10'000, 12'000, 3});
    // A mark whose start is after now (both clamps at once): the session
    // does not end before it starts.
    db->mark_open("w", open_session{now + 10'000, now + 20'000, 1});
  }
  auto db = open_db(dir.path());
  CHECK(db->recover_open_sessions(now) == 2);
  CHECK(db->load("v").last_seen == 40'000);
  CHECK(db->load("v").version == 3);
  CHECK(starts(db->history("v", 10)) == ms{30'000, 10'000});
  auto w = db->history("w", 10);
  REQUIRE(w.size() == 1);
  CHECK(w[0].end >= w[0].start);
}

TEST_CASE("data survives close and reopen", "[store_db]") {
  temp_dir dir;
  profile p;
  p.name = "Ivy";
  p.email = "ivy@example.com";
  {
    auto db = open_db(dir.path());
    db->close_session("ivy", 100, 200, 3);
    db->close_session("ivy", 300, 400, 4);
    db->touch_last_seen("jon", 777);
    db->put_profile("ivy", p);
    db->mark_open("kim", open_session{10, 20, 2});
    CHECK(db->sync());
  }
  auto db = open_db(dir.path());
  auto ivy = db->load("ivy");
  CHECK(ivy.known);
  CHECK(ivy.last_seen == 400);
  CHECK(ivy.version == 4);
  CHECK(starts(db->history("ivy", 10)) == ms{300, 100});
  CHECK(db->load("jon").last_seen == 777);
  auto got = db->get_profile("ivy");
  CHECK(got.known);
  CHECK(got.name == "Ivy");
  CHECK(got.email == "ivy@example.com");
  open_session s;
  REQUIRE(db->open_mark("kim", s));
  CHECK(s.start == 10);
  CHECK(s.last_active == 20);
  CHECK(s.version == 2);
}

TEST_CASE("a second open of the same directory fails with a message",
          "[store_db]") {
  temp_dir dir;
  auto first = open_db(dir.path());
  std::string err;
  auto second = store_db::open(dir.path(), 100, err);
  CHECK(second == nullptr);
  CHECK_FALSE(err.empty());
  CHECK(err.find(dir.path()) != std::string::npos);
  CHECK(err.find("LOCK") != std::string::npos);
  // The first one still works.
  first->touch_last_seen("x", 5);
  CHECK(first->load("x").last_seen == 5);
  // Once closed, the directory can be opened again.
  first.reset();
  err.clear();
  auto third = store_db::open(dir.path(), 100, err);
  CHECK(third != nullptr);
  CHECK(err.empty());
  CHECK(third->load("x").last_seen == 5);
}

TEST_CASE("opening an impossible directory fails with a message",
          "[store_db]") {
  temp_dir dir;
  // A regular file where the directory should be.
  auto file = dir.sub("file");
  { std::ofstream{file} << "x"; }
  std::string err;
  auto db = store_db::open(file, 100, err);
  CHECK(db == nullptr);
  CHECK(err.find(file) != std::string::npos);
}
