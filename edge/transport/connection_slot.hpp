#pragma once

// One counted TCP connection: counted by the listener when accepted (the
// node's total and, unless from loopback or unlimited, its source
// address's), uncounted when the last owner lets go. It moves from the
// HTTP session to the WebSocket session on an upgrade.

#include <memory>
#include <string>
#include <utility>

#include "edge/common/edge_context.hpp"

namespace presence::edge {

class connection_slot {
public:
  connection_slot() = default;

  /// Takes over a connection the listener counted; `address` is the
  /// source address counted with add_from ("" for none).
  connection_slot(std::shared_ptr<edge_context> ctx, std::string address)
    : ctx_(std::move(ctx)), address_(std::move(address)) {
    // nop
  }

  connection_slot(connection_slot&& other) noexcept
    : ctx_(std::move(other.ctx_)), address_(std::move(other.address_)) {
    other.ctx_.reset();
  }

  connection_slot& operator=(connection_slot&& other) noexcept {
    if (this != &other) {
      release();
      ctx_ = std::move(other.ctx_);
      address_ = std::move(other.address_);
      other.ctx_.reset();
    }
    return *this;
  }

  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;

  ~connection_slot() { release(); }

private:
  void release() {
    if (!ctx_)
      return;
    if (!address_.empty())
      ctx_->remove_from(address_);
    ctx_->count_connection(-1);
    ctx_.reset();
  }

  std::shared_ptr<edge_context> ctx_;
  std::string address_;
};

} // namespace presence::edge
