#include "edge/socketio/sio_session.hpp"

#include <map>
#include <set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>
#include <prometheus/counter.h>

#include "core/ids.hpp"
#include "edge/common/auth.hpp"
#include "edge/common/json_input.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/socketio/socketio_codec.hpp"

namespace presence::edge {

using namespace sio;

namespace {

/// Namespace of seed 004 (NestJS gateway).
const std::string messages_nsp = "/ws/messages";

/// Most ids one check-users-status may name.
constexpr size_t max_batch = 1000;
/// Most users one online list carries (seed 000/002/004 lists).
constexpr uint32_t list_max = 1000;

/// Which seed's front-end a socket speaks; decides its broadcasts.
enum class dialect {
  none,     // connected, not identified yet: gets no broadcasts
  seed000,  // join_user ...: user_online / user_offline / online_users_list
  seed002,  // authenticate ...: user-status-change
  seed004,  // /ws/messages: user-online / user-offline
};

enum class phase { idle, joining, joined };

/// One connected namespace of the session ("a socket" in Socket.IO terms).
struct sio_socket {
  std::string nsp;
  std::string sid;
  dialect d = dialect::none;
  phase ph = phase::idle;
  std::string user_id;
  std::string device_id;
  user_api user;
  /// Verified JWT subject (JWT mode), from the CONNECT auth or handshake.
  std::string token_user;
  std::set<std::string> rooms;
  /// Bumped whenever the user actor changes; stale rejoin timers see it.
  uint64_t rejoin_epoch = 0;
};

struct sio_state {
  std::shared_ptr<edge_context> ctx;
  std::shared_ptr<eio_transport> eio;
  sio_params params;
  std::map<std::string, sio_socket> sockets;
  bool subscribed = false;
  bool closed = false;
  size_t joins_in_flight = 0;
  // Engine.IO heartbeat
  uint64_t ping_seq = 0;
  bool awaiting_pong = false;
  // seed 000's coalesced online_users_list
  bool list_armed = false;
  static inline const char* name = "presence.sio";
};

using sio_ptr = caf::stateful_actor<sio_state>*;

using seeds::iso_or_null;
using seeds::seed004_status;

// -- output -------------------------------------------------------------------

void emit(sio_ptr self, const sio_socket& s, const std::string& event,
          const json& arg) {
  self->state.ctx->probe.frames_out->Increment();
  self->state.eio->send(eio_event(s.nsp, event, arg));
}

void ack(sio_ptr self, const std::string& nsp, int64_t id, const json& arg) {
  if (id == no_ack)
    return;
  self->state.ctx->probe.frames_out->Increment();
  self->state.eio->send(eio_ack(nsp, id, json::array({arg})));
}

json ack_ok(json data) {
  return {{"success", true}, {"data", std::move(data)}};
}

json ack_fail(const std::string& message) {
  return {{"success", false}, {"error", message}};
}

/// A client mistake: the ack (when asked for) or a presence-error event.
void fail(sio_ptr self, const sio_socket& s, int64_t ack_id,
          const std::string& code, const std::string& message) {
  self->state.ctx->probe.protocol_errors->Increment();
  if (ack_id != no_ack)
    ack(self, s.nsp, ack_id, ack_fail(message));
  else
    emit(self, s, "presence-error", {{"code", code}, {"message", message}});
}

std::string failure_text(const caf::error& err) {
  switch (presence_code(err)) {
    case errc::too_many_devices:
      return "this user has too many devices connected";
    case errc::shutting_down:
      return "the server is shutting down";
    default:
      break;
  }
  if (err == caf::sec::request_timeout)
    return "the request timed out";
  return "presence service unavailable, try again";
}

// -- identity and joins ---------------------------------------------------------

/// Reads a user id given as "id", 42, {"userId": ...} or {"user_id": ...}.
std::string user_arg(const json& j) {
  const json* v = &j;
  if (j.is_object()) {
    auto i = j.find("userId");
    if (i == j.end())
      i = j.find("user_id");
    if (i == j.end())
      return {};
    v = &*i;
  }
  std::string out;
  id_from_json(*v, out);
  return out;
}

std::string string_field(const json& j, const char* name) {
  if (!j.is_object())
    return {};
  auto i = j.find(name);
  if (i == j.end() || !i->is_string())
    return {};
  return i->get<std::string>();
}

/// Who `s` may join as, given a user named in a payload. Returns false and
/// sets `why` if it may not.
bool resolve_user(sio_ptr self, const sio_socket& s, const std::string& named,
                  const std::string& token, std::string& out,
                  std::string& why) {
  auto& st = self->state;
  const auto& secret = st.ctx->cfg.edge.jwt_secret;
  if (secret.empty()) {
    out = !named.empty() ? named : st.params.user_id;
    if (out.empty()) {
      why = "userId is required";
      return false;
    }
    if (!valid_id(out)) {
      why = "userId is not a valid id";
      return false;
    }
    return true;
  }
  // JWT mode: the verified token decides; a payload naming someone else is
  // refused.
  std::string who = s.token_user;
  if (!token.empty()) {
    auto id = verify_jwt(secret, token, st.ctx->now());
    if (!id.ok) {
      why = id.message;
      return false;
    }
    who = id.user_id;
  }
  if (who.empty()) {
    why = "a valid JWT is required";
    return false;
  }
  if (!named.empty() && named != who) {
    why = "you may only act as the user your token names";
    return false;
  }
  out = who;
  return true;
}

/// Follows the user actor holding socket `s`'s device (it may move to
/// another node, or die with its node).
void set_user(sio_ptr self, sio_socket& s, user_api user) {
  if (s.user == user)
    return;
  if (s.user)
    self->demonitor(s.user.address());
  s.user = std::move(user);
  ++s.rejoin_epoch;
  if (s.user)
    self->monitor(s.user);
}

void leave_socket(sio_ptr self, sio_socket& s) {
  if (s.ph == phase::joined && s.user)
    self->send(s.user, leave_atom::value, s.device_id, self->address());
  for (auto& r : s.rooms)
    self->send(self->state.ctx->rooms, leave_atom::value, r,
               caf::actor_cast<room_member>(self));
  s.rooms.clear();
  s.ph = phase::idle;
  set_user(self, s, user_api{});
}

void maybe_quit(sio_ptr self) {
  auto& st = self->state;
  if (st.closed && st.joins_in_flight == 0)
    self->quit();
}

/// Joins socket `nsp` as `user`; then calls `then(status)` or `err(text)`.
void join(sio_ptr self, const std::string& nsp, const std::string& user,
          std::function<void(const user_status&)> then,
          std::function<void(const std::string&)> err) {
  auto& st = self->state;
  auto& s = st.sockets[nsp];
  if (s.ph == phase::joined && s.user_id == user) {
    // Already in: answer with the current status.
    self->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                  get_atom::value, user)
      .then([=](user_status& us) { then(us); },
            [=](caf::error& e) { err(failure_text(e)); });
    return;
  }
  if (s.ph != phase::idle)
    leave_socket(self, s);
  join_request req;
  req.user_id = user;
  req.device.device_id = s.device_id;
  req.device.user_agent = st.params.user_agent;
  req.device.platform = "socket.io";
  req.session = caf::actor_cast<session_api>(self);
  s.ph = phase::joining;
  s.user_id = user;
  ++st.joins_in_flight;
  self->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                join_atom::value, std::move(req))
    .then(
      [=](join_ack& a) {
        auto& st = self->state;
        --st.joins_in_flight;
        auto i = st.sockets.find(nsp);
        auto user_actor = caf::actor_cast<user_api>(a.user);
        if (st.closed || i == st.sockets.end() || i->second.user_id != user) {
          // The socket went away meanwhile: undo.
          self->send(user_actor, leave_atom::value, a.device_id,
                     self->address());
          maybe_quit(self);
          return;
        }
        set_user(self, i->second, user_actor);
        i->second.ph = phase::joined;
        then(a.status);
      },
      [=](caf::error& e) {
        auto& st = self->state;
        --st.joins_in_flight;
        auto i = st.sockets.find(nsp);
        if (i != st.sockets.end() && i->second.ph == phase::joining)
          i->second.ph = phase::idle;
        if (st.closed) {
          maybe_quit(self);
          return;
        }
        err(failure_text(e));
      });
}

/// The user actor of socket `nsp` is gone while the socket is still here
/// (its node died): register again with the new owner. Idempotent.
void rejoin(sio_ptr self, const std::string& nsp, uint64_t epoch,
            int attempt) {
  auto& st = self->state;
  auto i = st.sockets.find(nsp);
  if (st.closed || i == st.sockets.end() || i->second.ph != phase::joined
      || i->second.rejoin_epoch != epoch)
    return;
  auto& s = i->second;
  join_request req;
  req.user_id = s.user_id;
  req.device.device_id = s.device_id;
  req.device.user_agent = st.params.user_agent;
  req.device.platform = "socket.io";
  req.session = caf::actor_cast<session_api>(self);
  self->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                join_atom::value, std::move(req))
    .then(
      [=](join_ack& a) {
        auto i = self->state.sockets.find(nsp);
        if (i == self->state.sockets.end() || i->second.rejoin_epoch != epoch)
          return;
        set_user(self, i->second, caf::actor_cast<user_api>(a.user));
      },
      [=](caf::error&) {
        auto i = self->state.sockets.find(nsp);
        if (i == self->state.sockets.end() || i->second.rejoin_epoch != epoch)
          return;
        if (attempt >= 8) {
          self->state.eio->close("presence owner lost");
          return;
        }
        auto delay = std::chrono::milliseconds(100 << std::min(attempt, 5));
        self->delayed_send(self, delay, rejoin_atom::value, nsp, epoch,
                           attempt + 1);
      });
}

void heartbeat_all(sio_ptr self) {
  for (auto& kvp : self->state.sockets)
    if (kvp.second.ph == phase::joined)
      self->send(kvp.second.user, heartbeat_atom::value,
                 kvp.second.device_id);
}

void subscribe_feed(sio_ptr self) {
  auto& st = self->state;
  if (st.subscribed)
    return;
  st.subscribed = true;
  self->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                subscribe_atom::value, caf::actor_cast<delta_listener>(self),
                std::vector<std::string>{}, true)
    .then([](bool) {}, [=](caf::error&) { self->state.subscribed = false; });
}

// -- lists ----------------------------------------------------------------------

/// Fetches the online page and the profiles, then calls `then`.
void online_users(sio_ptr self,
                  std::function<void(online_page&, std::vector<profile>&)> then,
                  std::function<void(const std::string&)> err) {
  auto& st = self->state;
  auto timeout = st.ctx->cfg.actors.request_timeout;
  self->request(st.ctx->api, timeout, list_atom::value, std::string{},
                list_max)
    .then(
      [=](online_page& page) {
        std::vector<std::string> ids;
        for (auto& u : page.users)
          ids.push_back(u.user_id);
        auto shared = std::make_shared<online_page>(std::move(page));
        self->request(self->state.ctx->store, timeout, get_atom::value,
                      profile_atom::value, std::move(ids))
          .then(
            [=](std::vector<profile>& ps) {
              ps.resize(shared->users.size());
              then(*shared, ps);
            },
            [=](caf::error& e) { err(failure_text(e)); });
      },
      [=](caf::error& e) { err(failure_text(e)); });
}

json seed000_users(const online_page& page, const std::vector<profile>& ps) {
  auto users = json::array();
  for (size_t i = 0; i < page.users.size(); ++i)
    users.push_back(seeds::seed000_user(page.users[i], ps[i]));
  return users;
}

json seed002_users(const online_page& page, const std::vector<profile>& ps) {
  auto users = json::array();
  for (size_t i = 0; i < page.users.size(); ++i)
    users.push_back(seeds::seed002_user(page.users[i], ps[i]));
  return users;
}

void push_seed000_lists(sio_ptr self) {
  online_users(
    self,
    [=](online_page& page, std::vector<profile>& ps) {
      auto payload = json{{"users", seed000_users(page, ps)}};
      for (auto& kvp : self->state.sockets)
        if (kvp.second.d == dialect::seed000)
          emit(self, kvp.second, "online_users_list", payload);
    },
    [](const std::string&) {});
}

/// Marks seed 000's list dirty: pushed at most once per sio_list_window.
void schedule_list(sio_ptr self) {
  auto& st = self->state;
  if (st.list_armed)
    return;
  bool any = false;
  for (auto& kvp : st.sockets)
    any = any || kvp.second.d == dialect::seed000;
  if (!any)
    return;
  auto window = st.ctx->cfg.edge.sio_list_window;
  if (window.count() == 0) {
    push_seed000_lists(self);
    return;
  }
  st.list_armed = true;
  self->delayed_send(self, window, list_atom::value);
}

// -- events ---------------------------------------------------------------------

void on_event(sio_ptr self, sio_socket& s, const std::string& name,
              const json& args, int64_t ack_id) {
  auto& st = self->state;
  auto nsp = s.nsp;
  auto timeout = st.ctx->cfg.actors.request_timeout;
  const json& arg = args.size() > 1 ? args[1] : json{};
  auto find = [self, nsp]() -> sio_socket* {
    auto i = self->state.sockets.find(nsp);
    return i == self->state.sockets.end() ? nullptr : &i->second;
  };

  // -- seed 000/001 -------------------------------------------------------------
  if (name == "join_user") {
    std::string user, why;
    if (!resolve_user(self, s, user_arg(arg), string_field(arg, "token"), user,
                      why)) {
      fail(self, s, ack_id, "unauthorized", why);
      return;
    }
    s.d = dialect::seed000;
    subscribe_feed(self);
    join(
      self, nsp, user,
      [=](const user_status& us) {
        if (auto* sock = find())
          ack(self, sock->nsp, ack_id, ack_ok(seed004_status(us)));
        // The joiner gets the full list at once; others via the window.
        push_seed000_lists(self);
      },
      [=](const std::string& why) {
        if (auto* sock = find())
          fail(self, *sock, ack_id, "unavailable", why);
      });
    return;
  }
  if (name == "user_activity" || name == "heartbeat" || name == "ping") {
    if (s.ph == phase::joined)
      self->send(s.user, heartbeat_atom::value, s.device_id);
    if (name == "ping" && s.nsp == "/")
      emit(self, s, "pong", {{"timestamp", iso8601(st.ctx->now())}});
    ack(self, nsp, ack_id, ack_ok({{"timestamp", iso8601(st.ctx->now())}}));
    return;
  }
  if (name == "get_online_users") {
    online_users(
      self,
      [=](online_page& page, std::vector<profile>& ps) {
        if (auto* sock = find()) {
          auto payload = json{{"users", seed000_users(page, ps)}};
          emit(self, *sock, "online_users_list", payload);
          ack(self, nsp, ack_id, ack_ok(payload));
        }
      },
      [=](const std::string& why) {
        if (auto* sock = find())
          fail(self, *sock, ack_id, "unavailable", why);
      });
    return;
  }
  if (name == "check_user_online") {
    auto user = user_arg(arg);
    if (!valid_id(user)) {
      fail(self, s, ack_id, "bad_request", "userId is required");
      return;
    }
    self->request(st.ctx->api, timeout, get_atom::value, user)
      .then(
        [=](user_status& us) {
          if (auto* sock = find()) {
            json payload = {{"userId", user}, {"online", us.online}};
            emit(self, *sock, "user_online_status", payload);
            ack(self, nsp, ack_id, ack_ok(payload));
          }
        },
        [=](caf::error& e) {
          if (auto* sock = find())
            fail(self, *sock, ack_id, "unavailable", failure_text(e));
        });
    return;
  }

  // -- seed 002 -----------------------------------------------------------------
  if (name == "authenticate") {
    std::string user, why;
    if (!resolve_user(self, s, user_arg(arg), string_field(arg, "token"), user,
                      why)) {
      self->state.ctx->probe.protocol_errors->Increment();
      emit(self, s, "authentication-error", {{"message", why}});
      ack(self, nsp, ack_id, ack_fail(why));
      return;
    }
    s.d = dialect::seed002;
    subscribe_feed(self);
    join(
      self, nsp, user,
      [=](const user_status&) {
        self->request(self->state.ctx->api, timeout, count_atom::value)
          .then(
            [=](uint64_t n) {
              if (auto* sock = find()) {
                json payload = {{"userId", user}, {"onlineCount", n}};
                emit(self, *sock, "authentication-success", payload);
                ack(self, nsp, ack_id, ack_ok(payload));
              }
            },
            [=](caf::error& e) {
              if (auto* sock = find())
                emit(self, *sock, "authentication-error",
                     {{"message", failure_text(e)}});
            });
      },
      [=](const std::string& why) {
        if (auto* sock = find()) {
          emit(self, *sock, "authentication-error", {{"message", why}});
          ack(self, nsp, ack_id, ack_fail(why));
        }
      });
    return;
  }
  if (name == "get-online-users") {
    online_users(
      self,
      [=](online_page& page, std::vector<profile>& ps) {
        auto* sock = find();
        if (!sock)
          return;
        if (sock->nsp == messages_nsp) {
          // Seed 004: answered through the acknowledgement.
          auto users = json::array();
          for (auto& u : page.users)
            users.push_back(seed004_status(status_of(u)));
          ack(self, nsp, ack_id,
              ack_ok({{"users", users}, {"count", page.users.size()}}));
          return;
        }
        auto users = seed002_users(page, ps);
        emit(self, *sock, "online-users-list", users);
        ack(self, nsp, ack_id,
            ack_ok({{"users", users}, {"count", page.users.size()}}));
      },
      [=](const std::string& why) {
        if (auto* sock = find())
          fail(self, *sock, ack_id, "unavailable", why);
      });
    return;
  }
  if (name == "join-chat-session" || name == "leave-chat-session"
      || name == "typing-start" || name == "typing-stop") {
    std::string room = arg.is_string() ? arg.get<std::string>()
                                       : string_field(arg, "chatSessionId");
    if (room.empty() && arg.is_object())
      room = string_field(arg, "sessionId");
    if (room.empty() || room.size() > 256) {
      fail(self, s, ack_id, "bad_request", "chatSessionId is required");
      return;
    }
    auto me = caf::actor_cast<room_member>(self);
    if (name == "join-chat-session") {
      if (s.rooms.size() >= 256) {
        fail(self, s, ack_id, "too_many_rooms", "too many chat sessions");
        return;
      }
      s.rooms.insert(room);
      self->send(st.ctx->rooms, join_atom::value, room, me);
    } else if (name == "leave-chat-session") {
      s.rooms.erase(room);
      self->send(st.ctx->rooms, leave_atom::value, room, me);
    } else {
      if (s.ph != phase::joined) {
        fail(self, s, ack_id, "not_authenticated",
             "authenticate before typing");
        return;
      }
      if (s.rooms.count(room) == 0) {
        fail(self, s, ack_id, "not_in_session",
             "join-chat-session before typing in it");
        return;
      }
      self->send(st.ctx->rooms, room_atom::value, me,
                 room_signal{room, s.user_id, name == "typing-start"});
    }
    ack(self, nsp, ack_id, ack_ok({{"chatSessionId", room}}));
    return;
  }

  // -- seed 004 -----------------------------------------------------------------
  if (name == "check-user-status") {
    auto user = user_arg(arg);
    if (!valid_id(user)) {
      fail(self, s, ack_id, "bad_request", "userId is required");
      return;
    }
    self->request(st.ctx->api, timeout, get_atom::value, user)
      .then(
        [=](user_status& us) {
          ack(self, nsp, ack_id, ack_ok(seed004_status(us)));
        },
        [=](caf::error& e) {
          if (auto* sock = find())
            fail(self, *sock, ack_id, "unavailable", failure_text(e));
        });
    return;
  }
  if (name == "check-users-status") {
    std::vector<std::string> ids;
    const json* list = nullptr;
    if (arg.is_object() && arg.contains("userIds"))
      list = &arg["userIds"];
    else if (arg.is_array())
      list = &arg;
    if (list == nullptr || !list->is_array() || list->size() > max_batch) {
      fail(self, s, ack_id, "bad_request",
           "userIds must be an array of at most 1000 ids");
      return;
    }
    for (auto& x : *list) {
      auto id = user_arg(x);
      if (!valid_id(id)) {
        fail(self, s, ack_id, "bad_request", "userIds holds an invalid id");
        return;
      }
      ids.push_back(std::move(id));
    }
    self->request(st.ctx->api, timeout, get_atom::value, std::move(ids))
      .then(
        [=](std::vector<user_status>& xs) {
          auto statuses = json::array();
          for (auto& x : xs)
            statuses.push_back(seed004_status(x));
          ack(self, nsp, ack_id, ack_ok({{"statuses", statuses}}));
        },
        [=](caf::error& e) {
          if (auto* sock = find())
            fail(self, *sock, ack_id, "unavailable", failure_text(e));
        });
    return;
  }
  fail(self, s, ack_id, "unknown_event", "unknown event '" + name.substr(0, 64)
                                           + "'");
}

// -- packets ----------------------------------------------------------------------

void on_connect(sio_ptr self, const sio_packet& p) {
  auto& st = self->state;
  if (p.nsp != "/" && p.nsp != messages_nsp) {
    st.eio->send(eio_connect_error(p.nsp, "Invalid namespace"));
    return;
  }
  if (st.sockets.count(p.nsp) > 0) {
    st.eio->send(eio_connect_ok(p.nsp, st.sockets[p.nsp].sid));
    return;
  }
  sio_socket s;
  s.nsp = p.nsp;
  s.sid = make_sid();
  s.device_id = "sio-" + st.eio->sid() + (p.nsp == "/" ? "" : p.nsp);
  auto token = string_field(p.data, "token");
  if (token.empty())
    token = st.params.token;
  const auto& secret = st.ctx->cfg.edge.jwt_secret;
  std::string auto_user;
  if (!secret.empty() && !token.empty()) {
    auto who = verify_jwt(secret, token, st.ctx->now());
    if (!who.ok) {
      st.ctx->probe.ws_rejected->Increment();
      st.eio->send(eio_connect_error(p.nsp, "Unauthorized: " + who.message));
      return;
    }
    s.token_user = who.user_id;
  }
  if (p.nsp == messages_nsp) {
    // Seed 004: the handshake says who; JWT required when a secret is set.
    s.d = dialect::seed004;
    if (!secret.empty()) {
      if (s.token_user.empty()) {
        st.ctx->probe.ws_rejected->Increment();
        st.eio->send(eio_connect_error(p.nsp, "Unauthorized: token required"));
        return;
      }
      auto_user = s.token_user;
    } else {
      auto_user = user_arg(p.data);
      if (auto_user.empty())
        auto_user = st.params.user_id;
      if (!auto_user.empty() && !valid_id(auto_user)) {
        st.eio->send(eio_connect_error(p.nsp, "userId is not a valid id"));
        return;
      }
    }
  }
  auto nsp = p.nsp;
  auto sid = s.sid;
  st.sockets.emplace(nsp, std::move(s));
  st.eio->send(eio_connect_ok(nsp, sid));
  if (p.nsp == messages_nsp)
    subscribe_feed(self);
  if (!auto_user.empty())
    join(
      self, nsp, auto_user, [](const user_status&) {},
      [=](const std::string& why) {
        auto i = self->state.sockets.find(nsp);
        if (i != self->state.sockets.end())
          fail(self, i->second, no_ack, "unavailable", why);
      });
}

void on_packet(sio_ptr self, const std::string& text) {
  auto& st = self->state;
  st.ctx->probe.frames_in->Increment();
  sio_packet p;
  std::string err;
  if (!parse_sio(text, p, err)) {
    // As socket.io does: a packet that cannot be decoded ends the session.
    st.ctx->probe.protocol_errors->Increment();
    st.eio->close("parse error: " + err);
    return;
  }
  switch (p.type) {
    case sio_type::connect:
      on_connect(self, p);
      return;
    case sio_type::disconnect: {
      auto i = st.sockets.find(p.nsp);
      if (i != st.sockets.end()) {
        leave_socket(self, i->second);
        st.sockets.erase(i);
      }
      return;
    }
    case sio_type::event:
    case sio_type::binary_event: {
      auto i = st.sockets.find(p.nsp);
      if (i == st.sockets.end()) {
        // Not connected to that namespace: say so, as socket.io would.
        st.eio->send(eio_connect_error(p.nsp, "not connected"));
        return;
      }
      auto name = p.data[0].get<std::string>();
      if (p.type == sio_type::binary_event) {
        fail(self, i->second, p.ack_id, "binary_not_supported",
             "binary attachments are not supported");
        return;
      }
      if (reserved_event(name)) {
        fail(self, i->second, p.ack_id, "reserved_event",
             "'" + name + "' is a reserved event name");
        return;
      }
      on_event(self, i->second, name, p.data, p.ack_id);
      return;
    }
    case sio_type::ack:
    case sio_type::binary_ack:
      return;  // we never ask clients for acks
    case sio_type::connect_error:
      st.eio->close("protocol error");
      return;
  }
}

void on_deltas(sio_ptr self, const std::vector<presence_delta>& ds) {
  auto& st = self->state;
  bool list_changed = false;
  for (auto& d : ds) {
    for (auto& kvp : st.sockets) {
      auto& s = kvp.second;
      switch (s.d) {
        case dialect::none:
          break;
        case dialect::seed000:
          if (d.user_id != s.user_id)
            emit(self, s, d.online ? "user_online" : "user_offline",
                 {{"userId", d.user_id}});
          list_changed = true;
          break;
        case dialect::seed002:
          emit(self, s, "user-status-change",
               {{"userId", d.user_id},
                {"isOnline", d.online},
                {"lastSeen", iso_or_null(d.last_seen)},
                {"status", status_name(d.status)}});
          break;
        case dialect::seed004:
          if (d.user_id != s.user_id)
            emit(self, s, d.online ? "user-online" : "user-offline",
                 {{"userId", d.user_id}});
          break;
      }
    }
  }
  if (list_changed)
    schedule_list(self);
}

caf::behavior sio_impl(sio_ptr self, std::shared_ptr<edge_context> ctx,
                       std::shared_ptr<eio_transport> eio, sio_params params) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.eio = std::move(eio);
  st.params = std::move(params);
  self->delayed_send(self, st.ctx->cfg.edge.sio_ping_interval, ping_atom::value,
                     st.ping_seq);
  self->set_down_handler([=](caf::down_msg& dm) {
    for (auto& kvp : self->state.sockets) {
      auto& s = kvp.second;
      if (s.ph != phase::joined || !s.user || s.user.address() != dm.source)
        continue;
      // Moved (a rehome is on its way) or its node died.
      s.user = user_api{};
      auto epoch = ++s.rejoin_epoch;
      self->delayed_send(self, std::chrono::milliseconds(200),
                         rejoin_atom::value, kvp.first, epoch, 0);
    }
  });
  // A session that never connects to a namespace is dropped (socket.io's
  // connectTimeout): it would only hold memory.
  self->delayed_send(self,
                     st.ctx->cfg.edge.sio_ping_interval
                       + st.ctx->cfg.edge.sio_ping_timeout,
                     stop_atom::value);
  return {
    [=](stop_atom) {
      auto& st = self->state;
      if (!st.closed && st.sockets.empty())
        st.eio->close("connect timeout");
    },
    [=](frame_atom, const std::string& text) { on_packet(self, text); },
    [=](pong_atom) {
      auto& st = self->state;
      if (!st.awaiting_pong)
        return;
      st.awaiting_pong = false;
      // Engine.IO liveness is presence liveness: a pong refreshes the TTL.
      heartbeat_all(self);
      self->delayed_send(self, st.ctx->cfg.edge.sio_ping_interval,
                         ping_atom::value, ++st.ping_seq);
    },
    [=](ping_atom, uint64_t seq) {
      auto& st = self->state;
      if (st.closed || seq != st.ping_seq)
        return;
      st.awaiting_pong = true;
      st.eio->send(encode_eio(eio_type::ping));
      self->delayed_send(self, st.ctx->cfg.edge.sio_ping_timeout,
                         deadline_atom::value, seq);
    },
    [=](deadline_atom, uint64_t seq) {
      auto& st = self->state;
      if (!st.closed && st.awaiting_pong && seq == st.ping_seq)
        st.eio->close("ping timeout");
    },
    [=](delta_atom, const delta_batch& batch) {
      on_deltas(self, *batch.deltas);
    },
    [=](list_atom) {
      self->state.list_armed = false;
      push_seed000_lists(self);
    },
    [=](room_atom, const room_signal& sig) {
      for (auto& kvp : self->state.sockets)
        if (kvp.second.rooms.count(sig.room) > 0)
          emit(self, kvp.second, "user-typing",
               {{"userId", sig.user_id},
                {"chatSessionId", sig.room},
                {"isTyping", sig.typing}});
    },
    [=](rehome_atom, const std::string& device_id, const user_api& user) {
      for (auto& kvp : self->state.sockets)
        if (kvp.second.device_id == device_id
            && kvp.second.ph == phase::joined)
          set_user(self, kvp.second, user);
    },
    [=](rejoin_atom, const std::string& nsp, uint64_t epoch, int attempt) {
      rejoin(self, nsp, epoch, attempt);
    },
    [=](rejoin_atom, const std::string& device_id) {
      // The user actor does not know this device (any more): register again.
      for (auto& kvp : self->state.sockets)
        if (kvp.second.device_id == device_id
            && kvp.second.ph == phase::joined)
          rejoin(self, kvp.first, ++kvp.second.rejoin_epoch, 0);
    },
    [=](expire_atom, const std::string& device_id, const std::string& why) {
      for (auto& kvp : self->state.sockets) {
        auto& s = kvp.second;
        if (s.device_id == device_id && s.ph == phase::joined) {
          s.ph = phase::idle;
          set_user(self, s, user_api{});
          emit(self, s, "presence-error",
               {{"code", "session_expired"}, {"message", why}});
        }
      }
    },
    [=](closed_atom) {
      auto& st = self->state;
      if (st.closed)
        return;
      st.closed = true;
      for (auto& kvp : st.sockets)
        leave_socket(self, kvp.second);
      st.sockets.clear();
      maybe_quit(self);
    },
  };
}

// -- WebSocket transport ------------------------------------------------------------

class eio_ws_endpoint : public ws_endpoint {
public:
  eio_ws_endpoint(std::shared_ptr<edge_context> ctx,
                  std::shared_ptr<eio_registry> reg,
                  std::shared_ptr<eio_session> upgrade, sio_params params)
    : ctx_(std::move(ctx)), reg_(std::move(reg)),
      session_(std::move(upgrade)), params_(std::move(params)) {
    // nop
  }

  void on_open(std::shared_ptr<session_sink> sink) override {
    sink_ = sink;
    if (session_) {
      session_->begin_probe(std::move(sink));
      return;
    }
    session_ = reg_->create();
    session_->attach_websocket(sink);
    // The open packet goes first, before the app can say anything.
    sink->send_text(
      std::make_shared<const std::string>(session_->open_packet()));
    session_->bind(spawn_sio_session(ctx_, session_, params_));
  }

  void on_text(std::string text) override {
    session_->on_ws_text(sink_, text);
  }

  void on_binary() override {
    say_error("binary_not_supported", "binary frames are not supported");
  }

  void on_rate_limited() override {
    say_error("rate_limited", "too many messages; slow down");
  }

  void on_closed() override {
    if (session_)
      session_->on_ws_closed(sink_);
  }

private:
  void say_error(const char* code, const char* message) {
    ctx_->probe.protocol_errors->Increment();
    sink_->send_text(std::make_shared<const std::string>(eio_event(
      "/", "presence-error", {{"code", code}, {"message", message}})));
  }

  std::shared_ptr<edge_context> ctx_;
  std::shared_ptr<eio_registry> reg_;
  std::shared_ptr<eio_session> session_;
  sio_params params_;
  std::shared_ptr<session_sink> sink_;
};

} // namespace

caf::actor spawn_sio_session(std::shared_ptr<edge_context> ctx,
                             std::shared_ptr<eio_transport> eio,
                             sio_params params) {
  auto& sys = ctx->sys;
  return sys.spawn(sio_impl, std::move(ctx), std::move(eio),
                   std::move(params));
}

std::shared_ptr<ws_endpoint>
make_eio_ws_endpoint(std::shared_ptr<edge_context> ctx,
                     std::shared_ptr<eio_registry> reg,
                     std::shared_ptr<eio_session> upgrade, sio_params params) {
  return std::make_shared<eio_ws_endpoint>(std::move(ctx), std::move(reg),
                                           std::move(upgrade),
                                           std::move(params));
}

} // namespace presence::edge
