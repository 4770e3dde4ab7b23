// The change log behind resync (actors/change_log.hpp): latest change per
// user, ordered by version, bounded, and honest about what it lost.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "actors/change_log.hpp"

using namespace presence;
using presence::actors::change_log;

namespace {

presence_delta change(const std::string& user, uint64_t version,
                      bool online = true) {
  presence_delta d;
  d.user_id = user;
  d.version = version;
  d.online = online;
  return d;
}

std::vector<std::string> users(const change_page& p) {
  std::vector<std::string> out;
  for (auto& d : p.changes)
    out.push_back(d.user_id + "@" + std::to_string(d.version));
  return out;
}

auto all = [](const std::string&) { return true; };

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("the change log gives the latest change of each user since a cursor",
          "[change_log]") {
  change_log log{100, 1000};
  log.add(change("ann", 1001));
  log.add(change("bob", 1002));
  log.add(change("ann", 1003, false));
  // An older change arriving late (another node) does not replace a newer.
  log.add(change("bob", 1000));
  CHECK(log.cursor() == 1003);
  auto p = log.since(1000, 10, all);
  CHECK(p.complete);
  CHECK(users(p) == strings{"bob@1002", "ann@1003"});
  CHECK_FALSE(p.changes[1].online);
  CHECK(users(log.since(1002, 10, all)) == strings{"ann@1003"});
  CHECK(log.since(1003, 10, all).changes.empty());
  CHECK(log.since(1003, 10, all).complete);
  // Only what the caller follows.
  auto bob = log.since(1000, 10,
                       [](const std::string& u) { return u == "bob"; });
  CHECK(users(bob) == strings{"bob@1002"});
  // Before the log begins (the node's start): incomplete.
  CHECK_FALSE(log.since(999, 10, all).complete);
  // More than the limit: incomplete, nothing half.
  auto few = log.since(1000, 1, all);
  CHECK_FALSE(few.complete);
  CHECK(few.changes.empty());
}

TEST_CASE("the change log drops its oldest users and says so", "[change_log]") {
  change_log log{2, 0};
  log.add(change("a", 10));
  log.add(change("b", 20));
  log.add(change("c", 30)); // a goes
  CHECK(log.size() == 2);
  auto p = log.since(5, 10, all);
  CHECK_FALSE(p.complete);
  CHECK(p.oldest == 10);
  CHECK(users(log.since(10, 10, all)) == strings{"b@20", "c@30"});
  // A user changing again moves to the newest end (b stays, c goes next).
  log.add(change("b", 40));
  log.add(change("d", 50));
  CHECK(users(log.since(30, 10, all)) == strings{"b@40", "d@50"});
  CHECK_FALSE(log.since(29, 10, all).complete);
}

TEST_CASE("the change log keeps changes for its max age at most, and says so",
          "[change_log]") {
  change_log log{100, 0, 1000};
  log.add(change("a", 10'000), 10'000);
  log.add(change("b", 10'500), 10'500);
  // Nothing old enough yet: both stay.
  log.add(change("c", 10'999), 10'999);
  CHECK(log.size() == 3);
  CHECK(log.since(9'000, 10, all).complete);
  // At 11'001, a (10'000) is older than 1000 ms: it goes, and a cursor
  // from before it gets "may be missing".
  log.add(change("d", 11'001), 11'001);
  CHECK(log.size() == 3);
  auto p = log.since(9'000, 10, all);
  CHECK_FALSE(p.complete);
  CHECK(p.oldest == 10'000);
  CHECK(users(log.since(10'000, 10, all))
        == strings{"b@10500", "c@10999", "d@11001"});
  // A user who changes again is kept from their new change on.
  log.add(change("b", 11'400), 11'400);
  log.add(change("e", 12'000), 12'000); // c (10'999) goes; b stays
  CHECK(users(log.since(10'999, 10, all))
        == strings{"d@11001", "b@11400", "e@12000"});
  // Without a clock (now = 0) nothing goes by age.
  log.add(change("f", 12'100));
  CHECK(log.size() == 4);
  // A long quiet spell: the next change empties the log of the rest.
  log.add(change("g", 60'000), 60'000);
  CHECK(users(log.since(12'100, 10, all)) == strings{"g@60000"});
  CHECK(log.size() == 1);
  CHECK(log.cursor() == 60'000);
  // A quiet log ages too when asked (the fan-out expires before it
  // answers a resync): g goes, and a cursor from before it is answered
  // "may be missing"; one from g on is complete (nothing changed since).
  log.expire(60'900);
  CHECK(log.size() == 1);
  log.expire(61'001);
  CHECK(log.size() == 0);
  CHECK_FALSE(log.since(59'999, 10, all).complete);
  CHECK(log.since(60'000, 10, all).complete);
  CHECK(log.cursor() == 60'000);
}

TEST_CASE("the change log orders users changing in the same millisecond",
          "[change_log]") {
  change_log log{3, 0};
  log.add(change("zed", 5));
  log.add(change("amy", 5));
  log.add(change("kim", 5));
  CHECK(users(log.since(4, 10, all)) == strings{"amy@5", "kim@5", "zed@5"});
  // A change of a user at an equal version is not newer: kept as it was.
  log.add(change("kim", 5, false));
  CHECK(log.since(4, 10, all).changes[1].online);
  // The first in (version, id) order goes first.
  log.add(change("bob", 6));
  CHECK(log.size() == 3);
  CHECK_FALSE(log.since(4, 10, all).complete);
  CHECK(log.since(4, 10, all).oldest == 5);
  CHECK(users(log.since(5, 10, all)) == strings{"bob@6"});
  // The same user's newer change replaces the old entry (kim@5 and zed@5
  // stay, so the log is full: nothing else goes).
  log.add(change("zed", 7));
  CHECK(log.size() == 3);
  CHECK(users(log.since(5, 10, all)) == strings{"bob@6", "zed@7"});
  // Then kim@5, the oldest, goes first.
  log.add(change("amy", 8));
  CHECK(users(log.since(5, 10, all)) == strings{"bob@6", "zed@7", "amy@8"});
  CHECK(log.since(5, 10, all).complete);
}
