#include <catch2/catch.hpp>

#include <set>

#include "cluster/repairer.hpp"
#include "core/hash_ring.hpp"
#include "tests/cluster/test_fixture.hpp"

// The replica repairer of node "a" in front of fake stores ("a" its own, "b"
// and "c" the members'): which keys it copies where after the member set
// changes, once each, and what an unfinished pass does. Replication 2.

using namespace presence;
using namespace presence::test;
using namespace std::chrono_literals;

namespace {

struct repairing : fixture {
  std::map<std::string, std::shared_ptr<fake_store_data>> stores;
  std::map<std::string, store_api> handles;
  caf::actor repairer;
  cluster_config ccfg;
  std::shared_ptr<store_stats> probe = std::make_shared<store_stats>();
  std::vector<std::string> users;

  repairing() {
    ccfg.replication = 2;
    for (auto n : {"a", "b", "c"}) {
      auto d = std::make_shared<fake_store_data>();
      d->name = n;
      stores[n] = d;
      handles[n] = sys.spawn(fake_store, d);
    }
    // "a" holds 60 users.
    for (int i = 0; i < 60; ++i) {
      auto u = "user-" + std::to_string(i);
      users.push_back(u);
      auto& r = stores["a"]->records[u];
      r.known = true;
      r.last_seen = 1'000 + i;
      r.version = 1;
    }
    repairer = cluster::spawn_repairer(sys, ccfg, 100ms, handles["a"],
                                       membership_api{}, probe);
  }

  void view(std::vector<std::string> nodes) {
    cluster_view v;
    v.self = "a";
    for (auto& n : nodes) {
      member_info m;
      m.node_id = n;
      m.store = handles[n];
      v.members.push_back(m);
    }
    caf::anon_send(caf::actor_cast<view_listener>(repairer), view_atom::value,
                   v);
    settle();
  }

  /// Lets simulated time pass until the repairer is done (its pages wait
  /// out the rate, its retries 3 s).
  void settle() {
    for (int i = 0; i < 50; ++i)
      advance(100ms);
  }

  std::vector<std::string> replicas(std::vector<std::string> nodes,
                                    const std::string& u) {
    return hash_ring::of(nodes, ccfg.vnodes).replicas(u, 2);
  }

  std::set<std::string> copied_to(const std::string& node) {
    std::set<std::string> out;
    for (auto& b : stores[node]->repairs)
      out.insert(b.key);
    return out;
  }
};

} // namespace

TEST_CASE_METHOD(repairing,
                 "repairer: after a member dies, each key it held goes to "
                 "its new replica once, from the first surviving holder") {
  view({"a", "b", "c"}); // the first view: nothing to repair
  CHECK(stores["c"]->repairs.empty());
  CHECK(probe->repair_passes == 0);
  view({"a", "c"});
  // Keys whose replicas were a and b now live on a and c: a copies them to
  // c. Keys b shared with c are c's to copy; keys on a and c moved nowhere.
  std::set<std::string> expected;
  for (auto& u : users) {
    auto before = replicas({"a", "b", "c"}, u);
    if (std::find(before.begin(), before.end(), "b") != before.end()
        && std::find(before.begin(), before.end(), "a") != before.end())
      expected.insert(u);
  }
  REQUIRE_FALSE(expected.empty());
  REQUIRE(expected.size() < users.size());
  CHECK(copied_to("c") == expected);
  CHECK(stores["c"]->repairs.size() == expected.size()); // once each
  CHECK(stores["b"]->repairs.empty());
  // What was copied is what "a" holds.
  for (auto& b : stores["c"]->repairs) {
    CHECK(b.seen);
    CHECK(b.last_seen == stores["a"]->records[b.key].last_seen);
  }
  CHECK(probe->repair_copies == expected.size());
  CHECK(probe->repair_passes == 1);
  CHECK(probe->repair_running == 0);
  // The same member set again: nothing more to copy.
  view({"a", "c"});
  CHECK(stores["c"]->repairs.size() == expected.size());
}

TEST_CASE_METHOD(repairing,
                 "repairer: a member coming back gets the keys it holds "
                 "again; a failed copy makes the pass run again") {
  view({"a", "c"});
  stores["b"]->failing = true;
  view({"a", "b", "c"});
  // Every copy to b failed: the pass is unfinished and runs again.
  CHECK(probe->repair_failures > 0);
  CHECK(probe->repair_passes == 0);
  CHECK(stores["b"]->repairs.empty());
  stores["b"]->failing = false;
  settle();
  std::set<std::string> expected;
  for (auto& u : users) {
    auto before = replicas({"a", "c"}, u);
    auto after = replicas({"a", "b", "c"}, u);
    // a is a former replica of every key (two members, two copies), and
    // the first one alive where it comes first.
    if (std::find(after.begin(), after.end(), "b") != after.end()
        && before.front() == "a")
      expected.insert(u);
  }
  REQUIRE_FALSE(expected.empty());
  CHECK(copied_to("b") == expected);
  CHECK(probe->repair_passes == 1);
}

TEST_CASE_METHOD(repairing, "repairer: --repair-rate 0 copies nothing") {
  ccfg.repair_rate = 0;
  repairer = cluster::spawn_repairer(sys, ccfg, 100ms, handles["a"],
                                     membership_api{}, probe);
  view({"a", "b", "c"});
  view({"a", "c"});
  CHECK(stores["c"]->repairs.empty());
  CHECK(probe->repair_passes == 0);
}
