#include "node/presence_node.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <caf/io/middleman.hpp>
#include <caf/openssl/manager.hpp>
#include "cluster/cluster_tls.hpp"
#include <caf/openssl/publish.hpp>

#include "actors/fanout.hpp"
#include "core/logger.hpp"
#include "cluster/membership.hpp"
#include "cluster/repairer.hpp"
#include "cluster/replicator.hpp"
#include "cluster/router.hpp"
#include "cluster/store_gateway.hpp"
#include "actors/room_registry.hpp"
#include "actors/shard_registry.hpp"
#include "persistence/store_actor.hpp"
#include "persistence/store_db.hpp"

namespace presence {

namespace {

spdlog::logger& node_log() {
  static auto l = folder_logger("node");
  return *l;
}

/// An error for the log: store errors with what failed and why.
std::string why(caf::actor_system& sys, const caf::error& err) {
  if (persistence::store_code(err) != persistence::errc::none)
    return persistence::describe(err);
  return sys.render(err);
}

} // namespace

node::node(caf::actor_system& sys, const config& cfg) : sys_(sys), cfg_(cfg) {
  // nop
}

node::~node() {
  stop();
}

std::unique_ptr<node>
node::start(caf::actor_system& sys, const config& cfg, std::string& err,
            wall_clock now,
            std::function<void(const presence_delta&, bool)> on_change) {
  err = validate(cfg);
  if (!err.empty())
    return nullptr;
  auto db = persistence::store_db::open(
    cfg.persistence.data_dir, cfg.persistence.history_limit, err, nullptr,
    persistence::memory_limits{size_t{cfg.persistence.memtable_mb} << 20,
                               size_t{cfg.persistence.cache_mb} << 20});
  if (!db)
    return nullptr;
  db->set_message_limit(cfg.persistence.chat_history_limit);
  db->set_queue_limit(cfg.edge.chat_queue_limit);
  std::unique_ptr<node> n{new node(sys, cfg)};
  n->cfg_.cluster.node_id = effective_node_id(cfg.cluster);
  bool clustered = cfg.cluster.listen_enabled || !cfg.cluster.seeds.empty();
  if (clustered && !sys.has_middleman()) {
    err
      = "cluster mode needs CAF's middleman: load caf::io::middleman in "
        "the actor_system_config";
    return nullptr;
  }
  if (clustered && cfg.cluster.tls_enabled()) {
    if (!sys.has_openssl_manager()) {
      err
        = "cluster TLS needs CAF's OpenSSL module: call "
          "cluster::configure_cluster_tls() on the actor_system_config";
      return nullptr;
    }
    err = cluster::check_cluster_tls(cfg.cluster);
    if (!err.empty())
      return nullptr;
  }
  // Alone, sessions a crash left open are closed now. In a cluster their
  // users may be online through other nodes: the registry closes the ones
  // nobody re-registers once the cluster is known (orphan scan).
  if (!clustered) {
    auto rec = db->recover_open_sessions(now());
    if (!rec) {
      // The store cannot write: better not to start than to lose sessions.
      err = "cannot close the sessions a previous process left open in '"
            + cfg.persistence.data_dir
            + "': " + persistence::describe(rec.error());
      return nullptr;
    }
    n->recovered_ = rec->closed;
    if (rec->corrupt_dropped > 0)
      node_log().warn(
        "dropped {} open-session marks that could not be "
        "decoded: those sessions are not in the history",
        rec->corrupt_dropped);
  }
  n->probe_ = std::make_shared<store_stats>();
  n->probe_->sessions_recovered = n->recovered_;
  n->stats_ = std::make_shared<node_stats>();
  n->store_ = persistence::spawn_store(sys, std::move(db), cfg.persistence,
                                       n->probe_);
  n->direct_ = std::make_shared<direct_listeners>();
  n->fanout_ = actors::spawn_fanout(sys, cfg.actors,
                                    static_cast<uint64_t>(now()), n->direct_,
                                    n->stats_, now);
  n->rooms_ = actors::spawn_room_registry(sys, cfg.actors);
  auto timeout = cfg.actors.request_timeout;
  n->replicator_ = cluster::spawn_replicator(sys, n->cfg_.cluster, timeout,
                                             n->store_, membership_api{});
  actors::user_env env;
  env.cfg = cfg.actors;
  env.now = now;
  env.checkpoint_interval = cfg.persistence.checkpoint_interval;
  env.store = n->replicator_;
  env.on_change = std::move(on_change);
  auto registry = actors::spawn_registry(sys, std::move(env), n->fanout_,
                                         n->stats_, n->cfg_.cluster);
  member_info me;
  me.node_id = n->cfg_.cluster.node_id;
  if (cfg.cluster.listen_enabled)
    me.endpoint = advertised_endpoint(cfg.cluster, cfg.cluster.listen_port);
  me.http_port = cfg.edge.listen_port;
  me.incarnation = now();
  n->registry_ = registry;
  me.registry = registry;
  me.fanout = n->fanout_;
  // Other nodes get a gateway, never the detached store itself.
  n->gateway_ = cluster::spawn_store_gateway(sys, n->store_, timeout);
  me.store = n->gateway_;
  me.rooms = n->rooms_;
  // The membership actor gets the configured id (maybe empty: it then
  // follows the bound address).
  n->membership_ = cluster::spawn_membership(sys, cfg.cluster, me,
                                             cfg.cluster.replication, n->stats_,
                                             now);
  caf::anon_send(n->membership_, subscribe_atom::value,
                 view_listener{registry});
  caf::anon_send(n->membership_, subscribe_atom::value,
                 caf::actor_cast<view_listener>(n->replicator_));
  caf::anon_send(n->membership_, subscribe_atom::value,
                 caf::actor_cast<view_listener>(n->rooms_));
  n->repairer_ = cluster::spawn_repairer(sys, n->cfg_.cluster, timeout,
                                         n->store_, n->membership_, n->probe_);
  n->api_ = cluster::spawn_router(sys, n->cfg_.cluster, timeout,
                                  presence_api{registry}, n->membership_);
  if (cfg.cluster.listen_enabled) {
    auto port
      = cfg.cluster.tls_enabled()
          ? caf::openssl::publish(n->membership_, cfg.cluster.listen_port,
                                  cfg.cluster.listen_host.c_str(), true)
          : sys.middleman().publish(n->membership_, cfg.cluster.listen_port,
                                    cfg.cluster.listen_host.c_str(), true);
    if (!port) {
      err = "cannot listen for the cluster on " + cfg.cluster.listen_host + ":"
            + std::to_string(cfg.cluster.listen_port) + ": "
            + sys.render(port.error());
      n->stop();
      return nullptr;
    }
    n->cluster_port_ = *port;
    n->published_ = true;
    // Port 0 picked a free port: others must learn the real one.
    auto endpoint = advertised_endpoint(cfg.cluster, *port);
    if (cfg.cluster.node_id.empty())
      n->cfg_.cluster.node_id = endpoint;
    caf::anon_send(n->membership_, put_atom::value, endpoint);
  }
  return n;
}

void node::send_to_user(const std::string& user, chat_message m,
                        std::function<void(caf::expected<uint32_t>)> done) {
  auto api = api_;
  auto store = replicator_;
  auto timeout = cfg_.actors.request_timeout;
  auto limit = cfg_.edge.chat_queue_limit;
  if (m.created_at == 0)
    m.created_at = system_now();
  if (m.id.empty()) {
    // The queue keeps each id once: a notification needs its own.
    static std::atomic<uint64_t> seq{0};
    m.id = "note-" + std::to_string(m.created_at) + "-" + std::to_string(++seq);
  }
  sys_.spawn([=](caf::event_based_actor* self) {
    auto finish = [done](caf::expected<uint32_t> r) {
      if (done)
        done(std::move(r));
    };
    self->request(api, timeout, message_atom::value, user, m, std::string{})
      .then(
        [=](uint32_t reply) {
          // The host may know that the user is invisible: the count alone.
          auto n = reply & ~hidden_recipient;
          if (n > 0) {
            finish(n);
            return;
          }
          // The same bound as for senders (--chat-queue-limit).
          self
            ->request(store, timeout, queue_atom::value, count_atom::value,
                      user)
            .then(
              [=](uint32_t waiting) {
                if (waiting >= limit) {
                  finish(make_error(errc::invalid_argument));
                  return;
                }
                self->request(store, timeout, queue_atom::value, user, m)
                  .then([=](uint32_t) { finish(uint32_t{0}); },
                        [=](caf::error& err) { finish(std::move(err)); });
              },
              [=](caf::error& err) { finish(std::move(err)); });
        },
        [=](caf::error& err) { finish(std::move(err)); });
  });
}

void node::set_http_port(uint16_t port) {
  caf::anon_send(membership_, put_atom::value, port);
}

void node::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  auto timeout = cfg_.actors.request_timeout * 4;
  caf::scoped_actor self{sys_};
  // Each step may fail (timeout, store error): say what was skipped and go
  // on, shutdown must finish. A start that failed early has no actors.
  auto failed = [this](const char* what) {
    return [this, what](caf::error& err) {
      node_log().warn("stop: {} failed: {}", what, why(sys_, err));
    };
  };
  // Leave the cluster first: the users this node owns move to their next
  // owners (live, unannounced); the others learn at once that it is gone.
  if (membership_)
    self->request(membership_, timeout, leave_atom::value)
      .receive([](bool) {}, failed("leaving the cluster"));
  // Whoever is still here (alone, or nowhere to move) goes offline now;
  // the answer comes once the moving users have handed over.
  if (registry_)
    self->request(registry_, timeout, shutdown_atom::value)
      .receive([](uint64_t) {}, failed("recording every online user offline"));
  if (membership_)
    self->request(membership_, timeout, leave_atom::value, true)
      .receive([](bool) {}, failed("saying farewell to the cluster"));
  // Writes the store could not do yet are retried once more when it ends,
  // and logged by the store if they are lost.
  if (store_)
    self->request(store_, timeout, flush_atom::value)
      .receive([](bool) {}, failed("flushing the store"));
  // (caf::openssl::unpublish does not compile in 0.17.6; both publish
  // through the one BASP broker, which the middleman's unpublish reaches.)
  if (published_)
    sys_.middleman().unpublish(membership_, cluster_port_);
  for (auto a : {caf::actor_cast<caf::actor>(api_),
                 caf::actor_cast<caf::actor>(registry_),
                 caf::actor_cast<caf::actor>(replicator_), repairer_,
                 caf::actor_cast<caf::actor>(membership_),
                 caf::actor_cast<caf::actor>(fanout_),
                 caf::actor_cast<caf::actor>(rooms_),
                 caf::actor_cast<caf::actor>(gateway_),
                 caf::actor_cast<caf::actor>(store_)})
    if (a)
      self->send_exit(a, caf::exit_reason::user_shutdown);
}

} // namespace presence
