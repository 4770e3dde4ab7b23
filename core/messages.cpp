#include "core/messages.hpp"

#include <algorithm>

#include <caf/actor_system_config.hpp>
#include <caf/message.hpp>

namespace presence {

const char* status_name(presence_status x) {
  switch (x) {
    case presence_status::online:
      return "online";
    case presence_status::away:
      return "away";
    case presence_status::busy:
      return "busy";
    case presence_status::dnd:
      return "dnd";
    case presence_status::invisible:
      return "invisible";
    case presence_status::offline:
      break;
  }
  return "offline";
}

bool parse_status(const std::string& text, presence_status& out) {
  if (text == "online")
    out = presence_status::online;
  else if (text == "away")
    out = presence_status::away;
  else if (text == "busy")
    out = presence_status::busy;
  else if (text == "dnd")
    out = presence_status::dnd;
  else if (text == "invisible")
    out = presence_status::invisible;
  else
    return false;
  return true;
}

const char* visibility_name(visibility_mode x) {
  switch (x) {
    case visibility_mode::everyone:
      return "everyone";
    case visibility_mode::contacts:
      return "contacts";
    case visibility_mode::server_default:
      break;
  }
  return "default";
}

bool parse_visibility(const std::string& text, visibility_mode& out) {
  if (text == "default")
    out = visibility_mode::server_default;
  else if (text == "everyone")
    out = visibility_mode::everyone;
  else if (text == "contacts")
    out = visibility_mode::contacts;
  else
    return false;
  return true;
}

visibility make_visibility(const contact_settings& s,
                           bool contacts_by_default) {
  bool restricted = s.mode == visibility_mode::contacts
                    || (s.mode == visibility_mode::server_default
                        && contacts_by_default);
  if (!restricted)
    return {};
  auto ids = s.ids;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return {std::make_shared<const visibility::rule>(
    visibility::rule{std::move(ids), s.since})};
}

visibility with_since(const visibility& v, uint64_t since) {
  if (!v.r)
    return v;
  return {std::make_shared<const visibility::rule>(
    visibility::rule{v.r->contacts, since})};
}

bool same_visibility(const visibility& a, const visibility& b) {
  if (a.r == b.r)
    return true;
  return a.r && b.r && a.r->contacts == b.r->contacts;
}

bool announced_to(const viewer& who, const presence_delta& d) {
  return !d.vis.restricted() || !hidden_from(who, d)
         || d.version == d.vis.since();
}

bool may_see(const viewer& who, const std::string& user, const visibility& v) {
  if (!v.r || who.all)
    return true;
  if (who.user_id.empty())
    return false;
  return who.user_id == user
         || std::binary_search(v.r->contacts.begin(), v.r->contacts.end(),
                               who.user_id);
}

bool hidden_from(const viewer& who, const presence_delta& d) {
  return !may_see(who, d.user_id, d.vis);
}

bool hidden_from(const viewer& who, const user_status& s) {
  return !may_see(who, s.user_id, s.vis);
}

presence_delta hidden(const presence_delta& d) {
  presence_delta h;
  h.user_id = d.user_id;
  h.version = d.vis.since();
  h.vis = d.vis;
  return h;
}

void hide(user_status& s) {
  s.version = s.vis.since();
  s.online = false;
  s.status = presence_status::offline;
  s.last_seen = 0;
  s.online_since = 0;
  s.devices.clear();
  s.status_text.clear();
  s.status_expires = 0;
}

const char* to_string(errc x) {
  switch (x) {
    case errc::none:
      return "none";
    case errc::too_many_devices:
      return "too_many_devices";
    case errc::shutting_down:
      return "shutting_down";
    case errc::user_gone:
      return "user_gone";
    case errc::invalid_argument:
      return "invalid_argument";
    case errc::too_many_subscriptions:
      return "too_many_subscriptions";
  }
  return "unknown";
}

namespace {
constexpr caf::atom_value errc_category = caf::atom("presence");
} // namespace

caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), errc_category};
}

errc presence_code(const caf::error& err) {
  if (!err || err.category() != errc_category)
    return errc::none;
  return static_cast<errc>(err.code());
}

} // namespace presence

namespace presence::persistence {

const char* to_string(errc x) {
  switch (x) {
    case errc::none:
      return "none";
    case errc::io_error:
      return "io_error";
    case errc::corruption:
      return "corruption";
    case errc::unavailable:
      return "unavailable";
  }
  return "unknown";
}

namespace {
constexpr caf::atom_value store_category = caf::atom("store");
} // namespace

caf::atom_value error_category() {
  return store_category;
}

caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), store_category};
}

errc store_code(const caf::error& err) {
  if (!err || err.category() != store_category)
    return errc::none;
  return static_cast<errc>(err.code());
}

} // namespace presence::persistence

namespace presence {

void apply_fields(profile& to, const profile& from, uint8_t mask) {
  if (mask & profile_name)
    to.name = from.name;
  if (mask & profile_username)
    to.username = from.username;
  if (mask & profile_email)
    to.email = from.email;
  if (mask & profile_avatar)
    to.avatar = from.avatar;
  if (mask & profile_visibility)
    to.contacts.mode = from.contacts.mode;
  if (mask & profile_contacts)
    to.contacts.ids = from.contacts.ids;
  if (mask & (profile_visibility | profile_contacts))
    to.contacts.since = from.contacts.since;
}

presence_delta delta_of(const user_status& s) {
  return {s.user_id,     s.online,         s.status,
          s.last_seen,   s.online_since,   s.version,
          s.status_text, s.status_expires, s.vis};
}

user_status status_of(const presence_delta& d) {
  user_status s;
  s.user_id = d.user_id;
  s.online = d.online;
  s.status = d.status;
  s.last_seen = d.last_seen;
  s.online_since = d.online_since;
  s.version = d.version;
  s.status_text = d.status_text;
  s.status_expires = d.status_expires;
  s.vis = d.vis;
  return s;
}

void register_types(caf::actor_system_config& cfg) {
  cfg.add_message_types<caf::id_block::presence>();
  cfg.add_error_category(errc_category,
                         [](uint8_t code, caf::atom_value,
                            const caf::message&) -> std::string {
                           return std::string{"presence: "}
                                  + to_string(static_cast<errc>(code));
                         });
  cfg.add_error_category(persistence::error_category(),
                         [](uint8_t code, caf::atom_value,
                            const caf::message&) -> std::string {
                           return std::string{"store: "}
                                  + persistence::to_string(
                                    static_cast<persistence::errc>(code));
                         });
}

direct_listener::~direct_listener() = default;

std::shared_ptr<delivery_home> direct_listener::home() const {
  return nullptr;
}

void direct_listener::warm(int) const {
  // nop
}

delivery_home::~delivery_home() = default;

} // namespace presence
