#include "edge/common/chat.hpp"

#include <cstdio>
#include <random>

#include <openssl/sha.h>
#include <prometheus/counter.h>

#include "core/clock.hpp"

namespace presence::edge::chat {

client_error failure(unsigned http, std::string code, std::string message) {
  client_error e;
  e.code = std::move(code);
  e.message = std::move(message);
  e.http_status = http;
  return e;
}

void count_stored(edge_context& ctx) {
  ctx.probe.chat_messages->Increment();
}

std::vector<std::string> recipients(const conversation& c,
                                    const std::string& sender) {
  std::vector<std::string> out;
  for (auto& p : c.participants)
    if (p != sender)
      out.push_back(p);
  return out;
}

client_error queue_full(const std::string& user, uint32_t n) {
  return failure(429, "too_many_requests",
                 user + " has " + std::to_string(n)
                   + " undelivered messages waiting; try again later");
}

std::optional<client_error> validate(const send_request& req) {
  if (req.conversation_id.empty())
    return failure(400, "bad_request", "conversationId is required");
  if (!valid_id(req.conversation_id))
    return failure(400, "bad_request", "conversationId is not a valid id");
  if (req.content.find_first_not_of(" \t\r\n") == std::string::npos)
    return failure(400, "bad_request", "content must not be empty");
  if (req.content.size() > max_content_bytes)
    return failure(400, "bad_request",
                   "content is longer than " + std::to_string(max_content_bytes)
                     + " bytes");
  if (req.temp_id.size() > max_temp_id_bytes)
    return failure(400, "bad_request",
                   "tempId is longer than " + std::to_string(max_temp_id_bytes)
                     + " bytes");
  return std::nullopt;
}

std::optional<client_error>
normalize_participants(std::vector<std::string>& ids) {
  for (auto& id : ids)
    if (!valid_id(id))
      return failure(400, "bad_request", "participants holds an invalid id");
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.size() < 2 || ids.size() > max_participants)
    return failure(400, "bad_request",
                   "participants must name 2 to "
                     + std::to_string(max_participants) + " different users");
  return std::nullopt;
}

std::string direct_id(const std::string& a, const std::string& b) {
  auto pair = a < b ? a + '\n' + b : b + '\n' + a;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(pair.data()), pair.size(),
         digest);
  std::string out = "dm_";
  char hex[3];
  for (int i = 0; i < 16; ++i) {
    std::snprintf(hex, sizeof(hex), "%02x", digest[i]);
    out += hex;
  }
  return out;
}

std::string group_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[24];
  std::snprintf(buf, sizeof(buf), "grp_%016llx",
                static_cast<unsigned long long>(rng()));
  return buf;
}

json to_json(const chat_message& m) {
  return {{"id", m.id},
          {"conversationId", m.conversation_id},
          {"senderId", m.sender_id},
          {"content", m.content},
          {"createdAt", iso8601(m.created_at)},
          {"tempId", m.temp_id.empty() ? json(nullptr) : json(m.temp_id)}};
}

json to_json(const conversation& c) {
  return {{"id", c.id},
          {"participants", c.participants},
          {"createdAt", iso8601(c.created_at)}};
}

uint64_t seq_of(const std::string& conv, const std::string& id) {
  std::string digits = id;
  if (id.size() > conv.size() + 1 && id.compare(0, conv.size(), conv) == 0
      && id[conv.size()] == ':')
    digits = id.substr(conv.size() + 1);
  if (digits.empty() || digits.size() > 19
      || digits.find_first_not_of("0123456789") != std::string::npos)
    return 0;
  return std::stoull(digits);
}

} // namespace presence::edge::chat
