#include <catch2/catch.hpp>

#include <string>
#include <variant>
#include <vector>

#include "persistence/retry_queue.hpp"

using namespace presence;
using namespace presence::persistence;

namespace {

/// What the queue holds, oldest first: "open:a", "close:b", ...
std::vector<std::string> contents(retry_queue q) {
  std::vector<std::string> out;
  while (!q.empty()) {
    auto& w = q.front();
    std::string kind = std::holds_alternative<open_write>(w)    ? "open"
                       : std::holds_alternative<close_write>(w) ? "close"
                       : std::holds_alternative<drop_write>(w)  ? "drop"
                                                                : "merge";
    out.push_back(kind + ":" + user_of(w));
    q.pop();
  }
  return out;
}

using strings = std::vector<std::string>;

user_record record_of(const std::string& user) {
  user_record r;
  r.user_id = user;
  r.known = true;
  return r;
}

} // namespace

TEST_CASE("the retry queue keeps writes in order", "[retry_queue]") {
  retry_queue q{10};
  CHECK(q.push(open_write{"a", {}}));
  CHECK(q.push(merge_write{record_of("b")}));
  CHECK(q.push(close_write{"c", 1, 2, 1}));
  CHECK(q.push(drop_write{"d"}));
  CHECK(q.size() == 4);
  CHECK(contents(q) == strings{"open:a", "merge:b", "close:c", "drop:d"});
}

TEST_CASE(
  "a write that settles a user's mark supersedes its queued opens "
  "and drops",
  "[retry_queue]") {
  retry_queue q{10};
  q.push(open_write{"a", {}});
  q.push(open_write{"b", {}});
  q.push(close_write{"a", 1, 2, 1});
  q.push(merge_write{record_of("a")});
  q.push(drop_write{"a"});
  // a's open went with its close; the close and the merge stay.
  CHECK(contents(q) == strings{"open:b", "close:a", "merge:a", "drop:a"});
  q.push(open_write{"a", {}});
  // The drop went with the open; nothing else of a's is superseded.
  CHECK(contents(q) == strings{"open:b", "close:a", "merge:a", "open:a"});
  q.push(close_write{"a", 3, 4, 2});
  CHECK(contents(q) == strings{"open:b", "close:a", "merge:a", "close:a"});
  // Closes are history entries: a close never supersedes a close.
  CHECK(q.size() == 4);
}

TEST_CASE("superseding still works after the oldest writes left",
          "[retry_queue]") {
  retry_queue q{10};
  q.push(open_write{"a", {}});
  q.push(open_write{"b", {}});
  q.push(drop_write{"a"}); // supersedes the first open of a
  CHECK(contents(q) == strings{"open:b", "drop:a"});
  q.pop(); // open:b written
  q.push(open_write{"b", {}});
  q.pop(); // drop:a written
  q.push(close_write{"b", 1, 2, 1});
  CHECK(contents(q) == strings{"close:b"});
  q.pop();
  CHECK(q.empty());
  q.push(open_write{"a", {}});
  CHECK(contents(q) == strings{"open:a"});
}

TEST_CASE("the retry queue is bounded", "[retry_queue]") {
  retry_queue q{3};
  CHECK(q.push(open_write{"a", {}}));
  CHECK(q.push(close_write{"b", 1, 2, 1}));
  CHECK(q.push(merge_write{record_of("c")}));
  // Full: a new write is refused, and nothing queued changes.
  CHECK_FALSE(q.push(close_write{"d", 1, 2, 1}));
  CHECK(q.size() == 3);
  // A write that supersedes another makes its own room.
  CHECK(q.push(close_write{"a", 1, 2, 1}));
  CHECK(contents(q) == strings{"close:b", "merge:c", "close:a"});
}
