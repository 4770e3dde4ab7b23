#include "node/presence_node.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include "actors/fanout.hpp"
#include "actors/room_registry.hpp"
#include "actors/shard_registry.hpp"
#include "persistence/store_actor.hpp"
#include "persistence/store_db.hpp"

namespace presence {

node::node(caf::actor_system& sys, const config& cfg) : sys_(sys), cfg_(cfg) {
  // nop
}

node::~node() {
  stop();
}

std::unique_ptr<node> node::start(caf::actor_system& sys, const config& cfg,
                                  std::string& err, wall_clock now) {
  err = validate(cfg);
  if (!err.empty())
    return nullptr;
  auto db = persistence::store_db::open(cfg.persistence.data_dir,
                                        cfg.persistence.history_limit, err);
  if (!db)
    return nullptr;
  std::unique_ptr<node> n{new node(sys, cfg)};
  n->recovered_ = db->recover_open_sessions(now());
  n->probe_ = std::make_shared<persistence::store_probe>();
  n->probe_->sessions_recovered = n->recovered_;
  n->store_ = persistence::spawn_store(sys, std::move(db), cfg.persistence,
                                       n->probe_);
  n->fanout_ = actors::spawn_fanout(sys, cfg.actors);
  n->rooms_ = actors::spawn_room_registry(sys);
  actors::user_env env;
  env.cfg = cfg.actors;
  env.now = std::move(now);
  env.store = n->store_;
  n->api_ = actors::spawn_registry(sys, std::move(env), n->fanout_);
  return n;
}

void node::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  auto timeout = cfg_.actors.request_timeout * 4;
  caf::scoped_actor self{sys_};
  self->request(api_, timeout, shutdown_atom::value)
    .receive([](uint64_t) {}, [](caf::error&) {});
  self->request(store_, timeout, flush_atom::value)
    .receive([](bool) {}, [](caf::error&) {});
  self->send_exit(api_, caf::exit_reason::user_shutdown);
  self->send_exit(fanout_, caf::exit_reason::user_shutdown);
  self->send_exit(rooms_, caf::exit_reason::user_shutdown);
  self->send_exit(store_, caf::exit_reason::user_shutdown);
}

} // namespace presence
