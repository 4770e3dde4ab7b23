// presenced: wires config -> actor system -> node -> edge, then waits for
// SIGTERM/SIGINT and shuts down in order.

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <malloc.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman.hpp>
#include <spdlog/fmt/ranges.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "app/config_cli.hpp"
#include "app/log_format.hpp"
#include "cluster/cluster_tls.hpp"
#include "core/lean_actor.hpp"
#include "core/scheduler.hpp"
#include "edge/server.hpp"
#include "edge/common/edge_context.hpp"
#include "edge/webhooks/webhooks.hpp"
#include "node/presence_node.hpp"

using namespace presence;

namespace {

/// How often the main thread looks whether to return freed heap to the OS
/// (trim_if_worth_it).
constexpr timespec trim_interval{10, 0};

/// Returns freed heap to the OS (malloc_trim) when much of it is free: a
/// storm's lists and queued frames freed in the middle of the heap. A trim
/// gives back every free page and the next allocations fault them in
/// again: with a heap of long-lived small objects and little free (the
/// change log of a node that has seen many users) trimming every 10 s
/// cost more and more CPU (docs/benchmarks.md, twelfth session).
void trim_if_worth_it() {
  auto mi = mallinfo2();
  constexpr size_t min_free = size_t{16} << 20;
  if (mi.fordblks >= min_free && mi.fordblks * 4 >= mi.arena)
    malloc_trim(0);
}

/// Fixes glibc's mmap threshold at `kb` KiB (--malloc-mmap-threshold-kb,
/// 1 MiB): a block that large which no free chunk of the heap can hold is
/// mmapped, and freeing it gives its pages back. glibc's default threshold
/// is dynamic: freeing an mmapped block raises it to that block's size, and
/// from then on blocks that size come from the heap. RocksDB's memtables
/// are made of 1 MiB arena blocks freed at each flush: with the dynamic
/// threshold they were carved out of the heap between long-lived objects
/// and left free there, ~1-2 MiB more held free at every flush
/// (docs/benchmarks.md, fourteenth session). A fixed threshold also keeps
/// the trim threshold at glibc's 128 KiB (the dynamic one doubles it along):
/// the heap's top is given back sooner. 0, MALLOC_MMAP_THRESHOLD_ or
/// GLIBC_TUNABLES leave glibc's own setting.
void fix_mmap_threshold(uint32_t kb) {
  if (kb == 0 || std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr)
    return;
  if (auto* t = std::getenv("GLIBC_TUNABLES");
      t != nullptr && std::strstr(t, "mmap_threshold") != nullptr)
    return;
  mallopt(M_MMAP_THRESHOLD, static_cast<int>(kb) * 1024);
}

/// CAF waits for every actor at exit; if one misbehaves the process must
/// still end. By the time this fires the store has synced its WAL.
void exit_watchdog(int seconds) {
  std::thread([seconds] {
    std::this_thread::sleep_for(std::chrono::seconds(seconds));
    spdlog::error("shutdown took longer than {} s; exiting hard", seconds);
    spdlog::shutdown();
    std::_Exit(3);
  }).detach();
}

} // namespace

int main(int argc, char** argv) {
  config cfg;
  app::cli_extras extra;
  if (auto rc = app::parse_command_line(argc, argv, cfg, extra); rc >= 0)
    return rc;
  fix_mmap_threshold(cfg.mmap_threshold_kb);
  spdlog::set_default_logger(spdlog::stderr_color_mt("main"));
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  app::set_log_format(cfg.log_format);

  // Signals are taken by sigtimedwait() below, so every thread must block
  // them: block before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP); // reread the key files
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  caf::actor_system_config caf_cfg;
  register_types(caf_cfg);
  caf_cfg.set("scheduler.max-threads", scheduler_threads(cfg));
  // "lazy" (the default): one queue, a thread woken only for work beyond
  // the threads awake, and a clock woken only when it must act sooner
  // (core/scheduler.hpp). CAF's "sharing" wakes a thread per message and
  // its clock per timer; its default ("stealing") has idle threads poll
  // (hundreds of wake-ups after every message). On a presence server's
  // sparse traffic those wake-ups cost more CPU than the work itself
  // (docs/benchmarks.md).
  if (cfg.scheduler_policy == "lazy")
    use_lazy_sharing(caf_cfg);
  else
    caf_cfg.set("scheduler.policy",
                caf::atom_from_string(cfg.scheduler_policy));
  bool clustered = cfg.cluster.listen_enabled || !cfg.cluster.seeds.empty();
  if (clustered) {
    // Nodes talk over CAF's middleman. Its own heartbeat must be on at every
    // node (one-sided settings drop healthy idle peers): a hung peer's
    // connection then dies after the failure timeout, and every actor on it
    // with it (monitors fire).
    caf_cfg.load<caf::io::middleman>();
    caf_cfg.set("middleman.heartbeat-interval",
                caf::timespan{cfg.cluster.heartbeat_interval});
    caf_cfg.set("middleman.connection-timeout",
                caf::timespan{cfg.cluster.failure_timeout});
    // Membership dials every member itself (one side only); CAF's own
    // automatic connections would race it from both sides (and would open
    // a plaintext port next to a TLS one).
    caf_cfg.set("middleman.enable-automatic-connections", false);
    if (cfg.cluster.tls_enabled()) {
      if (auto bad = cluster::check_cluster_tls(cfg.cluster); !bad.empty()) {
        spdlog::critical("cannot start: {}", bad);
        return 1;
      }
      cluster::configure_cluster_tls(caf_cfg, cfg.cluster);
    }
  }
  caf::actor_system sys{caf_cfg};

  std::string err;
  // Webhooks first: the node calls them from its first change on.
  edge::webhook_config hooks_cfg;
  hooks_cfg.urls = cfg.edge.webhook_urls;
  hooks_cfg.secret = cfg.edge.webhook_secret;
  hooks_cfg.ca_file = cfg.edge.webhook_ca;
  hooks_cfg.queue_limit = cfg.edge.webhook_queue;
  auto hooks = edge::webhooks::start(hooks_cfg, err);
  if (!hooks) {
    spdlog::critical("cannot start: {}", err);
    return 1;
  }
  std::function<void(const presence_delta&, bool)> on_change;
  if (!cfg.edge.webhook_urls.empty()) {
    on_change = [hooks](const presence_delta& d, bool was_online) {
      hooks->post(d, was_online);
    };
    spdlog::info("webhooks to {} endpoint(s){}", cfg.edge.webhook_urls.size(),
                 cfg.edge.webhook_secret.empty() ? " (unsigned)" : "");
  }
  auto n = node::start(sys, cfg, err, system_now, on_change);
  if (!n) {
    spdlog::critical("cannot start: {}", err);
    exit_watchdog(10);
    return 1;
  }
  if (n->recovered_sessions() > 0)
    spdlog::warn("recovered {} online sessions left open by a crash",
                 n->recovered_sessions());
  auto srv = edge::server::start(*n, err);
  if (!srv) {
    spdlog::critical("cannot start: {}", err);
    exit_watchdog(10);
    n->stop();
    return 1;
  }
  n->set_http_port(srv->port());
  if (!cfg.edge.webhook_urls.empty()) {
    // The webhooks' counters in /metrics, read at each scrape.
    struct {
      const char* name;
      const char* help;
      std::atomic<uint64_t> edge::webhook_counters::*count;
    } rows[] = {
      {"presence_webhooks_sent", "Webhooks delivered (2xx)",
       &edge::webhook_counters::sent},
      {"presence_webhooks_failed",
       "Webhook attempts that failed (each is retried)",
       &edge::webhook_counters::failed},
      {"presence_webhooks_dropped",
       "Webhooks given up (the queue was full or the tries ran out)",
       &edge::webhook_counters::dropped},
      {"presence_webhooks_queued",
       "Webhooks waiting to be sent, all endpoints together",
       &edge::webhook_counters::queued},
    };
    for (auto& r : rows)
      srv->context()->probe.add_scraped(r.name, r.help,
                                        [hooks, count = r.count] {
                                          return static_cast<double>(
                                            (hooks->counters().*count).load());
                                        });
  }

  srv->context()->probe.add_scraped(
    "presence_lean_actors",
    "User actors and sessions in memory (lean actors): about one of each "
    "per connected user; a count that keeps growing while clients come "
    "and go is a leak",
    [] { return static_cast<double>(lean_actor::live()); });
  // glibc's view of the heap, read once per scrape: mallinfo2 walks every
  // arena's free lists under its lock. The scraped gauges are read in the
  // order they were added, one scrape at a time, so the first reads and
  // the second uses the same reading. In use against RSS tells a growing
  // heap from memory the allocator keeps.
  auto heap = std::make_shared<struct mallinfo2>();
  srv->context()->probe.add_scraped(
    "presence_heap_in_use_bytes",
    "Bytes of the heap in use (glibc mallinfo2: allocated chunks plus "
    "mmapped blocks), RocksDB's buffers included",
    [heap] {
      *heap = mallinfo2();
      return static_cast<double>(heap->uordblks + heap->hblkhd);
    });
  srv->context()->probe.add_scraped(
    "presence_heap_free_bytes",
    "Bytes free inside the allocator's arenas (glibc mallinfo2 fordblks), "
    "resident or not: pages malloc_trim gave back still count here",
    [heap] { return static_cast<double>(heap->fordblks); });

  spdlog::info("presenced listening on {}://{}:{} (data in {}, {} mode)",
               srv->tls() ? "https" : "http", cfg.edge.listen_host, srv->port(),
               cfg.persistence.data_dir, cfg.edge.jwt_mode() ? "JWT" : "dev");
  if (cfg.edge.jwt_mode())
    spdlog::info("JWT keys: {}", srv->context()->keys()->describe());
  if (clustered && !cfg.cluster.tls_enabled())
    spdlog::warn(
      "the cluster port is plaintext and unauthenticated: anyone "
      "who reaches it can join the cluster (set --cluster-tls-cert, "
      "--cluster-tls-key and --cluster-tls-ca for mutual TLS)");
  if (clustered)
    spdlog::info("cluster node '{}' on {}:{}{}{}", n->node_id(),
                 cfg.cluster.listen_host, n->cluster_port(),
                 cfg.cluster.seeds.empty() ? "" : ", seeds ",
                 fmt::join(cfg.cluster.seeds, ","));
  if (!extra.port_file.empty()) {
    // Written to a temp name and renamed, so readers never see half a file.
    auto tmp = extra.port_file + ".tmp";
    // Line 1: the HTTP port; line 2: the cluster port (0 without one).
    std::ofstream{tmp} << srv->port() << "\n" << n->cluster_port() << "\n";
    std::rename(tmp.c_str(), extra.port_file.c_str());
  }

  // While it serves, the main thread hands freed heap back to the OS when
  // much of it is free (looked at every trim_interval): a storm's lists and
  // queued frames are freed in the middle of the heap, which glibc
  // otherwise keeps (a 2,000-client Socket.IO storm left ~6 KiB per held
  // connection; docs/benchmarks.md).
  int sig = -1;
  while (sig < 0) {
    sig = sigtimedwait(&signals, nullptr, &trim_interval);
    if (sig < 0 && errno == EAGAIN)
      trim_if_worth_it();
    if (sig == SIGHUP) {
      sig = -1;
      if (!cfg.edge.jwt_mode() && !srv->tls())
        spdlog::info("SIGHUP: no key or certificate files to reread");
      else if (srv->reload(err))
        spdlog::info("SIGHUP: reloaded{}{}",
                     cfg.edge.jwt_mode()
                       ? "; JWT keys: " + srv->context()->keys()->describe()
                       : std::string{},
                     srv->tls() ? "; TLS certificate " + cfg.edge.tls_cert
                                : std::string{});
      else
        spdlog::error("SIGHUP: {} (what failed stays as it was)", err);
    }
  }
  spdlog::info("received {}, shutting down",
               sig == SIGINT ? "SIGINT" : "SIGTERM");
  exit_watchdog(15);
  srv->drain();
  // The sockets get their close frames (their devices leave)...
  srv->stop();
  srv.reset();
  // ...then the node leaves the cluster (its users move to the next
  // owners) or, alone, records everyone still online offline; store synced.
  n->stop();
  n.reset();
  // The last changes (everyone offline) go out to the webhooks, for a
  // while; what is left is said, not silently lost.
  if (!cfg.edge.webhook_urls.empty()) {
    if (auto left = hooks->drain(std::chrono::seconds{2}))
      spdlog::warn(
        "{} webhooks not sent at shutdown (dropped; a receiver can "
        "catch up with GET /api/presence/changes on another node)",
        left);
    hooks->stop();
  }
  spdlog::info("bye");
  return 0;
}
