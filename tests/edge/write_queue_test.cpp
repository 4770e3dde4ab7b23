#include <catch2/catch.hpp>

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
  CHECK(q.front()->size() == 40);
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

TEST_CASE("dropping keeps only the frame being written", "[write_queue]") {
  write_queue q{100, 1000};
  q.push(bytes(10));
  q.push(bytes(20));
  q.push(bytes(30));
  q.drop_pending(true);
  REQUIRE(q.size() == 1);
  CHECK(q.front()->size() == 10);
  CHECK(q.bytes() == 10);
  q.drop_pending(false);
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
  CHECK(a.front().get() == b.front().get());
  CHECK(payload.use_count() == 3);
}
