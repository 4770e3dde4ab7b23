#include "core/config.hpp"

#include <algorithm>
#include <cctype>
#include <thread>

#include <unistd.h>

namespace presence {

std::string advertised_endpoint(const cluster_config& cfg, uint16_t port) {
  if (!cfg.advertise.empty())
    return cfg.advertise;
  auto host = cfg.listen_host;
  if (host.empty() || host == "0.0.0.0" || host == "::") {
    char name[256] = {0};
    if (gethostname(name, sizeof(name) - 1) == 0 && name[0] != '\0')
      host = name;
    else
      host = "127.0.0.1";
  }
  return host + ":" + std::to_string(port);
}

std::string effective_node_id(const cluster_config& cfg) {
  if (!cfg.node_id.empty())
    return cfg.node_id;
  if (cfg.listen_enabled)
    return advertised_endpoint(cfg, cfg.listen_port);
  return "local";
}

uint32_t scheduler_threads(const config& cfg, uint32_t cores) {
  if (cfg.scheduler_threads > 0)
    return cfg.scheduler_threads;
  if (cores == 0)
    cores = std::max(1u, std::thread::hardware_concurrency());
  return cores > cfg.edge.io_threads ? cores - cfg.edge.io_threads : 1;
}

std::string validate(const config& cfg) {
  const auto& a = cfg.actors;
  const auto& p = cfg.persistence;
  const auto& e = cfg.edge;
  if (a.heartbeat_ttl.count() < 1000)
    return "heartbeat-ttl must be at least 1 second";
  if (a.reconnect_grace.count() < 0)
    return "reconnect-grace must not be negative";
  if (a.coalesce_window.count() < 0
      || a.coalesce_window > std::chrono::milliseconds{10'000})
    return "coalesce-window must be between 0 and 10000 ms";
  if (a.typing_timeout.count() < 100 || a.typing_timeout.count() > 600'000)
    return "typing-timeout must be between 100 and 600000 ms";
  if (a.change_log_ttl.count() < 0 || a.change_log_ttl.count() > 86'400'000)
    return "change-log-ttl must be between 0 (no time bound) and 86400 s";
  if (a.max_subscriptions == 0)
    return "max-subscriptions must be at least 1";
  if (a.max_devices_per_user == 0)
    return "max-devices-per-user must be at least 1";
  if (p.data_dir.empty())
    return "data-dir must not be empty";
  if (p.history_limit == 0 || p.history_limit > 100'000)
    return "history-limit must be between 1 and 100000";
  if (p.memtable_mb == 0 || p.memtable_mb > 4096)
    return "store-memtable-mb must be between 1 and 4096";
  if (p.cache_mb == 0 || p.cache_mb > 65536)
    return "store-cache-mb must be between 1 and 65536";
  if (p.chat_history_limit == 0 || p.chat_history_limit > 1'000'000)
    return "chat-history-limit must be between 1 and 1000000";
  if (e.auto_away.count() < 0 || e.auto_away.count() > 86'400'000)
    return "auto-away must be between 0 (off) and 86400 s";
  if (e.chat_queue_limit == 0 || e.chat_queue_limit > 100'000)
    return "chat-queue-limit must be between 1 and 100000";
  if (p.checkpoint_interval.count() < 0)
    return "checkpoint-interval must not be negative";
  if (cfg.cluster.tls_cert.empty() != cfg.cluster.tls_key.empty()
      || cfg.cluster.tls_cert.empty() != cfg.cluster.tls_ca.empty())
    return "cluster-tls-cert, cluster-tls-key and cluster-tls-ca go together "
           "(this node's certificate, its key, the cluster's CA)";
  if (e.tls_cert.empty() != e.tls_key.empty())
    return "tls-cert and tls-key go together (a certificate and its key)";
  if (e.io_threads == 0 || e.io_threads > 64)
    return "io-threads must be between 1 and 64";
  if (e.max_frame_bytes < 1024 || e.max_frame_bytes > 64 * 1024 * 1024)
    return "max-frame-bytes must be between 1 KiB and 64 MiB";
  if (e.max_body_bytes < 1024 || e.max_body_bytes > 64 * 1024 * 1024)
    return "max-body-bytes must be between 1 KiB and 64 MiB";
  if (e.write_queue_bytes < 4096)
    return "write-queue-bytes must be at least 4096";
  if (e.write_queue_max_bytes < e.write_queue_bytes)
    return "write-queue-max-bytes must be at least write-queue-bytes";
  if (e.slow_consumer_ms.count() < 100)
    return "slow-consumer-ms must be at least 100";
  if (e.ws_idle_timeout.count() < 100)
    return "ws-idle-timeout must be at least 0.1 seconds";
  if (e.http_timeout.count() < 100)
    return "http-timeout must be at least 0.1 seconds";
  if (!(e.rate_limit > 0) || !(e.rate_burst >= 1))
    return "rate-limit must be > 0 and rate-burst >= 1";
  if (e.sio_ping_interval.count() < 100 || e.sio_ping_timeout.count() < 100)
    return "sio-ping-interval and sio-ping-timeout must be at least 100 ms";
  if (e.sio_max_payload < 1024 || e.sio_max_payload > 64 * 1024 * 1024)
    return "sio-max-payload must be between 1 KiB and 64 MiB";
  if (e.sio_list_window.count() < 0)
    return "sio-list-window must not be negative";
  if (e.sio_paths.empty() || e.sio_paths.front() != '/')
    return "sio-paths must be a comma-separated list of paths starting "
           "with '/'";
  if (e.max_connections == 0)
    return "max-connections must be at least 1";
  const auto& c = cfg.cluster;
  if (c.node_id.size() > 64)
    return "node-id must be at most 64 characters";
  for (char ch : c.node_id)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_'
          || ch == '.' || ch == ':'))
      return "node-id may hold letters, digits, '-', '_', '.' and ':' only";
  if (c.replication > 16)
    return "replication must be at most 16";
  if (c.vnodes == 0 || c.vnodes > 4096)
    return "vnodes must be between 1 and 4096";
  if (c.heartbeat_interval.count() < 10)
    return "cluster-heartbeat must be at least 10 ms";
  if (c.failure_timeout < c.heartbeat_interval * 2)
    return "failure-timeout must be at least twice cluster-heartbeat";
  if (c.rehome_window.count() < 0)
    return "rehome-window must not be negative";
  if (!c.advertise.empty()) {
    auto colon = c.advertise.rfind(':');
    if (colon == std::string::npos || colon == 0
        || colon + 1 == c.advertise.size())
      return "cluster-advertise must be host:port, got '" + c.advertise + "'";
  }
  for (auto& seed : c.seeds) {
    auto colon = seed.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == seed.size())
      return "seeds must be host:port, got '" + seed + "'";
  }
  if (cfg.scheduler_threads > 256)
    return "scheduler-threads must be at most 256";
  // glibc refuses thresholds above 32 MiB on 64-bit (HEAP_MAX_SIZE / 2).
  if (cfg.mmap_threshold_kb > 32 * 1024)
    return "malloc-mmap-threshold-kb must be between 0 (glibc's dynamic "
           "threshold) and 32768";
  if (cfg.actors.max_contacts < 1 || cfg.actors.max_contacts > 100'000)
    return "max-contacts must be between 1 and 100000";
  if (cfg.edge.global_feed != "open" && cfg.edge.global_feed != "admin")
    return "global-feed must be open or admin, not '" + cfg.edge.global_feed
           + "'";
  if (cfg.edge.metrics_auth != "open" && cfg.edge.metrics_auth != "admin")
    return "metrics-auth must be open or admin, not '" + cfg.edge.metrics_auth
           + "'";
  if (cfg.edge.admin_claim.empty())
    return "admin-claim must name a claim";
  if (cfg.scheduler_policy != "lazy" && cfg.scheduler_policy != "sharing"
      && cfg.scheduler_policy != "stealing")
    return "scheduler-policy must be lazy, sharing or stealing, got '"
           + cfg.scheduler_policy + "'";
  if (cfg.log_format != "text" && cfg.log_format != "json")
    return "log-format must be text or json, not '" + cfg.log_format + "'";
  static const char* levels[] = {"trace", "debug",    "info", "warn",
                                 "error", "critical", "off"};
  bool level_ok = false;
  for (auto l : levels)
    level_ok = level_ok || cfg.log_level == l;
  if (!level_ok)
    return "log-level must be one of trace, debug, info, warn, error, "
           "critical, off";
  return {};
}

} // namespace presence
