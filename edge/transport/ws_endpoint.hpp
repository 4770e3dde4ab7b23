#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "edge/common/session_sink.hpp"

namespace presence::edge {

/// What runs on top of one WebSocket: the native protocol
/// (edge/native) or Engine.IO (edge/socketio). The WebSocket session
/// (ws_session.cpp) calls these on its strand, one at a time.
class ws_endpoint {
public:
  virtual ~ws_endpoint();
  /// The handshake is done; `sink` writes to the socket (thread-safe).
  virtual void on_open(std::shared_ptr<session_sink> sink) = 0;
  /// Asked once after on_open: true if the session is about to write more
  /// without the client saying anything (a native join's answer). The
  /// 101 and what on_open wrote then wait for it and leave in one write
  /// (any later write, a close, or the idle clock's next tick sends them).
  virtual bool answer_follows() const { return false; }
  /// One text message that passed the rate limit (`text` is valid during
  /// the call only: it points into the socket's read buffer).
  virtual void on_text(std::string_view text) = 0;
  /// A binary message (neither protocol takes them).
  virtual void on_binary() = 0;
  /// A message dropped by the rate limit (the first and every 16th).
  virtual void on_rate_limited() = 0;
  /// The socket is gone; called exactly once if on_open was.
  virtual void on_closed() = 0;
};

} // namespace presence::edge
