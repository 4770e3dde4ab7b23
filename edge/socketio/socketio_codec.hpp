#pragma once

// Engine.IO protocol 4 and Socket.IO protocol 5 packet codecs, as spoken by
// socket.io-client@4. Pure functions: no sockets, no actors; unit-tested
// (tests/edge/socketio_codec_test.cpp) and fuzzed directly (the properties
// in tests/fuzz/invariants.hpp, checked by tests/edge/parser_fuzz_test.cpp
// and the libFuzzer target fuzz_socketio).
//
// Engine.IO packet (one WebSocket text frame, or one record of a polling
// payload; records are separated by '\x1e'):   <type digit><data>
//   0 open  1 close  2 ping  3 pong  4 message  5 upgrade  6 noop
// Socket.IO packet (the data of an Engine.IO message):
//   <type>[<attachments>-][/<namespace>,][<ack id>][<JSON>]
//   0 CONNECT  1 DISCONNECT  2 EVENT  3 ACK  4 CONNECT_ERROR
//   5 BINARY_EVENT  6 BINARY_ACK

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace presence::edge::sio {

using json = nlohmann::json;

// -- Engine.IO ----------------------------------------------------------------

enum class eio_type : char {
  open = '0',
  close = '1',
  ping = '2',
  pong = '3',
  message = '4',
  upgrade = '5',
  noop = '6',
};

struct eio_packet {
  eio_type type = eio_type::noop;
  std::string data;
};

/// Separator of packets in a polling payload.
constexpr char record_separator = '\x1e';

/// Parses one Engine.IO packet. Binary ('b' + base64) packets are refused:
/// presenced speaks JSON only.
bool parse_eio(const std::string& text, eio_packet& out);
/// The same, without a copy: `data` points into `text`.
bool parse_eio(std::string_view text, eio_type& type, std::string_view& data);

/// Splits a polling payload into packets; false if any packet is malformed
/// or there are more than `max_packets`.
bool parse_eio_payload(const std::string& body, std::vector<eio_packet>& out,
                       size_t max_packets = 1000);

std::string encode_eio(eio_type type, const std::string& data = {});

/// Joins encoded packets into one polling payload.
std::string encode_eio_payload(const std::vector<std::string>& packets);

// -- Socket.IO ----------------------------------------------------------------

enum class sio_type : int {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

constexpr int64_t no_ack = -1;

struct sio_packet {
  sio_type type = sio_type::event;
  std::string nsp = "/";
  int64_t ack_id = no_ack;
  /// CONNECT: auth object (or null); DISCONNECT: null (a payload is
  /// refused); EVENT: [name, args...]; ACK: [args...]; CONNECT_ERROR:
  /// {"message": ...} (an object, a string or null).
  json data;
  size_t attachments = 0;
};

/// Parses a Socket.IO packet; on failure `err` says why. Binary packets
/// (types 5 and 6) parse, so the caller can refuse them with a clear error.
/// Any other packet it accepts, encode_sio writes back as the same packet.
bool parse_sio(const std::string& text, sio_packet& out, std::string& err);

/// An event in the plain form socket.io-client gives `emit(name)` and
/// `emit(name, "text")` on namespace "/" without an acknowledgement:
/// `2["name"]` or `2["name","text"]`, no whitespace, no escapes in either
/// string. The heartbeat round of seed 000 is two of these; matching them
/// needs no JSON parse. False for anything else (a caller then parses the
/// packet): `arg` is set only when there is one.
struct simple_event {
  std::string_view name;
  std::string_view arg;
  bool has_arg = false;
};
bool match_simple_event(std::string_view text, simple_event& out);

/// `eio_event("/", "user_online_status", {"userId": user, "online": online})`
/// without building JSON: `user` must need no escaping (no '"', '\' or
/// control characters). Into `out`, a buffer the caller reuses.
void user_online_status_packet(std::string& out, std::string_view user,
                               bool online);

/// Encodes a Socket.IO packet (the data of an Engine.IO message, without the
/// leading '4').
std::string encode_sio(sio_type type, const std::string& nsp, const json& data,
                       int64_t ack_id = no_ack);

/// "42[...]" style helpers: the complete Engine.IO message.
std::string eio_event(const std::string& nsp, const std::string& name,
                      const json& arg);
std::string eio_ack(const std::string& nsp, int64_t ack_id, const json& args);
std::string eio_connect_ok(const std::string& nsp, const std::string& sid);
std::string eio_connect_error(const std::string& nsp,
                              const std::string& message);
std::string eio_disconnect(const std::string& nsp);

/// A random session id (20 url-safe characters).
std::string make_sid();

/// Event names socket.io reserves; a client may not emit them.
bool reserved_event(const std::string& name);

} // namespace presence::edge::sio
