#include "edge/native/native_protocol.hpp"

#include <limits>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "edge/common/json_input.hpp"
#include "edge/common/json_out.hpp"
#include "edge/common/seed_payloads.hpp"

namespace presence::edge {

using json = nlohmann::json;

namespace {

std::string dump(const json& j) {
  // Invalid UTF-8 can only come from our own data; never throw over it.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

struct op_name {
  const char* name;
  native_op op;
};

constexpr op_name op_names[] = {
  {"join", native_op::join},
  {"identify", native_op::join},
  {"leave", native_op::leave},
  {"ping", native_op::ping},
  {"heartbeat", native_op::ping},
  {"get_status", native_op::get_status},
  {"get_statuses", native_op::get_statuses},
  {"batch_status", native_op::get_statuses},
  {"list_online", native_op::list_online},
  {"count_online", native_op::count_online},
  {"subscribe", native_op::subscribe},
  {"unsubscribe", native_op::unsubscribe},
  {"set_status", native_op::set_status},
  {"send", native_op::send},
  {"activity", native_op::activity},
  {"join_room", native_op::join_room},
  {"leave_room", native_op::leave_room},
  {"typing", native_op::typing},
  {"resync", native_op::resync},
  {"set_contacts", native_op::contacts},
  {"get_contacts", native_op::contacts},
  {"refresh", native_op::refresh},
};

// Reads an optional string field under either name; false on a wrong type.
bool opt_string(const json& j, const char* a, const char* b, std::string& out,
                protocol_error& err) {
  for (auto name : {a, b}) {
    if (name == nullptr)
      continue;
    auto i = j.find(name);
    if (i == j.end() || i->is_null())
      continue;
    // Seed front-ends send numeric ids; they are strings to us.
    if (id_from_json(*i, out))
      return true;
    err.code = "bad_request";
    err.message = std::string{"field '"} + name + "' must be a string";
    return false;
  }
  return true;
}

bool id_field(const json& j, const char* a, const char* b, std::string& out,
              protocol_error& err) {
  if (!opt_string(j, a, b, out, err))
    return false;
  if (!out.empty() && !valid_id(out)) {
    err.code = "invalid_id";
    err.message = std::string{"'"} + a
                  + "' must be 1-128 bytes of UTF-8 without spaces or "
                    "control characters";
    return false;
  }
  return true;
}

// Reads an optional integer field `name` in [lo, hi]; `what` and `lo_text`
// word the error ("'name' must be WHAT from LO_TEXT to HI").
bool int_field(const json& j, const char* name, long long lo, long long hi,
               const char* what, const std::string& lo_text, long long& out,
               protocol_error& err) {
  if (auto i = j.find(name); i != j.end() && !i->is_null()) {
    if (!i->is_number_integer() || i->get<long long>() < lo
        || i->get<long long>() > hi) {
      err.code = "bad_request";
      err.message = std::string{"'"} + name + "' must be " + what + " from "
                    + lo_text + " to " + std::to_string(hi);
      return false;
    }
    out = i->get<long long>();
  }
  return true;
}

// Reads an optional page size "limit" (1..max_page).
bool limit_field(const json& j, native_command& out, protocol_error& err) {
  long long limit = out.limit;
  if (!int_field(j, "limit", 1, max_page, "an integer", "1", limit, err))
    return false;
  out.limit = static_cast<uint32_t>(limit);
  return true;
}

// Reads an optional boolean field.
bool bool_field(const json& j, const char* name, bool& out,
                protocol_error& err) {
  if (auto i = j.find(name); i != j.end() && !i->is_null()) {
    if (!i->is_boolean()) {
      err.code = "bad_request";
      err.message = std::string{"'"} + name + "' must be a boolean";
      return false;
    }
    out = i->get<bool>();
  }
  return true;
}

bool id_list(const json& j, const char* a, const char* b,
             std::vector<std::string>& out, protocol_error& err) {
  for (auto name : {a, b}) {
    auto i = j.find(name);
    if (i == j.end() || i->is_null())
      continue;
    if (!i->is_array()) {
      err.code = "bad_request";
      err.message = std::string{"field '"} + name + "' must be an array";
      return false;
    }
    if (i->size() > max_ids_per_frame) {
      err.code = "too_many_ids";
      err.message = "at most " + std::to_string(max_ids_per_frame)
                    + " ids per frame";
      return false;
    }
    for (auto& x : *i) {
      std::string id;
      if (!id_from_json(x, id) || !valid_id(id)) {
        err.code = "invalid_id";
        err.message = std::string{"'"} + name + "' holds an invalid id";
        return false;
      }
      out.push_back(std::move(id));
    }
    return true;
  }
  return true;
}

/// Reads "status" (online/away/busy/dnd); absent is fine unless `required`.
bool status_field(const json& j, bool required, native_command& out,
                  protocol_error& err) {
  std::string st;
  if (!opt_string(j, "status", nullptr, st, err))
    return false;
  if (st.empty() && !required)
    return true;
  if (!parse_status(st, out.status)) {
    err.code = "bad_request";
    err.message = "'status' must be online, away, busy, dnd or invisible";
    return false;
  }
  out.has_status = true;
  return true;
}

using seeds::iso_or_null;

json user_json(const user_status& s) {
  return seeds::native_user(delta_of(s));
}

json reply(const char* type, const std::string& id_json) {
  json j = {{"type", type}};
  if (!id_json.empty())
    j["id"] = json::parse(id_json, nullptr, false);
  return j;
}

/// {"id":..,"type":type,"user":{..with devices}} (status, status_set).
std::string user_reply(const char* type, const std::string& id_json,
                       const user_status& s) {
  std::string out;
  out.reserve(512);
  json_object o{out};
  if (!id_json.empty())
    o.raw("id", id_json);
  o.str("type", type);
  append_native_user(o.key("user"), s, true);
  o.close();
  return out;
}

} // namespace

bool fast_ping(std::string_view s, std::string& id_json) {
  std::size_t i = 0;
  auto ws = [&] {
    while (i < s.size()
           && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
      ++i;
  };
  auto lit = [&](char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  // A string of printable ASCII without escapes: its text, unquoted.
  auto str = [&](std::string_view& out) {
    ws();
    if (i >= s.size() || s[i] != '"')
      return false;
    auto begin = ++i;
    for (; i < s.size() && s[i] != '"'; ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c < 0x20 || c >= 0x7f || c == '\\')
        return false;
    }
    if (i >= s.size())
      return false;
    out = s.substr(begin, i - begin);
    ++i;
    return true;
  };
  if (!lit('{'))
    return false;
  bool type = false;
  bool id = false;
  std::string_view id_text;
  for (;;) {
    std::string_view key;
    if (!str(key) || !lit(':'))
      return false;
    if (key == "type" && !type) {
      std::string_view v;
      if (!str(v) || v != "ping")
        return false;
      type = true;
    } else if (key == "id" && !id) {
      ws();
      auto begin = i;
      if (i < s.size() && s[i] == '"') {
        std::string_view v;
        if (!str(v) || v.size() > 256)
          return false;
      } else {
        // An integer as the tree dumps it: no leading zero, no "-0", no
        // fraction or exponent, small enough to stay an integer.
        if (i < s.size() && s[i] == '-')
          ++i;
        auto digits = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9')
          ++i;
        auto n = i - digits;
        if (n == 0 || n > 18 || (s[digits] == '0' && (n > 1 || digits > begin)))
          return false;
      }
      id_text = s.substr(begin, i - begin);
      id = true;
    } else {
      return false;
    }
    if (lit(','))
      continue;
    if (lit('}'))
      break;
    return false;
  }
  ws();
  if (i != s.size() || !type)
    return false;
  id_json.assign(id_text);
  return true;
}

bool parse_native(const std::string& text, native_command& out,
                  protocol_error& err) {
  std::string id_json;
  if (fast_ping(text, id_json)) {
    out = native_command{};
    err = protocol_error{};
    out.op = native_op::ping;
    out.id_json = id_json;
    err.id_json = std::move(id_json);
    return true;
  }
  return parse_native_tree(text, out, err);
}

bool parse_native_tree(const std::string& text, native_command& out,
                       protocol_error& err) {
  out = native_command{};
  err = protocol_error{};
  auto j = parse_client_json(text);
  if (j.is_discarded()) {
    err.code = "bad_json";
    err.message = "frame is not valid JSON";
    return false;
  }
  if (!j.is_object()) {
    err.code = "bad_request";
    err.message = "frame must be a JSON object";
    return false;
  }
  if (auto i = j.find("id"); i != j.end()) {
    if (!i->is_string() && !i->is_number()) {
      err.code = "bad_request";
      err.message = "'id' must be a string or a number";
      return false;
    }
    if (i->is_string() && i->get_ref<const std::string&>().size() > 256) {
      err.code = "bad_request";
      err.message = "'id' is longer than 256 characters";
      return false;
    }
    out.id_json = dump(*i);
    err.id_json = out.id_json;
  }
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) {
    err.code = "bad_request";
    err.message = "frame needs a string 'type'";
    return false;
  }
  auto& type = t->get_ref<const std::string&>();
  bool known = false;
  for (auto& x : op_names)
    if (type == x.name) {
      out.op = x.op;
      known = true;
      break;
    }
  if (!known) {
    err.code = "unknown_type";
    err.message = "unknown type '" + type.substr(0, 64) + "'";
    return false;
  }
  switch (out.op) {
    case native_op::join: {
      if (!id_field(j, "user_id", "userId", out.user_id, err)
          || !id_field(j, "device_id", "deviceId", out.device_id, err)
          || !opt_string(j, "user_agent", "userAgent", out.user_agent, err)
          || !opt_string(j, "platform", nullptr, out.platform, err)
          || !opt_string(j, "token", nullptr, out.token, err))
        return false;
      if (out.user_agent.size() > 512)
        out.user_agent.resize(512);
      if (out.platform.size() > 64)
        out.platform.resize(64);
      if (!int_field(j, "auto_away", 0, max_auto_away_s, "whole seconds",
                     "0 (off)", out.auto_away_s, err))
        return false;
      return status_field(j, false, out, err);
    }
    case native_op::get_status:
      if (!id_field(j, "user_id", "userId", out.user_id, err))
        return false;
      if (out.user_id.empty()) {
        err.code = "bad_request";
        err.message = "'user_id' is required";
        return false;
      }
      return true;
    case native_op::get_statuses:
      if (!id_list(j, "user_ids", "userIds", out.user_ids, err))
        return false;
      return true;
    case native_op::list_online: {
      if (!opt_string(j, "cursor", nullptr, out.cursor, err))
        return false;
      return limit_field(j, out, err);
    }
    case native_op::resync: {
      long long since = -1;
      long long limit = max_resync_changes;
      if (!int_field(j, "since", 0, std::numeric_limits<long long>::max(),
                     "a version (an integer)", "0", since, err)
          || !int_field(j, "limit", 1, max_resync_changes, "an integer", "1",
                        limit, err))
        return false;
      if (since < 0) {
        err.code = "bad_request";
        err.message = "'since' is required: the newest version you saw";
        return false;
      }
      out.since = static_cast<uint64_t>(since);
      out.limit = static_cast<uint32_t>(limit);
      return true;
    }
    case native_op::subscribe:
    case native_op::unsubscribe: {
      if (!id_list(j, "user_ids", "userIds", out.user_ids, err)
          || !bool_field(j, "global", out.global, err)
          || !bool_field(j, "snapshot", out.snapshot, err)
          || !limit_field(j, out, err))
        return false;
      if (out.user_ids.empty() && !out.global) {
        err.code = "bad_request";
        err.message = "name 'user_ids' or set 'global': true";
        return false;
      }
      return true;
    }
    case native_op::set_status: {
      if (!status_field(j, false, out, err))
        return false;
      if (auto i = j.find("status_text"); i != j.end()) {
        if (!i->is_string() && !i->is_null()) {
          err.code = "bad_request";
          err.message = "'status_text' must be a string (\"\" or null clears)";
          return false;
        }
        out.has_text = true;
        if (i->is_string())
          out.status_text = i->get<std::string>();
        if (out.status_text.size() > max_status_text_bytes) {
          err.code = "bad_request";
          err.message = "'status_text' is longer than "
                        + std::to_string(max_status_text_bytes) + " bytes";
          return false;
        }
      }
      if (!int_field(j, "status_expires_in", 1, max_status_expires_in_s,
                     "whole seconds", "1", out.text_expires_in_s, err))
        return false;
      if (!out.has_status && !out.has_text) {
        err.code = "bad_request";
        err.message
          = "set 'status' (online, away, busy or dnd), "
            "'status_text', or both";
        return false;
      }
      return true;
    }
    case native_op::send:
      // The content's rules are the chat's (edge/common/chat.hpp), the
      // same for every protocol.
      if (!id_field(j, "conversation_id", "conversationId", out.conversation_id,
                    err)
          || !opt_string(j, "temp_id", "tempId", out.temp_id, err))
        return false;
      if (auto i = j.find("content"); i != j.end() && !i->is_null()) {
        if (!i->is_string()) {
          err.code = "bad_request";
          err.message = "'content' must be a string";
          return false;
        }
        out.content = i->get<std::string>();
      }
      return true;
    case native_op::join_room:
    case native_op::leave_room:
    case native_op::typing: {
      if (!opt_string(j, "room", nullptr, out.room, err)
          || !bool_field(j, "typing", out.typing, err))
        return false;
      if (out.room.empty() || out.room.size() > max_room_bytes) {
        err.code = "bad_request";
        err.message = "'room' must be 1-" + std::to_string(max_room_bytes)
                      + " bytes";
        return false;
      }
      return true;
    }
    case native_op::refresh:
      if (!opt_string(j, "token", nullptr, out.token, err))
        return false;
      if (out.token.empty()) {
        err.code = "bad_request";
        err.message = "'token' is required: a fresh JWT of this session's user";
        return false;
      }
      return true;
    case native_op::contacts:
      // The server's --max-contacts is checked by the session; a frame's
      // size bounds the list here.
      if (j.value("type", "") == "get_contacts")
        return true;
      return read_contacts_change(j, std::numeric_limits<uint32_t>::max(),
                                  out.contacts, err.code, err.message);
    case native_op::activity:
    case native_op::leave:
    case native_op::ping:
    case native_op::count_online:
      return true;
  }
  return true;
}

std::string encode_error(const protocol_error& err) {
  return encode_error(err.id_json, err.code, err.message);
}

std::string encode_error(const std::string& id_json, const std::string& code,
                         const std::string& message) {
  auto j = reply("error", id_json);
  j["code"] = code;
  j["message"] = message;
  return dump(j);
}

// The frames of every join and delta are written directly (json_out.hpp:
// the same bytes as a json tree dumped, keys sorted; id_json is already
// JSON, dumped by the parser).

std::string encode_delta(const presence_delta& d) {
  std::string out;
  out.reserve(384); // ~260 bytes with a status text of none
  append_native_user(out, d, "user.status.changed");
  return out;
}

std::string encode_joined(const std::string& id_json, const join_ack& ack) {
  std::string out;
  out.reserve(512);
  json_object o{out};
  o.str("device_id", ack.device_id);
  if (!id_json.empty())
    o.raw("id", id_json);
  o.str("type", "joined");
  append_native_user(o.key("user"), ack.status, true);
  o.str("user_id", ack.status.user_id).close();
  return out;
}

std::string encode_left(const std::string& id_json) {
  return dump(reply("left", id_json));
}

void encode_pong(std::string& out, std::string_view id_json, millis now) {
  // The most frequent frame, written directly (the same bytes as the json
  // encoding: keys in order; id_json is already JSON, dumped by the parser).
  char stamp[iso8601_max];
  auto stamp_len = iso8601(now, stamp);
  out.clear();
  out.reserve(id_json.size() + stamp_len + 40);
  out += '{';
  if (!id_json.empty()) {
    out += "\"id\":";
    out += id_json;
    out += ',';
  }
  out += "\"timestamp\":\"";
  out.append(stamp, stamp_len);
  out += "\",\"type\":\"pong\"}";
}

std::string encode_pong(const std::string& id_json, millis now) {
  std::string out;
  encode_pong(out, id_json, now);
  return out;
}

std::string encode_status(const std::string& id_json, const user_status& s) {
  return user_reply("status", id_json, s);
}

std::string encode_statuses(const std::string& id_json,
                            const std::vector<user_status>& xs) {
  auto j = reply("statuses", id_json);
  auto arr = json::array();
  for (auto& s : xs)
    arr.push_back(user_json(s));
  j["users"] = std::move(arr);
  return dump(j);
}

std::string encode_online_list(const std::string& id_json,
                               const online_page& page) {
  auto j = reply("online_list", id_json);
  auto arr = json::array();
  for (auto& d : page.users)
    arr.push_back(seeds::native_user(d));
  j["users"] = std::move(arr);
  j["next_cursor"] = page.next_cursor.empty() ? json(nullptr)
                                              : json(page.next_cursor);
  j["total"] = page.total;
  return dump(j);
}

std::string encode_resync(const std::string& id_json, const change_page& p) {
  auto j = reply(p.complete ? "resynced" : "resync_required", id_json);
  if (p.complete) {
    auto arr = json::array();
    for (auto& d : p.changes)
      arr.push_back(seeds::native_user(d));
    j["changes"] = std::move(arr);
  } else {
    j["oldest"] = p.oldest;
  }
  j["cursor"] = p.cursor;
  return dump(j);
}

std::string encode_refreshed(const std::string& id_json, millis expires_at) {
  auto j = reply("refreshed", id_json);
  j["expires_at"] = iso_or_null(expires_at);
  j["expires_at_ms"] = expires_at > 0 ? json(expires_at) : json(nullptr);
  return dump(j);
}

std::string encode_contacts(const std::string& id_json, const std::string& user,
                            const contact_settings& s,
                            bool contacts_by_default) {
  auto j = reply("contacts", id_json);
  auto c = contacts_json(user, s, contacts_by_default);
  j["user_id"] = user;
  j["visibility"] = std::move(c["visibility"]);
  j["effective"] = std::move(c["effective"]);
  j["contacts"] = std::move(c["contacts"]);
  return dump(j);
}

std::string encode_count(const std::string& id_json, uint64_t n) {
  auto j = reply("online_count", id_json);
  j["count"] = n;
  return dump(j);
}

std::string encode_subscribed(const std::string& id_json, bool subscribe,
                              const std::vector<std::string>& users,
                              bool global,
                              const std::vector<user_status>* states,
                              const online_page* online) {
  auto j = reply(subscribe ? "subscribed" : "unsubscribed", id_json);
  j["user_ids"] = users;
  j["global"] = global;
  if (states != nullptr) {
    auto arr = json::array();
    for (auto& s : *states)
      arr.push_back(user_json(s));
    j["users"] = std::move(arr);
  }
  if (online != nullptr) {
    auto arr = json::array();
    for (auto& d : online->users)
      arr.push_back(seeds::native_user(d));
    j["online"] = {{"users", std::move(arr)},
                   {"next_cursor", online->next_cursor.empty()
                                     ? json(nullptr)
                                     : json(online->next_cursor)},
                   {"total", online->total}};
  }
  return dump(j);
}

std::string encode_status_set(const std::string& id_json,
                              const user_status& s) {
  return user_reply("status_set", id_json, s);
}

std::string encode_expired(const std::string& device_id,
                           const std::string& reason) {
  return dump(json{{"type", "session.expired"},
                   {"device_id", device_id},
                   {"reason", reason}});
}

namespace {

json message_json(const chat_message& m) {
  return {{"id", m.id},
          {"conversation_id", m.conversation_id},
          {"sender_id", m.sender_id},
          {"content", m.content},
          {"created_at", iso8601(m.created_at)},
          {"temp_id", m.temp_id.empty() ? json(nullptr) : json(m.temp_id)}};
}

} // namespace

std::string encode_message(const chat_message& m) {
  return dump(json{{"type", "message"}, {"message", message_json(m)}});
}

std::string encode_sent(const std::string& id_json, const chat_message& m,
                        bool delivered) {
  auto j = reply("sent", id_json);
  j["message"] = message_json(m);
  j["delivered"] = delivered;
  return dump(j);
}

std::string encode_active(const std::string& id_json) {
  return dump(reply("active", id_json));
}

std::string encode_room_reply(const std::string& id_json, const char* type,
                              const std::string& room) {
  auto j = reply(type, id_json);
  j["room"] = room;
  return dump(j);
}

std::string encode_typing(const room_signal& sig) {
  return dump(json{{"type", "room.typing"},
                   {"room", sig.room},
                   {"user_id", sig.user_id},
                   {"typing", sig.typing}});
}

std::string encode_welcome(const std::string& user_id,
                           const std::string& device_id, millis ttl_ms,
                           bool global_feed) {
  std::string out;
  out.reserve(160);
  json_object{out}
    .str_or_null("device_id", device_id)
    .boolean("global_feed", global_feed)
    .num("heartbeat_ttl_ms", ttl_ms)
    .str("server", "presenced")
    .str("type", "welcome")
    .str_or_null("user_id", user_id)
    .close();
  return out;
}

} // namespace presence::edge
