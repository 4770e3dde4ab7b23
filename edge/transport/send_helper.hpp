#pragma once

// A second thread for an I/O thread's large deliveries (edge/transport/
// ws_session.cpp's io_home). No Asio here: the helper runs whatever blocks
// of work it is handed.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace presence::edge {

/// Shares the work of a task between the thread running it (the owner)
/// and one helper thread: `share(begin, end, f)` calls `f(b, e)` for
/// blocks [b, e) of [begin, end), each once, on either thread, and returns
/// when all are done. Meant for a task during which nothing else touches
/// what the blocks touch (an I/O thread's delivery to its own sockets: the
/// thread serves none of their handlers while it waits here).
///
/// The helper sleeps between shares: a thread that never shares never
/// wakes it. It starts when woken, so the owner takes blocks meanwhile;
/// if the owner has taken them all before the helper started, the share
/// is called off and the owner does not wait for it. Shares are one at a
/// time (one owner).
class send_helper {
public:
  /// Blocks of this many items are taken in turn by the two threads.
  static constexpr std::size_t block = 16;

  /// `init` runs first on the helper's thread (its thread-locals).
  explicit send_helper(std::function<void()> init = {})
    : thread_([this, init = std::move(init)] {
        if (init)
          init();
        loop();
      }) {
    // nop
  }

  ~send_helper() {
    {
      std::lock_guard<std::mutex> guard{mu_};
      state_ = stopping;
    }
    wake_.notify_one();
    thread_.join();
  }

  send_helper(const send_helper&) = delete;
  send_helper& operator=(const send_helper&) = delete;

  /// Calls `f(b, e)` for the blocks of [begin, end), here and on the
  /// helper's thread; returns when every block is done. What `f` throws on
  /// either thread is thrown here, once the helper is done (the owner's
  /// first; no block is taken once a failure is caught).
  template <class F>
  void share(std::size_t begin, std::size_t end, F& f) {
    next_.store(begin, std::memory_order_relaxed);
    end_ = end;
    fn_ = [](void* p, std::size_t b, std::size_t e) {
      (*static_cast<F*>(p))(b, e);
    };
    fn_arg_ = &f;
    {
      std::lock_guard<std::mutex> guard{mu_};
      state_ = posted;
    }
    wake_.notify_one();
    std::exception_ptr mine;
    try {
      work();
    } catch (...) {
      mine = std::current_exception();
      next_.store(end_, std::memory_order_relaxed); // the helper stops too
    }
    std::exception_ptr theirs;
    {
      std::unique_lock<std::mutex> lock{mu_};
      if (state_ == posted) {
        state_ = idle; // it never started: nothing of it to wait for
      } else {
        done_.wait(lock, [this] { return state_ == finished; });
        state_ = idle;
        theirs = std::exchange(failed_, nullptr);
      }
    }
    ++shares_;
    if (mine)
      std::rethrow_exception(mine);
    if (theirs)
      std::rethrow_exception(theirs);
  }

  /// Shares made, and the blocks the helper ran (read by the owner, or
  /// once no share is under way).
  std::size_t shares() const { return shares_; }
  std::size_t helped() const { return helped_.load(std::memory_order_relaxed); }

private:
  enum state { idle, posted, running, finished, stopping };

  /// Takes blocks until none is left; returns how many it took.
  std::size_t work() {
    std::size_t taken = 0;
    for (;;) {
      auto b = next_.fetch_add(block, std::memory_order_relaxed);
      if (b >= end_)
        return taken;
      ++taken;
      fn_(fn_arg_, b, std::min(b + block, end_));
    }
  }

  void loop() {
    std::unique_lock<std::mutex> lock{mu_};
    for (;;) {
      wake_.wait(lock,
                 [this] { return state_ == posted || state_ == stopping; });
      if (state_ == stopping)
        return;
      state_ = running;
      lock.unlock();
      std::exception_ptr failed;
      try {
        helped_.fetch_add(work(), std::memory_order_relaxed);
      } catch (...) {
        failed = std::current_exception();
        next_.store(end_, std::memory_order_relaxed);
      }
      lock.lock();
      failed_ = failed;
      state_ = finished;
      done_.notify_one();
    }
  }

  // The share under way: set by the owner before it wakes the helper (the
  // mutex orders them), read by both.
  std::atomic<std::size_t> next_{0};
  std::size_t end_ = 0;
  void (*fn_)(void*, std::size_t, std::size_t) = nullptr;
  void* fn_arg_ = nullptr;

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  state state_ = idle;
  std::exception_ptr failed_;

  std::size_t shares_ = 0;
  std::atomic<std::size_t> helped_{0};

  // Last: started once everything above is.
  std::thread thread_;
};

} // namespace presence::edge
