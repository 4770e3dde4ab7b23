#include <catch2/catch.hpp>

#include "cluster/router.hpp"
#include "core/hash_ring.hpp"
#include "tests/cluster/test_fixture.hpp"

// The router of node "a" in front of fake registries: its own ("a") and
// those of members "b" and "c".

using namespace presence;
using namespace presence::test;
using namespace std::chrono_literals;

namespace {

constexpr auto timeout = 100ms;

presence_delta online(const std::string& id) {
  presence_delta d;
  d.user_id = id;
  d.online = true;
  d.status = presence_status::online;
  return d;
}

struct routed : fixture {
  std::map<std::string, std::shared_ptr<fake_registry_data>> registries;
  presence_api router;
  cluster_config ccfg;

  /// A router on "a" with the members `nodes` (including "a").
  explicit routed(std::vector<std::string> nodes = {"a", "b", "c"}) {
    cluster_view v;
    v.version = 1;
    v.self = "a";
    presence_api local;
    uint64_t id = 0;
    for (auto& n : nodes) {
      auto d = std::make_shared<fake_registry_data>();
      d->id = ++id;
      registries[n] = d;
      member_info m;
      m.node_id = n;
      m.registry = sys.spawn(fake_registry, d);
      if (n == "a")
        local = m.registry;
      v.members.push_back(m);
    }
    router = cluster::spawn_router(sys, ccfg, timeout, local, membership_api{});
    if (nodes.size() > 1)
      caf::anon_send(caf::actor_cast<view_listener>(router), view_atom::value,
                     v);
    run();
  }

  std::string owner_of(const std::string& user) {
    std::vector<std::string> nodes;
    for (auto& kvp : registries)
      nodes.push_back(kvp.first);
    return hash_ring::of(nodes, ccfg.vnodes).owner(user);
  }

  void put_online(const std::string& node, const std::string& user) {
    registries[node]->online[user] = online(user);
  }
};

std::vector<std::string> ids_of(const online_page& p) {
  std::vector<std::string> out;
  for (auto& u : p.users)
    out.push_back(u.user_id);
  return out;
}

} // namespace

TEST_CASE_METHOD(routed, "router: the count is every member's, summed") {
  put_online("a", "a1");
  put_online("b", "b1");
  put_online("b", "b2");
  put_online("c", "c1");
  auto n = ask<uint64_t>(router, count_atom::value, viewer::everything());
  REQUIRE(n);
  CHECK(*n == 4);
}

TEST_CASE_METHOD(routed, "router: a member failing fails the count") {
  put_online("a", "a1");
  registries["c"]->failing = true;
  auto n = ask<uint64_t>(router, count_atom::value, viewer::everything());
  REQUIRE_FALSE(n);
  CHECK(presence_code(n.error()) == errc::shutting_down);
}

TEST_CASE_METHOD(routed, "router: the online list pages across members") {
  for (auto u : {"u1", "u4", "u7"})
    put_online("a", u);
  for (auto u : {"u2", "u5"})
    put_online("b", u);
  for (auto u : {"u3", "u6"})
    put_online("c", u);
  auto p1 = ask<online_page>(router, list_atom::value, std::string{},
                             uint32_t{3}, viewer::everything());
  REQUIRE(p1);
  CHECK(ids_of(*p1) == std::vector<std::string>{"u1", "u2", "u3"});
  CHECK(p1->total == 7);
  CHECK(p1->next_cursor == "u3");
  auto p2 = ask<online_page>(router, list_atom::value, p1->next_cursor,
                             uint32_t{3}, viewer::everything());
  REQUIRE(p2);
  CHECK(ids_of(*p2) == std::vector<std::string>{"u4", "u5", "u6"});
  CHECK(p2->next_cursor == "u6");
  auto p3 = ask<online_page>(router, list_atom::value, p2->next_cursor,
                             uint32_t{3}, viewer::everything());
  REQUIRE(p3);
  CHECK(ids_of(*p3) == std::vector<std::string>{"u7"});
  CHECK(p3->next_cursor.empty());
}

TEST_CASE_METHOD(routed, "router: a member failing fails the list") {
  put_online("a", "u1");
  registries["b"]->failing = true;
  auto p = ask<online_page>(router, list_atom::value, std::string{},
                            uint32_t{10}, viewer::everything());
  REQUIRE_FALSE(p);
  CHECK(presence_code(p.error()) == errc::shutting_down);
}

TEST_CASE_METHOD(routed,
                 "router: a batch get asks each owner and answers "
                 "in the order asked") {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back("user-" + std::to_string(i));
  auto out = ask<std::vector<user_status>>(router, get_atom::value, ids);
  REQUIRE(out);
  REQUIRE(out->size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    CHECK((*out)[i].user_id == ids[i]);
    CHECK((*out)[i].version == registries[owner_of(ids[i])]->id);
  }
}

TEST_CASE_METHOD(routed, "router: an owner failing fails the batch get") {
  std::vector<std::string> ids;
  for (int i = 0; i < 12; ++i)
    ids.push_back("user-" + std::to_string(i));
  registries["c"]->failing = true;
  auto out = ask<std::vector<user_status>>(router, get_atom::value, ids);
  REQUIRE_FALSE(out);
  CHECK(presence_code(out.error()) == errc::shutting_down);
}

TEST_CASE_METHOD(routed,
                 "router: a batch get of one owner's users and of "
                 "nobody") {
  std::vector<std::string> ids;
  for (int i = 0; ids.size() < 3; ++i) {
    auto id = "user-" + std::to_string(i);
    if (owner_of(id) == "b")
      ids.push_back(id);
  }
  auto out = ask<std::vector<user_status>>(router, get_atom::value, ids);
  REQUIRE(out);
  REQUIRE(out->size() == 3);
  for (auto& s : *out)
    CHECK(s.version == registries["b"]->id);
  auto none = ask<std::vector<user_status>>(router, get_atom::value,
                                            std::vector<std::string>{});
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("router: alone, everything goes to the local registry") {
  routed f{{"a"}};
  f.put_online("a", "u1");
  auto n = f.ask<uint64_t>(f.router, count_atom::value, viewer::everything());
  REQUIRE(n);
  CHECK(*n == 1);
  auto p = f.ask<online_page>(f.router, list_atom::value, std::string{},
                              uint32_t{10}, viewer::everything());
  REQUIRE(p);
  CHECK(ids_of(*p) == std::vector<std::string>{"u1"});
  auto s = f.ask<user_status>(f.router, get_atom::value, std::string{"x"});
  REQUIRE(s);
  CHECK(s->version == f.registries["a"]->id);
}
