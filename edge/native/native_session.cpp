#include "edge/native/native_session.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <prometheus/counter.h>

#include "edge/common/auth.hpp"
#include "edge/common/close_codes.hpp"
#include "edge/native/native_protocol.hpp"

namespace presence::edge {

namespace {


enum class phase { idle, joining, joined };

struct session_state {
  std::shared_ptr<edge_context> ctx;
  std::shared_ptr<session_sink> sink;
  session_params params;
  phase ph = phase::idle;
  bool closed = false;
  std::string user_id;
  std::string device_id;
  presence_status status = presence_status::online;
  user_api user;
  /// Bumped whenever the user actor changes; stale rejoin timers see it.
  uint64_t rejoin_epoch = 0;
  static inline const char* name = "presence.session";
};

using session_ptr = caf::stateful_actor<session_state>*;

void send(session_ptr self, std::string frame) {
  self->state.ctx->probe.frames_out->Increment();
  self->state.sink->send_text(
    std::make_shared<const std::string>(std::move(frame)));
}

void send_error(session_ptr self, const std::string& id_json,
                const std::string& code, const std::string& message) {
  self->state.ctx->probe.protocol_errors->Increment();
  send(self, encode_error(id_json, code, message));
}

/// Maps a failed request to an error frame.
void send_failure(session_ptr self, const std::string& id_json,
                  const caf::error& err) {
  switch (presence_code(err)) {
    case errc::too_many_devices:
      send_error(self, id_json, "too_many_devices",
                 "this user has too many devices connected");
      return;
    case errc::shutting_down:
      send_error(self, id_json, "shutting_down", "the server is shutting down");
      return;
    case errc::invalid_argument:
      send_error(self, id_json, "bad_request", "request refused");
      return;
    default:
      break;
  }
  if (err == caf::sec::request_timeout)
    send_error(self, id_json, "timeout", "the request timed out");
  else
    send_error(self, id_json, "unavailable",
               "presence service unavailable, try again");
}

/// Follows the user actor holding this session's device (it may move to
/// another node, or die with its node).
void set_user(session_ptr self, user_api user) {
  auto& st = self->state;
  if (st.user == user)
    return;
  if (st.user)
    self->demonitor(st.user.address());
  st.user = std::move(user);
  ++st.rejoin_epoch;
  if (st.user)
    self->monitor(st.user);
}

void leave(session_ptr self) {
  auto& st = self->state;
  if (st.ph == phase::joined && st.user)
    self->send(st.user, leave_atom::value, st.device_id, self->address());
  st.ph = phase::idle;
  set_user(self, user_api{});
}

/// The user actor is gone while this device is still here (its node died):
/// register again; the ring now names another owner. Registration is
/// idempotent per session, so a late duplicate does no harm.
void rejoin(session_ptr self, uint64_t epoch, int attempt) {
  auto& st = self->state;
  if (st.closed || st.ph != phase::joined || epoch != st.rejoin_epoch)
    return;
  join_request req;
  req.user_id = st.user_id;
  req.device.device_id = st.device_id;
  req.device.user_agent = st.params.user_agent;
  req.device.platform = st.params.platform;
  req.device.status = st.status;
  req.session = caf::actor_cast<session_api>(self);
  self->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                join_atom::value, std::move(req))
    .then(
      [=](join_ack& ack) {
        auto& st = self->state;
        if (epoch != st.rejoin_epoch || st.ph != phase::joined)
          return;
        set_user(self, caf::actor_cast<user_api>(ack.user));
      },
      [=](caf::error&) {
        auto& st = self->state;
        if (epoch != st.rejoin_epoch)
          return;
        if (attempt >= 8) {
          // The cluster could not take this device back: the client
          // reconnects (anywhere) and starts clean.
          send_error(self, "", "unavailable", "presence owner lost");
          st.sink->close(close_code::internal_error, "presence owner lost");
          return;
        }
        auto delay = std::chrono::milliseconds(100 << std::min(attempt, 5));
        self->delayed_send(self, delay, rejoin_atom::value, epoch,
                           attempt + 1);
      });
}

void join(session_ptr self, const native_command& cmd) {
  auto& st = self->state;
  auto& id = cmd.id_json;
  if (st.ph == phase::joining) {
    send_error(self, id, "join_in_progress", "a join is already under way");
    return;
  }
  // Who: the token decides in JWT mode; the client names itself otherwise.
  std::string user = st.params.user_id;
  const auto& secret = st.ctx->cfg.edge.jwt_secret;
  if (!secret.empty()) {
    if (!cmd.token.empty()) {
      auto who = verify_jwt(secret, cmd.token, st.ctx->now());
      if (!who.ok) {
        send_error(self, id, who.code, who.message);
        return;
      }
      if (!user.empty() && who.user_id != user) {
        send_error(self, id, "forbidden",
                   "the token names a different user than this session");
        return;
      }
      user = who.user_id;
    }
    if (user.empty()) {
      send_error(self, id, "unauthorized", "a JWT is required to join");
      return;
    }
    if (!cmd.user_id.empty() && cmd.user_id != user) {
      send_error(self, id, "forbidden",
                 "you may only join as the user your token names");
      return;
    }
  } else if (!cmd.user_id.empty()) {
    user = cmd.user_id;
  }
  if (user.empty()) {
    send_error(self, id, "bad_request",
               "'user_id' is required (or connect with ?userId=)");
    return;
  }
  if (st.ph == phase::joined && user != st.user_id) {
    send_error(self, id, "already_joined",
               "this session has joined as another user; leave first");
    return;
  }
  join_request req;
  req.user_id = user;
  req.device.device_id = !cmd.device_id.empty()    ? cmd.device_id
                         : !st.device_id.empty()   ? st.device_id
                         : !st.params.device_id.empty() ? st.params.device_id
                                                        : st.ctx->make_device_id();
  req.device.user_agent = !cmd.user_agent.empty() ? cmd.user_agent
                                                  : st.params.user_agent;
  req.device.platform = !cmd.platform.empty() ? cmd.platform
                                              : st.params.platform;
  req.device.status = cmd.has_status ? cmd.status : presence_status::online;
  st.status = req.device.status;
  req.session = caf::actor_cast<session_api>(self);
  // Switching devices within one session: the old one goes.
  if (st.ph == phase::joined && req.device.device_id != st.device_id)
    leave(self);
  st.ph = phase::joining;
  st.user_id = user;
  st.device_id = req.device.device_id;
  self->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                join_atom::value, std::move(req))
    .then(
      [=](join_ack& ack) {
        auto& st = self->state;
        set_user(self, caf::actor_cast<user_api>(ack.user));
        st.ph = phase::joined;
        if (st.closed) {
          leave(self);
          self->quit();
          return;
        }
        send(self, encode_joined(id, ack));
      },
      [=](caf::error& err) {
        auto& st = self->state;
        st.ph = phase::idle;
        if (st.closed) {
          self->quit();
          return;
        }
        send_failure(self, id, err);
      });
}

void handle(session_ptr self, native_command& cmd) {
  auto& st = self->state;
  auto& id = cmd.id_json;
  auto timeout = st.ctx->cfg.actors.request_timeout;
  switch (cmd.op) {
    case native_op::join:
      join(self, cmd);
      return;
    case native_op::leave:
      leave(self);
      send(self, encode_left(id));
      return;
    case native_op::ping:
      if (st.ph == phase::joined)
        self->send(st.user, heartbeat_atom::value, st.device_id);
      send(self, encode_pong(id, st.ctx->now()));
      return;
    case native_op::get_status:
      self->request(st.ctx->api, timeout, get_atom::value, cmd.user_id)
        .then([=](user_status& s) { send(self, encode_status(id, s)); },
              [=](caf::error& err) { send_failure(self, id, err); });
      return;
    case native_op::get_statuses:
      self->request(st.ctx->api, timeout, get_atom::value, cmd.user_ids)
        .then(
          [=](std::vector<user_status>& xs) {
            send(self, encode_statuses(id, xs));
          },
          [=](caf::error& err) { send_failure(self, id, err); });
      return;
    case native_op::list_online:
      self->request(st.ctx->api, timeout, list_atom::value, cmd.cursor,
                    cmd.limit)
        .then([=](online_page& p) { send(self, encode_online_list(id, p)); },
              [=](caf::error& err) { send_failure(self, id, err); });
      return;
    case native_op::count_online:
      self->request(st.ctx->api, timeout, count_atom::value)
        .then([=](uint64_t n) { send(self, encode_count(id, n)); },
              [=](caf::error& err) { send_failure(self, id, err); });
      return;
    case native_op::subscribe:
    case native_op::unsubscribe: {
      bool sub = cmd.op == native_op::subscribe;
      auto users = cmd.user_ids;
      bool global = cmd.global;
      auto me = caf::actor_cast<delta_listener>(self);
      auto reply = [=](bool) {
        send(self, encode_subscribed(id, sub, users, global));
      };
      auto fail = [=](caf::error& err) { send_failure(self, id, err); };
      if (sub)
        self->request(st.ctx->api, timeout, subscribe_atom::value, me,
                      cmd.user_ids, cmd.global)
          .then(reply, fail);
      else
        self->request(st.ctx->api, timeout, unsubscribe_atom::value, me,
                      cmd.user_ids, cmd.global)
          .then(reply, fail);
      return;
    }
    case native_op::set_status:
      if (st.ph != phase::joined) {
        send_error(self, id, "not_joined", "join before setting a status");
        return;
      }
      st.status = cmd.status;
      self->request(st.user, timeout, status_atom::value, st.device_id,
                    cmd.status)
        .then([=](user_status& s) { send(self, encode_status_set(id, s)); },
              [=](caf::error& err) { send_failure(self, id, err); });
      return;
  }
}

caf::behavior session_impl(session_ptr self,
                           std::shared_ptr<edge_context> ctx,
                           std::shared_ptr<session_sink> sink,
                           session_params params) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.sink = std::move(sink);
  st.params = std::move(params);
  // The device id is known from the start (the client's, or a fresh one),
  // so the welcome frame can name it.
  if (st.params.device_id.empty())
    st.params.device_id = st.ctx->make_device_id();
  st.device_id = st.params.device_id;
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.ph != phase::joined || !st.user || dm.source != st.user.address())
      return;
    // Moved (a rehome is on its way) or its node died: rejoin shortly
    // unless the rehome comes first.
    st.user = user_api{};
    auto epoch = ++st.rejoin_epoch;
    self->delayed_send(self, std::chrono::milliseconds(200),
                       rejoin_atom::value, epoch, 0);
  });
  send(self, encode_welcome(st.params.user_id, st.params.device_id,
                            st.ctx->cfg.actors.heartbeat_ttl.count(),
                            st.params.global_feed));
  if (st.params.global_feed)
    self->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                  subscribe_atom::value, caf::actor_cast<delta_listener>(self),
                  std::vector<std::string>{}, true)
      .then([](bool) {},
            [=](caf::error& err) { send_failure(self, "", err); });
  if (!st.params.user_id.empty()) {
    native_command cmd;
    cmd.op = native_op::join;
    join(self, cmd);
  }
  return {
    [=](frame_atom, std::string& text) {
      self->state.ctx->probe.frames_in->Increment();
      native_command cmd;
      protocol_error err;
      if (!parse_native(text, cmd, err)) {
        self->state.ctx->probe.protocol_errors->Increment();
        send(self, encode_error(err));
        return;
      }
      handle(self, cmd);
    },
    [=](delta_atom, const delta_batch& batch) {
      for (auto& d : *batch.deltas)
        send(self, encode_delta(d));
    },
    [=](rehome_atom, const std::string& device_id, const user_api& user) {
      auto& st = self->state;
      if (device_id == st.device_id && st.ph == phase::joined)
        set_user(self, user);
    },
    [=](rejoin_atom, uint64_t epoch, int attempt) {
      rejoin(self, epoch, attempt);
    },
    [=](rejoin_atom, const std::string& device_id) {
      // The user actor does not know this device (any more): register again.
      auto& st = self->state;
      if (device_id == st.device_id && st.ph == phase::joined)
        rejoin(self, ++st.rejoin_epoch, 0);
    },
    [=](expire_atom, const std::string& device_id, const std::string& why) {
      auto& st = self->state;
      if (device_id != st.device_id || st.ph != phase::joined)
        return;
      st.ph = phase::idle;
      set_user(self, user_api{});
      send(self, encode_expired(device_id, why));
      st.sink->close(why == "replaced" ? close_code::replaced
                                       : close_code::expired,
                     why);
    },
    [=](closed_atom) {
      auto& st = self->state;
      st.closed = true;
      // A join in flight is answered first; its handler leaves and quits.
      if (st.ph == phase::joining)
        return;
      leave(self);
      self->quit();
    },
  };
}

/// Glue between a WebSocket session and its session actor.
class native_endpoint : public ws_endpoint {
public:
  native_endpoint(std::shared_ptr<edge_context> ctx, session_params params)
    : ctx_(std::move(ctx)), params_(std::move(params)) {
    // nop
  }

  void on_open(std::shared_ptr<session_sink> sink) override {
    sink_ = sink;
    actor_ = spawn_native_session(ctx_, std::move(sink), params_);
  }

  void on_text(std::string text) override {
    caf::anon_send(actor_, frame_atom::value, std::move(text));
  }

  void on_binary() override {
    reply_error("binary_not_supported", "send JSON in text frames");
  }

  void on_rate_limited() override {
    reply_error("rate_limited", "too many messages; slow down");
  }

  void on_closed() override {
    caf::anon_send(actor_, closed_atom::value);
  }

private:
  void reply_error(const char* code, const char* message) {
    ctx_->probe.protocol_errors->Increment();
    sink_->send_text(
      std::make_shared<const std::string>(encode_error("", code, message)));
  }

  std::shared_ptr<edge_context> ctx_;
  session_params params_;
  std::shared_ptr<session_sink> sink_;
  caf::actor actor_;
};

} // namespace

std::shared_ptr<ws_endpoint>
make_native_endpoint(std::shared_ptr<edge_context> ctx,
                     session_params params) {
  return std::make_shared<native_endpoint>(std::move(ctx), std::move(params));
}

caf::actor spawn_native_session(std::shared_ptr<edge_context> ctx,
                                std::shared_ptr<session_sink> sink,
                                session_params params) {
  return ctx->sys.spawn(session_impl, ctx, std::move(sink),
                        std::move(params));
}

} // namespace presence::edge
