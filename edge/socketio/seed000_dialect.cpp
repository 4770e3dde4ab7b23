// Seed 000 (and 001, its superset): the Next.js app's socket.io events on
// namespace "/" (../shared/seeds/000_*.txt). A socket speaks it once it
// sends join_user. It hears user_online / user_offline for everyone but
// its own user, and the full online_users_list: at once on its own join,
// then at most once per --sio-list-window while the list changes.

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "edge/common/online_users.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/socketio/sio_dialects.hpp"

namespace presence::edge {

namespace {

json user_list(const online_users& xs) {
  auto users = json::array();
  for (size_t i = 0; i < xs.page.users.size(); ++i)
    users.push_back(seeds::seed000_user(xs.page.users[i], xs.profiles[i]));
  return users;
}

void join_user(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id) {
  std::string user, why;
  if (!resolve_user(self, s, user_arg(arg), string_field(arg, "token"), user,
                    why)) {
    fail(self, s, ack_id, "unauthorized", why);
    return;
  }
  s.d = dialect::seed000;
  subscribe_feed(self);
  auto find = socket_finder(self, s.nsp);
  join_socket(
    self, s.nsp, user,
    [=](const user_status& us) {
      if (auto* sock = find())
        ack(self, sock->nsp, ack_id, ack_ok(seeds::seed004_status(us)));
      // The joiner gets the full list at once; others via the window.
      push_seed000_lists(self);
    },
    [=](const std::string& why) {
      if (auto* sock = find())
        fail(self, *sock, ack_id, "unavailable", why);
    });
}

/// presenced's own: a ping on "/" is answered with a pong event too.
void ping(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id) {
  if (s.link.joined())
    self->send(s.link.user, heartbeat_atom::value, s.link.device.device_id,
               self->state.ctx->now());
  auto now = [self] { return iso8601(self->state.ctx->now()); };
  if (s.nsp == "/")
    emit(self, s, "pong", {{"timestamp", now()}});
  ack(self, s.nsp, ack_id, ack_ok({{"timestamp", now()}}));
}

void get_online_users(sio_ptr self, sio_socket& s, const json&,
                      int64_t ack_id) {
  auto find = socket_finder(self, s.nsp);
  fetch_online_users(
    self, *self->state.ctx, std::string{}, sio_list_max,
    [=](online_users& xs) {
      if (auto* sock = find()) {
        auto payload = json{{"users", user_list(xs)}};
        emit(self, *sock, "online_users_list", payload);
        ack(self, sock->nsp, ack_id, ack_ok(payload));
      }
    },
    [=](const caf::error& e) {
      if (auto* sock = find())
        fail(self, *sock, ack_id, e);
    });
}

void check_user_online(sio_ptr self, sio_socket& s, const json& arg,
                       int64_t ack_id) {
  auto user = user_arg(arg);
  if (!valid_id(user)) {
    fail(self, s, ack_id, "bad_request", "userId is required");
    return;
  }
  auto find = socket_finder(self, s.nsp);
  self
    ->request(self->state.ctx->api, self->state.ctx->cfg.actors.request_timeout,
              get_atom::value, user)
    .then(
      [=](user_status& us) {
        if (auto* sock = find()) {
          json payload = {{"userId", user}, {"online", us.online}};
          emit(self, *sock, "user_online_status", payload);
          ack(self, sock->nsp, ack_id, ack_ok(payload));
        }
      },
      [=](caf::error& e) {
        if (auto* sock = find())
          fail(self, *sock, ack_id, e);
      });
}

void on_delta(sio_ptr self, sio_socket& s, const presence_delta& d) {
  // "Everyone but the user", as seed 000 says.
  if (d.user_id != s.link.user_id)
    emit(self, s, d.online ? "user_online" : "user_offline",
         {{"userId", d.user_id}});
}

/// Marks the list dirty: pushed at most once per sio_list_window.
void schedule_list(sio_ptr self) {
  auto& st = self->state;
  if (st.list_armed)
    return;
  auto window = st.ctx->cfg.edge.sio_list_window;
  if (window.count() == 0) {
    push_seed000_lists(self);
    return;
  }
  st.list_armed = true;
  self->delayed_send(self, window, list_atom::value);
}

} // namespace

void push_seed000_lists(sio_ptr self) {
  fetch_online_users(
    self, *self->state.ctx, std::string{}, sio_list_max,
    [=](online_users& xs) {
      auto payload = json{{"users", user_list(xs)}};
      for (auto& kvp : self->state.sockets)
        if (kvp.second.d == dialect::seed000)
          emit(self, kvp.second, "online_users_list", payload);
    },
    [](const caf::error&) {
      // Nothing to push this time: the next change or join pushes the
      // list again, and a client can always ask (get_online_users).
    });
}

const sio_dialect& seed000_dialect() {
  static const sio_dialect d{
    dialect::seed000,
    "",
    {
      {"join_user", join_user},
      {"user_activity", on_activity},
      {"ping", ping},
      {"get_online_users", get_online_users},
      {"check_user_online", check_user_online},
    },
    on_delta,
    schedule_list,
  };
  return d;
}

} // namespace presence::edge
