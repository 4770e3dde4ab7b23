// The REST route table (edge/rest/route_table): which handler answers,
// 404, 405 with Allow, CORS preflight.

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "edge/rest/route_table.hpp"

using namespace presence::edge;
using namespace presence::edge::rest;

namespace {

/// What the handlers saw (tests run one at a time).
std::vector<std::string> calls;

void online(const call_ptr&) {
  calls.push_back("online");
}

void user(const call_ptr& c) {
  calls.push_back("user:" + c->params.at(0));
}

void batch(const call_ptr&) {
  calls.push_back("batch");
}

void get_profile(const call_ptr& c) {
  calls.push_back("get_profile:" + c->params.at(0));
}

void put_profile(const call_ptr& c) {
  calls.push_back("put_profile:" + c->params.at(0));
}

void root(const call_ptr&) {
  calls.push_back("root");
}

route_table table() {
  route_table t;
  t.add("GET", "/", root);
  t.add("GET", "/api/user-status/online", online);
  t.add("POST", "/api/user-status/batch", batch);
  t.add("GET", "/api/user-status/:user", user);
  t.add("GET", "/api/users/:user/profile", get_profile);
  t.add("PUT", "/api/users/:user/profile", put_profile);
  return t;
}

/// Dispatches `method target`; returns the response if one was sent
/// directly (errors), else a 0 status.
http_response run(const std::string& method, const std::string& target) {
  calls.clear();
  auto c = std::make_shared<rest_call>();
  c->req.method = method;
  c->req.target = target;
  REQUIRE(parse_target(target, c->target));
  http_response out;
  out.status = 0;
  c->done = [&](http_response r) { out = std::move(r); };
  table().dispatch(c);
  return out;
}

std::string header(const http_response& r, const std::string& name) {
  for (auto& [k, v] : r.headers)
    if (k == name)
      return v;
  return {};
}

} // namespace

TEST_CASE("a literal segment wins over a capture", "[route_table]") {
  run("GET", "/api/user-status/online");
  CHECK(calls == std::vector<std::string>{"online"});
  run("GET", "/api/user-status/u-1");
  CHECK(calls == std::vector<std::string>{"user:u-1"});
}

TEST_CASE("a literal path answers 405 rather than falling to a capture",
          "[route_table]") {
  auto r = run("GET", "/api/user-status/batch");
  CHECK(calls.empty());
  CHECK(r.status == 405);
  CHECK(header(r, "Allow") == "POST");
}

TEST_CASE("405 names every method of the path, in order", "[route_table]") {
  auto r = run("DELETE", "/api/users/ann/profile");
  CHECK(r.status == 405);
  CHECK(header(r, "Allow") == "GET, PUT");
  CHECK(r.body.find("\"method_not_allowed\"") != std::string::npos);
  run("PUT", "/api/users/ann/profile");
  CHECK(calls == std::vector<std::string>{"put_profile:ann"});
}

TEST_CASE("unknown paths are 404 with the JSON error", "[route_table]") {
  auto r = run("GET", "/api/nothing-here");
  CHECK(r.status == 404);
  CHECK(r.body.find("\"not_found\"") != std::string::npos);
  CHECK(run("GET", "/api/users/ann").status == 404);
  CHECK(run("GET", "/api/users/ann/profile/more").status == 404);
}

TEST_CASE("OPTIONS is a preflight on any path", "[route_table]") {
  CHECK(run("OPTIONS", "/api/user-status/online").status == 204);
  CHECK(run("OPTIONS", "/nowhere").status == 204);
  CHECK(calls.empty());
}

TEST_CASE("the root and trailing slashes", "[route_table]") {
  run("GET", "/");
  CHECK(calls == std::vector<std::string>{"root"});
  run("GET", "/api/user-status/online/");
  CHECK(calls == std::vector<std::string>{"online"});
}

TEST_CASE("captures are percent-decoded segments", "[route_table]") {
  run("GET", "/api/user-status/a%2Fb");
  CHECK(calls == std::vector<std::string>{"user:a/b"});
}
