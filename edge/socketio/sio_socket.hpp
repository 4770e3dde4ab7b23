#pragma once

// The state of a Socket.IO session actor and the helpers its dialects use
// (private to edge/socketio). One session holds one `sio_socket` per
// connected namespace ("a socket" in Socket.IO terms).

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/lean_actor.hpp"
#include "edge/common/device_link.hpp"
#include "edge/socketio/sio_session.hpp"
#include "edge/socketio/socketio_codec.hpp"

namespace presence::edge {

using json = nlohmann::json;

/// Namespace of seed 004 (NestJS gateway).
extern const std::string messages_nsp;

/// Which seed's front-end a socket speaks; decides its broadcasts.
enum class dialect {
  none,    // connected, not identified yet: gets no broadcasts
  seed000, // join_user ...: user_online / user_offline / online_users_list
  seed002, // authenticate ...: user-status-change, typing
  seed004, // /ws/messages: user-online / user-offline
};

class sio_direct;

/// One connected namespace of the session.
struct sio_socket {
  std::string nsp;
  std::string sid;
  dialect d = dialect::none;
  /// The device this socket holds (its link key is `nsp`).
  device_link link;
  /// Verified JWT subject (JWT mode), from the CONNECT auth or handshake,
  /// and whether that token is an admin's (sees users who hide).
  std::string token_user;
  bool token_admin = false;
  /// Chat sessions joined (seed 002), at most max_rooms_per_socket.
  std::set<std::string> rooms;
};

struct sio_state {
  std::shared_ptr<edge_context> ctx;
  std::shared_ptr<eio_transport> eio;
  sio_params params;
  std::map<std::string, sio_socket> sockets;
  bool subscribed = false;
  bool closed = false;
  size_t joins_in_flight = 0;
  /// The node's seed-000 list actor, and whether this session gets its
  /// builds (it does while it has seed-000 sockets).
  seed000_list_api lists;
  bool list_subscribed = false;
  /// When the session's token expires (ms; 0: never, or dev mode): the
  /// token given at the handshake or CONNECT, or by refresh_token. Timers
  /// of older epochs are stale.
  millis token_expires = 0;
  uint64_t token_epoch = 0;
  /// The fan-out's way to write changes to this session itself (made when
  /// it subscribes; null before, or without the node's direct listeners).
  std::shared_ptr<sio_direct> direct;
  /// The sockets changed since `direct` last heard of them.
  bool direct_stale = false;
  /// subscribe_feed() was called during the current packet.
  bool subscribe_pending = false;
  static inline const char* name = "presence.sio";
};

/// A lean actor (core/lean_actor.hpp): one per connected client, so no
/// scheduled_actor base; every Socket.IO session shares one handler table.
using sio_self = lean_stateful<sio_state, sio_session_api>;
using sio_ptr = sio_self*;

/// Most users one online list carries (seed 000/002/004 lists).
constexpr uint32_t sio_list_max = 1000;
/// Most ids one check-users-status may name.
constexpr size_t sio_max_batch = 1000;
/// Chat sessions one socket may be in; longest chat session id.
constexpr size_t max_rooms_per_socket = 256;
constexpr size_t max_room_id_bytes = 256;

// -- output -------------------------------------------------------------------

/// Sends event `name` with one argument to socket `s`.
void emit(sio_ptr self, const sio_socket& s, const std::string& name,
          const json& arg);

/// Queues one encoded packet (shared) to the session's transport.
void send_packet(sio_ptr self, std::shared_ptr<const std::string> packet);

/// The packet of event `name` about change `d` on namespace `nsp`, with
/// the argument `make_arg()`: encoded once per delivery and namespace for
/// every socket that gets the same event (`memo`, may be null: encoded
/// here). The dialects' delta_packet.
template <class MakeArg>
std::shared_ptr<const std::string>
delta_event(delta_memo* memo, const std::string& nsp, const presence_delta& d,
            const char* name, MakeArg make_arg) {
  auto make = [&] {
    return std::make_shared<const std::string>(
      sio::eio_event(nsp, name, make_arg()));
  };
  return memo != nullptr ? memo->get(name, nsp, d, make) : make();
}

/// Seeds 000 and 004: `online_event` or `offline_event` {"userId": ...}
/// about change `d`, for everyone but the socket's own `user` (null then).
inline std::shared_ptr<const std::string>
user_event_packet(delta_memo* memo, const std::string& nsp,
                  const std::string& user, const presence_delta& d,
                  const char* online_event, const char* offline_event) {
  if (d.user_id == user)
    return nullptr;
  return delta_event(memo, nsp, d, d.online ? online_event : offline_event,
                     [&d]() -> json {
                       return {{"userId", d.user_id}};
                     });
}

/// Answers acknowledgement `id` (nothing if the client asked for none).
void ack(sio_ptr self, const std::string& nsp, int64_t id, const json& arg);

/// {"success": true, "data": data}
json ack_ok(json data);

/// {"success": false, "error": message}
json ack_fail(const std::string& message);

/// A client mistake: the ack (when asked for) or a presence-error event.
void fail(sio_ptr self, const sio_socket& s, int64_t ack_id,
          const std::string& code, const std::string& message);

/// A failed request: as fail(), with the client error's message.
void fail(sio_ptr self, const sio_socket& s, int64_t ack_id,
          const caf::error& err);

// -- reading payloads ---------------------------------------------------------

/// A user id given as "id", 42, {"userId": ...} or {"user_id": ...}.
std::string user_arg(const json& j);

/// The string field `name` of an object, else "".
std::string string_field(const json& j, const char* name);

// -- sockets and presence -----------------------------------------------------

/// Who socket `s` is to users who restrict who sees them: the user it
/// joined as (or its token's), else someone anonymous.
inline viewer viewer_of(const sio_socket& s) {
  return viewer{s.link.ph != device_link::phase::idle ? s.link.user_id
                                                      : s.token_user,
                s.token_admin};
}

/// Finds socket `nsp` again later (callbacks: it may have gone).
std::function<sio_socket*()> socket_finder(sio_ptr self, std::string nsp);

/// Who socket `s` may act as, given a user named in a payload and a token
/// the payload brought. Returns false and sets `why` if it may not.
bool resolve_user(sio_ptr self, const sio_socket& s, const std::string& named,
                  const std::string& token, std::string& out, std::string& why);

/// Joins socket `nsp` as `user` (already joined as them: answers with the
/// current status); then calls `then(status)` or `err(message)`.
void join_socket(sio_ptr self, const std::string& nsp, const std::string& user,
                 std::function<void(const user_status&)> then,
                 std::function<void(const std::string&)> err);

/// The socket's device leaves, and it leaves its rooms.
void leave_socket(sio_ptr self, sio_socket& s);

/// The socket speaks `d` from now on (counted in presence_sessions).
void set_dialect(sio_ptr self, sio_socket& s, dialect d);

/// The socket is about to be removed: it no longer counts in
/// presence_sessions.
void uncount_socket(sio_ptr self, const sio_socket& s);

/// Subscribes the session to the global feed (once), at the end of the
/// current packet (publish_sockets).
void subscribe_feed(sio_ptr self);

/// A socket's namespace, dialect or user changed: the session's sio_direct
/// hears of it at the end of the current packet (publish_sockets), in one
/// piece (the fan-out writes on its own thread and must not see a socket
/// that has its dialect but not yet its user).
void sync_direct(sio_ptr self);

/// At the end of every packet: tells the session's sio_direct what its
/// sockets are now (if they changed), then sends a subscription
/// subscribe_feed asked for, registering the sio_direct with the node
/// first (the fan-out writes changes to the session's transport itself
/// from then on, with the sockets as the packet left them).
void publish_sockets(sio_ptr self);

/// Asks the node for the session's global feed (a request; on failure the
/// next identifying event subscribes again).
void send_subscribe(sio_ptr self);

/// The session moved from polling to a WebSocket: a feed it subscribed to
/// while polling is subscribed again, so the fan-out moves its deliveries
/// to the socket's thread (sio_direct::home).
void moved_to_websocket(sio_ptr self);

} // namespace presence::edge
