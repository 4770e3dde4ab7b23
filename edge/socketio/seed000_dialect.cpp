// Seed 000 (and 001, its superset): the Next.js app's socket.io events on
// namespace "/" (../shared/seeds/000_*.txt). A socket speaks it once it
// sends join_user. It hears user_online / user_offline for everyone but
// its own user, and the full online_users_list: at once on its own join,
// then with every build of the node's list (seed000_list.hpp: at most once
// per --sio-list-window, widened for large audiences), the same bytes for
// every socket.

#include <prometheus/counter.h>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/socketio/seed000_list.hpp"
#include "edge/socketio/sio_dialects.hpp"

namespace presence::edge {

namespace {

/// The online_users_list event for socket `s` (the node's shared packet on
/// "/", else made for its namespace).
std::shared_ptr<const std::string> list_packet(const sio_socket& s,
                                               const seed000_list& l) {
  auto users = l.users_for(viewer_of(s));
  if (s.nsp == "/" && users == l.users_json)
    return l.packet;
  std::string out = "42";
  if (s.nsp != "/")
    out += s.nsp + ",";
  out += "[\"online_users_list\",{\"users\":";
  out += *users;
  out += "}]";
  return std::make_shared<const std::string>(std::move(out));
}

void send_list(sio_ptr self, const sio_socket& s, const seed000_list& l) {
  send_packet(self, list_packet(s, l));
}

/// The session gets every build of the node's list (once).
void follow_lists(sio_ptr self) {
  auto& st = self->state;
  if (st.list_subscribed)
    return;
  st.list_subscribed = true;
  self->send(st.lists, subscribe_atom::value, seed000_list_listener{self});
}

void join_user(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id) {
  std::string user, why;
  if (!resolve_user(self, s, user_arg(arg), string_field(arg, "token"), user,
                    why)) {
    fail(self, s, ack_id, "unauthorized", why);
    return;
  }
  set_dialect(self, s, dialect::seed000);
  subscribe_feed(self);
  follow_lists(self);
  auto find = socket_finder(self, s.nsp);
  join_socket(
    self, s.nsp, user,
    [=](const user_status& us) {
      if (auto* sock = find())
        ack(self, sock->nsp, ack_id, ack_ok(seeds::seed004_status(us)));
      // Seed 001: private messages that waited for this user, in order.
      deliver_queued(self, find);
      // The joiner gets the list at once (showing itself); the others with
      // the node's next build. An invisible user is not put on the node's
      // list (the ack's status is the user's own view).
      bool hidden = us.status == presence_status::invisible;
      self
        ->request(self->state.lists,
                  self->state.ctx->cfg.actors.request_timeout, get_atom::value,
                  hidden ? presence_delta{} : delta_of(us))
        .then(
          [=](seed000_list& l) {
            if (auto* sock = find())
              send_list(self, *sock, l);
          },
          [=](caf::error&) {
            // No list this time: the next build brings it, and the client
            // can always ask (get_online_users).
          });
    },
    [=](const std::string& why) {
      if (auto* sock = find())
        fail(self, *sock, ack_id, "unavailable", why);
    });
}

/// presenced's own: a ping on "/" is answered with a pong event too.
void ping(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id) {
  record_activity(self, s);
  auto now = [self] { return iso8601(self->state.ctx->now()); };
  if (s.nsp == "/")
    emit(self, s, "pong", {{"timestamp", now()}});
  ack(self, s.nsp, ack_id, ack_ok({{"timestamp", now()}}));
}

void get_online_users(sio_ptr self, sio_socket& s, const json&,
                      int64_t ack_id) {
  auto find = socket_finder(self, s.nsp);
  self
    ->request(self->state.lists, self->state.ctx->cfg.actors.request_timeout,
              get_atom::value, presence_delta{})
    .then(
      [=](seed000_list& l) {
        auto* sock = find();
        if (!sock)
          return;
        send_list(self, *sock, l);
        if (ack_id == sio::no_ack)
          return;
        // {"success":true,"data":{"users":[...]}} around the shared JSON.
        std::string a = "43";
        if (sock->nsp != "/")
          a += sock->nsp + ",";
        a += std::to_string(ack_id);
        a += "[{\"data\":{\"users\":";
        a += *l.users_for(viewer_of(*sock));
        a += "},\"success\":true}]";
        send_packet(self, std::make_shared<const std::string>(std::move(a)));
      },
      [=](caf::error& e) {
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
  auto answer = [self, user, ack_id](sio_socket& sock, bool online) {
    json payload = {{"userId", user}, {"online", online}};
    emit(self, sock, "user_online_status", payload);
    ack(self, sock.nsp, ack_id, ack_ok(payload));
  };
  // The node's feed knows (the heartbeat round of seed 000's clients: no
  // message to anyone).
  auto& index = *self->state.ctx->online;
  if (index.ready()) {
    answer(s, index.online(user, viewer_of(s)));
    return;
  }
  auto find = socket_finder(self, s.nsp);
  self
    ->request(self->state.ctx->api, self->state.ctx->cfg.actors.request_timeout,
              get_atom::value, user)
    .then(
      [=](user_status& us) {
        if (auto* sock = find())
          answer(*sock, us.online && !hidden_from(viewer_of(*sock), us));
      },
      [=](caf::error& e) {
        if (auto* sock = find())
          fail(self, *sock, ack_id, e);
      });
}

std::shared_ptr<const std::string> delta_packet(const std::string& nsp,
                                                const std::string& user,
                                                const presence_delta& d,
                                                delta_memo* memo) {
  // "Everyone but the user", as seed 000 says.
  return user_event_packet(memo, nsp, user, d, "user_online", "user_offline");
}

} // namespace

void on_seed000_list(sio_ptr self, const seed000_list& l) {
  for (auto& kvp : self->state.sockets)
    if (kvp.second.d == dialect::seed000)
      send_list(self, kvp.second, l);
}

const sio_dialect& seed000_dialect() {
  static const sio_dialect d = [] {
    sio_dialect x{
      dialect::seed000,
      "",
      {
        {"join_user", join_user},
        {"user_activity", on_activity},
        {"ping", ping},
        {"get_online_users", get_online_users},
        {"check_user_online", check_user_online},
      },
      delta_packet,
    };
    // Seed 001 is seed 000 plus private messages.
    for (auto& e : seed001_events())
      x.events.push_back(e);
    return x;
  }();
  return d;
}

} // namespace presence::edge
