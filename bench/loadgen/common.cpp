// Options, histogram, payloads and reports of the load generator.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <limits>

#include "loadgen.hpp"

namespace lg {

// -- options ------------------------------------------------------------------

const char* to_string(protocol p) {
  switch (p) {
    case protocol::native:
      return "native";
    case protocol::sio000:
      return "sio000";
    case protocol::sio004:
      return "sio004";
  }
  return "?";
}

const char* to_string(scenario s) {
  switch (s) {
    case scenario::combined:
      return "combined";
    case scenario::storm:
      return "storm";
    case scenario::heartbeat:
      return "heartbeat";
    case scenario::latency:
      return "latency";
    case scenario::fanout:
      return "fanout";
    case scenario::hold:
      return "hold";
    case scenario::soak:
      return "soak";
  }
  return "?";
}

int options::concurrency_per_worker() const {
  int c = concurrency;
  if (c < 0)
    c = scen == scenario::combined ? 0 : 200;
  if (c == 0)
    return 0;
  return std::max(1, (c + procs - 1) / procs);
}

namespace {

const char* usage
  = "usage: loadgen --port P [--host 127.0.0.1]\n"
    "  [--protocol native|sio000|sio004] [--sio-path /socket.io/]\n"
    "  [--observer-protocol native|sio000|sio004]\n"
    "  [--scenario combined|storm|heartbeat|latency|fanout|hold|soak]\n"
    "  [--connections N] [--observers K] [--seconds S] [--ping-interval-ms "
    "MS]\n"
    "  [--concurrency C] [--rate R] [--churn-hold-ms MS] [--repeat M]\n"
    "  [--rep-gap-ms MS]\n"
    "  [--procs P] [--source-ips A,B,..] [--server-pid PID[,PID..]]...\n"
    "  [--prefix u] [--settle-ms MS] [--timeout-s S] [--window-s S]\n"
    "  [--sio004-round heartbeat|check] [--sio000-confirm ack|list]\n"
    "  [--ready-file F] [--samples-file F] [--quiet]\n"
    "See bench/README.md (or the top of bench/loadgen.cpp).\n";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    auto j = s.find(sep, i);
    if (j == std::string::npos)
      j = s.size();
    if (j > i)
      out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool to_int(const std::string& s, int& out) {
  char* end = nullptr;
  long x = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || x < std::numeric_limits<int>::min()
      || x > std::numeric_limits<int>::max())
    return false;
  out = static_cast<int>(x);
  return true;
}

bool to_double(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && *end == '\0';
}

} // namespace

bool parse_options(int argc, char** argv, options& o, int& rc) {
  auto bad = [&](const std::string& why) {
    std::fprintf(stderr, "loadgen: %s\n%s", why.c_str(), usage);
    rc = 2;
    return false;
  };
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--help" || k == "-h") {
      std::fputs(usage, stdout);
      rc = 0;
      return false;
    }
    if (k == "--quiet") {
      o.quiet = true;
      continue;
    }
    static const char* known[] = {
      "--host",
      "--port",
      "--protocol",
      "--scenario",
      "--sio-path",
      "--sio004-round",
      "--sio000-confirm",
      "--connections",
      "--observers",
      "--seconds",
      "--ping-interval-ms",
      "--prefix",
      "--concurrency",
      "--rate",
      "--churn-hold-ms",
      "--repeat",
      "--procs",
      "--settle-ms",
      "--timeout-s",
      "--window-s",
      "--ready-file",
      "--source-ips",
      "--server-pid",
      "--samples-file",
      "--rep-gap-ms",
      "--observer-protocol",
    };
    if (std::find(std::begin(known), std::end(known), k) == std::end(known))
      return bad("unknown option " + k);
    if (i + 1 >= argc)
      return bad("missing value for " + k);
    std::string v = argv[++i];
    bool ok = true;
    if (k == "--host")
      o.host = v;
    else if (k == "--port")
      o.port = v;
    else if (k == "--protocol" || k == "--observer-protocol") {
      auto& p = k == "--protocol" ? o.proto : o.observer_proto_set.emplace();
      if (v == "native")
        p = protocol::native;
      else if (v == "sio000")
        p = protocol::sio000;
      else if (v == "sio004")
        p = protocol::sio004;
      else
        ok = false;
    } else if (k == "--scenario") {
      static const std::pair<const char*, scenario> names[] = {
        {"combined", scenario::combined},   {"storm", scenario::storm},
        {"heartbeat", scenario::heartbeat}, {"latency", scenario::latency},
        {"fanout", scenario::fanout},       {"hold", scenario::hold},
        {"soak", scenario::soak},
      };
      ok = false;
      for (auto& [name, s] : names)
        if (v == name) {
          o.scen = s;
          ok = true;
        }
    } else if (k == "--sio-path") {
      o.sio_path = v;
      ok = !v.empty() && v[0] == '/';
    } else if (k == "--sio004-round") {
      o.sio004_round = v;
      ok = v == "heartbeat" || v == "check";
    } else if (k == "--sio000-confirm") {
      o.sio000_confirm = v;
      ok = v == "ack" || v == "list";
    } else if (k == "--connections")
      ok = to_int(v, o.connections) && o.connections >= 0;
    else if (k == "--observers")
      ok = to_int(v, o.observers) && o.observers >= 0;
    else if (k == "--seconds")
      ok = to_int(v, o.seconds) && o.seconds >= 0;
    else if (k == "--ping-interval-ms")
      ok = to_int(v, o.ping_ms) && o.ping_ms > 0;
    else if (k == "--prefix")
      o.prefix = v;
    else if (k == "--concurrency")
      ok = to_int(v, o.concurrency) && o.concurrency >= 0;
    else if (k == "--rate")
      ok = to_double(v, o.rate) && o.rate > 0;
    else if (k == "--churn-hold-ms")
      ok = to_int(v, o.churn_hold_ms) && o.churn_hold_ms >= 0;
    else if (k == "--repeat")
      ok = to_int(v, o.repeat) && o.repeat > 0;
    else if (k == "--rep-gap-ms")
      ok = to_int(v, o.rep_gap_ms) && o.rep_gap_ms >= 0;
    else if (k == "--procs")
      ok = to_int(v, o.procs) && o.procs >= 1 && o.procs <= 64;
    else if (k == "--settle-ms")
      ok = to_int(v, o.settle_ms) && o.settle_ms >= 0;
    else if (k == "--timeout-s")
      ok = to_int(v, o.timeout_s) && o.timeout_s > 0;
    else if (k == "--window-s")
      ok = to_int(v, o.window_s) && o.window_s > 0;
    else if (k == "--ready-file")
      o.ready_file = v;
    else if (k == "--samples-file")
      o.samples_file = v;
    else if (k == "--source-ips") {
      o.source_ips = split(v, ',');
      ok = !o.source_ips.empty();
    } else if (k == "--server-pid") {
      for (auto& p : split(v, ',')) {
        int pid = 0;
        if (!to_int(p, pid) || pid <= 0)
          ok = false;
        else
          o.server_pids.push_back(pid);
      }
    } else
      return bad("unknown option " + k);
    if (!ok)
      return bad("bad value for " + k + ": " + v);
  }
  if (o.port.empty())
    return bad("--port is required");
  // Quiet time before a measured phase: seed 000 may push an
  // online_users_list up to --sio-list-window (1 s) after the last change.
  if (o.settle_ms < 0)
    o.settle_ms = o.proto == protocol::sio000
                      || o.observer_proto() == protocol::sio000
                    ? 1200
                    : 500;
  if (o.host.rfind("127.", 0) != 0)
    return bad("loopback (127.0.0.0/8) only");
  if (o.prefix.empty())
    return bad("--prefix must not be empty");
  // One process holds at most ~19,900 sockets (open-files limit 20,000).
  long per_worker = (static_cast<long>(o.connections) + o.observers) / o.procs
                    + 1;
  if (o.scen == scenario::fanout)
    per_worker = o.observers / o.procs + 2;
  if (per_worker > 19500)
    return bad("about " + std::to_string(per_worker)
               + " sockets per process: over the open-files limit; "
                 "use more --procs");
  return true;
}

// -- histogram ----------------------------------------------------------------

namespace {
constexpr double log_base = 0.0198026272961797; // ln(1.02)
} // namespace

int histogram::index(int64_t us) {
  if (us <= 0)
    return 0;
  int i = 1 + static_cast<int>(std::log(static_cast<double>(us)) / log_base);
  return std::min(i, buckets - 1);
}

double histogram::value(int idx) {
  if (idx == 0)
    return 0;
  return std::exp((idx - 1 + 0.5) * log_base);
}

void histogram::add(int64_t us) {
  if (us < 0)
    us = 0;
  if (c_.empty())
    c_.assign(buckets, 0);
  ++c_[index(us)];
  if (n_ == 0 || us < min_)
    min_ = us;
  if (n_ == 0 || us > max_)
    max_ = us;
  ++n_;
  sum_ += static_cast<double>(us);
}

void histogram::merge(const histogram& other) {
  if (other.n_ == 0)
    return;
  if (c_.empty())
    c_.assign(buckets, 0);
  for (int i = 0; i < buckets; ++i)
    c_[i] += other.c_[i];
  min_ = n_ == 0 ? other.min_ : std::min(min_, other.min_);
  max_ = n_ == 0 ? other.max_ : std::max(max_, other.max_);
  n_ += other.n_;
  sum_ += other.sum_;
}

double histogram::pct_ms(double p) const {
  if (n_ == 0)
    return 0;
  if (p >= 100)
    return max_ / 1000.0;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * n_));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t acc = 0;
  for (int i = 0; i < buckets; ++i) {
    acc += c_[i];
    if (acc >= rank) {
      double v = std::clamp(value(i), static_cast<double>(min_),
                            static_cast<double>(max_));
      return v / 1000.0;
    }
  }
  return max_ / 1000.0;
}

std::string histogram::serialize() const {
  std::string out = std::to_string(n_) + "," + std::to_string(min_) + ","
                    + std::to_string(max_) + ","
                    + std::to_string(static_cast<int64_t>(sum_));
  for (int i = 0; i < static_cast<int>(c_.size()); ++i)
    if (c_[i] != 0)
      out += "," + std::to_string(i) + ":" + std::to_string(c_[i]);
  return out;
}

bool histogram::parse(std::string_view text) {
  *this = histogram{};
  std::string s(text);
  char* p = s.data();
  char* end = nullptr;
  n_ = std::strtoull(p, &end, 10);
  if (*end != ',')
    return false;
  min_ = std::strtoll(end + 1, &end, 10);
  if (*end != ',')
    return false;
  max_ = std::strtoll(end + 1, &end, 10);
  if (*end != ',')
    return false;
  sum_ = static_cast<double>(std::strtoll(end + 1, &end, 10));
  c_.assign(buckets, 0);
  while (*end == ',') {
    long i = std::strtol(end + 1, &end, 10);
    if (*end != ':' || i < 0 || i >= buckets)
      return false;
    c_[i] = std::strtoull(end + 1, &end, 10);
  }
  return *end == '\0';
}

// -- payloads -----------------------------------------------------------------

void merge_kv(kv& into, const kv& from) {
  for (auto& [k, v] : from) {
    auto it = into.find(k);
    if (it == into.end())
      into.emplace(k, v);
    else if (k.rfind("max_", 0) == 0)
      it->second = std::max(it->second, v);
    else if (k.rfind("min_", 0) == 0)
      it->second = std::min(it->second, v);
    else
      it->second += v;
  }
}

std::string serialize_kv(const kv& x) {
  std::string out;
  char buf[64];
  for (auto& [k, v] : x) {
    std::snprintf(buf, sizeof buf, "%.17g", v);
    if (!out.empty())
      out += ' ';
    out += k + "=" + buf;
  }
  return out;
}

kv parse_kv(std::string_view text) {
  kv out;
  size_t i = 0;
  while (i < text.size()) {
    auto j = text.find(' ', i);
    if (j == std::string_view::npos)
      j = text.size();
    auto tok = text.substr(i, j - i);
    auto eq = tok.find('=');
    if (eq != std::string_view::npos)
      out[std::string(tok.substr(0, eq))]
        = std::strtod(std::string(tok.substr(eq + 1)).c_str(), nullptr);
    i = j + 1;
  }
  return out;
}

void report::merge(const report& other) {
  merge_kv(v, other.v);
  for (auto& [k, x] : other.h)
    h[k].merge(x);
}

std::string report::serialize() const {
  std::string out = serialize_kv(v);
  for (auto& [k, x] : h) {
    if (x.count() == 0)
      continue;
    out += " H:" + k + "=" + x.serialize();
  }
  return out;
}

report report::parse(std::string_view text) {
  report r;
  std::string plain;
  size_t i = 0;
  while (i < text.size()) {
    auto j = text.find(' ', i);
    if (j == std::string_view::npos)
      j = text.size();
    auto tok = text.substr(i, j - i);
    if (tok.rfind("H:", 0) == 0) {
      auto eq = tok.find('=');
      if (eq != std::string_view::npos)
        r.h[std::string(tok.substr(2, eq - 2))].parse(tok.substr(eq + 1));
    } else {
      plain += std::string(tok) + " ";
    }
    i = j + 1;
  }
  r.v = parse_kv(plain);
  return r;
}

} // namespace lg
