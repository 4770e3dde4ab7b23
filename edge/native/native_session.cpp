#include "edge/native/native_session.hpp"

#include <set>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "core/lean_actor.hpp"
#include "edge/common/chat.hpp"
#include "edge/common/client_error.hpp"
#include "edge/common/close_codes.hpp"
#include "edge/common/contacts_store.hpp"
#include "edge/common/device_link.hpp"
#include "edge/common/identity.hpp"
#include "edge/native/native_direct.hpp"
#include "edge/native/native_protocol.hpp"

namespace presence::edge {

namespace {

struct session_state {
  std::shared_ptr<edge_context> ctx;
  std::shared_ptr<session_sink> sink;
  session_params params;
  /// The one device this session holds (link key "").
  device_link link;
  /// Rooms joined (typing indicators), at most max_rooms_per_session.
  std::set<std::string> rooms;
  /// When user input last went to the user actor (auto-away).
  millis last_input_sent = 0;
  /// Bumped whenever the token's expiry timer is armed: older timers are
  /// stale.
  uint64_t token_epoch = 0;
  bool closed = false;
  /// Where the fan-out hands this session's deltas (null: as messages).
  std::shared_ptr<native_direct> direct;
  static inline const char* name = "presence.session";
};

/// A lean actor (core/lean_actor.hpp): one per connected user, so no
/// scheduled_actor base; every native session shares one handler table.
using session_self = lean_stateful<session_state, native_session_api>;
using session_ptr = session_self*;

/// The key of the session's one device link.
const std::string link_key;

void send(session_ptr self, std::shared_ptr<const std::string> frame) {
  self->state.ctx->probe.frames_out->Increment();
  self->state.sink->send_text(std::move(frame));
}

void send(session_ptr self, std::string frame) {
  send(self, std::make_shared<const std::string>(std::move(frame)));
}

void send_error(session_ptr self, const std::string& id_json,
                const std::string& code, const std::string& message) {
  self->state.ctx->probe.protocol_errors->Increment();
  send(self, encode_error(id_json, code, message));
}

/// A failed request as an error frame.
void send_failure(session_ptr self, const std::string& id_json,
                  const caf::error& err) {
  auto e = to_client_error(err);
  send_error(self, id_json, e.code, e.message);
}

/// Who this session is to the users it looks at (contacts): the user it
/// joined as (or its token's), an admin, or no one yet.
viewer me(session_ptr self) {
  auto& st = self->state;
  return viewer{st.link.joined() || st.link.ph == device_link::phase::joining
                  ? st.link.user_id
                  : st.params.user_id,
                st.params.admin};
}

/// Registers the session's direct_listener with the node before its first
/// subscription (the fan-out looks it up when the session subscribes).
/// Only sessions that follow someone have one: most only join and ping.
void make_direct(session_ptr self) {
  auto& st = self->state;
  if (st.direct || !st.ctx->direct)
    return;
  auto& probe = st.ctx->probe;
  st.direct = std::make_shared<native_direct>(
    st.sink,
    std::shared_ptr<prometheus::Counter>{probe.registry, probe.frames_out},
    self->address());
  register_direct(self, st.ctx->direct, st.direct);
}

/// What this session may see of `s`.
user_status& seen(session_ptr self, user_status& s) {
  if (hidden_from(me(self), s))
    hide(s);
  return s;
}

/// Ends the session when its token expires (params.token_expires), unless
/// a refresh moves the expiry first.
void arm_token_expiry(session_ptr self) {
  auto& st = self->state;
  auto epoch = ++st.token_epoch;
  if (st.params.token_expires <= 0)
    return;
  auto wait = std::max<millis>(st.params.token_expires - st.ctx->now(), 0);
  self->delayed_send(self, std::chrono::milliseconds{wait},
                     deadline_atom::value, epoch);
}

void token_deadline(session_ptr self, uint64_t epoch) {
  auto& st = self->state;
  if (epoch != st.token_epoch || st.closed || st.params.token_expires <= 0)
    return;
  auto now = st.ctx->now();
  if (now < st.params.token_expires) { // the clock stepped: not yet
    arm_token_expiry(self);
    return;
  }
  send_error(self, "", "token_expired",
             "the session's token expired: send 'refresh' with a fresh "
             "token before it does, or reconnect with one");
  st.sink->close(close_code::token_expired, "token expired");
}

/// refresh: a fresh token of the same user moves the session's expiry.
void refresh(session_ptr self, const native_command& cmd) {
  auto& st = self->state;
  auto& id = cmd.id_json;
  auto r = check_refresh(*st.ctx->keys(), st.ctx->cfg.edge.admin_claim,
                         st.ctx->now(), cmd.token,
                         st.link.joined() ? st.link.user_id
                                          : st.params.user_id);
  if (!r.ok) {
    // The session goes on until its current token expires.
    send_error(self, id, r.code, r.message);
    return;
  }
  auto& who = r.who;
  st.params.token_expires = who.expires_at;
  st.params.admin = who.admin;
  arm_token_expiry(self);
  send(self, encode_refreshed(id, who.expires_at));
}

auto find_link(session_ptr self) {
  return [self]() -> device_link* { return &self->state.link; };
}

/// The cluster could not take this device back: the client reconnects
/// (anywhere) and starts clean.
auto owner_lost(session_ptr self) {
  return [self] {
    send_error(self, "", "unavailable", "presence owner lost");
    self->state.sink->close(close_code::internal_error, "presence owner lost");
  };
}

void join(session_ptr self, const native_command& cmd) {
  auto& st = self->state;
  auto& id = cmd.id_json;
  if (st.link.ph == device_link::phase::joining) {
    send_error(self, id, "join_in_progress", "a join is already under way");
    return;
  }
  // Who: the token decides in JWT mode; the client names itself otherwise.
  credentials creds;
  creds.token = cmd.token;
  creds.claimed = cmd.user_id;
  creds.established = st.params.user_id;
  creds.admin_claim = st.ctx->cfg.edge.admin_claim;
  auto who = resolve_identity(*st.ctx->keys(), st.ctx->now(), creds, true);
  switch (who.failure) {
    case identity_failure::none:
      break;
    case identity_failure::bad_token:
      send_error(self, id, who.code, who.message);
      return;
    case identity_failure::token_mismatch:
      send_error(self, id, "forbidden",
                 "the token names a different user than this session");
      return;
    case identity_failure::missing_token:
      send_error(self, id, "unauthorized", "a JWT is required to join");
      return;
    case identity_failure::claim_mismatch:
      send_error(self, id, "forbidden",
                 "you may only join as the user your token names");
      return;
    case identity_failure::invalid_id:
    case identity_failure::missing_user:
      send_error(self, id, "bad_request",
                 "'user_id' is required (or connect with ?userId=)");
      return;
  }
  auto& user = who.user_id;
  // A token in the join decides (one in the upgrade stands otherwise),
  // also when the session ends.
  if (!cmd.token.empty()) {
    st.params.admin = who.admin;
    st.params.token_expires = who.expires_at;
    arm_token_expiry(self);
  }
  if (st.link.joined() && user != st.link.user_id) {
    send_error(self, id, "already_joined",
               "this session has joined as another user; leave first");
    return;
  }
  device_info dev;
  dev.device_id = !cmd.device_id.empty()              ? cmd.device_id
                  : !st.link.device.device_id.empty() ? st.link.device.device_id
                                                      : st.params.device_id;
  dev.user_agent = !cmd.user_agent.empty() ? cmd.user_agent
                                           : st.params.user_agent;
  dev.platform = !cmd.platform.empty() ? cmd.platform : st.params.platform;
  dev.status = cmd.has_status ? cmd.status : presence_status::offline;
  dev.auto_away = cmd.auto_away_s >= 0 ? cmd.auto_away_s * 1000
                                       : st.ctx->cfg.edge.auto_away.count();
  // Switching devices within one session: the old one goes.
  if (st.link.joined() && dev.device_id != st.link.device.device_id)
    leave(self, *st.ctx, st.link);
  st.link.user_id = user;
  // A device id the server made up names no device the client knows.
  st.link.queue_device = st.params.device_generated
                             && dev.device_id == st.params.device_id
                           ? std::string{}
                           : dev.device_id;
  st.link.device = std::move(dev);
  edge::join(
    self, *st.ctx, st.link, find_link(self),
    [=](join_ack& ack) {
      if (self->state.closed) {
        leave(self, *self->state.ctx, self->state.link);
        self->quit();
        return;
      }
      send(self, encode_joined(id, ack));
      // Private messages that waited for this user, in order (when the
      // user actor says some may wait: no store request otherwise).
      if (self->state.link.queued) {
        self->state.link.queued = false;
        chat::drain_queue(self, self->state.ctx, self->state.link.user_id,
                          self->state.link.queue_device,
                          [=](const chat_message& m) {
                            send(self, encode_message(m));
                          });
      }
    },
    [=](const caf::error& err) {
      if (self->state.closed) {
        self->quit();
        return;
      }
      send_failure(self, id, err);
    },
    [] {
      // The link is this session's state: it cannot be gone.
    });
}

/// Answers a subscribe that went through with the current state of what it
/// follows: read after following, so no change falls in between (a delta
/// may arrive before the reply; the client keeps the newer version).
void subscribed_with_state(session_ptr self, const std::string& id,
                           const std::vector<std::string>& users, bool global,
                           bool snapshot, uint32_t limit) {
  auto& st = self->state;
  auto timeout = st.ctx->cfg.actors.request_timeout;
  auto fail = [=](caf::error& err) { send_failure(self, id, err); };
  auto with_page = [=](std::vector<user_status> states) {
    for (auto& x : states)
      seen(self, x);
    const std::vector<user_status>* s = users.empty() ? nullptr : &states;
    if (!global || !snapshot) {
      send(self, encode_subscribed(id, true, users, global, s));
      return;
    }
    self
      ->request(self->state.ctx->api, timeout, list_atom::value, std::string{},
                limit, me(self))
      .then(
        [=](online_page& p) {
          const std::vector<user_status>* s2 = users.empty() ? nullptr
                                                             : &states;
          send(self, encode_subscribed(id, true, users, global, s2, &p));
        },
        fail);
  };
  if (users.empty()) {
    with_page({});
    return;
  }
  self->request(st.ctx->api, timeout, get_atom::value, users)
    .then([=](std::vector<user_status>& xs) { with_page(std::move(xs)); },
          fail);
}

/// set_status: the device's status, the user's custom status message, or
/// both (the device's first); replies the user's status after them.
void set_status(session_ptr self, const native_command& cmd) {
  auto& st = self->state;
  auto id = cmd.id_json;
  auto timeout = st.ctx->cfg.actors.request_timeout;
  auto fail = [=](caf::error& err) { send_failure(self, id, err); };
  auto text = [=](const user_status& after_status) {
    if (!cmd.has_text) {
      send(self, encode_status_set(id, after_status));
      return;
    }
    auto& st = self->state;
    millis expires = cmd.text_expires_in_s > 0
                       ? st.ctx->now() + cmd.text_expires_in_s * 1000
                       : 0;
    self
      ->request(st.link.user, timeout, status_atom::value, cmd.status_text,
                expires)
      .then([=](user_status& s) { send(self, encode_status_set(id, s)); },
            fail);
  };
  if (!cmd.has_status) {
    text(user_status{});
    return;
  }
  st.link.device.status = cmd.status;
  self
    ->request(st.link.user, timeout, status_atom::value,
              st.link.device.device_id, cmd.status)
    .then([=](user_status& s) { text(s); }, fail);
}

/// The user gave input on this session's device: ends its auto-away. Sent
/// at most once per tenth of its idle time (the device cannot have turned
/// away in between).
void user_input(session_ptr self) {
  auto& st = self->state;
  if (!st.link.joined() || st.link.device.auto_away <= 0)
    return;
  auto now = st.ctx->now();
  if (st.last_input_sent != 0
      && now - st.last_input_sent < st.link.device.auto_away / 10)
    return;
  st.last_input_sent = now;
  self->send(st.link.user, activity_atom::value, st.link.device.device_id, now);
}

void handle(session_ptr self, native_command& cmd) {
  auto& st = self->state;
  auto& id = cmd.id_json;
  auto timeout = st.ctx->cfg.actors.request_timeout;
  auto fail = [=](caf::error& err) { send_failure(self, id, err); };
  switch (cmd.op) {
    case native_op::join:
      join(self, cmd);
      return;
    case native_op::leave:
      leave(self, *st.ctx, st.link);
      send(self, encode_left(id));
      return;
    case native_op::ping:
      // Answered by the endpoint on the socket's strand; a ping that
      // reaches the session anyway is answered the same way.
      if (st.link.joined())
        self->send(st.link.user, heartbeat_atom::value,
                   st.link.device.device_id, st.ctx->now());
      send(self, encode_pong(id, st.ctx->now()));
      return;
    case native_op::get_status:
      self->request(st.ctx->api, timeout, get_atom::value, cmd.user_id)
        .then(
          [=](user_status& s) { send(self, encode_status(id, seen(self, s))); },
          fail);
      return;
    case native_op::get_statuses:
      self->request(st.ctx->api, timeout, get_atom::value, cmd.user_ids)
        .then(
          [=](std::vector<user_status>& xs) {
            for (auto& x : xs)
              seen(self, x);
            send(self, encode_statuses(id, xs));
          },
          fail);
      return;
    case native_op::list_online:
      self
        ->request(st.ctx->api, timeout, list_atom::value, cmd.cursor, cmd.limit,
                  me(self))
        .then([=](online_page& p) { send(self, encode_online_list(id, p)); },
              fail);
      return;
    case native_op::resync:
      // What changed of what this connection follows since the version.
      self
        ->request(st.ctx->api, timeout, changes_atom::value,
                  delta_listener{self}, cmd.since, cmd.limit)
        .then(
          [=](change_page& p) {
            auto who = me(self);
            for (auto& d : p.changes)
              if (hidden_from(who, d))
                d = hidden(d);
            send(self, encode_resync(id, p));
          },
          fail);
      return;
    case native_op::count_online:
      self->request(st.ctx->api, timeout, count_atom::value, me(self))
        .then([=](uint64_t n) { send(self, encode_count(id, n)); }, fail);
      return;
    case native_op::subscribe:
    case native_op::unsubscribe: {
      bool sub = cmd.op == native_op::subscribe;
      if (sub && cmd.global && !st.params.global_allowed) {
        send_error(self, id, "forbidden",
                   "the global feed needs an admin token (--global-feed "
                   "admin); subscribe by user_ids");
        return;
      }
      auto users = cmd.user_ids;
      bool global = cmd.global;
      auto reply = [=](bool) {
        send(self, encode_subscribed(id, sub, users, global));
      };
      delta_listener me{self};
      if (sub) {
        make_direct(self);
        self
          ->request(st.ctx->api, timeout, subscribe_atom::value, me,
                    cmd.user_ids, cmd.global)
          .then(
            [=](bool) {
              subscribed_with_state(self, id, users, global, cmd.snapshot,
                                    cmd.limit);
            },
            fail);
      } else
        self
          ->request(st.ctx->api, timeout, unsubscribe_atom::value, me,
                    cmd.user_ids, cmd.global)
          .then(reply, fail);
      return;
    }
    case native_op::send: {
      if (!st.link.joined()) {
        send_error(self, id, "not_joined",
                   "join before sending private messages");
        return;
      }
      user_input(self);
      chat::send_request req;
      req.sender = st.link.user_id;
      req.device = st.link.device.device_id;
      req.conversation_id = cmd.conversation_id;
      req.content = std::move(cmd.content);
      req.temp_id = cmd.temp_id;
      chat::send(
        self, st.ctx, std::move(req),
        [=](const chat::sent& r) {
          send(self, encode_sent(id, r.message, r.delivered));
        },
        [=](const client_error& e) {
          send_error(self, id, e.code, e.message);
        });
      return;
    }
    case native_op::activity:
      if (!st.link.joined()) {
        send_error(self, id, "not_joined", "join before reporting activity");
        return;
      }
      st.last_input_sent = 0; // an explicit report always goes
      user_input(self);
      send(self, encode_active(id));
      return;
    case native_op::join_room:
    case native_op::leave_room:
    case native_op::typing: {
      if (!st.link.joined()) {
        send_error(self, id, "not_joined", "join before using rooms");
        return;
      }
      room_member me{self};
      auto& rooms = st.ctx->rooms;
      if (cmd.op == native_op::join_room) {
        if (st.rooms.size() >= max_rooms_per_session
            && st.rooms.count(cmd.room) == 0) {
          send_error(self, id, "too_many_rooms",
                     "at most " + std::to_string(max_rooms_per_session)
                       + " rooms per session");
          return;
        }
        st.rooms.insert(cmd.room);
        self->send(rooms, join_atom::value, cmd.room, me);
        send(self, encode_room_reply(id, "room_joined", cmd.room));
      } else if (cmd.op == native_op::leave_room) {
        st.rooms.erase(cmd.room);
        self->send(rooms, leave_atom::value, cmd.room, me);
        send(self, encode_room_reply(id, "room_left", cmd.room));
      } else {
        if (st.rooms.count(cmd.room) == 0) {
          send_error(self, id, "not_in_room", "join_room before typing in it");
          return;
        }
        user_input(self);
        self->send(rooms, room_atom::value, me,
                   room_signal{cmd.room, st.link.user_id, cmd.typing});
        send(self, encode_room_reply(id, "typing_sent", cmd.room));
      }
      return;
    }
    case native_op::refresh:
      refresh(self, cmd);
      return;
    case native_op::contacts: {
      if (!st.link.joined()) {
        send_error(self, id, "not_joined", "join before changing contacts");
        return;
      }
      auto user = st.link.user_id;
      bool by_default = st.ctx->cfg.actors.contacts_by_default;
      auto done = [=](const contact_settings& s) {
        send(self, encode_contacts(id, user, s, by_default));
      };
      auto& ch = cmd.contacts;
      if (!ch.has_mode && !ch.has_ids) {
        get_contacts(self, *st.ctx, user, done, fail);
        return;
      }
      if (ch.ids.size() > st.ctx->cfg.actors.max_contacts) {
        send_error(self, id, "too_many_contacts",
                   "at most " + std::to_string(st.ctx->cfg.actors.max_contacts)
                     + " contacts per user (--max-contacts)");
        return;
      }
      put_contacts(self, *st.ctx, user, ch, done, fail);
      return;
    }
    case native_op::set_status:
      if (!st.link.joined()) {
        send_error(self, id, "not_joined", "join before setting a status");
        return;
      }
      set_status(self, cmd);
      return;
  }
}

const native_session_api::behavior_type& session_behavior();

void session_init(session_ptr self, std::shared_ptr<edge_context> ctx,
                  std::shared_ptr<session_sink> sink, session_params params,
                  activity_cell_ptr activity) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.sink = std::move(sink);
  st.params = std::move(params);
  st.link.activity = std::move(activity);
  st.link.collects_queue = true;
  // The endpoint gave the device id (the client's, or a fresh one) and sent
  // the welcome frame naming it before any other frame could go out.
  st.link.device.device_id = st.params.device_id;
  self->set_down_handler([](caf::down_msg& dm) {
    auto self = current<session_self>();
    user_down(self, self->state.link, link_key, dm);
  });
  if (st.params.global_feed) {
    make_direct(self);
    self
      ->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                subscribe_atom::value, delta_listener{self},
                std::vector<std::string>{}, true)
      .then([](bool) {}, [=](caf::error& err) { send_failure(self, "", err); });
  }
  arm_token_expiry(self);
  if (!st.params.user_id.empty()) {
    native_command cmd;
    cmd.op = native_op::join;
    join(self, cmd);
  }
}

/// One handler table for every native session.
const native_session_api::behavior_type& session_behavior() {
  static const native_session_api::behavior_type shared{
    [](frame_atom, native_command& cmd) {
      auto self = current<session_self>();
      handle(self, cmd);
    },
    [](delta_atom, const delta_batch& batch) {
      auto self = current<session_self>();
      auto& st = self->state;
      write_deltas(*st.sink, st.ctx->probe.frames_out, batch,
                   [self] { return me(self); });
      if (batch.forwarded && st.direct)
        st.direct->written();
    },
    [](deadline_atom, uint64_t epoch) {
      auto self = current<session_self>();
      token_deadline(self, epoch);
    },
    [](rehome_atom, const std::string& device_id, const user_api& user) {
      auto self = current<session_self>();
      rehome(self, self->state.link, device_id, user);
    },
    [](rejoin_atom, const std::string& key, uint64_t epoch, int attempt) {
      auto self = current<session_self>();
      rejoin(self, *self->state.ctx, key, epoch, attempt, find_link(self),
             owner_lost(self));
    },
    [](rejoin_atom, const std::string& device_id) {
      auto self = current<session_self>();
      rejoin_now(self, *self->state.ctx, self->state.link, link_key, device_id,
                 find_link(self), owner_lost(self));
    },
    [](message_atom, const std::string&, const chat_message& m) {
      auto self = current<session_self>();
      send(self, encode_message(m));
    },
    [](room_atom, const room_signal& sig) {
      auto self = current<session_self>();
      send(self, encode_typing(sig));
    },
    [](expire_atom, const std::string& device_id, const std::string& why) {
      auto self = current<session_self>();
      auto& st = self->state;
      if (!expire(self, st.link, device_id))
        return;
      send(self, encode_expired(device_id, why));
      st.sink->close(why == "replaced" ? close_code::replaced
                                       : close_code::expired,
                     why);
    },
    [](closed_atom) {
      auto self = current<session_self>();
      auto& st = self->state;
      st.closed = true;
      // Out of its rooms at once (a typing indicator stops for the others).
      for (auto& r : st.rooms)
        self->send(st.ctx->rooms, leave_atom::value, r, room_member{self});
      st.rooms.clear();
      // A join in flight is answered first; its handler leaves and quits.
      if (st.link.ph == device_link::phase::joining)
        return;
      leave(self, *st.ctx, st.link);
      self->quit();
    },
  };
  return shared;
}

/// Glue between a WebSocket session and its session actor.
class native_endpoint : public ws_endpoint {
public:
  native_endpoint(std::shared_ptr<edge_context> ctx, session_params params)
    : ctx_(std::move(ctx)),
      params_(std::make_unique<session_params>(std::move(params))) {
    // nop
  }

  void on_open(std::shared_ptr<session_sink> sink) override {
    sink_ = sink;
    // The welcome is the first frame: queued here, on the socket's strand,
    // before the session actor runs or a ping can be answered (it leaves
    // with the 101, in front of anything else).
    auto& params = *params_;
    if (params.device_id.empty()) {
      params.device_id = ctx_->make_device_id();
      params.device_generated = true;
    }
    reply(encode_welcome(params.user_id, params.device_id,
                         ctx_->cfg.actors.heartbeat_ttl.count(),
                         params.global_feed));
    // The session joins at once (its answer leaves with the welcome).
    answer_follows_ = !params.user_id.empty();
    activity_ = std::make_shared<activity_cell>();
    ctx_->track_activity(activity_);
    actor_ = spawn_native_session(ctx_, std::move(sink), std::move(params),
                                  activity_);
    params_.reset(); // the session keeps them

    ctx_->probe.sessions.native->Increment();
    counted_ = true;
  }

  bool answer_follows() const override { return answer_follows_; }

  void on_text(std::string_view text) override {
    ctx_->probe.frames_in->Increment();
    // The plain ping (parse_native's fast path) without a command: its id
    // and its pong in buffers this thread reuses, so a ping allocates
    // nothing (docs/benchmarks.md, twenty-sixth session).
    thread_local std::string id_json;
    if (fast_ping(text, id_json)) {
      pong(id_json);
      return;
    }
    native_command cmd;
    protocol_error err;
    if (!parse_native_tree(std::string{text}, cmd, err)) {
      ctx_->probe.protocol_errors->Increment();
      reply(encode_error(err));
      return;
    }
    if (cmd.op == native_op::ping) {
      pong(cmd.id_json);
      return;
    }
    caf::anon_send(actor_, frame_atom::value, std::move(cmd));
  }

  void on_binary() override {
    reply_error("binary_not_supported", "send JSON in text frames");
  }

  void on_rate_limited() override {
    reply_error("rate_limited", "too many messages; slow down");
  }

  void on_closed() override {
    if (counted_) {
      counted_ = false;
      ctx_->probe.sessions.native->Decrement();
    }
    caf::anon_send(actor_, closed_atom::value);
  }

private:
  /// Answers a ping here; the user actor hears of it through the flusher.
  void pong(std::string_view id_json) {
    auto now = ctx_->now();
    thread_local std::string frame;
    encode_pong(frame, id_json, now);
    ctx_->probe.frames_out->Increment();
    if (!sink_->reply_here(frame))
      sink_->send_text(std::make_shared<const std::string>(frame));
    ctx_->record_activity(activity_, now);
  }

  void reply(std::string frame) {
    ctx_->probe.frames_out->Increment();
    // Called only from this endpoint's own calls: written with the read's
    // other replies, without a shared copy (reply_here).
    if (!sink_->reply_here(frame))
      sink_->send_text(std::make_shared<const std::string>(std::move(frame)));
  }

  void reply_error(const char* code, const char* message) {
    ctx_->probe.protocol_errors->Increment();
    sink_->send_text(
      std::make_shared<const std::string>(encode_error("", code, message)));
  }

  std::shared_ptr<edge_context> ctx_;
  /// What the upgrade learned, until on_open hands it to the session.
  std::unique_ptr<session_params> params_;
  std::shared_ptr<session_sink> sink_;
  activity_cell_ptr activity_;
  native_session_api actor_;
  /// Counted in presence_sessions{dialect="native"} (on_open to on_closed).
  bool counted_ = false;
  /// The upgrade named a user: the session joins as it starts.
  bool answer_follows_ = false;
};

} // namespace

std::shared_ptr<ws_endpoint>
make_native_endpoint(std::shared_ptr<edge_context> ctx, session_params params) {
  return std::make_shared<native_endpoint>(std::move(ctx), std::move(params));
}

native_session_api spawn_native_session(std::shared_ptr<edge_context> ctx,
                                        std::shared_ptr<session_sink> sink,
                                        session_params params,
                                        activity_cell_ptr activity) {
  return session_self::spawn(ctx->sys, session_behavior(),
                             [&](session_ptr self) {
                               session_init(self, ctx, std::move(sink),
                                            std::move(params),
                                            std::move(activity));
                             });
}

} // namespace presence::edge
