#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

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
    frames_.push_back(std::move(f));
    if (bytes_ > hard_)
      return verdict::drop;
    if (bytes_ > soft_ && !stall_armed_) {
      stall_armed_ = true;
      return verdict::arm_stall;
    }
    return verdict::ok;
  }

  /// The stall timer fired (or was cancelled): true if the client is still
  /// above the soft limit, i.e. not reading.
  bool stall_expired() {
    stall_armed_ = false;
    return bytes_ > soft_;
  }

  bool empty() const { return frames_.empty(); }

  /// The next frame to write (the one being written while a write runs).
  const frame& front() const { return frames_.front(); }

  /// The front frame was written.
  void pop_front() {
    bytes_ -= frames_.front()->size();
    frames_.pop_front();
  }

  /// Drops every frame except the one being written (`writing`).
  void drop_pending(bool writing) {
    while (frames_.size() > (writing ? 1u : 0u)) {
      bytes_ -= frames_.back()->size();
      frames_.pop_back();
    }
  }

  /// Drops everything (a write failed: the socket is gone).
  void clear() {
    frames_.clear();
    bytes_ = 0;
  }

  std::size_t bytes() const { return bytes_; }

  std::size_t size() const { return frames_.size(); }

private:
  std::size_t soft_;
  std::size_t hard_;
  std::deque<frame> frames_;
  std::size_t bytes_ = 0;
  bool stall_armed_ = false;
};

} // namespace presence::edge
