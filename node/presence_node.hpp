#pragma once

#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"

namespace presence {

/// One presence node inside a host's actor_system: store, registry and
/// fan-out, without any sockets. This is the embedding API; the presenced
/// binary puts the Beast edge (edge/) in front of it.
///
/// The host must call presence::register_types(cfg) on its actor_system_config
/// before creating the actor_system.
class node {
public:
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  /// Opens the store under cfg.persistence.data_dir (recovering sessions a
  /// crashed process left open) and spawns the node's actors. On failure
  /// returns nullptr and sets `err`.
  /// `on_change` (optional) hears every visible change of a user this node
  /// owns, on the registry's thread (actors/user_actor.hpp, user_env).
  static std::unique_ptr<node>
  start(caf::actor_system& sys, const config& cfg, std::string& err,
        wall_clock now = system_now,
        std::function<void(const presence_delta&, bool)> on_change = {});

  /// The typed presence service: status, batch status, online list and count,
  /// subscriptions, joins.
  presence_api api() const { return api_; }

  /// The store as the cluster sees it (profiles, history, last_seen): reads
  /// merge every replica, writes reach all of them. Alone: the local store.
  store_api store() const { return replicator_; }

  /// This node's own RocksDB store actor.
  store_api local_store() const { return store_; }

  /// Rooms for ephemeral signals (typing indicators); see
  /// actors/room_registry.hpp.
  rooms_api rooms() const { return rooms_; }

  const config& cfg() const { return cfg_; }
  caf::actor_system& system() const { return sys_; }
  /// What the store has done (checkpoints, sessions closed, recovered).
  const store_stats& store_counters() const { return *probe_; }

  /// Sessions the store closed at start because a previous process died
  /// with them open.
  size_t recovered_sessions() const { return recovered_; }

  /// This node's id in the cluster.
  const std::string& node_id() const { return cfg_.cluster.node_id; }

  /// The bound cluster port (0 without --cluster-listen).
  uint16_t cluster_port() const { return cluster_port_; }

  /// The membership actor (/api/cluster asks it for the cluster status).
  membership_api membership() const { return membership_; }

  /// Live figures gossiped to the cluster (the edge counts connections).
  const std::shared_ptr<node_stats>& stats() const { return stats_; }
  /// Local sessions the fan-out hands deltas to without a message
  /// (direct_listener).
  const std::shared_ptr<direct_listeners>& direct() const { return direct_; }

  /// Tells the cluster which HTTP port this node serves (for /api/cluster).
  void set_http_port(uint16_t port);

  /// What seed 004's NotificationsService.sendNotification asks for: `m` (a
  /// private message, or a notification with an empty conversation id) to
  /// every live device of `user`, on any node, as `new_private_message` /
  /// a native `message` frame; when the user has no live device it waits
  /// in their offline queue for their next join. `done` (optional; on a
  /// CAF thread) gets the devices reached, 0 when queued, or the error
  /// (`invalid_argument` when the user's queue holds --chat-queue-limit).
  /// An empty `m.id` gets a fresh one.
  void send_to_user(const std::string& user, chat_message m,
                    std::function<void(caf::expected<uint32_t>)> done = {});

  /// Records every online user offline (last_seen = now), flushes the store
  /// and ends the node's actors. Blocks; idempotent; called by ~node.
  void stop();

private:
  node(caf::actor_system& sys, const config& cfg);

  caf::actor_system& sys_;
  config cfg_;
  std::shared_ptr<store_stats> probe_;
  store_api store_;
  fanout_api fanout_;
  rooms_api rooms_;
  membership_api membership_;
  store_api replicator_;
  store_api gateway_;
  /// Copies records to nodes that became their replicas (cluster/repairer).
  caf::actor repairer_;
  node_registry_api registry_;
  presence_api api_;
  std::shared_ptr<node_stats> stats_;
  std::shared_ptr<direct_listeners> direct_;
  size_t recovered_ = 0;
  uint16_t cluster_port_ = 0;
  bool published_ = false;
  bool stopped_ = false;
};

} // namespace presence
