#include "edge/socketio/socketio_codec.hpp"

#include "edge/common/json_input.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <openssl/rand.h>

namespace presence::edge::sio {

namespace {

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

} // namespace

// -- Engine.IO ----------------------------------------------------------------

bool parse_eio(std::string_view text, eio_type& type, std::string_view& data) {
  if (text.empty())
    return false;
  char c = text[0];
  if (c < '0' || c > '6')
    return false; // includes 'b' (base64 binary): refused
  type = static_cast<eio_type>(c);
  data = text.substr(1);
  return true;
}

bool parse_eio(const std::string& text, eio_packet& out) {
  std::string_view data;
  if (!parse_eio(text, out.type, data))
    return false;
  out.data.assign(data);
  return true;
}

bool parse_eio_payload(const std::string& body, std::vector<eio_packet>& out,
                       size_t max_packets) {
  out.clear();
  size_t pos = 0;
  while (pos <= body.size()) {
    auto end = body.find(record_separator, pos);
    if (end == std::string::npos)
      end = body.size();
    eio_packet p;
    if (!parse_eio(body.substr(pos, end - pos), p))
      return false;
    out.push_back(std::move(p));
    if (out.size() > max_packets)
      return false;
    pos = end + 1;
  }
  return !out.empty();
}

std::string encode_eio(eio_type type, const std::string& data) {
  std::string out;
  out.reserve(data.size() + 1);
  out.push_back(static_cast<char>(type));
  out += data;
  return out;
}

std::string encode_eio_payload(const std::vector<std::string>& packets) {
  std::string out;
  for (size_t i = 0; i < packets.size(); ++i) {
    if (i > 0)
      out.push_back(record_separator);
    out += packets[i];
  }
  return out;
}

// -- Socket.IO ----------------------------------------------------------------

bool parse_sio(const std::string& text, sio_packet& out, std::string& err) {
  out = sio_packet{};
  if (text.empty() || text[0] < '0' || text[0] > '6') {
    err = "unknown Socket.IO packet type";
    return false;
  }
  out.type = static_cast<sio_type>(text[0] - '0');
  size_t i = 1;
  if (out.type == sio_type::binary_event || out.type == sio_type::binary_ack) {
    size_t start = i;
    while (i < text.size() && is_digit(text[i]) && i - start < 6)
      ++i;
    if (i == start || i >= text.size() || text[i] != '-') {
      err = "malformed binary attachment count";
      return false;
    }
    out.attachments = std::stoul(text.substr(start, i - start));
    ++i;
  }
  if (i < text.size() && text[i] == '/') {
    auto comma = text.find(',', i);
    if (comma == std::string::npos) {
      out.nsp = text.substr(i);
      i = text.size();
    } else {
      out.nsp = text.substr(i, comma - i);
      i = comma + 1;
    }
    if (out.nsp.size() > 256) {
      err = "namespace too long";
      return false;
    }
  }
  if (i < text.size() && is_digit(text[i])) {
    size_t start = i;
    while (i < text.size() && is_digit(text[i]))
      ++i;
    if (i - start > 15) {
      err = "ack id too long";
      return false;
    }
    out.ack_id = std::stoll(text.substr(start, i - start));
  }
  if (i < text.size()) {
    out.data = parse_client_json(text.substr(i));
    if (out.data.is_discarded()) {
      err = "payload is not valid JSON";
      return false;
    }
  }
  switch (out.type) {
    case sio_type::connect:
      if (!out.data.is_null() && !out.data.is_object()) {
        err = "CONNECT payload must be an object";
        return false;
      }
      return true;
    case sio_type::disconnect:
      // A DISCONNECT has no payload; one sent anyway is ignored (dropped,
      // not kept: a number after the type would re-encode as an ack id).
      out.data = nullptr;
      return true;
    case sio_type::event:
    case sio_type::binary_event:
      if (!out.data.is_array() || out.data.empty()
          || !out.data[0].is_string()) {
        err = "EVENT payload must be an array starting with the event name";
        return false;
      }
      return true;
    case sio_type::ack:
    case sio_type::binary_ack:
      if (!out.data.is_array()) {
        err = "ACK payload must be an array";
        return false;
      }
      if (out.ack_id == no_ack) {
        err = "ACK without an id";
        return false;
      }
      return true;
    case sio_type::connect_error:
      // Only an object or a string means something; anything else is
      // ignored (a number would re-encode as an ack id).
      if (!out.data.is_object() && !out.data.is_string())
        out.data = nullptr;
      return true;
  }
  return true;
}

std::string encode_sio(sio_type type, const std::string& nsp, const json& data,
                       int64_t ack_id) {
  std::string out(1, static_cast<char>('0' + static_cast<int>(type)));
  if (!nsp.empty() && nsp != "/") {
    out += nsp;
    out.push_back(',');
  }
  if (ack_id != no_ack)
    out += std::to_string(ack_id);
  if (!data.is_null())
    out += dump(data);
  return out;
}

namespace {

/// The string starting at `text[i]` (just past its opening quote) up to
/// its closing quote, if it holds no escape or control character; `i` ends
/// just past the closing quote.
bool plain_string(std::string_view text, size_t& i, std::string_view& out) {
  auto start = i;
  // Eight bytes at a time: the lowest byte flagged by these tests is a
  // quote, a backslash or a control character (higher flags may be
  // borrows), so it decides.
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                "the lowest flag is the first byte");
  constexpr uint64_t ones = 0x0101010101010101ULL;
  constexpr uint64_t highs = 0x8080808080808080ULL;
  while (i + 8 <= text.size()) {
    uint64_t w;
    std::memcpy(&w, text.data() + i, 8);
    auto zero_byte = [&](uint64_t v) { return (v - ones) & ~v & highs; };
    auto below_space = (w - ones * 0x20) & ~w & highs;
    auto flags = zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'))
                 | below_space;
    if (flags == 0) {
      i += 8;
      continue;
    }
    i += static_cast<size_t>(__builtin_ctzll(flags)) / 8;
    if (text[i] != '"')
      return false;
    out = text.substr(start, i - start);
    ++i;
    return true;
  }
  for (; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') {
      out = text.substr(start, i - start);
      ++i;
      return true;
    }
    if (c == '\\' || c < 0x20)
      return false;
  }
  return false;
}

} // namespace

bool match_simple_event(std::string_view text, simple_event& out) {
  if (text.size() < 5 || text.substr(0, 3) != "2[\"")
    return false;
  size_t i = 3;
  if (!plain_string(text, i, out.name) || out.name.empty())
    return false;
  if (i + 1 == text.size() && text[i] == ']') {
    out.has_arg = false;
    return true;
  }
  if (text.substr(i, 2) != ",\"")
    return false;
  i += 2;
  if (!plain_string(text, i, out.arg))
    return false;
  out.has_arg = true;
  return i + 1 == text.size() && text[i] == ']';
}

void user_online_status_packet(std::string& out, std::string_view user,
                               bool online) {
  // nlohmann's object keys are sorted: "online" before "userId".
  constexpr std::string_view head = R"(42["user_online_status",{"online":)";
  constexpr std::string_view mid = R"(,"userId":")";
  constexpr std::string_view tail = "\"}]";
  std::string_view value = online ? "true" : "false";
  out.resize(head.size() + value.size() + mid.size() + user.size()
             + tail.size());
  auto* p = out.data();
  for (auto part : {head, value, mid, user, tail}) {
    std::memcpy(p, part.data(), part.size());
    p += part.size();
  }
}

std::string eio_event(const std::string& nsp, const std::string& name,
                      const json& arg) {
  json arr = json::array({name, arg});
  return encode_eio(eio_type::message, encode_sio(sio_type::event, nsp, arr));
}

std::string eio_ack(const std::string& nsp, int64_t ack_id, const json& args) {
  return encode_eio(eio_type::message,
                    encode_sio(sio_type::ack, nsp, args, ack_id));
}

std::string eio_connect_ok(const std::string& nsp, const std::string& sid) {
  return encode_eio(eio_type::message,
                    encode_sio(sio_type::connect, nsp, json{{"sid", sid}}));
}

std::string eio_connect_error(const std::string& nsp,
                              const std::string& message) {
  return encode_eio(eio_type::message, encode_sio(sio_type::connect_error, nsp,
                                                  json{{"message", message}}));
}

std::string eio_disconnect(const std::string& nsp) {
  return encode_eio(eio_type::message,
                    encode_sio(sio_type::disconnect, nsp, json{}));
}

std::string make_sid() {
  static constexpr char alphabet[]
    = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // The sid authorizes polling requests: it must not be guessable.
  unsigned char bytes[20];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1)
    throw std::runtime_error("RAND_bytes failed");
  std::string out(20, 'A');
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = alphabet[bytes[i] % 64];
  return out;
}

bool reserved_event(const std::string& name) {
  static const char* names[] = {"connect",     "connect_error",
                                "disconnect",  "disconnecting",
                                "newListener", "removeListener"};
  for (auto n : names)
    if (name == n)
      return true;
  return false;
}

} // namespace presence::edge::sio
