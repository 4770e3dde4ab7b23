// presenced's own user endpoints: profiles, history, full status
// (docs/api.md).

#include <caf/event_based_actor.hpp>

#include "core/ids.hpp"
#include "edge/common/contacts_store.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/rest/rest_bodies.hpp"
#include "edge/rest/routes.hpp"

namespace presence::edge::rest {

namespace {

/// History entries when ?limit= is absent.
constexpr uint32_t default_history = 20;

using seeds::iso_or_null;
using seeds::native_user;
using seeds::profile_json;

/// The :user of the path; replies 400 and returns false when it is junk.
bool user_param(const call_ptr& c, std::string& out) {
  out = c->params[0];
  if (!valid_id(out)) {
    c->fail(400, "invalid_id", "not a valid user id");
    return false;
  }
  return true;
}

void get_profile(const call_ptr& c) {
  std::string user;
  if (!user_param(c, user))
    return;
  ask_then<profile>(
    c, c->ctx->store,
    [c, user](profile& p) {
      if (!p.known) {
        c->fail(404, "not_found", "no profile stored for this user");
        return;
      }
      c->reply(200, {{"success", true}, {"data", profile_json(user, p)}});
    },
    get_atom::value, profile_atom::value, user);
}

void put_profile(const call_ptr& c) {
  std::string user;
  if (!user_param(c, user))
    return;
  std::string me;
  if (c->ctx->cfg.edge.jwt_mode()) {
    if (!c->requester(me, true))
      return;
    if (me != user && !c->admin()) {
      c->fail(403, "forbidden",
              "you may only change your own profile (an admin token may "
              "change anyone's)");
      return;
    }
  }
  json body;
  if (!c->json_body(body))
    return;
  // Only the fields present change; each must be a string (or null =
  // clear). The store merges them in one step.
  profile p;
  uint8_t mask = 0;
  body_error err;
  if (!read_profile_body(body, p, mask, err)) {
    c->fail(400, err.code, err.message);
    return;
  }
  ask_then<profile>(
    c, c->ctx->store,
    [c, user](profile& stored) {
      if (c->ctx->profile_changed)
        c->ctx->profile_changed(user);
      c->reply(200, {{"success", true}, {"data", profile_json(user, stored)}});
    },
    put_atom::value, profile_atom::value, user, p, mask);
}

/// JWT mode: only the user (or an admin) may read or change who may see
/// them; replies 401/403 and returns false otherwise. Dev mode: anyone.
bool own_or_admin(const call_ptr& c, const std::string& user,
                  const char* what) {
  if (!c->ctx->cfg.edge.jwt_mode())
    return true;
  std::string me;
  if (!c->requester(me, true))
    return false;
  if (me != user && !c->admin()) {
    c->fail(403, "forbidden",
            std::string{"you may only "} + what
              + " your own contacts (an admin token may do it for anyone)");
    return false;
  }
  return true;
}

void contacts_reply(const call_ptr& c, const std::string& user,
                    const contact_settings& s) {
  c->reply(200,
           {{"success", true},
            {"data",
             contacts_json(user, s, c->ctx->cfg.actors.contacts_by_default)}});
}

void get_contacts(const call_ptr& c) {
  std::string user;
  if (!user_param(c, user) || !own_or_admin(c, user, "read"))
    return;
  ask_then<profile>(
    c, c->ctx->store,
    [c, user](profile& p) { contacts_reply(c, user, p.contacts); },
    get_atom::value, profile_atom::value, user);
}

void put_contacts(const call_ptr& c) {
  std::string user;
  if (!user_param(c, user) || !own_or_admin(c, user, "change"))
    return;
  json body;
  if (!c->json_body(body))
    return;
  contacts_change change;
  std::string code;
  std::string message;
  if (!read_contacts_change(body, c->ctx->cfg.actors.max_contacts, change, code,
                            message)) {
    c->fail(400, code, message);
    return;
  }
  if (!change.has_mode && !change.has_ids) {
    c->fail(400, "bad_request", "name 'visibility', 'contacts' or both");
    return;
  }
  c->ctx->sys.spawn([c, user, change](caf::event_based_actor* self) {
    edge::put_contacts(
      self, *c->ctx, user, change,
      [c, user](const contact_settings& s) { contacts_reply(c, user, s); },
      [c](const caf::error& err) { c->fail(err); });
  });
}

json history_entry(millis start, millis end, bool open) {
  if (open)
    return {{"start", iso8601(start)}, {"end", nullptr},
            {"start_ms", start},       {"end_ms", nullptr},
            {"duration_ms", nullptr},  {"open", true}};
  return {{"start", iso8601(start)},    {"end", iso8601(end)},
          {"start_ms", start},          {"end_ms", end},
          {"duration_ms", end - start}, {"open", false}};
}

void get_history(const call_ptr& c) {
  std::string user;
  if (!user_param(c, user))
    return;
  uint32_t limit = 0;
  if (!c->limit(default_history, c->ctx->cfg.persistence.history_limit, limit))
    return;
  ask_then<user_status>(
    c, c->ctx->api,
    [c, user, limit](user_status& s) {
      if (hidden_from(c->who(), s)) {
        // Someone the user hides from sees no sessions and no last_seen.
        c->reply(200, {{"success", true},
                       {"userId", user},
                       {"lastSeen", nullptr},
                       {"data", json::array()}});
        return;
      }
      auto current = std::make_shared<user_status>(std::move(s));
      ask_then<std::vector<session_record>>(
        c, c->ctx->store,
        [c, user, limit, current](std::vector<session_record>& rs) {
          auto data = json::array();
          // The session under way, if any, comes first.
          if (current->online && current->online_since > 0)
            data.push_back(history_entry(current->online_since, 0, true));
          for (auto& r : rs) {
            if (data.size() >= limit)
              break;
            data.push_back(history_entry(r.start, r.end, false));
          }
          c->reply(200, {{"success", true},
                         {"userId", user},
                         {"lastSeen", iso_or_null(current->last_seen)},
                         {"data", data}});
        },
        history_atom::value, user, limit);
    },
    get_atom::value, user);
}

void get_native_status(const call_ptr& c) {
  std::string user;
  if (!user_param(c, user))
    return;
  ask_then<user_status>(
    c, c->ctx->api,
    [c](user_status& s) {
      if (hidden_from(c->who(), s))
        hide(s);
      auto devices = json::array();
      for (auto& d : s.devices)
        devices.push_back({{"device_id", d.device_id},
                           {"user_agent", d.user_agent},
                           {"platform", d.platform},
                           {"status", status_name(d.status)},
                           {"connected_at", iso_or_null(d.connected_at)},
                           {"last_active", iso_or_null(d.last_active)}});
      c->reply(200,
               {{"success", true},
                {"data",
                 {{"user_id", s.user_id},
                  {"is_online", s.online},
                  {"status", status_name(s.status)},
                  {"last_seen", iso_or_null(s.last_seen)},
                  {"online_since", iso_or_null(s.online_since)},
                  {"version", s.version},
                  {"status_text",
                   s.status_text.empty() ? json(nullptr) : json(s.status_text)},
                  {"status_expires_at", iso_or_null(s.status_expires)},
                  {"devices", devices}}}});
    },
    get_atom::value, user);
}

/// Most changes one reply carries (more: 410 resync_required).
constexpr uint32_t max_changes = 10'000;

void get_changes(const call_ptr& c) {
  // Everyone's changes: the global feed, pulled (--global-feed admin).
  const auto& edge = c->ctx->cfg.edge;
  if (edge.jwt_mode() && edge.global_feed == "admin" && !c->admin()) {
    c->fail(403, "forbidden",
            "every user's changes need an admin token (--global-feed admin)");
    return;
  }
  auto s = query_param(c->target, "since");
  bool digits = !s.empty() && s.size() <= 19
                && s.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) {
    c->fail(400, "bad_request",
            "since is required: the newest version you saw (an integer)");
    return;
  }
  auto since = std::stoull(s);
  uint32_t limit = 0;
  if (!c->limit(1000, max_changes, limit))
    return;
  ask_then<change_page>(
    c, c->ctx->api,
    [c](change_page& p) {
      if (!p.complete) {
        c->reply(410, {{"success", false},
                       {"code", "resync_required"},
                       {"message",
                        "changes since then are no longer all "
                        "kept (or more than limit): list again"},
                       {"oldest", p.oldest},
                       {"cursor", p.cursor}});
        return;
      }
      auto changes = json::array();
      auto who = c->who();
      for (auto& d : p.changes)
        changes.push_back(native_user(hidden_from(who, d) ? hidden(d) : d));
      c->reply(200, {{"success", true},
                     {"changes", std::move(changes)},
                     {"cursor", p.cursor}});
    },
    changes_atom::value, delta_listener{}, since, limit);
}

} // namespace

void add_user_routes(route_table& t) {
  t.add("GET", "/api/presence/changes", get_changes);
  t.add("GET", "/api/users/:user/profile", get_profile);
  t.add("PUT", "/api/users/:user/profile", put_profile);
  t.add("GET", "/api/users/:user/contacts", get_contacts);
  t.add("PUT", "/api/users/:user/contacts", put_contacts);
  t.add("GET", "/api/users/:user/history", get_history);
  t.add("GET", "/api/users/:user/status", get_native_status);
}

} // namespace presence::edge::rest
