#include <catch2/catch.hpp>

#include "cluster/replicator.hpp"
#include "core/hash_ring.hpp"
#include "tests/cluster/test_fixture.hpp"

// The replicator of node "a" in front of fake stores: its own ("a") and
// those of members "b" and "c". Replication 2: every user lives on two of
// them.

using namespace presence;
using namespace presence::test;
using namespace std::chrono_literals;

namespace {

constexpr auto timeout = 100ms;

struct replicated : fixture {
  std::map<std::string, std::shared_ptr<fake_store_data>> stores;
  store_api replicator;
  cluster_config ccfg;

  /// A replicator on "a" with the members `nodes` (including "a").
  explicit replicated(std::vector<std::string> nodes = {"a", "b"}) {
    ccfg.replication = 2;
    cluster_view v;
    v.version = 1;
    v.self = "a";
    store_api local;
    for (auto& n : nodes) {
      auto d = std::make_shared<fake_store_data>();
      d->name = n;
      stores[n] = d;
      member_info m;
      m.node_id = n;
      m.store = sys.spawn(fake_store, d);
      if (n == "a")
        local = m.store;
      v.members.push_back(m);
    }
    replicator = cluster::spawn_replicator(sys, ccfg, timeout, local,
                                           membership_api{});
    caf::anon_send(caf::actor_cast<view_listener>(replicator), view_atom::value,
                   v);
    run();
  }

  /// The replicas of `user`, owner first.
  std::vector<std::string> replicas_of(const std::string& user) {
    std::vector<std::string> nodes;
    for (auto& kvp : stores)
      nodes.push_back(kvp.first);
    return hash_ring::of(nodes, ccfg.vnodes).replicas(user, 2);
  }
};

user_record stored(bool known, millis last_seen, uint64_t version) {
  user_record r;
  r.known = known;
  r.last_seen = last_seen;
  r.version = version;
  return r;
}

} // namespace

TEST_CASE_METHOD(replicated,
                 "replicator: a read merges the replicas and "
                 "repairs them") {
  stores["a"]->records["u"] = stored(true, 100, 7);
  stores["b"]->records["u"] = stored(true, 200, 3);
  auto r = ask<user_record>(replicator, load_atom::value, std::string{"u"});
  REQUIRE(r);
  CHECK(r->user_id == "u");
  CHECK(r->last_seen == 200);
  CHECK(r->version == 7);
  for (auto& n : {"a", "b"}) {
    REQUIRE(stores[n]->merges.size() == 1);
    CHECK(stores[n]->merges[0].last_seen == 200);
    CHECK(stores[n]->merges[0].version == 7);
  }
}

TEST_CASE_METHOD(replicated,
                 "replicator: a read answers from the replica "
                 "that answered and repairs the other") {
  stores["a"]->records["u"] = stored(true, 100, 7);
  stores["b"]->failing = true;
  auto r = ask<user_record>(replicator, load_atom::value, std::string{"u"});
  REQUIRE(r);
  CHECK(r->last_seen == 100);
  CHECK(stores["a"]->merges.empty()); // it had the merged record
  REQUIRE(stores["b"]->merges.size() == 1);
  CHECK(stores["b"]->merges[0].last_seen == 100);
}

TEST_CASE_METHOD(replicated,
                 "replicator: a read repairs only the replicas "
                 "behind the merged record") {
  stores["a"]->records["u"] = stored(true, 200, 7);
  stores["b"]->records["u"] = stored(true, 200, 6);
  stores["a"]->records["v"] = stored(true, 300, 9);
  stores["b"]->records["v"] = stored(true, 300, 9);
  auto u = ask<user_record>(replicator, load_atom::value, std::string{"u"});
  REQUIRE(u);
  CHECK(u->version == 7);
  CHECK(stores["a"]->merges.empty());
  REQUIRE(stores["b"]->merges.size() == 1);
  CHECK(stores["b"]->merges[0].version == 7);
  // Replicas that agree, and a user no replica knows, need no repair.
  auto v = ask<user_record>(replicator, load_atom::value, std::string{"v"});
  auto w = ask<user_record>(replicator, load_atom::value, std::string{"w"});
  REQUIRE(v);
  REQUIRE(w);
  CHECK_FALSE(w->known);
  CHECK(stores["a"]->merges.empty());
  CHECK(stores["b"]->merges.size() == 1);
}

TEST_CASE_METHOD(replicated,
                 "replicator: the loads of one mailbox pass go to each "
                 "store as one batch, each merged and repaired as alone") {
  stores["a"]->records["u1"] = stored(true, 100, 1);
  stores["b"]->records["u1"] = stored(true, 150, 1);
  stores["a"]->records["u2"] = stored(true, 200, 5);
  auto ask_all = [&](std::vector<std::string> users) {
    std::vector<caf::response_handle<caf::blocking_actor,
                                     caf::detail::type_list<user_record>, true>>
      hs;
    for (auto& u : users)
      hs.push_back(
        self->request(replicator, caf::infinite, load_atom::value, u));
    run(); // one pass: the three loads, then the flush
    std::vector<caf::expected<user_record>> out;
    for (auto& h : hs) {
      caf::expected<user_record> r{no_answer()};
      h.receive([&](user_record& x) { r = std::move(x); },
                [&](caf::error& err) { r = std::move(err); });
      out.push_back(std::move(r));
    }
    return out;
  };
  auto rs = ask_all({"u1", "u2", "u3"});
  CHECK(stores["a"]->batch_loads == 1);
  CHECK(stores["b"]->batch_loads == 1);
  REQUIRE(rs[0]);
  CHECK(rs[0]->user_id == "u1");
  CHECK(rs[0]->last_seen == 150);
  REQUIRE(rs[1]);
  CHECK(rs[1]->version == 5);
  REQUIRE(rs[2]);
  CHECK_FALSE(rs[2]->known);
  // Repaired: a for u1 (100 < 150), b for u2 (it knew nothing); u3 nowhere.
  REQUIRE(stores["a"]->merges.size() == 1);
  CHECK(stores["a"]->merges[0].user_id == "u1");
  REQUIRE(stores["b"]->merges.size() == 1);
  CHECK(stores["b"]->merges[0].user_id == "u2");
  // A store that fails leaves its slots out: the other's answers stand.
  stores["b"]->failing = true;
  rs = ask_all({"u1", "u2"});
  REQUIRE(rs[0]);
  CHECK(rs[0]->last_seen == 100); // a's own (the fake keeps merges apart)
  REQUIRE(rs[1]);
  CHECK(rs[1]->version == 5);
  // Both failing: each load is storage unavailable, as alone.
  stores["a"]->failing = true;
  rs = ask_all({"u1", "u2"});
  REQUIRE_FALSE(rs[0]);
  CHECK(persistence::store_code(rs[0].error())
        == persistence::errc::unavailable);
  REQUIRE_FALSE(rs[1]);
}

TEST_CASE_METHOD(replicated,
                 "replicator: a pass with more loads than a batch carries "
                 "sends them as several batches, every one answered") {
  std::vector<caf::response_handle<caf::blocking_actor,
                                   caf::detail::type_list<user_record>, true>>
    hs;
  for (int i = 0; i < 600; ++i) {
    auto u = "s" + std::to_string(i);
    stores["a"]->records[u] = stored(true, 1000 + i, 1);
    hs.push_back(self->request(replicator, caf::infinite, load_atom::value, u));
  }
  run(); // one pass: 600 loads, then the flush
  for (auto& n : {"a", "b"}) {
    CHECK(stores[n]->batch_loads == 3); // 256 + 256 + 88
    CHECK(stores[n]->largest_batch == 256);
  }
  for (int i = 0; i < 600; ++i) {
    caf::expected<user_record> r{no_answer()};
    hs[i].receive([&](user_record& x) { r = std::move(x); },
                  [&](caf::error& err) { r = std::move(err); });
    REQUIRE(r);
    CHECK(r->user_id == "s" + std::to_string(i));
    CHECK(r->last_seen == 1000 + i);
  }
}

TEST_CASE_METHOD(replicated,
                 "replicator: the opens of one mailbox pass go to each "
                 "store as one message; nothing sent later overtakes them") {
  auto open = [&](const std::string& u) {
    self->send(replicator, open_atom::value, u, millis{1}, uint64_t{1});
  };
  open("u1");
  open("u2");
  open("u3");
  run();
  for (auto& n : {"a", "b"}) {
    CHECK(stores[n]->open_batches == 1);
    CHECK(stores[n]->opens == std::vector<std::string>{"u1", "u2", "u3"});
  }
  // An open and then other writes of the same user in one pass: the open
  // goes first (alone, as it came), then each write in its order.
  open("u4");
  self->send(replicator, checkpoint_atom::value, std::string{"u4"}, millis{1},
             millis{2}, uint64_t{1}, presence_status::online);
  open("u5");
  self->send(replicator, close_atom::value, std::string{"u4"}, millis{1},
             millis{3}, uint64_t{2});
  self->send(replicator, drop_atom::value, std::string{"u5"});
  run();
  for (auto& n : {"a", "b"}) {
    CHECK(stores[n]->open_batches == 1);
    auto& w = stores[n]->writes;
    REQUIRE(w.size() >= 5);
    CHECK(std::vector<std::string>(w.end() - 5, w.end())
          == std::vector<std::string>{"open u4", "cp u4", "open u5", "close u4",
                                      "drop u5"});
  }
}

TEST_CASE_METHOD(replicated,
                 "replicator: the checkpoints of one mailbox pass go to each "
                 "store as one message, in order with the opens") {
  auto checkpoint = [&](const std::string& u) {
    self->send(replicator, checkpoint_atom::value, u, millis{1}, millis{2},
               uint64_t{1}, presence_status::online);
  };
  // A flusher's tick: one user actor's checkpoint after the other.
  checkpoint("u1");
  checkpoint("u2");
  checkpoint("u3");
  run();
  for (auto& n : {"a", "b"}) {
    CHECK(stores[n]->checkpoint_batches == 1);
    CHECK(stores[n]->writes
          == std::vector<std::string>{"cp u1", "cp u2", "cp u3"});
  }
  // Opens and checkpoints mixed in one pass keep their order; a close
  // after them comes last.
  self->send(replicator, open_atom::value, std::string{"u4"}, millis{1},
             uint64_t{1});
  self->send(replicator, open_atom::value, std::string{"u5"}, millis{1},
             uint64_t{1});
  checkpoint("u4");
  checkpoint("u5");
  self->send(replicator, open_atom::value, std::string{"u6"}, millis{1},
             uint64_t{1});
  self->send(replicator, close_atom::value, std::string{"u4"}, millis{1},
             millis{3}, uint64_t{2});
  run();
  for (auto& n : {"a", "b"}) {
    CHECK(stores[n]->checkpoint_batches == 2);
    CHECK(stores[n]->open_batches == 1);
    auto& w = stores[n]->writes;
    REQUIRE(w.size() == 9);
    CHECK(std::vector<std::string>(w.begin() + 3, w.end())
          == std::vector<std::string>{"open u4", "open u5", "cp u4", "cp u5",
                                      "open u6", "close u4"});
  }
}

TEST_CASE_METHOD(replicated,
                 "replicator: no replica answering is storage "
                 "unavailable") {
  stores["a"]->failing = true;
  stores["b"]->failing = true;
  auto load = ask<user_record>(replicator, load_atom::value, std::string{"u"});
  REQUIRE_FALSE(load);
  CHECK(persistence::store_code(load.error())
        == persistence::errc::unavailable);
  CHECK(stores["a"]->merges.empty()); // nothing to repair with
  auto seen = ask<user_record>(replicator, last_seen_atom::value,
                               std::string{"u"}, millis{5});
  REQUIRE_FALSE(seen);
  CHECK(persistence::store_code(seen.error())
        == persistence::errc::unavailable);
  profile p;
  p.name = "n";
  auto put = ask<profile>(replicator, put_atom::value, profile_atom::value,
                          std::string{"u"}, p, uint8_t{profile_name});
  REQUIRE_FALSE(put);
  CHECK(persistence::store_code(put.error()) == persistence::errc::unavailable);
}

TEST_CASE_METHOD(replicated,
                 "replicator: a read of a slow replica waits "
                 "for the timeout, then answers") {
  // A failing replica answers at once; this one's answer never comes.
  stores["a"]->records["u"] = stored(true, 100, 7);
  auto quiet = sys.spawn([](caf::event_based_actor* q) -> caf::behavior {
    return {
      [=](load_atom, const std::string&) -> caf::result<user_record> {
        return q->make_response_promise<user_record>(); // never delivered
      },
    };
  });
  cluster_view v;
  v.version = 2;
  v.self = "a";
  member_info a;
  a.node_id = "a";
  member_info b;
  b.node_id = "b";
  b.store = caf::actor_cast<store_api>(quiet);
  v.members = {a, b};
  caf::anon_send(caf::actor_cast<view_listener>(replicator), view_atom::value,
                 v);
  run();
  auto rh = self->request(replicator, caf::infinite, load_atom::value,
                          std::string{"u"});
  run();
  CHECK(self->mailbox().empty());
  advance(timeout);
  user_record r;
  rh.receive([&](user_record& x) { r = x; }, [](caf::error&) {});
  CHECK(r.last_seen == 100);
}

TEST_CASE_METHOD(replicated,
                 "replicator: last_seen and profile writes "
                 "answer from the replicas that answered") {
  stores["b"]->failing = true;
  auto seen = ask<user_record>(replicator, last_seen_atom::value,
                               std::string{"u"}, millis{42});
  REQUIRE(seen);
  CHECK(seen->last_seen == 42);
  profile p;
  p.name = "n";
  auto put = ask<profile>(replicator, put_atom::value, profile_atom::value,
                          std::string{"u"}, p, uint8_t{profile_name});
  REQUIRE(put);
  CHECK(put->name == "n");
  CHECK(stores["a"]->profile_writes.size() == 1);
}

TEST_CASE_METHOD(replicated,
                 "replicator: history is the union of the "
                 "replicas'") {
  stores["a"]->history["u"] = {{300, 310}, {100, 150}};
  stores["b"]->history["u"] = {{200, 250}, {100, 180}};
  auto h = ask<std::vector<session_record>>(replicator, history_atom::value,
                                            std::string{"u"}, uint32_t{10});
  REQUIRE(h);
  REQUIRE(h->size() == 3);
  CHECK((*h)[0].start == 300);
  CHECK((*h)[1].start == 200);
  CHECK((*h)[2].start == 100);
  CHECK((*h)[2].end == 180);
}

TEST_CASE_METHOD(replicated,
                 "replicator: a profile read takes the first "
                 "known, and unknown when none answered") {
  profile p;
  p.known = true;
  p.name = "from b";
  stores["b"]->profiles["u"] = p;
  auto got = ask<profile>(replicator, get_atom::value, profile_atom::value,
                          std::string{"u"});
  REQUIRE(got);
  CHECK(got->name == "from b");
  stores["a"]->failing = true;
  stores["b"]->failing = true;
  got = ask<profile>(replicator, get_atom::value, profile_atom::value,
                     std::string{"u"});
  REQUIRE(got);
  CHECK_FALSE(got->known);
}

TEST_CASE_METHOD(replicated,
                 "replicator: a batch load merges every "
                 "replica, in the order asked") {
  stores["a"]->records["x"] = stored(true, 10, 1);
  stores["b"]->records["x"] = stored(true, 20, 1);
  stores["b"]->records["y"] = stored(true, 30, 4);
  auto rs = ask<std::vector<user_record>>(replicator, load_atom::value,
                                          std::vector<std::string>{"y", "x",
                                                                   "z"});
  REQUIRE(rs);
  REQUIRE(rs->size() == 3);
  CHECK((*rs)[0].user_id == "y");
  CHECK((*rs)[0].last_seen == 30);
  CHECK((*rs)[1].user_id == "x");
  CHECK((*rs)[1].last_seen == 20);
  CHECK((*rs)[2].user_id == "z");
  CHECK_FALSE((*rs)[2].known);
}

TEST_CASE_METHOD(replicated,
                 "replicator: a batch load fails when a user's replicas all "
                 "fail (never 'never seen' for an unread user)") {
  stores["b"]->records["x"] = stored(true, 20, 1);
  // One replica of each user answers: the batch is whole.
  stores["a"]->failing = true;
  auto rs = ask<std::vector<user_record>>(replicator, load_atom::value,
                                          std::vector<std::string>{"x"});
  REQUIRE(rs);
  REQUIRE(rs->size() == 1);
  CHECK((*rs)[0].last_seen == 20);
  // None does: an error, not an unknown user.
  stores["b"]->failing = true;
  rs = ask<std::vector<user_record>>(replicator, load_atom::value,
                                     std::vector<std::string>{"x"});
  CHECK_FALSE(rs);
}

TEST_CASE_METHOD(replicated,
                 "replicator: batch reads of no ids answer at "
                 "once") {
  auto rs = ask<std::vector<user_record>>(replicator, load_atom::value,
                                          std::vector<std::string>{});
  REQUIRE(rs);
  CHECK(rs->empty());
  auto ps = ask<std::vector<profile>>(replicator, get_atom::value,
                                      profile_atom::value,
                                      std::vector<std::string>{});
  REQUIRE(ps);
  CHECK(ps->empty());
}

TEST_CASE(
  "replicator: batch profiles come from each id's owner, in the "
  "order asked") {
  replicated f{{"a", "b", "c"}};
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back("user-" + std::to_string(i));
  auto ps = f.ask<std::vector<profile>>(f.replicator, get_atom::value,
                                        profile_atom::value, ids);
  REQUIRE(ps);
  REQUIRE(ps->size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    CHECK((*ps)[i].name == f.replicas_of(ids[i]).front() + ":" + ids[i]);
  // An owner that fails leaves its ids unknown; the others still answer.
  f.stores["b"]->failing = true;
  ps = f.ask<std::vector<profile>>(f.replicator, get_atom::value,
                                   profile_atom::value, ids);
  REQUIRE(ps);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto owner = f.replicas_of(ids[i]).front();
    CHECK((*ps)[i].known == (owner != "b"));
  }
}
