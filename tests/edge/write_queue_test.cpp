#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>

#include "edge/transport/write_queue.hpp"

using presence::edge::write_queue;
using verdict = write_queue::verdict;

namespace {

write_queue::frame bytes(size_t n) {
  return std::make_shared<const std::string>(n, 'x');
}

} // namespace

TEST_CASE("a queue under the soft limit just queues", "[write_queue]") {
  write_queue q{100, 1000};
  CHECK(q.push(bytes(40)) == verdict::ok);
  CHECK(q.push(bytes(60)) == verdict::ok); // exactly at the soft limit
  CHECK(q.bytes() == 100);
  CHECK(q.size() == 2);
  CHECK(q.at(0)->size() == 40);
}

TEST_CASE("crossing the soft limit arms the stall timer once",
          "[write_queue]") {
  write_queue q{100, 1000};
  CHECK(q.push(bytes(101)) == verdict::arm_stall);
  CHECK(q.push(bytes(10)) == verdict::ok); // armed already
  // Still above when the timer fires: not reading.
  CHECK(q.stall_expired());
  // The timer is disarmed; the next push above the mark arms it again.
  CHECK(q.push(bytes(1)) == verdict::arm_stall);
}

TEST_CASE("a client that drains in time is not a slow consumer",
          "[write_queue]") {
  write_queue q{100, 1000};
  CHECK(q.push(bytes(80)) == verdict::ok);
  CHECK(q.push(bytes(80)) == verdict::arm_stall);
  q.pop_front(); // the client read 80 bytes
  CHECK(q.bytes() == 80);
  CHECK_FALSE(q.stall_expired());
}

TEST_CASE("over the hard limit the client is dropped at once",
          "[write_queue]") {
  write_queue q{100, 1000};
  CHECK(q.push(bytes(600)) == verdict::arm_stall);
  CHECK(q.push(bytes(401)) == verdict::drop);
}

TEST_CASE("dropping keeps only the frames being written", "[write_queue]") {
  write_queue q{100, 1000};
  q.push(bytes(10));
  q.push(bytes(20));
  q.push(bytes(30));
  q.push(bytes(40));
  q.drop_pending(2); // a batch of two is being written
  REQUIRE(q.size() == 2);
  CHECK(q.at(0)->size() == 10);
  CHECK(q.at(1)->size() == 20);
  CHECK(q.bytes() == 30);
  q.drop_pending(0);
  CHECK(q.empty());
  CHECK(q.bytes() == 0);
}

TEST_CASE("a failed write clears everything", "[write_queue]") {
  write_queue q{100, 1000};
  q.push(bytes(150));
  q.clear();
  CHECK(q.empty());
  CHECK(q.bytes() == 0);
  CHECK_FALSE(q.stall_expired());
}

TEST_CASE("a broadcast payload is shared, not copied", "[write_queue]") {
  write_queue a{100, 1000};
  write_queue b{100, 1000};
  auto payload = bytes(5);
  a.push(payload);
  b.push(payload);
  CHECK(a.at(0).get() == b.at(0).get());
  CHECK(payload.use_count() == 3);
}

TEST_CASE("a written batch leaves in order, the rest stays", "[write_queue]") {
  write_queue q{1'000'000, 2'000'000};
  for (std::size_t i = 1; i <= 100; ++i)
    q.push(bytes(i));
  std::size_t expect = 1;
  // Batches of 32, as the session writes them; the front is reclaimed as
  // it goes, and the order never changes.
  while (!q.empty()) {
    auto n = std::min<std::size_t>(q.size(), 32);
    for (std::size_t i = 0; i < n; ++i)
      CHECK(q.at(i)->size() == expect + i);
    q.pop_front(n);
    expect += n;
    q.push(bytes(0)); // something new arrives meanwhile
    q.drop_pending(q.size() - 1);
  }
  CHECK(expect == 101);
  CHECK(q.bytes() == 0);
}

TEST_CASE("a written frame is released at once", "[write_queue]") {
  write_queue q{100, 1000};
  auto payload = bytes(5);
  q.push(payload);
  q.push(bytes(6));
  q.pop_front(1);
  CHECK(payload.use_count() == 1);
  CHECK(q.at(0)->size() == 6);
}

TEST_CASE("an urgent frame goes ahead of what waits, not of what is written",
          "[write_queue]") {
  write_queue q{100, 1000};
  q.push(bytes(1));
  q.push(bytes(2));
  q.push(bytes(3));
  // Nothing being written: first.
  q.push_urgent(bytes(7), 0);
  REQUIRE(q.size() == 4);
  CHECK(q.at(0)->size() == 7);
  CHECK(q.at(1)->size() == 1);
  CHECK(q.bytes() == 13);
  // Two frames being written (after one was written): right after them.
  q.pop_front(1);
  q.push_urgent(bytes(9), 2);
  REQUIRE(q.size() == 4);
  CHECK(q.at(0)->size() == 1);
  CHECK(q.at(1)->size() == 2);
  CHECK(q.at(2)->size() == 9);
  CHECK(q.at(3)->size() == 3);
  // More in flight than queued: last.
  write_queue r{100, 1000};
  r.push(bytes(1));
  r.push_urgent(bytes(5), 4);
  CHECK(r.at(1)->size() == 5);
  // Urgent frames never trip the slow-consumer policy themselves, but
  // count toward it.
  write_queue s{10, 20};
  s.push_urgent(bytes(15), 0);
  CHECK(s.bytes() == 15);
  CHECK(s.push(bytes(1)) == verdict::arm_stall);
}
