// Outgoing webhooks (edge/webhooks): URLs, the signature, the body. The
// sending itself is tested end to end (tests/e2e/webhooks.test.mjs).

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "edge/webhooks/webhooks.hpp"

using namespace presence;
using namespace presence::edge;

TEST_CASE("webhook URLs: http or https, host, port and path", "[webhooks]") {
  http_url u;
  REQUIRE(parse_http_url("http://127.0.0.1:9000/hooks/presence?x=1", u));
  CHECK_FALSE(u.tls);
  CHECK(u.host == "127.0.0.1");
  CHECK(u.port == "9000");
  CHECK(u.target == "/hooks/presence?x=1");
  REQUIRE(parse_http_url("http://example.com", u));
  CHECK(u.host == "example.com");
  CHECK(u.port == "80");
  CHECK(u.target == "/");
  REQUIRE(parse_http_url("https://hooks.example.com/in", u));
  CHECK(u.tls);
  CHECK(u.host == "hooks.example.com");
  CHECK(u.port == "443");
  CHECK(u.target == "/in");
  REQUIRE(parse_http_url("https://localhost:8443", u));
  CHECK(u.port == "8443");
  CHECK(u.target == "/");
  for (auto bad :
       {"ftp://x/", "http://", "https://", "http://:80/", "http://h:/",
        "http://h:99999/", "http://h:8x/", "http://user@h/", "http://h/a b",
        "example.com", "https//x/", "HTTPS://x/"}) {
    http_url x;
    CHECK_FALSE(parse_http_url(bad, x));
  }
}

TEST_CASE("the signature is HMAC-SHA256 in hex (RFC 4231, case 2)",
          "[webhooks]") {
  CHECK(webhook_signature("Jefe", "what do ya want for nothing?")
        == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964"
           "ec3843");
}

TEST_CASE("the body names the event, the state and the idempotency key",
          "[webhooks]") {
  presence_delta d;
  d.user_id = "ann";
  d.online = true;
  d.status = presence_status::busy;
  d.version = 1796000000000;
  d.last_seen = 1796000000000;
  CHECK(std::string{webhook_event(d, false)} == "user.online");
  CHECK(std::string{webhook_event(d, true)} == "user.status");
  auto j = nlohmann::json::parse(webhook_body(d, false));
  CHECK(j["event"] == "user.online");
  CHECK(j["userId"] == "ann");
  CHECK(j["isOnline"] == true);
  CHECK(j["status"] == "busy");
  CHECK(j["version"] == 1796000000000);
  CHECK(j["idempotencyKey"] == "ann:1796000000000");
  CHECK(j["statusText"].is_null());
  d.online = false;
  d.status = presence_status::offline;
  CHECK(std::string{webhook_event(d, true)} == "user.offline");
}
