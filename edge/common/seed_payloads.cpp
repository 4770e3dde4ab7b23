#include "edge/common/seed_payloads.hpp"

#include "core/clock.hpp"

namespace presence::edge::seeds {

namespace {

std::string display_name(const profile& p, const std::string& id) {
  return !p.name.empty() ? p.name : !p.username.empty() ? p.username : id;
}

std::string user_name(const profile& p, const std::string& id) {
  return !p.username.empty() ? p.username : id;
}

} // namespace

json iso_or_null(millis ms) {
  return ms > 0 ? json(iso8601(ms)) : json(nullptr);
}

json or_null(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json native_user(const presence_delta& d) {
  auto or_null_ms = [](millis ms) { return ms > 0 ? json(ms) : json(nullptr); };
  return {
    {"user_id", d.user_id},
    {"is_online", d.online},
    {"status", status_name(d.status)},
    {"last_seen", iso_or_null(d.last_seen)},
    {"last_seen_ms", or_null_ms(d.last_seen)},
    {"online_since", iso_or_null(d.online_since)},
    {"version", d.version},
    {"status_text", or_null(d.status_text)},
    {"status_expires_at", iso_or_null(d.status_expires)},
  };
}

json seed000_user(const presence_delta& u, const profile& p) {
  return {{"id", u.user_id},
          {"name", display_name(p, u.user_id)},
          {"username", user_name(p, u.user_id)},
          {"email", or_null(p.email)},
          {"avatar", or_null(p.avatar)},
          {"status", status_name(u.status)}};
}

json seed002_user(const presence_delta& u, const profile& p) {
  return {{"_id", u.user_id},
          {"userId", u.user_id},
          {"username", user_name(p, u.user_id)},
          {"name", display_name(p, u.user_id)},
          {"avatar", or_null(p.avatar)},
          {"isOnline", u.online},
          {"lastSeen", iso_or_null(u.last_seen)},
          {"status", status_name(u.status)}};
}

json seed002_status(const user_status& s) {
  return {{"userId", s.user_id},
          {"isOnline", s.online},
          {"lastSeen", iso_or_null(s.last_seen)},
          {"status", status_name(s.status)},
          {"version", s.version}};
}

json seed003_user(const presence_delta& u, const profile& p) {
  return {{"id", u.user_id},
          {"username", user_name(p, u.user_id)},
          {"profile_image_url", or_null(p.avatar)},
          {"is_online", u.online},
          {"last_seen", iso_or_null(u.last_seen)},
          {"last_activity", iso_or_null(u.last_seen)}};
}

json seed004_status(const user_status& s) {
  return {{"userId", s.user_id},
          {"online", s.online},
          {"lastActive", iso_or_null(s.last_seen)},
          {"connectedAt", iso_or_null(s.online_since)}};
}

json profile_json(const std::string& id, const profile& p) {
  return {{"id", id},
          {"name", p.name},
          {"username", p.username},
          {"email", p.email},
          {"avatar", or_null(p.avatar)}};
}

} // namespace presence::edge::seeds
