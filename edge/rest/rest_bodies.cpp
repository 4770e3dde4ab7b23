#include "edge/rest/rest_bodies.hpp"

#include "core/ids.hpp"
#include "edge/common/json_input.hpp"

namespace presence::edge::rest {

namespace {

bool refuse(body_error& err, std::string code, std::string message) {
  err.code = std::move(code);
  err.message = std::move(message);
  return false;
}

} // namespace

bool read_profile_body(const nlohmann::json& body, profile& out, uint8_t& mask,
                       body_error& err) {
  mask = 0;
  if (!body.is_object())
    return refuse(err, "bad_json", "the body must be a JSON object");
  struct field {
    const char* name;
    std::string profile::*member;
    uint8_t bit;
  };
  static const field fields[] = {
    {"name", &profile::name, profile_name},
    {"username", &profile::username, profile_username},
    {"email", &profile::email, profile_email},
    {"avatar", &profile::avatar, profile_avatar},
  };
  for (auto& f : fields) {
    auto i = body.find(f.name);
    if (i == body.end())
      continue;
    if (i->is_string()) {
      auto& v = i->get_ref<const std::string&>();
      if (v.size() > max_profile_field)
        return refuse(err, "bad_request",
                      std::string{"'"} + f.name + "' is longer than "
                        + std::to_string(max_profile_field) + " bytes");
      out.*f.member = v;
    } else if (!i->is_null()) {
      return refuse(err, "bad_request",
                    std::string{"'"} + f.name + "' must be a string or null");
    }
    mask |= f.bit;
  }
  if (mask == 0)
    return refuse(err, "bad_request",
                  "name at least one of name, username, email, avatar");
  return true;
}

bool read_batch_body(const nlohmann::json& body, std::vector<std::string>& ids,
                     body_error& err) {
  if (!body.is_object())
    return refuse(err, "bad_json", "the body must be a JSON object");
  auto i = body.find("userIds");
  if (i == body.end())
    i = body.find("user_ids");
  if (i == body.end() || !i->is_array())
    return refuse(err, "bad_request", "'userIds' must be an array of user ids");
  if (i->size() > max_batch_ids)
    return refuse(err, "too_many_ids",
                  "at most " + std::to_string(max_batch_ids)
                    + " userIds per request");
  for (auto& x : *i) {
    std::string id;
    if (!id_from_json(x, id) || !valid_id(id))
      return refuse(err, "invalid_id", "'userIds' holds an invalid id");
    ids.push_back(std::move(id));
  }
  return true;
}

bool read_participants_body(const nlohmann::json& body, size_t max,
                            std::vector<std::string>& ids, body_error& err) {
  if (!body.is_object())
    return refuse(err, "bad_json", "the body must be a JSON object");
  auto ps = body.find("participants");
  if (ps == body.end() || !ps->is_array() || ps->size() > max)
    return refuse(err, "bad_request",
                  "participants must be an array of user ids");
  for (auto& x : *ps) {
    std::string id;
    if (!id_from_json(x, id))
      return refuse(err, "bad_request", "participants holds an invalid id");
    ids.push_back(std::move(id));
  }
  return true;
}

bool read_message_body(const nlohmann::json& body, message_body& out,
                       body_error& err) {
  if (!body.is_object())
    return refuse(err, "bad_json", "the body must be a JSON object");
  if (auto i = body.find("senderId"); i != body.end())
    id_from_json(*i, out.sender);
  if (auto i = body.find("conversationId"); i != body.end())
    id_from_json(*i, out.conversation_id);
  if (auto i = body.find("content"); i != body.end() && i->is_string())
    out.content = i->get<std::string>();
  if (auto i = body.find("tempId");
      i != body.end() && !i->is_null() && !id_from_json(*i, out.temp_id))
    return refuse(err, "bad_request", "tempId must be a string or an integer");
  return true;
}

std::string read_last_seen_user(const nlohmann::json& body) {
  std::string user;
  if (body.is_object())
    if (auto i = body.find("userId"); i != body.end())
      id_from_json(*i, user);
  return user;
}

} // namespace presence::edge::rest
