// Operations: the live page and its JavaScript client, the API index,
// health, readiness, metrics and the cluster's view (docs/api.md,
// docs/operations.md).

#include <prometheus/gauge.h>

#include "edge/common/seed_payloads.hpp"
#include "edge/rest/routes.hpp"
#include "edge/rest/web_assets.hpp"

namespace presence::edge::rest {

namespace {

using seeds::iso_or_null;
using seeds::or_null;

void index(const call_ptr& c) {
  http_response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::string{index_html()};
  c->done(std::move(r));
}

void client_js(const call_ptr& c) {
  http_response r;
  r.content_type = "text/javascript; charset=utf-8";
  r.body = std::string{presenced_client_js()};
  c->done(std::move(r));
}

void api_index(const call_ptr& c) {
  c->reply(200,
           {{"name", "presenced"},
            {"websocket", {"/ws", "/ws/user-status/"}},
            {"socketio", c->ctx->cfg.edge.sio_paths},
            {"docs", "docs/api.md, docs/openapi.yaml and docs/protocol.md"}});
}

void healthz(const call_ptr& c) {
  c->reply(200, {{"status", "ok"}});
}

void readyz(const call_ptr& c) {
  if (c->ctx->ready && !c->ctx->draining)
    c->reply(200, {{"status", "ready"}});
  else
    c->reply(503, {{"status", "not_ready"}});
}

/// The scrape's last step: the figures read at scrape time, then the text.
void render_metrics(const call_ptr& c) {
  auto& p = c->ctx->probe;
  if (auto sp = c->ctx->store_counters)
    p.refresh(*sp);
  p.refresh(c->ctx->stats.get(), c->ctx->store_counters);
  p.refresh_scraped();
  http_response r;
  r.content_type = "text/plain; version=0.0.4";
  r.body = p.render();
  c->done(std::move(r));
}

void metrics(const call_ptr& c) {
  // The online count, then the cluster's view; without either the rest is
  // still worth a scrape.
  ask<uint64_t>(c->ctx->sys, c->ctx->api, c->timeout(),
                std::function<void(caf::expected<uint64_t>)>{
                  [c](caf::expected<uint64_t> n) {
                    if (n)
                      c->ctx->probe.online_users->Set(static_cast<double>(*n));
                    ask<cluster_status>(
                      c->ctx->sys, c->ctx->membership, c->timeout(),
                      std::function<void(caf::expected<cluster_status>)>{
                        [c](caf::expected<cluster_status> cs) {
                          if (cs)
                            c->ctx->probe.refresh(*cs);
                          render_metrics(c);
                        }},
                      get_atom::value, cluster_atom::value);
                  }},
                count_atom::value, viewer::everything());
}

void cluster_info(const call_ptr& c) {
  ask_then<cluster_status>(
    c, c->ctx->membership,
    [c](cluster_status& cs) {
      auto nodes = json::array();
      for (auto& m : cs.members)
        nodes.push_back({{"node_id", m.node_id},
                         {"endpoint", or_null(m.endpoint)},
                         {"http_port", m.http_port},
                         {"state", m.state},
                         {"users_owned", m.stats.users_owned},
                         {"connections", m.stats.connections},
                         {"last_heard", iso_or_null(m.last_heard)}});
      c->reply(200, {{"success", true},
                     {"data",
                      {{"self", cs.self},
                       {"ring_version", cs.ring_version},
                       {"replication", cs.replication},
                       {"nodes", nodes}}}});
    },
    get_atom::value, cluster_atom::value);
}

} // namespace

void add_ops_routes(route_table& t) {
  t.add("GET", "/", index, access::open);
  t.add("GET", "/presenced-client.js", client_js, access::open);
  t.add("GET", "/api", api_index, access::open);
  t.add("GET", "/healthz", healthz, access::open);
  t.add("GET", "/readyz", readyz, access::open);
  // Prometheus scrapes without a token only when --metrics-auth open.
  t.add("GET", "/metrics", metrics, access::metrics);
  t.add("GET", "/api/cluster", cluster_info, access::admin);
}

} // namespace presence::edge::rest
