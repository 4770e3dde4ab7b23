// Seed 001: private messages on seed 000's namespace "/"
// (../shared/seeds/001_*.txt; the rules in edge/common/chat.hpp). Events,
// each answered through its acknowledgement:
//   join_conversation {conversationId} | id  -> {success, conversationId}
//   leave_conversation {conversationId} | id -> {success, conversationId}
//   send_private_message {conversationId, content, tempId}
//                                            -> {success, message, delivered}
// Errors: {success:false, error: code, message}. The sender is the socket's
// joined user (join_user; in JWT mode the verified token's). Every live
// socket of every participant but the sending one gets
// new_private_message(message) (sio_session.cpp).

#include <prometheus/counter.h>

#include "edge/common/chat.hpp"
#include "edge/common/json_input.hpp"
#include "edge/socketio/sio_dialects.hpp"

namespace presence::edge {

namespace {

/// The conversation id of a payload: {conversationId} or the bare id.
std::string conversation_arg(const json& arg) {
  const json* v = &arg;
  if (arg.is_object()) {
    auto i = arg.find("conversationId");
    if (i == arg.end())
      return {};
    v = &*i;
  }
  std::string out;
  id_from_json(*v, out);
  return out;
}

void ack_error(sio_ptr self, const std::string& nsp, int64_t ack_id,
               const client_error& e) {
  self->state.ctx->probe.protocol_errors->Increment();
  ack(self, nsp, ack_id,
      {{"success", false}, {"error", e.code}, {"message", e.message}});
}

/// The socket's user, or an `unauthorized` answer and false.
bool sender_of(sio_ptr self, const sio_socket& s, int64_t ack_id,
               std::string& out) {
  if (!s.link.joined()) {
    ack_error(self, s.nsp, ack_id,
              chat::failure(401, "unauthorized",
                            "send join_user before private messages"));
    return false;
  }
  out = s.link.user_id;
  return true;
}

/// join_conversation / leave_conversation: a participant check. Delivery
/// does not depend on it (every live device of a participant gets every
/// message); seed 001's front-end joins before sending.
void membership(sio_ptr self, sio_socket& s, const json& arg, int64_t ack_id) {
  std::string user;
  if (!sender_of(self, s, ack_id, user))
    return;
  auto conv = conversation_arg(arg);
  auto nsp = s.nsp;
  chat::with_conversation(
    self, self->state.ctx, user, conv,
    [=](conversation&) {
      ack(self, nsp, ack_id, {{"success", true}, {"conversationId", conv}});
    },
    [=](const client_error& e) { ack_error(self, nsp, ack_id, e); });
}

void send_private_message(sio_ptr self, sio_socket& s, const json& arg,
                          int64_t ack_id) {
  chat::send_request req;
  if (!sender_of(self, s, ack_id, req.sender))
    return;
  if (!arg.is_object()) {
    ack_error(self, s.nsp, ack_id,
              chat::failure(400, "bad_request",
                            "expected {conversationId, content, tempId}"));
    return;
  }
  req.conversation_id = conversation_arg(arg);
  req.content = string_field(arg, "content");
  if (auto t = arg.find("tempId");
      t != arg.end() && !t->is_null() && !id_from_json(*t, req.temp_id)) {
    // A retry key that cannot be kept would make retries duplicates.
    ack_error(self, s.nsp, ack_id,
              chat::failure(400, "bad_request",
                            "tempId must be a string or an integer"));
    return;
  }
  req.device = s.link.device.device_id;
  auto nsp = s.nsp;
  chat::send(
    self, self->state.ctx, std::move(req),
    [=](const chat::sent& r) {
      ack(self, nsp, ack_id,
          {{"success", true},
           {"message", chat::to_json(r.message)},
           {"delivered", r.delivered}});
    },
    [=](const client_error& e) { ack_error(self, nsp, ack_id, e); });
}

} // namespace

const std::vector<event_entry>& seed001_events() {
  static const std::vector<event_entry> events{
    {"join_conversation", membership},
    {"leave_conversation", membership},
    {"send_private_message", send_private_message},
  };
  return events;
}

void deliver_queued(sio_ptr self, std::function<sio_socket*()> find) {
  auto* s = find();
  if (s == nullptr || !s->link.joined() || !s->link.queued)
    return;
  s->link.queued = false;
  chat::drain_queue(self, self->state.ctx, s->link.user_id,
                    s->link.queue_device, [=](const chat_message& m) {
                      if (auto* sock = find())
                        emit(self, *sock, "new_private_message",
                             chat::to_json(m));
                    });
}

void emit_private_message(sio_ptr self, const std::string& device,
                          const chat_message& m) {
  for (auto& kvp : self->state.sockets) {
    auto& s = kvp.second;
    if (s.link.joined() && s.link.device.device_id == device)
      emit(self, s, "new_private_message", chat::to_json(m));
  }
}

} // namespace presence::edge
