// The seeds' REST endpoints, with their shapes (docs/api.md).

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>

#include "core/ids.hpp"
#include "edge/common/json_input.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/rest/rest_bodies.hpp"
#include "edge/rest/routes.hpp"

namespace presence::edge::rest {

namespace {

/// Most users one seed list endpoint returns (more: page with ?cursor=).
constexpr uint32_t seed_list_max = 1000;

/// Most ids one batch request may name.

using seeds::iso_or_null;
using seeds::seed002_status;

// -- seed 000: GET /api/online-users ------------------------------------------

void seed000_online_users(const call_ptr& c) {
  auto timestamp = iso8601(c->ctx->now());
  if (query_param(c->target, "countOnly") == "true") {
    ask_then<uint64_t>(
      c, c->ctx->api,
      [c, timestamp](uint64_t& n) {
        c->reply(200,
                 {{"success", true}, {"count", n}, {"timestamp", timestamp}});
      },
      count_atom::value, c->who());
    return;
  }
  uint32_t limit = 0;
  if (!c->limit(seed_list_max, seed_list_max, limit))
    return;
  auto exclude = query_param(c->target, "excludeUserId");
  online_users_then(c, query_param(c->target, "cursor"), limit,
                    [c, exclude, timestamp](online_users& xs) {
                      auto data = json::array();
                      for (size_t i = 0; i < xs.page.users.size(); ++i) {
                        auto& u = xs.page.users[i];
                        if (u.user_id == exclude)
                          continue;
                        data.push_back(seeds::seed000_user(u, xs.profiles[i]));
                      }
                      json body = {{"success", true},
                                   {"data", data},
                                   {"count", data.size()},
                                   {"timestamp", timestamp}};
                      if (!xs.page.next_cursor.empty())
                        body["nextCursor"] = xs.page.next_cursor;
                      c->reply(200, body);
                    });
}

// -- seed 002: /api/user-status/... -------------------------------------------

void seed002_online(const call_ptr& c) {
  uint32_t limit = 0;
  if (!c->limit(seed_list_max, seed_list_max, limit))
    return;
  online_users_then(c, query_param(c->target, "cursor"), limit,
                    [c](online_users& xs) {
                      auto data = json::array();
                      for (size_t i = 0; i < xs.page.users.size(); ++i)
                        data.push_back(seeds::seed002_user(xs.page.users[i],
                                                           xs.profiles[i]));
                      json body = {{"success", true},
                                   {"data", data},
                                   {"count", data.size()},
                                   {"total", xs.page.total}};
                      if (!xs.page.next_cursor.empty())
                        body["nextCursor"] = xs.page.next_cursor;
                      c->reply(200, body);
                    });
}

void seed002_count(const call_ptr& c) {
  ask_then<uint64_t>(
    c, c->ctx->api,
    [c](uint64_t& n) {
      c->reply(200,
               {{"success", true}, {"data", {{"count", n}}}, {"count", n}});
    },
    count_atom::value, c->who());
}

void seed002_user(const call_ptr& c) {
  auto& user = c->params[0];
  if (!valid_id(user)) {
    c->fail(400, "invalid_id", "not a valid user id");
    return;
  }
  ask_then<user_status>(
    c, c->ctx->api,
    [c](user_status& s) {
      if (hidden_from(c->who(), s))
        hide(s);
      auto data = seed002_status(s);
      data["devices"] = s.devices.size();
      c->reply(200, {{"success", true}, {"data", data}});
    },
    get_atom::value, user);
}

void seed002_batch(const call_ptr& c) {
  json body;
  if (!c->json_body(body))
    return;
  std::vector<std::string> ids;
  body_error err;
  if (!read_batch_body(body, ids, err)) {
    c->fail(400, err.code, err.message);
    return;
  }
  ask_then<std::vector<user_status>>(
    c, c->ctx->api,
    [c](std::vector<user_status>& xs) {
      auto data = json::array();
      auto who = c->who();
      for (auto& s : xs) {
        if (hidden_from(who, s))
          hide(s);
        data.push_back(seed002_status(s));
      }
      c->reply(200, {{"success", true}, {"data", data}});
    },
    get_atom::value, std::move(ids));
}

void seed002_last_seen(const call_ptr& c) {
  // Dev mode: the body's userId may name the requester.
  std::string from_body;
  if (!c->ctx->cfg.edge.jwt_mode() && !c->req.body.empty())
    from_body = read_last_seen_user(parse_client_json(c->req.body));
  std::string user;
  if (!c->requester(user, true, from_body, "userId"))
    return;
  ask_then<user_status>(
    c, c->ctx->api,
    [c](user_status& s) {
      c->reply(200, {{"success", true}, {"data", seed002_status(s)}});
    },
    touch_atom::value, user);
}

// -- seed 003: GET /api/users/online/ -------------------------------------------

void seed003_online(const call_ptr& c) {
  std::string me;
  bool jwt = c->ctx->cfg.edge.jwt_mode();
  // Seed 003 requires a Bearer token; dev mode lets anyone ask.
  if (!c->requester(me, jwt))
    return;
  uint32_t limit = 0;
  if (!c->limit(seed_list_max, seed_list_max, limit))
    return;
  online_users_then(
    c, query_param(c->target, "cursor"), limit, [c, me](online_users& xs) {
      auto data = json::array();
      for (size_t i = 0; i < xs.page.users.size(); ++i) {
        auto& u = xs.page.users[i];
        if (u.user_id == me)
          continue;
        data.push_back(seeds::seed003_user(u, xs.profiles[i]));
      }
      // The body is the bare array the seed's front-end expects; the next
      // page, if any, is named in a header (pass it back as ?cursor=).
      auto r = json_response(200, data);
      if (!xs.page.next_cursor.empty())
        r.headers.emplace_back("X-Next-Cursor", xs.page.next_cursor);
      c->done(std::move(r));
    });
}

} // namespace

void online_users_then(const call_ptr& c, const std::string& cursor,
                       uint32_t limit,
                       std::function<void(online_users&)> then) {
  c->ctx->sys.spawn([=](caf::event_based_actor* self) {
    fetch_online_users(self, *c->ctx, cursor, limit, c->who(), then,
                       [c](const caf::error& err) { c->fail(err); });
  });
}

void add_seed_routes(route_table& t) {
  t.add("GET", "/api/online-users", seed000_online_users);
  t.add("GET", "/api/user-status/online", seed002_online);
  t.add("GET", "/api/user-status/online/count", seed002_count);
  t.add("POST", "/api/user-status/batch", seed002_batch);
  t.add("PUT", "/api/user-status/last-seen", seed002_last_seen);
  t.add("GET", "/api/user-status/:user", seed002_user);
  t.add("GET", "/api/users/online", seed003_online);
}

} // namespace presence::edge::rest
