#include "edge/transport/listener.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <prometheus/counter.h>

#include "edge/common/edge_context.hpp"
#include "edge/common/edge_log.hpp"
#include "edge/transport/http_handler.hpp"
#include "edge/transport/connection_slot.hpp"
#include "edge/transport/ws_session.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace presence::edge {

namespace {

/// Largest request head (request line and headers) accepted (bigger: 431).
constexpr std::size_t header_limit = 16 * 1024;

/// How long a connection that is only refused (over --max-connections or
/// --max-connections-per-ip) may take to send its request: it counts
/// towards the node's connections until it is gone.
constexpr auto refusal_timeout = std::chrono::seconds(1);

/// How long accepting pauses after a failure (out of file descriptors).
constexpr auto accept_retry = std::chrono::milliseconds(100);

/// The request as the protocols see it: converted from Beast once.
http_request to_request(http::request<http::string_body>& req) {
  http_request r;
  r.method = std::string{req.method_string()};
  r.target = std::string{req.target()};
  r.authorization = std::string{req[http::field::authorization]};
  r.content_type = std::string{req[http::field::content_type]};
  r.user_header = std::string{req["X-User-Id"]};
  r.user_agent = std::string{req[http::field::user_agent]};
  r.websocket_upgrade = websocket::is_upgrade(req);
  r.body = std::move(req.body());
  return r;
}

/// Why a connection is only told no.
enum class refusal { none, node_full, address_full };

/// One HTTP connection: reads requests one at a time and answers them
/// through the handler, or hands the socket to a WebSocket session on an
/// accepted upgrade. Owns itself; runs on its socket's io_context, which
/// one I/O thread runs (listener::impl::iocs). `Stream`: a
/// beast::tcp_stream, or a tls_stream (--tls-cert), whose handshake comes
/// first.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
  using std::enable_shared_from_this<http_session<Stream>>::shared_from_this;
  static constexpr bool tls = std::is_same_v<Stream, tls_stream>;

public:
  /// Plain TCP.
  http_session(tcp::socket&& socket, std::shared_ptr<edge_context> ctx,
               std::shared_ptr<http_handler> handler, connection_slot slot,
               refusal refused)
    : stream_(std::move(socket)), ctx_(std::move(ctx)),
      handler_(std::move(handler)), slot_(std::move(slot)), refused_(refused) {
    // nop
  }

  /// TLS with `tls_ctx` (kept while the handshake needs it).
  http_session(tcp::socket&& socket, std::shared_ptr<net::ssl::context> tls_ctx,
               std::shared_ptr<edge_context> ctx,
               std::shared_ptr<http_handler> handler, connection_slot slot,
               refusal refused)
    : stream_(std::move(socket), *tls_ctx), tls_ctx_(std::move(tls_ctx)),
      ctx_(std::move(ctx)), handler_(std::move(handler)),
      slot_(std::move(slot)), refused_(refused) {
    // nop
  }

  void run() {
    // Onto the connection's thread first (run() is called on the
    // acceptor's).
    net::dispatch(beast::get_lowest_layer(stream_).get_executor(),
                  beast::bind_front_handler(&http_session::start,
                                            shared_from_this()));
  }

private:
  void start() {
    if constexpr (tls) {
      // The handshake has the HTTP time limit (a client that opens a
      // connection and says nothing holds it that long, no more).
      beast::get_lowest_layer(stream_).expires_after(
        refused_ != refusal::none ? refusal_timeout
                                  : ctx_->cfg.edge.http_timeout);
      stream_.async_handshake(net::ssl::stream_base::server,
                              [self = shared_from_this()](
                                beast::error_code ec) {
                                self->on_handshake(ec);
                              });
    } else {
      do_read();
    }
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      // Plain HTTP on the HTTPS port, an old TLS version, a client that
      // does not trust the certificate: the connection just ends.
      ctx_->probe.tls_handshake_failures->Increment();
      log_edge().debug("tls: handshake failed: {}", ec.message());
      return;
    }
    do_read();
  }

  void do_read() {
    parser_.emplace();
    parser_->header_limit(header_limit);
    if (refused_ != refusal::none) {
      // Only told no: no body is read, and it does not hold its place (in
      // the node's count) for long.
      parser_->body_limit(0);
      beast::get_lowest_layer(stream_).expires_after(refusal_timeout);
    } else {
      parser_->body_limit(ctx_->cfg.edge.max_body_bytes);
      beast::get_lowest_layer(stream_).expires_after(
        ctx_->cfg.edge.http_timeout);
    }
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&http_session::on_read,
                                               shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout
        || ec == net::error::connection_reset || ec == net::error::eof
        || ec == net::ssl::error::stream_truncated) {
      close();
      return;
    }
    if (ec == http::error::body_limit && refused_ != refusal::none) {
      refuse(11);
      return;
    }
    if (ec == http::error::body_limit) {
      write(error_response(413, "payload_too_large",
                           "request body exceeds "
                             + std::to_string(ctx_->cfg.edge.max_body_bytes)
                             + " bytes"),
            11, false);
      return;
    }
    if (ec == http::error::header_limit) {
      write(error_response(431, "headers_too_large",
                           "request headers too large"),
            11, false);
      return;
    }
    if (ec) {
      log_edge().debug("http: bad request: {}", ec.message());
      write(error_response(400, "bad_request", "malformed HTTP request"), 11,
            false);
      return;
    }
    auto req = parser_->release();
    unsigned version = req.version();
    bool keep_alive = req.keep_alive();
    if (refused_ != refusal::none) {
      refuse(version);
      return;
    }
    auto r = to_request(req);
    if (r.websocket_upgrade) {
      bool version_mismatch = false;
      auto bad = ws_handshake_error(req[http::field::sec_websocket_key],
                                    req[http::field::sec_websocket_version],
                                    version_mismatch);
      if (!bad.empty()) {
        auto res = error_response(version_mismatch ? 426 : 400,
                                  "bad_websocket_handshake", bad);
        if (version_mismatch)
          res.headers.emplace_back("Sec-WebSocket-Version", "13");
        write(std::move(res), version, false);
        return;
      }
      http_response refusal;
      auto endpoint = handler_->on_upgrade(r, refusal);
      if (!endpoint) {
        write(std::move(refusal), version, false);
        return;
      }
      // Bytes the parser read past the request are the client's frames.
      auto leftover = beast::buffers_to_string(buffer_.data());
      if constexpr (tls)
        run_ws_session(ctx_, std::move(stream_), std::move(slot_),
                       req[http::field::sec_websocket_key], std::move(leftover),
                       std::move(endpoint));
      else
        run_ws_session(ctx_, stream_.release_socket(), std::move(slot_),
                       req[http::field::sec_websocket_key], std::move(leftover),
                       std::move(endpoint));
      return;
    }
    handler_->on_request(std::move(r), [self = shared_from_this(), version,
                                        keep_alive](http_response res) {
      // Any thread (often a CAF thread): hop onto our thread.
      net::post(beast::get_lowest_layer(self->stream_).get_executor(),
                [self, res = std::move(res), version, keep_alive]() mutable {
                  self->write(std::move(res), version, keep_alive);
                });
    });
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
    if constexpr (tls) {
      // close_notify, then the connection ends (bounded: a client that
      // never answers it is cut at the deadline).
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(5));
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) {
        beast::error_code ec;
        beast::get_lowest_layer(self->stream_).socket().close(ec);
      });
    } else {
      beast::error_code ec;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  /// Tells a refused connection why, and ends it.
  void refuse(unsigned version) {
    if (refused_ == refusal::node_full)
      write(error_response(503, "too_many_connections",
                           "the server holds too many connections"),
            version, false);
    else
      write(error_response(
              429, "too_many_connections",
              "too many connections from this address (at most "
                + std::to_string(ctx_->cfg.edge.max_connections_per_ip) + ")"),
            version, false);
  }

  Stream stream_;
  std::shared_ptr<net::ssl::context> tls_ctx_;
  beast::flat_buffer buffer_;
  std::shared_ptr<edge_context> ctx_;
  std::shared_ptr<http_handler> handler_;
  std::optional<http::request_parser<http::string_body>> parser_;
  /// This connection's count; moves to the WebSocket session on an upgrade.
  connection_slot slot_;
  refusal refused_;
};

/// The per-address connection key of `a`: its 4 bytes for IPv4 (an
/// IPv4-mapped IPv6 address counts as its IPv4 one); for IPv6 its /64
/// network (8 bytes), which one subscriber usually holds whole.
std::string address_key(const net::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return address_key(net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6()));
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return {b.begin(), b.end()};
  }
  auto b = a.to_v6().to_bytes();
  return {b.begin(), b.begin() + 8};
}

/// A server context for `cert` (PEM chain) and `key`: TLS 1.2 and later,
/// OpenSSL's default ciphers (no RC4, no export, forward secrecy first).
/// nullptr and `err` when a file cannot be used.
std::shared_ptr<net::ssl::context> make_tls_context(const std::string& cert,
                                                    const std::string& key,
                                                    std::string& err) {
  auto c = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  c->set_options(net::ssl::context::default_workarounds
                 | net::ssl::context::no_sslv2 | net::ssl::context::no_sslv3
                 | net::ssl::context::no_tlsv1 | net::ssl::context::no_tlsv1_1
                 | net::ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(c->native_handle(), TLS1_2_VERSION);
  // TLS 1.2: Mozilla's "intermediate" list, forward secrecy only (TLS 1.3's
  // suites all have it).
  SSL_CTX_set_cipher_list(c->native_handle(),
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-"
                          "SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-"
                          "AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
                          "ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-"
                          "SHA256:DHE-RSA-AES256-GCM-SHA384");
  // OpenSSL's own record buffers go while a connection is idle (Asio's
  // and Beast's buffers around it stay: docs/security.md).
  SSL_CTX_set_mode(c->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  beast::error_code ec;
  c->use_certificate_chain_file(cert, ec);
  if (ec) {
    err = "tls-cert: cannot load " + cert + ": " + ec.message();
    return nullptr;
  }
  c->use_private_key_file(key, net::ssl::context::pem, ec);
  if (ec && ec.category() == net::error::get_ssl_category()
      && ERR_GET_LIB(static_cast<unsigned long>(ec.value())) == ERR_LIB_X509
      && ERR_GET_REASON(static_cast<unsigned long>(ec.value()))
           == X509_R_KEY_VALUES_MISMATCH) {
    err = "tls-key: " + key + " is not the key of the certificate in " + cert;
    return nullptr;
  }
  if (ec) {
    err = "tls-key: cannot load " + key + ": " + ec.message();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(c->native_handle()) != 1) {
    err = "tls-key: " + key + " is not the key of the certificate in " + cert;
    return nullptr;
  }
  return c;
}

} // namespace

http_handler::~http_handler() = default;

// -- listener -----------------------------------------------------------------

struct listener::impl {
  impl(std::shared_ptr<edge_context> c, std::shared_ptr<http_handler> h,
       uint32_t threads)
    : ctx(std::move(c)), handler(std::move(h)), iocs(make_iocs(threads)),
      ioc(*iocs.front()), acceptor(ioc), retry(ioc) {
    // nop
  }

  /// One io_context per I/O thread, each run by its thread alone: a
  /// connection lives on one of them (round robin), and its handlers never
  /// run on two threads at once, without a strand per connection.
  static std::vector<std::unique_ptr<net::io_context>>
  make_iocs(uint32_t threads) {
    std::vector<std::unique_ptr<net::io_context>> out;
    for (uint32_t i = 0; i < std::max<uint32_t>(threads, 1); ++i)
      out.push_back(std::make_unique<net::io_context>(1));
    return out;
  }

  /// Runs the edge's coarse clocks (edge_context::tickers), among them the
  /// WebSocket sessions' idle clock: one timer each for all connections.
  void start_clocks() {
    auto all = ctx->tickers;
    all.push_back({ws_idle_tick(ctx->cfg.edge.ws_idle_timeout),
                   [c = ctx.get()] { c->tick_sessions(); }});
    for (auto& t : all) {
      clocks.emplace_back(
        new coarse_clock{std::move(t), net::steady_timer{ioc}});
      arm_clock(*clocks.back());
    }
  }

  struct coarse_clock {
    edge_context::ticker what;
    net::steady_timer timer;
  };

  static void arm_clock(coarse_clock& c) {
    c.timer.expires_after(c.what.period);
    c.timer.async_wait([&c](beast::error_code ec) {
      if (ec)
        return;
      c.what.tick();
      arm_clock(c);
    });
  }

  void do_accept() {
    // accept() writes the client's address into peer (one accept at a
    // time): the per-address limit needs no getpeername().
    auto done = [this](beast::error_code ec, tcp::socket socket) {
      on_accept(ec, std::move(socket));
    };
    // The connection's thread, in turn.
    auto& home = *iocs[next_ioc];
    next_ioc = (next_ioc + 1) % iocs.size();
    acceptor.async_accept(home.get_executor(), peer, std::move(done));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open())
      return;
    if (ec) {
      // Out of file descriptors (or similar): back off instead of spinning.
      log_edge().error("accept failed: {}", ec.message());
      retry.expires_after(accept_retry);
      retry.async_wait([this](beast::error_code e) {
        if (!e)
          do_accept();
      });
      return;
    }
    // Non-blocking from the start: the socket's first asynchronous
    // operation then needs no ioctl of its own, nor a WebSocket session
    // its write-at-once mode (one FIONBIO per connection, not two).
    beast::error_code nb;
    socket.non_blocking(true, nb);
    auto n = ctx->count_connection(+1);
    auto refused = refusal::none;
    std::string from;
    if (n > ctx->cfg.edge.max_connections) {
      refused = refusal::node_full;
    } else if (ctx->cfg.edge.max_connections_per_ip > 0) {
      // Counted per source address; 127.0.0.1 and ::1 are exempt (a proxy
      // on this host, tests, benchmarks).
      auto a = peer.address();
      from = address_key(a);
      if (from == std::string("\x7f\0\0\x01", 4)
          || (a.is_v6() && a.to_v6().is_loopback()))
        from.clear(); // (::1 checked on the address, not on its /64)
      if (!from.empty()) {
        if (!ctx->add_from(from)) {
          from.clear();
          refused = refusal::address_full;
        }
      }
    }
    connection_slot slot{ctx, std::move(from)};
    if (auto t = std::atomic_load(&tls))
      std::make_shared<http_session<tls_stream>>(std::move(socket),
                                                 std::move(t), ctx, handler,
                                                 std::move(slot), refused)
        ->run();
    else
      std::make_shared<http_session<beast::tcp_stream>>(std::move(socket), ctx,
                                                        handler,
                                                        std::move(slot),
                                                        refused)
        ->run();
    do_accept();
  }

  std::shared_ptr<edge_context> ctx;
  std::shared_ptr<http_handler> handler;
  /// Set with --tls-cert: every connection is TLS. Read with atomic_load
  /// (a reload replaces it; connections keep the one they started with).
  std::shared_ptr<net::ssl::context> tls;
  std::vector<std::unique_ptr<net::io_context>> iocs;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> busy;
  /// The first: the acceptor's and the clocks'.
  net::io_context& ioc;
  /// The io_context of the next connection accepted.
  std::size_t next_ioc = 0;
  tcp::acceptor acceptor;
  /// The address of the connection being accepted (do_accept).
  tcp::endpoint peer;
  net::steady_timer retry;
  std::vector<std::unique_ptr<coarse_clock>> clocks;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;
};

listener::listener(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

listener::~listener() {
  stop();
}

std::unique_ptr<listener> listener::start(std::shared_ptr<edge_context> ctx,
                                          std::shared_ptr<http_handler> handler,
                                          std::string& err) {
  auto& cfg = ctx->cfg.edge;
  auto p = std::make_unique<impl>(ctx, std::move(handler), cfg.io_threads);
  if (!cfg.tls_cert.empty()) {
    p->tls = make_tls_context(cfg.tls_cert, cfg.tls_key, err);
    if (!p->tls)
      return nullptr;
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(cfg.listen_host, ec);
  if (ec) {
    err = "invalid listen address '" + cfg.listen_host + "'";
    return nullptr;
  }
  tcp::endpoint ep{addr, cfg.listen_port};
  p->acceptor.open(ep.protocol(), ec);
  if (!ec)
    p->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  // Linux gives every accepted socket the listener's TCP_NODELAY: one
  // setsockopt here instead of one per connection (frames are written
  // whole; Nagle would hold a reply for the client's delayed ACK).
  if (!ec)
    p->acceptor.set_option(tcp::no_delay(true), ec);
  if (!ec)
    p->acceptor.bind(ep, ec);
  if (!ec)
    p->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    err = "cannot listen on " + cfg.listen_host + ":"
          + std::to_string(cfg.listen_port) + ": " + ec.message();
    return nullptr;
  }
  p->port = p->acceptor.local_endpoint().port();
  p->do_accept();
  p->start_clocks();
  for (auto& ioc : p->iocs) {
    prepare_delivery_home(*ioc, cfg.fanout_helper_min,
                          ctx->probe.fanout_shared);
    // A thread whose io_context has nothing to do yet keeps waiting.
    p->busy.push_back(net::make_work_guard(*ioc));
    p->threads.emplace_back([raw = ioc.get()] {
      caf::detail::set_thread_name("presenced.io");
      raw->run();
    });
  }
  return std::unique_ptr<listener>{new listener(std::move(p))};
}

uint16_t listener::port() const {
  return impl_->port;
}

bool listener::tls() const {
  return std::atomic_load(&impl_->tls) != nullptr;
}

bool listener::reload_tls(std::string& err) {
  auto& cfg = impl_->ctx->cfg.edge;
  if (cfg.tls_cert.empty())
    return true;
  auto t = make_tls_context(cfg.tls_cert, cfg.tls_key, err);
  if (!t)
    return false;
  std::atomic_store(&impl_->tls, std::move(t));
  return true;
}

void listener::stop_accepting() {
  net::post(impl_->acceptor.get_executor(), [raw = impl_.get()] {
    beast::error_code ec;
    raw->acceptor.close(ec);
    raw->retry.cancel();
  });
}

void listener::stop() {
  auto& p = *impl_;
  if (p.stopped)
    return;
  p.stopped = true;
  for (auto& ioc : p.iocs)
    ioc->stop();
  for (auto& t : p.threads)
    if (t.joinable())
      t.join();
}

} // namespace presence::edge
