// The per-connection token bucket (edge/transport/rate_limiter.hpp), driven
// by explicit time points: no sleeps. Every time point is taken after the
// limiter was made (it starts its clock at construction) and moves forward.

#include <catch2/catch.hpp>

#include <chrono>

#include "edge/transport/rate_limiter.hpp"

using presence::edge::rate_limiter;
using namespace std::chrono_literals;

namespace {

/// How many tokens `l` grants at `t` before refusing (at most `cap`).
int drain(rate_limiter& l, rate_limiter::clock::time_point t,
          int cap = 10'000) {
  int n = 0;
  while (n < cap && l.try_take(t))
    ++n;
  return n;
}

} // namespace

TEST_CASE("a full bucket grants the burst, then refuses", "[rate_limiter]") {
  rate_limiter l{1.0, 5.0};
  auto t0 = rate_limiter::clock::now();
  for (int i = 0; i < 5; ++i) {
    INFO("token " << i);
    CHECK(l.try_take(t0));
  }
  CHECK_FALSE(l.try_take(t0));
  CHECK_FALSE(l.try_take(t0)); // refusing takes nothing and gives nothing
  CHECK(drain(l, t0) == 0);
}

TEST_CASE("the default burst of the config: 100 at 50/s", "[rate_limiter]") {
  rate_limiter l{50.0, 100.0};
  auto t0 = rate_limiter::clock::now();
  CHECK(drain(l, t0) == 100);
  CHECK(drain(l, t0 + 1s) == 50);
}

TEST_CASE("tokens come back at the rate", "[rate_limiter]") {
  rate_limiter l{4.0, 1.0}; // one token per 250 ms
  auto t0 = rate_limiter::clock::now();
  REQUIRE(l.try_take(t0));
  CHECK_FALSE(l.try_take(t0 + 200ms)); // 0.8 of a token
  CHECK(l.try_take(t0 + 300ms));       // 1.2 -> capped at 1, taken
  CHECK_FALSE(l.try_take(t0 + 500ms)); // 0.8
  CHECK(l.try_take(t0 + 600ms));
}

TEST_CASE("over a long run the bucket grants rate x time", "[rate_limiter]") {
  rate_limiter l{10.0, 3.0};
  auto t0 = rate_limiter::clock::now();
  CHECK(drain(l, t0) == 3);
  // A client trying every millisecond for 10 s gets 10/s, not more.
  int granted = 0;
  for (int ms = 1; ms <= 10'000; ++ms)
    granted += l.try_take(t0 + std::chrono::milliseconds(ms)) ? 1 : 0;
  CHECK(granted >= 99);
  CHECK(granted <= 100);
}

TEST_CASE("the bucket never holds more than the burst", "[rate_limiter]") {
  rate_limiter l{100.0, 5.0};
  auto t0 = rate_limiter::clock::now();
  CHECK(drain(l, t0) == 5);
  // An hour idle at 100/s would be 360,000 tokens: the burst caps it.
  CHECK(drain(l, t0 + 1h) == 5);
  // A partly refilled bucket: 35 ms at 100/s is 3.5 tokens.
  CHECK(drain(l, t0 + 1h + 35ms) == 3);
  // Idle long enough to fill again, not beyond.
  CHECK(drain(l, t0 + 1h + 10s) == 5);
}

TEST_CASE("fractional rates", "[rate_limiter]") {
  SECTION("one token every two seconds") {
    rate_limiter l{0.5, 1.0};
    auto t0 = rate_limiter::clock::now();
    REQUIRE(l.try_take(t0));
    CHECK_FALSE(l.try_take(t0 + 1s));
    CHECK_FALSE(l.try_take(t0 + 1900ms));
    CHECK(l.try_take(t0 + 2100ms));
    CHECK_FALSE(l.try_take(t0 + 2200ms));
  }
  SECTION("2.5 tokens per second") {
    rate_limiter l{2.5, 10.0};
    auto t0 = rate_limiter::clock::now();
    CHECK(drain(l, t0) == 10);
    CHECK(drain(l, t0 + 2s) == 5);
    CHECK(drain(l, t0 + 2s + 500ms) == 1); // 1.25 tokens
    CHECK(drain(l, t0 + 2s + 900ms) == 1); // 0.25 + 1.0
  }
  SECTION("a fractional burst grants whole tokens only") {
    rate_limiter l{1.0, 2.5};
    auto t0 = rate_limiter::clock::now();
    CHECK(drain(l, t0) == 2);
    CHECK(drain(l, t0 + 1h) == 2);
  }
  SECTION("a slow rate of one per minute") {
    rate_limiter l{1.0 / 60.0, 1.0};
    auto t0 = rate_limiter::clock::now();
    REQUIRE(l.try_take(t0));
    CHECK_FALSE(l.try_take(t0 + 59s));
    CHECK(l.try_take(t0 + 61s));
  }
}

TEST_CASE("refused attempts do not delay the refill", "[rate_limiter]") {
  rate_limiter l{1.0, 1.0};
  auto t0 = rate_limiter::clock::now();
  REQUIRE(l.try_take(t0));
  // Hammering while empty: the time in between still counts.
  for (int ms = 100; ms < 1000; ms += 100)
    CHECK_FALSE(l.try_take(t0 + std::chrono::milliseconds(ms)));
  CHECK(l.try_take(t0 + 1001ms));
}
