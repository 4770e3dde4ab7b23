// Seed 004: the NestJS gateway on namespace "/ws/messages"
// (../shared/seeds/004_*.txt). Its sockets speak it from CONNECT on (the
// handshake says who; see sio_session.cpp) and answer through
// acknowledgements. They hear user-online / user-offline of every other
// user from the fan-out; a connecting socket gets its own user-online once
// its join is in (sio_session.cpp), as seed 004's "all connected clients
// receive" has it.

#include "core/ids.hpp"
#include "edge/common/online_users.hpp"
#include "edge/common/seed_payloads.hpp"
#include "edge/socketio/sio_dialects.hpp"

namespace presence::edge {

namespace {

void check_user_status(sio_ptr self, sio_socket& s, const json& arg,
                       int64_t ack_id) {
  auto user = user_arg(arg);
  if (!valid_id(user)) {
    fail(self, s, ack_id, "bad_request", "userId is required");
    return;
  }
  auto nsp = s.nsp;
  auto find = socket_finder(self, nsp);
  self
    ->request(self->state.ctx->api, self->state.ctx->cfg.actors.request_timeout,
              get_atom::value, user)
    .then(
      [=](user_status& us) {
        if (auto* sock = find(); !sock || hidden_from(viewer_of(*sock), us))
          hide(us);
        ack(self, nsp, ack_id, ack_ok(seeds::seed004_status(us)));
      },
      [=](caf::error& e) {
        if (auto* sock = find())
          fail(self, *sock, ack_id, e);
      });
}

void check_users_status(sio_ptr self, sio_socket& s, const json& arg,
                        int64_t ack_id) {
  std::vector<std::string> ids;
  const json* list = nullptr;
  if (arg.is_object() && arg.contains("userIds"))
    list = &arg["userIds"];
  else if (arg.is_array())
    list = &arg;
  if (list == nullptr || !list->is_array() || list->size() > sio_max_batch) {
    fail(self, s, ack_id, "bad_request",
         "userIds must be an array of at most " + std::to_string(sio_max_batch)
           + " ids");
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
  auto nsp = s.nsp;
  auto find = socket_finder(self, nsp);
  self
    ->request(self->state.ctx->api, self->state.ctx->cfg.actors.request_timeout,
              get_atom::value, std::move(ids))
    .then(
      [=](std::vector<user_status>& xs) {
        auto statuses = json::array();
        auto* sock = find();
        auto who = sock ? viewer_of(*sock) : viewer{};
        for (auto& x : xs) {
          if (hidden_from(who, x))
            hide(x);
          statuses.push_back(seeds::seed004_status(x));
        }
        ack(self, nsp, ack_id, ack_ok({{"statuses", statuses}}));
      },
      [=](caf::error& e) {
        if (auto* sock = find())
          fail(self, *sock, ack_id, e);
      });
}

/// Answered through the acknowledgement only (no event).
void get_online_users(sio_ptr self, sio_socket& s, const json&,
                      int64_t ack_id) {
  auto nsp = s.nsp;
  auto find = socket_finder(self, nsp);
  fetch_online_users(
    self, *self->state.ctx, std::string{}, sio_list_max, viewer_of(s),
    [=](online_users& xs) {
      if (!find())
        return;
      auto users = json::array();
      for (auto& u : xs.page.users)
        users.push_back(seeds::seed004_status(status_of(u)));
      ack(self, nsp, ack_id,
          ack_ok({{"users", users}, {"count", xs.page.users.size()}}));
    },
    [=](const caf::error& e) {
      if (auto* sock = find())
        fail(self, *sock, ack_id, e);
    });
}

std::shared_ptr<const std::string> delta_packet(const std::string& nsp,
                                                const std::string& user,
                                                const presence_delta& d,
                                                delta_memo* memo) {
  return user_event_packet(memo, nsp, user, d, "user-online", "user-offline");
}

} // namespace

const sio_dialect& seed004_dialect() {
  static const sio_dialect d{
    dialect::seed004,
    "/ws/messages",
    {
      {"check-user-status", check_user_status},
      {"check-users-status", check_users_status},
      {"get-online-users", get_online_users},
      {"heartbeat", on_activity},
    },
    delta_packet,
  };
  return d;
}

} // namespace presence::edge
