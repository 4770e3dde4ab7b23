#include "edge/common/edge_probe.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "core/messages.hpp"

namespace presence::edge {

namespace {

prometheus::Counter* counter(prometheus::Registry& r, const char* name,
                             const char* help) {
  return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
}

prometheus::Gauge* gauge(prometheus::Registry& r, const char* name,
                         const char* help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

prometheus::Histogram* histogram(prometheus::Registry& r, const char* name,
                                 const char* help) {
  prometheus::Histogram::BucketBoundaries bounds;
  for (auto us : latency_histogram::bounds_us)
    bounds.push_back(static_cast<double>(us) / 1e6);
  return &prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add(
    {}, bounds);
}

} // namespace

edge_probe::edge_probe() : registry(std::make_shared<prometheus::Registry>()) {
  auto& r = *registry;
  connections = gauge(r, "presence_connections", "Open TCP connections");
  ws_sessions = gauge(r, "presence_ws_sessions", "Open WebSocket sessions");
  ws_accepted = counter(r, "presence_ws_accepted_total",
                        "WebSocket upgrades accepted");
  ws_rejected = counter(r, "presence_ws_rejected_total",
                        "WebSocket upgrades refused (auth, limits, path)");
  frames_in = counter(r, "presence_frames_in_total",
                      "WebSocket messages received");
  frames_out = counter(r, "presence_frames_out_total",
                       "WebSocket messages queued for sending");
  chat_messages = counter(r, "presence_chat_messages_total",
                          "Private messages stored (retries not counted)");
  protocol_errors = counter(r, "presence_protocol_errors_total",
                            "Error frames sent to clients");
  rate_limited = counter(r, "presence_rate_limited_total",
                         "Messages dropped by the per-session rate limit");
  slow_consumers = counter(r, "presence_slow_consumers_total",
                           "Sessions closed because they did not read");
  fanout_shared
    = counter(r, "presence_fanout_shared_tasks_total",
              "Fan-out sends an I/O thread shared with its helper thread "
              "(--fanout-helper-min), in tasks of up to 128 subscribers");
  sio_ping_timeouts
    = counter(r, "presence_sio_ping_timeouts_total",
              "Socket.IO sessions closed because no pong came within "
              "--sio-ping-timeout");
  ws_idle_timeouts
    = counter(r, "presence_ws_idle_timeouts_total",
              "WebSocket connections closed because the client sent nothing "
              "(not even a pong) for --ws-idle-timeout");
  http_requests = counter(r, "presence_http_requests_total",
                          "HTTP requests answered");
  http_errors = counter(r, "presence_http_errors_total",
                        "HTTP responses with status >= 400");
  tls_handshake_failures = counter(
    r, "presence_tls_handshake_failures_total",
    "TLS handshakes that failed (plain HTTP on the HTTPS port, old TLS "
    "versions, clients that do not trust the certificate)");
  online_users = gauge(r, "presence_online_users", "Users visible online");
  auto& by_dialect
    = prometheus::BuildGauge()
        .Name("presence_sessions")
        .Help(
          "Open sessions by dialect: native WebSocket sessions, and "
          "Socket.IO namespaces once their seed dialect is known "
          "(seed000 includes seed 001's clients)")
        .Register(r);
  sessions.native = &by_dialect.Add({{"dialect", "native"}});
  sessions.seed000 = &by_dialect.Add({{"dialect", "seed000"}});
  sessions.seed002 = &by_dialect.Add({{"dialect", "seed002"}});
  sessions.seed004 = &by_dialect.Add({{"dialect", "seed004"}});
  auto& members = prometheus::BuildGauge()
                    .Name("presence_cluster_members")
                    .Help(
                      "Cluster members as this node sees them, by state "
                      "(this node counts as alive; 1 without a cluster)")
                    .Register(r);
  members_alive = &members.Add({{"state", "alive"}});
  members_dead = &members.Add({{"state", "dead"}});
  ring_version = gauge(r, "presence_ring_version",
                       "Version of this node's cluster view: up by one at "
                       "every membership change (changes() counts ring "
                       "changes)");
  delivery_delay_.histogram = histogram(
    r, "presence_delivery_delay_seconds",
    "Age of each presence change when this node's fan-out hands it to its "
    "subscribers (now minus the change's time: the coalescing window and "
    "queues; across nodes, plus clock skew)");
  tick_delay_.histogram = histogram(
    r, "presence_cluster_tick_delay_seconds",
    "How late the membership's heartbeat tick ran (cluster mode): near "
    "--failure-timeout, the other members declare this node dead");
  store_write_.histogram
    = histogram(r, "presence_store_write_seconds",
                "Duration of each RocksDB write (a batch)");
  struct {
    const char* name;
    const char* help;
    std::atomic<uint64_t> store_stats::*counter;
  } store[] = {
    {"presence_store_checkpoint_flushes",
     "Batches of activity checkpoints written",
     &store_stats::checkpoint_flushes},
    {"presence_store_checkpoints_written", "Activity checkpoints written",
     &store_stats::checkpoints_written},
    {"presence_store_memtable_bytes",
     "Bytes in RocksDB's memtables (at most --store-memtable-mb, then "
     "flushed to disk)",
     &store_stats::memtable_bytes},
    {"presence_store_block_cache_bytes",
     "Bytes in RocksDB's block cache (at most --store-cache-mb)",
     &store_stats::block_cache_bytes},
    {"presence_store_table_reader_bytes",
     "Bytes RocksDB holds for its open tables' index and filter blocks",
     &store_stats::table_reader_bytes},
    {"presence_store_checkpoint_newest_ms",
     "Newest activity time (ms since the epoch) a checkpoint has written: "
     "what a crash now would keep",
     &store_stats::checkpoint_newest_ms},
    {"presence_store_sessions_closed", "Online sessions recorded as ended",
     &store_stats::sessions_closed},
    {"presence_store_sessions_recovered",
     "Sessions closed at start after a crash",
     &store_stats::sessions_recovered},
    {"presence_store_write_errors",
     "Store writes that failed (each once; retried while the process lives)",
     &store_stats::write_errors},
    {"presence_store_writes_pending",
     "Failed store writes waiting to be retried", &store_stats::writes_pending},
    {"presence_store_writes_dropped",
     "Store writes given up (retry queue full, corruption, or shutdown)",
     &store_stats::writes_dropped},
    {"presence_repair_copies",
     "Records (a user's or a conversation's) copied to nodes that became "
     "their replicas",
     &store_stats::repair_copies},
    {"presence_repair_failures",
     "Replica repair copies that failed (a later pass retries them)",
     &store_stats::repair_failures},
    {"presence_repair_passes", "Replica repair passes finished",
     &store_stats::repair_passes},
    {"presence_repair_running", "1 while a replica repair pass runs",
     &store_stats::repair_running},
  };
  for (auto& x : store)
    store_gauges.push_back({gauge(r, x.name, x.help), x.counter});
}

void edge_probe::refresh(const store_stats& s) const {
  for (auto& g : store_gauges)
    g.gauge->Set(static_cast<double>((s.*g.counter).load()));
}

void edge_probe::refresh(const cluster_status& cs) const {
  double alive = 0;
  double dead = 0;
  for (auto& m : cs.members)
    (m.state == "dead" ? dead : alive) += 1;
  members_alive->Set(alive);
  members_dead->Set(dead);
  ring_version->Set(static_cast<double>(cs.ring_version));
}

void edge_probe::fed_histogram::feed(const latency_histogram& h) {
  auto n = h.buckets.size();
  taken.resize(n, 0);
  std::vector<double> inc(n, 0.0);
  bool any = false;
  for (size_t i = 0; i < n; ++i) {
    auto now = h.buckets[i].load(std::memory_order_relaxed);
    inc[i] = static_cast<double>(now - taken[i]);
    any = any || now != taken[i];
    taken[i] = now;
  }
  auto sum = h.sum_us.load(std::memory_order_relaxed);
  auto sum_inc = static_cast<double>(sum - taken_sum_us) / 1e6;
  taken_sum_us = sum;
  if (any)
    histogram->ObserveMultiple(inc, sum_inc);
}

void edge_probe::refresh(const node_stats* node,
                         const store_stats* store) const {
  std::lock_guard<std::mutex> guard{histograms_mu_};
  if (node != nullptr) {
    delivery_delay_.feed(node->delivery_delay);
    tick_delay_.feed(node->tick_delay);
  }
  if (store != nullptr)
    store_write_.feed(store->write_latency);
}

void edge_probe::add_scraped(const std::string& name, const std::string& help,
                             std::function<double()> read) {
  auto* g = gauge(*registry, name.c_str(), help.c_str());
  std::lock_guard<std::mutex> guard{scraped_mu_};
  scraped_.emplace_back(g, std::move(read));
}

void edge_probe::refresh_scraped() const {
  std::lock_guard<std::mutex> guard{scraped_mu_};
  for (auto& [g, read] : scraped_)
    g->Set(read());
}

edge_probe::~edge_probe() = default;

std::string edge_probe::render() const {
  return prometheus::TextSerializer{}.Serialize(registry->Collect());
}

namespace {

thread_local counter_tally* open_tally = nullptr;

} // namespace

counter_tally::counter_tally() : outer_(open_tally) {
  open_tally = this;
}

counter_tally::~counter_tally() {
  open_tally = outer_;
  if (counter_ != nullptr && n_ > 0)
    counter_->Increment(n_);
}

void counter_tally::count(prometheus::Counter* c, double n) {
  if (c == nullptr)
    return;
  auto* t = open_tally;
  if (t != nullptr && (t->counter_ == nullptr || t->counter_ == c)) {
    t->counter_ = c;
    t->n_ += n;
    return;
  }
  c->Increment(n);
}

} // namespace presence::edge
