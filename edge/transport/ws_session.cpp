#include "edge/transport/ws_session.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/core/detail/sha1.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include "core/handoff.hpp"
#include "core/messages.hpp"
#include "edge/common/close_codes.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/common/edge_log.hpp"
#include "edge/transport/rate_limiter.hpp"
#include "edge/transport/send_helper.hpp"
#include "edge/transport/write_queue.hpp"
#include "edge/transport/ws_frame.hpp"

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

namespace presence::edge {

namespace {

/// The session whose endpoint is being called on this thread (what "on its
/// strand" means: a session's strand is implicit, its io_context's one
/// thread; a sink call from there is that session's own reply, queued at
/// once; any other goes through the inbox, as from another thread). Set by
/// `endpoint_call`.
thread_local const void* current_session = nullptr;

/// Marks `s` as the session being served on this thread while it lives.
class endpoint_call {
public:
  explicit endpoint_call(const void* s) : outer_(current_session) {
    current_session = s;
  }
  ~endpoint_call() { current_session = outer_; }
  endpoint_call(const endpoint_call&) = delete;
  endpoint_call& operator=(const endpoint_call&) = delete;

private:
  const void* outer_;
};

/// The small replies a session wrote from inside its endpoint's call while
/// nothing else of it was queued or being written (session_sink::
/// reply_here): framed here, on the thread serving it, and sent when the
/// read that caused them has been handled (one write for all of them),
/// without a shared buffer and a queue entry each. One session's at a
/// time (`owner`, the one being served); sent or dropped before its call
/// returns to the I/O loop (ws_session::write_tiny, finish).
struct tiny_replies {
  const void* owner = nullptr;
  std::size_t len = 0;
  std::array<char, 512> bytes;
};
thread_local tiny_replies tiny;

/// Frames' room an idle session keeps in its inbox's buffers (drain_inbox).
constexpr std::size_t kept_inbox_capacity = 2;

/// A client that keeps flooding is told again on the first and every
/// `rate_limit_notice_every`th dropped message, then cut off once it has
/// sent `rate_burst` messages past the limit in a row.
constexpr uint32_t rate_limit_notice_every = 16;

/// The edge's idle clock ticks every tenth of --ws-idle-timeout (default
/// 5 min): one timer for the whole listener (ws_idle_tick), which ticks
/// every live session (edge_context::tick_sessions). A socket that sent
/// nothing for `idle_ticks_ping` ticks (half the timeout, up to a tick
/// more) gets a ping, which every client library answers; one silent for
/// `idle_ticks_max` ticks (the timeout, up to a tick more) is gone:
/// Beast's suggested server timeouts, which presenced used before it owned
/// the framing. The protocols' own heartbeats (native TTL, Engine.IO's
/// ping timeout) end a silent client far sooner; this catches half-open
/// sockets. A socket keeps no timer of its own for it (an idle socket's
/// pending timer wait was ~0.3 KB) and nothing is re-armed per message.
constexpr uint32_t idle_ticks_per_timeout = 10;
constexpr uint32_t idle_ticks_ping = 6;
constexpr uint32_t idle_ticks_max = 11;

/// How long the server waits for the client's close frame after its own.
constexpr auto close_timeout = std::chrono::seconds(5);

/// Bytes read per call while no frame is in progress: a heartbeat or an
/// event fits, and an idle socket keeps no other read buffer.
constexpr std::size_t small_read = 128;

/// Bytes read per call while a larger frame is in progress.
constexpr std::size_t big_read = 16 * 1024;

/// Frames gathered into one write (one `writev`).
constexpr std::size_t max_batch = 32;

constexpr std::string_view ws_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Sec-WebSocket-Accept for `key` (RFC 6455 section 4.2.2). Beast's SHA-1
/// (what its own websocket::stream uses): OpenSSL 3's SHA1() looks the
/// algorithm up on every call (EVP_MD_fetch, locks and allocations), 1.7%
/// of a node's CPU in a join storm.
std::string accept_key(std::string_view key) {
  beast::detail::sha1_context ctx;
  beast::detail::init(ctx);
  beast::detail::update(ctx, key.data(), key.size());
  beast::detail::update(ctx, ws_guid.data(), ws_guid.size());
  char digest[beast::detail::sha1_context::digest_size];
  beast::detail::finish(ctx, digest);
  char out[beast::detail::base64::encoded_size(sizeof digest)];
  return std::string(out,
                     beast::detail::base64::encode(out, digest, sizeof digest));
}

/// The io_context whose io_home task runs on this thread (null: none).
/// One thread runs an io_context: what runs there is every one of its
/// sessions' own handler, so a frame for any of them is queued at once
/// (ws_session::on_strand).
thread_local const net::io_context* home_delivery = nullptr;

/// True on a send_helper's thread: no io_home task (and so no task's
/// counter_tally) is open there, so each of its blocks opens one.
thread_local bool on_send_helper = false;

/// The fan-out's deliveries to the sessions of an io_context that one
/// thread runs (delivery_home, core/messages.hpp): posted there as tasks
/// that call each listener in turn; a listener's frames are then queued
/// and written on the spot, without the inbox and a drain per socket.
class io_home final : public delivery_home {
public:
  /// `helper_min` > 0: a delivery task of at least that many listeners
  /// is shared with a helper thread (send_helper), counted in `shared`.
  io_home(net::io_context& ioc, std::size_t helper_min,
          prometheus::Counter* shared)
    : ioc_(&ioc), helper_min_(helper_min), shared_(shared) {
    if (helper_min_ > 0)
      helper_ = std::make_unique<send_helper>([c = ioc_] {
        caf::detail::set_thread_name("presenced.send");
        home_delivery = c; // what its blocks run is this home's task
        on_send_helper = true;
      });
  }

  void deliver(std::shared_ptr<const listeners> ls, std::size_t begin,
               std::size_t end, delta_batch batch) override {
    post([this, ls = std::move(ls), begin, end, batch = std::move(batch)] {
      auto block = [&l = *ls, &batch](std::size_t b, std::size_t e) {
        std::optional<counter_tally> frames; // the owner has the task's
        if (on_send_helper)
          frames.emplace();
        deliver_each(
          b, e, [&l](std::size_t i) { return l[i].get(); },
          [&batch](std::size_t) -> const delta_batch& { return batch; });
      };
      if (helper_ != nullptr && end - begin >= helper_min_) {
        // Each listener of the list once: any split keeps each one's
        // batches in order (the next task starts once this one is done).
        helper_->share(begin, end, block);
        if (shared_ != nullptr)
          shared_->Increment();
      } else {
        block(begin, end);
      }
    });
  }

  void deliver(batches each) override {
    post([each = std::move(each)] {
      deliver_each(
        0, each.size(), [&each](std::size_t i) { return each[i].first.get(); },
        [&each](std::size_t i) -> const delta_batch& {
          return each[i].second;
        });
    });
  }

  /// Calls `listener(i)->deliver(batch(i))` for i in [begin, end). Every
  /// listener, its sink and its session are cold (one socket of
  /// thousands): each is fetched a send or two before it is needed, while
  /// the kernel sends to the ones before (direct_listener::warm).
  template <class Listener, class Batch>
  static void deliver_each(std::size_t begin, std::size_t end,
                           Listener listener, Batch batch) {
    for (auto i = begin; i < end; ++i) {
      if (i + 3 < end)
        __builtin_prefetch(listener(i + 3));
      if (i + 2 < end)
        listener(i + 2)->warm(0);
      if (i + 1 < end)
        listener(i + 1)->warm(1);
      listener(i)->deliver(batch(i));
    }
  }

  /// The io_context is going away (io_home_service::shutdown): its thread
  /// has stopped, and so does the helper's.
  void close() {
    std::lock_guard<std::mutex> guard{mu_};
    ioc_ = nullptr;
    helper_.reset();
  }

private:
  template <class F>
  void post(F f) {
    std::lock_guard<std::mutex> guard{mu_};
    if (ioc_ == nullptr)
      return; // and so are its sockets
    net::post(*ioc_, [f = std::move(f), ioc = ioc_] {
      struct mark {
        explicit mark(const net::io_context* c) { home_delivery = c; }
        ~mark() { home_delivery = nullptr; }
      } in_home{ioc};
      counter_tally frames; // the metrics' counts, once per task
      f();
    });
  }

  std::mutex mu_;
  net::io_context* ioc_;
  const std::size_t helper_min_;
  prometheus::Counter* const shared_;
  std::unique_ptr<send_helper> helper_;
};

/// An io_context's io_home, made when a session first asks for it and
/// closed when the io_context is destroyed (an Asio service).
class io_home_service : public net::execution_context::service {
public:
  static net::execution_context::id id;

  /// Without a helper (an io_context that prepare_delivery_home did not
  /// set up).
  explicit io_home_service(net::io_context& ioc)
    : io_home_service(ioc, 0, nullptr) {
    // nop
  }

  /// `ctx` is an io_context (prepare_delivery_home; make_service hands
  /// it on as its base).
  io_home_service(net::execution_context& ctx, std::size_t helper_min,
                  prometheus::Counter* shared)
    : net::execution_context::service(ctx),
      home_(std::make_shared<io_home>(static_cast<net::io_context&>(ctx),
                                      helper_min, shared)) {
    // nop
  }

  std::shared_ptr<io_home> home() const { return home_; }

private:
  void shutdown() override { home_->close(); }

  std::shared_ptr<io_home> home_;
};

net::execution_context::id io_home_service::id;

/// Posts the drains a pass gathered for the io_context `ioc` as one task
/// (handoff_pass::post_fn).
void post_drains(void* ioc,
                 std::vector<std::shared_ptr<handoff_item>> sessions) {
  net::post(*static_cast<net::io_context*>(ioc),
            [sessions = std::move(sessions)] {
              for (auto& s : sessions) {
                auto* item = s.get();
                item->run(std::move(s));
              }
            });
}

/// The sink a session actor writes to. Holds the session (a ws_session
/// over plain TCP or TLS) weakly, so a late delta for a closed socket is
/// dropped.
template <class Session>
class strand_sink : public session_sink {
public:
  strand_sink(std::weak_ptr<Session> s, Session* raw)
    : session_(std::move(s)), raw_(raw) {
    // nop
  }
  void send_text(std::shared_ptr<const std::string> frame) override {
    if (auto s = session_.lock())
      s->post_frame(std::move(frame));
  }
  bool reply_here(std::string_view frame) override {
    // Only inside the session's own endpoint call, where it is alive.
    return current_session == raw_ && raw_->reply_tiny(frame);
  }
  void
  send_texts(std::vector<std::shared_ptr<const std::string>> frames) override {
    if (auto s = session_.lock())
      s->post_frames(std::move(frames));
  }
  void send_urgent(std::shared_ptr<const std::string> frame) override {
    if (auto s = session_.lock())
      s->post_urgent(std::move(frame));
  }
  void close(uint16_t code, std::string reason) override {
    if (auto s = session_.lock())
      s->post_close(code, std::move(reason));
  }
  void tick() override {
    if (auto s = session_.lock())
      s->tick();
  }
  std::shared_ptr<delivery_home> home() const override {
    auto s = session_.lock();
    return s ? s->home() : nullptr;
  }
  void warm() const override {
    // The session may be gone: its lines are only prefetched.
    Session::warm(raw_);
  }

private:
  std::weak_ptr<Session> session_;
  /// The session, for reply_here (compared, dereferenced only while its
  /// endpoint is being called).
  Session* raw_;
};

/// What only a TLS session holds: the bytes of the write in flight, in one
/// piece (empty for plain TCP: no bytes in the session).
template <bool Plain>
struct tls_part {
  std::string tls_out_;
};
template <>
struct tls_part<true> {};

/// The TCP socket under a stream.
tcp::socket& tcp_of(tcp::socket& s) {
  return s;
}
tcp::socket& tcp_of(tls_stream& s) {
  return beast::get_lowest_layer(s).socket();
}

/// One WebSocket connection after the handshake, over a `Stream`: a
/// tcp::socket, or a TLS stream (HTTPS listener). Owns itself
/// (shared_from_this) and runs on the socket's io_context, which one
/// thread runs (an implicit strand): every member below except the inbox
/// is touched only from there.
template <class Stream>
class ws_session : public std::enable_shared_from_this<ws_session<Stream>>,
                   public handoff_item,
                   private tls_part<std::is_same_v<Stream, tcp::socket>> {
  using std::enable_shared_from_this<ws_session<Stream>>::shared_from_this;
  using std::enable_shared_from_this<ws_session<Stream>>::weak_from_this;
  /// Plain TCP: a write is tried at once on the non-blocking socket. TLS:
  /// every write goes through the stream asynchronously (its records).
  static constexpr bool plain = std::is_same_v<Stream, tcp::socket>;
  /// Its sink writes the endpoint's replies in place (reply_tiny).
  friend class strand_sink<ws_session>;

public:
  ws_session(std::shared_ptr<edge_context> ctx, Stream&& socket,
             connection_slot slot, std::string leftover,
             std::shared_ptr<ws_endpoint> endpoint, net::any_io_executor exec)
    : slot_(std::move(slot)), ctx_(std::move(ctx)),
      endpoint_(std::move(endpoint)), socket_(std::move(socket)),
      exec_(std::move(exec)), parser_(ctx_->cfg.edge.max_frame_bytes),
      queue_(ctx_->cfg.edge.write_queue_bytes,
             ctx_->cfg.edge.write_queue_max_bytes),
      limiter_(ctx_->cfg.edge.rate_limit, ctx_->cfg.edge.rate_burst),
      inbuf_(std::move(leftover)), inbuf_len_(inbuf_.size()),
      ioc_(&static_cast<net::io_context&>(
        net::query(exec_, net::execution::context))) {
    hot_offsets(this); // known before any sink can warm a session
  }

  ~ws_session() {
    if (tiny.owner == this) {
      tiny.owner = nullptr;
      tiny.len = 0;
    }
    // Destroyed without a read failure (the I/O threads stopped first): the
    // endpoint must still hear that the socket is gone.
    if (open_) {
      endpoint_call call{this};
      endpoint_->on_closed();
    }
    if (key_ != 0)
      ctx_->remove_session(key_);
    // The connection's count (taken when it was accepted) goes with slot_.
  }

  /// Answers the handshake and opens the session at once: the 101 waits
  /// in handshake_ and leaves with the first write, in front of what the
  /// endpoint writes on opening (a welcome, Engine.IO's open packet) and
  /// the replies to frames the client sent behind its request: one send
  /// for all of them, not one for the 101 and one more for the rest.
  void run(std::string_view key) {
    if constexpr (plain) {
      // Writes are tried at once (send()): they must not block the thread.
      // The listener made the socket non-blocking when it accepted it (and
      // TCP_NODELAY came from the listening socket). Without a non-blocking
      // socket every write goes asynchronously.
      error_code nb;
      if (!socket_.non_blocking())
        socket_.non_blocking(true, nb);
      write_at_once_ = !nb;
    } else {
      // The HTTP session's time limit is over: the idle timer rules now.
      beast::get_lowest_layer(socket_).expires_never();
    }
    handshake_ = "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: "
                 + accept_key(key)
                 + "\r\n"
                   "Server: presenced\r\n\r\n";
    open();
  }

  /// True in this session's own handlers: while its endpoint is being
  /// called (endpoint_call), or in a task of its io_home (the fan-out's
  /// delivery, which runs between handlers). A sink call from anywhere
  /// else (another session's handler included) goes through the inbox,
  /// behind what waits there and in the session's queue of handlers.
  bool on_strand() const {
    return current_session == this
           || (home_delivery != nullptr && current_session == nullptr
               && home_delivery == ioc_);
  }

  /// Prefetches the lines of the session at `s` that a frame queued and
  /// written touches (and the reference counts in front of it, where
  /// make_shared put them). Nothing is read, and no member is called: `s`
  /// may be gone (strand_sink::warm).
  static void warm(const void* s) {
    auto* base = static_cast<const char*>(s);
    __builtin_prefetch(base - 16);
    for (auto off : hot_offsets())
      __builtin_prefetch(base + off);
  }

  /// Where those lines are from the session's address (the same for every
  /// session; taken from the first one made, `first`).
  static const std::array<std::ptrdiff_t, 6>&
  hot_offsets(const ws_session* first = nullptr) {
    static const std::array<std::ptrdiff_t, 6> offsets = [first] {
      BOOST_ASSERT(first != nullptr);
      auto* base = reinterpret_cast<const char*>(first);
      auto at = [base](const void* p) {
        return static_cast<const char*>(p) - base;
      };
      return std::array<std::ptrdiff_t, 6>{0,
                                           at(&first->socket_),
                                           at(&first->queue_),
                                           at(&first->header_),
                                           at(&first->inbox_pending_),
                                           at(&first->finished_)};
    }();
    return offsets;
  }

  /// Where the fan-out best calls this session's sink: its I/O thread
  /// (io_home).
  std::shared_ptr<delivery_home> home() const {
    return net::use_service<io_home_service>(*ioc_).home();
  }

  // -- called by strand_sink (any thread) ------------------------------------

  /// One tick of the idle clock: the strand hears of it only at a mark.
  void tick() {
    if (held_.load(std::memory_order_relaxed)) {
      // Still waiting for what open() expected: the 101 goes now.
      net::post(exec_, [self = shared_from_this()] { self->maybe_write(); });
      return;
    }
    auto n = idle_ticks_.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == idle_ticks_ping || n == idle_ticks_max)
      net::post(exec_, [self = shared_from_this(), n] { self->on_idle(n); });
  }

  void post_frames(std::vector<std::shared_ptr<const std::string>> frames) {
    post_frames(frames.data(), frames.size());
  }

  void post_frame(std::shared_ptr<const std::string> frame) {
    post_frames(&frame, 1);
  }

  /// Takes the `n` frames at `fs` (moved from).
  void post_frames(std::shared_ptr<const std::string>* fs, std::size_t n) {
    if (n == 0)
      return;
    if (on_strand()) {
      // What session actors queued before goes first.
      if (inbox_pending_.load(std::memory_order_acquire))
        drain_inbox();
      for (std::size_t i = 0; i < n; ++i)
        enqueue(std::move(fs[i]));
      maybe_write();
      return;
    }
    // Frames from other threads (session actors, the fan-out) wait in the
    // inbox; one post carries however many arrive before the strand runs
    // it. The inbox keeps its capacity between drains (drain_inbox):
    // no allocation per delivery.
    bool schedule;
    {
      std::lock_guard<std::mutex> guard{inbox_mu_};
      schedule = inbox_.empty();
      inbox_.insert(inbox_.end(), std::make_move_iterator(fs),
                    std::make_move_iterator(fs + n));
      inbox_pending_.store(true, std::memory_order_release);
    }
    if (!schedule)
      return;
    // In a pass of the fan-out, one post carries the drains of many
    // sessions (handoff_pass); else this one goes alone.
    if (auto* pass = handoff_pass::current())
      pass->add(ioc_, &post_drains, shared_from_this());
    else
      net::post(exec_, [self = shared_from_this()] { self->drain_inbox(); });
  }

  /// On the session's I/O thread, from a pass's post: drains the inbox.
  void run(std::shared_ptr<handoff_item>) override {
    // The io_context's one thread, and this is it: nothing of this
    // session runs meanwhile.
    drain_inbox();
  }

  /// Queues `frame` ahead of what waits (not of a write under way).
  void post_urgent(std::shared_ptr<const std::string> frame) {
    net::dispatch(exec_,
                  [self = shared_from_this(), f = std::move(frame)]() mutable {
                    if (self->closing_ || !self->open_)
                      return;
                    self->queue_.push_urgent(std::move(f), self->in_flight_);
                    self->maybe_write();
                  });
  }

  void post_close(uint16_t code, std::string reason) {
    net::dispatch(exec_, [self = shared_from_this(), code,
                          r = std::move(reason)]() mutable {
      self->drain_inbox();
      self->start_close(code, std::move(r));
    });
  }

private:
  // -- writing ---------------------------------------------------------------

  void drain_inbox() {
    // drained_ and the inbox trade buffers: both keep their capacity, so
    // a delivery allocates nothing (a burst's large buffer is let go).
    // (A local vector: a drain that ran again meanwhile would find
    // drained_ empty, not the one being read.)
    std::vector<std::shared_ptr<const std::string>> frames;
    frames.swap(drained_);
    {
      std::lock_guard<std::mutex> guard{inbox_mu_};
      frames.swap(inbox_);
      inbox_pending_.store(false, std::memory_order_release);
    }
    for (auto& f : frames)
      enqueue(std::move(f));
    frames.clear();
    if (frames.capacity() > kept_inbox_capacity)
      frames.shrink_to_fit();
    drained_.swap(frames);
    maybe_write();
  }

  /// The endpoint's own small reply (strand_sink::reply_here): framed into
  /// this thread's tiny buffer when nothing of this session is queued or
  /// being written and it fits; false if not taken.
  bool reply_tiny(std::string_view payload) {
    if (closing_ || !open_)
      return true; // dropped, as enqueue would
    // What session actors queued before goes first.
    if (inbox_pending_.load(std::memory_order_acquire))
      drain_inbox();
    if (writing_ || finished_ || !queue_.empty() || !handshake_.empty()
        || (tiny.owner != nullptr && tiny.owner != this)
        || tiny.len + ws::max_header_bytes + payload.size() > tiny.bytes.size())
      return false;
    char* out = tiny.bytes.data() + tiny.len;
    auto n = ws::write_header(out, ws::opcode::text, payload.size());
    std::memcpy(out + n, payload.data(), payload.size());
    tiny.len += n + payload.size();
    tiny.owner = this;
    maybe_write();
    return true;
  }

  /// Writes this session's tiny replies (reply_tiny). What the socket does
  /// not take at once is copied into control_ and written from there: the
  /// tiny buffer is this thread's, free again when this returns.
  void write_tiny() {
    std::string_view bytes{tiny.bytes.data(), tiny.len};
    tiny.owner = nullptr;
    tiny.len = 0;
    in_flight_ = 0;
    if constexpr (plain) {
      if (write_at_once_) {
        error_code ec;
        auto n = socket_.write_some(net::buffer(bytes.data(), bytes.size()),
                                    ec);
        if (ec == net::error::would_block || ec == net::error::try_again
            || ec == net::error::interrupted) {
          ec = {};
          n = 0;
        }
        if (ec) {
          // Ends through the strand, as a failed write does (send()).
          writing_ = true;
          net::post(exec_, [self = shared_from_this(), ec] {
            self->on_write(ec, false);
          });
          return;
        }
        if (n == bytes.size()) {
          after_write(ec, false);
          return;
        }
        bytes.remove_prefix(n);
      }
    }
    control_.assign(bytes.data(), bytes.size());
    send_now(std::array<net::const_buffer, 1>{net::buffer(control_)}, false);
  }

  void enqueue(std::shared_ptr<const std::string> frame) {
    if (closing_ || !open_)
      return;
    switch (queue_.push(std::move(frame))) {
      case write_queue::verdict::ok:
        break;
      case write_queue::verdict::arm_stall:
        // A burst is fine if the client drains it; one that stays above
        // the mark for slow_consumer_ms is not reading.
        // (The timer is the close's later: a closing session queues
        // nothing, so the two never wait at once.)
        timer().expires_after(ctx_->cfg.edge.slow_consumer_ms);
        timer().async_wait([self = shared_from_this()](error_code ec) {
          if (!ec && !self->closing_ && self->queue_.stall_expired())
            self->drop_slow_consumer();
        });
        break;
      case write_queue::verdict::drop:
        drop_slow_consumer();
        break;
    }
  }

  /// The queued frames that a drop keeps: those being written, and until
  /// the 101 is out, what the endpoint wrote on opening (the welcome is
  /// the first frame, also in front of a close).
  std::size_t kept() const {
    return handshake_.empty() ? in_flight_
                              : std::max(in_flight_, opening_frames_);
  }

  /// Slow-consumer policy (docs/protocol.md): drop what is queued and close
  /// with 4001; on reconnect the client lists the current state again.
  void drop_slow_consumer() {
    ctx_->probe.slow_consumers->Increment();
    log_edge().info("ws: closing slow consumer ({} bytes queued)",
                    queue_.bytes());
    queue_.drop_pending(kept());
    start_close(close_code::slow_consumer, "slow consumer");
    maybe_write();
  }

  void start_close(uint16_t code, std::string reason) {
    if (closing_ || !open_)
      return;
    closing_ = true;
    close_code_ = code;
    close_reason_ = std::move(reason);
    // The close must end even if the close frame cannot be written (a
    // client that does not read).
    arm_close_timer();
    maybe_write();
  }

  void maybe_write() {
    // Whatever wants to write ends the wait of open()'s first frames.
    if (held_.load(std::memory_order_relaxed))
      held_.store(false, std::memory_order_relaxed);
    // A write the socket took at once is done when start_write returns:
    // go on with what is next.
    while (!writing_ && !finished_ && !corked_)
      if (!start_write())
        return;
  }

  /// Starts the next write, if any; returns false if there was none.
  bool start_write() {
    if (!handshake_.empty() && !queue_.empty()) {
      // The first write: the 101 and the frames of opening (the welcome
      // first) go before a pong or a ping.
      write_frames();
      return true;
    }
    if (tiny.owner == this) {
      // Before what was queued after them, and first of all (the 101 goes
      // before any of them: reply_tiny): the buffer is this thread's, so
      // they never wait for another write.
      write_tiny();
      return true;
    }
    if (ping_due_) {
      ping_due_ = false;
      write_control(ws::opcode::ping, {});
      return true;
    }
    if (!pong_.empty()) {
      std::string payload;
      payload.swap(pong_);
      write_control(ws::opcode::pong, payload);
      return true;
    }
    if (!queue_.empty()) {
      write_frames();
      return true;
    }
    if (closing_ && !close_sent_) {
      close_sent_ = true;
      write_control(ws::opcode::close,
                    ws::close_payload(close_code_, close_reason_));
      return true;
    }
    if (!handshake_.empty()) {
      // The endpoint wrote nothing on opening: the 101 alone.
      in_flight_ = 0;
      send(std::array<net::const_buffer, 0>{}, false);
      return true;
    }
    return false;
  }

  /// Writes up to max_batch queued text frames in one call (a writev).
  void write_frames() {
    auto n = std::min(queue_.size(), max_batch);
    in_flight_ = n;
    if (n == 1) {
      auto& f = *queue_.at(0);
      auto len = ws::write_header(header_.data(), ws::opcode::text, f.size());
      std::array<net::const_buffer, 2> bufs{net::buffer(header_.data(), len),
                                            net::buffer(f)};
      send(bufs, false);
      return;
    }
    headers_.resize(n * ws::max_header_bytes);
    std::vector<net::const_buffer> bufs;
    bufs.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
      auto& f = *queue_.at(i);
      char* h = headers_.data() + i * ws::max_header_bytes;
      auto len = ws::write_header(h, ws::opcode::text, f.size());
      bufs.emplace_back(h, len);
      bufs.emplace_back(f.data(), f.size());
    }
    send(bufs, false);
  }

  /// Writes one control frame (ping, pong, close) with `payload`.
  void write_control(ws::opcode op, std::string_view payload) {
    control_.resize(ws::max_header_bytes);
    control_.resize(ws::write_header(control_.data(), op, payload.size()));
    control_ += payload;
    in_flight_ = 0;
    send(std::array<net::const_buffer, 1>{net::buffer(control_)},
         op == ws::opcode::close);
  }

  /// Writes `bufs` (whose bytes live in members and the queue until the
  /// write is done). Tried at once on the non-blocking socket: an idle
  /// socket's buffer takes a reply whole, and the write is over without a
  /// completion through the scheduler (which costs an extra epoll_wait and
  /// a handler per reply). What the socket does not take goes
  /// asynchronously.
  ///
  /// Nothing that ends the session happens inside send(): a failed write
  /// and a close frame finish through the strand, as asynchronous writes
  /// do, since finishing calls the endpoint back (on_closed), and send()
  /// runs within whatever is writing (an endpoint's on_open, a sink call
  /// made under the endpoint's lock).
  template <class Buffers>
  void send(const Buffers& bufs, bool is_close) {
    if (!handshake_.empty()) {
      // The session's first write: the 101 goes in front (after_write
      // drops it).
      std::vector<net::const_buffer> all;
      all.reserve(1
                  + std::distance(net::buffer_sequence_begin(bufs),
                                  net::buffer_sequence_end(bufs)));
      all.emplace_back(net::buffer(handshake_));
      all.insert(all.end(), net::buffer_sequence_begin(bufs),
                 net::buffer_sequence_end(bufs));
      send_now(all, is_close);
      return;
    }
    send_now(bufs, is_close);
  }

  template <class Buffers>
  void send_now(const Buffers& bufs, bool is_close) {
    writing_ = true;
    // Made only for a write that waits (a write the socket takes at once,
    // most of them, needs no reference to the session).
    auto done = [this, is_close] {
      return [self = shared_from_this(), is_close](error_code e, std::size_t) {
        self->on_write(e, is_close);
      };
    };
    if constexpr (!plain) {
      // One contiguous buffer per write (TLS copies into records anyway).
      // Handed a header and a payload of more than 16 KiB, the TLS stream
      // wrote the header and then never the payload (Beast's flat_stream
      // writes such a sequence piecewise; tests/e2e/tls.test.mjs).
      auto& out = this->tls_out_;
      out.resize(net::buffer_size(bufs));
      net::buffer_copy(net::buffer(out), bufs);
      net::async_write(socket_, net::buffer(out), done());
    } else if (!write_at_once_ || is_close) {
      net::async_write(socket_, bufs, done());
    } else {
      try_send(bufs, done, is_close);
    }
  }

  /// `done()` makes the handler of a write that has to wait.
  template <class Buffers, class Done>
  void try_send(const Buffers& bufs, const Done& done, bool is_close) {
    error_code ec;
    std::size_t total = net::buffer_size(bufs);
    std::size_t n = socket_.write_some(bufs, ec);
    if (ec == net::error::would_block || ec == net::error::try_again
        || ec == net::error::interrupted) {
      ec = {};
      n = 0;
    }
    if (ec) {
      net::post(exec_, [d = done(), ec]() mutable { d(ec, 0); });
      return;
    }
    if (n == total) {
      writing_ = false;
      after_write(ec, is_close);
      return;
    }
    // The rest, from the first byte the socket did not take (async_write
    // keeps its own copy of this list; the bytes stay where they are).
    std::vector<net::const_buffer> rest;
    for (auto i = net::buffer_sequence_begin(bufs);
         i != net::buffer_sequence_end(bufs); ++i) {
      net::const_buffer b = *i;
      if (n >= b.size()) {
        n -= b.size();
        continue;
      }
      rest.push_back(b + n);
      n = 0;
    }
    net::async_write(socket_, rest, done());
  }

  void on_write(error_code ec, bool was_close) {
    writing_ = false;
    after_write(ec, was_close);
    maybe_write();
  }

  /// A write is over (at once or asynchronously): what it carried leaves
  /// the queue; a close written may end the connection.
  void after_write(error_code ec, bool was_close) {
    // The first write carried the 101 (or failed and ends the session).
    if (!handshake_.empty())
      std::string().swap(handshake_);
    if (finished_) {
      // The socket was closed meanwhile: nothing more to write.
      in_flight_ = 0;
      queue_.clear();
      return;
    }
    if (ec) {
      // The read side sees the same failure and cleans up.
      queue_.clear();
      in_flight_ = 0;
      finish();
      return;
    }
    queue_.pop_front(in_flight_);
    in_flight_ = 0;
    // A storm's batch buffers go once the socket is idle again.
    if (queue_.empty() && headers_.capacity() > 0)
      std::string().swap(headers_);
    if (!control_.empty())
      std::string().swap(control_);
    if constexpr (!plain)
      if (queue_.empty() && !this->tls_out_.empty())
        std::string().swap(this->tls_out_);
    if (was_close) {
      if (peer_closed_ || failed_) {
        // Both sides said close (or the client broke the protocol): the
        // server ends the TCP connection first (RFC 6455 section 7.1.1).
        finish();
        return;
      }
      // Wait for the client's close frame, not forever.
      arm_close_timer();
    }
  }

  // -- reading ---------------------------------------------------------------

  void open() {
    open_ = true;
    ctx_->probe.ws_accepted->Increment();
    ctx_->probe.ws_sessions->Increment();
    sink_ = std::make_shared<strand_sink<ws_session>>(weak_from_this(), this);
    key_ = ctx_->add_session(sink_);
    // What the endpoint writes on opening waits to leave with the 101.
    corked_ = true;
    {
      endpoint_call call{this};
      endpoint_->on_open(sink_);
    }
    corked_ = false;
    opening_frames_ = queue_.size();
    if (finished_)
      return;
    if (ctx_->draining)
      start_close(close_code::going_away, "server shutting down");
    if (inbuf_len_ > 0) {
      // The client sent frames right behind its request (their replies
      // leave with the 101 too).
      consume_inbuf();
      if (finished_)
        return;
    } else if (!closing_ && endpoint_->answer_follows()) {
      // A native join's answer comes in a moment: the 101 and the
      // welcome wait for it (the next maybe_write sends them all).
      held_.store(true, std::memory_order_relaxed);
    } else {
      maybe_write();
    }
    do_read();
  }

  void do_read() {
    if (inbuf_len_ == 0) {
      socket_.async_read_some(net::buffer(small_),
                              [self = shared_from_this()](error_code ec,
                                                          std::size_t n) {
                                self->on_read_small(ec, n);
                              });
      return;
    }
    // A frame is in progress: read straight behind it.
    if (inbuf_.size() < inbuf_len_ + big_read)
      inbuf_.resize(inbuf_len_ + big_read);
    socket_.async_read_some(net::buffer(inbuf_.data() + inbuf_len_,
                                        inbuf_.size() - inbuf_len_),
                            [self = shared_from_this()](error_code ec,
                                                        std::size_t n) {
                              self->on_read_big(ec, n);
                            });
  }

  void on_read_small(error_code ec, std::size_t n) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    idle_ticks_.store(0, std::memory_order_relaxed);
    auto used = consume(small_.data(), n);
    if (finished_)
      return;
    if (used < n) {
      inbuf_.assign(small_.data() + used, n - used);
      inbuf_len_ = n - used;
    }
    do_read();
  }

  void on_read_big(error_code ec, std::size_t n) {
    if (ec) {
      on_read_error(ec);
      return;
    }
    idle_ticks_.store(0, std::memory_order_relaxed);
    inbuf_len_ += n;
    consume_inbuf();
    if (finished_)
      return;
    do_read();
  }

  void consume_inbuf() {
    auto used = consume(inbuf_.data(), inbuf_len_);
    if (used == inbuf_len_) {
      // Nothing in progress: an idle socket keeps no read buffer.
      std::string().swap(inbuf_);
      inbuf_len_ = 0;
    } else if (used > 0) {
      std::memmove(inbuf_.data(), inbuf_.data() + used, inbuf_len_ - used);
      inbuf_len_ -= used;
    }
  }

  /// Handles the complete frames at `data`; returns the bytes used. The
  /// replies to everything in one read leave together: a heartbeat round
  /// of two events and three answers is one `writev`, not two.
  std::size_t consume(char* data, std::size_t size) {
    corked_ = true;
    auto used = consume_frames(data, size);
    corked_ = false;
    maybe_write();
    return used;
  }

  std::size_t consume_frames(char* data, std::size_t size) {
    // After a protocol error or once the client said close, what else it
    // sends is dropped while the close handshake ends.
    if (failed_ || peer_closed_)
      return size;
    std::size_t used = 0;
    while (used < size && !finished_) {
      auto ev = parser_.next(data + used, size - used);
      switch (ev.kind) {
        case ws::event::need_more:
          return used;
        case ws::event::error:
          protocol_error(ev.code, ev.reason);
          return size;
        case ws::event::partial:
        case ws::event::pong:
          break;
        case ws::event::ping:
          if (!close_sent_) {
            pong_.assign(ev.payload);
            maybe_write();
          }
          break;
        case ws::event::close:
          on_peer_close(ev.code);
          return size;
        case ws::event::text:
        case ws::event::binary:
          if (!closing_)
            on_message(ev.kind == ws::event::text, ev.payload);
          break;
      }
      used += ev.consumed;
    }
    return used;
  }

  void on_message(bool text, std::string_view payload) {
    endpoint_call call{this};
    // Every message counts against the rate limit, binary ones included.
    if (!limiter_.try_take()) {
      ctx_->probe.rate_limited->Increment();
      // A client that keeps flooding after being told is cut off.
      if (++violations_ > ctx_->cfg.edge.rate_burst) {
        log_edge().warn("ws: closing flooding client");
        start_close(close_code::policy_violation, "rate limit exceeded");
      } else if (violations_ == 1
                 || violations_ % rate_limit_notice_every == 0) {
        endpoint_->on_rate_limited();
      }
      return;
    }
    violations_ = 0;
    if (!text) {
      endpoint_->on_binary();
      return;
    }
    endpoint_->on_text(payload);
  }

  /// The client broke the protocol: tell it why (1002, 1007, 1009), drop
  /// what is queued, and end the connection once the close frame is out.
  void protocol_error(uint16_t code, const char* reason) {
    if (code == ws::close_status::too_big)
      log_edge().warn("ws: closed oversized message");
    else
      log_edge().debug("ws: protocol error: {}", reason);
    failed_ = true;
    // Nothing queued goes out after this, not even what the endpoint sends
    // while it hears the socket is gone.
    queue_.drop_pending(kept());
    if (!closing_) {
      closing_ = true;
      close_code_ = code;
      close_reason_ = reason;
      arm_close_timer();
    }
    gone();
    if (close_sent_ && !writing_) {
      finish();
      return;
    }
    maybe_write();
  }

  /// The client's close frame: answer with the same code (unless ours went
  /// already), then end the connection.
  void on_peer_close(uint16_t code) {
    peer_closed_ = true;
    if (close_sent_) {
      gone();
      if (!writing_)
        finish();
      return;
    }
    queue_.drop_pending(kept());
    if (!closing_)
      arm_close_timer();
    closing_ = true;
    close_code_ = code;
    close_reason_.clear();
    gone();
    maybe_write();
  }

  void on_read_error(error_code ec) {
    if (ec != net::error::operation_aborted && ec != net::error::eof
        && ec != net::error::connection_reset)
      log_edge().debug("ws: read failed: {}", ec.message());
    finish();
  }

  // -- ending ----------------------------------------------------------------

  /// The session's one timer, made when first needed: the slow-consumer
  /// stall, then the wait for the client's close frame.
  net::steady_timer& timer() {
    if (!timer_)
      timer_ = std::make_unique<net::steady_timer>(exec_);
    return *timer_;
  }

  /// The close must end even if the close frame cannot be written or the
  /// client never answers it.
  void arm_close_timer() {
    timer().expires_after(close_timeout);
    timer().async_wait([self = shared_from_this()](error_code ec) {
      if (ec || self->finished_)
        return;
      self->finish();
    });
  }

  /// On the strand, after a tick reached a mark: the client is still
  /// silent (a read resets the count) -> ping it, or end it.
  void on_idle(uint32_t ticks) {
    if (finished_ || closing_)
      return;
    if (idle_ticks_.load(std::memory_order_relaxed) < ticks)
      return; // it spoke since
    if (ticks >= idle_ticks_max) {
      log_edge().debug("ws: idle timeout");
      ctx_->probe.ws_idle_timeouts->Increment();
      finish();
      return;
    }
    ping_due_ = true;
    maybe_write();
  }

  /// The endpoint hears once that the socket is gone.
  void gone() {
    if (!open_)
      return;
    open_ = false;
    ctx_->probe.ws_sessions->Decrement();
    {
      endpoint_call call{this};
      endpoint_->on_closed();
    }
    ctx_->remove_session(key_);
    key_ = 0;
  }

  /// Closes the socket; pending operations end with operation_aborted and
  /// the session is freed when the last one has run.
  void finish() {
    if (finished_)
      return;
    finished_ = true;
    if (tiny.owner == this) {
      tiny.owner = nullptr;
      tiny.len = 0;
    }
    gone();
    if (timer_)
      timer_->cancel();
    error_code ec;
    tcp_of(socket_).shutdown(tcp::socket::shutdown_both, ec);
    tcp_of(socket_).close(ec);
    // A write in flight still owns its frames until its handler runs
    // (another I/O thread may be inside writev until the close above).
    queue_.drop_pending(in_flight_);
  }

  /// This connection's count (the node's, its source address's).
  connection_slot slot_;
  std::shared_ptr<edge_context> ctx_;
  std::shared_ptr<ws_endpoint> endpoint_;
  Stream socket_;
  /// The socket's executor: its io_context's, which one I/O thread runs
  /// (listener.cpp): every handler of the session runs there in turn, so
  /// it needs no strand (a strand would add a queue, a lock and reference
  /// counts to each of them for no safety).
  net::any_io_executor exec_;
  /// Made when first needed (timer()).
  std::unique_ptr<net::steady_timer> timer_;
  ws::frame_parser parser_;
  write_queue queue_;
  rate_limiter limiter_;
  std::shared_ptr<strand_sink<ws_session>> sink_;
  uint64_t key_ = 0;
  /// Bytes of a frame in progress (empty while the socket is idle).
  std::string inbuf_;
  std::size_t inbuf_len_ = 0;
  std::array<char, small_read> small_;
  /// Headers of the frames being written (one, or a batch).
  std::array<char, ws::max_header_bytes> header_;
  std::string headers_;
  /// The 101 response until the first write carries it (run()).
  std::string handshake_;
  /// A control frame being written (pong, close).
  std::string control_;
  std::string pong_;
  std::size_t in_flight_ = 0;
  /// Frames the endpoint queued in on_open (kept()).
  std::size_t opening_frames_ = 0;
  /// Writes are tried at once (the socket is non-blocking).
  bool write_at_once_ = false;
  std::mutex inbox_mu_;
  std::vector<std::shared_ptr<const std::string>> inbox_;
  /// The inbox's other buffer (drain_inbox; the strand's).
  std::vector<std::shared_ptr<const std::string>> drained_;
  /// The inbox holds frames (read without the lock on the strand).
  std::atomic<bool> inbox_pending_{false};
  std::string close_reason_;
  uint16_t close_code_ = ws::close_status::normal;
  /// Ticks of the idle clock since the client last sent anything: counted
  /// up by the sweep's thread, reset by reads on the strand.
  std::atomic<uint32_t> idle_ticks_{0};
  uint32_t violations_ = 0;
  bool ping_due_ = false;
  /// Replies wait while one read's frames are handled (consume()).
  bool corked_ = false;
  /// The 101 and the first frames wait for the answer the endpoint said
  /// follows (open()); set and cleared on the strand, read by tick().
  std::atomic<bool> held_{false};
  bool open_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool peer_closed_ = false;
  bool failed_ = false;
  bool finished_ = false;
  /// The io_context of exec_ (on_strand: a query of exec_ per delivery
  /// was a cache miss of its own).
  net::io_context* ioc_;
};

/// True if `key` is base64 for 16 bytes: 22 characters and "==".
bool valid_ws_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==")
    return false;
  for (std::size_t i = 0; i < 22; ++i) {
    char c = key[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
              || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!ok)
      return false;
  }
  return true;
}

} // namespace

ws_endpoint::~ws_endpoint() = default;

std::chrono::steady_clock::duration
ws_idle_tick(std::chrono::milliseconds idle_timeout) {
  return idle_timeout / idle_ticks_per_timeout;
}

std::string ws_handshake_error(std::string_view key, std::string_view version,
                               bool& version_mismatch) {
  version_mismatch = false;
  if (version != "13") {
    version_mismatch = true;
    return "Sec-WebSocket-Version must be 13";
  }
  if (!valid_ws_key(key))
    return "missing or malformed Sec-WebSocket-Key";
  return {};
}

namespace {

template <class Stream>
void start_session(std::shared_ptr<edge_context> ctx, Stream socket,
                   connection_slot slot, std::string_view key,
                   std::string leftover,
                   std::shared_ptr<ws_endpoint> endpoint) {
  // The listener accepts every socket on one of its io_contexts, each run
  // by one thread.
  auto exec = tcp_of(socket).get_executor();
  std::make_shared<ws_session<Stream>>(std::move(ctx), std::move(socket),
                                       std::move(slot), std::move(leftover),
                                       std::move(endpoint), std::move(exec))
    ->run(key);
}

} // namespace

void prepare_delivery_home(net::io_context& ioc, std::size_t helper_min,
                           prometheus::Counter* shared) {
  net::make_service<io_home_service>(static_cast<net::execution_context&>(ioc),
                                     helper_min, shared);
}

void run_ws_session(std::shared_ptr<edge_context> ctx, tcp::socket socket,
                    connection_slot slot, std::string_view key,
                    std::string leftover,
                    std::shared_ptr<ws_endpoint> endpoint) {
  start_session(std::move(ctx), std::move(socket), std::move(slot), key,
                std::move(leftover), std::move(endpoint));
}

void run_ws_session(std::shared_ptr<edge_context> ctx, tls_stream stream,
                    connection_slot slot, std::string_view key,
                    std::string leftover,
                    std::shared_ptr<ws_endpoint> endpoint) {
  start_session(std::move(ctx), std::move(stream), std::move(slot), key,
                std::move(leftover), std::move(endpoint));
}

} // namespace presence::edge
