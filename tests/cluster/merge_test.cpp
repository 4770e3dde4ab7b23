#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "cluster/merge.hpp"

using namespace presence;
using namespace presence::cluster;

namespace {

presence_delta online(const std::string& id) {
  presence_delta d;
  d.user_id = id;
  d.online = true;
  d.status = presence_status::online;
  return d;
}

online_page page(std::vector<std::string> ids, uint64_t total,
                 std::string next_cursor = {}) {
  online_page p;
  for (auto& id : ids)
    p.users.push_back(online(id));
  p.total = total;
  p.next_cursor = std::move(next_cursor);
  return p;
}

std::vector<std::string> ids_of(const online_page& p) {
  std::vector<std::string> out;
  for (auto& u : p.users)
    out.push_back(u.user_id);
  return out;
}

user_record record(const std::string& id, bool known, millis last_seen,
                   uint64_t version) {
  user_record r;
  r.user_id = id;
  r.known = known;
  r.last_seen = last_seen;
  r.version = version;
  return r;
}

user_record open_record(const std::string& id, millis start, millis last_active,
                        presence_status status) {
  auto r = record(id, true, 0, 1);
  r.open = true;
  r.open_start = start;
  r.open_last_active = last_active;
  r.open_status = status;
  return r;
}

profile known_profile(const std::string& name) {
  profile p;
  p.known = true;
  p.name = name;
  return p;
}

} // namespace

// -- merge_pages --------------------------------------------------------------

TEST_CASE("merge_pages of no pages is an empty last page") {
  auto p = merge_pages({}, 10);
  CHECK(p.users.empty());
  CHECK(p.total == 0);
  CHECK(p.next_cursor.empty());
}

TEST_CASE("merge_pages of empty pages sums their totals only") {
  auto p = merge_pages({page({}, 0), page({}, 0)}, 10);
  CHECK(p.users.empty());
  CHECK(p.total == 0);
  CHECK(p.next_cursor.empty());
}

TEST_CASE("merge_pages merges in id order and sums totals") {
  auto p = merge_pages({page({"b", "d"}, 2), page({"a", "c", "e"}, 3)}, 10);
  CHECK(ids_of(p) == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(p.total == 5);
  CHECK(p.next_cursor.empty());
}

TEST_CASE("merge_pages truncates to the limit and sets the cursor") {
  auto p = merge_pages({page({"b", "d"}, 2), page({"a", "c"}, 2)}, 3);
  CHECK(ids_of(p) == std::vector<std::string>{"a", "b", "c"});
  CHECK(p.total == 4);
  CHECK(p.next_cursor == "c");
}

TEST_CASE("merge_pages at exactly the limit is the last page") {
  auto p = merge_pages({page({"b"}, 1), page({"a"}, 1)}, 2);
  CHECK(ids_of(p) == std::vector<std::string>{"a", "b"});
  CHECK(p.next_cursor.empty());
}

TEST_CASE("merge_pages sets the cursor when one member has more") {
  // Limit 2: member 1 sent its first two and has more; member 2 is done.
  auto p = merge_pages({page({"a", "c"}, 5, "c"), page({"b"}, 1)}, 2);
  CHECK(ids_of(p) == std::vector<std::string>{"a", "b"});
  CHECK(p.total == 6);
  CHECK(p.next_cursor == "b");
  // The member with more may also fit entirely into the merged page.
  auto q = merge_pages({page({"x", "y"}, 9, "y"), page({}, 0)}, 2);
  CHECK(ids_of(q) == std::vector<std::string>{"x", "y"});
  CHECK(q.next_cursor == "y");
}

TEST_CASE("merge_pages keeps a user listed by two members twice") {
  // A user caught between owners (a handover in flight) is reported by
  // both: the merge does not hide it, and the totals count it twice.
  auto first = page({"a", "b"}, 2);
  first.users[1].version = 1;
  auto second = page({"b", "c"}, 2);
  second.users[0].version = 2;
  auto p = merge_pages({first, second}, 10);
  CHECK(ids_of(p) == std::vector<std::string>{"a", "b", "b", "c"});
  CHECK(p.users[1].version == 1); // in the order the pages were given
  CHECK(p.users[2].version == 2);
  CHECK(p.total == 4);
}

TEST_CASE("merge_pages with limit 0 lists nobody and has no cursor") {
  auto p = merge_pages({page({"a"}, 1, "a")}, 0);
  CHECK(p.users.empty());
  CHECK(p.total == 1);
  CHECK(p.next_cursor.empty());
}

// -- merge_records ------------------------------------------------------------

TEST_CASE("merge_records of no records is an unknown user") {
  auto r = merge_records("u", {});
  CHECK(r.user_id == "u");
  CHECK_FALSE(r.known);
  CHECK(r.last_seen == 0);
  CHECK(r.version == 0);
  CHECK_FALSE(r.open);
}

TEST_CASE("merge_records takes known from any, last_seen and version max") {
  auto r = merge_records("u",
                         {record("u", false, 0, 0), record("u", true, 100, 3),
                          record("u", true, 50, 7)});
  CHECK(r.user_id == "u");
  CHECK(r.known);
  CHECK(r.last_seen == 100);
  CHECK(r.version == 7);
  CHECK_FALSE(r.open);
}

TEST_CASE("merge_records names the asked user whatever the records say") {
  auto r = merge_records("u", {record("other", true, 5, 1)});
  CHECK(r.user_id == "u");
}

TEST_CASE("merge_records keeps the open session with the latest activity") {
  auto r = merge_records("u", {open_record("u", 10, 20, presence_status::away),
                               record("u", true, 500, 9),
                               open_record("u", 30, 40, presence_status::busy),
                               open_record("u", 5, 35, presence_status::dnd)});
  CHECK(r.open);
  CHECK(r.open_start == 30);
  CHECK(r.open_last_active == 40);
  CHECK(r.open_status == presence_status::busy);
  CHECK(r.last_seen == 500);
  CHECK(r.version == 9);
}

TEST_CASE("merge_records keeps the first open session on a tie") {
  auto r = merge_records("u",
                         {open_record("u", 10, 40, presence_status::away),
                          open_record("u", 30, 40, presence_status::busy)});
  CHECK(r.open_start == 10);
  CHECK(r.open_status == presence_status::away);
}

TEST_CASE("merge_records: a closed record does not close an open one") {
  auto r = merge_records("u",
                         {record("u", true, 900, 5),
                          open_record("u", 10, 20, presence_status::online)});
  CHECK(r.open);
  CHECK(r.open_last_active == 20);
}

// -- merge_batch_records ------------------------------------------------------

TEST_CASE("merge_batch_records answers in the order asked, from all replies") {
  std::vector<std::vector<user_record>> replies{
    {record("a", true, 10, 1), record("b", true, 20, 2)},
    {record("b", true, 25, 1), record("c", false, 0, 0)},
  };
  auto rs = merge_batch_records({"c", "b", "a", "z"}, replies);
  REQUIRE(rs.size() == 4);
  CHECK(rs[0].user_id == "c");
  CHECK_FALSE(rs[0].known);
  CHECK(rs[1].user_id == "b");
  CHECK(rs[1].last_seen == 25);
  CHECK(rs[1].version == 2);
  CHECK(rs[2].user_id == "a");
  CHECK(rs[2].last_seen == 10);
  CHECK(rs[3].user_id == "z"); // nobody answered for it: unknown
  CHECK_FALSE(rs[3].known);
}

TEST_CASE("merge_batch_records counts the users no reply holds") {
  size_t unanswered = 9;
  merge_batch_records({"a", "b"}, {{record("a", true, 1, 1)}}, &unanswered);
  CHECK(unanswered == 1);
  merge_batch_records({"a"}, {{record("a", true, 1, 1)}}, &unanswered);
  CHECK(unanswered == 0);
}

TEST_CASE("merge_batch_records of no replies gives unknown users") {
  auto rs = merge_batch_records({"a", "a"}, {});
  REQUIRE(rs.size() == 2);
  CHECK(rs[0].user_id == "a");
  CHECK(rs[1].user_id == "a");
  CHECK_FALSE(rs[0].known);
  CHECK(merge_batch_records({}, {{record("a", true, 1, 1)}}).empty());
}

// -- merge_history ------------------------------------------------------------

TEST_CASE("merge_history of nothing is empty") {
  CHECK(merge_history({}, 10).empty());
  CHECK(merge_history({{}, {}}, 10).empty());
}

TEST_CASE("merge_history keeps one entry per start, the longest end") {
  auto h = merge_history(
    {{{100, 150}, {10, 20}}, {{100, 180}, {50, 60}}, {{100, 120}}}, 10);
  REQUIRE(h.size() == 3);
  CHECK(h[0].start == 100);
  CHECK(h[0].end == 180);
  CHECK(h[1].start == 50);
  CHECK(h[2].start == 10);
}

TEST_CASE("merge_history keeps the newest `limit` entries") {
  auto h = merge_history({{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}}, 3);
  REQUIRE(h.size() == 3);
  CHECK(h[0].start == 7);
  CHECK(h[1].start == 5);
  CHECK(h[2].start == 3);
  CHECK(merge_history({{{1, 2}}}, 0).empty());
}

TEST_CASE("merge_history: an entry still open (end 0) loses to a closed one") {
  auto h = merge_history({{{100, 0}}, {{100, 130}}}, 10);
  REQUIRE(h.size() == 1);
  CHECK(h[0].end == 130);
}

// -- first_known --------------------------------------------------------------

TEST_CASE("first_known takes the first known profile, in replica order") {
  auto p = first_known(
    {profile{}, known_profile("owner-behind"), known_profile("other")});
  CHECK(p.known);
  CHECK(p.name == "owner-behind");
}

TEST_CASE("first_known with none known is an unknown profile") {
  CHECK_FALSE(first_known({}).known);
  auto unknown = profile{};
  unknown.name = "stale field";
  auto p = first_known({unknown, profile{}});
  CHECK_FALSE(p.known);
  CHECK(p.name.empty());
}

// -- batches by owner ---------------------------------------------------------

TEST_CASE("group_by groups ids by key in order of first appearance") {
  std::vector<std::string> ids{"a1", "b1", "a2", "c1", "b2"};
  auto bs = group_by<std::string>(ids, [](const std::string& id) {
    return id.substr(0, 1);
  });
  REQUIRE(bs.size() == 3);
  CHECK(bs[0].key == "a");
  CHECK(bs[0].ids == std::vector<std::string>{"a1", "a2"});
  CHECK(bs[0].slots == std::vector<size_t>{0, 2});
  CHECK(bs[1].key == "b");
  CHECK(bs[1].slots == std::vector<size_t>{1, 4});
  CHECK(bs[2].key == "c");
  CHECK(bs[2].slots == std::vector<size_t>{3});
}

TEST_CASE("group_by of no ids has no batches") {
  auto bs = group_by<std::string>(std::vector<std::string>{},
                                  [](const std::string& id) { return id; });
  CHECK(bs.empty());
}

TEST_CASE("group_by keeps an id asked twice in both slots") {
  auto bs = group_by<std::string>(std::vector<std::string>{"x", "x"},
                                  [](const std::string&) { return "k"; });
  REQUIRE(bs.size() == 1);
  CHECK(bs[0].ids == std::vector<std::string>{"x", "x"});
  CHECK(bs[0].slots == std::vector<size_t>{0, 1});
}

TEST_CASE("group_by_each puts an id into every batch it names") {
  std::vector<std::string> ids{"u1", "u2"};
  auto bs = group_by_each<std::string>(ids, [](const std::string& id) {
    return id == "u1" ? std::vector<std::string>{"n1", "n2"}
                      : std::vector<std::string>{"n2", "n3"};
  });
  REQUIRE(bs.size() == 3);
  CHECK(bs[0].key == "n1");
  CHECK(bs[0].ids == std::vector<std::string>{"u1"});
  CHECK(bs[1].key == "n2");
  CHECK(bs[1].ids == std::vector<std::string>{"u1", "u2"});
  CHECK(bs[1].slots == std::vector<size_t>{0, 1});
  CHECK(bs[2].key == "n3");
  CHECK(bs[2].ids == std::vector<std::string>{"u2"});
}

TEST_CASE("ungroup puts replies back into the slots asked") {
  std::vector<std::string> ids{"a1", "b1", "a2"};
  auto bs = group_by<std::string>(ids, [](const std::string& id) {
    return id.substr(0, 1);
  });
  std::vector<std::optional<std::vector<std::string>>> replies{
    std::vector<std::string>{"A1", "A2"}, std::vector<std::string>{"B1"}};
  auto out = ungroup(bs, replies, ids.size());
  CHECK(out == std::vector<std::string>{"A1", "B1", "A2"});
}

TEST_CASE("ungroup leaves slots of failed or short replies default") {
  std::vector<std::string> ids{"a1", "b1", "a2", "b2"};
  auto bs = group_by<std::string>(ids, [](const std::string& id) {
    return id.substr(0, 1);
  });
  std::vector<std::optional<std::vector<std::string>>> replies{
    std::vector<std::string>{"A1"}, // short: a2 gets nothing
    std::nullopt,                   // b failed
  };
  auto out = ungroup(bs, replies, ids.size());
  CHECK(out == std::vector<std::string>{"A1", "", "", ""});
  // Extra items in a reply are dropped.
  std::vector<std::optional<std::vector<std::string>>> long_replies{
    std::vector<std::string>{"A1", "A2", "A3"},
    std::vector<std::string>{"B1", "B2"}};
  CHECK(ungroup(bs, long_replies, ids.size())
        == std::vector<std::string>{"A1", "B1", "A2", "B2"});
}

TEST_CASE("ungroup of nothing is n defaults") {
  std::vector<id_batch<std::string>> none;
  std::vector<std::optional<std::vector<int>>> replies;
  CHECK(ungroup(none, replies, 2) == std::vector<int>{0, 0});
}

TEST_CASE("offline queues of several replicas: each message once, in order") {
  auto m = [](std::string conv, uint64_t seq, millis at) {
    chat_message x;
    x.conversation_id = conv;
    x.seq = seq;
    x.id = conv + ":" + std::to_string(seq);
    x.created_at = at;
    return x;
  };
  // The owner has all three; a replica missed one and has them in its own
  // order of arrival.
  std::vector<std::vector<chat_message>> qs{
    {m("d1", 1, 100), m("d2", 1, 150), m("d1", 2, 200)},
    {m("d1", 2, 200), m("d1", 1, 100)},
    {},
  };
  auto out = merge_queues(qs);
  std::vector<std::string> ids;
  for (auto& x : out)
    ids.push_back(x.id);
  CHECK(ids == std::vector<std::string>{"d1:1", "d2:1", "d1:2"});
  CHECK(merge_queues({}).empty());
  // The owner's order wins over skewed clocks; what only a replica holds
  // comes after.
  std::vector<std::vector<chat_message>> skewed{
    {m("d1", 1, 900), m("d1", 2, 100)},
    {m("d1", 3, 50), m("d1", 1, 900)},
  };
  ids.clear();
  for (auto& x : merge_queues(skewed))
    ids.push_back(x.id);
  CHECK(ids == std::vector<std::string>{"d1:1", "d1:2", "d1:3"});
}

TEST_CASE("merge_records takes the newest contacts write among replicas") {
  user_record owner{"u", true, 10, 1};
  owner.contacts_stored = true;
  owner.contacts = contact_settings{visibility_mode::everyone, {}, 100};
  user_record replica{"u", true, 10, 1};
  replica.contacts_stored = true;
  replica.contacts = contact_settings{visibility_mode::contacts, {"amy"}, 200};
  user_record none{"u", true, 10, 1};
  // The owner missed the newer write: the replica's wins, in any order.
  auto m = merge_records("u", {owner, none, replica});
  CHECK(m.contacts_stored);
  CHECK(m.contacts.mode == visibility_mode::contacts);
  CHECK(m.contacts.since == 200);
  auto m2 = merge_records("u", {replica, owner});
  CHECK(m2.contacts.since == 200);
  // Nobody stored any: the server's default.
  CHECK_FALSE(merge_records("u", {none, none}).contacts_stored);
}
