#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>

#include "core/messages.hpp"
#include "persistence/store_actor.hpp"
#include "persistence/store_db.hpp"
#include "tests/persistence/fault_env.hpp"
#include "tests/persistence/log_capture.hpp"
#include "tests/persistence/must.hpp"
#include "tests/persistence/raw_put.hpp"
#include "tests/persistence/temp_dir.hpp"

using namespace presence;
using namespace presence::persistence;
using namespace std::chrono_literals;
using presence::test::fault_env;
using presence::test::log_capture;
using presence::test::must;
using presence::test::open_mark;
using presence::test::recover;
using presence::test::temp_dir;

namespace {

struct config_holder {
  caf::actor_system_config cfg;
  config_holder() { register_types(cfg); }
};

/// A real store actor on a real RocksDB in a temp dir. The checkpoint timer
/// is one hour unless a test says otherwise, and so is the retry timer, so
/// nothing is flushed or retried behind a test's back: that happens on
/// flush_atom, a tick we send, or shutdown.
struct fixture : config_holder {
  temp_dir dir;     // outlives the actor system (declared before it)
  fault_env faults; // a disk that fails on demand (start(..., true))
  caf::actor_system sys;
  caf::scoped_actor self;
  std::shared_ptr<store_probe> probe = std::make_shared<store_probe>();
  store_api store;

  fixture() : sys(cfg), self(sys) {
    // nop
  }

  ~fixture() { stop(); }

  /// The store untyped: to send what only its own timer sends (tick).
  caf::actor private_handle() const {
    return caf::actor_cast<caf::actor>(store);
  }

  void start(std::chrono::milliseconds checkpoint_interval = 1h,
             bool failable = false) {
    persistence_config pcfg;
    pcfg.data_dir = dir.path();
    pcfg.checkpoint_interval = checkpoint_interval;
    std::string err;
    auto db = store_db::open(dir.path(), pcfg.history_limit, err,
                             failable ? faults.env() : nullptr);
    INFO(err);
    REQUIRE(db);
    store = spawn_store(sys, std::move(db), pcfg, probe, 1h);
  }

  /// Ends the store and waits until it is gone (and its DB closed).
  void stop() {
    if (!store)
      return;
    self->send_exit(store, caf::exit_reason::user_shutdown);
    self->wait_for(store);
    store = nullptr;
  }

  /// Opens the store's directory directly (after stop()).
  std::unique_ptr<store_db> reopen() {
    std::string err;
    auto db = store_db::open(dir.path(), 100, err);
    INFO("reopen: " << err);
    REQUIRE(db);
    return db;
  }

  template <class T, class... Ts>
  T ask(Ts... xs) {
    T result{};
    bool ok = false;
    std::string err;
    self->request(store, std::chrono::seconds{30}, xs...)
      .receive(
        [&](T& x) {
          result = std::move(x);
          ok = true;
        },
        [&](caf::error& e) { err = sys.render(e); });
    INFO("request failed: " << err);
    REQUIRE(ok);
    return result;
  }

  /// The error a request is answered with (fails if it gets a T).
  template <class T, class... Ts>
  caf::error ask_error(Ts... xs) {
    caf::error result;
    bool got_value = false;
    self->request(store, std::chrono::seconds{30}, xs...)
      .receive([&](T&) { got_value = true; },
               [&](caf::error& e) { result = std::move(e); });
    CHECK_FALSE(got_value);
    return result;
  }

  /// What only the store's own timer sends.
  void tick() { self->send(private_handle(), tick_atom::value); }

  void checkpoint(const std::string& user, millis start, millis last,
                  uint64_t version) {
    self->send(store, checkpoint_atom::value, user, start, last, version,
               presence_status::online);
  }

  void open(const std::string& user, millis start, uint64_t version) {
    self->send(store, open_atom::value, user, start, version);
  }

  void close(const std::string& user, millis start, millis end,
             uint64_t version) {
    self->send(store, close_atom::value, user, start, end, version);
  }

  void drop(const std::string& user) {
    self->send(store, drop_atom::value, user);
  }

  /// A round trip: everything sent before has been handled.
  user_record load(const std::string& user) {
    return ask<user_record>(load_atom::value, user);
  }

  bool flush() { return ask<bool>(flush_atom::value); }

  /// RocksDB writes so far (one per write batch: the store times each).
  uint64_t writes() const {
    uint64_t n = 0;
    for (auto& b : probe->write_latency.buckets)
      n += b.load();
    return n;
  }
};

} // namespace

TEST_CASE("checkpoints wait in memory and are written in one batch",
          "[store_actor]") {
  fixture f;
  f.start();
  for (int u = 0; u < 10; ++u)
    f.checkpoint("u" + std::to_string(u), 1'000, 1'000 + u, 1);
  for (int k = 1; k <= 5; ++k)
    f.checkpoint("u0", 1'000, 1'500 + k * 100, 1); // latest per user wins
  // Handled but not yet written.
  CHECK_FALSE(f.load("u3").known);
  CHECK(f.probe->checkpoint_flushes == 0);
  CHECK(f.probe->checkpoints_written == 0);
  CHECK(f.probe->checkpoint_newest_ms == 0);

  CHECK(f.flush());
  CHECK(f.probe->checkpoint_flushes == 1);
  CHECK(f.probe->checkpoints_written == 10);
  // The newest activity on disk: u0's last checkpoint.
  CHECK(f.probe->checkpoint_newest_ms == 2'000);
  // What was written sits in RocksDB's memtables (under the budget).
  CHECK(f.probe->memtable_bytes > 0);
  CHECK(f.probe->memtable_bytes <= presence::persistence::memtable_budget);
  CHECK(f.load("u3").known);
  CHECK(f.load("u3").version == 1);
  // Nothing pending: a second flush writes nothing.
  CHECK(f.flush());
  CHECK(f.probe->checkpoint_flushes == 1);
  CHECK(f.probe->checkpoints_written == 10);

  f.stop();
  auto db = f.reopen();
  open_session s;
  REQUIRE(open_mark(*db, "u0", s));
  CHECK(s.start == 1'000);
  CHECK(s.last_active == 2'000);
  REQUIRE(open_mark(*db, "u7", s));
  CHECK(s.last_active == 1'007);
}

TEST_CASE(
  "an open mark written is activity on disk: the newest checkpoint "
  "time moves, the checkpoint counts do not",
  "[store_actor]") {
  fixture f;
  f.start();
  f.open("ola", 3'000, 1);
  CHECK(f.load("ola").version == 1); // round trip: the open is written
  CHECK(f.probe->checkpoint_newest_ms == 3'000);
  CHECK(f.probe->checkpoints_written == 0);
  f.open("per", 2'000, 1); // older: the newest stays
  CHECK(f.load("per").version == 1);
  CHECK(f.probe->checkpoint_newest_ms == 3'000);
}

TEST_CASE(
  "a batch load for starting users answers each as the single "
  "load would; a record that cannot be read comes back with no id",
  "[store_actor]") {
  fixture f;
  presence::test::raw_put(f.dir.path(), "last_seen", "bad", "xyz");
  f.start();
  f.open("ann", 1'000, 4);
  f.close("ann", 1'000, 2'000, 5);
  auto one = f.ask<user_record>(load_atom::value, std::string{"ann"});
  auto all = f.ask<std::vector<user_record>>(load_atom::value, join_atom::value,
                                             std::vector<std::string>{"ann",
                                                                      "bad",
                                                                      "new"});
  REQUIRE(all.size() == 3);
  CHECK(all[0].user_id == "ann");
  CHECK(all[0].known);
  CHECK(all[0].last_seen == one.last_seen);
  CHECK(all[0].version == one.version);
  CHECK(all[0].queued == one.queued); // the start's hints too
  CHECK(all[1].user_id.empty());      // corrupt: out of reach
  CHECK(all[2].user_id == "new");
  CHECK_FALSE(all[2].known);
}

TEST_CASE("a checkpoint tick writes the oldest tenth of what waits",
          "[store_actor]") {
  fixture f;
  f.start(); // an hour: nothing has waited a whole interval
  for (int u = 0; u < 25; ++u)
    f.checkpoint("s" + std::to_string(u), 1'000, 1'000 + u, 1);
  f.checkpoint("s0", 1'000, 5'000, 1); // newer state, same place in line
  auto tick = [&] {
    f.self->send(f.private_handle(), checkpoint_atom::value);
    f.load("s0"); // round trip
  };
  tick(); // 25 wait: 3 go, the oldest
  CHECK(f.probe->checkpoint_flushes == 1);
  CHECK(f.probe->checkpoints_written == 3);
  CHECK(f.load("s0").known);
  CHECK(f.load("s2").known);
  CHECK_FALSE(f.load("s3").known);
  CHECK(f.probe->checkpoint_newest_ms == 5'000); // s0's latest
  tick();                                        // 22 wait: 3 more
  CHECK(f.probe->checkpoints_written == 6);
  CHECK(f.load("s5").known);
  CHECK_FALSE(f.load("s6").known);
  // A user that waits again goes to the back of the line.
  f.checkpoint("s0", 1'000, 6'000, 1);
  for (int i = 0; i < 30 && !f.load("s24").known; ++i)
    tick();
  REQUIRE(f.load("s24").known);
  CHECK(f.load("s0").open_last_active == 5'000);
  tick();
  CHECK(f.load("s0").open_last_active == 6'000);
  CHECK(f.probe->checkpoints_written == 26);
}

TEST_CASE(
  "the store's own ticks write what waits, a share at a time, "
  "until nothing waits",
  "[store_actor]") {
  fixture f;
  f.start(50ms);
  for (int u = 0; u < 30; ++u)
    f.checkpoint("w" + std::to_string(u), 1'000, 1'000 + u, 1);
  // The store's own ticks (every 5 ms) write a share each and re-arm
  // while anything waits.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (f.probe->checkpoints_written < 30
         && std::chrono::steady_clock::now() < deadline)
    f.load("w0"); // round trips while the store ticks
  CHECK(f.probe->checkpoints_written == 30);
  CHECK(f.load("w29").known);
}

TEST_CASE("the retry tick writes every pending checkpoint", "[store_actor]") {
  fixture f;
  f.start();
  f.checkpoint("a", 10, 20, 1);
  f.checkpoint("b", 10, 30, 1);
  f.checkpoint("a", 10, 40, 1);
  // What the delayed tick does, without waiting an hour.
  f.self->send(f.private_handle(), tick_atom::value);
  f.load("a"); // round trip
  CHECK(f.probe->checkpoint_flushes == 1);
  CHECK(f.probe->checkpoints_written == 2);
  // Later checkpoints start a new batch.
  f.checkpoint("a", 10, 50, 1);
  f.self->send(f.private_handle(), tick_atom::value);
  f.load("a");
  CHECK(f.probe->checkpoint_flushes == 2);
  CHECK(f.probe->checkpoints_written == 3);
}

TEST_CASE("with a zero interval every checkpoint is written at once",
          "[store_actor]") {
  fixture f;
  f.start(0ms);
  for (int i = 0; i < 5; ++i)
    f.checkpoint("z", 100, 100 + i, 1);
  CHECK(f.load("z").known);
  CHECK(f.probe->checkpoint_flushes == 5);
  CHECK(f.probe->checkpoints_written == 5);
  CHECK(f.flush());
  CHECK(f.probe->checkpoint_flushes == 5);
}

TEST_CASE(
  "the open marks of a replicator's pass are one write; while the "
  "disk fails they queue in order",
  "[store_actor]") {
  fixture f;
  f.start(1h, true);
  f.checkpoint("a1", 500, 900, 1); // waits in memory: the open replaces it
  auto before = f.writes();
  f.self->send(f.store, open_atom::value,
               std::vector<session_open>{{"a1", 1'000, 2},
                                         {"a2", 1'100, 1},
                                         {"a3", 1'200, 1}});
  f.load("a1"); // a round trip
  CHECK(f.writes() == before + 1);
  CHECK(f.probe->checkpoint_newest_ms == 1'200);
  CHECK(f.flush()); // the replaced checkpoint is not written
  for (auto [user, start] :
       {std::pair{"a1", 1'000}, {"a2", 1'100}, {"a3", 1'200}}) {
    auto r = f.load(user);
    INFO(user);
    REQUIRE(r.open);
    CHECK(r.open_start == start);
    CHECK(r.open_last_active == start);
  }
  // The disk fails: the batch is one error, its marks wait in order (b1's
  // close after them supersedes its open), and the retry writes them.
  f.faults.fail(true);
  f.self->send(f.store, open_atom::value,
               std::vector<session_open>{{"b1", 2'000, 1}, {"b2", 2'100, 1}});
  f.close("b1", 2'000, 2'500, 2);
  f.load("a1");
  CHECK(f.probe->write_errors == 1);
  CHECK(f.probe->writes_pending == 2);
  f.faults.fail(false);
  f.tick();
  auto b1 = f.load("b1");
  CHECK_FALSE(b1.open);
  CHECK(b1.last_seen == 2'500);
  auto b2 = f.load("b2");
  REQUIRE(b2.open);
  CHECK(b2.open_start == 2'100);
  CHECK(f.probe->writes_pending == 0);
}

TEST_CASE("a batch of checkpoints is taken as the single ones would be",
          "[store_actor]") {
  fixture f;
  f.start();
  // The replicator's batch: in order, the latest per user wins.
  std::vector<session_checkpoint> cps;
  for (int u = 0; u < 4; ++u)
    cps.push_back(
      {"u" + std::to_string(u), 1'000, 1'100 + u, 1, presence_status::online});
  cps.push_back({"u0", 1'000, 1'900, 2, presence_status::away});
  f.self->send(f.store, checkpoint_atom::value, cps);
  CHECK(f.flush());
  CHECK(f.probe->checkpoints_written == 4);
  CHECK(f.probe->checkpoint_newest_ms == 1'900);
  f.stop();
  auto db = f.reopen();
  open_session s;
  REQUIRE(open_mark(*db, "u0", s));
  CHECK(s.start == 1'000);
  CHECK(s.last_active == 1'900);
  CHECK(s.version == 2);
  CHECK(s.status == presence_status::away);
  REQUIRE(open_mark(*db, "u3", s));
  CHECK(s.last_active == 1'103);
}

TEST_CASE("a close after a pending checkpoint leaves no open mark",
          "[store_actor]") {
  fixture f;
  f.start();
  f.open("alice", 1'000, 1);
  f.checkpoint("alice", 1'000, 1'500, 2);
  f.close("alice", 1'000, 2'000, 2);
  // The share tick armed for the checkpoint fires after the close (alice
  // still in its line: skipped), then a retry tick.
  f.self->send(f.private_handle(), checkpoint_atom::value);
  f.self->send(f.private_handle(), tick_atom::value);
  CHECK(f.flush());
  CHECK(f.probe->checkpoints_written == 0);
  CHECK(f.probe->sessions_closed == 1);
  auto r = f.load("alice");
  CHECK(r.last_seen == 2'000);
  CHECK(r.version == 2);

  f.stop();
  auto db = f.reopen();
  open_session s;
  CHECK_FALSE(open_mark(*db, "alice", s));
  CHECK(recover(*db, 1'000'000) == 0);
  auto h = must(db->history("alice", 10));
  REQUIRE(h.size() == 1);
  CHECK(h[0].start == 1'000);
  CHECK(h[0].end == 2'000);
  CHECK(must(db->load("alice")).last_seen == 2'000);
}

TEST_CASE("an open drops a pending checkpoint of the previous session",
          "[store_actor]") {
  fixture f;
  f.start();
  f.checkpoint("bob", 100, 900, 1);
  f.open("bob", 5'000, 2);
  CHECK(f.flush());
  CHECK(f.probe->checkpoints_written == 0);
  f.stop();
  auto db = f.reopen();
  open_session s;
  REQUIRE(open_mark(*db, "bob", s));
  CHECK(s.start == 5'000);
  CHECK(s.last_active == 5'000);
  CHECK(s.version == 2);
}

TEST_CASE("stopping the store writes pending checkpoints", "[store_actor]") {
  fixture f;
  f.start();
  f.open("carol", 100, 1);
  f.checkpoint("carol", 100, 300, 1);
  f.load("carol"); // handled, still pending
  REQUIRE(f.probe->checkpoints_written == 0);
  f.stop();
  CHECK(f.probe->checkpoints_written == 1);
  auto db = f.reopen();
  open_session s;
  REQUIRE(open_mark(*db, "carol", s));
  CHECK(s.last_active == 300);
  CHECK(recover(*db, 10'000) == 1);
  auto h = must(db->history("carol", 10));
  REQUIRE(h.size() == 1);
  CHECK(h[0].end == 300);
}

TEST_CASE(
  "visibility and contacts are stored with the profile and loaded "
  "with the user's record",
  "[store_actor]") {
  fixture f;
  f.start();
  // Nothing stored: the server's default, no contacts.
  auto none = f.ask<user_record>(load_atom::value, std::string{"vera"});
  CHECK_FALSE(none.contacts_stored);
  CHECK(none.contacts.mode == visibility_mode::server_default);
  profile p;
  p.contacts.mode = visibility_mode::contacts;
  p.contacts.ids = {"amy", "bob"};
  p.contacts.since = 1000;
  auto stored = f.ask<profile>(put_atom::value, profile_atom::value,
                               std::string{"vera"}, p,
                               uint8_t{profile_visibility | profile_contacts});
  CHECK(stored.contacts.ids == p.contacts.ids);
  // A profile write keeps them; a write of the mode alone keeps the list.
  profile named;
  named.name = "Vera";
  f.ask<profile>(put_atom::value, profile_atom::value, std::string{"vera"},
                 named, uint8_t{profile_all});
  profile open;
  open.contacts.mode = visibility_mode::everyone;
  open.contacts.since = 2000;
  auto after = f.ask<profile>(put_atom::value, profile_atom::value,
                              std::string{"vera"}, open,
                              uint8_t{profile_visibility});
  CHECK(after.name == "Vera");
  CHECK(after.contacts.mode == visibility_mode::everyone);
  CHECK(after.contacts.ids == std::vector<std::string>{"amy", "bob"});
  auto r = f.ask<user_record>(load_atom::value, std::string{"vera"});
  CHECK(r.contacts_stored);
  CHECK(r.contacts.mode == visibility_mode::everyone);
  CHECK(r.contacts.ids == std::vector<std::string>{"amy", "bob"});
  auto rs = f.ask<std::vector<user_record>>(load_atom::value,
                                            std::vector<std::string>{"nobody",
                                                                     "vera"});
  REQUIRE(rs.size() == 2);
  CHECK_FALSE(rs[0].contacts_stored);
  CHECK(rs[1].contacts.ids.size() == 2);
  // On disk, read back by a reopened store.
  f.stop();
  auto db = f.reopen();
  auto back = must(db->get_profile("vera"));
  CHECK(back.name == "Vera");
  CHECK(back.contacts.mode == visibility_mode::everyone);
  CHECK(back.contacts.ids == std::vector<std::string>{"amy", "bob"});
  CHECK(back.contacts.since == 2000);
}

TEST_CASE("reads and profile writes go through the store actor",
          "[store_actor]") {
  fixture f;
  f.start();
  profile p;
  p.name = "Dora";
  p.email = "d@example.com";
  auto stored = f.ask<profile>(put_atom::value, profile_atom::value,
                               std::string{"dora"}, p, uint8_t{profile_all});
  CHECK(stored.known); // set by the store
  CHECK(stored.name == "Dora");
  auto got = f.ask<profile>(get_atom::value, profile_atom::value,
                            std::string{"dora"});
  CHECK(got.known);
  CHECK(got.email == "d@example.com");
  // A partial write changes only the fields it names.
  profile q;
  q.username = "dora-x";
  q.name = "ignored";
  auto merged = f.ask<profile>(put_atom::value, profile_atom::value,
                               std::string{"dora"}, q,
                               uint8_t{profile_username});
  CHECK(merged.name == "Dora");
  CHECK(merged.username == "dora-x");
  CHECK(merged.email == "d@example.com");
  auto many = f.ask<std::vector<profile>>(get_atom::value, profile_atom::value,
                                          std::vector<std::string>{"nobody",
                                                                   "dora"});
  REQUIRE(many.size() == 2);
  CHECK_FALSE(many[0].known);
  CHECK(many[1].name == "Dora");

  f.close("dora", 10, 20, 3);
  f.close("dora", 30, 40, 4);
  auto touched = f.ask<user_record>(last_seen_atom::value, std::string{"eli"},
                                    millis{55});
  CHECK(touched.known);
  CHECK(touched.last_seen == 55);
  auto recs = f.ask<std::vector<user_record>>(
    load_atom::value, std::vector<std::string>{"dora", "eli", "nobody"});
  REQUIRE(recs.size() == 3);
  CHECK(recs[0].user_id == "dora");
  CHECK(recs[0].last_seen == 40);
  CHECK(recs[0].version == 4);
  CHECK(recs[1].last_seen == 55);
  CHECK_FALSE(recs[2].known);
  auto hist = f.ask<std::vector<session_record>>(history_atom::value,
                                                 std::string{"dora"},
                                                 uint32_t{1});
  REQUIRE(hist.size() == 1);
  CHECK(hist[0].start == 30);
  CHECK(f.probe->sessions_closed == 2);
}

// -- a failing disk -----------------------------------------------------------

TEST_CASE(
  "while the disk fails the store answers errors, counts, logs once "
  "and loses nothing",
  "[store_actor][errors]") {
  log_capture logs{"store"}; // outlives the store (declared before it)
  fixture f;
  f.start(1h, true);
  f.open("fay", 1'000, 3);
  REQUIRE(f.load("fay").open);

  f.faults.fail(true);
  // A close nobody waits for fails: counted, and kept for a retry.
  f.close("fay", 1'000, 2'000, 4);
  // A last_seen touch is answered with the store error.
  auto err = f.ask_error<user_record>(last_seen_atom::value, std::string{"gil"},
                                      millis{500});
  CHECK(err.category() == error_category());
  CHECK(store_code(err) == persistence::errc::io_error);
  CHECK(f.faults.refused() > 0);
  CHECK(f.probe->write_errors == 2);
  CHECK(f.probe->writes_pending == 1);
  // Later writes queue behind the failed one without trying.
  f.close("hal", 10, 20, 1);
  f.drop("ivy");
  // Reads answer with what is written: the close is not in yet.
  auto fay = f.load("fay");
  CHECK(fay.open);
  CHECK(fay.last_seen == 0);
  CHECK(f.probe->writes_pending == 3);
  CHECK(f.probe->write_errors == 2);
  CHECK(f.probe->sessions_closed == 0);
  // Neither a flush nor a retry can write them yet; the orphan scan says
  // its marks are not current.
  auto flushed = f.ask_error<bool>(flush_atom::value);
  CHECK(store_code(flushed) == persistence::errc::io_error);
  f.tick();
  auto scan = f.ask_error<std::vector<user_record>>(orphan_atom::value);
  CHECK(store_code(scan) == persistence::errc::io_error);
  CHECK(f.probe->writes_pending == 3);
  // One error line for the whole run of failures, saying what failed.
  CHECK(logs.sink().count(spdlog::level::err) == 1);
  CHECK(logs.sink().count(spdlog::level::err, "close session") == 1);
  CHECK(logs.sink().count(spdlog::level::info) == 0);

  f.faults.fail(false);
  f.tick();
  fay = f.load("fay"); // a round trip: the tick has run
  CHECK_FALSE(fay.open);
  CHECK(fay.last_seen == 2'000);
  CHECK(fay.version == 4);
  auto hist = f.ask<std::vector<session_record>>(history_atom::value,
                                                 std::string{"fay"},
                                                 uint32_t{10});
  REQUIRE(hist.size() == 1);
  CHECK(hist[0].start == 1'000);
  CHECK(hist[0].end == 2'000);
  CHECK(f.load("hal").last_seen == 20);
  CHECK(f.probe->writes_pending == 0);
  CHECK(f.probe->writes_dropped == 0);
  CHECK(f.probe->sessions_closed == 2);
  CHECK(f.probe->write_errors == 2);
  CHECK(logs.sink().count(spdlog::level::info,
                          "store writes recovered after 2 failures")
        == 1);
  CHECK(logs.sink().count(spdlog::level::err) == 1);
  // Requests work again.
  auto gil = f.ask<user_record>(last_seen_atom::value, std::string{"gil"},
                                millis{500});
  CHECK(gil.last_seen == 500);
  CHECK(f.flush());
  // What was retried is on disk.
  f.stop();
  auto db = f.reopen();
  CHECK(must(db->load("fay")).last_seen == 2'000);
  CHECK(must(db->history("fay", 10)).size() == 1);
  open_session s;
  CHECK_FALSE(open_mark(*db, "fay", s));
}

TEST_CASE(
  "a close supersedes its user's queued open; queued writes go "
  "before pending checkpoints",
  "[store_actor][errors]") {
  fixture f;
  f.start(1h, true);
  f.faults.fail(true);
  f.open("jo", 1'000, 1);              // fails: queued
  f.checkpoint("jo", 1'000, 1'400, 1); // newer: waits in memory
  f.open("kai", 2'000, 1);             // queued
  f.close("kai", 2'000, 2'500, 2);     // replaces kai's queued open
  f.load("jo");                        // a round trip
  CHECK(f.probe->writes_pending == 2);
  CHECK(f.probe->write_errors == 1);

  f.faults.fail(false);
  f.tick();
  auto jo = f.load("jo");
  REQUIRE(jo.open);
  // The open went first, then the checkpoint: the newer activity stays.
  CHECK(jo.open_last_active == 1'400);
  auto kai = f.load("kai");
  CHECK_FALSE(kai.open);
  CHECK(kai.last_seen == 2'500);
  CHECK(f.probe->checkpoints_written == 1);
  CHECK(f.probe->writes_pending == 0);
}

TEST_CASE("a store that stops while the disk fails says what it loses",
          "[store_actor][errors]") {
  log_capture logs{"store"};
  fixture f;
  f.start(1h, true);
  f.faults.fail(true);
  f.close("lou", 100, 200, 1);
  f.checkpoint("max", 100, 500, 1);
  f.load("lou");
  CHECK(f.probe->writes_dropped == 0);
  f.stop();
  CHECK(f.probe->writes_dropped == 2);
  CHECK(logs.sink().count(spdlog::level::err, "1 writes and 1 checkpoints")
        == 1);
}

TEST_CASE(
  "a share that cannot be written waits for the retry, which writes "
  "the latest",
  "[store_actor][errors]") {
  log_capture logs{"store"};
  fixture f;
  f.start(1h, true);
  f.checkpoint("kim", 1'000, 1'100, 1);
  f.checkpoint("lou", 1'000, 1'200, 1);
  f.faults.fail(true);
  f.self->send(f.private_handle(), checkpoint_atom::value); // fails
  f.self->send(f.private_handle(), checkpoint_atom::value); // stuck: waits
  f.load("kim");                                            // round trip
  CHECK(f.probe->write_errors >= 1);
  CHECK(f.probe->checkpoints_written == 0);
  // A newer checkpoint while it waits: the retry writes that one.
  f.checkpoint("kim", 1'000, 1'900, 2);
  f.faults.fail(false);
  f.tick();
  auto kim = f.load("kim");
  CHECK(kim.open_last_active == 1'900);
  CHECK(f.load("lou").open_last_active == 1'200);
  CHECK(f.probe->checkpoints_written == 2);
  // Nothing waits any more: later shares write nothing.
  f.self->send(f.private_handle(), checkpoint_atom::value);
  f.load("kim");
  CHECK(f.probe->checkpoints_written == 2);
}
