#include "app/config_cli.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

namespace presence::app {

namespace {

/// PRESENCE_HEARTBEAT_TTL for "heartbeat-ttl".
std::string env_name(const std::string& long_name) {
  std::string out = "PRESENCE_";
  for (char c : long_name)
    out.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(c)));
  return out;
}

bool parse_listen(const std::string& text, std::string& host, uint16_t& port,
                  std::string& err) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    err = "listen must be HOST:PORT (e.g. 127.0.0.1:8080), got '" + text + "'";
    return false;
  }
  host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto p = text.substr(colon + 1);
  char* end = nullptr;
  auto v = std::strtol(p.c_str(), &end, 10);
  if (*end != '\0' || v < 0 || v > 65535) {
    err = "listen port must be 0..65535, got '" + p + "'";
    return false;
  }
  port = static_cast<uint16_t>(v);
  return true;
}

milliseconds seconds_to_ms(double s) {
  return milliseconds{static_cast<int64_t>(s * 1000.0 + 0.5)};
}

} // namespace

int parse_command_line(int argc, char** argv, config& cfg, cli_extras& extra) {
  CLI::App app{"presenced - real-time presence server"};
  app.set_version_flag("--version", "presenced 0.1.0");
  app.footer(
    "Every option can also be set as PRESENCE_<NAME> in the environment\n"
    "(e.g. PRESENCE_HEARTBEAT_TTL=30, PRESENCE_JWT_SECRET=...) or as\n"
    "'name = value' in the --config file. Precedence: command line >\n"
    "environment > config file > defaults. See docs/operations.md.");
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  std::string listen = cfg.edge.listen_host + ":"
                       + std::to_string(cfg.edge.listen_port);
  double ttl_s = cfg.actors.heartbeat_ttl.count() / 1000.0;
  double grace_s = cfg.actors.reconnect_grace.count() / 1000.0;
  double window_ms = cfg.actors.coalesce_window.count() / 1000.0;
  int64_t typing_ms = cfg.actors.typing_timeout.count();
  int64_t resync_margin_ms = cfg.actors.resync_margin.count();
  int64_t change_log_ttl_s = cfg.actors.change_log_ttl.count() / 1000;
  int64_t auto_away_s = cfg.edge.auto_away.count() / 1000;
  int64_t timeout_ms = cfg.actors.request_timeout.count();
  int64_t checkpoint_ms = cfg.persistence.checkpoint_interval.count();
  int64_t slow_ms = cfg.edge.slow_consumer_ms.count();
  std::string cluster_listen;
  std::string seeds;
  int64_t hb_ms = cfg.cluster.heartbeat_interval.count();
  int64_t fail_ms = cfg.cluster.failure_timeout.count();
  int64_t rehome_ms = cfg.cluster.rehome_window.count();
  int64_t sio_ping_ms = cfg.edge.sio_ping_interval.count();
  int64_t sio_timeout_ms = cfg.edge.sio_ping_timeout.count();
  int64_t sio_list_ms = cfg.edge.sio_list_window.count();
  double sio_list_idle_s = cfg.edge.sio_list_idle.count() / 1000.0;
  double http_timeout_s = cfg.edge.http_timeout.count() / 1000.0;
  double ws_idle_s = cfg.edge.ws_idle_timeout.count() / 1000.0;

  std::vector<std::string> names;
  auto add = [&](const std::string& name, auto& var, const std::string& help) {
    names.push_back(name);
    return app.add_option("--" + name, var, help)->capture_default_str();
  };
  app.set_config("--config", "", "TOML config file (key = value per option)");
  names.push_back("config");
  add("listen", listen, "HTTP and WebSocket address, HOST:PORT (port 0: any)");
  add("data-dir", cfg.persistence.data_dir, "RocksDB directory");
  add("heartbeat-ttl", ttl_s,
      "seconds without a heartbeat before a device expires");
  add("reconnect-grace", grace_s,
      "seconds to wait after a user's last device goes before announcing "
      "them offline (0 = at once)");
  add("coalesce-window", window_ms,
      "ms (fractions allowed) over which deltas that follow a send are "
      "gathered, at least; a send to many subscribers opens a longer window; "
      "a window under 1 ms gathers only deltas already waiting, no timer "
      "(0 = send every delta at once)");
  add("auto-away", auto_away_s,
      "seconds without input after which a native device turns away (0 = "
      "off; a join may ask for its own)");
  add("typing-timeout", typing_ms,
      "ms after the last typing-start before a typing indicator ends by "
      "itself");
  add("resync-margin", resync_margin_ms,
      "ms a resync looks back before its cursor (changes arrive out of "
      "version order)");
  add("change-log-size", cfg.actors.change_log_size,
      "users whose latest change a node keeps for resync and "
      "/api/presence/changes");
  add("change-log-ttl", change_log_ttl_s,
      "seconds a change stays in the change log at most (0 = as long as "
      "--change-log-size allows); a client away longer lists again");
  add("jwt-secret", cfg.edge.jwt_secret,
      "HS256 secret; with no secret and no public key: dev mode (clients "
      "name themselves)");
  add("jwt-public-key", cfg.edge.jwt_public_key,
      "PEM file of RSA/EC public keys or certificates for RS256/ES256 "
      "tokens (reread on SIGHUP)");
  add("jwt-jwks", cfg.edge.jwt_jwks,
      "JWKS file of RSA/EC keys, matched by the token's kid (reread on "
      "SIGHUP)");
  add("tls-cert", cfg.edge.tls_cert,
      "PEM certificate chain: serve HTTPS and WSS (with --tls-key; reread "
      "on SIGHUP)");
  add("tls-key", cfg.edge.tls_key, "PEM private key of --tls-cert");
  add("jwt-issuer", cfg.edge.jwt_issuer,
      "when set, a token's iss claim must equal it");
  add("jwt-audience", cfg.edge.jwt_audience,
      "when set, a token's aud claim must be or hold it");
  double jwt_leeway_s = cfg.edge.jwt_leeway.count() / 1000.0;
  add("jwt-leeway", jwt_leeway_s,
      "seconds of clock skew allowed on a token's exp and nbf");
  add("admin-claim", cfg.edge.admin_claim,
      "JWT claim that makes a token an admin's (true, or listed in 'roles')");
  add("global-feed", cfg.edge.global_feed,
      "JWT mode: who may follow every user's changes: open or admin");
  std::string visibility = cfg.actors.contacts_by_default ? "contacts"
                                                          : "everyone";
  add("visibility", visibility,
      "who sees users who never chose: everyone, or contacts (their "
      "contact list only)");
  add("max-contacts", cfg.actors.max_contacts,
      "contacts one user may list (who may see them)");
  add("metrics-auth", cfg.edge.metrics_auth,
      "JWT mode: who may read /metrics: admin or open");
  app
    .add_option("--webhook-url", cfg.edge.webhook_urls,
                "http:// or https:// endpoint that gets every presence "
                "change (repeatable)")
    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add("webhook-secret", cfg.edge.webhook_secret,
      "HMAC-SHA256 key of the webhooks' X-Presenced-Signature header");
  add("webhook-ca", cfg.edge.webhook_ca,
      "PEM file of the authorities https:// webhook endpoints are checked "
      "against (default: the system's)");
  add("webhook-queue", cfg.edge.webhook_queue,
      "hooks waiting per webhook endpoint (more: the oldest is dropped)");
  add("io-threads", cfg.edge.io_threads, "threads serving sockets");
  add("fanout-helper-min", cfg.edge.fanout_helper_min,
      "an I/O thread shares the sends of a change to at least this many of "
      "its subscribers with a helper thread, which sleeps otherwise (0 = no "
      "helper threads)");
  add("scheduler-threads", cfg.scheduler_threads,
      "CAF scheduler threads (0 = the cores the I/O threads leave, at least "
      "1)");
  add("scheduler-policy", cfg.scheduler_policy,
      "CAF scheduling: lazy (wakes a thread only for work beyond those "
      "awake), sharing (CAF's: wakes one per message) or stealing (idle "
      "threads poll)");
  add("malloc-mmap-threshold-kb", cfg.mmap_threshold_kb,
      "KiB from which glibc mmaps a block, so its pages go back when freed "
      "(0 = glibc's dynamic threshold)");
  add("max-frame-bytes", cfg.edge.max_frame_bytes,
      "largest WebSocket message accepted (bigger: close 1009)");
  add("max-body-bytes", cfg.edge.max_body_bytes,
      "largest HTTP request body accepted (bigger: 413)");
  add("write-queue-bytes", cfg.edge.write_queue_bytes,
      "a client whose queued output stays above this many bytes for "
      "slow-consumer-ms is dropped as a slow consumer (close 4001)");
  add("write-queue-max-bytes", cfg.edge.write_queue_max_bytes,
      "a client whose queued output exceeds this is dropped at once (4001)");
  add("slow-consumer-ms", slow_ms,
      "ms a client may stay above write-queue-bytes");
  add("http-timeout", http_timeout_s,
      "seconds an HTTP connection may idle or take to send a request");
  add("ws-idle-timeout", ws_idle_s,
      "seconds a WebSocket may send nothing before it is dropped (a ping "
      "at half of it)");
  add("rate-limit", cfg.edge.rate_limit,
      "WebSocket messages per second per connection");
  add("rate-burst", cfg.edge.rate_burst, "burst allowance over rate-limit");
  add("max-connections", cfg.edge.max_connections,
      "open connections at most (more get 503)");
  add("max-connections-per-ip", cfg.edge.max_connections_per_ip,
      "open connections from one source address at most, 127.0.0.1 and ::1 "
      "exempt (more get 429; 0 = no limit)");
  add("cors-origin", cfg.edge.cors_origin,
      "Access-Control-Allow-Origin value (empty = no CORS headers)");
  add("sio-paths", cfg.edge.sio_paths,
      "comma-separated request paths that serve Socket.IO");
  add("sio-ping-interval", sio_ping_ms,
      "ms between Engine.IO pings to Socket.IO clients");
  add("sio-ping-timeout", sio_timeout_ms,
      "ms a Socket.IO client has to answer a ping before it is dropped");
  add("sio-max-payload", cfg.edge.sio_max_payload,
      "largest Engine.IO payload (polling body or WebSocket frame)");
  add("sio-list-idle", sio_list_idle_s,
      "s after the last seed-000 client left before the node drops its "
      "copy of the online users (seed 000's list)");
  add("sio-list-window", sio_list_ms,
      "ms between two full online_users_list pushes to one seed-000 socket");
  add("node-id", cfg.cluster.node_id,
      "this node's stable name in the cluster (default: the cluster-listen "
      "address)");
  add("cluster-listen", cluster_listen,
      "HOST:PORT other nodes connect to (CAF middleman); empty = no cluster");
  add("cluster-advertise", cfg.cluster.advertise,
      "HOST:PORT other nodes dial to reach this one (default: the cluster "
      "listen address; the host name for 0.0.0.0)");
  add("seeds", seeds,
      "comma-separated host:port of cluster nodes to join at start");
  add("replication", cfg.cluster.replication,
      "copies of last_seen and history (0 = 2 when clustered)");
  add("vnodes", cfg.cluster.vnodes, "virtual nodes per member on the ring");
  add("cluster-heartbeat", hb_ms, "ms between heartbeats to other nodes");
  add("failure-timeout", fail_ms,
      "ms of silence after which a node is declared dead");
  add("rehome-window", rehome_ms,
      "ms a dead node's users have to re-register elsewhere before they are "
      "recorded offline");
  add("repair-rate", cfg.cluster.repair_rate,
      "records per second a node copies at most to nodes that became their "
      "replicas (after a member died, came back or joined); 0 = no repair");
  add("cluster-tls-cert", cfg.cluster.tls_cert,
      "mutual TLS between nodes: this node's PEM certificate chain (with "
      "--cluster-tls-key and --cluster-tls-ca)");
  add("cluster-tls-key", cfg.cluster.tls_key,
      "PEM private key of --cluster-tls-cert");
  add("cluster-tls-ca", cfg.cluster.tls_ca,
      "PEM CA that signs every node's certificate: peers without one are "
      "refused");
  add("history-limit", cfg.persistence.history_limit,
      "online sessions remembered per user");
  add("store-memtable-mb", cfg.persistence.memtable_mb,
      "MiB RocksDB's memtables hold (all together) before a flush to disk");
  add("store-cache-mb", cfg.persistence.cache_mb,
      "MiB of RocksDB's block cache (data read from disk), shared");
  add("chat-history-limit", cfg.persistence.chat_history_limit,
      "private messages kept per conversation (oldest dropped first)");
  add("chat-queue-limit", cfg.edge.chat_queue_limit,
      "private messages waiting per offline user (more: the send is "
      "refused)");
  add("checkpoint-interval", checkpoint_ms,
      "ms between batched activity checkpoints (crash recovery granularity)");
  add("max-devices-per-user", cfg.actors.max_devices_per_user,
      "devices one user may connect at once");
  add("max-subscriptions", cfg.actors.max_subscriptions,
      "users one connection may follow by id at once");
  add("request-timeout", timeout_ms, "ms before an internal request fails");
  add("log-level", cfg.log_level,
      "trace, debug, info, warn, error, critical or off");
  add("log-format", cfg.log_format,
      "text (lines for people) or json (one object per line: time, level, "
      "logger, msg)");
  add("port-file", extra.port_file,
      "once listening, write the bound HTTP port (line 1) and cluster "
      "port (line 2, 0 without one) to this file");
  app.add_flag("--check-config", extra.check_only,
               "validate the configuration, print it, and exit");

  // Precedence: command line > PRESENCE_* environment > config file >
  // defaults. CLI11 reads the file before the environment, so the
  // environment is put in front of the real arguments instead: with
  // TakeLast, a flag given on the command line overrides it, and the file
  // only fills options still unset.
  std::vector<std::string> args;
  for (auto& n : names) {
    auto env = std::getenv(env_name(n).c_str());
    if (env != nullptr && *env != '\0') {
      args.push_back("--" + n);
      args.push_back(env);
    }
  }
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  std::reverse(args.begin(), args.end()); // CLI11 wants them reversed
  std::string err;
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      app.exit(e); // --help / --version
      return 0;
    }
    std::cerr << "presenced: " << e.what() << "\n"
              << "Run 'presenced --help' for the options.\n";
    return 2;
  }
  if (!parse_listen(listen, cfg.edge.listen_host, cfg.edge.listen_port, err)) {
    std::cerr << "presenced: " << err << "\n";
    return 2;
  }
  if (!(ttl_s > 0) || !(grace_s >= 0)) {
    std::cerr << "presenced: heartbeat-ttl must be > 0 and reconnect-grace "
                 ">= 0 seconds\n";
    return 2;
  }
  cfg.actors.heartbeat_ttl = seconds_to_ms(ttl_s);
  cfg.actors.reconnect_grace = seconds_to_ms(grace_s);
  // validate() checks the range (0 to 10 s); the clamp keeps an absurd
  // value out of range without overflowing, NaN included.
  cfg.actors.coalesce_window = std::chrono::microseconds{
    std::isnan(window_ms)
      ? int64_t{-1}
      : std::llround(std::clamp(window_ms, -1.0, 1e8) * 1000)};
  cfg.actors.typing_timeout = milliseconds{typing_ms};
  cfg.actors.resync_margin = milliseconds{
    std::max<int64_t>(resync_margin_ms, 0)};
  // validate() checks the range; the clamp keeps an absurd value out of
  // range without overflowing.
  cfg.actors.change_log_ttl = milliseconds{
    std::clamp<int64_t>(change_log_ttl_s, -1, 86'401) * 1000};
  cfg.edge.auto_away = milliseconds{auto_away_s * 1000};
  cfg.actors.request_timeout = milliseconds{timeout_ms};
  cfg.persistence.checkpoint_interval = milliseconds{checkpoint_ms};
  cfg.edge.slow_consumer_ms = milliseconds{slow_ms};
  cfg.cluster.heartbeat_interval = milliseconds{hb_ms};
  cfg.cluster.failure_timeout = milliseconds{fail_ms};
  cfg.cluster.rehome_window = milliseconds{rehome_ms};
  if (!cluster_listen.empty()) {
    if (!parse_listen(cluster_listen, cfg.cluster.listen_host,
                      cfg.cluster.listen_port, err)) {
      std::cerr << "presenced: cluster-listen: " << err << "\n";
      return 2;
    }
    cfg.cluster.listen_enabled = true;
  }
  cfg.cluster.seeds.clear();
  for (size_t pos = 0; pos < seeds.size();) {
    auto end = seeds.find(',', pos);
    if (end == std::string::npos)
      end = seeds.size();
    auto item = seeds.substr(pos, end - pos);
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty())
      cfg.cluster.seeds.push_back(item);
    pos = end + 1;
  }
  if (visibility != "everyone" && visibility != "contacts") {
    std::cerr << "presenced: visibility must be everyone or contacts, not '"
              << visibility << "'\n";
    return 2;
  }
  cfg.actors.contacts_by_default = visibility == "contacts";
  cfg.edge.sio_ping_interval = milliseconds{sio_ping_ms};
  cfg.edge.sio_ping_timeout = milliseconds{sio_timeout_ms};
  cfg.edge.sio_list_window = milliseconds{sio_list_ms};
  if (!(sio_list_idle_s > 0) || sio_list_idle_s > 86'400) {
    std::cerr << "presenced: sio-list-idle must be between 0 and 86400 s\n";
    return 2;
  }
  cfg.edge.sio_list_idle = seconds_to_ms(sio_list_idle_s);
  if (!(jwt_leeway_s >= 0) || jwt_leeway_s > 3600) {
    std::cerr << "presenced: jwt-leeway must be between 0 and 3600 s\n";
    return 2;
  }
  cfg.edge.jwt_leeway = seconds_to_ms(jwt_leeway_s);
  cfg.edge.http_timeout = seconds_to_ms(http_timeout_s);
  cfg.edge.ws_idle_timeout = seconds_to_ms(ws_idle_s);
  if (timeout_ms < 100) {
    std::cerr << "presenced: request-timeout must be at least 100 ms\n";
    return 2;
  }
  err = validate(cfg);
  if (!err.empty()) {
    std::cerr << "presenced: invalid configuration: " << err << "\n";
    return 2;
  }
  if (extra.check_only) {
    std::cout << to_toml(cfg);
    return 0;
  }
  return -1;
}

std::string to_toml(const config& cfg) {
  auto q = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\')
        out.push_back('\\');
      out.push_back(c);
    }
    return out + "\"";
  };
  auto num = [](double x) {
    auto s = std::to_string(x);
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.')
      s.pop_back();
    return s;
  };
  auto secs = [&](milliseconds ms) { return num(ms.count() / 1000.0); };
  const auto& a = cfg.actors;
  const auto& p = cfg.persistence;
  const auto& e = cfg.edge;
  std::string out;
  auto line = [&](const char* k, const std::string& v) {
    out += k;
    out += " = ";
    out += v;
    out += "\n";
  };
  line("listen", q(e.listen_host + ":" + std::to_string(e.listen_port)));
  line("data-dir", q(p.data_dir));
  line("heartbeat-ttl", secs(a.heartbeat_ttl));
  line("reconnect-grace", secs(a.reconnect_grace));
  line("coalesce-window", num(a.coalesce_window.count() / 1000.0));
  line("typing-timeout", std::to_string(a.typing_timeout.count()));
  line("change-log-size", std::to_string(a.change_log_size));
  line("change-log-ttl", std::to_string(a.change_log_ttl.count() / 1000));
  line("resync-margin", std::to_string(a.resync_margin.count()));
  line("auto-away", std::to_string(e.auto_away.count() / 1000));
  if (e.jwt_secret.empty())
    line("jwt-secret", q(""));
  else
    out += "# jwt-secret is set (not shown)\n";
  line("jwt-public-key", q(e.jwt_public_key));
  line("jwt-jwks", q(e.jwt_jwks));
  line("tls-cert", q(e.tls_cert));
  line("tls-key", q(e.tls_key));
  line("jwt-issuer", q(e.jwt_issuer));
  line("jwt-audience", q(e.jwt_audience));
  line("jwt-leeway", secs(e.jwt_leeway));
  line("admin-claim", q(e.admin_claim));
  line("global-feed", q(e.global_feed));
  line("visibility", q(a.contacts_by_default ? "contacts" : "everyone"));
  line("max-contacts", std::to_string(a.max_contacts));
  line("metrics-auth", q(e.metrics_auth));
  if (!e.webhook_urls.empty()) {
    std::string urls;
    for (auto& u : e.webhook_urls)
      urls += (urls.empty() ? "" : ", ") + q(u);
    line("webhook-url", "[" + urls + "]");
  }
  if (!e.webhook_secret.empty())
    out += "# webhook-secret is set (not shown)\n";
  if (!e.webhook_ca.empty())
    line("webhook-ca", q(e.webhook_ca));
  line("webhook-queue", std::to_string(e.webhook_queue));
  line("io-threads", std::to_string(e.io_threads));
  line("fanout-helper-min", std::to_string(e.fanout_helper_min));
  line("scheduler-threads", std::to_string(cfg.scheduler_threads));
  line("scheduler-policy", cfg.scheduler_policy);
  line("malloc-mmap-threshold-kb", std::to_string(cfg.mmap_threshold_kb));
  line("max-frame-bytes", std::to_string(e.max_frame_bytes));
  line("max-body-bytes", std::to_string(e.max_body_bytes));
  line("write-queue-bytes", std::to_string(e.write_queue_bytes));
  line("write-queue-max-bytes", std::to_string(e.write_queue_max_bytes));
  line("slow-consumer-ms", std::to_string(e.slow_consumer_ms.count()));
  line("http-timeout", secs(e.http_timeout));
  line("ws-idle-timeout", secs(e.ws_idle_timeout));
  line("rate-limit", num(e.rate_limit));
  line("rate-burst", num(e.rate_burst));
  line("max-connections", std::to_string(e.max_connections));
  line("max-connections-per-ip", std::to_string(e.max_connections_per_ip));
  line("cors-origin", q(e.cors_origin));
  line("sio-paths", q(e.sio_paths));
  line("sio-ping-interval", std::to_string(e.sio_ping_interval.count()));
  line("sio-ping-timeout", std::to_string(e.sio_ping_timeout.count()));
  line("sio-max-payload", std::to_string(e.sio_max_payload));
  line("sio-list-window", std::to_string(e.sio_list_window.count()));
  line("sio-list-idle", secs(e.sio_list_idle));
  const auto& c = cfg.cluster;
  line("node-id", q(c.node_id));
  line("cluster-listen",
       q(c.listen_enabled ? c.listen_host + ":" + std::to_string(c.listen_port)
                          : ""));
  std::string seed_list;
  for (auto& s : c.seeds)
    seed_list += (seed_list.empty() ? "" : ",") + s;
  line("cluster-advertise", q(c.advertise));
  line("seeds", q(seed_list));
  line("replication", std::to_string(c.replication));
  line("vnodes", std::to_string(c.vnodes));
  line("cluster-heartbeat", std::to_string(c.heartbeat_interval.count()));
  line("failure-timeout", std::to_string(c.failure_timeout.count()));
  line("rehome-window", std::to_string(c.rehome_window.count()));
  line("repair-rate", std::to_string(c.repair_rate));
  line("cluster-tls-cert", q(c.tls_cert));
  line("cluster-tls-key", q(c.tls_key));
  line("cluster-tls-ca", q(c.tls_ca));
  line("history-limit", std::to_string(p.history_limit));
  line("store-memtable-mb", std::to_string(p.memtable_mb));
  line("store-cache-mb", std::to_string(p.cache_mb));
  line("chat-history-limit", std::to_string(p.chat_history_limit));
  line("chat-queue-limit", std::to_string(e.chat_queue_limit));
  line("checkpoint-interval", std::to_string(p.checkpoint_interval.count()));
  line("max-devices-per-user", std::to_string(a.max_devices_per_user));
  line("max-subscriptions", std::to_string(a.max_subscriptions));
  line("request-timeout", std::to_string(a.request_timeout.count()));
  line("log-level", q(cfg.log_level));
  line("log-format", q(cfg.log_format));
  return out;
}

} // namespace presence::app
