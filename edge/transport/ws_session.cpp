#include "edge/transport/ws_session.hpp"

#include <deque>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "edge/common/close_codes.hpp"
#include "edge/common/edge_log.hpp"
#include "edge/transport/rate_limiter.hpp"
#include "edge/transport/write_queue.hpp"
#include "edge/common/edge_context.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;

namespace presence::edge {

namespace {

/// A client that keeps flooding is told again on the first and every
/// `rate_limit_notice_every`th dropped message, then cut off once it has
/// sent `rate_burst` messages past the limit in a row.
constexpr uint32_t rate_limit_notice_every = 16;

class ws_session;

/// The sink a session actor writes to: posts onto the session's strand.
/// Holds the session weakly, so a late delta for a closed socket is dropped.
class strand_sink : public session_sink {
public:
  explicit strand_sink(std::weak_ptr<ws_session> s) : session_(std::move(s)) {
    // nop
  }
  void send_text(std::shared_ptr<const std::string> frame) override;
  void close(uint16_t code, std::string reason) override;

private:
  std::weak_ptr<ws_session> session_;
};

/// One WebSocket connection. Owns itself (shared_from_this) and runs on one
/// strand: every member below is touched only from that strand.
class ws_session : public std::enable_shared_from_this<ws_session> {
public:
  ws_session(std::shared_ptr<edge_context> ctx, beast::tcp_stream&& stream,
             std::shared_ptr<ws_endpoint> endpoint)
    : ctx_(std::move(ctx)), endpoint_(std::move(endpoint)),
      ws_(std::move(stream)), queue_(ctx_->cfg.edge.write_queue_bytes,
                                     ctx_->cfg.edge.write_queue_max_bytes),
      stall_timer_(ws_.get_executor()),
      limiter_(ctx_->cfg.edge.rate_limit, ctx_->cfg.edge.rate_burst) {
    // nop
  }

  ~ws_session() {
    // Destroyed without a read failure (the I/O threads stopped first): the
    // endpoint must still hear that the socket is gone.
    if (open_)
      endpoint_->on_closed();
    if (key_ != 0)
      ctx_->remove_session(key_);
    // The connection was counted when the HTTP session accepted it.
    ctx_->count_connection(-1);
  }

  void run(http::request<http::string_body> req) {
    // The websocket stream has its own timeouts: the HTTP read deadline
    // still armed on the TCP stream must go, or every socket dies after it.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(
      websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(
      websocket::stream_base::decorator([](websocket::response_type& res) {
        res.set(http::field::server, "presenced");
      }));
    ws_.read_message_max(ctx_->cfg.edge.max_frame_bytes);
    ws_.async_accept(req, beast::bind_front_handler(&ws_session::on_accept,
                                                    shared_from_this()));
  }

  net::any_io_executor get_executor() { return ws_.get_executor(); }

  // -- called on the strand by strand_sink ------------------------------------

  void enqueue(std::shared_ptr<const std::string> frame) {
    if (closing_ || !open_)
      return;
    switch (queue_.push(std::move(frame))) {
      case write_queue::verdict::ok:
        break;
      case write_queue::verdict::arm_stall:
        // A burst is fine if the client drains it; one that stays above
        // the mark for slow_consumer_ms is not reading.
        stall_timer_.expires_after(ctx_->cfg.edge.slow_consumer_ms);
        stall_timer_.async_wait(
          [self = shared_from_this()](beast::error_code ec) {
            if (self->queue_.stall_expired() && !ec)
              self->drop_slow_consumer();
          });
        break;
      case write_queue::verdict::drop:
        drop_slow_consumer();
        return;
    }
    if (!writing_)
      do_write();
  }

  void start_close(uint16_t code, std::string reason) {
    if (closing_ || !open_)
      return;
    closing_ = true;
    close_reason_.code = code;
    close_reason_.reason = reason;
    if (!writing_)
      do_close();
  }

private:
  /// Slow-consumer policy (docs/protocol.md): drop what is queued and close
  /// with 4001; on reconnect the client lists the current state again.
  void drop_slow_consumer() {
    ctx_->probe.slow_consumers->Increment();
    log_edge().info("ws: closing slow consumer ({} bytes queued)",
                    queue_.bytes());
    queue_.drop_pending(writing_);
    start_close(close_code::slow_consumer, "slow consumer");
  }

  void on_accept(beast::error_code ec) {
    if (ec) {
      log_edge().debug("ws: handshake failed: {}", ec.message());
      return;
    }
    open_ = true;
    ctx_->probe.ws_accepted->Increment();
    ctx_->probe.ws_sessions->Increment();
    sink_ = std::make_shared<strand_sink>(weak_from_this());
    key_ = ctx_->add_session(sink_);
    endpoint_->on_open(sink_);
    if (ctx_->draining)
      start_close(close_code::going_away, "server shutting down");
    do_read();
  }

  void do_read() {
    ws_.async_read(buffer_, beast::bind_front_handler(&ws_session::on_read,
                                                      shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) {
      on_gone(ec);
      return;
    }
    // Every message counts against the rate limit, binary ones included.
    if (!limiter_.try_take()) {
      buffer_.consume(buffer_.size());
      ctx_->probe.rate_limited->Increment();
      // A client that keeps flooding after being told is cut off.
      if (++violations_ > ctx_->cfg.edge.rate_burst) {
        log_edge().warn("ws: closing flooding client");
        start_close(close_code::policy_violation, "rate limit exceeded");
      } else if (violations_ == 1
                 || violations_ % rate_limit_notice_every == 0) {
        endpoint_->on_rate_limited();
      }
      do_read();
      return;
    }
    violations_ = 0;
    if (!ws_.got_text()) {
      buffer_.consume(buffer_.size());
      endpoint_->on_binary();
      do_read();
      return;
    }
    endpoint_->on_text(beast::buffers_to_string(buffer_.data()));
    buffer_.consume(buffer_.size());
    do_read();
  }

  void do_write() {
    writing_ = true;
    ws_.text(true);
    ws_.async_write(net::buffer(*queue_.front()),
                    beast::bind_front_handler(&ws_session::on_write,
                                              shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    writing_ = false;
    if (ec) {
      // The read side sees the same failure and cleans up.
      queue_.clear();
      return;
    }
    queue_.pop_front();
    if (!queue_.empty())
      do_write();
    else if (closing_)
      do_close();
  }

  void do_close() {
    if (close_sent_)
      return;
    close_sent_ = true;
    ws_.async_close(close_reason_,
                    [self = shared_from_this()](beast::error_code) {
                      // The pending read completes with 'closed'.
                    });
  }

  void on_gone(beast::error_code ec) {
    if (ec != websocket::error::closed && ec != net::error::operation_aborted
        && ec != beast::error::timeout && ec != net::error::eof
        && ec != net::error::connection_reset) {
      if (ec == websocket::error::message_too_big)
        log_edge().warn("ws: closed oversized message");
      else
        log_edge().debug("ws: read failed: {}", ec.message());
    }
    if (!open_)
      return;
    open_ = false;
    stall_timer_.cancel();
    ctx_->probe.ws_sessions->Decrement();
    endpoint_->on_closed();
    ctx_->remove_session(key_);
    key_ = 0;
  }

  std::shared_ptr<edge_context> ctx_;
  std::shared_ptr<ws_endpoint> endpoint_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  std::shared_ptr<strand_sink> sink_;
  uint64_t key_ = 0;
  write_queue queue_;
  net::steady_timer stall_timer_;
  bool open_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  websocket::close_reason close_reason_;
  rate_limiter limiter_;
  uint32_t violations_ = 0;
};

void strand_sink::send_text(std::shared_ptr<const std::string> frame) {
  if (auto s = session_.lock()) {
    auto ex = s->get_executor();
    net::post(ex, [s = std::move(s), f = std::move(frame)]() mutable {
      s->enqueue(std::move(f));
    });
  }
}

void strand_sink::close(uint16_t code, std::string reason) {
  if (auto s = session_.lock()) {
    auto ex = s->get_executor();
    net::post(ex, [s = std::move(s), code, r = std::move(reason)]() mutable {
      s->start_close(code, std::move(r));
    });
  }
}

} // namespace

ws_endpoint::~ws_endpoint() = default;

void run_ws_session(std::shared_ptr<edge_context> ctx, beast::tcp_stream stream,
                    http::request<http::string_body> req,
                    std::shared_ptr<ws_endpoint> endpoint) {
  std::make_shared<ws_session>(std::move(ctx), std::move(stream),
                               std::move(endpoint))
    ->run(std::move(req));
}

} // namespace presence::edge
