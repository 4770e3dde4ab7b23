#include "edge/server.hpp"

#include <chrono>
#include <thread>

#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <prometheus/counter.h>

#include "edge/common/edge_context.hpp"
#include "edge/common/close_codes.hpp"
#include "edge/common/url.hpp"
#include "edge/native/native_upgrade.hpp"
#include "edge/rest/rest_api.hpp"
#include "edge/socketio/eio_session.hpp"
#include "edge/socketio/seed000_list.hpp"
#include "edge/socketio/sio_http.hpp"
#include "edge/transport/http_handler.hpp"
#include "edge/transport/listener.hpp"
#include "node/presence_node.hpp"

namespace presence::edge {

namespace {

/// Routes each request to its protocol: Socket.IO paths to Engine.IO,
/// other upgrades to the native protocol, everything else to REST.
class request_router : public http_handler {
public:
  request_router(std::shared_ptr<edge_context> ctx,
                 std::shared_ptr<eio_registry> eio)
    : ctx_(std::move(ctx)), eio_(std::move(eio)) {
    // nop
  }

  void on_request(http_request req, respond_fn respond) override {
    parsed_target t;
    if (parse_target(req.target, t) && is_sio_path(ctx_->cfg.edge, t.path)) {
      sio_request(ctx_, eio_, req, t, std::move(respond));
      return;
    }
    handle_rest(ctx_, std::move(req), std::move(respond));
  }

  std::shared_ptr<ws_endpoint> on_upgrade(const http_request& req,
                                          http_response& refusal) override {
    parsed_target t;
    if (!parse_target(req.target, t)) {
      ctx_->probe.ws_rejected->Increment();
      refusal = error_response(400, "bad_request", "malformed request target");
      return nullptr;
    }
    if (is_sio_path(ctx_->cfg.edge, t.path))
      return sio_upgrade(ctx_, eio_, req, t, refusal);
    return native_upgrade(ctx_, req, t, refusal);
  }

private:
  std::shared_ptr<edge_context> ctx_;
  std::shared_ptr<eio_registry> eio_;
};

/// How often stop() looks whether every WebSocket has closed.
constexpr auto close_poll = std::chrono::milliseconds(10);

} // namespace

struct server::impl {
  std::shared_ptr<edge_context> ctx;
  /// Live Engine.IO sessions. Owned here: they hold the context, so the
  /// context must not own them.
  std::shared_ptr<eio_registry> eio;
  std::unique_ptr<listener> io;
  bool stopped = false;
};

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

server::~server() {
  stop();
}

std::unique_ptr<server> server::start(node& n, std::string& err) {
  auto ctx = std::make_shared<edge_context>(n.system(), n.cfg());
  ctx->api = n.api();
  ctx->store = n.store();
  ctx->rooms = n.rooms();
  ctx->stats = n.stats();
  ctx->direct = n.direct();
  ctx->membership = n.membership();
  ctx->store_counters = &n.store_counters();
  if (!ctx->reload_keys(err))
    return nullptr;
  ctx->activity = spawn_activity_flusher(n.system(), activity_gap(n.cfg()));
  // Sessions whose user actor's node leaves the view hear of it (a lost
  // monitor would leave them reporting to nobody; activity.hpp).
  if (n.membership())
    caf::anon_send(n.membership(), subscribe_atom::value,
                   caf::actor_cast<view_listener>(ctx->activity));
  auto p = std::make_unique<impl>();
  p->ctx = ctx;
  p->eio = std::make_shared<eio_registry>(ctx);
  p->eio->lists = spawn_seed000_list(ctx);
  // The Engine.IO heartbeat of every session, on the listener's clock.
  ctx->tickers.push_back(
    {p->eio->tick_period(), [eio = std::weak_ptr<eio_registry>(p->eio)] {
       if (auto r = eio.lock())
         r->tick();
     }});
  // A profile write reaches the list's cache here and on every other node
  // (through the rooms' node-to-node path).
  caf::anon_send(ctx->rooms, subscribe_atom::value,
                 profile_watcher{p->eio->lists});
  ctx->profile_changed = [rooms = ctx->rooms](const std::string& user) {
    caf::anon_send(rooms, profile_atom::value, user);
  };
  p->io = listener::start(ctx, std::make_shared<request_router>(ctx, p->eio),
                          err);
  if (!p->io) {
    // The actors spawned above would keep the actor system (and the
    // process) alive.
    caf::anon_send_exit(ctx->activity, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(p->eio->lists, caf::exit_reason::user_shutdown);
    return nullptr;
  }
  ctx->ready = true;
  return std::unique_ptr<server>{new server(std::move(p))};
}

uint16_t server::port() const {
  return impl_->io->port();
}

bool server::tls() const {
  return impl_->io->tls();
}

bool server::reload(std::string& err) {
  std::string keys_err, tls_err;
  bool keys_ok = !impl_->ctx->cfg.edge.jwt_mode()
                 || impl_->ctx->reload_keys(keys_err);
  bool tls_ok = impl_->io->reload_tls(tls_err);
  err.clear();
  if (!keys_ok)
    err = "JWT keys: " + keys_err;
  if (!tls_ok)
    err += (err.empty() ? "" : "; ") + std::string{"TLS: "} + tls_err;
  return keys_ok && tls_ok;
}

std::shared_ptr<edge_context> server::context() const {
  return impl_->ctx;
}

void server::drain() {
  auto& p = *impl_;
  p.ctx->ready = false;
  p.ctx->draining = true;
  p.io->stop_accepting();
}

void server::stop(int wait_ms) {
  auto& p = *impl_;
  if (p.stopped)
    return;
  p.stopped = true;
  drain();
  p.eio->close_all();
  p.ctx->close_all(close_code::going_away, "server shutting down");
  // Give clients a moment to answer the close handshake.
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(wait_ms);
  while (p.ctx->live_sessions() > 0
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(close_poll);
  p.io->stop();
  // The sockets are gone, and with them every device's activity.
  caf::anon_send_exit(p.ctx->activity, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(p.eio->lists, caf::exit_reason::user_shutdown);
}

} // namespace presence::edge
