// store_db's private messages (persistence/chat_db.cpp) on a real RocksDB in
// a temp dir: conversations, numbering, idempotent retries, replica copies,
// the per-conversation limit, pages, restart, a failing disk; the offline
// queue with its cursor per device.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "persistence/store_db.hpp"
#include "tests/persistence/fault_env.hpp"
#include "tests/persistence/must.hpp"
#include "tests/persistence/temp_dir.hpp"

using namespace presence;
using presence::persistence::store_code;
using presence::persistence::store_db;
using presence::test::fault_env;
using presence::test::must;
using presence::test::open_store;
using presence::test::temp_dir;

namespace {

conversation direct(const std::string& id) {
  conversation c;
  c.id = id;
  c.participants = {"ann", "bob"};
  c.created_at = 1'000;
  return c;
}

chat_message msg(const std::string& conv, const std::string& sender,
                 const std::string& content, const std::string& temp = "") {
  chat_message m;
  m.conversation_id = conv;
  m.sender_id = sender;
  m.content = content;
  m.created_at = 2'000;
  m.temp_id = temp;
  return m;
}

std::vector<std::string> contents(const message_page& p) {
  std::vector<std::string> out;
  for (auto& m : p.messages)
    out.push_back(m.content);
  return out;
}

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("conversations are created once and read back", "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  CHECK_FALSE(must(db->get_conversation("d1")).known);
  auto c = must(db->put_conversation(direct("d1")));
  CHECK(c.known);
  CHECK(c.id == "d1");
  CHECK(c.participants == strings{"ann", "bob"});
  // Creating it again finds the stored one (its created_at stands).
  auto again = direct("d1");
  again.created_at = 9'999;
  CHECK(must(db->put_conversation(again)).created_at == 1'000);
  auto got = must(db->get_conversation("d1"));
  CHECK(got.known);
  CHECK(got.created_at == 1'000);
  CHECK(got.participants == strings{"ann", "bob"});
}

TEST_CASE("messages are numbered per conversation and paged oldest first",
          "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  must(db->put_conversation(direct("d1")));
  must(db->put_conversation(direct("d2")));
  auto a = must(db->put_message(msg("d1", "ann", "hi", "t1")));
  auto b = must(db->put_message(msg("d1", "bob", "hello", "t1")));
  auto c = must(db->put_message(msg("d2", "ann", "other")));
  CHECK(a.seq == 1);
  CHECK(a.id == "d1:1");
  CHECK(b.seq == 2); // same temp id, other sender: another message
  CHECK(b.id == "d1:2");
  CHECK(c.id == "d2:1");
  CHECK_FALSE(a.duplicate);
  auto all = must(db->messages("d1", 0, 50));
  CHECK(contents(all) == strings{"hi", "hello"});
  CHECK_FALSE(all.has_more);
  CHECK(all.messages[0].sender_id == "ann");
  CHECK(all.messages[0].temp_id == "t1");
  CHECK(all.messages[0].created_at == 2'000);
  CHECK(all.messages[0].conversation_id == "d1");
  // Pages: the newest `limit` before a seq, oldest first.
  for (int i = 3; i <= 10; ++i)
    must(db->put_message(msg("d1", "ann", "m" + std::to_string(i))));
  auto newest = must(db->messages("d1", 0, 3));
  CHECK(contents(newest) == strings{"m8", "m9", "m10"});
  CHECK(newest.has_more);
  auto older = must(db->messages("d1", newest.messages.front().seq, 3));
  CHECK(contents(older) == strings{"m5", "m6", "m7"});
  auto oldest = must(db->messages("d1", 3, 5));
  CHECK(contents(oldest) == strings{"hi", "hello"});
  CHECK_FALSE(oldest.has_more);
  CHECK(must(db->messages("d1", 1, 5)).messages.empty());
  // Another conversation's prefix does not leak in ("d1" vs "d10").
  must(db->put_conversation(direct("d10")));
  must(db->put_message(msg("d10", "ann", "ten")));
  CHECK(contents(must(db->messages("d1", 0, 1))) == strings{"m10"});
  CHECK(contents(must(db->messages("d10", 0, 5))) == strings{"ten"});
  CHECK(must(db->messages("nope", 0, 5)).messages.empty());
}

TEST_CASE("a retry with the same temp id returns the stored message",
          "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  must(db->put_conversation(direct("d1")));
  auto first = must(db->put_message(msg("d1", "ann", "hi", "temp-1")));
  auto retry = must(db->put_message(msg("d1", "ann", "hi (again)", "temp-1")));
  CHECK(retry.duplicate);
  CHECK(retry.id == first.id);
  CHECK(retry.content == "hi");
  CHECK(must(db->messages("d1", 0, 10)).messages.size() == 1);
  // Without a temp id every send is a new message.
  must(db->put_message(msg("d1", "ann", "x")));
  must(db->put_message(msg("d1", "ann", "x")));
  CHECK(must(db->messages("d1", 0, 10)).messages.size() == 3);
}

TEST_CASE("a message to an unknown conversation is refused", "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  auto r = db->put_message(msg("nope", "ann", "hi"));
  REQUIRE_FALSE(r);
  CHECK(presence_code(r.error()) == errc::invalid_argument);
  CHECK_FALSE(db->failed());
}

TEST_CASE("a replica's copy keeps its number", "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  must(db->put_conversation(direct("d1")));
  auto copy = msg("d1", "ann", "numbered elsewhere", "t9");
  copy.seq = 7;
  auto stored = must(db->put_message(copy));
  CHECK(stored.id == "d1:7");
  // The next local number follows it; the copy's retry key works here too.
  CHECK(must(db->put_message(msg("d1", "bob", "next"))).seq == 8);
  CHECK(must(db->put_message(msg("d1", "ann", "again", "t9"))).duplicate);
}

TEST_CASE("a conversation keeps its newest messages up to the limit",
          "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  db->set_message_limit(3);
  must(db->put_conversation(direct("d1")));
  for (int i = 1; i <= 5; ++i)
    must(db->put_message(
      msg("d1", "ann", "m" + std::to_string(i), "t" + std::to_string(i))));
  auto page = must(db->messages("d1", 0, 10));
  CHECK(contents(page) == strings{"m3", "m4", "m5"});
  CHECK_FALSE(page.has_more);
  // The dropped message's temp id is forgotten with it.
  auto re = must(db->put_message(msg("d1", "ann", "m1 again", "t1")));
  CHECK_FALSE(re.duplicate);
  CHECK(re.seq == 6);
}

TEST_CASE("conversations and messages survive a restart", "[chat_db]") {
  temp_dir dir;
  {
    auto db = open_store(dir.path());
    must(db->put_conversation(direct("d1")));
    must(db->put_message(msg("d1", "ann", "kept", "t1")));
  }
  auto db = open_store(dir.path());
  CHECK(must(db->get_conversation("d1")).known);
  CHECK(contents(must(db->messages("d1", 0, 10))) == strings{"kept"});
  CHECK(must(db->put_message(msg("d1", "ann", "kept", "t1"))).duplicate);
  CHECK(must(db->put_message(msg("d1", "bob", "new"))).seq == 2);
}

TEST_CASE("a failing disk fails message writes with io_error", "[chat_db]") {
  temp_dir dir;
  fault_env faults;
  auto db = open_store(dir.path(), faults.env());
  must(db->put_conversation(direct("d1")));
  must(db->put_message(msg("d1", "ann", "before")));
  faults.fail(true);
  auto r = db->put_message(msg("d1", "ann", "lost?", "t2"));
  REQUIRE_FALSE(r);
  CHECK(store_code(r.error()) == persistence::errc::io_error);
  auto c = db->put_conversation(direct("d2"));
  REQUIRE_FALSE(c);
  CHECK(store_code(c.error()) == persistence::errc::io_error);
  faults.fail(false);
  must(db->recover());
  // Nothing half-written: the failed message is not there, a retry with
  // its temp id stores it once.
  CHECK(contents(must(db->messages("d1", 0, 10))) == strings{"before"});
  CHECK_FALSE(must(db->put_message(msg("d1", "ann", "lost?", "t2"))).duplicate);
  CHECK(contents(must(db->messages("d1", 0, 10)))
        == strings{"before", "lost?"});
}

TEST_CASE("the offline queue hands out each message once, in order",
          "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  must(db->put_conversation(direct("d1")));
  std::vector<chat_message> sent;
  for (int i = 1; i <= 3; ++i)
    sent.push_back(
      must(db->put_message(msg("d1", "ann", "m" + std::to_string(i)))));
  CHECK(must(db->queue_length("bob")) == 0);
  CHECK(must(db->enqueue("bob", sent[0])) == 1);
  CHECK(must(db->enqueue("bob", sent[1])) == 2);
  // The same message again (a retried delivery) is not queued twice.
  CHECK(must(db->enqueue("bob", sent[1])) == 2);
  CHECK(must(db->enqueue("bob", sent[2])) == 3);
  CHECK(must(db->enqueue("cy", sent[2])) == 1);
  CHECK(must(db->queue_length("bob")) == 3);
  auto taken = must(db->take_queue("bob", "", 1000));
  REQUIRE(taken.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(taken[i].id == sent[i].id);
    CHECK(taken[i].content == sent[i].content);
    CHECK(taken[i].conversation_id == "d1");
    CHECK(taken[i].seq == sent[i].seq);
  }
  CHECK(must(db->take_queue("bob", "", 1000)).empty());
  CHECK(must(db->queue_length("bob")) == 0);
  // Another user's queue is untouched ("bob" vs "bo" prefixes too).
  must(db->enqueue("bo", sent[0]));
  CHECK(must(db->take_queue("bob", "", 1000)).empty());
  CHECK(must(db->queue_length("cy")) == 1);
  CHECK(must(db->take_queue("bo", "", 1000)).size() == 1);
  // Taken messages may be queued again (a later delivery).
  CHECK(must(db->enqueue("bob", sent[0])) == 1);
}

TEST_CASE("the offline queue survives a restart", "[chat_db]") {
  temp_dir dir;
  chat_message m;
  {
    auto db = open_store(dir.path());
    must(db->put_conversation(direct("d1")));
    m = must(db->put_message(msg("d1", "ann", "wait for me")));
    must(db->enqueue("bob", m));
  }
  auto db = open_store(dir.path());
  CHECK(must(db->queue_length("bob")) == 1);
  auto taken = must(db->take_queue("bob", "", 1000));
  REQUIRE(taken.size() == 1);
  CHECK(taken[0].id == m.id);
  CHECK(taken[0].content == "wait for me");
}

namespace {

strings texts(const std::vector<chat_message>& ms) {
  strings out;
  for (auto& m : ms)
    out.push_back(m.content);
  return out;
}

} // namespace

TEST_CASE("every named device takes each queued message once", "[chat_db]") {
  temp_dir dir;
  millis t = 1'000'000;
  std::vector<chat_message> m;
  {
    auto db = open_store(dir.path());
    must(db->put_conversation(direct("d1")));
    for (int i = 1; i <= 8; ++i)
      m.push_back(
        must(db->put_message(msg("d1", "ann", "m" + std::to_string(i)))));
    must(db->enqueue("bob", m[0]));
    must(db->enqueue("bob", m[1]));
    // The first device takes everything; no other device is known, so
    // nothing stays.
    CHECK(texts(must(db->take_queue("bob", "phone", t)))
          == strings{"m1", "m2"});
    CHECK(must(db->queue_length("bob")) == 0);
    CHECK(must(db->queue_kept("bob")) == 0);
    CHECK(must(db->take_queue("bob", "phone", t)).empty());
    REQUIRE(must(db->queue_devices("bob")).size() == 1);
    CHECK(must(db->queue_devices("bob"))[0].first == "phone");
    CHECK(must(db->queue_devices("nobody")).empty());
    // A new device gets what is still kept: m3, which the phone wants too.
    must(db->enqueue("bob", m[2]));
    CHECK(texts(must(db->take_queue("bob", "laptop", t))) == strings{"m3"});
    CHECK(must(db->queue_length("bob")) == 0); // the laptop has it
    CHECK(must(db->queue_kept("bob")) == 1);   // the phone has not
    CHECK(texts(must(db->take_queue("bob", "phone", t))) == strings{"m3"});
    CHECK(must(db->queue_kept("bob")) == 0);
    // Both known now: each takes m4 and m5, once.
    must(db->enqueue("bob", m[3]));
    must(db->enqueue("bob", m[4]));
    CHECK(must(db->queue_length("bob")) == 2);
    CHECK(texts(must(db->take_queue("bob", "laptop", t)))
          == strings{"m4", "m5"});
    CHECK(must(db->take_queue("bob", "laptop", t)).empty());
    CHECK(must(db->queue_kept("bob")) == 2);
    // The unnamed devices ("") are one more device.
    CHECK(texts(must(db->take_queue("bob", "", t))) == strings{"m4", "m5"});
    must(db->enqueue("bob", m[5]));
  }
  // Cursors survive a restart.
  auto db = open_store(dir.path());
  CHECK(texts(must(db->take_queue("bob", "phone", t)))
        == strings{"m4", "m5", "m6"});
  CHECK(texts(must(db->take_queue("bob", "laptop", t))) == strings{"m6"});
  CHECK(must(db->queue_kept("bob")) == 1); // "" has not taken m6
  // A device unseen for device_ttl is forgotten, and what only it wanted
  // goes.
  must(db->enqueue("bob", m[6]));
  auto later = t + store_db::device_ttl + 1;
  CHECK(texts(must(db->take_queue("bob", "phone", later))) == strings{"m7"});
  CHECK(must(db->queue_kept("bob")) == 0);
  // ... and comes back as a new device (gets what is kept: nothing).
  CHECK(must(db->take_queue("bob", "laptop", later)).empty());
  must(db->enqueue("bob", m[7]));
  CHECK(texts(must(db->take_queue("bob", "laptop", later))) == strings{"m8"});
}

TEST_CASE("a device lagging behind loses the oldest beyond the queue limit",
          "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  db->set_queue_limit(3);
  must(db->put_conversation(direct("d1")));
  std::vector<chat_message> m;
  for (int i = 1; i <= 6; ++i)
    m.push_back(
      must(db->put_message(msg("d1", "ann", "m" + std::to_string(i)))));
  millis t = 5'000;
  CHECK(must(db->take_queue("bob", "laptop", t)).empty()); // known, idle
  for (int i = 0; i < 2; ++i)
    must(db->enqueue("bob", m[i]));
  CHECK(texts(must(db->take_queue("bob", "phone", t))) == strings{"m1", "m2"});
  for (int i = 2; i < 4; ++i)
    must(db->enqueue("bob", m[i]));
  CHECK(texts(must(db->take_queue("bob", "phone", t))) == strings{"m3", "m4"});
  // The phone is current: nothing waits for it, the sender is not refused.
  CHECK(must(db->queue_length("bob")) == 0);
  CHECK(must(db->queue_kept("bob")) == 3);
  CHECK(texts(must(db->take_queue("bob", "laptop", t)))
        == strings{"m2", "m3", "m4"});
  // With every device behind, the queue fills up to the limit.
  for (int i = 4; i < 6; ++i)
    CHECK(must(db->enqueue("bob", m[i])) == static_cast<uint32_t>(i - 3));
  CHECK(must(db->queue_length("bob")) == 2);
}

TEST_CASE("at most max_queue_devices cursors are kept per user", "[chat_db]") {
  temp_dir dir;
  auto db = open_store(dir.path());
  must(db->put_conversation(direct("d1")));
  auto m = must(db->put_message(msg("d1", "ann", "hello")));
  // Devices seen at 1, 2, ...: the one seen first goes first.
  for (size_t i = 0; i < store_db::max_queue_devices; ++i)
    must(db->take_queue("bob", "dev" + std::to_string(i),
                        static_cast<millis>(i + 1)));
  must(db->enqueue("bob", m));
  CHECK(must(db->queue_kept("bob")) == 1);
  auto all = store_db::max_queue_devices;
  // One more device: dev0 is forgotten; the rest still want the message.
  CHECK(must(db->take_queue("bob", "new", 100)).size() == 1);
  for (size_t i = 1; i < all; ++i)
    CHECK(must(db->take_queue("bob", "dev" + std::to_string(i), 100)).size()
          == 1);
  CHECK(must(db->queue_kept("bob")) == 0);
  // dev0 comes back as a new device: nothing is kept for it.
  CHECK(must(db->take_queue("bob", "dev0", 100)).empty());
}
