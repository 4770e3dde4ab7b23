#include "edge/socketio/sio_session.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <prometheus/counter.h>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "edge/common/edge_log.hpp"
#include "edge/common/identity.hpp"
#include "edge/socketio/sio_dialects.hpp"
#include "edge/socketio/sio_direct.hpp"
#include "edge/socketio/sio_socket.hpp"
#include "edge/socketio/socketio_codec.hpp"

namespace presence::edge {

using namespace sio;

namespace {

// -- namespaces ---------------------------------------------------------------

/// A CONNECT to namespace p.nsp: "/" (seeds 000/002) or "/ws/messages"
/// (seed 004, whose handshake says who the client is).
/// Ends the session when its token expires (sio_state::token_expires),
/// unless refresh_token moves the expiry first.
void arm_token_expiry(sio_ptr self) {
  auto& st = self->state;
  auto epoch = ++st.token_epoch;
  if (st.token_expires <= 0)
    return;
  auto wait = std::max<millis>(st.token_expires - st.ctx->now(), 0);
  self->delayed_send(self, std::chrono::milliseconds{wait}, expire_atom::value,
                     epoch);
}

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
  s.link.device.device_id = "sio-" + st.eio->sid()
                            + (p.nsp == "/" ? "" : p.nsp);
  bool seed004 = p.nsp == messages_nsp;
  auto keys = st.ctx->keys();
  credentials c;
  c.admin_claim = st.ctx->cfg.edge.admin_claim;
  c.token = string_field(p.data, "token");
  if (c.token.empty())
    c.token = st.params.token;
  if (seed004 && !keys->enabled()) {
    // Dev mode: the CONNECT auth (or the handshake) names the user.
    c.claimed = user_arg(p.data);
    c.established = st.params.user_id;
  }
  // Seed 004 needs a token in JWT mode; "/" identifies later (join_user,
  // authenticate), but a token given now must be valid.
  auto who = resolve_identity(*keys, st.ctx->now(), c,
                              seed004 && keys->enabled());
  switch (who.failure) {
    case identity_failure::none:
      break;
    case identity_failure::bad_token:
      st.ctx->probe.ws_rejected->Increment();
      st.eio->send(eio_connect_error(p.nsp, "Unauthorized: " + who.message));
      return;
    case identity_failure::missing_token:
      st.ctx->probe.ws_rejected->Increment();
      st.eio->send(eio_connect_error(p.nsp, "Unauthorized: token required"));
      return;
    case identity_failure::invalid_id:
    case identity_failure::missing_user:
    case identity_failure::token_mismatch:
    case identity_failure::claim_mismatch:
      st.eio->send(eio_connect_error(p.nsp, "userId is not a valid id"));
      return;
  }
  // The client's name for its device (CONNECT auth or handshake), under
  // which it takes queued private messages.
  auto device_name = string_field(p.data, "deviceId");
  if (device_name.empty())
    device_name = st.params.device_name;
  if (!device_name.empty() && !valid_id(device_name)) {
    st.eio->send(eio_connect_error(p.nsp, "deviceId is not a valid id"));
    return;
  }
  s.link.queue_device = device_name;
  if (who.verified) {
    s.token_user = who.user_id;
    s.token_admin = who.admin;
    // The session ends with the token it connected with (the latest one).
    st.token_expires = who.expires_at;
    arm_token_expiry(self);
  }
  std::string auto_user = seed004 ? who.user_id : std::string{};
  s.link.activity = std::make_shared<activity_cell>();
  st.ctx->track_activity(s.link.activity);
  auto nsp = p.nsp;
  auto sid = s.sid;
  auto activity = s.link.activity;
  auto& placed = st.sockets.emplace(nsp, std::move(s)).first->second;
  st.eio->send(eio_connect_ok(nsp, sid));
  if (seed004)
    set_dialect(self, placed, dialect::seed004);
  // Heartbeat events are answered by the transport from now on (after the
  // CONNECT answer, which the socket writes first). In JWT mode a socket
  // without a verified token gets them once it has identified
  // (check_user_online reads presence): join_socket installs them then.
  if (!keys->enabled() || who.verified)
    st.eio->fast_path(nsp, std::move(activity));
  if (seed004)
    subscribe_feed(self);
  if (!auto_user.empty()) {
    auto find = socket_finder(self, nsp);
    join_socket(
      self, nsp, auto_user,
      [=](const user_status&) {
        // Seed 004: "all connected clients receive" user-online, the
        // connecting socket too. The others hear it from the fan-out when
        // the user comes online (not again for a second socket); this one
        // skips deltas about its own user, so it hears it exactly once.
        if (auto* sock = find())
          emit(self, *sock, "user-online", {{"userId", auto_user}});
      },
      [=](const std::string& why) {
        if (auto* sock = find())
          fail(self, *sock, no_ack, "unavailable", why);
      });
  }
}

// -- packets ------------------------------------------------------------------

/// The token ran out: every socket hears `token_expired`, is disconnected
/// by the server (socket.io-client: "io server disconnect", no automatic
/// reconnect), and the session ends.
void token_deadline(sio_ptr self, uint64_t epoch) {
  auto& st = self->state;
  if (epoch != st.token_epoch || st.closed || st.token_expires <= 0)
    return;
  if (st.ctx->now() < st.token_expires) { // the clock stepped: not yet
    arm_token_expiry(self);
    return;
  }
  json why = {{"code", "token_expired"},
              {"message",
               "the session's token expired: emit refresh_token "
               "with a fresh one before it does, or reconnect "
               "with one"}};
  // Nothing after the DISCONNECT packets.
  if (st.direct)
    st.direct->clear();
  for (auto& kvp : st.sockets) {
    st.eio->send(eio_event(kvp.first, "token_expired", why));
    st.eio->send(eio_disconnect(kvp.first));
  }
  st.eio->close("token expired");
}

/// refresh_token {token} (or the token as a string): a fresh token of the
/// session's user moves the expiry; answered through the acknowledgement.
void refresh_token(sio_ptr self, sio_socket& s, const json& arg,
                   int64_t ack_id) {
  auto& st = self->state;
  auto token = arg.is_string() ? arg.get<std::string>()
                               : string_field(arg, "token");
  if (token.empty() && st.ctx->cfg.edge.jwt_mode()) {
    fail(self, s, ack_id, "bad_request",
         "a fresh JWT of this session's user is required ({\"token\": ...})");
    return;
  }
  auto r = check_refresh(*st.ctx->keys(), st.ctx->cfg.edge.admin_claim,
                         st.ctx->now(), token,
                         s.link.joined() ? s.link.user_id : s.token_user);
  if (!r.ok) {
    // The session goes on until its current token expires.
    fail(self, s, ack_id, r.code, r.message);
    return;
  }
  auto& who = r.who;
  if (s.token_user.empty())
    s.token_user = who.user_id;
  s.token_admin = who.admin;
  st.token_expires = who.expires_at;
  arm_token_expiry(self);
  ack(self, s.nsp, ack_id,
      ack_ok({{"expiresAt", who.expires_at > 0 ? json(iso8601(who.expires_at))
                                               : json(nullptr)}}));
}

void on_event(sio_ptr self, sio_socket& s, const sio_packet& p) {
  auto name = p.data[0].get<std::string>();
  if (p.type == sio_type::binary_event) {
    fail(self, s, p.ack_id, "binary_not_supported",
         "binary attachments are not supported");
    return;
  }
  if (reserved_event(name)) {
    fail(self, s, p.ack_id, "reserved_event",
         "'" + name + "' is a reserved event name");
    return;
  }
  // JWT mode: presence is read only by a socket that identified (a token
  // at CONNECT, or join_user / authenticate with one).
  bool identified = !self->state.ctx->cfg.edge.jwt_mode()
                    || !s.token_user.empty() || s.link.joined();
  if (!identified && name != "join_user" && name != "authenticate"
      && name != "ping" && name != "heartbeat" && name != "user_activity") {
    fail(self, s, p.ack_id, "unauthorized",
         "identify first: a token at connect, or join_user / authenticate "
         "with one (JWT mode)");
    return;
  }
  if (name == "refresh_token") {
    refresh_token(self, s, p.data.size() > 1 ? p.data[1] : json{}, p.ack_id);
    return;
  }
  auto handler = find_event(s.nsp, name);
  if (handler == nullptr) {
    fail(self, s, p.ack_id, "unknown_event",
         "unknown event '" + name.substr(0, 64) + "'");
    return;
  }
  const json& arg = p.data.size() > 1 ? p.data[1] : json{};
  handler(self, s, arg, p.ack_id);
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
        st.eio->fast_path(p.nsp, nullptr);
        leave_socket(self, i->second);
        uncount_socket(self, i->second);
        st.sockets.erase(i);
        sync_direct(self);
        // The node's seed-000 lists are for seed-000 sockets only.
        bool seed000 = false;
        for (auto& kvp : st.sockets)
          seed000 = seed000 || kvp.second.d == dialect::seed000;
        if (st.list_subscribed && !seed000) {
          st.list_subscribed = false;
          self->send(st.lists, unsubscribe_atom::value,
                     seed000_list_listener{self});
        }
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
      on_event(self, i->second, p);
      return;
    }
    case sio_type::ack:
    case sio_type::binary_ack:
      return; // we never ask clients for acks
    case sio_type::connect_error:
      st.eio->close("protocol error");
      return;
  }
}

// -- presence -----------------------------------------------------------------

/// Every socket hears each change in its dialect's words. The batches that
/// reach the actor: those with a user who restricts who sees them (the
/// fan-out writes the others itself: sio_direct.hpp), or all of them
/// without the node's direct listeners.
void on_deltas(sio_ptr self, const delta_batch& batch) {
  auto& st = self->state;
  // Every packet of this delivery goes to the transport in one hop.
  std::vector<std::shared_ptr<const std::string>> packets;
  for (auto& d : *batch.deltas) {
    for (auto& kvp : st.sockets) {
      auto& s = kvp.second;
      auto* dl = dialect_of(s.d);
      if (dl == nullptr || dl->delta_packet == nullptr)
        continue;
      std::shared_ptr<const std::string> p;
      bool hide = false;
      if (d.vis.restricted()) { // no viewer built per delivery otherwise
        auto who = viewer_of(s);
        if (!announced_to(who, d))
          continue; // nothing changed for those it is hidden from
        hide = hidden_from(who, d);
      }
      if (hide)
        // Shown as offline, encoded for this socket alone (the memo's
        // packets are what others see).
        p = dl->delta_packet(s.nsp, s.link.user_id, hidden(d), nullptr);
      else
        p = dl->delta_packet(s.nsp, s.link.user_id, d, batch.memo.get());
      if (p)
        packets.push_back(std::move(p));
    }
  }
  if (packets.empty())
    return;
  st.ctx->probe.frames_out->Increment(static_cast<double>(packets.size()));
  st.eio->send_all(std::move(packets));
}

/// Finds the device link of namespace `nsp` again later.
auto link_finder(sio_ptr self, const std::string& nsp) {
  return [f = socket_finder(self, nsp)]() -> device_link* {
    auto* s = f();
    return s == nullptr ? nullptr : &s->link;
  };
}

/// The cluster could not take a device back: the client reconnects.
auto owner_lost(sio_ptr self) {
  return [self] { self->state.eio->close("presence owner lost"); };
}

void sio_init(sio_ptr self, std::shared_ptr<edge_context> ctx,
              std::shared_ptr<eio_transport> eio, sio_params params,
              seed000_list_api lists) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.eio = std::move(eio);
  st.params = std::move(params);
  st.lists = std::move(lists);
  // The Engine.IO heartbeat and the connect deadline are on the
  // transport's clock (eio_session::heartbeat): no CAF timer per session (a
  // pending one holds ~0.2 KB in CAF's clock).
  self->set_down_handler([](caf::down_msg& dm) {
    auto self = current<sio_self>();
    for (auto& kvp : self->state.sockets)
      user_down(self, kvp.second.link, kvp.first, dm);
  });
}

/// One handler table for every Socket.IO session.
const sio_session_api::behavior_type& sio_behavior() {
  static const sio_session_api::behavior_type shared{
    // -- from the transport ---------------------------------------------------
    [](frame_atom, const std::string& text) {
      auto self = current<sio_self>();
      on_packet(self, text);
      publish_sockets(self);
    },
    [](closed_atom) {
      auto self = current<sio_self>();
      auto& st = self->state;
      if (st.closed)
        return;
      st.closed = true;
      for (auto& kvp : st.sockets) {
        leave_socket(self, kvp.second);
        uncount_socket(self, kvp.second);
      }
      st.sockets.clear();
      if (st.direct)
        st.direct->clear();
      if (st.joins_in_flight == 0)
        self->quit();
    },
    // -- presence -------------------------------------------------------------
    [](delta_atom, const delta_batch& batch) {
      auto self = current<sio_self>();
      on_deltas(self, batch);
      if (batch.forwarded && self->state.direct)
        self->state.direct->written();
    },
    [](room_atom, const room_signal& sig) {
      auto self = current<sio_self>();
      for (auto& kvp : self->state.sockets)
        if (kvp.second.rooms.count(sig.room) > 0)
          emit_typing(self, kvp.second, sig);
    },
    // -- session_api: the devices' user actors ----------------------------------
    [](rehome_atom, const std::string& device_id, const user_api& user) {
      auto self = current<sio_self>();
      for (auto& kvp : self->state.sockets)
        rehome(self, kvp.second.link, device_id, user);
    },
    [](rejoin_atom, const std::string& device_id) {
      auto self = current<sio_self>();
      for (auto& kvp : self->state.sockets)
        rejoin_now(self, *self->state.ctx, kvp.second.link, kvp.first,
                   device_id, link_finder(self, kvp.first), owner_lost(self));
    },
    [](message_atom, const std::string& device_id, const chat_message& m) {
      auto self = current<sio_self>();
      emit_private_message(self, device_id, m);
    },
    [](expire_atom, const std::string& device_id, const std::string& why) {
      auto self = current<sio_self>();
      for (auto& kvp : self->state.sockets)
        if (expire(self, kvp.second.link, device_id))
          emit(self, kvp.second, "presence-error",
               {{"code", "session_expired"}, {"message", why}});
    },
    // -- timers ---------------------------------------------------------------
    [](rejoin_atom, const std::string& nsp, uint64_t epoch, int attempt) {
      auto self = current<sio_self>();
      rejoin(self, *self->state.ctx, nsp, epoch, attempt,
             link_finder(self, nsp), owner_lost(self));
    },
    [](rehome_atom) {
      // From the transport: it upgraded to a WebSocket.
      moved_to_websocket(current<sio_self>());
    },
    [](deadline_atom) {
      // From the transport's clock (eio_session::heartbeat).
      auto self = current<sio_self>();
      auto& st = self->state;
      // A session that has no namespace connected a ping interval and a
      // ping timeout after the handshake (socket.io's connectTimeout) is
      // dropped: it would only hold memory.
      if (!st.closed && st.sockets.empty())
        st.eio->close("connect timeout");
    },
    [](expire_atom, uint64_t epoch) {
      auto self = current<sio_self>();
      token_deadline(self, epoch);
    },
    [](list_atom, const seed000_list& l) {
      auto self = current<sio_self>();
      on_seed000_list(self, l);
    },
  };
  return shared;
}

} // namespace

sio_session_api spawn_sio_session(std::shared_ptr<edge_context> ctx,
                                  std::shared_ptr<eio_transport> eio,
                                  sio_params params, seed000_list_api lists) {
  auto& sys = ctx->sys;
  return sio_self::spawn(sys, sio_behavior(), [&](sio_ptr self) {
    sio_init(self, std::move(ctx), std::move(eio), std::move(params),
             std::move(lists));
  });
}

} // namespace presence::edge
