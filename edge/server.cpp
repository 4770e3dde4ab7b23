#include "edge/server.hpp"

#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "core/ids.hpp"
#include "edge/auth.hpp"
#include "edge/edge_log.hpp"
#include "edge/rest_api.hpp"
#include "edge/session_actor.hpp"
#include "edge/sio_actor.hpp"
#include "edge/server_context.hpp"
#include "edge/url.hpp"
#include "edge/ws_session.hpp"
#include "node/presence_node.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace presence::edge {

namespace {

constexpr std::size_t header_limit = 16 * 1024;

/// One HTTP connection: reads requests one at a time, answers them through
/// the REST layer, or hands the socket to a WebSocket session on upgrade.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket&& socket, std::shared_ptr<server_context> ctx,
               bool over_limit)
    : stream_(std::move(socket)), ctx_(std::move(ctx)),
      over_limit_(over_limit) {
    // nop
  }

  ~http_session() {
    if (!upgraded_) {
      ctx_->count_connection(-1);
    }
  }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&http_session::do_read,
                                            shared_from_this()));
  }

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(ctx_->cfg.edge.max_body_bytes);
    parser_->header_limit(header_limit);
    stream_.expires_after(ctx_->cfg.edge.http_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read,
                                               shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout
        || ec == net::error::connection_reset || ec == net::error::eof) {
      close();
      return;
    }
    if (ec == http::error::body_limit) {
      reply_error(413, "payload_too_large",
                  "request body exceeds "
                    + std::to_string(ctx_->cfg.edge.max_body_bytes)
                    + " bytes",
                  11, false);
      return;
    }
    if (ec == http::error::header_limit) {
      reply_error(431, "headers_too_large", "request headers too large", 11,
                  false);
      return;
    }
    if (ec) {
      log_edge().debug("http: bad request: {}", ec.message());
      reply_error(400, "bad_request", "malformed HTTP request", 11, false);
      return;
    }
    auto req = parser_->release();
    if (over_limit_) {
      reply_error(503, "too_many_connections",
                  "the server holds too many connections", req.version(),
                  false);
      return;
    }
    parsed_target t;
    bool target_ok = parse_target(std::string{req.target()}, t);
    if (target_ok && ctx_->is_sio_path(t.path)) {
      socketio(std::move(req), t);
      return;
    }
    if (websocket::is_upgrade(req)) {
      upgrade(std::move(req));
      return;
    }
    http_request r;
    r.method = std::string{req.method_string()};
    r.target = std::string{req.target()};
    r.body = std::move(req.body());
    r.authorization = std::string{req[http::field::authorization]};
    r.content_type = std::string{req[http::field::content_type]};
    r.user_header = std::string{req["X-User-Id"]};
    unsigned version = req.version();
    bool keep_alive = req.keep_alive();
    handle_rest(ctx_, std::move(r),
                [self = shared_from_this(), version,
                 keep_alive](http_response res) {
                  // Called on a CAF thread: hop onto our strand.
                  net::post(self->stream_.get_executor(),
                            [self, res = std::move(res), version,
                             keep_alive]() mutable {
                              self->write(std::move(res), version, keep_alive);
                            });
                });
  }

  /// Socket.IO: Engine.IO polling requests and WebSocket transports.
  void socketio(http::request<http::string_body> req, const parsed_target& t) {
    sio_params params;
    params.token = bearer_token(std::string{req[http::field::authorization]});
    if (params.token.empty())
      params.token = query_param(t, "token");
    params.user_id = query_param(t, "userId", "user_id");
    params.user_agent = std::string{req[http::field::user_agent]}.substr(0, 512);
    if (websocket::is_upgrade(req)) {
      if (query_param(t, "EIO") != "4") {
        write(eio_error(5, "Unsupported protocol version"), req.version(),
              false);
        return;
      }
      if (query_param(t, "transport") != "websocket") {
        write(eio_error(3, "Bad request"), req.version(), false);
        return;
      }
      if (ctx_->draining) {
        write(eio_error(4, "server shutting down"), req.version(), false);
        return;
      }
      auto reg = ctx_->eio.lock();
      if (!reg) {
        write(eio_error(4, "server shutting down"), req.version(), false);
        return;
      }
      std::shared_ptr<eio_session> target;
      auto sid = query_param(t, "sid");
      if (!sid.empty()) {
        target = reg->find(sid);
        if (!target) {
          write(eio_error(1, "Session ID unknown"), req.version(), false);
          return;
        }
      }
      upgraded_ = true;
      run_ws_session(ctx_, std::move(stream_), std::move(req),
                     make_eio_ws_endpoint(ctx_, std::move(reg),
                                          std::move(target),
                                          std::move(params)));
      return;
    }
    http_request r;
    r.method = std::string{req.method_string()};
    r.target = std::string{req.target()};
    r.body = std::move(req.body());
    unsigned version = req.version();
    bool keep_alive = req.keep_alive();
    auto ctx = ctx_;
    auto reg = ctx_->eio.lock();
    if (!reg) {
      write(eio_error(4, "server shutting down"), version, false);
      return;
    }
    handle_eio_polling(
      ctx_, std::move(reg), r, t,
      [ctx, params](std::shared_ptr<eio_session> s) {
        return spawn_sio_session(ctx, std::move(s), params);
      },
      [self = shared_from_this(), version, keep_alive](http_response res) {
        net::post(self->stream_.get_executor(),
                  [self, res = std::move(res), version,
                   keep_alive]() mutable {
                    self->write(std::move(res), version, keep_alive);
                  });
      });
  }

  void upgrade(http::request<http::string_body> req) {
    parsed_target t;
    if (!parse_target(std::string{req.target()}, t)) {
      reject(400, "bad_request", "malformed request target", req.version());
      return;
    }
    auto path = t.path;
    while (path.size() > 1 && path.back() == '/')
      path.pop_back();
    if (path != "/ws" && path != "/ws/user-status") {
      reject(404, "not_found", "no WebSocket endpoint at " + t.path,
             req.version());
      return;
    }
    if (ctx_->draining) {
      reject(503, "shutting_down", "the server is shutting down",
             req.version());
      return;
    }
    session_params params;
    // As for REST: the Authorization header first, then ?token=.
    auto token = bearer_token(std::string{req[http::field::authorization]});
    if (token.empty())
      token = query_param(t, "token");
    auto named = query_param(t, "userId", "user_id");
    if (!ctx_->cfg.edge.jwt_secret.empty()) {
      auto who = verify_jwt(ctx_->cfg.edge.jwt_secret, token, ctx_->now());
      if (!who.ok) {
        reject(401, who.code, who.message, req.version());
        return;
      }
      if (!named.empty() && named != who.user_id) {
        reject(403, "forbidden", "userId differs from the token's user",
               req.version());
        return;
      }
      params.user_id = who.user_id;
      params.authenticated = true;
    } else if (!named.empty()) {
      if (!valid_id(named)) {
        reject(400, "invalid_id", "userId is not a valid id", req.version());
        return;
      }
      params.user_id = named;
    }
    params.device_id = query_param(t, "deviceId", "device_id");
    if (!params.device_id.empty() && !valid_id(params.device_id)) {
      reject(400, "invalid_id", "deviceId is not a valid id", req.version());
      return;
    }
    params.user_agent = std::string{req[http::field::user_agent]}.substr(0, 512);
    params.platform = query_param(t, "platform").substr(0, 64);
    params.global_feed = path == "/ws/user-status";
    auto feed = query_param(t, "subscribe");
    if (feed == "global")
      params.global_feed = true;
    else if (feed == "none")
      params.global_feed = false;
    upgraded_ = true;
    run_ws_session(ctx_, std::move(stream_), std::move(req),
                   make_native_endpoint(ctx_, std::move(params)));
  }

  void reject(unsigned status, const std::string& code,
              const std::string& message, unsigned version) {
    ctx_->probe.ws_rejected->Increment();
    reply_error(status, code, message, version, false);
  }

  void reply_error(unsigned status, const std::string& code,
                   const std::string& message, unsigned version,
                   bool keep_alive) {
    write(error_response(status, code, message), version, keep_alive);
  }

  void write(http_response r, unsigned version, bool keep_alive) {
    ctx_->probe.http_requests->Increment();
    if (r.status >= 400)
      ctx_->probe.http_errors->Increment();
    auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(r.status), version);
    res->set(http::field::server, "presenced");
    res->set(http::field::content_type, r.content_type);
    res->set(http::field::cache_control, "no-store");
    if (!ctx_->cfg.edge.cors_origin.empty()) {
      res->set(http::field::access_control_allow_origin,
               ctx_->cfg.edge.cors_origin);
      res->set(http::field::access_control_allow_headers,
               "Authorization, Content-Type, X-User-Id");
      res->set(http::field::access_control_allow_methods,
               "GET, POST, PUT, OPTIONS");
      res->set(http::field::access_control_expose_headers, "X-Next-Cursor");
    }
    for (auto& [k, v] : r.headers)
      res->set(k, v);
    res->keep_alive(keep_alive && !ctx_->draining);
    res->body() = std::move(r.body);
    res->prepare_payload();
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec,
                                                       std::size_t) {
                        self->on_write(ec, res->need_eof());
                      });
  }

  void on_write(beast::error_code ec, bool close_after) {
    if (ec || close_after) {
      close();
      return;
    }
    do_read();
  }

  void close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::shared_ptr<server_context> ctx_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool over_limit_;
  bool upgraded_ = false;
};

} // namespace

// -- server -------------------------------------------------------------------

struct server::impl {
  impl(std::shared_ptr<server_context> c, uint32_t threads)
    : ctx(std::move(c)), ioc(static_cast<int>(threads)),
      acceptor(net::make_strand(ioc)), retry(ioc) {
    // nop
  }

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc),
                          [this](beast::error_code ec, tcp::socket socket) {
                            on_accept(ec, std::move(socket));
                          });
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open())
      return;
    if (ec) {
      // Out of file descriptors (or similar): back off instead of spinning.
      log_edge().error("accept failed: {}", ec.message());
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([this](beast::error_code e) {
        if (!e)
          do_accept();
      });
      return;
    }
    auto n = ctx->count_connection(+1);
    bool over = n > ctx->cfg.edge.max_connections;
    std::make_shared<http_session>(std::move(socket), ctx, over)->run();
    do_accept();
  }

  std::shared_ptr<server_context> ctx;
  std::shared_ptr<eio_registry> eio;
  net::io_context ioc;
  tcp::acceptor acceptor;
  net::steady_timer retry;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;
};

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

server::~server() {
  stop();
}

std::unique_ptr<server> server::start(node& n, std::string& err) {
  auto& cfg = n.cfg();
  auto ctx = std::make_shared<server_context>(n.system(), cfg);
  ctx->api = n.api();
  ctx->store = n.store();
  ctx->rooms = n.rooms();
  ctx->stats = n.stats();
  ctx->membership = n.membership();
  ctx->store_counters = &n.store_counters();
  auto p = std::make_unique<impl>(ctx, cfg.edge.io_threads);
  p->eio = std::make_shared<eio_registry>(ctx);
  ctx->eio = p->eio;
  beast::error_code ec;
  auto addr = net::ip::make_address(cfg.edge.listen_host, ec);
  if (ec) {
    err = "invalid listen address '" + cfg.edge.listen_host + "'";
    return nullptr;
  }
  tcp::endpoint ep{addr, cfg.edge.listen_port};
  p->acceptor.open(ep.protocol(), ec);
  if (!ec)
    p->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    p->acceptor.bind(ep, ec);
  if (!ec)
    p->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    err = "cannot listen on " + cfg.edge.listen_host + ":"
          + std::to_string(cfg.edge.listen_port) + ": " + ec.message();
    return nullptr;
  }
  p->port = p->acceptor.local_endpoint().port();
  p->do_accept();
  for (uint32_t i = 0; i < cfg.edge.io_threads; ++i)
    p->threads.emplace_back([raw = p.get()] { raw->ioc.run(); });
  ctx->ready = true;
  return std::unique_ptr<server>{new server(std::move(p))};
}

uint16_t server::port() const {
  return impl_->port;
}

std::shared_ptr<server_context> server::context() const {
  return impl_->ctx;
}

void server::drain() {
  auto& p = *impl_;
  p.ctx->ready = false;
  p.ctx->draining = true;
  net::post(p.acceptor.get_executor(), [raw = &p] {
    beast::error_code ec;
    raw->acceptor.close(ec);
    raw->retry.cancel();
  });
}

void server::stop(int wait_ms) {
  auto& p = *impl_;
  if (p.stopped)
    return;
  p.stopped = true;
  drain();
  p.eio->close_all();
  p.ctx->close_all(static_cast<uint16_t>(websocket::close_code::going_away),
                   "server shutting down");
  // Give clients a moment to answer the close handshake.
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::milliseconds(wait_ms);
  while (p.ctx->live_sessions() > 0
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  p.ioc.stop();
  for (auto& t : p.threads)
    if (t.joinable())
      t.join();
}

} // namespace presence::edge
