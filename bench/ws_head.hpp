#pragma once
// The head of one WebSocket frame (RFC 6455 section 5.2), for the bench
// tools' own framing: the load generator reads the server's frames, the
// floor server the client's.

#include <cstddef>
#include <cstdint>

struct ws_head {
  bool fin = false;
  uint8_t op = 0;
  bool masked = false;
  uint64_t len = 0;
  /// Bytes of the head before the mask key (2, 4 or 10).
  std::size_t size = 0;
};

/// Reads the head of the frame at `b` (`avail` bytes there) into `h`;
/// false while it is not all there.
inline bool read_ws_head(const unsigned char* b, std::size_t avail,
                         ws_head& h) {
  if (avail < 2)
    return false;
  h.fin = (b[0] & 0x80) != 0;
  h.op = static_cast<uint8_t>(b[0] & 0x0f);
  h.masked = (b[1] & 0x80) != 0;
  h.len = b[1] & 0x7f;
  h.size = 2;
  if (h.len == 126) {
    if (avail < 4)
      return false;
    h.len = (uint64_t{b[2]} << 8) | b[3];
    h.size = 4;
  } else if (h.len == 127) {
    if (avail < 10)
      return false;
    h.len = 0;
    for (int i = 0; i < 8; ++i)
      h.len = (h.len << 8) | b[2 + i];
    h.size = 10;
  }
  return true;
}
