// The one rule for who a client is (edge/common/identity), in both modes.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <string>

#include <jwt.h>

#include <nlohmann/json.hpp>

#include "edge/common/identity.hpp"
#include "tests/edge/jwt_signing.hpp"

using namespace presence;
using namespace presence::edge;

namespace {

const std::string secret = "identity-secret-0123456789";
const std::string dev; // no secret: dev mode
constexpr millis now_ms = 1'700'000'000'000;

std::string token_for(const std::string& sub, long exp = 0) {
  nlohmann::json claims{{"sub", sub}};
  if (exp != 0)
    claims["exp"] = exp;
  return test::sign_jwt(claims.dump(), JWT_ALG_HS256, secret);
}

client_identity resolve(const std::string& key, credentials c, bool required) {
  return resolve_identity(jwt_keys::hs256(key), now_ms, c, required);
}

} // namespace

TEST_CASE("dev mode: the claimed id, else the established one", "[identity]") {
  auto a = resolve(dev, {"", "alice", "bob"}, true);
  CHECK(a.ok());
  CHECK(a.user_id == "alice");
  CHECK_FALSE(a.verified);
  auto b = resolve(dev, {"", "", "bob"}, true);
  CHECK(b.user_id == "bob");
}

TEST_CASE("dev mode: tokens are ignored", "[identity]") {
  auto a = resolve(dev, {"not-a-jwt", "alice", ""}, true);
  CHECK(a.ok());
  CHECK(a.user_id == "alice");
}

TEST_CASE("dev mode: an invalid id or nobody at all", "[identity]") {
  CHECK(resolve(dev, {"", "has space", ""}, false).failure
        == identity_failure::invalid_id);
  CHECK(resolve(dev, {"", "", ""}, true).failure
        == identity_failure::missing_user);
  auto anonymous = resolve(dev, {"", "", ""}, false);
  CHECK(anonymous.ok());
  CHECK(anonymous.user_id.empty());
}

TEST_CASE("JWT mode: a valid token names the user", "[identity]") {
  auto a = resolve(secret, {token_for("alice"), "", ""}, true);
  REQUIRE(a.ok());
  CHECK(a.user_id == "alice");
  CHECK(a.verified);
  // The claimed id may repeat it.
  CHECK(resolve(secret, {token_for("alice"), "alice", ""}, true).ok());
}

TEST_CASE("JWT mode: a bad or expired token says why", "[identity]") {
  auto bad = resolve(secret, {"abc.def.ghi", "", ""}, true);
  CHECK(bad.failure == identity_failure::bad_token);
  CHECK(bad.code == "invalid_token");
  auto old = resolve(secret, {token_for("alice", 1'000), "", ""}, true);
  CHECK(old.failure == identity_failure::bad_token);
  CHECK(old.code == "token_expired");
}

TEST_CASE("JWT mode: without a token the established user stands",
          "[identity]") {
  auto a = resolve(secret, {"", "", "alice"}, true);
  REQUIRE(a.ok());
  CHECK(a.user_id == "alice");
  auto missing = resolve(secret, {"", "", ""}, true);
  CHECK(missing.failure == identity_failure::missing_token);
  CHECK(missing.code == "missing_token");
  CHECK_FALSE(missing.message.empty());
  auto anonymous = resolve(secret, {"", "", ""}, false);
  CHECK(anonymous.ok());
  CHECK(anonymous.user_id.empty());
}

TEST_CASE("JWT mode: nobody may act as someone else", "[identity]") {
  // A claimed id other than the token's user.
  CHECK(resolve(secret, {token_for("alice"), "bob", ""}, true).failure
        == identity_failure::claim_mismatch);
  // ... or than the connection's.
  CHECK(resolve(secret, {"", "bob", "alice"}, true).failure
        == identity_failure::claim_mismatch);
  // A token for someone other than the connection's user.
  CHECK(resolve(secret, {token_for("bob"), "", "alice"}, true).failure
        == identity_failure::token_mismatch);
}

TEST_CASE("a request's token: the Authorization header before ?token=",
          "[identity]") {
  http_request req;
  parsed_target t;
  REQUIRE(parse_target("/ws?token=from-query&userId=u1", t));
  CHECK(request_token(req, t) == "from-query");
  req.authorization = "Bearer from-header";
  CHECK(request_token(req, t) == "from-header");
  CHECK(request_user(t) == "u1");
  parsed_target t2;
  REQUIRE(parse_target("/ws?user_id=u2", t2));
  CHECK(request_user(t2) == "u2");
}
