#pragma once

// Seed 000's `online_users_list` for a whole node. The seed's design has
// every socket fetch and encode the full list on every change (N sockets x
// N users); here one actor keeps the online users with their profiles (an
// in-memory cache in front of the store), builds the encoded list at most
// once per window, and hands the same bytes to every seed-000 socket.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/fwd.hpp>
#include <caf/typed_actor.hpp>

#include "core/messages.hpp"
#include "edge/common/edge_context.hpp"

namespace presence::edge {

/// One build of the list: the JSON array of seed 000 users (ordered by
/// id, at most seed000_list_max) and the Engine.IO packet for namespace "/"
/// made from it. Immutable and shared.
struct seed000_list {
  /// An online user who restricts who may see them: left out of
  /// `users_json`, added for the sockets that may see them.
  struct restricted_entry {
    std::string user_id;
    visibility vis;
    /// The user's encoded entry.
    std::string json;
  };

  /// `[{"avatar":..,"email":..,"id":..,"name":..,"status":..,"username":..}, ...]`
  /// of the users everyone may see.
  std::shared_ptr<const std::string> users_json;
  /// `42["online_users_list",{"users":<users_json>}]`
  std::shared_ptr<const std::string> packet;
  size_t count = 0;
  /// Null when no one shown restricts who sees them (the common case: the
  /// same bytes for every socket).
  std::shared_ptr<const std::vector<restricted_entry>> restricted;

  /// The users JSON as `who` may see it: users_json, plus the restricted
  /// users `who` may see (after the others).
  std::shared_ptr<const std::string> users_for(const viewer& who) const;
};

/// Most users one list carries (as before: the first 1000 by id).
constexpr size_t seed000_list_max = 1000;

/// Whoever gets every rebuild of the list: Socket.IO sessions with seed-000
/// sockets.
using seed000_list_listener
  = caf::typed_actor<caf::reacts_to<list_atom, seed000_list>>;

/// The node's list actor (seed000_list.cpp).
using seed000_list_api = caf::typed_actor<
  // start / stop getting every rebuild
  caf::reacts_to<subscribe_atom, seed000_list_listener>,
  caf::reacts_to<unsubscribe_atom, seed000_list_listener>,
  // the list now (a joiner, get_online_users): rebuilt first if stale;
  // `joined` (if its user id is set) is a user known online right now
  // (the asking socket's own join, which the list must show)
  caf::replies_to<get_atom, presence_delta>::with<seed000_list>,
  // a user's profile changed: forget the cached one
  caf::reacts_to<profile_atom, std::string>>;

/// The list's window for `listeners` receivers of `bytes` each: the
/// configured window (`--sio-list-window`), widened so that the node sends
/// at most `list_bytes_per_second` of lists per second. Pure.
std::chrono::milliseconds seed000_list_window(std::chrono::milliseconds base,
                                              size_t bytes, size_t listeners);

/// Bytes of seed-000 lists a node sends per second at most (all sockets).
/// 16 MiB/s: 1,000 listeners of a list of 1,000 users (~90 KB) get it
/// every 5.4 s (each change also reaches them at once as user_online /
/// user_offline); 200 listeners of 200 users keep the 1 s window. At 64
/// MiB/s the lists alone took most of both cores and the load generator's
/// (docs/benchmarks.md).
constexpr size_t list_bytes_per_second = 16 * 1024 * 1024;

/// A cached profile is fetched again after this long (profile writes on
/// this node invalidate it at once; on other nodes, within this bound).
constexpr std::chrono::seconds profile_cache_ttl{30};

/// Spawns the list actor of a node's edge (edge/server.cpp). While seed
/// 000 uses it (from the first listener or list request on, until
/// `--sio-list-idle` after the last listener left with no request since)
/// it follows the global feed, keeps the
/// node's online index (`ctx.online`, seed 000's check_user_online) and
/// reads profiles through `ctx.store`; a node without seed-000 clients
/// keeps no copy of the online users.
seed000_list_api spawn_seed000_list(std::shared_ptr<edge_context> ctx);

} // namespace presence::edge

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(presence::edge::seed000_list)
