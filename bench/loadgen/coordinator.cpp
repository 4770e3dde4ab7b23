// The parent process of the load generator: forks the workers, releases the
// barriers, samples the server's CPU (/proc/PID/stat) and RSS there, merges
// the workers' reports and prints the JSON line (stdout) and a summary
// (stderr).

#include <dirent.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "loadgen.hpp"

namespace lg {

namespace {

// -- /proc ----------------------------------------------------------------------

/// utime + stime in µs from a /proc stat file (a process's or a
/// thread's); -1 if it cannot be read. `comm` (if given) gets the name
/// between the parentheses.
int64_t stat_cpu_us(const std::string& path, std::string* comm = nullptr) {
  std::ifstream f(path);
  std::string s;
  if (!std::getline(f, s))
    return -1;
  auto lp = s.find('(');
  auto rp = s.rfind(')');
  if (rp == std::string::npos || lp == std::string::npos || lp > rp)
    return -1;
  if (comm != nullptr)
    *comm = s.substr(lp + 1, rp - lp - 1);
  std::istringstream in(s.substr(rp + 1));
  std::string tok;
  // After the command: field 3 (state) ... field 14 utime, 15 stime.
  long long utime = 0;
  long long stime = 0;
  for (int field = 3; field <= 15 && in >> tok; ++field) {
    if (field == 14)
      utime = std::atoll(tok.c_str());
    else if (field == 15)
      stime = std::atoll(tok.c_str());
  }
  static const long tck = sysconf(_SC_CLK_TCK);
  return (utime + stime) * 1000000LL / (tck > 0 ? tck : 100);
}

int64_t proc_cpu_us(int pid) {
  return stat_cpu_us("/proc/" + std::to_string(pid) + "/stat");
}

/// A thread's name (presenced names its threads: presenced.io,
/// presenced.work, ...) and its CPU (µs) so far.
struct thread_cpu {
  std::string name;
  int64_t cpu_us = 0;
};

/// Every live thread of `pid`, by thread id (pid + tid: unique across
/// --server-pid). A thread that ended between two samples is missing from
/// the later one (its CPU stays in the process's figure only).
void add_thread_cpu_us(int pid, std::map<std::string, thread_cpu>& by_tid) {
  auto dir = "/proc/" + std::to_string(pid) + "/task";
  std::unique_ptr<DIR, int (*)(DIR*)> d{::opendir(dir.c_str()), ::closedir};
  if (!d)
    return;
  while (auto* e = ::readdir(d.get())) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    std::string comm;
    auto c = stat_cpu_us(dir + "/" + e->d_name + "/stat", &comm);
    if (c >= 0)
      by_tid[std::to_string(pid) + "/" + e->d_name] = {std::move(comm), c};
  }
}

int64_t proc_rss_kb(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0)
      return std::atoll(line.c_str() + 6);
  return -1;
}

struct server_sample {
  int64_t cpu_us = 0; // summed over --server-pid; -1: a pid was missing
  int64_t rss_kb = 0;
  /// At barriers only: every thread's CPU, by "pid/tid".
  std::map<std::string, thread_cpu> threads;
};

server_sample sample_servers(const options& o) {
  server_sample s;
  for (int pid : o.server_pids) {
    auto c = proc_cpu_us(pid);
    auto r = proc_rss_kb(pid);
    if (c < 0 || s.cpu_us < 0)
      s.cpu_us = -1;
    else
      s.cpu_us += c;
    if (r >= 0)
      s.rss_kb += r;
  }
  return s;
}

// -- JSON -----------------------------------------------------------------------

class json_line {
public:
  json_line& num(const char* k, double v, int decimals = 2) {
    key(k);
    if (!std::isfinite(v)) {
      out_ += "null";
      return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    out_ += buf;
    return *this;
  }
  json_line& integer(const char* k, double v) { return num(k, v, 0); }
  json_line& boolean(const char* k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
    return *this;
  }
  json_line& str(const char* k, const std::string& v) {
    key(k);
    out_ += "\"" + v + "\"";
    return *this;
  }
  json_line& raw(const char* k, const std::string& v) {
    key(k);
    out_ += v;
    return *this;
  }
  std::string done() const { return "{" + out_ + "}"; }

private:
  void key(const char* k) {
    if (!out_.empty())
      out_ += ',';
    out_ += '"';
    out_ += k;
    out_ += "\":";
  }
  std::string out_;
};

/// Latency keys PREFIX_p50 / _p99 / _max (ms) of a histogram.
void pcts(json_line& j, const std::string& prefix, const histogram& h) {
  j.num((prefix + "_p50").c_str(), h.pct_ms(50), 3);
  j.num((prefix + "_p99").c_str(), h.pct_ms(99), 3);
  j.num((prefix + "_max").c_str(), h.max_ms(), 3);
}

// -- workers --------------------------------------------------------------------

struct worker_proc {
  pid_t pid = -1;
  int rfd = -1; // from the worker
  int wfd = -1; // to the worker
  std::string buf;
  bool at_barrier = false;
  std::string barrier;
  kv payload;
  bool reported = false;
  bool eof = false;
  report rep;
};

struct snap {
  std::string name;
  int64_t t_us = 0;
  server_sample server;
  double client_cpu_us = 0;
  kv merged;
};

struct window_sample {
  int64_t t_us;
  server_sample server;
};

bool write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    auto n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

class coordinator {
public:
  explicit coordinator(const options& o) : o_(o) {}

  int run() {
    if (!spawn())
      return 3;
    bool ok = loop();
    for (auto& w : ws_) {
      int status = 0;
      if (w.pid > 0)
        ::waitpid(w.pid, &status, 0);
    }
    if (!ok) {
      std::fprintf(stderr, "loadgen: a worker failed; no result\n");
      return 3;
    }
    report total;
    for (auto& w : ws_)
      total.merge(w.rep);
    return output(total);
  }

private:
  bool spawn() {
    std::signal(SIGPIPE, SIG_IGN);
    std::fflush(nullptr);
    for (int w = 0; w < o_.procs; ++w) {
      int up[2];
      int down[2];
      if (::pipe(up) != 0 || ::pipe(down) != 0) {
        std::perror("loadgen: pipe");
        return false;
      }
      pid_t pid = ::fork();
      if (pid < 0) {
        std::perror("loadgen: fork");
        return false;
      }
      if (pid == 0) {
        for (auto& x : ws_) {
          ::close(x.rfd);
          ::close(x.wfd);
        }
        ::close(up[0]);
        ::close(down[1]);
        int rc = run_worker(o_, w, o_.procs, down[0], up[1]);
        std::fflush(nullptr);
        std::_Exit(rc);
      }
      ::close(up[1]);
      ::close(down[0]);
      worker_proc p;
      p.pid = pid;
      p.rfd = up[0];
      p.wfd = down[1];
      ws_.push_back(std::move(p));
    }
    return true;
  }

  void kill_workers() {
    for (auto& w : ws_)
      if (w.pid > 0 && !w.eof)
        ::kill(w.pid, SIGTERM);
  }

  bool loop() {
    size_t open = ws_.size();
    while (open > 0) {
      std::vector<pollfd> fds;
      for (auto& w : ws_)
        if (!w.eof)
          fds.push_back({w.rfd, POLLIN, 0});
      int timeout = -1;
      if (sampling_) {
        auto left = (next_sample_ - now_us()) / 1000;
        timeout = static_cast<int>(std::max<int64_t>(0, left));
      }
      if (!o_.server_pids.empty()) {
        auto left = (next_cpu_ - now_us()) / 1000;
        left = std::max<int64_t>(0, left);
        timeout = timeout < 0 ? static_cast<int>(left)
                              : std::min(timeout, static_cast<int>(left));
      }
      int n = ::poll(fds.data(), fds.size(), timeout);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        std::perror("loadgen: poll");
        kill_workers();
        return false;
      }
      if (!o_.server_pids.empty() && now_us() >= next_cpu_) {
        // The server's CPU every 20 ms, to end a phase at an instant that
        // is not a barrier (the last frame of a join phase).
        cpu_samples_.push_back({now_us(), sample_servers(o_)});
        next_cpu_ = now_us() + 20000;
      }
      if (sampling_ && now_us() >= next_sample_) {
        samples_.push_back({now_us(), sample_servers(o_)});
        next_sample_ += int64_t{o_.window_s} * 1000000;
      }
      for (auto& w : ws_) {
        if (w.eof)
          continue;
        bool readable = false;
        for (auto& f : fds)
          if (f.fd == w.rfd && (f.revents & (POLLIN | POLLHUP | POLLERR)))
            readable = true;
        if (!readable)
          continue;
        char buf[65536];
        auto got = ::read(w.rfd, buf, sizeof buf);
        if (got < 0 && errno == EINTR)
          continue;
        if (got <= 0) {
          w.eof = true;
          --open;
          ::close(w.rfd);
          ::close(w.wfd);
          if (!w.reported) {
            kill_workers();
            return false;
          }
          continue;
        }
        w.buf.append(buf, static_cast<size_t>(got));
        size_t nl;
        while ((nl = w.buf.find('\n')) != std::string::npos) {
          auto line = w.buf.substr(0, nl);
          w.buf.erase(0, nl + 1);
          on_line(w, line);
        }
      }
      release_if_all();
    }
    return true;
  }

  void on_line(worker_proc& w, const std::string& line) {
    if (line.rfind("B ", 0) == 0) {
      auto rest = line.substr(2);
      auto sp = rest.find(' ');
      w.barrier = rest.substr(0, sp);
      w.payload = sp == std::string::npos
                    ? kv{}
                    : parse_kv(std::string_view(rest).substr(sp + 1));
      w.at_barrier = true;
    } else if (line.rfind("R ", 0) == 0) {
      w.rep = report::parse(std::string_view(line).substr(2));
      w.reported = true;
    }
  }

  void release_if_all() {
    for (auto& w : ws_)
      if (!w.at_barrier)
        return;
    snap s;
    s.name = ws_[0].barrier;
    for (auto& w : ws_) {
      if (w.barrier != s.name)
        std::fprintf(stderr, "loadgen: barrier mismatch: %s vs %s\n",
                     w.barrier.c_str(), s.name.c_str());
      merge_kv(s.merged, w.payload);
      w.at_barrier = false;
    }
    s.client_cpu_us = s.merged["client_cpu_us"];
    s.server = sample_servers(o_);
    for (int pid : o_.server_pids)
      add_thread_cpu_us(pid, s.server.threads);
    s.t_us = now_us();
    if (o_.scen == scenario::soak && s.name == "start") {
      sampling_ = true;
      samples_.push_back({s.t_us, s.server});
      next_sample_ = s.t_us + int64_t{o_.window_s} * 1000000;
    } else if (sampling_ && s.name == "stop") {
      // A last partial window, unless it is a sliver.
      sampling_ = false;
      if (s.t_us - samples_.back().t_us > int64_t{o_.window_s} * 100000)
        samples_.push_back({s.t_us, s.server});
    }
    snaps_.push_back(s);
    auto line = "G " + serialize_kv(s.merged) + "\n";
    for (auto& w : ws_)
      write_all(w.wfd, line);
  }

  const snap* find(const std::string& name) const {
    for (auto& s : snaps_)
      if (s.name == name)
        return &s;
    return nullptr;
  }

  // -- output -------------------------------------------------------------------

  /// A synthetic snapshot at the last frame of the join phase (reported at
  /// the "delivered" barrier): the first CPU sample at or after it.
  std::optional<snap> quiet_point() const {
    auto* d = find("delivered");
    if (d == nullptr)
      return std::nullopt;
    auto it = d->merged.find("max_t_last_rx");
    if (it == d->merged.end())
      return std::nullopt;
    snap q = *d;
    q.name = "quiet";
    q.t_us = static_cast<int64_t>(it->second);
    q.server.cpu_us = -1;
    q.server.threads.clear(); // sampled at the barrier, not at this instant
    for (auto& s : cpu_samples_)
      if (s.t_us >= q.t_us) {
        q.server = s.server;
        break;
      }
    if (q.server.cpu_us < 0 || q.t_us > d->t_us)
      q.server = d->server; // no sample in between: the barrier's
    return q;
  }

  double ms_between(const snap* a, const snap* b) const {
    if (a == nullptr || b == nullptr)
      return NAN;
    return static_cast<double>(b->t_us - a->t_us) / 1000.0;
  }

  double server_ms(const snap* a, const snap* b) const {
    if (a == nullptr || b == nullptr || o_.server_pids.empty()
        || a->server.cpu_us < 0 || b->server.cpu_us < 0)
      return NAN;
    return static_cast<double>(b->server.cpu_us - a->server.cpu_us) / 1000.0;
  }

  /// Server CPU over every phase named `name` (from the barrier before).
  double phase_server_ms(const std::string& name) const {
    double sum = 0;
    for (size_t i = 1; i < snaps_.size(); ++i)
      if (snaps_[i].name == name)
        sum += server_ms(&snaps_[i - 1], &snaps_[i]);
    return sum;
  }

  double client_ms(const snap* a, const snap* b) const {
    if (a == nullptr || b == nullptr)
      return NAN;
    return (b->client_cpu_us - a->client_cpu_us) / 1000.0;
  }

  std::string phases_json() const {
    // Phases aggregated by barrier name (fanout repeats "rep", ...): the
    // time and CPU spent from the previous barrier to this one.
    std::vector<std::string> order;
    std::map<std::string, std::array<double, 5>> agg;
    for (size_t i = 1; i < snaps_.size(); ++i) {
      auto& a = snaps_[i - 1];
      auto& b = snaps_[i];
      if (agg.count(b.name) == 0) {
        order.push_back(b.name);
        agg[b.name] = {0, 0, 0, 0, 0};
      }
      auto& x = agg[b.name];
      x[0] += 1;
      x[1] += ms_between(&a, &b);
      x[2] += server_ms(&a, &b);
      x[3] += client_ms(&a, &b);
      x[4] = static_cast<double>(b.server.rss_kb);
    }
    std::string out = "[";
    for (auto& name : order) {
      auto& x = agg[name];
      json_line j;
      j.str("name", name)
        .integer("count", x[0])
        .num("ms", x[1], 1)
        .num("server_cpu_ms", x[2], 1)
        .num("client_cpu_ms", x[3], 1);
      if (!o_.server_pids.empty())
        j.integer("server_rss_kb", x[4]);
      if (out.size() > 1)
        out += ',';
      out += j.done();
    }
    return out + "]";
  }

  int output(const report& r) {
    auto v = [&](const char* k) {
      auto it = r.v.find(k);
      return it == r.v.end() ? 0.0 : it->second;
    };
    auto m = [&](const char* barrier, const char* k) {
      auto* s = find(barrier);
      if (s == nullptr)
        return 0.0;
      auto it = s->merged.find(k);
      return it == s->merged.end() ? 0.0 : it->second;
    };
    auto hist = [&](const char* k) {
      auto it = r.h.find(k);
      return it == r.h.end() ? histogram{} : it->second;
    };
    auto per = [](double total_ms, double n) {
      return n > 0 ? total_ms * 1000.0 / n : NAN;
    };
    auto first = snaps_.empty() ? nullptr : &snaps_.front();
    auto last = snaps_.empty() ? nullptr : &snaps_.back();
    auto* ready = find("ready");
    auto* fan = find("fanout");
    auto* closed = find("closed");
    auto* start = find("start");
    auto* stop = find("stop");
    auto* delivered = find("delivered");
    // The end of a join phase: the last frame the joins caused.
    auto quiet = quiet_point();
    const snap* joins_end = quiet ? &*quiet : fan;

    double users_joined = v("users_joined");
    double users_failed = v("users_failed");
    double observers_failed = v("observers_failed");
    double dropped = v("dropped");
    double missing_on = m("fanout", "missing_on");
    double missing_off = m("closed", "missing_off");
    bool all_joined = users_joined >= o_.connections;

    json_line j;
    j.str("scenario", to_string(o_.scen))
      .str("protocol", to_string(o_.proto))
      .str("observer_protocol", to_string(o_.observer_proto()))
      .integer("procs", o_.procs)
      .integer("connections", o_.scen == scenario::fanout ? 0 : o_.connections)
      .integer("observers", o_.observers);
    std::string pids = "[";
    for (size_t i = 0; i < o_.server_pids.size(); ++i)
      pids += (i ? "," : "") + std::to_string(o_.server_pids[i]);
    j.raw("server_pids", pids + "]");

    // Common counters.
    double failed = users_failed + observers_failed + v("churn_failed");
    j.integer("failed", failed)
      .integer("users_failed", users_failed)
      .integer("observers_failed", observers_failed)
      .integer("dropped", dropped)
      .integer("errors", v("errors"))
      .integer("rate_limited", v("rate_limited"))
      .integer("rx_msgs", v("rx_msgs"))
      .integer("rx_bytes", v("rx_bytes"))
      .integer("delta_events", v("delta_events"))
      .integer("list_events", v("list_events"))
      .integer("list_bytes", v("list_bytes"))
      .integer("eio_pings", v("eio_pings"));

    const snap* m0 = nullptr; // the measured phase
    const snap* m1 = nullptr;
    double ops = NAN;
    const char* per_op = nullptr;
    bool lost = failed > 0 || dropped > 0;
    std::string summary;
    char line[512];

    auto join_block = [&](const snap* t0) {
      auto join_total_ms = static_cast<double>(
                             m("joined", "max_t_last_join")
                             - static_cast<double>(t0 ? t0->t_us : 0))
                           / 1000.0;
      if (users_joined == 0 || t0 == nullptr)
        join_total_ms = 0;
      j.integer("joined", users_joined)
        .boolean("all_joined", all_joined)
        .num("join_total_ms", join_total_ms, 1)
        .num("joins_per_s",
             join_total_ms > 0 ? users_joined / (join_total_ms / 1000.0) : 0,
             0);
      auto jh = hist("join");
      j.num("join_ms_p50", jh.pct_ms(50), 3)
        .num("join_ms_p99", jh.pct_ms(99), 3)
        .num("join_ms_max", jh.max_ms(), 3);
      auto ja = hist("join_ack");
      j.num("join_ack_ms_p50", ja.pct_ms(50), 3)
        .num("join_ack_ms_p99", ja.pct_ms(99), 3);
      std::snprintf(line, sizeof line,
                    "joins: %.0f/%d in %.1f ms (%.0f/s), latency p50 %.2f "
                    "ms p99 %.2f ms; failed %.0f\n",
                    users_joined, o_.connections, join_total_ms,
                    join_total_ms > 0 ? users_joined / (join_total_ms / 1000.0)
                                      : 0,
                    jh.pct_ms(50), jh.pct_ms(99), users_failed);
      summary += line;
    };
    auto fanout_block = [&](const snap* t0) {
      bool complete = o_.observers == 0
                      || m("fanout", "observers_complete_on")
                           >= o_.observers - observers_failed;
      double ms = fan && t0 && m("fanout", "max_t_last_on") > 0
                    ? (m("fanout", "max_t_last_on")
                       - static_cast<double>(t0->t_us))
                        / 1000.0
                    : 0;
      j.boolean("fanout_complete", complete && missing_on == 0)
        .num("fanout_all_online_ms", ms, 1)
        .integer("observer_missing_online", missing_on)
        .num("all_delivered_ms", ms_between(t0, joins_end), 1);
      lost = lost || !complete || missing_on > 0;
      std::snprintf(line, sizeof line,
                    "observers: all saw everyone online: %s (%.1f ms after "
                    "the first join; missing %.0f)\n",
                    complete && missing_on == 0 ? "yes" : "NO", ms, missing_on);
      summary += line;
    };
    auto offline_block = [&](const snap* t0) {
      bool complete = o_.observers == 0
                      || m("closed", "observers_complete_off")
                           >= o_.observers - observers_failed;
      double ms = t0 && m("closed", "max_t_last_off") > 0
                    ? (m("closed", "max_t_last_off")
                       - static_cast<double>(t0->t_us))
                        / 1000.0
                    : 0;
      j.boolean("offline_complete", complete && missing_off == 0)
        .num("all_offline_ms", ms, 1)
        .integer("observer_missing_offline", missing_off);
      lost = lost || !complete || missing_off > 0;
      std::snprintf(line, sizeof line,
                    "observers: all saw everyone offline: %s (%.1f ms after "
                    "the close; missing %.0f)\n",
                    complete && missing_off == 0 ? "yes" : "NO", ms,
                    missing_off);
      summary += line;
    };
    auto rounds_block = [&]() {
      double rounds = m("stop", "rounds");
      double secs = ms_between(start, stop) / 1000.0;
      auto rtt = hist("rtt");
      j.integer("rounds", rounds)
        .num("rounds_per_s", secs > 0 ? rounds / secs : 0, 0)
        .integer("rounds_skipped", v("rounds_skipped"))
        .num("rtt_ms_p50", rtt.pct_ms(50), 3)
        .num("rtt_ms_p99", rtt.pct_ms(99), 3)
        .num("rtt_ms_max", rtt.max_ms(), 3);
      std::snprintf(line, sizeof line,
                    "rounds: %.0f in %.1f s (%.0f/s), RTT p50 %.3f ms p99 "
                    "%.3f ms max %.3f ms; skipped %.0f\n",
                    rounds, secs, secs > 0 ? rounds / secs : 0, rtt.pct_ms(50),
                    rtt.pct_ms(99), rtt.max_ms(), v("rounds_skipped"));
      summary += line;
      // Where the tail is: the seconds with rounds slower than 10 ms.
      std::string tail = "[";
      std::string tail_text;
      for (size_t i = 0;; ++i) {
        auto sec = std::to_string(i);
        auto it = r.v.find("max_round_us_s" + sec);
        if (it == r.v.end())
          break;
        auto slow = r.v.count("slow_rounds_s" + sec) > 0
                      ? r.v.at("slow_rounds_s" + sec)
                      : 0.0;
        if (slow <= 0)
          continue;
        if (tail.size() > 1)
          tail += ',';
        json_line t;
        t.integer("s", static_cast<double>(i))
          .integer("slow", slow)
          .num("max_ms", it->second / 1000.0, 1);
        tail += t.done();
        std::snprintf(line, sizeof line, "%s %zu s: %.0f (max %.1f ms)",
                      tail_text.empty() ? "" : ",", i, slow,
                      it->second / 1000.0);
        tail_text += line;
      }
      j.raw("slow_rounds_by_s", tail + "]");
      if (!tail_text.empty())
        summary += "rounds over 10 ms, by second of the run:" + tail_text
                   + "\n";
      return rounds;
    };

    switch (o_.scen) {
      case scenario::combined: {
        join_block(ready);
        fanout_block(ready);
        double rounds = rounds_block();
        // The original keys of bench/run.sh.
        j.integer("pongs", rounds)
          .num("pongs_per_s", rounds / (ms_between(start, stop) / 1000.0), 0);
        offline_block(stop);
        m0 = ready;
        m1 = closed;
        j.num("server_cpu_us_per_join",
              per(server_ms(ready, joins_end), users_joined), 1)
          .num("server_cpu_us_per_round", per(server_ms(start, stop), rounds),
               1);
        lost = lost || !all_joined;
        break;
      }
      case scenario::storm:
        join_block(ready);
        fanout_block(ready);
        offline_block(delivered);
        m0 = ready;
        m1 = joins_end;
        ops = users_joined;
        per_op = "server_cpu_us_per_join";
        j.integer("concurrency", o_.concurrency_per_worker() * o_.procs)
          .num("server_cpu_us_per_leave",
               per(server_ms(delivered, closed), users_joined), 1)
          .num("client_cpu_us_per_join", per(client_ms(ready, delivered), ops),
               1);
        lost = lost || !all_joined;
        break;
      case scenario::heartbeat: {
        j.integer("joined", users_joined).boolean("all_joined", all_joined);
        std::string round = o_.proto == protocol::native ? "ping/pong"
                            : o_.proto == protocol::sio000
                              ? "user_activity+check_user_online/"
                                "user_online_status"
                            : o_.sio004_round == "check"
                              ? "check-user-status/ack"
                              : "heartbeat/ack";
        j.str("round", round);
        ops = rounds_block();
        m0 = start;
        m1 = stop;
        per_op = "server_cpu_us_per_round";
        j.num("client_cpu_us_per_round", per(client_ms(start, stop), ops), 1);
        offline_block(stop);
        lost = lost || !all_joined;
        break;
      }
      case scenario::latency:
      case scenario::soak: {
        j.integer("held", users_joined)
          .num("rate", o_.rate, 1)
          .integer("churn_hold_ms", o_.churn_hold_ms)
          .integer("churn_started", v("churn_started"))
          .integer("churn_joined", v("churn_joined"))
          .integer("churn_failed", v("churn_failed"))
          .str("latency_from", "join_sent")
          .str("leave_latency_from", "close_sent");
        auto on = hist("churn_on");
        auto off = hist("churn_off");
        auto cj = hist("churn_join");
        j.integer("deliveries", static_cast<double>(on.count()));
        pcts(j, "delivery_ms", on);
        j.integer("leave_deliveries", static_cast<double>(off.count()));
        pcts(j, "leave_delivery_ms", off);
        pcts(j, "churn_join_ms", cj);
        j.integer("observer_missing_online", v("churn_missing_on"))
          .integer("observer_missing_offline", v("churn_missing_off"));
        lost = lost || v("churn_missing_on") > 0 || v("churn_missing_off") > 0
               || v("churn_joined") < v("churn_started");
        m0 = start;
        m1 = stop;
        ops = v("churn_joined");
        per_op = "server_cpu_us_per_churn";
        j.num("client_cpu_us_per_churn", per(client_ms(start, stop), ops), 1);
        std::snprintf(line, sizeof line,
                      "churn: %.0f joined of %.0f started (%.0f/s asked), "
                      "join->observer p50 %.2f ms p99 %.2f ms max %.2f ms; "
                      "leave p50 %.2f ms p99 %.2f ms; missing %.0f/%.0f\n",
                      v("churn_joined"), v("churn_started"), o_.rate,
                      on.pct_ms(50), on.pct_ms(99), on.max_ms(), off.pct_ms(50),
                      off.pct_ms(99), v("churn_missing_on"),
                      v("churn_missing_off"));
        summary += line;
        if (o_.scen == scenario::soak) {
          std::string ws = "[";
          for (size_t i = 0;; ++i) {
            auto it = r.h.find("win" + std::to_string(i));
            bool have_cpu = i + 1 < samples_.size();
            if (it == r.h.end() && !have_cpu)
              break;
            auto h = it == r.h.end() ? histogram{} : it->second;
            json_line w;
            w.integer("window", static_cast<double>(i))
              .integer("deliveries", static_cast<double>(h.count()))
              .num("p50_ms", h.pct_ms(50), 3)
              .num("p99_ms", h.pct_ms(99), 3)
              .num("max_ms", h.max_ms(), 3);
            if (have_cpu && !o_.server_pids.empty()) {
              auto& a = samples_[i];
              auto& b = samples_[i + 1];
              w.num("server_cpu_ms",
                    a.server.cpu_us < 0 || b.server.cpu_us < 0
                      ? NAN
                      : (b.server.cpu_us - a.server.cpu_us) / 1000.0,
                    1)
                .integer("server_rss_kb", static_cast<double>(b.server.rss_kb));
            }
            if (ws.size() > 1)
              ws += ',';
            ws += w.done();
            std::snprintf(line, sizeof line,
                          "  window %zu: %llu deliveries, p50 %.2f ms p99 "
                          "%.2f ms max %.2f ms\n",
                          i, static_cast<unsigned long long>(h.count()),
                          h.pct_ms(50), h.pct_ms(99), h.max_ms());
            summary += line;
          }
          j.integer("window_s", o_.window_s).raw("windows", ws + "]");
        }
        break;
      }
      case scenario::fanout: {
        auto last_on = hist("fan_last");
        auto each_on = hist("fan_each");
        auto last_off = hist("fan_last_off");
        auto each_off = hist("fan_each_off");
        double miss = v("fan_missing_on") + v("fan_missing_off");
        j.integer("subscribers", o_.observers)
          .integer("repeat", o_.repeat)
          .integer("rep_gap_ms", o_.rep_gap_ms)
          .integer("complete_reps", static_cast<double>(last_on.count()))
          .str("latency_from", "join_sent");
        pcts(j, "fanout_last_ms", last_on);
        j.num("fanout_each_ms_p50", each_on.pct_ms(50), 3)
          .num("fanout_each_ms_p99", each_on.pct_ms(99), 3);
        pcts(j, "leave_last_ms", last_off);
        j.num("leave_each_ms_p50", each_off.pct_ms(50), 3)
          .num("leave_each_ms_p99", each_off.pct_ms(99), 3)
          .integer("missing", miss);
        lost = lost || miss > 0
               || last_on.count() < static_cast<uint64_t>(o_.repeat);
        m0 = start;
        m1 = stop;
        ops = o_.repeat;
        per_op = "server_cpu_us_per_rep";
        // With gaps, the changes' phases only (the gaps' idle CPU out).
        j.num("server_cpu_us_per_delivery",
              per(o_.rep_gap_ms > 0
                    ? phase_server_ms("rep_on") + phase_server_ms("rep_off")
                    : server_ms(start, stop),
                  2.0 * o_.repeat * o_.observers),
              2);
        std::snprintf(line, sizeof line,
                      "fanout to %d: join->last subscriber p50 %.2f ms p99 "
                      "%.2f ms max %.2f ms; leave p50 %.2f ms; missing "
                      "%.0f\n",
                      o_.observers, last_on.pct_ms(50), last_on.pct_ms(99),
                      last_on.max_ms(), last_off.pct_ms(50), miss);
        summary += line;
        break;
      }
      case scenario::hold: {
        join_block(ready);
        fanout_block(ready);
        auto* h0 = find("hold");
        auto* h1 = find("held");
        double connected = m("held", "connected");
        double hold_dropped = m("held", "hold_dropped");
        j.integer("held_seconds", o_.seconds)
          .integer("still_connected", connected)
          .boolean("all_connected", connected >= o_.connections)
          .integer("hold_dropped", hold_dropped);
        if (!o_.server_pids.empty() && ready && h1) {
          double before = static_cast<double>(ready->server.rss_kb);
          double held = static_cast<double>(h1->server.rss_kb);
          j.integer("server_rss_kb_before", before)
            .integer("server_rss_kb_held", held)
            .num("server_rss_kb_per_connection",
                 (held - before) / std::max(1, o_.connections), 2);
        }
        offline_block(h1);
        lost = lost || connected < o_.connections || !all_joined;
        m0 = h0;
        m1 = h1;
        per_op = nullptr;
        j.num("server_cpu_us_per_join",
              per(server_ms(ready, joins_end), users_joined), 1);
        std::snprintf(line, sizeof line,
                      "hold: %.0f of %d still connected after %d s\n",
                      connected, o_.connections, o_.seconds);
        summary += line;
        break;
      }
    }

    double sms = server_ms(m0, m1);
    double cms = client_ms(m0, m1);
    j.num("measured_ms", ms_between(m0, m1), 1)
      .num("server_cpu_ms", sms, 1)
      .num("client_cpu_ms", cms, 1)
      .num("server_cpu_ms_total", server_ms(first, last), 1)
      .num("client_cpu_ms_total", v("client_cpu_us") / 1000.0, 1);
    std::string by_thread; // "presenced.io 9.1, presenced.work 2.0, ..."
    if (per_op != nullptr) {
      j.num(per_op, per(sms, ops), 1);
      // The same CPU by the server's thread names (where an operation's
      // time goes, docs/benchmarks.md): {"presenced.io": µs per op, ...}.
      // Per thread first (a thread born after m0 counts from 0), then by
      // name. Not for a phase that ends at a "quiet" instant (the storm's):
      // threads are sampled at barriers only.
      if (m0 != nullptr && m1 != nullptr && !m0->server.threads.empty()
          && !m1->server.threads.empty()) {
        std::map<std::string, int64_t> by_name;
        for (auto& [tid, t] : m1->server.threads) {
          auto before = m0->server.threads.find(tid);
          by_name[t.name] += t.cpu_us
                             - (before == m0->server.threads.end()
                                  ? 0
                                  : before->second.cpu_us);
        }
        std::vector<std::pair<double, std::string>> rows;
        for (auto& [name, us] : by_name)
          if (us > 0)
            rows.emplace_back(per(us / 1000.0, ops), name);
        std::sort(rows.rbegin(), rows.rend());
        std::string obj = "{";
        for (auto& [v, name] : rows) {
          std::string key; // a thread's name as a JSON string
          for (char ch : name)
            if (ch == '"' || ch == '\\')
              key += std::string{'\\', ch};
            else if (static_cast<unsigned char>(ch) >= 0x20)
              key += ch;
          char buf[160];
          std::snprintf(buf, sizeof buf, "%s\"%s\":%.2f",
                        obj.size() > 1 ? "," : "", key.c_str(), v);
          obj += buf;
          std::snprintf(buf, sizeof buf, "%s%s %.1f",
                        by_thread.empty() ? "" : ", ", name.c_str(), v);
          by_thread += buf;
        }
        j.raw("server_cpu_us_per_op_by_thread", obj + "}");
      }
    }
    j.raw("phases", phases_json()).boolean("lost", lost);
    std::printf("%s\n", j.done().c_str());
    std::fflush(stdout);

    if (!o_.quiet) {
      std::fprintf(stderr,
                   "loadgen: %s/%s, %d connections, %d observers, %d "
                   "process(es)\n%s",
                   to_string(o_.scen), to_string(o_.proto),
                   o_.scen == scenario::fanout ? 1 : o_.connections,
                   o_.observers, o_.procs, summary.c_str());
      if (o_.server_pids.empty())
        std::fprintf(stderr,
                     "cpu: load generator %.1f ms in the measured %.1f ms "
                     "(no --server-pid)",
                     cms, ms_between(m0, m1));
      else if (std::isnan(sms))
        std::fprintf(stderr,
                     "cpu: server n/a (a --server-pid is gone), load "
                     "generator %.1f ms in the measured %.1f ms",
                     cms, ms_between(m0, m1));
      else
        std::fprintf(stderr,
                     "cpu: server %.1f ms, load generator %.1f ms in the "
                     "measured %.1f ms",
                     sms, cms, ms_between(m0, m1));
      if (per_op != nullptr && !std::isnan(sms))
        std::fprintf(stderr, "; %s %.1f", per_op, per(sms, ops));
      if (!by_thread.empty())
        std::fprintf(stderr, "\nserver cpu per op by thread (µs): %s",
                     by_thread.c_str());
      std::fprintf(stderr,
                   "\ntraffic: %.0f messages, %.0f bytes received "
                   "(%.0f deltas, %.0f lists); errors %.0f, rate limited "
                   "%.0f, dropped %.0f\n%s\n",
                   v("rx_msgs"), v("rx_bytes"), v("delta_events"),
                   v("list_events"), v("errors"), v("rate_limited"), dropped,
                   lost ? "RESULT: something was lost (exit 1)" : "RESULT: ok");
    }
    return lost ? 1 : 0;
  }

  const options& o_;
  std::vector<worker_proc> ws_;
  std::vector<snap> snaps_;
  std::vector<window_sample> cpu_samples_;
  int64_t next_cpu_ = 0;
  bool sampling_ = false;
  int64_t next_sample_ = 0;
  std::vector<window_sample> samples_;
};

} // namespace

int coordinate(const options& o) {
  // The open-files soft limit up to the hard one (20,000 here).
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  coordinator c(o);
  return c.run();
}

} // namespace lg
