// The WebSocket framing the edge owns after the handshake
// (edge/transport/ws_frame.hpp): client frames in, server headers out.

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "edge/transport/ws_frame.hpp"

using namespace presence::edge::ws;

namespace {

/// A client frame: masked with `key`, as a browser sends it.
std::string client_frame(opcode op, const std::string& payload, bool fin = true,
                         uint32_t key = 0x37fa213d) {
  std::string out;
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<int>(op)));
  auto len = payload.size();
  if (len < 126) {
    out.push_back(static_cast<char>(0x80 | len));
  } else if (len <= 0xffff) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i)
      out.push_back(static_cast<char>(static_cast<uint64_t>(len) >> (8 * i)));
  }
  char k[4] = {static_cast<char>(key >> 24), static_cast<char>(key >> 16),
               static_cast<char>(key >> 8), static_cast<char>(key)};
  out.append(k, 4);
  for (std::size_t i = 0; i < len; ++i)
    out.push_back(static_cast<char>(payload[i] ^ k[i % 4]));
  return out;
}

/// Everything a parser finds in `wire`, fed in pieces of `step` bytes the
/// way the session does (keeping what is incomplete).
std::vector<event> parse_all(frame_parser& p, const std::string& wire,
                             std::size_t step, std::vector<std::string>& out) {
  std::vector<event> events;
  std::string buf;
  std::size_t fed = 0;
  while (fed < wire.size()) {
    auto n = std::min(step, wire.size() - fed);
    buf.append(wire, fed, n);
    fed += n;
    std::size_t used = 0;
    for (;;) {
      auto ev = p.next(buf.data() + used, buf.size() - used);
      if (ev.kind == event::need_more)
        break;
      events.push_back(ev);
      out.emplace_back(ev.payload);
      if (ev.kind == event::error)
        return events;
      used += ev.consumed;
    }
    buf.erase(0, used);
  }
  return events;
}

} // namespace

TEST_CASE("server headers use the shortest length form", "[ws_frame]") {
  char h[max_header_bytes];
  CHECK(write_header(h, opcode::text, 0) == 2);
  CHECK(static_cast<unsigned char>(h[0]) == 0x81);
  CHECK(h[1] == 0);
  CHECK(write_header(h, opcode::text, 125) == 2);
  CHECK(h[1] == 125);
  CHECK(write_header(h, opcode::close, 126) == 4);
  CHECK(static_cast<unsigned char>(h[0]) == 0x88);
  CHECK(h[1] == 126);
  CHECK(static_cast<unsigned char>(h[2]) == 0);
  CHECK(static_cast<unsigned char>(h[3]) == 126);
  CHECK(write_header(h, opcode::text, 65535) == 4);
  CHECK(write_header(h, opcode::text, 65536) == 10);
  CHECK(h[1] == 127);
  CHECK(static_cast<unsigned char>(h[7]) == 1); // 0x10000, big-endian
  CHECK(static_cast<unsigned char>(h[8]) == 0);
}

TEST_CASE("masked text, binary, ping and close frames parse, in any pieces",
          "[ws_frame]") {
  std::string big(70'000, 'a');
  auto wire = client_frame(opcode::text, R"({"type":"ping"})")
              + client_frame(opcode::binary, std::string("\0\1\2", 3))
              + client_frame(opcode::ping, "hi")
              + client_frame(opcode::text, std::string(300, 'x'))
              + client_frame(opcode::text, big)
              + client_frame(opcode::close, std::string("\x03\xe8"
                                                        "bye",
                                                        5));
  for (std::size_t step : {1u, 2u, 7u, 128u, 100'000u}) {
    frame_parser p{100'000};
    std::vector<std::string> payloads;
    auto evs = parse_all(p, wire, step, payloads);
    REQUIRE(evs.size() == 6);
    CHECK(evs[0].kind == event::text);
    CHECK(payloads[0] == R"({"type":"ping"})");
    CHECK(evs[1].kind == event::binary);
    CHECK(payloads[1] == std::string("\0\1\2", 3));
    CHECK(evs[2].kind == event::ping);
    CHECK(payloads[2] == "hi");
    CHECK(payloads[3] == std::string(300, 'x'));
    CHECK(payloads[4] == big);
    CHECK(evs[5].kind == event::close);
    CHECK(evs[5].code == 1000);
    CHECK(payloads[5] == "bye");
  }
}

TEST_CASE("fragments are reassembled, with control frames between them",
          "[ws_frame]") {
  auto wire = client_frame(opcode::text, "hel", false)
              + client_frame(opcode::ping, "p")
              + client_frame(opcode::continuation, "lo ", false)
              + client_frame(opcode::continuation, "you");
  frame_parser p{100};
  std::vector<std::string> payloads;
  auto evs = parse_all(p, wire, 3, payloads);
  REQUIRE(evs.size() == 4);
  CHECK(evs[0].kind == event::partial);
  CHECK(evs[1].kind == event::ping);
  CHECK(evs[2].kind == event::partial);
  CHECK(evs[3].kind == event::text);
  CHECK(payloads[3] == "hello you");
  // The buffer goes with the next call.
  char none[1];
  p.next(none, 0);
  CHECK(p.buffered() == 0);
}

TEST_CASE("protocol violations are errors with the close code to send",
          "[ws_frame]") {
  auto check = [](std::string wire, uint16_t code, std::size_t max = 100) {
    frame_parser p{max};
    std::vector<std::string> payloads;
    auto evs = parse_all(p, wire, wire.size(), payloads);
    REQUIRE_FALSE(evs.empty());
    CHECK(evs.back().kind == event::error);
    CHECK(evs.back().code == code);
  };
  // Unmasked.
  check(std::string("\x81\x02hi", 4), close_status::protocol_error);
  // Reserved bits (no extension was negotiated).
  auto rsv = client_frame(opcode::text, "x");
  rsv[0] = static_cast<char>(rsv[0] | 0x40);
  check(rsv, close_status::protocol_error);
  // Reserved opcodes.
  auto op3 = client_frame(opcode::text, "x");
  op3[0] = static_cast<char>(0x83);
  check(op3, close_status::protocol_error);
  // A fragmented or long control frame.
  check(client_frame(opcode::ping, "x", false), close_status::protocol_error);
  check(client_frame(opcode::ping, std::string(126, 'x')),
        close_status::protocol_error, 1000);
  // A continuation of nothing; a new message inside a fragmented one.
  check(client_frame(opcode::continuation, "x"), close_status::protocol_error);
  check(client_frame(opcode::text, "a", false)
          + client_frame(opcode::text, "b"),
        close_status::protocol_error);
  // Too big: known from the header, before the payload arrives.
  check(client_frame(opcode::text, std::string(101, 'x')).substr(0, 4),
        close_status::too_big);
  check(client_frame(opcode::text, std::string(60, 'x'), false)
          + client_frame(opcode::continuation, std::string(41, 'x')),
        close_status::too_big);
  // Invalid UTF-8 in text, also across fragments, and in a close reason.
  check(client_frame(opcode::text, "\xc3\x28"), close_status::invalid_payload);
  check(client_frame(opcode::text, "\xe2\x82", false)
          + client_frame(opcode::continuation, "\x28"),
        close_status::invalid_payload);
  check(client_frame(opcode::close, std::string("\x03\xe8\xff", 3)),
        close_status::invalid_payload);
  // Close frames of one byte or with a code no one may send.
  check(client_frame(opcode::close, "\x03"), close_status::protocol_error);
  check(client_frame(opcode::close, std::string("\x03\xed", 2)), // 1005
        close_status::protocol_error);
  // A 16-bit length for a short payload.
  std::string nonmin = "\x81\xfe";
  nonmin += std::string("\x00\x05", 2) + "abcd" + "hello";
  check(nonmin, close_status::protocol_error);
}

TEST_CASE("registered close codes pass, reserved ones do not", "[ws_frame]") {
  auto code_of = [](uint16_t code) {
    frame_parser p{100};
    std::string body{static_cast<char>(code >> 8), static_cast<char>(code)};
    auto wire = client_frame(opcode::close, body);
    return p.next(wire.data(), wire.size());
  };
  for (uint16_t ok :
       {1000, 1001, 1003, 1007, 1011, 1012, 1013, 1014, 3000, 4001, 4999}) {
    auto ev = code_of(ok);
    CHECK(ev.kind == event::close);
    CHECK(ev.code == ok);
  }
  for (uint16_t bad : {999, 1004, 1005, 1006, 1015, 2999, 5000})
    CHECK(code_of(bad).kind == event::error);
}

TEST_CASE("a close frame without a code reports 1005", "[ws_frame]") {
  frame_parser p{100};
  auto wire = client_frame(opcode::close, "");
  auto ev = p.next(wire.data(), wire.size());
  CHECK(ev.kind == event::close);
  CHECK(ev.code == close_status::no_status);
  CHECK(ev.consumed == wire.size());
}

TEST_CASE("UTF-8 validation matches the standard", "[ws_frame]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii, long enough for the word loop"));
  CHECK(valid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK(valid_utf8("\xf4\x8f\xbf\xbf"));       // U+10FFFF
  CHECK_FALSE(valid_utf8("\xf4\x90\x80\x80")); // above U+10FFFF
  CHECK_FALSE(valid_utf8("\xc0\xaf"));         // overlong '/'
  CHECK_FALSE(valid_utf8("\xe0\x80\xaf"));     // overlong
  CHECK_FALSE(valid_utf8("\xed\xa0\x80"));     // a surrogate
  CHECK_FALSE(valid_utf8("\x80"));
  CHECK_FALSE(valid_utf8("abc\xe2\x82")); // cut short
  CHECK_FALSE(valid_utf8("12345678\xff"));
}

TEST_CASE("a close payload is cut to 125 bytes at a character boundary",
          "[ws_frame]") {
  CHECK(close_payload(close_status::no_status, "x").empty());
  auto p = close_payload(4001, "slow consumer");
  CHECK(p.size() == 2 + 13);
  CHECK(static_cast<unsigned char>(p[0]) == 0x0f);
  CHECK(static_cast<unsigned char>(p[1]) == 0xa1);
  std::string euros;
  for (int i = 0; i < 60; ++i)
    euros += "\xe2\x82\xac"; // 3 bytes each
  auto cut = close_payload(1000, euros);
  CHECK(cut.size() <= 125);
  CHECK(valid_utf8(cut.substr(2)));
  CHECK((cut.size() - 2) % 3 == 0);
}

TEST_CASE("random bytes never crash the parser or overrun",
          "[ws_frame][fuzz]") {
  std::mt19937 rng{20261130};
  std::vector<std::string> corpus{
    client_frame(opcode::text, R"({"type":"ping"})"),
    client_frame(opcode::text, "ab", false)
      + client_frame(opcode::continuation, "cd"),
    client_frame(opcode::close, std::string("\x03\xe8ok", 4)),
    client_frame(opcode::ping, "x"),
    client_frame(opcode::binary, std::string(200, '\0'))};
  for (int round = 0; round < 20'000; ++round) {
    auto s = corpus[rng() % corpus.size()];
    auto flips = 1 + rng() % 4;
    for (uint32_t i = 0; i < flips && !s.empty(); ++i) {
      switch (rng() % 3) {
        case 0:
          s[rng() % s.size()] = static_cast<char>(rng());
          break;
        case 1:
          s.resize(rng() % s.size());
          break;
        default:
          s += corpus[rng() % corpus.size()];
      }
    }
    frame_parser p{256};
    std::size_t used = 0;
    for (int guard = 0; guard < 1000; ++guard) {
      auto ev = p.next(s.data() + used, s.size() - used);
      if (ev.kind == event::need_more || ev.kind == event::error)
        break;
      REQUIRE(ev.consumed > 0);
      REQUIRE(ev.consumed <= s.size() - used);
      if (ev.kind == event::text)
        REQUIRE(valid_utf8(ev.payload));
      used += ev.consumed;
    }
  }
}
