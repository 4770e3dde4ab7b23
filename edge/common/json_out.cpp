#include "edge/common/json_out.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"

namespace presence::edge {

namespace {

/// True if nlohmann writes every byte of `s` as it is: printable ASCII
/// without quotes or backslashes (ids, device names, most status texts).
bool plain(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
      return false;
  return true;
}

template <class Int>
void append_number(std::string& out, Int v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, res.ptr);
}

/// The fields of seeds::native_user up to and including status_text, in
/// nlohmann's (sorted) key order; `U` is presence_delta or user_status.
template <class U>
void user_fields(json_object& o, const U& u) {
  o.boolean("is_online", u.online)
    .iso_or_null("last_seen", u.last_seen)
    .num_or_null("last_seen_ms", u.last_seen)
    .iso_or_null("online_since", u.online_since)
    .str("status", status_name(u.status))
    .iso_or_null("status_expires_at", u.status_expires)
    .str_or_null("status_text", u.status_text);
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  if (!plain(s)) {
    out += nlohmann::json(std::string{s})
             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
  out += s;
  out += '"';
}

std::string& json_object::key(std::string_view k) {
  if (!first_)
    out_ += ',';
  first_ = false;
  out_ += '"';
  out_ += k;
  out_ += "\":";
  return out_;
}

json_object& json_object::str(std::string_view k, std::string_view v) {
  append_json_string(key(k), v);
  return *this;
}

json_object& json_object::str_or_null(std::string_view k, std::string_view v) {
  if (v.empty())
    key(k) += "null";
  else
    str(k, v);
  return *this;
}

json_object& json_object::num(std::string_view k, int64_t v) {
  append_number(key(k), v);
  return *this;
}

json_object& json_object::unum(std::string_view k, uint64_t v) {
  append_number(key(k), v);
  return *this;
}

json_object& json_object::num_or_null(std::string_view k, int64_t v) {
  if (v > 0)
    return num(k, v);
  key(k) += "null";
  return *this;
}

json_object& json_object::boolean(std::string_view k, bool v) {
  key(k) += v ? "true" : "false";
  return *this;
}

json_object& json_object::iso_or_null(std::string_view k, millis ms) {
  auto& out = key(k);
  if (ms > 0) {
    out += '"';
    out += iso8601(ms);
    out += '"';
  } else {
    out += "null";
  }
  return *this;
}

json_object& json_object::raw(std::string_view k, std::string_view v) {
  key(k) += v;
  return *this;
}

void append_native_user(std::string& out, const presence_delta& d,
                        std::string_view type) {
  json_object o{out};
  user_fields(o, d);
  if (!type.empty())
    o.str("type", type);
  o.str("user_id", d.user_id).unum("version", d.version).close();
}

void append_native_user(std::string& out, const user_status& s,
                        bool with_devices) {
  json_object o{out};
  if (with_devices) {
    auto& arr = o.key("devices");
    arr += '[';
    for (size_t i = 0; i < s.devices.size(); ++i) {
      auto& d = s.devices[i];
      if (i > 0)
        arr += ',';
      json_object{arr}
        .iso_or_null("connected_at", d.connected_at)
        .str("device_id", d.device_id)
        .iso_or_null("last_active", d.last_active)
        .str("platform", d.platform)
        .str("status", status_name(d.status))
        .str("user_agent", d.user_agent)
        .close();
    }
    arr += ']';
  }
  user_fields(o, s);
  o.str("user_id", s.user_id).unum("version", s.version).close();
}

} // namespace presence::edge
