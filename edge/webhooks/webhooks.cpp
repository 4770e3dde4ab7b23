#include "edge/webhooks/webhooks.hpp"

#include <deque>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include "core/clock.hpp"

namespace presence::edge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool parse_http_url(const std::string& url, http_url& out) {
  out = http_url{};
  std::string rest;
  if (url.compare(0, 7, "http://") == 0) {
    rest = url.substr(7);
  } else if (url.compare(0, 8, "https://") == 0) {
    rest = url.substr(8);
    out.tls = true;
    out.port = "443";
  } else {
    return false;
  }
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  if (colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
    if (out.port.empty()
        || out.port.find_first_not_of("0123456789") != std::string::npos
        || out.port.size() > 5 || std::stoul(out.port) > 65535)
      return false;
  } else {
    out.host = authority;
  }
  if (out.host.empty() || out.host.find('@') != std::string::npos)
    return false;
  for (unsigned char c : out.target)
    if (c <= ' ' || c == 0x7f)
      return false;
  return true;
}

std::string webhook_signature(const std::string& secret,
                              const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac,
       &n);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned i = 0; i < n; ++i) {
    out.push_back(hex[mac[i] >> 4]);
    out.push_back(hex[mac[i] & 0xf]);
  }
  return out;
}

std::string webhook_key(const presence_delta& d) {
  return d.user_id + ":" + std::to_string(d.version);
}

const char* webhook_event(const presence_delta& d, bool was_online) {
  if (d.online && !was_online)
    return "user.online";
  if (!d.online && was_online)
    return "user.offline";
  return "user.status";
}

std::string webhook_body(const presence_delta& d, bool was_online) {
  auto iso = [](millis ms) {
    return ms > 0 ? nlohmann::json(iso8601(ms)) : nlohmann::json(nullptr);
  };
  nlohmann::json j = {
    {"event", webhook_event(d, was_online)},
    {"userId", d.user_id},
    {"isOnline", d.online},
    {"status", status_name(d.status)},
    {"lastSeen", iso(d.last_seen)},
    {"onlineSince", iso(d.online_since)},
    {"statusText", d.status_text.empty() ? nlohmann::json(nullptr)
                                         : nlohmann::json(d.status_text)},
    {"version", d.version},
    {"idempotencyKey", webhook_key(d)},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

struct hook {
  std::string event;
  std::string key;
  std::string body;
};

struct endpoint {
  std::string url;
  http_url where;
  std::deque<std::shared_ptr<const hook>> queue;
  bool busy = false;
  int attempt = 0;
  std::unique_ptr<asio::steady_timer> retry;
};

/// What one request needs, whatever it runs over.
struct exchange_base {
  beast::flat_buffer buf;
  http::request<http::string_body> req;
  http::response<http::string_body> res;
  std::chrono::milliseconds timeout;
  std::function<void(bool, std::string)> done;
};

/// One request: resolve, connect, (TLS handshake,) write, read; `done(ok)`
/// at the end. `Stream`: beast::tcp_stream, or an ssl_stream over one.
template <class Stream>
struct exchange : exchange_base,
                  std::enable_shared_from_this<exchange<Stream>> {
  static constexpr bool tls = !std::is_same_v<Stream, beast::tcp_stream>;

  tcp::resolver resolver;
  Stream stream;

  template <class... Ts>
  exchange(asio::io_context& ioc, std::chrono::milliseconds t, Ts&&... xs)
    : resolver(ioc), stream(ioc, std::forward<Ts>(xs)...) {
    timeout = t;
  }

  beast::tcp_stream& tcp_layer() { return beast::get_lowest_layer(stream); }

  void run(const http_url& where) {
    auto self = this->shared_from_this();
    if constexpr (tls) {
      // SNI, and the certificate must name the host.
      if (!SSL_set_tlsext_host_name(stream.native_handle(), where.host.c_str()))
        return done(false, "TLS: cannot set the server name");
      stream.set_verify_callback(asio::ssl::host_name_verification(where.host));
    }
    resolver.async_resolve(
      where.host, where.port,
      [self](beast::error_code ec, tcp::resolver::results_type rs) {
        if (ec)
          return self->done(false, "resolve: " + ec.message());
        self->tcp_layer().expires_after(self->timeout);
        self->tcp_layer().async_connect(rs, [self](beast::error_code ec,
                                                   const tcp::endpoint&) {
          if (ec)
            return self->done(false, "connect: " + ec.message());
          if constexpr (tls) {
            self->tcp_layer().expires_after(self->timeout);
            self->stream.async_handshake(
              asio::ssl::stream_base::client, [self](beast::error_code ec) {
                if (ec)
                  return self->done(false, "TLS handshake: " + ec.message());
                self->write();
              });
          } else {
            self->write();
          }
        });
      });
  }

  void write() {
    auto self = this->shared_from_this();
    tcp_layer().expires_after(timeout);
    http::async_write(stream, req, [self](beast::error_code ec, std::size_t) {
      if (ec)
        return self->done(false, "write: " + ec.message());
      self->tcp_layer().expires_after(self->timeout);
      http::async_read(self->stream, self->buf, self->res,
                       [self](beast::error_code ec, std::size_t) {
                         // Connection: close; the answer is all we wait
                         // for (no TLS close_notify round trip).
                         beast::error_code ignored;
                         self->tcp_layer().socket().shutdown(
                           tcp::socket::shutdown_both, ignored);
                         if (ec)
                           return self->done(false, "read: " + ec.message());
                         auto code = self->res.result_int();
                         self->done(code >= 200 && code < 300,
                                    "status " + std::to_string(code));
                       });
    });
  }
};

} // namespace

struct webhooks::impl {
  webhook_config cfg;
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work{
    ioc.get_executor()};
  std::vector<endpoint> endpoints;
  /// For https:// endpoints (null when there is none).
  std::unique_ptr<asio::ssl::context> tls;
  webhook_counters counters;
  std::thread thread;
  std::atomic<bool> stopped{false};

  void kick(endpoint& ep) {
    if (ep.busy || ep.queue.empty())
      return;
    ep.busy = true;
    auto h = ep.queue.front();
    std::shared_ptr<exchange_base> x;
    std::function<void()> run;
    if (ep.where.tls) {
      auto t = std::make_shared<exchange<beast::ssl_stream<beast::tcp_stream>>>(
        ioc, cfg.timeout, *tls);
      run = [t, &ep] { t->run(ep.where); };
      x = t;
    } else {
      auto t = std::make_shared<exchange<beast::tcp_stream>>(ioc, cfg.timeout);
      run = [t, &ep] { t->run(ep.where); };
      x = t;
    }
    x->req.method(http::verb::post);
    x->req.target(ep.where.target);
    x->req.version(11);
    x->req.set(http::field::host, ep.where.host + ":" + ep.where.port);
    x->req.set(http::field::user_agent, "presenced-webhooks");
    x->req.set(http::field::content_type, "application/json");
    x->req.set(http::field::connection, "close");
    x->req.set("Idempotency-Key", h->key);
    x->req.set("X-Presenced-Event", h->event);
    if (!cfg.secret.empty())
      x->req.set("X-Presenced-Signature",
                 webhook_signature(cfg.secret, h->body));
    x->req.body() = h->body;
    x->req.prepare_payload();
    auto* e = &ep;
    x->done = [this, e, h](bool ok, std::string why) {
      if (ok) {
        ++counters.sent;
        if (!e->queue.empty() && e->queue.front() == h) {
          e->queue.pop_front();
          --counters.queued;
        }
        e->attempt = 0;
        e->busy = false;
        kick(*e);
        return;
      }
      ++counters.failed;
      auto n = counters.failed.load();
      if (n == 1 || n % 100 == 0)
        spdlog::warn("webhook {} failed ({} so far): {}", e->url, n, why);
      if (++e->attempt >= cfg.max_attempts) {
        ++counters.dropped;
        if (!e->queue.empty() && e->queue.front() == h) {
          e->queue.pop_front();
          --counters.queued;
        }
        e->attempt = 0;
      }
      auto backoff = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds{500} * (1 << std::min(e->attempt, 6)),
        std::chrono::milliseconds{30'000});
      e->retry->expires_after(backoff);
      e->retry->async_wait([this, e](beast::error_code ec) {
        if (ec)
          return;
        e->busy = false;
        kick(*e);
      });
    };
    run();
  }
};

webhooks::webhooks(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // nop
}

webhooks::~webhooks() {
  stop();
}

std::shared_ptr<webhooks> webhooks::start(webhook_config cfg,
                                          std::string& err) {
  auto p = std::make_unique<impl>();
  for (auto& url : cfg.urls) {
    endpoint ep;
    ep.url = url;
    if (!parse_http_url(url, ep.where)) {
      err = "webhook-url must be http:// or https://host[:port][/path], not '"
            + url + "'";
      return nullptr;
    }
    if (ep.where.tls && !p->tls) {
      // Modern defaults: TLS 1.2 or later, the peer's certificate checked
      // against the system's authorities (or --webhook-ca).
      p->tls = std::make_unique<asio::ssl::context>(
        asio::ssl::context::tls_client);
      p->tls->set_options(
        asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2
        | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1
        | asio::ssl::context::no_tlsv1_1);
      p->tls->set_verify_mode(asio::ssl::verify_peer);
      beast::error_code ec;
      if (cfg.ca_file.empty())
        p->tls->set_default_verify_paths(ec);
      else
        p->tls->load_verify_file(cfg.ca_file, ec);
      if (ec) {
        err = "webhook-ca: cannot load certificate authorities from '"
              + (cfg.ca_file.empty() ? std::string{"the system"} : cfg.ca_file)
              + "': " + ec.message();
        return nullptr;
      }
    }
    ep.retry = std::make_unique<asio::steady_timer>(p->ioc);
    p->endpoints.push_back(std::move(ep));
  }
  p->cfg = std::move(cfg);
  auto* raw = p.get();
  p->thread = std::thread([raw] { raw->ioc.run(); });
  return std::shared_ptr<webhooks>(new webhooks(std::move(p)));
}

void webhooks::post(const presence_delta& d, bool was_online) {
  if (impl_->endpoints.empty() || impl_->stopped)
    return;
  auto h = std::make_shared<hook>();
  h->event = webhook_event(d, was_online);
  h->key = webhook_key(d);
  h->body = webhook_body(d, was_online);
  auto* p = impl_.get();
  asio::post(p->ioc, [p, h] {
    for (auto& ep : p->endpoints) {
      if (ep.queue.size() >= p->cfg.queue_limit) {
        ep.queue.pop_front();
        ++p->counters.dropped;
        --p->counters.queued;
      }
      ep.queue.push_back(h);
      ++p->counters.queued;
      p->kick(ep);
    }
  });
}

size_t webhooks::drain(std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (impl_->counters.queued.load() > 0 && !impl_->stopped
         && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  return impl_->counters.queued.load();
}

void webhooks::stop() {
  if (impl_->stopped.exchange(true))
    return;
  impl_->work.reset();
  impl_->ioc.stop();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

const webhook_counters& webhooks::counters() const {
  return impl_->counters;
}

} // namespace presence::edge
