#pragma once

// presenced's own WebSocket protocol (docs/protocol.md): JSON text frames
// {"type": ..., "id"?: ...}; replies echo "id". Parsing and encoding only:
// no sockets, no actors, so it is unit-tested and fuzzed directly.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/messages.hpp"
#include "edge/common/contacts.hpp"

namespace presence::edge {

enum class native_op {
  join,         // "join" | "identify"
  leave,        // "leave"
  ping,         // "ping" | "heartbeat"
  get_status,   // "get_status"
  get_statuses, // "get_statuses" | "batch_status"
  list_online,  // "list_online"
  count_online, // "count_online"
  subscribe,    // "subscribe"
  unsubscribe,  // "unsubscribe"
  set_status,   // "set_status"
  send,         // "send": a private message
  activity,     // "activity": the user gave input (ends auto-away)
  join_room,    // "join_room": typing indicators of a room
  leave_room,   // "leave_room"
  typing,       // "typing": start (typing: true) or stop
  resync,       // "resync": what changed since a version
  contacts,     // "set_contacts" | "get_contacts": who may see the user
  refresh,      // "refresh": a fresh token before the session's expires
};

/// Most changes one resync reply carries (more: resync_required).
constexpr long long max_resync_changes = 10'000;

/// Longest auto-away idle time a join may ask for (1 day).
constexpr long long max_auto_away_s = 24 * 3600;

/// Longest custom status message; longest time it may be set for (7 days).
constexpr size_t max_status_text_bytes = 100;
constexpr long long max_status_expires_in_s = 7 * 24 * 3600;

/// Rooms one native session may be in; longest room id.
constexpr size_t max_rooms_per_session = 256;
constexpr size_t max_room_bytes = 256;

/// Most ids one get_statuses / subscribe frame may name.
constexpr size_t max_ids_per_frame = 1000;

/// Largest page of list_online.
constexpr uint32_t max_page = 1000;
constexpr uint32_t default_page = 100;

/// One client frame, parsed and checked.
struct native_command {
  native_op op = native_op::ping;
  /// The client's "id", re-encoded as JSON ("" when absent).
  std::string id_json;
  std::string user_id;
  std::string device_id;
  std::string user_agent;
  std::string platform;
  std::string token;
  bool has_status = false;
  presence_status status = presence_status::online;
  // join: auto-away after this many seconds without input (-1: the
  // server's --auto-away; 0: off)
  long long auto_away_s = -1;
  // set_status: the custom status message ("" clears) and its lifetime
  // (0: until cleared or the user goes offline)
  bool has_text = false;
  std::string status_text;
  long long text_expires_in_s = 0;
  std::vector<std::string> user_ids;
  bool global = false;
  /// subscribe: also the first page (`limit`) of online users (global).
  bool snapshot = false;
  std::string cursor;
  uint32_t limit = default_page;
  // resync: the newest version the client saw
  uint64_t since = 0;
  // join_room, leave_room, typing
  std::string room;
  bool typing = true;
  // send
  std::string conversation_id;
  std::string content;
  std::string temp_id;
  // set_contacts (get_contacts: nothing to change)
  contacts_change contacts;
};

/// Why a frame was refused: a stable code and a message for humans.
struct protocol_error {
  std::string code;
  std::string message;
  std::string id_json; // the frame's id if it could be read
};

/// Parses one text frame. Never throws. A heartbeat's ping in its plain
/// form is read without a JSON tree (fast_ping); everything else goes
/// through parse_native_tree.
bool parse_native(const std::string& text, native_command& out,
                  protocol_error& err);

/// The whole parser: a JSON tree, then the command (what parse_native does
/// for every frame fast_ping does not take; the tests compare the two).
bool parse_native_tree(const std::string& text, native_command& out,
                       protocol_error& err);

/// True if `text` is a ping in its plain form, the most frequent frame: an
/// object with the key "type" = "ping" and at most an "id" besides (an
/// integer of up to 18 digits, or a string of printable ASCII without
/// escapes, up to 256 characters), each once, JSON whitespace anywhere
/// between. Sets `id_json` to the id as parse_native_tree would dump it
/// (empty: none). False for anything else, which parse_native_tree then
/// reads (and accepts or refuses) as before.
bool fast_ping(std::string_view text, std::string& id_json);

// -- encoding -----------------------------------------------------------------

/// {"type":"error","id":..,"code":..,"message":..}
std::string encode_error(const protocol_error& err);
std::string encode_error(const std::string& id_json, const std::string& code,
                         const std::string& message);

/// {"type":"user.status.changed", user_id, is_online, status, last_seen, ...}
std::string encode_delta(const presence_delta& d);

/// Replies; `id_json` as in native_command.
std::string encode_joined(const std::string& id_json, const join_ack& ack);
std::string encode_left(const std::string& id_json);
std::string encode_pong(const std::string& id_json, millis now);

/// The same pong into `out` (replaced; its capacity is kept: a buffer
/// reused for every ping allocates nothing).
void encode_pong(std::string& out, std::string_view id_json, millis now);
std::string encode_status(const std::string& id_json, const user_status& s);
std::string encode_statuses(const std::string& id_json,
                            const std::vector<user_status>& xs);
std::string encode_online_list(const std::string& id_json,
                               const online_page& page);
std::string encode_count(const std::string& id_json, uint64_t n);
/// `resynced` {changes, cursor}, or `resync_required` {oldest, cursor}.
std::string encode_resync(const std::string& id_json, const change_page& p);
/// {"type":"contacts", user_id, visibility, effective, contacts}
/// {"type":"refreshed", expires_at, expires_at_ms}
std::string encode_refreshed(const std::string& id_json, millis expires_at);
std::string encode_contacts(const std::string& id_json, const std::string& user,
                            const contact_settings& s,
                            bool contacts_by_default);
/// `states`: the current state of the followed users (subscribe by id);
/// `online`: the first page of online users (a global subscribe with
/// "snapshot": true). Either may be null (left out).
std::string encode_subscribed(const std::string& id_json, bool subscribe,
                              const std::vector<std::string>& users,
                              bool global,
                              const std::vector<user_status>* states = nullptr,
                              const online_page* online = nullptr);
std::string encode_status_set(const std::string& id_json, const user_status& s);
/// Sent before the server closes a session whose device expired or was
/// replaced: {"type":"session.expired","device_id":..,"reason":..}
std::string encode_expired(const std::string& device_id,
                           const std::string& reason);
/// A private message for this device: {"type":"message","message":{id,
/// conversation_id, sender_id, content, created_at, temp_id}}.
std::string encode_message(const chat_message& m);
/// The reply to "send": {"type":"sent","id":..,"message":{..},
/// "delivered":..}.
std::string encode_sent(const std::string& id_json, const chat_message& m,
                        bool delivered);
/// The reply to "activity": {"type":"active","id":..}
std::string encode_active(const std::string& id_json);
/// Replies to join_room / leave_room / typing:
/// {"type":"room_joined"|"room_left"|"typing_sent","room":..}
std::string encode_room_reply(const std::string& id_json, const char* type,
                              const std::string& room);
/// Another member's typing: {"type":"room.typing","room":..,"user_id":..,
/// "typing":..}
std::string encode_typing(const room_signal& sig);
/// First frame of every session: {"type":"welcome", ...}
std::string encode_welcome(const std::string& user_id,
                           const std::string& device_id, millis ttl_ms,
                           bool global_feed);

} // namespace presence::edge

// Parsed on the socket's strand, handed to the session actor (local only).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(presence::edge::native_command)
