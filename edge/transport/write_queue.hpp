#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace presence::edge {

/// The outbound queue of one WebSocket and its slow-consumer policy
/// (docs/protocol.md): short bursts pass; a client whose queue stays above
/// `soft_limit` bytes for the stall time, or ever exceeds `hard_limit`, is
/// not reading and gets disconnected (close 4001). Frames are shared
/// (`shared_ptr<const string>`): a broadcast is one payload queued to many
/// sockets. Pure: the WebSocket session (ws_session.cpp) calls it on its
/// strand and acts on the verdicts; unit-tested without sockets.
class write_queue {
public:
  using frame = std::shared_ptr<const std::string>;

  /// What the session must do after push().
  enum class verdict {
    ok,        // queued
    arm_stall, // queued; above the soft limit: start the stall timer
    drop,      // over the hard limit: drop_pending() and close
  };

  write_queue(std::size_t soft_limit, std::size_t hard_limit)
    : soft_(soft_limit), hard_(hard_limit) {
    // nop
  }

  /// Queues `f`.
  verdict push(frame f) {
    bytes_ += f->size();
    if (frames_.empty())
      frames_.reserve(idle_capacity);
    frames_.push_back(std::move(f));
    if (bytes_ > hard_)
      return verdict::drop;
    if (bytes_ > soft_ && !stall_armed_) {
      stall_armed_ = true;
      return verdict::arm_stall;
    }
    return verdict::ok;
  }

  /// Queues `f` ahead of everything not yet being written (the first
  /// `in_flight` frames are): a protocol's liveness probe (Engine.IO's
  /// ping) must not wait behind a storm's backlog, or a client that reads
  /// as fast as it can looks dead. Counts toward bytes() but never
  /// triggers the slow-consumer policy (a few bytes, once per interval).
  void push_urgent(frame f, std::size_t in_flight) {
    bytes_ += f->size();
    if (frames_.empty())
      frames_.reserve(idle_capacity);
    auto at = std::min(head_ + in_flight, frames_.size());
    frames_.insert(frames_.begin() + static_cast<std::ptrdiff_t>(at),
                   std::move(f));
  }

  /// The stall timer fired (or was cancelled): true if the client is still
  /// above the soft limit, i.e. not reading.
  bool stall_expired() {
    stall_armed_ = false;
    return bytes_ > soft_;
  }

  bool empty() const { return head_ == frames_.size(); }

  /// The `i`th frame from the front (the first ones are being written
  /// while a write runs).
  const frame& at(std::size_t i) const { return frames_[head_ + i]; }

  /// The first `n` frames were written.
  void pop_front(std::size_t n = 1) {
    for (; n > 0 && !empty(); --n) {
      bytes_ -= frames_[head_]->size();
      frames_[head_++].reset();
    }
    if (empty()) {
      // Idle again: keep at most a few slots (a burst's go).
      if (frames_.capacity() > idle_capacity)
        std::vector<frame>().swap(frames_);
      else
        frames_.clear();
      head_ = 0;
    } else if (head_ >= compact_after && 2 * head_ >= frames_.size()) {
      frames_.erase(frames_.begin(),
                    frames_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  /// Drops every frame except the first `in_flight` (being written).
  void drop_pending(std::size_t in_flight) {
    while (size() > in_flight) {
      bytes_ -= frames_.back()->size();
      frames_.pop_back();
    }
  }

  /// Drops everything (a write failed: the socket is gone).
  void clear() {
    std::vector<frame>().swap(frames_);
    head_ = 0;
    bytes_ = 0;
  }

  std::size_t bytes() const { return bytes_; }

  std::size_t size() const { return frames_.size() - head_; }

private:
  /// Slots an idle socket keeps (a std::deque would hold ~600 bytes).
  static constexpr std::size_t idle_capacity = 4;
  /// Written slots at the front are reclaimed once there are this many
  /// and they are half the vector.
  static constexpr std::size_t compact_after = 32;

  std::size_t soft_;
  std::size_t hard_;
  std::vector<frame> frames_;
  std::size_t head_ = 0;
  std::size_t bytes_ = 0;
  bool stall_armed_ = false;
};

} // namespace presence::edge
