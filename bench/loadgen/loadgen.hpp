// Shared declarations of the load generator (bench/loadgen.cpp has the
// overview, the CLI and the JSON keys).
//
// Process layout: the parent (coordinator.cpp) forks --procs workers
// (worker.cpp). Each worker runs one thread and one io_context with its
// share of the clients (client.cpp). At every phase boundary the workers
// meet at a barrier over a pipe: the parent samples the server's CPU and
// RSS there, merges the workers' payloads and sends the merged payload back
// (so a worker can learn, e.g., when worker 0 sent a join). At the end each
// worker sends its report (counters and histograms) and the parent merges
// them into one JSON line.

#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace lg {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

/// Microseconds on the steady clock (CLOCK_MONOTONIC on Linux: the same
/// clock in every process of the machine, so workers can compare times).
inline int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           clock_type::now().time_since_epoch())
    .count();
}

// -- options ------------------------------------------------------------------

enum class protocol { native, sio000, sio004 };
enum class scenario { combined, storm, heartbeat, latency, fanout, hold, soak };

const char* to_string(protocol p);
const char* to_string(scenario s);

struct options {
  std::string host = "127.0.0.1";
  std::string port;
  protocol proto = protocol::native;
  /// What observers speak (--observer-protocol; default: proto), e.g.
  /// Socket.IO observers of native joins: seed 000 sends every join to
  /// every socket, so 10,000 Socket.IO users online cannot be held here,
  /// but two Socket.IO observers among 10,000 native users can.
  std::optional<protocol> observer_proto_set;
  protocol observer_proto() const { return observer_proto_set.value_or(proto); }
  scenario scen = scenario::combined;
  std::string sio_path = "/socket.io/";
  std::string sio004_round = "heartbeat"; // or "check"
  std::string sio000_confirm = "ack";     // or "list"
  int connections = 1000;
  int observers = 2;
  int seconds = 10;
  int ping_ms = 1000;
  std::string prefix = "u";
  int concurrency = -1; // -1: scenario default (combined: all at once; 200)
  double rate = 100;    // churn joins per second (all workers)
  int churn_hold_ms = 1000;
  int repeat = 20;
  /// fanout: quiet ms before each join and each close (0: back to back)
  int rep_gap_ms = 0;
  int procs = 1;
  int settle_ms = -1; // -1: 500, sio000 1200 (see parse_options)
  int timeout_s = 60;
  int window_s = 60;
  std::string ready_file;
  /// latency, soak: every churn join an observer saw, one line each
  /// (join sent, µs since the epoch; latency, µs; observer) in
  /// FILE.<worker>: where in a run the tail is.
  std::string samples_file;
  std::vector<std::string> source_ips;
  std::vector<int> server_pids;
  bool quiet = false;

  /// Connections in flight per worker during a join phase (0: no bound).
  int concurrency_per_worker() const;
};

/// Parses argv; on error prints to stderr and returns false (rc set).
bool parse_options(int argc, char** argv, options& o, int& rc);

// -- histogram ----------------------------------------------------------------

/// Log-bucketed histogram of microsecond values (2% buckets, exact count,
/// min, max and sum): mergeable across workers, fixed size.
/// A heartbeat round slower than this counts in the per-second tail.
constexpr int64_t slow_round_us = 10000;

class histogram {
public:
  void add(int64_t us);
  void merge(const histogram& other);
  uint64_t count() const { return n_; }
  /// Nearest-rank percentile in ms (p in [0,100]); 0 when empty.
  double pct_ms(double p) const;
  double max_ms() const { return n_ == 0 ? 0 : max_ / 1000.0; }
  double mean_ms() const { return n_ == 0 ? 0 : sum_ / n_ / 1000.0; }
  std::string serialize() const;
  bool parse(std::string_view text);

private:
  static constexpr int buckets = 1200;
  static int index(int64_t us);
  static double value(int idx);
  std::vector<uint64_t> c_;
  uint64_t n_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  double sum_ = 0;
};

// -- key/value payloads and reports -------------------------------------------

/// Barrier payloads. Merge rule by key: "max_*" takes the maximum, "min_*"
/// the minimum, anything else is summed.
using kv = std::map<std::string, double>;

void merge_kv(kv& into, const kv& from);
std::string serialize_kv(const kv& x);
kv parse_kv(std::string_view text);

struct report {
  kv v;
  std::map<std::string, histogram> h;
  void merge(const report& other);
  std::string serialize() const;
  static report parse(std::string_view text);
};

// -- clients ------------------------------------------------------------------

enum class role {
  user,     // held user: joins, may do heartbeat rounds
  observer, // counts deltas about other users
  churn,    // joins, stays churn_hold_ms, leaves (name carries its send time)
  fan,      // the fanout scenario's single user
};

struct client_spec {
  role r = role::user;
  std::string user; // user id (observers: sio only; native ones are anonymous)
  int index = 0;    // observers: local observer index
};

/// What an observer has seen.
struct observer_state {
  std::vector<uint8_t> held; // per held user: bit 0 online, bit 1 offline
  int64_t held_on = 0;
  int64_t held_off = 0;
  int64_t churn_on = 0;
  int64_t churn_off = 0;
  int64_t fan_on_t = 0; // this repetition: when the fan user was seen
  int64_t fan_off_t = 0;
};

/// Per-worker state shared by all its clients (one thread: no locking).
struct hub {
  hub(const options& o, net::io_context& io) : opt(o), ioc(io) {}

  const options& opt;
  net::io_context& ioc;
  tcp::endpoint ep;
  std::vector<net::ip::address> sources;
  size_t next_source = 0;
  int worker = 0;
  int64_t held_total = 0; // users held over all workers (observers see them)

  /// Called once per client when it leaves the connecting phase (ready or
  /// failed): the launcher starts the next one.
  std::function<void()> slot_free;

  // Connections.
  int64_t users_joined = 0;
  int64_t users_failed = 0;
  int64_t observers_ready = 0;
  int64_t observers_failed = 0;
  int64_t dropped = 0;     // closed by the peer after being ready
  int64_t closed = 0;      // closed by us, close completed
  int64_t t_last_join = 0; // when the last held user was confirmed
  histogram join_us;       // connect start -> joined (held users)
  histogram join_ack_us;   // join sent -> joined (held users)

  // Heartbeat rounds.
  bool rounds_on = false;
  int64_t rounds = 0;
  int64_t rounds_skipped = 0;
  histogram rtt_us;
  /// Per second of the measurement (by the round's send time, from
  /// window_start): rounds slower than slow_round_us, and the slowest
  /// round. Where in a run the tail happens (one stall or a steady trickle).
  std::vector<int64_t> slow_by_s;
  std::vector<int64_t> max_by_s;

  // Traffic.
  int64_t rx_msgs = 0;
  int64_t rx_bytes = 0;
  int64_t t_last_rx = 0;   // when the last frame arrived
  int64_t list_events = 0; // seed 000 online_users_list
  int64_t list_bytes = 0;
  int64_t delta_events = 0; // presence deltas received by any client
  int64_t errors = 0;       // error frames, presence-error, failed acks
  int64_t rate_limited = 0;
  int64_t eio_pings = 0;

  // Observers.
  std::vector<observer_state> obs;
  int64_t t_last_on = 0; // last first-sighting of a held user online
  int64_t t_last_off = 0;

  // Churn (latency, soak).
  int64_t churn_started = 0;
  int64_t churn_joined = 0;
  int64_t churn_failed = 0;
  int64_t churn_active = 0; // started, not yet closed/failed
  histogram churn_join_us;  // join sent -> joined
  histogram churn_on_us;    // join sent -> observer saw online
  /// (join sent, latency, observer) per churn join seen (--samples-file).
  std::vector<std::array<int64_t, 3>> churn_on_samples;
  histogram churn_off_us;   // close sent -> observer saw offline
  int64_t window_start = 0; // soak: per-window histograms
  std::vector<histogram> windows;

  // Fanout.
  int64_t fan_seq = 0; // repetition
  int64_t fan_on_seen = 0;
  int64_t fan_off_seen = 0;
  int64_t fan_t_send = 0;
  int64_t fan_t_close = 0;
  bool fan_ready = false;
  bool fan_failed = false;

  int64_t failures_logged = 0;

  /// A presence delta seen by observer `o` at `t`.
  void on_delta(int o, std::string_view user, bool online, int64_t t);
  void log_failure(const std::string& what);
  bool starts_with_prefix(std::string_view user) const;
};

class client {
public:
  virtual ~client() = default;
  virtual void start() = 0;
  /// Heartbeat rounds every opt.ping_ms until hub::rounds_on turns false.
  virtual void start_rounds() = 0;
  virtual void stop_rounds() = 0;
  /// Closes normally (WebSocket close handshake).
  virtual void close() = 0;
  virtual bool ready() const = 0;
  /// Closed, failed or dropped: nothing more will happen.
  virtual bool finished() const = 0;
};

std::shared_ptr<client> make_client(hub& h, client_spec spec);

// -- processes ----------------------------------------------------------------

/// Runs one worker on the control pipe (ctl_in from the parent, ctl_out to
/// it). Returns the process exit code.
int run_worker(const options& o, int worker, int workers, int ctl_in,
               int ctl_out);

/// Forks the workers, runs the barriers, prints the JSON line. Returns the
/// process exit code.
int coordinate(const options& o);

} // namespace lg
