#pragma once

// The JSON bodies of the REST endpoints, read into values (private to
// edge/rest): pure functions, no actors, no sockets, so every body's rules
// are unit-tested and fuzzed (tests/fuzz/fuzz_rest_bodies.cpp). Each
// reader takes the parsed body (a JSON object; rest_call::json_body) and
// returns false with a stable code and a message for the 400 it gets.
// The contacts body is read by edge/common/contacts.hpp (the native frame
// shares it).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/messages.hpp"

namespace presence::edge::rest {

/// Why a body was refused (HTTP 400).
struct body_error {
  std::string code;
  std::string message;
};

/// Longest profile field stored.
constexpr size_t max_profile_field = 1024;

/// Ids one seed-002 batch may name.
constexpr size_t max_batch_ids = 1000;

/// PUT /api/users/:id/profile: name, username, email, avatar, each a
/// string of at most max_profile_field bytes or null (clears); `mask` the
/// profile_field bits of those present (at least one).
bool read_profile_body(const nlohmann::json& body, profile& out, uint8_t& mask,
                       body_error& err);

/// POST /api/user-status/batch: "userIds" (or "user_ids"), an array of at
/// most max_batch_ids valid ids (strings or integers).
bool read_batch_body(const nlohmann::json& body, std::vector<std::string>& ids,
                     body_error& err);

/// POST /api/privatechat/conversations: "participants", an array of at most
/// `max` ids (strings or integers; the chat rules check them further).
bool read_participants_body(const nlohmann::json& body, size_t max,
                            std::vector<std::string>& ids, body_error& err);

/// POST /api/privatechat/message.
struct message_body {
  /// "senderId" as named (dev mode: the sender when no header names one).
  std::string sender;
  std::string conversation_id;
  std::string content;
  std::string temp_id;
};
bool read_message_body(const nlohmann::json& body, message_body& out,
                       body_error& err);

/// PUT /api/user-status/last-seen in dev mode: the body's "userId" ("" when
/// absent or not an id-like value).
std::string read_last_seen_user(const nlohmann::json& body);

} // namespace presence::edge::rest
