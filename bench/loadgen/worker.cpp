// One worker process of the load generator: its share of the clients on one
// io_context, and the scenarios as sequences of phases separated by barriers
// with the parent (see loadgen.hpp).

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <deque>
#include <fstream>
#include <optional>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>

#include "loadgen.hpp"

namespace lg {

// -- hub ------------------------------------------------------------------------

void hub::on_delta(int o, std::string_view user, bool online, int64_t t) {
  if (o < 0 || o >= static_cast<int>(obs.size()))
    return;
  auto& ob = obs[o];
  if (!starts_with_prefix(user))
    return;
  auto rest = user.substr(opt.prefix.size());
  if (rest.empty())
    return;
  if (rest[0] >= '0' && rest[0] <= '9') {
    // A held user: PREFIX<index>.
    int64_t i = 0;
    for (char c : rest) {
      if (c < '0' || c > '9')
        return;
      i = i * 10 + (c - '0');
      if (i >= held_total)
        return;
    }
    auto& bits = ob.held[static_cast<size_t>(i)];
    if (online && (bits & 1) == 0) {
      bits |= 1;
      t_last_on = std::max(t_last_on, t);
      ++ob.held_on;
    } else if (!online && (bits & 2) == 0) {
      bits |= 2;
      t_last_off = std::max(t_last_off, t);
      ++ob.held_off;
    }
  } else if (rest[0] == 'c') {
    // A churn user: PREFIXc<worker>_<seq>_<join sent, µs>.
    auto u = rest.rfind('_');
    if (u == std::string_view::npos)
      return;
    int64_t sent = 0;
    for (char c : rest.substr(u + 1)) {
      if (c < '0' || c > '9')
        return;
      sent = sent * 10 + (c - '0');
    }
    if (online) {
      ++ob.churn_on;
      churn_on_us.add(t - sent);
      if (!opt.samples_file.empty())
        churn_on_samples.push_back({sent, t - sent, o});
      if (opt.scen == scenario::soak && window_start != 0) {
        // By the join's send time: every join sent in a window counts
        // there, even if delivered after it.
        auto w = (sent - window_start) / (int64_t{opt.window_s} * 1000000);
        if (w >= 0) {
          if (static_cast<size_t>(w) >= windows.size())
            windows.resize(static_cast<size_t>(w) + 1);
          windows[static_cast<size_t>(w)].add(t - sent);
        }
      }
    } else {
      ++ob.churn_off;
      churn_off_us.add(t - sent - int64_t{opt.churn_hold_ms} * 1000);
    }
  } else if (rest == "fan") {
    if (online && ob.fan_on_t == 0) {
      ob.fan_on_t = t;
      ++fan_on_seen;
    } else if (!online && ob.fan_off_t == 0 && ob.fan_on_t != 0) {
      ob.fan_off_t = t;
      ++fan_off_seen;
    }
  }
}

bool hub::starts_with_prefix(std::string_view user) const {
  return user.substr(0, opt.prefix.size()) == opt.prefix;
}

void hub::log_failure(const std::string& what) {
  if (++failures_logged <= 5 && !opt.quiet)
    std::fprintf(stderr, "loadgen[%d]: %s\n", worker, what.c_str());
}

namespace {

int64_t self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec
         + ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec;
}

/// [begin, end) of this worker's share of n items.
std::pair<int, int> share(int n, int worker, int workers) {
  auto b = static_cast<int>(static_cast<int64_t>(n) * worker / workers);
  auto e = static_cast<int>(static_cast<int64_t>(n) * (worker + 1) / workers);
  return {b, e};
}

class worker {
public:
  worker(const options& o, int w, int workers, int ctl_in, int ctl_out)
    : o_(o), w_(w), workers_(workers), ioc_(1), guard_(ioc_.get_executor()),
      h_(o, ioc_), ctl_(ioc_, ctl_in), ctl_out_(ctl_out), churn_timer_(ioc_) {
    h_.worker = w;
    h_.held_total = o.scen == scenario::fanout ? 0 : o.connections;
    h_.slot_free = [this] {
      --in_flight_;
      pump();
    };
  }

  int run() {
    beast_setup();
    read_ctl();
    auto [ob, oe] = share(o_.observers, w_, workers_);
    my_observers_ = oe - ob;
    h_.obs.resize(static_cast<size_t>(my_observers_));
    for (auto& x : h_.obs)
      x.held.assign(static_cast<size_t>(h_.held_total), 0);
    auto [ub, ue] = share(o_.connections, w_, workers_);
    user_begin_ = ub;
    user_end_ = ue;

    // Observers first, everywhere: they must be listening before anything
    // they are to count happens.
    std::vector<client_spec> specs;
    for (int j = ob; j < oe; ++j) {
      client_spec s;
      s.r = role::observer;
      s.user = o_.prefix + "obs" + std::to_string(j);
      s.index = j - ob;
      specs.push_back(std::move(s));
    }
    observers_ = launch(std::move(specs));
    wait([&] {
      return h_.observers_ready + h_.observers_failed >= my_observers_;
    });
    wait_quiet(); // subscriptions land, observers' own joins are delivered

    switch (o_.scen) {
      case scenario::combined:
        combined();
        break;
      case scenario::storm:
        storm();
        break;
      case scenario::heartbeat:
        heartbeat();
        break;
      case scenario::latency:
      case scenario::soak:
        churn();
        break;
      case scenario::fanout:
        fanout();
        break;
      case scenario::hold:
        hold();
        break;
    }

    for (auto& c : observers_)
      c->close();
    wait(
      [&] {
        return std::all_of(observers_.begin(), observers_.end(),
                           [](auto& c) { return c->finished(); });
      },
      5000);
    barrier("end");
    send_report();
    return 0;
  }

private:
  // -- scenarios --------------------------------------------------------------

  /// The original run (bench/run.sh): joins (all at once), fan-out
  /// completeness, heartbeat rounds, leaves.
  void combined() {
    barrier("ready");
    join_users();
    joined_barrier();
    wait_observers_online();
    barrier("fanout", observers_payload_on());
    delivered();
    rounds();
    leave_users();
    barrier("closed", observers_payload_off());
  }

  void storm() {
    barrier("ready");
    join_users();
    joined_barrier();
    wait_observers_online();
    barrier("fanout", observers_payload_on());
    delivered();
    leave_users();
    barrier("closed", observers_payload_off());
  }

  void heartbeat() {
    join_users();
    joined_barrier();
    wait_quiet();
    rounds();
    leave_users();
    barrier("closed", observers_payload_off());
  }

  void hold() {
    barrier("ready");
    join_users();
    joined_barrier();
    wait_observers_online();
    barrier("fanout", observers_payload_on());
    delivered();
    if (w_ == 0 && !o_.ready_file.empty())
      std::ofstream{o_.ready_file} << "holding\n";
    if (!o_.quiet && w_ == 0)
      std::fprintf(stderr, "loadgen: all joined; holding for %d s\n",
                   o_.seconds);
    auto dropped0 = h_.dropped;
    barrier("hold");
    sleep_ms(o_.seconds * 1000);
    int64_t connected = 0;
    for (auto& c : users_)
      connected += c->ready() ? 1 : 0;
    barrier("held",
            {{"connected", static_cast<double>(connected)},
             {"hold_dropped", static_cast<double>(h_.dropped - dropped0)}});
    leave_users();
    barrier("closed", observers_payload_off());
  }

  /// latency and soak: held users, then churn at --rate for --seconds.
  void churn() {
    join_users();
    joined_barrier();
    wait_observers_online();
    barrier("fanout", observers_payload_on());
    delivered();
    barrier("start");
    h_.window_start = now_us();
    bool soak = o_.scen == scenario::soak;
    if (soak) {
      h_.windows.resize(1);
      // The held users heartbeat every --ping-interval-ms, as clients do:
      // without, the server expires them after its --heartbeat-ttl (90 s),
      // and most of a soak ran with its churn only.
      h_.rounds_on = true;
      for (auto& c : users_)
        c->start_rounds();
    }
    auto interval = std::chrono::microseconds(
      static_cast<int64_t>(1e6 * workers_ / o_.rate));
    auto next = clock_type::now() + interval * w_ / workers_;
    bool churning = true;
    std::function<void()> arm = [&] {
      churn_timer_.expires_at(next);
      churn_timer_.async_wait([&](boost::system::error_code ec) {
        if (ec || !churning)
          return;
        spawn_churn();
        next += interval;
        arm();
      });
    };
    arm();
    sleep_ms(o_.seconds * 1000);
    churning = false;
    churn_timer_.cancel();
    if (soak) {
      h_.rounds_on = false;
      for (auto& c : users_)
        c->stop_rounds();
    }
    barrier("stop", {{"churn_started", double(h_.churn_started)}});
    // Every churn client leaves after its hold; then every observer must
    // have seen each confirmed churn join online and offline.
    wait([&] { return h_.churn_active == 0; },
         o_.churn_hold_ms + o_.timeout_s * 1000);
    auto total = barrier("churn_done",
                         {{"churn_joined", double(h_.churn_joined)}});
    auto want = static_cast<int64_t>(total["churn_joined"]);
    wait(
      [&] {
        for (auto& ob : h_.obs)
          if (ob.churn_on < want || ob.churn_off < want)
            return false;
        return true;
      },
      10000);
    double miss_on = 0;
    double miss_off = 0;
    for (auto& ob : h_.obs) {
      miss_on += static_cast<double>(std::max<int64_t>(0, want - ob.churn_on));
      miss_off += static_cast<double>(
        std::max<int64_t>(0, want - ob.churn_off));
    }
    churn_missing_on_ = miss_on;
    churn_missing_off_ = miss_off;
    if (!o_.samples_file.empty()) {
      std::ofstream f{o_.samples_file + "." + std::to_string(w_)};
      for (auto& s : h_.churn_on_samples)
        f << s[0] << ' ' << s[1] << ' ' << s[2] << '\n';
    }
    barrier("drained");
    leave_users();
    barrier("closed", observers_payload_off());
  }

  void fanout() {
    barrier("start");
    for (int r = 0; r < o_.repeat; ++r) {
      for (auto& ob : h_.obs)
        ob.fan_on_t = ob.fan_off_t = 0;
      h_.fan_on_seen = h_.fan_off_seen = 0;
      h_.fan_ready = h_.fan_failed = false;
      h_.fan_t_send = h_.fan_t_close = 0;
      barrier("rep");
      // A change alone, not one inside the window the last send opened.
      gap();
      std::shared_ptr<client> fan;
      if (w_ == 0) {
        client_spec s;
        s.r = role::fan;
        s.user = o_.prefix + "fan";
        fan = make_client(h_, s);
        fan->start();
      }
      wait([&] {
        return h_.fan_on_seen >= h_.observers_ready
               && (w_ != 0 || h_.fan_ready || h_.fan_failed);
      });
      int64_t last = 0;
      for (auto& ob : h_.obs)
        last = std::max(last, ob.fan_on_t);
      auto on = barrier("rep_on",
                        {{"max_t_send", double(h_.fan_t_send)},
                         {"max_t_seen", double(last)},
                         {"fan_seen", double(h_.fan_on_seen)},
                         {"observers_ready", double(h_.observers_ready)},
                         {"fan_failed", h_.fan_failed ? 1.0 : 0.0}});
      auto t_send = static_cast<int64_t>(on["max_t_send"]);
      for (auto& ob : h_.obs)
        if (ob.fan_on_t != 0 && t_send != 0)
          fan_each_.add(ob.fan_on_t - t_send);
      if (w_ == 0 && t_send != 0 && on["fan_seen"] >= on["observers_ready"])
        fan_last_.add(static_cast<int64_t>(on["max_t_seen"]) - t_send);
      fan_missing_on_ += static_cast<double>(h_.observers_ready
                                             - h_.fan_on_seen);
      gap();
      if (fan)
        fan->close();
      wait([&] {
        return h_.fan_off_seen >= h_.fan_on_seen
               && (w_ != 0 || !fan || fan->finished());
      });
      last = 0;
      for (auto& ob : h_.obs)
        last = std::max(last, ob.fan_off_t);
      auto off = barrier("rep_off",
                         {{"max_t_close", double(h_.fan_t_close)},
                          {"max_t_seen", double(last)},
                          {"fan_seen", double(h_.fan_off_seen)},
                          {"observers_ready", double(h_.observers_ready)}});
      auto t_close = static_cast<int64_t>(off["max_t_close"]);
      for (auto& ob : h_.obs)
        if (ob.fan_off_t != 0 && t_close != 0)
          fan_each_off_.add(ob.fan_off_t - t_close);
      if (w_ == 0 && t_close != 0 && off["fan_seen"] >= off["observers_ready"])
        fan_last_off_.add(static_cast<int64_t>(off["max_t_seen"]) - t_close);
      fan_missing_off_ += static_cast<double>(h_.fan_on_seen - h_.fan_off_seen);
    }
    barrier("stop");
  }

  // -- phases -------------------------------------------------------------------

  void join_users() {
    std::vector<client_spec> specs;
    for (int i = user_begin_; i < user_end_; ++i) {
      client_spec s;
      s.r = role::user;
      s.user = o_.prefix + std::to_string(i);
      specs.push_back(std::move(s));
    }
    users_ = launch(std::move(specs));
    auto n = static_cast<int64_t>(users_.size());
    wait([&] { return h_.users_joined + h_.users_failed >= n; });
  }

  kv joined_payload() {
    return {{"joined", double(h_.users_joined)},
            {"users_failed", double(h_.users_failed)},
            {"max_t_last_join", double(h_.t_last_join)}};
  }

  /// The "joined" barrier: afterwards every observer must see the users
  /// that joined, in all workers.
  void joined_barrier() {
    auto total = barrier("joined", joined_payload());
    expect_ = static_cast<int64_t>(total["joined"]);
  }

  /// Over the observers still connected: how many saw every user that
  /// joined online (offline), and how many deltas they miss.
  std::pair<double, double> observers_seen(bool online) const {
    double complete = 0;
    double missing = 0;
    for (size_t j = 0; j < observers_.size(); ++j) {
      if (!observers_[j]->ready())
        continue;
      auto seen = online ? h_.obs[j].held_on : h_.obs[j].held_off;
      if (seen >= expect_)
        ++complete;
      else
        missing += static_cast<double>(expect_ - seen);
    }
    return {complete, missing};
  }

  void wait_observers_online() {
    wait([&] { return observers_seen(true).second == 0; });
  }

  kv observers_payload_on() {
    auto [complete, missing] = observers_seen(true);
    return {{"observers_complete_on", complete},
            {"missing_on", missing},
            {"max_t_last_on", double(h_.t_last_on)}};
  }

  void leave_users() {
    for (auto& c : users_)
      c->close();
    wait([&] {
      return std::all_of(users_.begin(), users_.end(),
                         [](auto& c) { return c->finished(); });
    });
    wait([&] { return observers_seen(false).second == 0; });
  }

  kv observers_payload_off() {
    auto [complete, missing] = observers_seen(false);
    // Who they miss, to look for in the server's logs (the first few).
    for (size_t j = 0; j < observers_.size() && missing > 0; ++j) {
      if (!observers_[j]->ready())
        continue;
      std::string some;
      int listed = 0;
      auto& held = h_.obs[j].held;
      for (size_t i = 0; i < held.size() && listed < 10; ++i)
        if ((held[i] & 2) == 0 && (held[i] & 1) != 0) {
          some += " " + o_.prefix + std::to_string(i);
          ++listed;
        }
      if (listed > 0)
        std::fprintf(stderr, "loadgen[%d]: observer %zu never saw offline:%s\n",
                     h_.worker, j, some.c_str());
    }
    return {{"observers_complete_off", complete},
            {"missing_off", missing},
            {"max_t_last_off", double(h_.t_last_off)}};
  }

  /// Heartbeat rounds for --seconds between the barriers "start" and "stop".
  void rounds() {
    barrier("start");
    h_.window_start = now_us();
    h_.rounds_on = true;
    h_.rounds = 0;
    for (auto& c : users_)
      c->start_rounds();
    sleep_ms(o_.seconds * 1000);
    h_.rounds_on = false;
    barrier("stop", {{"rounds", double(h_.rounds)}});
    for (auto& c : users_)
      c->stop_rounds();
  }

  void spawn_churn() {
    client_spec s;
    s.r = role::churn;
    s.user = o_.prefix + "c" + std::to_string(w_) + "_"
             + std::to_string(h_.churn_started);
    ++h_.churn_started;
    ++h_.churn_active;
    make_client(h_, std::move(s))->start();
  }

  // -- launching ----------------------------------------------------------------

  std::vector<std::shared_ptr<client>> launch(std::vector<client_spec> specs) {
    std::vector<std::shared_ptr<client>> out;
    for (auto& s : specs) {
      auto c = make_client(h_, std::move(s));
      out.push_back(c);
      pending_.push_back(c);
    }
    pump();
    return out;
  }

  void pump() {
    int limit = o_.concurrency_per_worker();
    while (!pending_.empty() && (limit == 0 || in_flight_ < limit)) {
      auto c = pending_.front();
      pending_.pop_front();
      ++in_flight_;
      c->start();
    }
  }

  // -- running ----------------------------------------------------------------

  /// fanout: --rep-gap-ms of quiet (the clients keep reading), a phase of
  /// its own ("gap"), so the CPU of the changes leaves it out.
  void gap() {
    if (o_.rep_gap_ms <= 0)
      return;
    auto until = clock_type::now() + std::chrono::milliseconds(o_.rep_gap_ms);
    wait([&] { return clock_type::now() >= until; }, o_.rep_gap_ms + 1000);
    barrier("gap");
  }

  /// Runs the io_context until pred() holds or timeout_ms (default
  /// --timeout-s) pass.
  template <class Pred>
  bool wait(Pred pred, int64_t timeout_ms = -1) {
    if (timeout_ms < 0)
      timeout_ms = int64_t{o_.timeout_s} * 1000;
    auto deadline = clock_type::now() + std::chrono::milliseconds(timeout_ms);
    while (!pred()) {
      if (clock_type::now() >= deadline)
        return false;
      ioc_.restart();
      ioc_.run_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  /// Every frame the joins caused has arrived (in the Socket.IO dialects
  /// every joined socket hears every join): the parent ends the join phase's
  /// CPU at the last frame's arrival (max_t_last_rx), not after the settle.
  void delivered() {
    wait_quiet();
    barrier("delivered", {{"max_t_last_rx", double(h_.t_last_rx)}});
  }

  /// Runs until no frame arrived for --settle-ms (the tail of a join phase
  /// has been delivered), at most --timeout-s.
  void wait_quiet() {
    auto quiet = int64_t{o_.settle_ms} * 1000;
    wait([&] { return now_us() - h_.t_last_rx >= quiet; });
  }

  void sleep_ms(int64_t ms) {
    auto deadline = clock_type::now() + std::chrono::milliseconds(ms);
    while (clock_type::now() < deadline) {
      ioc_.restart();
      ioc_.run_until(deadline);
    }
  }

  // -- control pipe -------------------------------------------------------------

  void read_ctl() {
    net::async_read_until(ctl_, ctl_buf_, '\n',
                          [this](boost::system::error_code ec, std::size_t n) {
                            if (ec) {
                              // The parent is gone: nothing to report to.
                              std::_Exit(3);
                            }
                            std::string line(n, '\0');
                            ctl_buf_.sgetn(line.data(),
                                           static_cast<std::streamsize>(n));
                            if (line.rfind("G", 0) == 0) {
                              reply_ = parse_kv(
                                std::string_view(line).substr(1));
                              ioc_.stop(); // back to barrier()
                            }
                            read_ctl();
                          });
  }

  void write_line(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      auto n = ::write(ctl_out_, s.data() + off, s.size() - off);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        std::_Exit(3);
      }
      off += static_cast<size_t>(n);
    }
  }

  /// Waits until every worker reached `name`; returns the merged payloads.
  kv barrier(const std::string& name, kv payload = {}) {
    payload["client_cpu_us"] = static_cast<double>(self_cpu_us());
    reply_.reset();
    write_line("B " + name + " " + serialize_kv(payload) + "\n");
    while (!reply_) {
      ioc_.restart();
      ioc_.run_for(std::chrono::seconds(1));
    }
    return *reply_;
  }

  void send_report() {
    report r;
    auto& v = r.v;
    v["users_joined"] = double(h_.users_joined);
    v["users_failed"] = double(h_.users_failed);
    v["observers_ready"] = double(h_.observers_ready);
    v["observers_failed"] = double(h_.observers_failed);
    v["dropped"] = double(h_.dropped);
    v["rounds_skipped"] = double(h_.rounds_skipped);
    v["rx_msgs"] = double(h_.rx_msgs);
    v["rx_bytes"] = double(h_.rx_bytes);
    v["list_events"] = double(h_.list_events);
    v["list_bytes"] = double(h_.list_bytes);
    v["delta_events"] = double(h_.delta_events);
    v["errors"] = double(h_.errors);
    v["rate_limited"] = double(h_.rate_limited);
    v["eio_pings"] = double(h_.eio_pings);
    v["churn_started"] = double(h_.churn_started);
    v["churn_joined"] = double(h_.churn_joined);
    v["churn_failed"] = double(h_.churn_failed);
    v["churn_missing_on"] = churn_missing_on_;
    v["churn_missing_off"] = churn_missing_off_;
    v["fan_missing_on"] = fan_missing_on_;
    v["fan_missing_off"] = fan_missing_off_;
    v["client_cpu_us"] = static_cast<double>(self_cpu_us());
    r.h["join"] = h_.join_us;
    r.h["join_ack"] = h_.join_ack_us;
    r.h["rtt"] = h_.rtt_us;
    r.h["churn_join"] = h_.churn_join_us;
    r.h["churn_on"] = h_.churn_on_us;
    r.h["churn_off"] = h_.churn_off_us;
    r.h["fan_last"] = fan_last_;
    r.h["fan_each"] = fan_each_;
    r.h["fan_last_off"] = fan_last_off_;
    r.h["fan_each_off"] = fan_each_off_;
    for (size_t i = 0; i < h_.windows.size(); ++i)
      r.h["win" + std::to_string(i)] = h_.windows[i];
    // Summed and maxed across workers by merge_kv's key rule.
    for (size_t i = 0; i < h_.max_by_s.size(); ++i) {
      v["slow_rounds_s" + std::to_string(i)] = double(h_.slow_by_s[i]);
      v["max_round_us_s" + std::to_string(i)] = double(h_.max_by_s[i]);
    }
    write_line("R " + r.serialize() + "\n");
  }

  void beast_setup() {
    boost::system::error_code ec;
    auto addr = net::ip::make_address(o_.host, ec);
    if (ec) {
      std::fprintf(stderr, "loadgen: bad host %s\n", o_.host.c_str());
      std::_Exit(2);
    }
    h_.ep = tcp::endpoint{addr, static_cast<unsigned short>(
                                  std::atoi(o_.port.c_str()))};
    for (auto& s : o_.source_ips) {
      auto a = net::ip::make_address(s, ec);
      if (ec) {
        std::fprintf(stderr, "loadgen: bad source address %s\n", s.c_str());
        std::_Exit(2);
      }
      h_.sources.push_back(a);
    }
    h_.next_source = static_cast<size_t>(w_);
  }

  const options& o_;
  int w_;
  int workers_;
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> guard_;
  hub h_;
  net::posix::stream_descriptor ctl_;
  int ctl_out_;
  net::streambuf ctl_buf_;
  std::optional<kv> reply_;
  net::steady_timer churn_timer_;
  std::deque<std::shared_ptr<client>> pending_;
  int in_flight_ = 0;
  int my_observers_ = 0;
  int user_begin_ = 0;
  int user_end_ = 0;
  int64_t expect_ = 0; // users joined over all workers
  std::vector<std::shared_ptr<client>> observers_;
  std::vector<std::shared_ptr<client>> users_;
  double churn_missing_on_ = 0;
  double churn_missing_off_ = 0;
  double fan_missing_on_ = 0;
  double fan_missing_off_ = 0;
  histogram fan_last_;
  histogram fan_each_;
  histogram fan_last_off_;
  histogram fan_each_off_;
};

} // namespace

int run_worker(const options& o, int w, int workers, int ctl_in, int ctl_out) {
  worker wk(o, w, workers, ctl_in, ctl_out);
  return wk.run();
}

} // namespace lg
