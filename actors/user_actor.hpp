#pragma once

#include <functional>

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/messages.hpp"

namespace presence::actors {

class ttl_wheel;

/// A registry to the user actors of a node that stood still (local only).
using stale_atom = caf::atom_constant<caf::atom("stale")>;

/// A user actor as its registry holds it: the public `user_api` plus the
/// registry's controls. Sessions and other nodes only ever get `user_api`.
using user_control_api = user_api::extend<
  // the registry asks an idle actor to end; false if a device came back
  caf::replies_to<stop_atom>::with<bool>,
  // node shutdown: record offline now and end
  caf::replies_to<shutdown_atom>::with<bool>,
  // the ring moved this user to another node: hand the live state to that
  // node's registry and end without a word to anyone else
  caf::reacts_to<handover_atom, node_registry_api>,
  // more devices for this user from a handover (a join raced the move)
  caf::reacts_to<handover_atom, user_transfer>,
  // a node was declared dead: its sessions' devices go (at their last
  // activity), even if CAF has not noticed the lost connection yet
  caf::reacts_to<drop_atom, caf::node_id>,
  // announce the current state again with a new version (a partition
  // healed: the other side may have heard otherwise meanwhile)
  caf::reacts_to<delta_atom>,
  // this node stood still long enough for the others to take the user
  // over: end without a word (no offline, no store write); the sessions
  // that still point here join again
  caf::reacts_to<stale_atom>>;

/// What a user actor tells its registry: visible changes (fanned out),
/// silent index updates (a user moved here or resumed after its old owner
/// died: nothing changed for anyone else), and idleness.
using registry_sink
  = caf::typed_actor<caf::reacts_to<delta_atom, presence_delta>,
                     caf::reacts_to<index_atom, presence_delta>,
                     // a user actor ended quietly: stale (end_stale)
                     caf::reacts_to<stale_atom, presence_delta>,
                     caf::reacts_to<idle_atom, std::string, user_control_api>>;

/// What every user actor of a node shares: settings, the clock, the store and
/// the registry that indexes them.
struct user_env {
  actors_config cfg;
  wall_clock now = system_now;
  /// At most one activity checkpoint per user per interval (the last one
  /// always follows); 0 = one per change. Keeps heartbeats off the store
  /// (and, in a cluster, off the network to the replicas).
  milliseconds checkpoint_interval{0};
  store_api store;
  /// Receives every visible change and hears when the actor could end.
  registry_sink registry;
  /// Called by the registry, on its thread, with every visible change of a
  /// user this node owns and whether the user was online before (webhooks,
  /// an embedding host). Must not block.
  std::function<void(const presence_delta&, bool was_online)> on_change;
  /// Whether an actor started at `born` is stale: this node has just stood
  /// still (SIGSTOP, a VM pause) long enough for the others to take its
  /// users over, and the actor is from before (set by the registry in
  /// cluster mode; empty: never).
  std::function<bool(millis born)> stale;
  /// Where the user actors' TTL checks wait, and who sweeps them (set by
  /// the registry, actors/ttl_sweep.hpp; null: a CAF timer per user).
  std::shared_ptr<ttl_wheel> ttl;
  caf::actor ttl_sweeper;
};

/// Spawns the actor of one online user. It loads last_seen and version from
/// the store before it handles anything else, then owns the user's devices,
/// their TTLs, the aggregated status and the reconnect grace period.
///
/// State diagram:
///
///   (spawn) --join--> ONLINE --last device leaves/expires--> GRACE
///   GRACE --join--> ONLINE            (nothing is announced)
///   GRACE --grace timer--> OFFLINE    (last_seen written, delta out, idle)
///   OFFLINE --stop from registry--> (end)
///   OFFLINE --join--> ONLINE          (a join raced the registry's stop)
user_control_api spawn_user(caf::actor_system& sys, std::string user_id,
                            std::shared_ptr<const user_env> env);

/// Spawns the actor of a user handed over by its previous owner node: it
/// starts from `t` (devices, sessions, version, announced state) without
/// announcing anything, and tells each session its new user actor.
user_control_api spawn_user_from(caf::actor_system& sys, user_transfer t,
                                 std::shared_ptr<const user_env> env);

} // namespace presence::actors
