// The helper thread an I/O thread shares a large delivery with
// (edge/transport/send_helper.hpp): every block once, the share over only
// when every block is, failures brought back to the owner. Where a test
// needs the helper to have taken part, the owner's first block waits for
// the helper's (a bounded wait that fails the test if it never comes).

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "edge/transport/send_helper.hpp"

using presence::edge::send_helper;
using namespace std::chrono_literals;

namespace {

thread_local bool on_helper = false;

/// The thread that made it: the one that calls share.
struct owner_thread {
  std::thread::id id = std::this_thread::get_id();

  bool here() const { return std::this_thread::get_id() == id; }
};

/// Lets the owner's first block wait until the helper has run one.
class rendezvous {
public:
  const owner_thread owner;

  /// Called at the start of each block.
  void block_started() {
    std::unique_lock<std::mutex> lock{mu_};
    if (!owner.here()) {
      helper_seen_ = true;
      cv_.notify_all();
      return;
    }
    if (!owner_waited_) {
      owner_waited_ = true;
      met_ = cv_.wait_for(lock, 10s, [this] { return helper_seen_; });
    }
  }

  /// The helper ran a block (before the owner's first one ended, or all
  /// of them while the owner's thread was not running).
  bool met() {
    std::lock_guard<std::mutex> guard{mu_};
    return helper_seen_ && (met_ || !owner_waited_);
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool helper_seen_ = false;
  bool owner_waited_ = false;
  bool met_ = false;
};

} // namespace

TEST_CASE("a share runs every block once, here and on the helper's thread",
          "[send_helper]") {
  send_helper h{[] { on_helper = true; }};
  constexpr std::size_t begin = 3;
  constexpr std::size_t end = 1000;
  std::vector<std::atomic<int>> hits(end);
  std::atomic<int> blocks_on_helper{0};
  std::atomic<bool> helper_had_init{true};
  std::atomic<bool> bad_block{false};
  rendezvous meet;
  auto f = [&](std::size_t b, std::size_t e) {
    if (b < begin || e > end || b >= e || e - b > send_helper::block)
      bad_block = true;
    meet.block_started();
    if (!meet.owner.here()) {
      ++blocks_on_helper;
      if (!on_helper)
        helper_had_init = false;
    }
    for (auto i = b; i < e; ++i)
      ++hits[i];
  };
  h.share(begin, end, f);
  CHECK(meet.met());
  CHECK_FALSE(bad_block);
  CHECK(helper_had_init);
  CHECK(blocks_on_helper > 0);
  CHECK(h.helped() == static_cast<std::size_t>(blocks_on_helper.load()));
  CHECK(h.shares() == 1);
  CHECK_FALSE(on_helper); // the owner's thread is not the helper
  for (std::size_t i = 0; i < end; ++i) {
    INFO("item " << i);
    CHECK(hits[i] == (i < begin ? 0 : 1));
  }
}

TEST_CASE("a share returns only when every block is done", "[send_helper]") {
  send_helper h;
  // Blocks that take a while, so the helper is often in the middle of one
  // when the owner runs out of blocks to take.
  std::atomic<std::size_t> done{0};
  auto f = [&](std::size_t b, std::size_t e) {
    volatile unsigned spin = 0;
    for (int i = 0; i < 2000; ++i)
      spin = spin + 1;
    done.fetch_add(e - b);
  };
  std::size_t expected = 0;
  for (int round = 0; round < 300; ++round) {
    std::size_t n = 1 + round % 70;
    h.share(0, n, f);
    expected += n;
    REQUIRE(done.load() == expected);
  }
  CHECK(h.shares() == 300);
}

TEST_CASE("an empty share calls nothing", "[send_helper]") {
  send_helper h;
  int calls = 0;
  auto f = [&](std::size_t, std::size_t) { ++calls; };
  h.share(5, 5, f);
  CHECK(calls == 0);
}

TEST_CASE("what a block throws reaches the owner", "[send_helper]") {
  send_helper h;

  SECTION("thrown on the helper's thread; the helper serves on") {
    rendezvous meet;
    std::atomic<int> ran{0};
    auto f = [&](std::size_t, std::size_t) {
      meet.block_started();
      ++ran;
      if (!meet.owner.here())
        throw std::runtime_error("helper failed");
    };
    CHECK_THROWS_WITH(h.share(0, 64 * send_helper::block, f), "helper failed");
    CHECK(meet.met());
    CHECK(ran <= 64);

    std::atomic<std::size_t> sum{0};
    auto g = [&](std::size_t b, std::size_t e) { sum += e - b; };
    h.share(0, 500, g);
    CHECK(sum == 500);
  }

  SECTION("thrown on the owner's thread, once the helper is done") {
    const owner_thread owner;
    std::atomic<int> helper_running{0};
    std::atomic<bool> overlap{false};
    std::atomic<bool> owner_began{false};
    auto f = [&](std::size_t, std::size_t) {
      if (owner.here()) {
        owner_began = true;
        throw std::logic_error("owner failed"); // its first block
      }
      // The owner's first block comes before the helper's first ends: a
      // helper that took every block while the owner's thread was off
      // the core (a loaded machine) left it nothing to throw.
      for (int i = 0; !owner_began && i < 1'000'000; ++i)
        std::this_thread::yield();
      ++helper_running;
      volatile unsigned spin = 0;
      for (int i = 0; i < 20000; ++i)
        spin = spin + 1;
      --helper_running;
    };
    for (int round = 0; round < 50; ++round) {
      owner_began = false;
      CHECK_THROWS_AS(h.share(0, 40 * send_helper::block, f), std::logic_error);
      // Nothing of the share still runs once it has thrown.
      if (helper_running.load() != 0)
        overlap = true;
    }
    CHECK_FALSE(overlap);
  }
}
