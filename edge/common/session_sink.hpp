#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace presence {
class delivery_home;
} // namespace presence

namespace presence::edge {

/// A live session's outbound side: what a protocol's session (native,
/// Socket.IO) writes to. Implemented by the transport's WebSocket session
/// (edge/transport/ws_session.cpp). Thread-safe: session actors call it
/// from CAF threads; the calls are posted onto the socket's strand (with
/// one I/O thread: its io_context). Only the session's own reply, from
/// inside its endpoint, is queued at once.
class session_sink {
public:
  virtual ~session_sink();
  /// Queues one text frame (shared: a broadcast shares one payload).
  virtual void send_text(std::shared_ptr<const std::string> frame) = 0;
  /// The session's own small reply from inside its endpoint's call (a
  /// pong, an answer of Socket.IO's heartbeat round): framed in place and
  /// written with the read's other replies, without a shared buffer, a
  /// queue entry or a hop, when nothing else of the session waits. False
  /// if it did not take the frame (anywhere else, a frame too large, a
  /// queue not empty): send it with send_text. The default takes none.
  virtual bool reply_here(std::string_view frame);
  /// Queues several text frames in order (one hop for all of them).
  virtual void
  send_texts(std::vector<std::shared_ptr<const std::string>> frames);
  /// Queues one text frame ahead of the frames not yet being written (a
  /// liveness probe such as Engine.IO's ping; the default queues it last).
  virtual void send_urgent(std::shared_ptr<const std::string> frame);
  /// Sends what is queued, then a close frame with `code` and `reason`.
  virtual void close(uint16_t code, std::string reason) = 0;
  /// One tick of the edge's idle clock (edge_context::tick_sessions, from
  /// any thread): a session counts how long its client has been silent
  /// (pings it, ends it) without a timer of its own. Must not block and
  /// must not call back into the edge_context. The default ignores it.
  virtual void tick();
  /// The thread where calls to this sink are best made (its socket's I/O
  /// thread; core/messages.hpp), where a frame is queued at once, without
  /// the hop; null (the default): none.
  virtual std::shared_ptr<delivery_home> home() const;
  /// Prefetches what a send to this sink will touch (the session behind
  /// it; direct_listener::warm). The default does nothing.
  virtual void warm() const;
};

} // namespace presence::edge
