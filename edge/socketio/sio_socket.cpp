#include "edge/socketio/sio_socket.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "edge/common/client_error.hpp"
#include "edge/common/identity.hpp"
#include "edge/common/json_input.hpp"
#include "edge/socketio/sio_direct.hpp"

namespace presence::edge {

using namespace sio;

const std::string messages_nsp = "/ws/messages";

// -- output -------------------------------------------------------------------

void send_packet(sio_ptr self, std::shared_ptr<const std::string> packet) {
  auto& st = self->state;
  st.ctx->probe.frames_out->Increment();
  st.eio->send(std::move(packet));
}

void emit(sio_ptr self, const sio_socket& s, const std::string& name,
          const json& arg) {
  send_packet(self,
              std::make_shared<const std::string>(eio_event(s.nsp, name, arg)));
}

void ack(sio_ptr self, const std::string& nsp, int64_t id, const json& arg) {
  if (id == no_ack)
    return;
  send_packet(self, std::make_shared<const std::string>(
                      eio_ack(nsp, id, json::array({arg}))));
}

json ack_ok(json data) {
  return {{"success", true}, {"data", std::move(data)}};
}

json ack_fail(const std::string& message) {
  return {{"success", false}, {"error", message}};
}

void fail(sio_ptr self, const sio_socket& s, int64_t ack_id,
          const std::string& code, const std::string& message) {
  self->state.ctx->probe.protocol_errors->Increment();
  if (ack_id != no_ack)
    ack(self, s.nsp, ack_id, ack_fail(message));
  else
    emit(self, s, "presence-error", {{"code", code}, {"message", message}});
}

void fail(sio_ptr self, const sio_socket& s, int64_t ack_id,
          const caf::error& err) {
  fail(self, s, ack_id, "unavailable", to_client_error(err).message);
}

// -- reading payloads ---------------------------------------------------------

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

// -- sockets and presence -----------------------------------------------------

std::function<sio_socket*()> socket_finder(sio_ptr self, std::string nsp) {
  return [self, nsp]() -> sio_socket* {
    auto i = self->state.sockets.find(nsp);
    return i == self->state.sockets.end() ? nullptr : &i->second;
  };
}

bool resolve_user(sio_ptr self, const sio_socket& s, const std::string& named,
                  const std::string& token, std::string& out,
                  std::string& why) {
  auto& st = self->state;
  auto keys = st.ctx->keys();
  credentials c;
  c.token = token;
  c.claimed = named;
  // JWT mode: a payload may bring a fresh token, which then decides;
  // without one, the connection's verified user stands. Dev mode: the
  // handshake's ?userId= is the fallback.
  if (keys->enabled())
    c.established = token.empty() ? s.token_user : std::string{};
  else
    c.established = st.params.user_id;
  auto who = resolve_identity(*keys, st.ctx->now(), c, true);
  switch (who.failure) {
    case identity_failure::none:
      out = std::move(who.user_id);
      return true;
    case identity_failure::bad_token:
      why = who.message;
      return false;
    case identity_failure::missing_token:
      why = "a valid JWT is required";
      return false;
    case identity_failure::token_mismatch:
    case identity_failure::claim_mismatch:
      why = "you may only act as the user your token names";
      return false;
    case identity_failure::invalid_id:
      why = "userId is not a valid id";
      return false;
    case identity_failure::missing_user:
      why = "userId is required";
      return false;
  }
  return false;
}

namespace {

void maybe_quit(sio_ptr self) {
  auto& st = self->state;
  if (st.closed && st.joins_in_flight == 0)
    self->quit();
}

} // namespace

namespace {

prometheus::Gauge* dialect_gauge(edge_probe& p, dialect d) {
  switch (d) {
    case dialect::seed000:
      return p.sessions.seed000;
    case dialect::seed002:
      return p.sessions.seed002;
    case dialect::seed004:
      return p.sessions.seed004;
    case dialect::none:
      break;
  }
  return nullptr;
}

} // namespace

void set_dialect(sio_ptr self, sio_socket& s, dialect d) {
  if (s.d == d)
    return;
  auto& p = self->state.ctx->probe;
  if (auto* g = dialect_gauge(p, s.d))
    g->Decrement();
  s.d = d;
  if (auto* g = dialect_gauge(p, d))
    g->Increment();
  sync_direct(self);
}

void sync_direct(sio_ptr self) {
  self->state.direct_stale = true;
}

namespace {

/// Registers the session's sio_direct with the node before its first
/// subscription (the fan-out looks it up when the session subscribes).
void make_direct(sio_ptr self) {
  auto& st = self->state;
  if (st.direct || !st.ctx->direct)
    return;
  auto& probe = st.ctx->probe;
  st.direct = std::make_shared<sio_direct>(
    st.eio,
    std::shared_ptr<prometheus::Counter>{probe.registry, probe.frames_out},
    self->address());
  st.direct->update(st.sockets);
  st.direct_stale = false;
  register_direct(self, st.ctx->direct, st.direct);
}

} // namespace

void uncount_socket(sio_ptr self, const sio_socket& s) {
  if (auto* g = dialect_gauge(self->state.ctx->probe, s.d))
    g->Decrement();
}

void leave_socket(sio_ptr self, sio_socket& s) {
  leave(self, *self->state.ctx, s.link);
  for (auto& r : s.rooms)
    self->send(self->state.ctx->rooms, leave_atom::value, r, room_member{self});
  s.rooms.clear();
}

void join_socket(sio_ptr self, const std::string& nsp, const std::string& user,
                 std::function<void(const user_status&)> then,
                 std::function<void(const std::string&)> err) {
  auto& st = self->state;
  auto& s = st.sockets[nsp];
  if (s.link.joined() && s.link.user_id == user) {
    // Already in: answer with the current status.
    self
      ->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
                get_atom::value, user)
      .then([=](user_status& us) { then(us); },
            [=](caf::error& e) { err(to_client_error(e).message); });
    return;
  }
  if (s.link.ph != device_link::phase::idle)
    leave_socket(self, s);
  s.link.user_id = user;
  sync_direct(self);
  // Seed 000/001 sockets take the offline queue of private messages.
  s.link.collects_queue = s.d == dialect::seed000;
  s.link.device.user_agent = st.params.user_agent;
  s.link.device.platform = "socket.io";
  ++st.joins_in_flight;
  join(
    self, *st.ctx, s.link,
    [f = socket_finder(self, nsp)]() -> device_link* {
      auto* s = f();
      return s == nullptr ? nullptr : &s->link;
    },
    [=](join_ack& a) {
      --self->state.joins_in_flight;
      // Identified: heartbeat events may be answered by the transport.
      if (auto* sock = socket_finder(self, nsp)())
        self->state.eio->fast_path(nsp, sock->link.activity);
      then(a.status);
    },
    [=](const caf::error& e) {
      --self->state.joins_in_flight;
      if (self->state.closed) {
        maybe_quit(self);
        return;
      }
      err(to_client_error(e).message);
    },
    [=] {
      // The socket went away meanwhile (the join was undone).
      --self->state.joins_in_flight;
      maybe_quit(self);
    });
}

void subscribe_feed(sio_ptr self) {
  auto& st = self->state;
  if (st.subscribed)
    return;
  st.subscribed = true;
  st.subscribe_pending = true;
}

void publish_sockets(sio_ptr self) {
  auto& st = self->state;
  if (st.direct_stale && st.direct)
    st.direct->update(st.sockets);
  st.direct_stale = false;
  if (!st.subscribe_pending)
    return;
  st.subscribe_pending = false;
  if (st.closed) {
    st.subscribed = false;
    return;
  }
  make_direct(self);
  send_subscribe(self);
}

void send_subscribe(sio_ptr self) {
  auto& st = self->state;
  self
    ->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
              subscribe_atom::value, delta_listener{self},
              std::vector<std::string>{}, true)
    .then([](bool) {},
          [=](caf::error&) {
            // Not subscribed after all: the next identifying event tries again.
            self->state.subscribed = false;
          });
}

void moved_to_websocket(sio_ptr self) {
  auto& st = self->state;
  // Subscribed while polling: the fan-out wrote from its own thread. The
  // subscription again (idempotent) has it ask the session's home anew.
  if (st.subscribed && !st.subscribe_pending && !st.closed && st.direct)
    send_subscribe(self);
}

} // namespace presence::edge
