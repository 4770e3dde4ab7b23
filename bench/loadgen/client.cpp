// One WebSocket client of the load generator: the native protocol or
// Socket.IO v4 (Engine.IO 4 over a WebSocket only) in the seed-000 or
// seed-004 dialect.
//
// The WebSocket is its own (RFC 6455, client side): the upgrade request,
// masked frames out, the server's unmasked frames read in place from one
// buffer per connection. Beast's websocket::stream took about 2.5 µs of
// the load generator's CPU per frame read (its read operation, UTF-8
// check, executor copies) on the 2 cores it shares with the server: in a
// fan-out to 10,000 sockets the client, not the server, then set the pace
// (docs/benchmarks.md, "twenty-eighth session").
//
// Frames are classified without a JSON parser: the server's native frames
// are compact JSON whose top-level "type" is the first "type" key (nested
// objects have none), and Socket.IO packets are <eio type><sio type>
// [/nsp,][ack id][json]; event names are the first string of the array.
// User ids of the load generator never need JSON escapes.

#include <cstdio>
#include <cstring>
#include <deque>
#include <random>
#include <vector>

#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <netinet/in.h>

#include "loadgen.hpp"
#include "ws_head.hpp"

namespace lg {

namespace {

using error_code = boost::system::error_code;

/// How long the TCP connect and the upgrade may take.
constexpr auto handshake_timeout = std::chrono::seconds(30);

/// The largest message read (a seed-000 online_users_list can be large).
constexpr std::size_t max_message = 64u << 20;

/// Read buffer per connection to begin with (grows for larger frames).
constexpr std::size_t initial_read = 2048;

enum ws_opcode : uint8_t {
  op_continuation = 0,
  op_text = 1,
  op_close = 8,
  op_ping = 9,
  op_pong = 10,
};

/// The string value after `key` (which ends with the opening quote).
std::string_view str_after(std::string_view m, std::string_view key) {
  auto i = m.find(key);
  if (i == std::string_view::npos)
    return {};
  i += key.size();
  auto j = m.find('"', i);
  if (j == std::string_view::npos)
    return {};
  return m.substr(i, j - i);
}

enum class state {
  idle,
  connecting,    // TCP connect, then the WebSocket handshake
  opening,       // Socket.IO: waiting for the Engine.IO open packet
  ns_connecting, // Socket.IO: waiting for the namespace CONNECT reply
  joining,       // waiting for joined / the join ack / subscribed
  ready,
  closing,
  closed,
  failed,
};

constexpr std::string_view messages_nsp = "/ws/messages";

class ws_client final : public client,
                        public std::enable_shared_from_this<ws_client> {
public:
  ws_client(hub& h, client_spec s)
    : h_(h), s_(std::move(s)),
      proto_(s_.r == role::observer ? h.opt.observer_proto() : h.opt.proto),
      sock_(h.ioc), timer_(h.ioc) {
    // nop
  }

  void start() override {
    t_start_ = now_us();
    st_ = state::connecting;
    auto& sock = sock_;
    error_code ec;
    sock.open(tcp::v4(), ec);
    if (ec)
      return fail("socket", ec.message());
    if (!h_.sources.empty()) {
      // Ports are picked at connect time, per (source, destination): each
      // source address gets the whole ephemeral range.
      int one = 1;
      ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT,
                   &one, sizeof one);
      auto& src = h_.sources[h_.next_source++ % h_.sources.size()];
      sock.bind(tcp::endpoint{src, 0}, ec);
      if (ec)
        return fail("bind", ec.message());
    }
    timer_.expires_after(handshake_timeout);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (!ec && self->st_ == state::connecting) {
        // As Beast's handshake timeout did.
        self->fail("handshake", "The socket was closed due to a timeout");
      }
    });
    sock.async_connect(h_.ep, [self = shared_from_this()](error_code ec) {
      self->on_connect(ec);
    });
  }

  void start_rounds() override {
    if (s_.r != role::user || st_ != state::ready)
      return;
    static thread_local std::minstd_rand rng{std::random_device{}()};
    next_round_ = clock_type::now()
                  + std::chrono::microseconds(
                    rng() % (static_cast<unsigned>(h_.opt.ping_ms) * 1000u));
    arm_round();
  }

  void stop_rounds() override {
    if (s_.r == role::user)
      timer_.cancel();
  }

  void close() override {
    switch (st_) {
      case state::closing:
      case state::closed:
      case state::failed:
        return;
      case state::idle:
        st_ = state::closed;
        return;
      case state::connecting: {
        // Still in connect or the handshake: abort it.
        bool managed = s_.r == role::user || s_.r == role::observer;
        st_ = state::closed;
        timer_.cancel();
        error_code ec;
        sock_.close(ec);
        if (managed)
          free_slot();
        if (s_.r == role::churn)
          --h_.churn_active;
        return;
      }
      default:
        break;
    }
    timer_.cancel();
    st_ = state::closing;
    if (s_.r == role::fan)
      h_.fan_t_close = now_us();
    // Queued frames that did not start are dropped; one being written
    // finishes first.
    if (writing_) {
      while (q_.size() > 1)
        q_.pop_back();
      close_pending_ = true;
    } else {
      q_.clear();
      do_close();
    }
  }

  bool ready() const override { return st_ == state::ready; }

  bool finished() const override {
    return st_ == state::closed || st_ == state::failed;
  }

private:
  // -- connection -------------------------------------------------------------

  void on_connect(error_code ec) {
    if (st_ != state::connecting)
      return;
    if (ec)
      return fail("connect", ec.message());
    sock_.set_option(tcp::no_delay(true), ec);
    std::string target;
    if (proto_ == protocol::native) {
      if (s_.r == role::observer) {
        target = "/ws/user-status/";
      } else {
        target = "/ws?userId=" + join_name();
        t_join_ = now_us(); // the upgrade is the join
      }
    } else {
      target = h_.opt.sio_path + "?EIO=4&transport=websocket";
    }
    // The key is fixed: the server's answer to it is not checked (this
    // client talks to servers under test, not to strangers).
    wbuf_ = "GET " + target + " HTTP/1.1\r\nHost: " + h_.opt.host + ":"
            + h_.opt.port
            + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
              "Sec-WebSocket-Version: 13\r\n\r\n";
    net::async_write(sock_, net::buffer(wbuf_),
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       if (ec)
                         return self->fail("handshake", ec.message());
                       self->read_upgrade();
                     });
  }

  /// Reads the server's answer to the upgrade (up to the empty line; what
  /// follows it is the first frames).
  void read_upgrade() {
    if (st_ != state::connecting)
      return;
    read_more(initial_read, &ws_client::on_upgrade_bytes);
  }

  /// Reads into the room for `n` more bytes after those held, then calls
  /// `then` with what came.
  void read_more(std::size_t n,
                 void (ws_client::*then)(error_code, std::size_t)) {
    reserve_read(n);
    sock_.async_read_some(net::buffer(rbuf_.data() + rlen_,
                                      rbuf_.size() - rlen_),
                          [self = shared_from_this(), then](error_code ec,
                                                            std::size_t got) {
                            ((*self).*then)(ec, got);
                          });
  }

  void on_upgrade_bytes(error_code ec, std::size_t n) {
    if (st_ != state::connecting)
      return;
    if (ec)
      return fail("handshake", ec.message());
    rlen_ += n;
    std::string_view got{rbuf_.data(), rlen_};
    auto end = got.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (rlen_ > 16 * 1024)
        return fail("handshake", "response head too large");
      return read_upgrade();
    }
    if (got.substr(0, 12) != "HTTP/1.1 101")
      return fail("handshake",
                  "The WebSocket handshake was declined by the remote peer ("
                    + std::string(got.substr(0, got.find('\r'))) + ")");
    std::string().swap(wbuf_);
    timer_.cancel();
    consume(end + 4);
    st_ = proto_ == protocol::native ? state::joining : state::opening;
    // Frames that came with the answer, then the next read.
    on_bytes({}, 0);
  }

  /// The user id to join as; churn ids carry the join's send time so
  /// observers in any worker can time the delivery.
  std::string join_name() {
    if (s_.r == role::churn)
      return s_.user + "_" + std::to_string(now_us());
    return s_.user;
  }

  // -- reading ----------------------------------------------------------------

  bool gone() const { return st_ == state::closed || st_ == state::failed; }

  /// Room for `n` more bytes after the `rlen_` held.
  void reserve_read(std::size_t n) {
    if (rbuf_.size() < rlen_ + n)
      rbuf_.resize(std::max(rlen_ + n, 2 * rbuf_.size()));
  }

  /// Drops the first `n` bytes held.
  void consume(std::size_t n) {
    std::memmove(rbuf_.data(), rbuf_.data() + n, rlen_ - n);
    rlen_ -= n;
  }

  void do_read() {
    read_more(want_ > rlen_ ? want_ - rlen_ : initial_read / 2,
              &ws_client::on_bytes);
  }

  /// `n` more bytes came: every whole frame among them is handled.
  void on_bytes(error_code ec, std::size_t n) {
    if (ec)
      return on_lost(ec.message());
    rlen_ += n;
    std::size_t at = 0;
    while (!gone()) {
      // A frame from the server: FIN/opcode, then a 7-, 16- or 64-bit
      // length, never a mask.
      const auto* b = reinterpret_cast<const unsigned char*>(rbuf_.data());
      std::size_t left = rlen_ - at;
      ws_head h;
      if (!read_ws_head(b + at, left, h))
        break;
      if (h.masked)
        return fail("read", "masked frame from the server");
      bool fin = h.fin;
      auto op = h.op;
      uint64_t len = h.len;
      std::size_t head = h.size;
      if (len > max_message)
        return fail("read", "message too big");
      if (left < head + len) {
        want_ = head + len; // the rest of this frame, read at once
        break;
      }
      want_ = 0;
      std::string_view payload{rbuf_.data() + at + head,
                               static_cast<std::size_t>(len)};
      at += head + len;
      on_frame(fin, op, payload);
    }
    if (gone())
      return;
    consume(at);
    // A large buffer (a big frame) is let go once it is read.
    if (rlen_ == 0 && rbuf_.size() > 4 * initial_read)
      std::vector<char>(initial_read).swap(rbuf_);
    do_read();
  }

  void on_frame(bool fin, uint8_t op, std::string_view payload) {
    switch (op) {
      case op_text:
      case op_continuation:
        if (!fin || !partial_.empty()) {
          // Fragments are joined (servers here hardly send any).
          partial_.append(payload);
          if (partial_.size() > max_message)
            return fail("read", "message too big");
          if (!fin)
            return;
          std::string whole;
          whole.swap(partial_);
          return on_message(whole);
        }
        return on_message(payload);
      case op_ping:
        return send_frame(op_pong, std::string(payload));
      case op_pong:
        return;
      case op_close: {
        // Ours answered, or the server's: the connection is over (the
        // socket closes without answering a close from the server).
        uint16_t code = payload.size() >= 2 ? static_cast<uint16_t>(
                          (static_cast<unsigned char>(payload[0]) << 8)
                          | static_cast<unsigned char>(payload[1]))
                                            : 1005;
        return on_lost("closed by the server (code " + std::to_string(code)
                       + ")");
      }
      default:
        return fail("read", "unknown opcode " + std::to_string(op));
    }
  }

  void on_message(std::string_view m) {
    ++h_.rx_msgs;
    h_.rx_bytes += static_cast<int64_t>(m.size());
    h_.t_last_rx = now_us();
    if (proto_ == protocol::native)
      on_native(m);
    else
      on_sio(m);
  }

  void on_lost(const std::string& why) {
    error_code ec;
    sock_.close(ec);
    switch (st_) {
      case state::closed:
      case state::failed:
        return;
      case state::closing:
        st_ = state::closed;
        ++h_.closed;
        if (s_.r == role::churn)
          --h_.churn_active;
        return;
      case state::ready:
        st_ = state::closed;
        timer_.cancel();
        ++h_.dropped;
        if (s_.r == role::churn)
          --h_.churn_active;
        h_.log_failure("connection of " + s_.user + " lost: " + why);
        return;
      default:
        return fail("read", why);
    }
  }

  // -- native protocol ----------------------------------------------------------

  void on_native(std::string_view m) {
    auto type = str_after(m, "\"type\":\"");
    if (type == "user.status.changed") {
      ++h_.delta_events;
      if (s_.r == role::observer && st_ == state::ready)
        h_.on_delta(s_.index, str_after(m, "\"user_id\":\""),
                    m.find("\"is_online\":true") != std::string_view::npos,
                    now_us());
    } else if (type == "pong") {
      round_done();
    } else if (type == "joined") {
      if (st_ == state::joining && s_.r != role::observer)
        joined();
    } else if (type == "welcome") {
      // An explicit subscribe: its reply says the path's global feed (asked
      // for before it, and idempotent) is in place.
      if (st_ == state::joining && s_.r == role::observer)
        send(R"({"type":"subscribe","global":true,"id":"obs"})");
    } else if (type == "subscribed") {
      if (st_ == state::joining && s_.r == role::observer)
        joined();
    } else if (type == "error") {
      ++h_.errors;
      if (str_after(m, "\"code\":\"") == "rate_limited")
        ++h_.rate_limited;
      if (st_ == state::joining)
        fail("join", std::string(m.substr(0, 200)));
      else
        round_failed(); // e.g. rate_limited: the round ends, uncounted
    }
  }

  // -- Socket.IO ----------------------------------------------------------------

  bool seed004() const { return proto_ == protocol::sio004; }

  void on_sio(std::string_view m) {
    if (m.empty())
      return;
    switch (m[0]) {
      case '0': // open
        if (st_ == state::opening)
          connect_namespace();
        return;
      case '2': // ping
        ++h_.eio_pings;
        send("3");
        return;
      case '4': // message
        break;
      default: // close (the WebSocket close follows), noop, ...
        return;
    }
    if (m.size() < 2)
      return;
    char type = m[1];
    auto rest = m.substr(2);
    std::string_view nsp = "/";
    if (!rest.empty() && rest[0] == '/') {
      auto c = rest.find(',');
      nsp = rest.substr(0, c);
      rest = c == std::string_view::npos ? std::string_view{}
                                         : rest.substr(c + 1);
    }
    if (nsp != (seed004() ? messages_nsp : std::string_view{"/"}))
      return;
    int64_t id = -1;
    size_t i = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9')
      ++i;
    if (i > 0)
      id = std::strtoll(std::string(rest.substr(0, i)).c_str(), nullptr, 10);
    rest = rest.substr(i);
    switch (type) {
      case '0': // CONNECT reply
        if (st_ == state::ns_connecting)
          namespace_connected();
        return;
      case '4': // CONNECT_ERROR
        ++h_.errors;
        return fail("connect_error", std::string(rest.substr(0, 200)));
      case '1': // DISCONNECT from the server
        if (st_ == state::ready || st_ == state::joining) {
          ++h_.errors;
          h_.log_failure("namespace disconnect for " + s_.user);
        }
        return;
      case '2':
        return on_event(m, rest);
      case '3':
        return on_ack(id, rest);
      default: // binary packets: not used by these dialects
        return;
    }
  }

  void connect_namespace() {
    st_ = state::ns_connecting;
    if (seed004()) {
      // Dev mode: the CONNECT names the user and joins.
      t_join_ = now_us();
      send("40/ws/messages,{\"userId\":\"" + join_name() + "\"}");
    } else {
      send("40");
    }
  }

  void namespace_connected() {
    if (seed004())
      return joined();
    st_ = state::joining;
    t_join_ = now_us();
    join_ack_ = ++ack_seq_;
    std::string id = h_.opt.sio000_confirm == "ack" ? std::to_string(join_ack_)
                                                    : std::string{};
    send("42" + id + "[\"join_user\",\"" + join_name() + "\"]");
  }

  void on_event(std::string_view whole, std::string_view rest) {
    auto name = str_after(rest, "[\"");
    if (!seed004()) {
      if (name == "user_online" || name == "user_offline") {
        ++h_.delta_events;
        if (s_.r == role::observer && st_ == state::ready)
          h_.on_delta(s_.index, str_after(rest, "\"userId\":\""),
                      name == "user_online", now_us());
      } else if (name == "online_users_list") {
        ++h_.list_events;
        h_.list_bytes += static_cast<int64_t>(whole.size());
        if (st_ == state::joining && h_.opt.sio000_confirm == "list")
          joined();
      } else if (name == "user_online_status") {
        round_done();
      } else if (name == "presence-error") {
        presence_error(rest);
      }
    } else {
      if (name == "user-online" || name == "user-offline") {
        ++h_.delta_events;
        if (s_.r == role::observer && st_ == state::ready)
          h_.on_delta(s_.index, str_after(rest, "\"userId\":\""),
                      name == "user-online", now_us());
      } else if (name == "presence-error") {
        presence_error(rest);
      }
    }
  }

  void presence_error(std::string_view rest) {
    ++h_.errors;
    if (str_after(rest, "\"code\":\"") == "rate_limited")
      ++h_.rate_limited;
    if (st_ == state::joining)
      fail("join", std::string(rest.substr(0, 200)));
    else
      round_failed();
  }

  void on_ack(int64_t id, std::string_view rest) {
    bool ok = rest.find("\"success\":false") == std::string_view::npos;
    if (id == join_ack_ && st_ == state::joining) {
      if (ok)
        joined();
      else
        fail("join_user", std::string(rest.substr(0, 200)));
    } else if (id == round_ack_ && round_out_) {
      if (ok) {
        round_done();
        return;
      }
      ++h_.errors;
      if (rest.find("rate") != std::string_view::npos)
        ++h_.rate_limited;
      round_failed();
    }
  }

  // -- joined -------------------------------------------------------------------

  void joined() {
    st_ = state::ready;
    auto t = now_us();
    switch (s_.r) {
      case role::user:
        ++h_.users_joined;
        h_.join_us.add(t - t_start_);
        h_.join_ack_us.add(t - t_join_);
        h_.t_last_join = t;
        free_slot();
        return;
      case role::observer:
        ++h_.observers_ready;
        free_slot();
        return;
      case role::churn: {
        ++h_.churn_joined;
        h_.churn_join_us.add(t - t_join_);
        // Leave churn_hold_ms after the join was sent (observers time the
        // offline delta from that instant).
        auto at = t_join_ + int64_t{h_.opt.churn_hold_ms} * 1000;
        timer_.expires_after(
          std::chrono::microseconds(std::max<int64_t>(0, at - now_us())));
        timer_.async_wait([self = shared_from_this()](error_code ec) {
          if (!ec)
            self->close();
        });
        return;
      }
      case role::fan:
        h_.fan_ready = true;
        h_.fan_t_send = t_join_;
        return;
    }
  }

  void fail(const char* what, const std::string& detail) {
    if (st_ == state::closed || st_ == state::failed)
      return;
    bool connecting = st_ != state::ready && st_ != state::closing;
    st_ = state::failed;
    timer_.cancel();
    error_code ec;
    sock_.close(ec);
    h_.log_failure(std::string(what) + " (" + s_.user + "): " + detail);
    switch (s_.r) {
      case role::user:
        ++h_.users_failed;
        if (connecting)
          free_slot();
        return;
      case role::observer:
        ++h_.observers_failed;
        if (connecting)
          free_slot();
        return;
      case role::churn:
        ++h_.churn_failed;
        --h_.churn_active;
        return;
      case role::fan:
        h_.fan_failed = true;
        return;
    }
  }

  void free_slot() {
    if (slot_freed_)
      return;
    slot_freed_ = true;
    if (h_.slot_free)
      h_.slot_free();
  }

  // -- heartbeat rounds -----------------------------------------------------

  void arm_round() {
    timer_.expires_at(next_round_);
    timer_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec || !self->h_.rounds_on || self->st_ != state::ready)
        return;
      self->tick();
    });
  }

  void tick() {
    if (round_out_)
      ++h_.rounds_skipped; // the previous round is still out
    else
      send_round();
    auto interval = std::chrono::milliseconds(h_.opt.ping_ms);
    next_round_ += interval;
    auto now = clock_type::now();
    if (next_round_ + interval < now)
      next_round_ = now; // far behind: do not burst
    arm_round();
  }

  void send_round() {
    round_out_ = true;
    t_round_ = now_us();
    switch (proto_) {
      case protocol::native:
        send(R"({"type":"ping","id":1})");
        return;
      case protocol::sio000:
        send(R"(42["user_activity"])");
        send("42[\"check_user_online\",\"" + s_.user + "\"]");
        return;
      case protocol::sio004:
        round_ack_ = ++ack_seq_;
        if (h_.opt.sio004_round == "check")
          send("42/ws/messages," + std::to_string(round_ack_)
               + "[\"check-user-status\",{\"userId\":\"" + s_.user + "\"}]");
        else
          send("42/ws/messages," + std::to_string(round_ack_)
               + "[\"heartbeat\"]");
        return;
    }
  }

  /// The round was refused (an error instead of its reply): the next tick
  /// may send another; errors counts it, rounds does not.
  void round_failed() { round_out_ = false; }

  void round_done() {
    if (!round_out_)
      return;
    round_out_ = false;
    if (h_.rounds_on) {
      ++h_.rounds;
      auto rtt = now_us() - t_round_;
      h_.rtt_us.add(rtt);
      if (h_.window_start != 0 && t_round_ >= h_.window_start) {
        auto sec = static_cast<size_t>((t_round_ - h_.window_start) / 1000000);
        if (sec >= h_.max_by_s.size()) {
          h_.max_by_s.resize(sec + 1, 0);
          h_.slow_by_s.resize(sec + 1, 0);
        }
        h_.max_by_s[sec] = std::max(h_.max_by_s[sec], rtt);
        if (rtt > slow_round_us)
          ++h_.slow_by_s[sec];
      }
    }
  }

  // -- writing ----------------------------------------------------------------

  void send(std::string_view text) {
    if (st_ == state::closing || gone())
      return;
    send_frame(op_text, text);
  }

  /// Queues one frame, masked as a client's must be.
  void send_frame(uint8_t op, std::string_view payload) {
    if (gone())
      return;
    static thread_local std::minstd_rand rng{std::random_device{}()};
    auto n = payload.size();
    std::string f;
    f.reserve(n + 14);
    f.push_back(static_cast<char>(0x80 | op));
    if (n < 126) {
      f.push_back(static_cast<char>(0x80 | n));
    } else if (n <= 0xffff) {
      f.push_back(static_cast<char>(0x80 | 126));
      f.push_back(static_cast<char>(n >> 8));
      f.push_back(static_cast<char>(n & 0xff));
    } else {
      f.push_back(static_cast<char>(0x80 | 127));
      for (int i = 7; i >= 0; --i)
        f.push_back(static_cast<char>((uint64_t{n} >> (8 * i)) & 0xff));
    }
    uint32_t key = static_cast<uint32_t>(rng());
    char k[4];
    std::memcpy(k, &key, 4);
    f.append(k, 4);
    for (std::size_t i = 0; i < n; ++i)
      f.push_back(static_cast<char>(payload[i] ^ k[i & 3]));
    q_.push_back(std::move(f));
    if (!writing_)
      do_write();
  }

  void do_write() {
    writing_ = true;
    net::async_write(sock_, net::buffer(q_.front()),
                     [self = shared_from_this()](error_code ec, std::size_t) {
                       self->on_write(ec);
                     });
  }

  void on_write(error_code ec) {
    writing_ = false;
    if (ec) {
      q_.clear();
      if (st_ == state::closing || gone())
        return;
      if (st_ == state::ready)
        return on_lost(ec.message());
      return fail("write", ec.message());
    }
    q_.pop_front();
    if (close_pending_) {
      close_pending_ = false;
      q_.clear();
      do_close();
      return;
    }
    if (!q_.empty())
      do_write();
  }

  /// A close frame (1000, normal); the pending read ends with the server's
  /// close frame or the end of the connection (on_lost).
  void do_close() { send_frame(op_close, std::string_view{"\x03\xe8", 2}); }

  hub& h_;
  client_spec s_;
  /// What this client speaks: --protocol, or --observer-protocol for an
  /// observer.
  protocol proto_;
  tcp::socket sock_;
  net::steady_timer timer_;
  /// Bytes read and not yet handled: rbuf_[0, rlen_).
  std::vector<char> rbuf_;
  std::size_t rlen_ = 0;
  /// The bytes of the frame being read, once its head is in (0: unknown).
  std::size_t want_ = 0;
  /// A fragmented message so far.
  std::string partial_;
  /// The upgrade request while it is written.
  std::string wbuf_;
  /// Frames to write, framed.
  std::deque<std::string> q_;
  state st_ = state::idle;
  bool writing_ = false;
  bool close_pending_ = false;
  bool slot_freed_ = false;
  bool round_out_ = false;
  int64_t ack_seq_ = 0;
  int64_t join_ack_ = -1;
  int64_t round_ack_ = -1;
  int64_t t_start_ = 0;
  int64_t t_join_ = 0;
  int64_t t_round_ = 0;
  clock_type::time_point next_round_;
};

} // namespace

std::shared_ptr<client> make_client(hub& h, client_spec spec) {
  return std::make_shared<ws_client>(h, std::move(spec));
}

} // namespace lg
