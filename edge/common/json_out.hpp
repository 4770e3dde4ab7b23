#pragma once

// JSON text written directly into a string, for the frames every join and
// every delta sends (the native welcome, joined, status, status_set and
// user.status.changed):
// building an nlohmann tree and dumping it cost 11.6% of a node's CPU in
// a join storm (docs/benchmarks.md, twenty-third session). The bytes are
// the ones nlohmann's dump writes for the same object: callers write the
// keys sorted, as nlohmann's std::map keeps them, and a string that is not
// plain printable ASCII is escaped by nlohmann itself (tests compare both
// byte for byte).

#include <cstdint>
#include <string>
#include <string_view>

#include "core/messages.hpp"

namespace presence::edge {

/// Appends `s` as a JSON string, escaped as nlohmann's dump does (invalid
/// UTF-8 replaced by U+FFFD).
void append_json_string(std::string& out, std::string_view s);

/// One JSON object being written into `out`: `{` at construction, each
/// field appended with its comma, `}` at close(). Keys are written as
/// given (callers pass literals that need no escaping).
class json_object {
public:
  explicit json_object(std::string& out) : out_(out) { out_ += '{'; }

  json_object(const json_object&) = delete;
  json_object& operator=(const json_object&) = delete;

  /// Writes `"key":` (with the comma before it); the caller writes the value.
  std::string& key(std::string_view k);

  json_object& str(std::string_view k, std::string_view v);
  /// The string, or null when empty.
  json_object& str_or_null(std::string_view k, std::string_view v);
  json_object& num(std::string_view k, int64_t v);
  json_object& unum(std::string_view k, uint64_t v);
  /// The number, or null when not positive.
  json_object& num_or_null(std::string_view k, int64_t v);
  json_object& boolean(std::string_view k, bool v);
  /// ISO-8601 UTC with milliseconds, or null for 0 ("never").
  json_object& iso_or_null(std::string_view k, millis ms);
  /// `v` is JSON text already (a client's request id as the parser dumped
  /// it).
  json_object& raw(std::string_view k, std::string_view v);

  void close() { out_ += '}'; }

private:
  std::string& out_;
  bool first_ = true;
};

/// Appends a user's state in presenced's own field names, the same object
/// as seeds::native_user, closed; with `"type":type` when `type` is not
/// empty (a frame of its own).
void append_native_user(std::string& out, const presence_delta& d,
                        std::string_view type = {});

/// The same for a user's status, with its devices when `with_devices` (the
/// native `user` object of joined and status frames).
void append_native_user(std::string& out, const user_status& s,
                        bool with_devices);

} // namespace presence::edge
