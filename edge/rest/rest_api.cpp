#include "edge/rest/rest_api.hpp"

#include <algorithm>
#include <unordered_set>

#include <nlohmann/json.hpp>
#include <prometheus/gauge.h>

#include "core/ids.hpp"
#include "edge/common/ask.hpp"
#include "edge/common/auth.hpp"
#include "edge/common/json_input.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/common/url.hpp"
#include "edge/rest/web_assets.hpp"

namespace presence::edge {

using json = nlohmann::json;

namespace {

using done_fn = std::function<void(http_response)>;

/// Most users one seed list endpoint returns (more: page with ?cursor=).
constexpr uint32_t seed_list_max = 1000;
constexpr size_t max_profile_field = 1024;

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

http_response json_response(unsigned status, const json& body) {
  http_response r;
  r.status = status;
  r.body = dump(body);
  return r;
}

using seeds::iso_or_null;

/// Turns a failed actor request into an HTTP error.
http_response failure(const caf::error& err) {
  switch (presence_code(err)) {
    case errc::shutting_down:
      return error_response(503, "shutting_down",
                            "the server is shutting down");
    case errc::invalid_argument:
      return error_response(400, "bad_request", "request refused");
    default:
      break;
  }
  return error_response(503, "unavailable",
                        "presence service unavailable, try again");
}

/// Everything a handler needs.
struct call {
  std::shared_ptr<edge_context> ctx;
  http_request req;
  parsed_target target;
  done_fn done;

  std::chrono::milliseconds timeout() const {
    return ctx->cfg.actors.request_timeout;
  }

  void reply(unsigned status, const json& body) const {
    done(json_response(status, body));
  }

  void fail(unsigned status, const std::string& code,
            const std::string& message) const {
    done(error_response(status, code, message));
  }

  void fail(const caf::error& err) const {
    done(failure(err));
  }

  /// The authenticated requester. JWT mode: the bearer token (or ?token=).
  /// Dev mode: X-User-Id, ?userId=, or `fallback` (from the body).
  /// Returns false after replying 401/400 when `required` and none is known.
  bool requester(std::string& out, bool required,
                 const std::string& fallback = {}) const {
    const auto& secret = ctx->cfg.edge.jwt_secret;
    if (!secret.empty()) {
      auto token = bearer_token(req.authorization);
      if (token.empty())
        token = query_param(target, "token");
      if (token.empty() && !required)
        return true;
      auto who = verify_jwt(secret, token, ctx->now());
      if (!who.ok) {
        fail(401, who.code, who.message);
        return false;
      }
      out = who.user_id;
      return true;
    }
    out = !req.user_header.empty() ? req.user_header
                                   : query_param(target, "userId", "user_id");
    if (out.empty())
      out = fallback;
    if (!out.empty() && !valid_id(out)) {
      fail(400, "invalid_id", "the requesting user id is not valid");
      return false;
    }
    if (out.empty() && required) {
      fail(401, "unauthorized",
           "name yourself with X-User-Id, ?userId= or the body's userId "
           "(dev mode)");
      return false;
    }
    return true;
  }

  /// ?limit= within [1, max], `dflt` when absent; replies 400 when junk.
  bool limit(uint32_t dflt, uint32_t max, uint32_t& out) const {
    auto s = query_param(target, "limit");
    if (s.empty()) {
      out = dflt;
      return true;
    }
    char* end = nullptr;
    auto v = std::strtol(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != '\0' || v < 1 || v > max) {
      fail(400, "bad_request",
           "limit must be an integer from 1 to " + std::to_string(max));
      return false;
    }
    out = static_cast<uint32_t>(v);
    return true;
  }
};

using call_ptr = std::shared_ptr<const call>;

template <class T, class Handle, class... Ts>
void ask_then(const call_ptr& c, const Handle& dest,
              std::function<void(T&)> on_ok, Ts... xs) {
  ask<T>(c->ctx->sys, dest, c->timeout(),
         std::function<void(caf::expected<T>)>{
           [c, on_ok](caf::expected<T> r) {
             if (r)
               on_ok(*r);
             else
               c->fail(r.error());
           }},
         xs...);
}

/// A page of online users plus their profiles, for the seeds' lists.
void online_with_profiles(
  const call_ptr& c, const std::string& cursor, uint32_t limit,
  std::function<void(online_page&, std::vector<profile>&)> then) {
  ask_then<online_page>(
    c, c->ctx->api,
    [c, then](online_page& page) {
      std::vector<std::string> ids;
      ids.reserve(page.users.size());
      for (auto& u : page.users)
        ids.push_back(u.user_id);
      auto shared = std::make_shared<online_page>(std::move(page));
      ask_then<std::vector<profile>>(
        c, c->ctx->store,
        [shared, then](std::vector<profile>& ps) {
          ps.resize(shared->users.size());
          then(*shared, ps);
        },
        get_atom::value, profile_atom::value, std::move(ids));
    },
    list_atom::value, cursor, limit);
}

using seeds::or_null;
using seeds::profile_json;

// -- seed 000: GET /api/online-users -------------------------------------------

void seed000_online_users(const call_ptr& c) {
  auto timestamp = iso8601(c->ctx->now());
  if (query_param(c->target, "countOnly") == "true") {
    ask_then<uint64_t>(
      c, c->ctx->api,
      [c, timestamp](uint64_t& n) {
        c->reply(200, {{"success", true}, {"count", n},
                       {"timestamp", timestamp}});
      },
      count_atom::value);
    return;
  }
  uint32_t limit = 0;
  if (!c->limit(seed_list_max, seed_list_max, limit))
    return;
  auto exclude = query_param(c->target, "excludeUserId");
  online_with_profiles(
    c, query_param(c->target, "cursor"), limit,
    [c, exclude, timestamp](online_page& page, std::vector<profile>& ps) {
      auto data = json::array();
      for (size_t i = 0; i < page.users.size(); ++i) {
        auto& u = page.users[i];
        if (u.user_id == exclude)
          continue;
        data.push_back(seeds::seed000_user(u, ps[i]));
      }
      json body = {{"success", true},
                   {"data", data},
                   {"count", data.size()},
                   {"timestamp", timestamp}};
      if (!page.next_cursor.empty())
        body["nextCursor"] = page.next_cursor;
      c->reply(200, body);
    });
}

// -- seed 002: /api/user-status/... -------------------------------------------

using seeds::seed002_status;

void seed002_online(const call_ptr& c) {
  uint32_t limit = 0;
  if (!c->limit(seed_list_max, seed_list_max, limit))
    return;
  online_with_profiles(
    c, query_param(c->target, "cursor"), limit,
    [c](online_page& page, std::vector<profile>& ps) {
      auto data = json::array();
      for (size_t i = 0; i < page.users.size(); ++i)
        data.push_back(seeds::seed002_user(page.users[i], ps[i]));
      json body = {{"success", true}, {"data", data}, {"count", data.size()},
                   {"total", page.total}};
      if (!page.next_cursor.empty())
        body["nextCursor"] = page.next_cursor;
      c->reply(200, body);
    });
}

void seed002_count(const call_ptr& c) {
  ask_then<uint64_t>(
    c, c->ctx->api,
    [c](uint64_t& n) {
      c->reply(200, {{"success", true}, {"data", {{"count", n}}},
                     {"count", n}});
    },
    count_atom::value);
}

void seed002_user(const call_ptr& c, const std::string& user) {
  if (!valid_id(user)) {
    c->fail(400, "invalid_id", "not a valid user id");
    return;
  }
  ask_then<user_status>(
    c, c->ctx->api,
    [c](user_status& s) {
      auto data = seed002_status(s);
      data["devices"] = s.devices.size();
      c->reply(200, {{"success", true}, {"data", data}});
    },
    get_atom::value, user);
}

/// Parses a JSON body; replies 400 and returns false when it is not an
/// object.
bool json_body(const call_ptr& c, json& out) {
  out = parse_client_json(c->req.body);
  if (out.is_discarded() || !out.is_object()) {
    c->fail(400, "bad_json", "the body must be a JSON object");
    return false;
  }
  return true;
}

void seed002_batch(const call_ptr& c) {
  json body;
  if (!json_body(c, body))
    return;
  auto i = body.find("userIds");
  if (i == body.end())
    i = body.find("user_ids");
  if (i == body.end() || !i->is_array()) {
    c->fail(400, "bad_request", "'userIds' must be an array of user ids");
    return;
  }
  if (i->size() > 1000) {
    c->fail(400, "too_many_ids", "at most 1000 userIds per request");
    return;
  }
  std::vector<std::string> ids;
  for (auto& x : *i) {
    std::string id;
    if (!id_from_json(x, id) || !valid_id(id)) {
      c->fail(400, "invalid_id", "'userIds' holds an invalid id");
      return;
    }
    ids.push_back(std::move(id));
  }
  ask_then<std::vector<user_status>>(
    c, c->ctx->api,
    [c](std::vector<user_status>& xs) {
      auto data = json::array();
      for (auto& s : xs)
        data.push_back(seed002_status(s));
      c->reply(200, {{"success", true}, {"data", data}});
    },
    get_atom::value, std::move(ids));
}

void seed002_last_seen(const call_ptr& c) {
  std::string from_body;
  if (c->ctx->cfg.edge.jwt_secret.empty() && !c->req.body.empty()) {
    auto body = parse_client_json(c->req.body);
    if (body.is_object()) {
      auto i = body.find("userId");
      if (i != body.end())
        id_from_json(*i, from_body);
    }
  }
  std::string user;
  if (!c->requester(user, true, from_body))
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
  bool jwt = !c->ctx->cfg.edge.jwt_secret.empty();
  // Seed 003 requires a Bearer token; dev mode lets anyone ask.
  if (!c->requester(me, jwt))
    return;
  uint32_t limit = 0;
  if (!c->limit(seed_list_max, seed_list_max, limit))
    return;
  online_with_profiles(
    c, query_param(c->target, "cursor"), limit,
    [c, me](online_page& page, std::vector<profile>& ps) {
      auto data = json::array();
      for (size_t i = 0; i < page.users.size(); ++i) {
        auto& u = page.users[i];
        if (u.user_id == me)
          continue;
        data.push_back(seeds::seed003_user(u, ps[i]));
      }
      // The body is the bare array the seed's front-end expects; the next
      // page, if any, is named in a header (pass it back as ?cursor=).
      auto r = json_response(200, data);
      if (!page.next_cursor.empty())
        r.headers.emplace_back("X-Next-Cursor", page.next_cursor);
      c->done(std::move(r));
    });
}

// -- profiles, history, native status -----------------------------------------

void get_profile(const call_ptr& c, const std::string& user) {
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

void put_profile(const call_ptr& c, const std::string& user) {
  std::string me;
  if (!c->ctx->cfg.edge.jwt_secret.empty()) {
    if (!c->requester(me, true))
      return;
    if (me != user) {
      c->fail(403, "forbidden", "you may only change your own profile");
      return;
    }
  }
  json body;
  if (!json_body(c, body))
    return;
  // Only the fields present change; each must be a string (or null = clear).
  // The store merges them in one step.
  profile p;
  uint8_t mask = 0;
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
      auto v = i->get<std::string>();
      if (v.size() > max_profile_field) {
        c->fail(400, "bad_request",
                std::string{"'"} + f.name + "' is longer than "
                  + std::to_string(max_profile_field) + " bytes");
        return;
      }
      p.*f.member = std::move(v);
    } else if (!i->is_null()) {
      c->fail(400, "bad_request", std::string{"'"} + f.name
                                    + "' must be a string or null");
      return;
    }
    mask |= f.bit;
  }
  if (mask == 0) {
    c->fail(400, "bad_request",
            "name at least one of name, username, email, avatar");
    return;
  }
  ask_then<profile>(
    c, c->ctx->store,
    [c, user](profile& stored) {
      c->reply(200, {{"success", true}, {"data", profile_json(user, stored)}});
    },
    put_atom::value, profile_atom::value, user, p, mask);
}

void get_history(const call_ptr& c, const std::string& user) {
  uint32_t limit = 0;
  if (!c->limit(20, c->ctx->cfg.persistence.history_limit, limit))
    return;
  ask_then<user_status>(
    c, c->ctx->api,
    [c, user, limit](user_status& s) {
      auto current = std::make_shared<user_status>(std::move(s));
      ask_then<std::vector<session_record>>(
        c, c->ctx->store,
        [c, user, limit, current](std::vector<session_record>& rs) {
          auto data = json::array();
          if (current->online && current->online_since > 0)
            data.push_back({{"start", iso8601(current->online_since)},
                            {"end", nullptr},
                            {"start_ms", current->online_since},
                            {"end_ms", nullptr},
                            {"duration_ms", nullptr},
                            {"open", true}});
          for (auto& r : rs) {
            if (data.size() >= limit)
              break;
            data.push_back({{"start", iso8601(r.start)},
                            {"end", iso8601(r.end)},
                            {"start_ms", r.start},
                            {"end_ms", r.end},
                            {"duration_ms", r.end - r.start},
                            {"open", false}});
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

void get_native_status(const call_ptr& c, const std::string& user) {
  ask_then<user_status>(
    c, c->ctx->api,
    [c](user_status& s) {
      auto devices = json::array();
      for (auto& d : s.devices)
        devices.push_back({{"device_id", d.device_id},
                           {"user_agent", d.user_agent},
                           {"platform", d.platform},
                           {"status", status_name(d.status)},
                           {"connected_at", iso_or_null(d.connected_at)},
                           {"last_active", iso_or_null(d.last_active)}});
      c->reply(200, {{"success", true},
                     {"data",
                      {{"user_id", s.user_id},
                       {"is_online", s.online},
                       {"status", status_name(s.status)},
                       {"last_seen", iso_or_null(s.last_seen)},
                       {"online_since", iso_or_null(s.online_since)},
                       {"version", s.version},
                       {"devices", devices}}}});
    },
    get_atom::value, user);
}

// -- operations ---------------------------------------------------------------

void metrics(const call_ptr& c) {
  ask<uint64_t>(c->ctx->sys, c->ctx->api, c->timeout(),
                std::function<void(caf::expected<uint64_t>)>{
                  [c](caf::expected<uint64_t> n) {
                    auto& p = c->ctx->probe;
                    if (n)
                      p.online_users->Set(static_cast<double>(*n));
                    if (auto sp = c->ctx->store_counters) {
                      p.store_checkpoint_flushes->Set(
                        static_cast<double>(sp->checkpoint_flushes.load()));
                      p.store_checkpoints_written->Set(
                        static_cast<double>(sp->checkpoints_written.load()));
                      p.store_sessions_closed->Set(
                        static_cast<double>(sp->sessions_closed.load()));
                      p.store_sessions_recovered->Set(
                        static_cast<double>(sp->sessions_recovered.load()));
                    }
                    http_response r;
                    r.content_type = "text/plain; version=0.0.4";
                    r.body = p.render();
                    c->done(std::move(r));
                  }},
                count_atom::value);
}

void cluster_info(const call_ptr& c) {
  ask_then<cluster_status>(
    c, c->ctx->membership,
    [c](cluster_status& cs) {
      auto nodes = json::array();
      for (auto& m : cs.members)
        nodes.push_back({{"node_id", m.node_id},
                         {"endpoint", or_null(m.endpoint)},
                         {"http_port", m.http_port},
                         {"state", m.state},
                         {"users_owned", m.stats.users_owned},
                         {"connections", m.stats.connections},
                         {"last_heard", iso_or_null(m.last_heard)}});
      c->reply(200, {{"success", true},
                     {"data",
                      {{"self", cs.self},
                       {"ring_version", cs.ring_version},
                       {"replication", cs.replication},
                       {"nodes", nodes}}}});
    },
    get_atom::value, cluster_atom::value);
}

void index(const call_ptr& c) {
  http_response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::string{index_html()};
  c->done(std::move(r));
}

void api_index(const call_ptr& c) {
  c->reply(200, {{"name", "presenced"},
                 {"websocket", {"/ws", "/ws/user-status/"}},
                 {"socketio", c->ctx->cfg.edge.sio_paths},
                 {"docs", "docs/api.md and docs/protocol.md"}});
}

/// Requires `method`; replies 405 otherwise.
bool method_is(const call_ptr& c, const char* method) {
  if (c->req.method == method)
    return true;
  http_response r = error_response(405, "method_not_allowed",
                                   c->req.method + " is not allowed here");
  r.headers.emplace_back("Allow", method);
  c->done(std::move(r));
  return false;
}

void route(const call_ptr& c) {
  auto& seg = c->target.segments;
  auto& m = c->req.method;
  auto n = seg.size();
  if (m == "OPTIONS") {
    http_response r;
    r.status = 204;
    c->done(std::move(r));
    return;
  }
  if (n == 0) {
    if (method_is(c, "GET"))
      index(c);
    return;
  }
  if (n == 1 && seg[0] == "api") {
    if (method_is(c, "GET"))
      api_index(c);
    return;
  }
  if (n == 1 && seg[0] == "healthz") {
    if (method_is(c, "GET"))
      c->reply(200, {{"status", "ok"}});
    return;
  }
  if (n == 1 && seg[0] == "readyz") {
    if (!method_is(c, "GET"))
      return;
    if (c->ctx->ready && !c->ctx->draining)
      c->reply(200, {{"status", "ready"}});
    else
      c->reply(503, {{"status", "not_ready"}});
    return;
  }
  if (n == 1 && seg[0] == "metrics") {
    if (method_is(c, "GET"))
      metrics(c);
    return;
  }
  if (n >= 2 && seg[0] == "api") {
    if (n == 2 && seg[1] == "cluster") {
      if (method_is(c, "GET"))
        cluster_info(c);
      return;
    }
    if (n == 2 && seg[1] == "online-users") {
      if (method_is(c, "GET"))
        seed000_online_users(c);
      return;
    }
    if (seg[1] == "user-status") {
      if (n == 3 && seg[2] == "online") {
        if (method_is(c, "GET"))
          seed002_online(c);
        return;
      }
      if (n == 4 && seg[2] == "online" && seg[3] == "count") {
        if (method_is(c, "GET"))
          seed002_count(c);
        return;
      }
      if (n == 3 && seg[2] == "batch") {
        if (method_is(c, "POST"))
          seed002_batch(c);
        return;
      }
      if (n == 3 && seg[2] == "last-seen") {
        if (method_is(c, "PUT"))
          seed002_last_seen(c);
        return;
      }
      if (n == 3) {
        if (method_is(c, "GET"))
          seed002_user(c, seg[2]);
        return;
      }
    }
    if (seg[1] == "users" && n >= 3) {
      if (n == 3 && seg[2] == "online") {
        if (method_is(c, "GET"))
          seed003_online(c);
        return;
      }
      if (n == 4) {
        auto& user = seg[2];
        if (!valid_id(user)) {
          c->fail(400, "invalid_id", "not a valid user id");
          return;
        }
        if (seg[3] == "profile") {
          if (m == "GET")
            get_profile(c, user);
          else if (m == "PUT")
            put_profile(c, user);
          else
            method_is(c, "GET, PUT");
          return;
        }
        if (seg[3] == "history") {
          if (method_is(c, "GET"))
            get_history(c, user);
          return;
        }
        if (seg[3] == "status") {
          if (method_is(c, "GET"))
            get_native_status(c, user);
          return;
        }
      }
    }
  }
  c->fail(404, "not_found", "no such endpoint: " + c->target.path);
}

} // namespace

void handle_rest(std::shared_ptr<edge_context> ctx, http_request req,
                 std::function<void(http_response)> done) {
  auto c = std::make_shared<call>();
  c->ctx = std::move(ctx);
  c->req = std::move(req);
  c->done = std::move(done);
  if (!parse_target(c->req.target, c->target)) {
    c->fail(400, "bad_request", "malformed request target");
    return;
  }
  route(c);
}

} // namespace presence::edge
