#pragma once

// Reading JSON that came from a client. nlohmann_json stops at a NUL byte
// as if the input ended there, so "{...}\0junk" would pass as "{...}": every
// client document goes through parse_client_json instead.

#include <string>

#include <nlohmann/json.hpp>

namespace presence::edge {

/// Parses `text` without exceptions; a discarded value on any error,
/// including a NUL byte anywhere in the input.
inline nlohmann::json parse_client_json(const std::string& text) {
  if (text.find('\0') != std::string::npos)
    return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(text, nullptr, false);
}

/// A user or device id given as a JSON string or integer (seed front-ends
/// send numeric ids). Integers keep their exact decimal value, unsigned ones
/// above INT64_MAX included. False for any other type.
inline bool id_from_json(const nlohmann::json& j, std::string& out) {
  if (j.is_string()) {
    out = j.get<std::string>();
    return true;
  }
  if (j.is_number_unsigned()) {
    out = std::to_string(j.get<uint64_t>());
    return true;
  }
  if (j.is_number_integer()) {
    out = std::to_string(j.get<int64_t>());
    return true;
  }
  return false;
}

} // namespace presence::edge
