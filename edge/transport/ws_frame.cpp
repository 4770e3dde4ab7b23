#include "edge/transport/ws_frame.hpp"

#include <cstring>

namespace presence::edge::ws {

namespace {

/// Largest payload of a control frame (RFC 6455 section 5.5).
constexpr std::size_t max_control_payload = 125;

/// Largest reason in a close frame: 125 minus the 2-byte code.
constexpr std::size_t max_close_reason = 123;

event fail(uint16_t code, const char* reason) {
  event ev;
  ev.kind = event::error;
  ev.code = code;
  ev.reason = reason;
  return ev;
}

/// XORs `len` bytes at `p` with the 4-byte `key`, word at a time.
void unmask(char* p, std::size_t len, const unsigned char key[4]) {
  uint64_t key8;
  unsigned char k8[8] = {key[0], key[1], key[2], key[3],
                         key[0], key[1], key[2], key[3]};
  std::memcpy(&key8, k8, 8);
  std::size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    w ^= key8;
    std::memcpy(p + i, &w, 8);
  }
  for (; i < len; ++i)
    p[i] = static_cast<char>(p[i] ^ key[i % 4]);
}

/// A close code a peer may send (RFC 6455 section 7.4).
bool valid_close_code(uint16_t code) {
  if (code >= 3000 && code <= 4999)
    return true;
  // 1012-1014: service restart, try again later, bad gateway (IANA).
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

} // namespace

std::size_t write_header(char* out, opcode op, std::size_t len) {
  auto* o = reinterpret_cast<unsigned char*>(out);
  o[0] = static_cast<unsigned char>(0x80 | static_cast<uint8_t>(op));
  if (len < 126) {
    o[1] = static_cast<unsigned char>(len);
    return 2;
  }
  if (len <= 0xffff) {
    o[1] = 126;
    o[2] = static_cast<unsigned char>(len >> 8);
    o[3] = static_cast<unsigned char>(len);
    return 4;
  }
  o[1] = 127;
  auto n = static_cast<uint64_t>(len);
  for (int i = 0; i < 8; ++i)
    o[2 + i] = static_cast<unsigned char>(n >> (56 - 8 * i));
  return 10;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  if (code == close_status::no_status)
    return {};
  if (reason.size() > max_close_reason) {
    auto n = max_close_reason;
    // Back off to the start of a UTF-8 character.
    while (n > 0 && (static_cast<unsigned char>(reason[n]) & 0xc0) == 0x80)
      --n;
    reason = reason.substr(0, n);
  }
  std::string out;
  out.reserve(2 + reason.size());
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xff));
  out.append(reason);
  return out;
}

bool valid_utf8(std::string_view s) {
  auto* p = reinterpret_cast<const unsigned char*>(s.data());
  auto* end = p + s.size();
  while (p < end) {
    // ASCII runs, eight bytes at a time.
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & 0x8080808080808080ull)
        break;
      p += 8;
    }
    if (p == end)
      break;
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false; // a continuation byte, an overlong lead, or > U+10FFFF
    }
    if (static_cast<std::size_t>(end - p) <= n)
      return false;
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    p += n + 1;
  }
  return true;
}

event frame_parser::next(char* data, std::size_t size) {
  event ev;
  // The last call's reassembled message was used: let its heap go.
  if (!in_message_ && !message_.empty())
    std::string().swap(message_);
  if (size < 2)
    return ev;
  auto* d = reinterpret_cast<unsigned char*>(data);
  bool fin = (d[0] & 0x80) != 0;
  if ((d[0] & 0x70) != 0)
    return fail(close_status::protocol_error, "reserved bits set");
  auto op = static_cast<opcode>(d[0] & 0x0f);
  bool control = (d[0] & 0x08) != 0;
  switch (op) {
    case opcode::continuation:
    case opcode::text:
    case opcode::binary:
    case opcode::close:
    case opcode::ping:
    case opcode::pong:
      break;
    default:
      return fail(close_status::protocol_error, "reserved opcode");
  }
  if ((d[1] & 0x80) == 0)
    return fail(close_status::protocol_error, "client frame not masked");
  uint64_t len = d[1] & 0x7f;
  std::size_t header = 2;
  if (len == 126) {
    if (size < 4)
      return ev;
    len = (uint64_t{d[2]} << 8) | d[3];
    if (len < 126)
      return fail(close_status::protocol_error, "length not minimal");
    header = 4;
  } else if (len == 127) {
    if (size < 10)
      return ev;
    len = 0;
    for (int i = 0; i < 8; ++i)
      len = (len << 8) | d[2 + i];
    if (len >> 63)
      return fail(close_status::protocol_error, "length too large");
    if (len <= 0xffff)
      return fail(close_status::protocol_error, "length not minimal");
    header = 10;
  }
  if (control) {
    if (!fin)
      return fail(close_status::protocol_error, "fragmented control frame");
    if (len > max_control_payload)
      return fail(close_status::protocol_error, "control frame too long");
  } else if (op == opcode::continuation) {
    if (!in_message_)
      return fail(close_status::protocol_error, "continuation of nothing");
    if (len > max_ - message_.size())
      return fail(close_status::too_big, "message too big");
  } else {
    if (in_message_)
      return fail(close_status::protocol_error, "message inside a message");
    if (len > max_)
      return fail(close_status::too_big, "message too big");
  }
  // The 4-byte masking key follows the length.
  if (size < header + 4 || size - header - 4 < len)
    return ev;
  unsigned char key[4];
  std::memcpy(key, d + header, 4);
  char* payload = data + header + 4;
  auto n = static_cast<std::size_t>(len);
  unmask(payload, n, key);
  ev.consumed = header + 4 + n;
  std::string_view body{payload, n};
  switch (op) {
    case opcode::ping:
      ev.kind = event::ping;
      ev.payload = body;
      return ev;
    case opcode::pong:
      ev.kind = event::pong;
      return ev;
    case opcode::close: {
      if (n == 1)
        return fail(close_status::protocol_error, "close frame of one byte");
      ev.kind = event::close;
      ev.code = close_status::no_status;
      if (n >= 2) {
        ev.code = static_cast<uint16_t>(
          (static_cast<unsigned char>(payload[0]) << 8)
          | static_cast<unsigned char>(payload[1]));
        if (!valid_close_code(ev.code))
          return fail(close_status::protocol_error, "invalid close code");
        ev.payload = body.substr(2);
        if (!valid_utf8(ev.payload))
          return fail(close_status::invalid_payload, "close reason not UTF-8");
      }
      return ev;
    }
    default:
      break;
  }
  // A data frame: a whole message, or a fragment of one.
  if (op != opcode::continuation && fin) {
    if (op == opcode::text && !valid_utf8(body))
      return fail(close_status::invalid_payload, "text not UTF-8");
    ev.kind = op == opcode::text ? event::text : event::binary;
    ev.payload = body;
    return ev;
  }
  if (op != opcode::continuation) {
    in_message_ = true;
    message_op_ = op;
    message_.clear();
  }
  message_.append(body);
  if (!fin) {
    ev.kind = event::partial;
    return ev;
  }
  in_message_ = false;
  if (message_op_ == opcode::text && !valid_utf8(message_))
    return fail(close_status::invalid_payload, "text not UTF-8");
  ev.kind = message_op_ == opcode::text ? event::text : event::binary;
  // Valid until the next call, which frees the buffer.
  ev.payload = message_;
  return ev;
}

} // namespace presence::edge::ws
