// Seed 002: the chat app's socket.io events on namespace "/"
// (../shared/seeds/002_*.txt). A socket speaks it once it sends
// authenticate. It hears user-status-change for every change (its own
// included) and user-typing in the chat sessions it joined.

#include <caf/send.hpp>
#include <prometheus/counter.h>

#include "edge/common/client_error.hpp"
#include "edge/common/online_users.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/socketio/sio_dialects.hpp"

namespace presence::edge {

namespace {

void authenticate(sio_ptr self, sio_socket& s, const json& arg,
                  int64_t ack_id) {
  std::string user, why;
  if (!resolve_user(self, s, user_arg(arg), string_field(arg, "token"), user,
                    why)) {
    self->state.ctx->probe.protocol_errors->Increment();
    emit(self, s, "authentication-error", {{"message", why}});
    ack(self, s.nsp, ack_id, ack_fail(why));
    return;
  }
  set_dialect(self, s, dialect::seed002);
  subscribe_feed(self);
  auto find = socket_finder(self, s.nsp);
  join_socket(
    self, s.nsp, user,
    [=](const user_status&) {
      self
        ->request(self->state.ctx->api,
                  self->state.ctx->cfg.actors.request_timeout,
                  count_atom::value, viewer{user, false})
        .then(
          [=](uint64_t n) {
            if (auto* sock = find()) {
              json payload = {{"userId", user}, {"onlineCount", n}};
              emit(self, *sock, "authentication-success", payload);
              ack(self, sock->nsp, ack_id, ack_ok(payload));
            }
          },
          [=](caf::error& e) {
            if (auto* sock = find())
              emit(self, *sock, "authentication-error",
                   {{"message", to_client_error(e).message}});
          });
    },
    [=](const std::string& why) {
      if (auto* sock = find()) {
        emit(self, *sock, "authentication-error", {{"message", why}});
        ack(self, sock->nsp, ack_id, ack_fail(why));
      }
    });
}

void get_online_users(sio_ptr self, sio_socket& s, const json&,
                      int64_t ack_id) {
  auto find = socket_finder(self, s.nsp);
  fetch_online_users(
    self, *self->state.ctx, std::string{}, sio_list_max, viewer_of(s),
    [=](online_users& xs) {
      auto* sock = find();
      if (!sock)
        return;
      auto users = json::array();
      for (size_t i = 0; i < xs.page.users.size(); ++i)
        users.push_back(seeds::seed002_user(xs.page.users[i], xs.profiles[i]));
      emit(self, *sock, "online-users-list", users);
      ack(self, sock->nsp, ack_id,
          ack_ok({{"users", users}, {"count", xs.page.users.size()}}));
    },
    [=](const caf::error& e) {
      if (auto* sock = find())
        fail(self, *sock, ack_id, e);
    });
}

/// The chat session an event names: "id", {"chatSessionId": ...} or
/// {"sessionId": ...}; "" when none or too long.
std::string room_of(const json& arg) {
  std::string room = arg.is_string() ? arg.get<std::string>()
                                     : string_field(arg, "chatSessionId");
  if (room.empty() && arg.is_object())
    room = string_field(arg, "sessionId");
  return room.size() > max_room_id_bytes ? std::string{} : room;
}

/// Reads the room of a chat event; false after telling the client.
bool read_room(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id,
               std::string& room) {
  room = room_of(arg);
  if (room.empty()) {
    fail(self, s, ack_id, "bad_request", "chatSessionId is required");
    return false;
  }
  return true;
}

void join_chat_session(sio_ptr self, sio_socket& s, const json& arg,
                       int64_t ack_id) {
  std::string room;
  if (!read_room(self, s, arg, ack_id, room))
    return;
  if (s.rooms.size() >= max_rooms_per_socket) {
    fail(self, s, ack_id, "too_many_rooms", "too many chat sessions");
    return;
  }
  s.rooms.insert(room);
  self->send(self->state.ctx->rooms, join_atom::value, room, room_member{self});
  ack(self, s.nsp, ack_id, ack_ok({{"chatSessionId", room}}));
}

void leave_chat_session(sio_ptr self, sio_socket& s, const json& arg,
                        int64_t ack_id) {
  std::string room;
  if (!read_room(self, s, arg, ack_id, room))
    return;
  s.rooms.erase(room);
  self->send(self->state.ctx->rooms, leave_atom::value, room,
             room_member{self});
  ack(self, s.nsp, ack_id, ack_ok({{"chatSessionId", room}}));
}

void typing(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id,
            bool typing) {
  std::string room;
  if (!read_room(self, s, arg, ack_id, room))
    return;
  if (!s.link.joined()) {
    fail(self, s, ack_id, "not_authenticated", "authenticate before typing");
    return;
  }
  if (s.rooms.count(room) == 0) {
    fail(self, s, ack_id, "not_in_session",
         "join-chat-session before typing in it");
    return;
  }
  self->send(self->state.ctx->rooms, room_atom::value, room_member{self},
             room_signal{room, s.link.user_id, typing});
  ack(self, s.nsp, ack_id, ack_ok({{"chatSessionId", room}}));
}

void typing_start(sio_ptr self, sio_socket& s, const json& arg,
                  int64_t ack_id) {
  typing(self, s, arg, ack_id, true);
}

void typing_stop(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id) {
  typing(self, s, arg, ack_id, false);
}

std::shared_ptr<const std::string> delta_packet(const std::string& nsp,
                                                const std::string&,
                                                const presence_delta& d,
                                                delta_memo* memo) {
  return delta_event(memo, nsp, d, "user-status-change", [&d]() -> json {
    return {{"userId", d.user_id},
            {"isOnline", d.online},
            {"lastSeen", seeds::iso_or_null(d.last_seen)},
            {"status", status_name(d.status)}};
  });
}

} // namespace

void emit_typing(sio_ptr self, const sio_socket& s, const room_signal& sig) {
  emit(self, s, "user-typing",
       {{"userId", sig.user_id},
        {"chatSessionId", sig.room},
        {"isTyping", sig.typing}});
}

const sio_dialect& seed002_dialect() {
  static const sio_dialect d{
    dialect::seed002,
    "",
    {
      {"authenticate", authenticate},
      {"get-online-users", get_online_users},
      {"join-chat-session", join_chat_session},
      {"leave-chat-session", leave_chat_session},
      {"typing-start", typing_start},
      {"typing-stop", typing_stop},
    },
    delta_packet,
  };
  return d;
}

} // namespace presence::edge
