// presenced load generator: many WebSocket clients against one server, on
// loopback only.
//
//   loadgen --port P [--host 127.0.0.1] [--connections N] [--seconds S]
//           [--ping-interval-ms MS] [--prefix u] [--observers K]
//
// Phases:
//  1. connect N clients as users PREFIX0..PREFIXn-1 (dev mode ?userId=) and
//     wait until every one has its "joined" reply: join throughput and
//     latency percentiles;
//  2. K observers subscribed to the global feed must each see all N users
//     come online: fan-out completeness and delivery time;
//  3. for S seconds every client pings every MS ms: pong round-trip
//     percentiles and round trips per second;
//  4. all clients close: observers must see all N go offline.
// Prints one JSON object with the figures. One process holds at most ~19,900
// sockets (open-files limit): run several for more.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  std::string host = "127.0.0.1";
  std::string port;
  int connections = 1000;
  int observers = 2;
  int seconds = 10;
  int ping_ms = 1000;
  std::string prefix = "u";
};

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0)
    .count();
}

struct stats {
  std::vector<double> samples;
  void add(double x) { samples.push_back(x); }
  double pct(double p) {
    if (samples.empty())
      return 0;
    std::sort(samples.begin(), samples.end());
    auto i = static_cast<size_t>(p / 100.0 * (samples.size() - 1));
    return samples[i];
  }
};

struct shared {
  options opt;
  stats join_ms;
  stats rtt_ms;
  int joined = 0;
  int failed = 0;
  long pongs = 0;
  long online_seen = 0;  // online deltas observed (all observers)
  long offline_seen = 0; // offline deltas observed
  bool pinging = false;
};

/// One client connection. Runs on the single io_context thread.
class client : public std::enable_shared_from_this<client> {
public:
  client(net::io_context& ioc, shared& sh, std::string target, bool observer)
    : ws_(ioc), timer_(ioc), sh_(sh), target_(std::move(target)),
      observer_(observer) {
    // nop
  }

  void start(const tcp::resolver::results_type& eps) {
    t0_ = clock_type::now();
    beast::get_lowest_layer(ws_).async_connect(
      eps,
      [self = shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
        if (ec)
          return self->fail("connect", ec);
        self->ws_.async_handshake(
          self->sh_.opt.host, self->target_, [self](beast::error_code ec) {
            if (ec)
              return self->fail("handshake", ec);
            self->do_read();
            if (self->observer_)
              self->send(R"({"type":"subscribe","global":true})");
          });
      });
  }

  void start_pinging() {
    if (observer_)
      return;
    // Spread the first pings over one interval.
    timer_.expires_after(
      std::chrono::milliseconds(std::rand() % std::max(1, sh_.opt.ping_ms)));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->ping();
    });
  }

  void close() {
    timer_.cancel();
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](beast::error_code) {});
  }

private:
  void ping() {
    if (!sh_.pinging)
      return;
    ping_t0_ = clock_type::now();
    send(R"({"type":"ping","id":1})");
    timer_.expires_after(std::chrono::milliseconds(sh_.opt.ping_ms));
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec)
        self->ping();
    });
  }

  void send(std::string text) {
    queue_.push_back(std::move(text));
    if (queue_.size() == 1)
      do_write();
  }

  void do_write() {
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()),
                    [self = shared_from_this()](beast::error_code ec,
                                                std::size_t) {
                      if (ec)
                        return self->fail("write", ec);
                      self->queue_.pop_front();
                      if (!self->queue_.empty())
                        self->do_write();
                    });
  }

  void do_read() {
    ws_.async_read(buf_, [self = shared_from_this()](beast::error_code ec,
                                                     std::size_t) {
      if (ec) {
        if (ec != websocket::error::closed
            && ec != net::error::operation_aborted)
          self->fail("read", ec);
        return;
      }
      self->on_message(beast::buffers_to_string(self->buf_.data()));
      self->buf_.consume(self->buf_.size());
      self->do_read();
    });
  }

  // Cheap field checks: the server's frames are compact JSON.
  void on_message(const std::string& m) {
    if (m.find("\"type\":\"joined\"") != std::string::npos) {
      sh_.join_ms.add(ms_since(t0_));
      ++sh_.joined;
    } else if (m.find("\"type\":\"pong\"") != std::string::npos) {
      sh_.rtt_ms.add(ms_since(ping_t0_));
      ++sh_.pongs;
    } else if (observer_
               && m.find("user.status.changed") != std::string::npos) {
      if (m.find("\"is_online\":true") != std::string::npos)
        ++sh_.online_seen;
      else
        ++sh_.offline_seen;
    }
  }

  void fail(const char* what, beast::error_code ec) {
    ++sh_.failed;
    if (sh_.failed <= 5)
      std::fprintf(stderr, "loadgen: %s: %s\n", what, ec.message().c_str());
  }

  websocket::stream<beast::tcp_stream> ws_;
  net::steady_timer timer_;
  beast::flat_buffer buf_;
  shared& sh_;
  std::string target_;
  bool observer_;
  std::deque<std::string> queue_;
  clock_type::time_point t0_;
  clock_type::time_point ping_t0_;
};

/// Runs the io_context until `done()` holds or `limit_ms` pass.
template <class Pred>
bool run_until(net::io_context& ioc, Pred done, int limit_ms) {
  auto t0 = clock_type::now();
  while (!done()) {
    if (ms_since(t0) > limit_ms)
      return false;
    ioc.run_for(std::chrono::milliseconds(5));
    ioc.restart();
  }
  return true;
}

} // namespace

int main(int argc, char** argv) {
  shared sh;
  auto& o = sh.opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    std::string v = argv[i + 1];
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = v;
    else if (k == "--connections")
      o.connections = std::atoi(v.c_str());
    else if (k == "--observers")
      o.observers = std::atoi(v.c_str());
    else if (k == "--seconds")
      o.seconds = std::atoi(v.c_str());
    else if (k == "--ping-interval-ms")
      o.ping_ms = std::atoi(v.c_str());
    else if (k == "--prefix")
      o.prefix = v;
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.port.empty() || o.host != "127.0.0.1") {
    std::fprintf(stderr,
                 "usage: loadgen --port P [--connections N] ... "
                 "(loopback 127.0.0.1 only)\n");
    return 2;
  }
  net::io_context ioc{1};
  auto eps = tcp::resolver{ioc}.resolve(o.host, o.port);

  std::vector<std::shared_ptr<client>> observers;
  for (int i = 0; i < o.observers; ++i) {
    auto c = std::make_shared<client>(ioc, sh, "/ws", true);
    c->start(eps);
    observers.push_back(c);
  }
  run_until(
    ioc, [] { return false; }, 200); // let subscriptions land

  // Phase 1: joins.
  auto t_join = clock_type::now();
  std::vector<std::shared_ptr<client>> clients;
  clients.reserve(o.connections);
  for (int i = 0; i < o.connections; ++i) {
    auto c = std::make_shared<client>(
      ioc, sh, "/ws?userId=" + o.prefix + std::to_string(i), false);
    c->start(eps);
    clients.push_back(c);
  }
  bool all_joined = run_until(
    ioc, [&] { return sh.joined + sh.failed >= o.connections; }, 120000);
  double join_total_ms = ms_since(t_join);

  // Phase 2: every observer sees every user online.
  long want = static_cast<long>(o.connections) * o.observers;
  bool fanout_ok = run_until(
    ioc, [&] { return sh.online_seen >= want; }, 30000);
  double fanout_ms = ms_since(t_join);

  // Phase 3: pings.
  sh.pinging = true;
  for (auto& c : clients)
    c->start_pinging();
  auto t_ping = clock_type::now();
  run_until(
    ioc, [] { return false; }, o.seconds * 1000);
  double ping_secs = ms_since(t_ping) / 1000.0;
  sh.pinging = false;

  // Phase 4: everyone leaves.
  auto t_leave = clock_type::now();
  for (auto& c : clients)
    c->close();
  bool offline_ok = run_until(
    ioc, [&] { return sh.offline_seen >= want; }, 60000);
  double leave_ms = ms_since(t_leave);
  for (auto& c : observers)
    c->close();
  run_until(
    ioc, [] { return false; }, 200);

  std::printf(
    "{\"connections\":%d,\"observers\":%d,\"failed\":%d,"
    "\"all_joined\":%s,\"join_total_ms\":%.1f,\"joins_per_s\":%.0f,"
    "\"join_ms_p50\":%.2f,\"join_ms_p99\":%.2f,"
    "\"fanout_complete\":%s,\"fanout_all_online_ms\":%.1f,"
    "\"pongs\":%ld,\"pongs_per_s\":%.0f,\"rtt_ms_p50\":%.2f,"
    "\"rtt_ms_p99\":%.2f,\"rtt_ms_max\":%.2f,"
    "\"offline_complete\":%s,\"all_offline_ms\":%.1f}\n",
    o.connections, o.observers, sh.failed, all_joined ? "true" : "false",
    join_total_ms, sh.joined / (join_total_ms / 1000.0), sh.join_ms.pct(50),
    sh.join_ms.pct(99), fanout_ok ? "true" : "false", fanout_ms, sh.pongs,
    sh.pongs / ping_secs, sh.rtt_ms.pct(50), sh.rtt_ms.pct(99),
    sh.rtt_ms.pct(100), offline_ok ? "true" : "false", leave_ms);
  return (all_joined && fanout_ok && offline_ok && sh.failed == 0) ? 0 : 1;
}
