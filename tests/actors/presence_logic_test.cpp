#include <catch2/catch.hpp>

#include "actors/presence_logic.hpp"

using namespace presence;
using namespace presence::actors;

TEST_CASE("aggregate: no devices is offline") {
  CHECK(aggregate({}) == presence_status::offline);
}

TEST_CASE("aggregate: dnd beats busy beats online beats away") {
  using s = presence_status;
  CHECK(aggregate({s::away}) == s::away);
  CHECK(aggregate({s::away, s::online}) == s::online);
  CHECK(aggregate({s::online, s::busy, s::away}) == s::busy);
  CHECK(aggregate({s::busy, s::dnd, s::online}) == s::dnd);
  CHECK(aggregate({s::online, s::away}) == s::online);
}

TEST_CASE(
  "combine: invisible hides the user unless another device chose to "
  "show") {
  using s = presence_status;
  CHECK(combine({}) == s::offline);
  CHECK(combine({{s::busy, true}, {s::away, false}}) == s::busy);
  CHECK(combine({{s::invisible, true}}) == s::invisible);
  // A device that merely joined (online, not chosen) or turned away by
  // itself does not reveal the user.
  CHECK(combine({{s::invisible, true}, {s::online, false}}) == s::invisible);
  CHECK(combine({{s::away, false}, {s::invisible, true}}) == s::invisible);
  // A visible status chosen on another device shows, without the invisible
  // device in the aggregate.
  CHECK(combine({{s::invisible, true}, {s::away, true}}) == s::away);
  CHECK(combine({{s::invisible, true}, {s::online, false}, {s::busy, true}})
        == s::busy);
}

TEST_CASE("next_version grows past both the previous version and the clock") {
  CHECK(next_version(0, 1000) == 1000);
  CHECK(next_version(1000, 1000) == 1001);
  CHECK(next_version(5000, 1000) == 5001);
  CHECK(next_version(7, -5) == 8);
}

TEST_CASE("ttl_remaining counts down to expiry") {
  CHECK(ttl_remaining(1000, 90'000, 1000) == 90'000);
  CHECK(ttl_remaining(1000, 90'000, 91'000) == 0);
  CHECK(ttl_remaining(1000, 90'000, 95'000) < 0);
}

TEST_CASE("status names round-trip, offline and junk are not settable") {
  for (auto st : {presence_status::online, presence_status::away,
                  presence_status::busy, presence_status::dnd}) {
    presence_status out = presence_status::offline;
    REQUIRE(parse_status(status_name(st), out));
    CHECK(out == st);
  }
  presence_status out;
  CHECK_FALSE(parse_status("offline", out));
  CHECK_FALSE(parse_status("Online", out));
  CHECK_FALSE(parse_status("", out));
}
