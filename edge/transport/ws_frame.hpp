#pragma once

// WebSocket framing (RFC 6455 section 5) after the handshake, server side:
// parsing what a client sends and the header of what the server sends.
// Pure, no sockets: the WebSocket session (ws_session.cpp) feeds it the
// bytes it reads; unit-tested and fuzzed (tests/edge/ws_frame_test.cpp,
// tests/fuzz/fuzz_ws_frame.cpp). We own the framing instead of running
// Beast's websocket::stream so that an idle connection holds no buffer and
// no timer, and a socket's queued frames go out in one writev
// (docs/architecture.md, "The edge's WebSocket").

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace presence::edge::ws {

enum class opcode : uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xa,
};

/// Status codes of a close frame (RFC 6455 section 7.4.1).
namespace close_status {
constexpr uint16_t normal = 1000;
constexpr uint16_t protocol_error = 1002;
constexpr uint16_t no_status = 1005; // the peer's close frame had no code
constexpr uint16_t invalid_payload = 1007;
constexpr uint16_t too_big = 1009;
} // namespace close_status

/// The largest header the server writes: 2 bytes + a 64-bit length.
constexpr std::size_t max_header_bytes = 10;

/// Writes the header of one unfragmented, unmasked server frame with
/// `len` bytes of payload to `out`; returns the header's size (2, 4 or 10).
std::size_t write_header(char* out, opcode op, std::size_t len);

/// The payload of a close frame: the code and at most 123 bytes of reason
/// (cut at a UTF-8 character boundary). `no_status` gives an empty payload.
std::string close_payload(uint16_t code, std::string_view reason);

/// True if `s` is well-formed UTF-8 (no overlong forms, no surrogates,
/// nothing above U+10FFFF).
bool valid_utf8(std::string_view s);

/// One thing found in the client's bytes.
struct event {
  enum kind_t {
    need_more, // no complete frame yet: keep the bytes, read more
    partial,   // a fragment of a message was taken: call again
    text,      // a whole text message (`payload`, valid UTF-8)
    binary,    // a whole binary message
    ping,      // `payload` to echo in a pong
    pong,
    close, // the client closes: `code` (1005 if none), `payload` reason
    error, // the client broke the protocol: close with `code`
  };
  kind_t kind = need_more;
  /// Bytes of the input this event used (0 for need_more and error).
  std::size_t consumed = 0;
  /// Points into the input (unmasked in place) or into the parser's
  /// message buffer; valid until the next call.
  std::string_view payload;
  uint16_t code = 0;
  const char* reason = "";
};

/// Parses client-to-server frames one at a time. Holds only a fragmented
/// message in progress (empty, and no heap, between messages).
class frame_parser {
public:
  /// Messages (all fragments together) above `max_message` bytes are an
  /// error (1009), found from the frame header before the payload arrives.
  explicit frame_parser(std::size_t max_message) : max_(max_message) {
    // nop
  }

  /// Looks at the frame that starts at `data`; unmasks its payload in
  /// place when it is complete.
  event next(char* data, std::size_t size);

  /// Bytes of a fragmented message held so far.
  std::size_t buffered() const { return message_.size(); }

private:
  std::size_t max_;
  std::string message_;
  bool in_message_ = false;
  opcode message_op_ = opcode::text;
};

} // namespace presence::edge::ws
