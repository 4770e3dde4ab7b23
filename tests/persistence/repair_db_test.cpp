// store_db's side of replica repair (persistence/repair_db.cpp): the keys a
// store holds, bundles, and merging a bundle into another store without
// lowering or replacing anything newer, on two real RocksDBs in temp dirs.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "persistence/store_db.hpp"
#include "tests/persistence/must.hpp"
#include "tests/persistence/temp_dir.hpp"

using namespace presence;
using presence::persistence::open_session;
using presence::persistence::store_db;
using presence::test::must;
using presence::test::open_store;
using presence::test::temp_dir;

namespace {

using strings = std::vector<std::string>;

/// Two stores: `a` holds the data, `b` is the new replica.
struct two_stores {
  temp_dir da, db_dir;
  std::unique_ptr<store_db> a = open_store(da.path());
  std::unique_ptr<store_db> b = open_store(db_dir.path());

  /// Copies everything `a` holds under `key` to `b`.
  void copy(const std::string& key) {
    must(b->apply_bundle(must(a->bundle(key))));
  }
};

chat_message queued(uint64_t seq) {
  chat_message m;
  m.conversation_id = "d1";
  m.seq = seq;
  m.id = "d1:" + std::to_string(seq);
  m.sender_id = "ann";
  m.content = "text of " + m.id;
  m.created_at = 5'000;
  return m;
}

strings ids(const std::vector<chat_message>& ms) {
  strings out;
  for (auto& m : ms)
    out.push_back(m.id);
  return out;
}

} // namespace

TEST_CASE("repair_keys pages through users and conversations in order",
          "[repair_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  CHECK(must(db->repair_keys("", 10)).empty());
  must(db->close_session("ann", 1'000, 2'000, 2)); // last_seen + history
  must(db->mark_open("cy", open_session{3'000, 3'000, 1}));
  profile p;
  p.known = true;
  p.name = "Dee";
  must(db->put_profile("dee", p));
  conversation c;
  c.id = "c-bob";
  c.participants = {"ann", "bob"};
  must(db->put_conversation(c));
  must(db->enqueue("eve", queued(1)));
  // "ann" has three records (last_seen, history, profile none): listed once.
  must(db->touch_last_seen("ann", 2'500));
  CHECK(must(db->repair_keys("", 10))
        == strings{"ann", "c-bob", "cy", "dee", "eve"});
  CHECK(must(db->repair_keys("", 2)) == strings{"ann", "c-bob"});
  CHECK(must(db->repair_keys("c-bob", 2)) == strings{"cy", "dee"});
  CHECK(must(db->repair_keys("dee", 2)) == strings{"eve"});
  CHECK(must(db->repair_keys("eve", 2)).empty());
}

TEST_CASE("a bundle copies a user's last_seen, history, open mark and profile",
          "[repair_db]") {
  two_stores s;
  must(s.a->close_session("ann", 1'000, 2'000, 2));
  must(s.a->close_session("ann", 3'000, 4'000, 4));
  must(s.a->mark_open("ann",
                      open_session{5'000, 6'000, 5, presence_status::away}));
  profile p;
  p.known = true;
  p.name = "Ann";
  p.email = "ann@example.com";
  must(s.a->put_profile("ann", p));
  auto b = must(s.a->bundle("ann"));
  CHECK(b.seen);
  CHECK(b.last_seen == 4'000);
  CHECK(b.version == 4);
  CHECK(b.open);
  CHECK(b.open_version == 5);
  CHECK(b.history.size() == 2);
  CHECK_FALSE(b.empty());
  CHECK(must(s.a->bundle("nobody")).empty());
  s.copy("ann");
  auto r = must(s.b->load("ann"));
  CHECK(r.last_seen == 4'000);
  CHECK(r.version == 5); // the open mark's
  CHECK(r.open);
  CHECK(r.open_start == 5'000);
  CHECK(r.open_last_active == 6'000);
  CHECK(r.open_status == presence_status::away);
  auto h = must(s.b->history("ann", 10));
  REQUIRE(h.size() == 2);
  CHECK(h[0].start == 3'000);
  CHECK(h[1].end == 2'000);
  CHECK(must(s.b->get_profile("ann")).email == "ann@example.com");
  // Twice is the same as once.
  s.copy("ann");
  CHECK(must(s.b->history("ann", 10)).size() == 2);
  CHECK(must(s.b->load("ann")).last_seen == 4'000);
}

TEST_CASE("a bundle never lowers or replaces what the replica has newer",
          "[repair_db]") {
  two_stores s;
  SECTION("last_seen and version only go up") {
    must(s.a->close_session("ann", 1'000, 2'000, 2));
    must(s.b->close_session("ann", 3'000, 9'000, 7));
    s.copy("ann");
    auto r = must(s.b->load("ann"));
    CHECK(r.last_seen == 9'000);
    CHECK(r.version == 7);
    // ... and the older session is added to the history.
    CHECK(must(s.b->history("ann", 10)).size() == 2);
  }
  SECTION("a session the replica has closed is not reopened") {
    must(s.a->mark_open("ann", open_session{1'000, 1'500, 3}));
    auto stale = must(s.a->bundle("ann"));
    // The close reached the new replica before the copy did.
    must(s.b->close_session("ann", 1'000, 2'000, 4));
    must(s.b->apply_bundle(stale));
    auto r = must(s.b->load("ann"));
    CHECK_FALSE(r.open);
    CHECK(r.last_seen == 2'000);
  }
  SECTION("an open mark older than the replica's last record is not taken") {
    must(s.a->mark_open("ann", open_session{1'000, 1'500, 3}));
    must(s.b->close_session("ann", 500, 900, 5)); // a later version
    s.copy("ann");
    CHECK_FALSE(must(s.b->load("ann")).open);
  }
  SECTION(
    "a mark the bundle shows closed is removed: the replica missed "
    "the close") {
    must(s.b->mark_open("ann", open_session{1'000, 1'200, 3}));
    must(s.a->close_session("ann", 1'000, 2'000, 4));
    s.copy("ann");
    auto r = must(s.b->load("ann"));
    CHECK_FALSE(r.open);
    CHECK(r.last_seen == 2'000);
  }
  SECTION("a crash recovery's close elsewhere does not end a live session") {
    // The session went on here (resumed by a new owner, same start) while
    // the restarted node closed its old mark of it at its last checkpoint.
    must(s.a->mark_open("ann", open_session{1'000, 1'500, 3}));
    must(s.a->recover_open_sessions(2'000));
    must(s.b->mark_open("ann", open_session{1'000, 4'000, 3}));
    s.copy("ann");
    auto r = must(s.b->load("ann"));
    CHECK(r.open);
    CHECK(r.open_last_active == 4'000);
  }
  SECTION("the same session keeps the later activity") {
    must(s.a->mark_open("ann", open_session{1'000, 1'500, 3}));
    must(s.b->mark_open("ann", open_session{1'000, 1'900, 3}));
    s.copy("ann");
    CHECK(must(s.b->load("ann")).open_last_active == 1'900);
    must(s.a->mark_open("ann", open_session{1'000, 2'500, 3}));
    s.copy("ann");
    CHECK(must(s.b->load("ann")).open_last_active == 2'500);
  }
  SECTION("a history entry keeps its longer end") {
    must(s.a->close_session("ann", 1'000, 2'000, 2));
    must(s.b->close_session("ann", 1'000, 2'500, 2));
    s.copy("ann");
    auto h = must(s.b->history("ann", 10));
    REQUIRE(h.size() == 1);
    CHECK(h[0].end == 2'500);
  }
  SECTION("a profile the replica has is not overwritten") {
    profile old, fresh;
    old.known = fresh.known = true;
    old.name = "old";
    fresh.name = "fresh";
    must(s.a->put_profile("ann", old));
    must(s.b->put_profile("ann", fresh));
    s.copy("ann");
    CHECK(must(s.b->get_profile("ann")).name == "fresh");
  }
}

TEST_CASE("a bundle copies a conversation and its messages", "[repair_db]") {
  two_stores s;
  conversation c;
  c.id = "d1";
  c.participants = {"ann", "bob"};
  c.created_at = 1'000;
  must(s.a->put_conversation(c));
  for (auto text : {"one", "two", "three"}) {
    chat_message m;
    m.conversation_id = "d1";
    m.sender_id = "ann";
    m.content = text;
    m.temp_id = std::string{"t-"} + text;
    must(s.a->put_message(m));
  }
  s.copy("d1");
  CHECK(must(s.b->get_conversation("d1")).participants
        == strings{"ann", "bob"});
  auto page = must(s.b->messages("d1", 0, 10));
  REQUIRE(page.messages.size() == 3);
  CHECK(page.messages[2].content == "three");
  CHECK(page.messages[2].seq == 3);
  // The next message numbered on the new replica follows them, and a
  // retry of a copied one is recognised there.
  chat_message next;
  next.conversation_id = "d1";
  next.sender_id = "bob";
  next.content = "four";
  CHECK(must(s.b->put_message(next)).seq == 4);
  chat_message retry;
  retry.conversation_id = "d1";
  retry.sender_id = "ann";
  retry.temp_id = "t-two";
  auto again = must(s.b->put_message(retry));
  CHECK(again.duplicate);
  CHECK(again.seq == 2);
}

TEST_CASE("a bundle copies an offline queue with each device's place in it",
          "[repair_db]") {
  two_stores s;
  // The phone takes the first; the laptop, new, the second; then a third.
  must(s.a->enqueue("bob", queued(1)));
  CHECK(ids(must(s.a->take_queue("bob", "phone", 1'000))) == strings{"d1:1"});
  must(s.a->enqueue("bob", queued(2)));
  CHECK(ids(must(s.a->take_queue("bob", "laptop", 1'000))) == strings{"d1:2"});
  must(s.a->enqueue("bob", queued(3)));
  auto b = must(s.a->bundle("bob"));
  CHECK(ids(b.queued) == strings{"d1:2", "d1:3"});
  REQUIRE(b.cursors.size() == 2);
  s.copy("bob");
  // Each device gets from the new replica exactly what it had not taken.
  CHECK(ids(must(s.b->take_queue("bob", "phone", 2'000)))
        == strings{"d1:2", "d1:3"});
  CHECK(ids(must(s.b->take_queue("bob", "laptop", 2'000))) == strings{"d1:3"});
  // Copying again adds nothing: the replica has the queue now (and handed
  // those messages out already).
  s.copy("bob");
  CHECK(ids(must(s.b->take_queue("bob", "phone", 2'000))).empty());
  CHECK(ids(must(s.b->take_queue("bob", "laptop", 2'000))).empty());
}
