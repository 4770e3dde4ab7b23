#pragma once

// The one message vocabulary of presenced: every atom, every payload struct
// with its inspect(), and every typed_actor interface that crosses a folder.
// Anything that may cross nodes is registered in the type-ID block at the end
// (call presence::register_types(cfg) on every node).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/node_id.hpp>
#include <caf/meta/load_callback.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/type_id.hpp>
#include <caf/typed_actor.hpp>

namespace presence {

/// Wall-clock milliseconds since the Unix epoch (0 = never).
using millis = int64_t;

// -- atoms --------------------------------------------------------------------

using join_atom = caf::atom_constant<caf::atom("join")>;
using leave_atom = caf::atom_constant<caf::atom("leave")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using get_atom = caf::atom_constant<caf::atom("get")>;
using put_atom = caf::atom_constant<caf::atom("put")>;
using list_atom = caf::atom_constant<caf::atom("list")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using unsubscribe_atom = caf::atom_constant<caf::atom("unsub")>;
using delta_atom = caf::atom_constant<caf::atom("delta")>;
using expire_atom = caf::atom_constant<caf::atom("expire")>;
using ttl_atom = caf::atom_constant<caf::atom("ttl")>;
using grace_atom = caf::atom_constant<caf::atom("grace")>;
using idle_atom = caf::atom_constant<caf::atom("idle")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using touch_atom = caf::atom_constant<caf::atom("touch")>;
using load_atom = caf::atom_constant<caf::atom("load")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using close_atom = caf::atom_constant<caf::atom("close")>;
using checkpoint_atom = caf::atom_constant<caf::atom("checkpt")>;
using profile_atom = caf::atom_constant<caf::atom("profile")>;
using history_atom = caf::atom_constant<caf::atom("history")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using last_seen_atom = caf::atom_constant<caf::atom("lastseen")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;
using room_atom = caf::atom_constant<caf::atom("room")>;
using hello_atom = caf::atom_constant<caf::atom("hello")>;
using member_atom = caf::atom_constant<caf::atom("member")>;
using view_atom = caf::atom_constant<caf::atom("view")>;
using rejoin_atom = caf::atom_constant<caf::atom("rejoin")>;
using rehome_atom = caf::atom_constant<caf::atom("rehome")>;
using index_atom = caf::atom_constant<caf::atom("index")>;
using drop_atom = caf::atom_constant<caf::atom("drop")>;
using merge_atom = caf::atom_constant<caf::atom("merge")>;
using orphan_atom = caf::atom_constant<caf::atom("orphans")>;
using handover_atom = caf::atom_constant<caf::atom("handover")>;
using cluster_atom = caf::atom_constant<caf::atom("cluster")>;
using activity_atom = caf::atom_constant<caf::atom("activity")>;
using conversation_atom = caf::atom_constant<caf::atom("convers")>;
using message_atom = caf::atom_constant<caf::atom("message")>;
using queue_atom = caf::atom_constant<caf::atom("queue")>;
using changes_atom = caf::atom_constant<caf::atom("changes")>;
using contacts_atom = caf::atom_constant<caf::atom("contacts")>;
using repair_atom = caf::atom_constant<caf::atom("repair")>;

// -- presence values ----------------------------------------------------------

/// What a user (or one device) shows to others. `offline` is never set by a
/// client; it is what a user without devices reports. `invisible` is set by
/// a client and seen only by the user's own devices: to everyone else the
/// user is offline (actors/user_actor.cpp has the rule across devices).
enum class presence_status : uint8_t {
  offline = 0,
  online = 1,
  away = 2,
  busy = 3,
  dnd = 4,
  invisible = 5,
};

/// Wire name of a status ("online", "away", ...).
const char* status_name(presence_status x);

/// Parses a wire name; returns false for anything a client may not set
/// (unknown names and "offline").
bool parse_status(const std::string& text, presence_status& out);

/// What a client says about one of its devices when it joins.
struct device_info {
  std::string device_id;
  std::string user_agent;
  std::string platform;
  /// The status the client chose; `offline` (none chosen) joins `online`.
  presence_status status = presence_status::offline;
  /// Auto-away: after this long without input (`activity_atom`) the device
  /// turns away by itself, and online again on input. 0: never.
  millis auto_away = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_info& x) {
  return f(caf::meta::type_name("device_info"), x.device_id, x.user_agent,
           x.platform, x.status, x.auto_away);
}

/// One connected device as a user actor reports it.
struct device_view {
  std::string device_id;
  std::string user_agent;
  std::string platform;
  presence_status status = presence_status::online;
  millis connected_at = 0;
  millis last_active = 0;
  /// Auto-away (device_info::auto_away; 0: off), the device's last input,
  /// and whether its `away` is the automatic one (input ends it).
  millis auto_away = 0;
  millis last_input = 0;
  bool auto_away_active = false;
  /// The client chose this device's status (a join with a status, or
  /// set_status): a visible status chosen on one device keeps the user
  /// visible while another device is invisible.
  bool chosen = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, device_view& x) {
  return f(caf::meta::type_name("device_view"), x.device_id, x.user_agent,
           x.platform, x.status, x.connected_at, x.last_active, x.auto_away,
           x.last_input, x.auto_away_active, x.chosen);
}

// -- who may see whom (contacts) -----------------------------------------------

/// How a user chose who may see their presence (stored with the profile):
/// the server's default (`--visibility`), everyone, or their contacts only.
enum class visibility_mode : uint8_t {
  server_default = 0,
  everyone = 1,
  contacts = 2,
};

/// Wire name of a mode ("default", "everyone", "contacts").
const char* visibility_name(visibility_mode x);

/// Parses a wire name; false for anything else.
bool parse_visibility(const std::string& text, visibility_mode& out);

/// A user's stored visibility choice and contact list (sorted, unique),
/// and when it was written (ms; the newest write wins among replicas).
struct contact_settings {
  visibility_mode mode = visibility_mode::server_default;
  std::vector<std::string> ids;
  uint64_t since = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, contact_settings& x) {
  return f(caf::meta::type_name("contact_settings"), x.mode, x.ids, x.since);
}

/// Who may see a user's presence right now, as the user's state carries it
/// to every node (statuses, deltas, lists): everyone (no list), or only the
/// user, the ids in `contacts` (sorted) and viewers who see all (admins,
/// the server itself). Shared, never copied per receiver.
struct visibility {
  struct rule {
    /// Who may see the user (sorted).
    std::vector<std::string> contacts;
    /// The version from which the user hid this way: what those left out
    /// see as the user's version (a later version would tell them when
    /// the user last changed), and the one change of the user they are
    /// sent.
    uint64_t since = 0;
  };

  /// Null: everyone may see the user (one pointer in every copy of a
  /// user's state, 16 bytes).
  std::shared_ptr<const rule> r;

  bool restricted() const { return r != nullptr; }

  uint64_t since() const { return r ? r->since : 0; }
};

/// Serialized as a flag, the list and the version (null: everyone).
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, visibility& x) {
  bool restricted = x.r != nullptr;
  std::vector<std::string> ids;
  uint64_t since = 0;
  if (Inspector::reads_state && restricted) {
    ids = x.r->contacts;
    since = x.r->since;
  }
  auto load = caf::meta::load_callback([&]() -> caf::error {
    if (restricted)
      x.r = std::make_shared<const visibility::rule>(
        visibility::rule{std::move(ids), since});
    else
      x.r = nullptr;
    return caf::none;
  });
  return f(caf::meta::type_name("visibility"), restricted, ids, since, load);
}

/// Who is looking: a user id ("" for someone anonymous), or `all` for
/// whoever may see everything (an admin token, the node itself, webhooks).
struct viewer {
  std::string user_id;
  bool all = false;

  static viewer everything() { return viewer{std::string{}, true}; }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, viewer& x) {
  return f(caf::meta::type_name("viewer"), x.user_id, x.all);
}

/// The visibility `s` amounts to on a server whose default (for users who
/// never chose) is contacts-only when `contacts_by_default`.
visibility make_visibility(const contact_settings& s, bool contacts_by_default);

/// `v` hiding from the version `since` on (the change that restricts it).
visibility with_since(const visibility& v, uint64_t since);

/// The same people may see both.
bool same_visibility(const visibility& a, const visibility& b);

/// True if `who` may see the presence of `user`, whose visibility is `v`.
bool may_see(const viewer& who, const std::string& user, const visibility& v);

/// The full answer to "what is the presence of user X".
struct user_status {
  std::string user_id;
  bool online = false;
  presence_status status = presence_status::offline;
  /// Offline: when the user was last seen. Online: latest device activity.
  millis last_seen = 0;
  /// When the current online session started (0 when offline).
  millis online_since = 0;
  /// Bumped on every change; never goes backwards, survives restarts.
  uint64_t version = 0;
  std::vector<device_view> devices;
  /// The user's custom status message ("" none) and when it ends by itself
  /// (0: never). Lives while the user is online.
  std::string status_text;
  millis status_expires = 0;
  /// Who may see all this (viewers who may not see it as offline, never
  /// seen: hidden_from()).
  visibility vis;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_status& x) {
  return f(caf::meta::type_name("user_status"), x.user_id, x.online, x.status,
           x.last_seen, x.online_since, x.version, x.devices, x.status_text,
           x.status_expires, x.vis);
}

/// One change of one user's visible presence, as fanned out to subscribers.
struct presence_delta {
  std::string user_id;
  bool online = false;
  presence_status status = presence_status::offline;
  millis last_seen = 0;
  millis online_since = 0;
  uint64_t version = 0;
  /// As in user_status.
  std::string status_text;
  millis status_expires = 0;
  visibility vis;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_delta& x) {
  return f(caf::meta::type_name("presence_delta"), x.user_id, x.online,
           x.status, x.last_seen, x.online_since, x.version, x.status_text,
           x.status_expires, x.vis);
}

/// What `who` may see of `d`: `d` itself, or (the user restricts who sees
/// them and `who` is not among them) the user as offline and never seen,
/// with the version `d.vis.since()`. hidden(): the latter. Those left out
/// are sent only the delta whose version is `vis.since()` (the change that
/// hid the user from them): announced_to().
bool hidden_from(const viewer& who, const presence_delta& d);
presence_delta hidden(const presence_delta& d);
bool hidden_from(const viewer& who, const user_status& s);
/// False if `d` must not be sent to `who` at all (it is hidden from them
/// and not the change that hid it).
bool announced_to(const viewer& who, const presence_delta& d);
/// `s` as someone who may not see it sees it (in place).
void hide(user_status& s);

/// A page of the online list, ordered by user id.
struct online_page {
  std::vector<presence_delta> users;
  /// Pass as cursor to get the next page; empty on the last page.
  std::string next_cursor;
  /// Online users in total (not just this page).
  uint64_t total = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, online_page& x) {
  return f(caf::meta::type_name("online_page"), x.users, x.next_cursor,
           x.total);
}

/// What changed since a cursor (a user's version; actors/change_log.hpp):
/// the latest state of every user whose version is newer, oldest first.
/// `complete` false: the node's change log no longer reaches back that far
/// (or more changed than the limit): the client re-lists instead.
struct change_page {
  bool complete = true;
  std::vector<presence_delta> changes;
  /// The newest version the log holds (the cursor after these changes).
  uint64_t cursor = 0;
  /// Changes with versions up to this one may be gone from the log.
  uint64_t oldest = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, change_page& x) {
  return f(caf::meta::type_name("change_page"), x.complete, x.changes, x.cursor,
           x.oldest);
}

/// Display data of a user, used in the seeds' payloads.
struct profile {
  bool known = false; // false: no profile stored (fields are empty)
  std::string name;
  std::string username;
  std::string email;
  std::string avatar;
  /// Who may see the user's presence (private: never in profile payloads).
  contact_settings contacts;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, profile& x) {
  return f(caf::meta::type_name("profile"), x.known, x.name, x.username,
           x.email, x.avatar, x.contacts);
}

/// Fields of a profile a write sets; the others keep their stored value.
enum profile_field : uint8_t {
  profile_name = 1,
  profile_username = 2,
  profile_email = 4,
  profile_avatar = 8,
  profile_all = 15,
  /// The visibility mode, the contact list (not part of profile_all, which
  /// the profile endpoints write).
  profile_visibility = 16,
  profile_contacts = 32,
};

/// Copies the fields of `from` named in `mask` into `to`.
void apply_fields(profile& to, const profile& from, uint8_t mask);

/// One online session of a user, from first device to last.
struct session_record {
  millis start = 0;
  millis end = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_record& x) {
  return f(caf::meta::type_name("session_record"), x.start, x.end);
}

/// A session that opened (user, start, version): one open mark of a batch
/// (the replicator sends those of one mailbox pass to a store together).
struct session_open {
  std::string user_id;
  millis start = 0;
  uint64_t version = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_open& x) {
  return f(caf::meta::type_name("session_open"), x.user_id, x.start, x.version);
}

/// A checkpoint of an open session (user, start, last_active, version,
/// status): one of a batch (the replicator sends those of one mailbox pass
/// to a store together, as it does the open marks).
struct session_checkpoint {
  std::string user_id;
  millis start = 0;
  millis last_active = 0;
  uint64_t version = 0;
  presence_status status = presence_status::online;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_checkpoint& x) {
  return f(caf::meta::type_name("session_checkpoint"), x.user_id, x.start,
           x.last_active, x.version, x.status);
}

/// What the store remembers of a user between sessions.
struct user_record {
  std::string user_id;
  bool known = false;
  millis last_seen = 0;
  uint64_t version = 0;
  /// An online session is open (in a cluster: possibly on another owner
  /// that died): when it began, its last checkpointed activity and status.
  bool open = false;
  millis open_start = 0;
  millis open_last_active = 0;
  presence_status open_status = presence_status::online;
  /// Private messages waiting in the user's offline queue (a hint for the
  /// user actor: set by the single-user load only).
  uint32_t queued = 0;
  /// The devices the offline queue keeps a cursor for ("" for the unnamed
  /// ones; single-user load only): a device not among them takes the queue
  /// on its next join, which makes it known.
  std::vector<std::string> queue_devices{};
  /// When each of queue_devices last took the queue (same order).
  std::vector<millis> queue_seen{};
  /// The user's stored visibility and contacts (`contacts_stored` false: no
  /// profile record, the server's default).
  bool contacts_stored = false;
  contact_settings contacts{};
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_record& x) {
  return f(caf::meta::type_name("user_record"), x.user_id, x.known, x.last_seen,
           x.version, x.open, x.open_start, x.open_last_active, x.open_status,
           x.queued, x.queue_devices, x.queue_seen, x.contacts_stored,
           x.contacts);
}

/// A device's place in a user's offline queue, as replica repair copies
/// it: how many of the queued messages (the newest ones) it has not taken.
struct queue_cursor {
  std::string device;
  uint32_t pending = 0;
  millis seen = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, queue_cursor& x) {
  return f(caf::meta::type_name("queue_cursor"), x.device, x.pending, x.seen);
}

/// A private conversation (seed 001): who may read and write it. Two
/// participants make a direct conversation whose id follows from the pair
/// (creating it again finds the same one); more make a group.
struct conversation {
  bool known = false; // false: no such conversation (fields are empty)
  std::string id;
  /// Sorted, without duplicates.
  std::vector<std::string> participants;
  millis created_at = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, conversation& x) {
  return f(caf::meta::type_name("conversation"), x.known, x.id, x.participants,
           x.created_at);
}

/// One private message. `seq` orders a conversation's messages (1, 2, ...);
/// `id` is "<conversation id>:<seq>". A message to store has seq 0: the
/// conversation's primary store numbers it; a replica copy carries its
/// seq. `duplicate`: the store already had this (sender, temp_id) and
/// answered with the stored message instead.
struct chat_message {
  std::string id;
  std::string conversation_id;
  std::string sender_id;
  std::string content;
  millis created_at = 0;
  std::string temp_id;
  uint64_t seq = 0;
  bool duplicate = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chat_message& x) {
  return f(caf::meta::type_name("chat_message"), x.id, x.conversation_id,
           x.sender_id, x.content, x.created_at, x.temp_id, x.seq, x.duplicate);
}

/// Messages of a conversation, oldest first; `has_more`: older ones exist.
struct message_page {
  std::vector<chat_message> messages;
  bool has_more = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, message_page& x) {
  return f(caf::meta::type_name("message_page"), x.messages, x.has_more);
}

/// Everything one store holds under one key of the ring (a user id or a
/// conversation id), as replica repair copies it to a node that became one
/// of the key's replicas (cluster/repairer.cpp; applied by
/// store_db::apply_bundle, idempotently).
struct replica_bundle {
  std::string key;
  /// The user's last_seen record as stored (not raised by an open mark).
  bool seen = false;
  millis last_seen = 0;
  uint64_t version = 0;
  /// The user's open-session mark, if any.
  bool open = false;
  millis open_start = 0;
  millis open_last_active = 0;
  uint64_t open_version = 0;
  presence_status open_status = presence_status::online;
  /// Newest first (at most the history limit).
  std::vector<session_record> history;
  profile prof;
  /// The conversation under this key (known = false: none) and its
  /// messages, oldest first.
  conversation conv;
  std::vector<chat_message> messages;
  /// The user's offline queue, oldest first, and its devices' cursors.
  std::vector<chat_message> queued;
  std::vector<queue_cursor> cursors;

  /// Nothing stored under the key.
  bool empty() const {
    return !seen && !open && history.empty() && !prof.known && !conv.known
           && queued.empty() && cursors.empty();
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, replica_bundle& x) {
  return f(caf::meta::type_name("replica_bundle"), x.key, x.seen, x.last_seen,
           x.version, x.open, x.open_start, x.open_last_active, x.open_version,
           x.open_status, x.history, x.prof, x.conv, x.messages, x.queued,
           x.cursors);
}

/// An ephemeral signal to the other members of a room (a chat session):
/// "user X is typing". Never stored.
struct room_signal {
  std::string room;
  std::string user_id;
  bool typing = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, room_signal& x) {
  return f(caf::meta::type_name("room_signal"), x.room, x.user_id, x.typing);
}

/// The encodings of one delivery's deltas, made by the sessions that
/// receive them and shared among them: a delta is encoded once per wire
/// format, not once per subscriber (every session queues the same buffer).
/// Thread-safe: sessions run on any scheduler thread.
class delta_memo {
public:
  using packet = std::shared_ptr<const std::string>;

  /// The packet of delta `d` in `format` (the encoder's name) for `scope`
  /// (whatever else the bytes depend on, e.g. the Socket.IO namespace),
  /// made by `make()` the first time it is asked for. Looked up without
  /// building a key: this runs once per delta per receiving session (a
  /// 2,000-socket storm asks millions of times).
  template <class Make>
  packet get(std::string_view format, std::string_view scope,
             const presence_delta& d, Make&& make) {
    auto h = hash_of(format, scope, d);
    {
      std::lock_guard<std::mutex> guard{mu_};
      if (auto* p = find(h, format, scope, d))
        return *p;
    }
    packet p = make(); // outside the lock; a racing twin is dropped
    std::lock_guard<std::mutex> guard{mu_};
    if (auto* q = find(h, format, scope, d))
      return *q;
    packets_.emplace(h, entry{std::string{format}, std::string{scope},
                              d.user_id, d.version, p});
    return p;
  }

private:
  struct entry {
    std::string format;
    std::string scope;
    std::string user_id;
    uint64_t version;
    packet p;
  };

  static size_t hash_of(std::string_view format, std::string_view scope,
                        const presence_delta& d) {
    std::hash<std::string_view> h;
    size_t x = h(d.user_id);
    auto mix = [&x](size_t y) {
      x ^= y + 0x9e3779b97f4a7c15ULL + (x << 6) + (x >> 2);
    };
    mix(h(format));
    mix(h(scope));
    mix(std::hash<uint64_t>{}(d.version));
    return x;
  }

  const packet* find(size_t h, std::string_view format, std::string_view scope,
                     const presence_delta& d) const {
    auto [i, end] = packets_.equal_range(h);
    for (; i != end; ++i) {
      auto& e = i->second;
      if (e.version == d.version && e.user_id == d.user_id && e.format == format
          && e.scope == scope)
        return &e.p;
    }
    return nullptr;
  }

  std::mutex mu_;
  std::unordered_multimap<size_t, entry> packets_;
};

/// Deltas of one coalescing window, shared (not copied) among all local
/// subscribers. Local only: it never crosses nodes.
struct delta_batch {
  std::shared_ptr<const std::vector<presence_delta>> deltas;
  /// Shared by every batch of one delivery (null: encode alone).
  std::shared_ptr<delta_memo> memo;
  /// Passed on by the listener's direct_listener (which waits for it).
  bool forwarded = false;
};

class direct_listener;

/// A thread that runs deliveries for the direct listeners living there (an
/// I/O thread, whose sockets they write to). The fan-out hands a home a
/// delivery's listeners in chunks instead of calling each one itself: per
/// subscriber the fan-out then does nothing, and each socket is touched by
/// its own thread only (no inbox, lock or cache line crossing cores per
/// delivery).
class delivery_home {
public:
  using listeners = std::vector<std::shared_ptr<direct_listener>>;
  using batches
    = std::vector<std::pair<std::shared_ptr<direct_listener>, delta_batch>>;
  virtual ~delivery_home();
  /// Calls `deliver(batch)` on `ls[begin, end)` there, later, in the order
  /// of the calls made to this home (nothing, once the home's thread is
  /// gone: so are its sockets).
  virtual void deliver(std::shared_ptr<const listeners> ls, std::size_t begin,
                       std::size_t end, delta_batch batch)
    = 0;
  /// Calls `l->deliver(b)` for each `(l, b)` of `each` there, in the same
  /// order as the other.
  virtual void deliver(batches each) = 0;
};

/// A listener the fan-out hands its batches to on the fan-out's own thread
/// (or on its home's), instead of a message to the listener's actor: per
/// subscriber a filter and a pointer copy (a native session writes the
/// shared frames straight to its socket). Called by one fan-out at a time,
/// in delivery order; thread-safe and never blocking.
class direct_listener {
public:
  virtual ~direct_listener();
  virtual void deliver(const delta_batch& batch) = 0;
  /// Where deliveries to this listener are best run (delivery_home); null:
  /// on the fan-out's thread. Asked when it subscribes, and asked again
  /// when one without a home subscribes again (a Socket.IO session that
  /// upgraded from polling): once it has one, it keeps it for its life.
  virtual std::shared_ptr<delivery_home> home() const;
  /// Asks the CPU to bring what deliver() will read into the cache, a few
  /// listeners ahead of it (a home's task knows who is next): `step` 0,
  /// what this object points to; 1 (a call later, when that is in), what
  /// that points to. Prefetches only: nothing is read or written. The
  /// default does nothing.
  virtual void warm(int step) const;
};

/// The node's direct listeners by their actor's address: a session adds
/// itself before it subscribes, the fan-out looks it up when the listener
/// subscribes, and the session removes itself when it ends.
class direct_listeners {
public:
  void add(const caf::actor_addr& a, std::shared_ptr<direct_listener> l) {
    std::lock_guard<std::mutex> guard{mu_};
    map_[a] = std::move(l);
  }

  void remove(const caf::actor_addr& a) {
    std::lock_guard<std::mutex> guard{mu_};
    map_.erase(a);
  }

  std::shared_ptr<direct_listener> find(const caf::actor_addr& a) const {
    std::lock_guard<std::mutex> guard{mu_};
    auto i = map_.find(a);
    return i == map_.end() ? nullptr : i->second;
  }

private:
  mutable std::mutex mu_;
  std::unordered_map<caf::actor_addr, std::shared_ptr<direct_listener>> map_;
};

/// What a node reports about itself with every heartbeat.
struct member_stats {
  uint64_t users_owned = 0;
  uint64_t connections = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_stats& x) {
  return f(caf::meta::type_name("member_stats"), x.users_owned, x.connections);
}

/// A member's row in /api/cluster.
struct member_status {
  std::string node_id;
  std::string endpoint;
  uint16_t http_port = 0;
  /// "alive", "dead" or "self".
  std::string state;
  member_stats stats;
  millis last_heard = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_status& x) {
  return f(caf::meta::type_name("member_status"), x.node_id, x.endpoint,
           x.http_port, x.state, x.stats, x.last_heard);
}

struct cluster_status {
  std::string self;
  uint64_t ring_version = 0;
  uint32_t replication = 1;
  std::vector<member_status> members;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_status& x) {
  return f(caf::meta::type_name("cluster_status"), x.self, x.ring_version,
           x.replication, x.members);
}

// -- errors -------------------------------------------------------------------

/// Errors presence actors reply with (category atom "presence").
enum class errc : uint8_t {
  none = 0,
  /// A join beyond actors_config::max_devices_per_user.
  too_many_devices = 1,
  /// The node is shutting down and takes no new joins.
  shutting_down = 2,
  /// The user actor is gone (its user went offline); look it up again.
  user_gone = 3,
  /// An argument was out of range (bad id, bad limit, ...).
  invalid_argument = 4,
  /// A subscribe beyond actors_config::max_subscriptions.
  too_many_subscriptions = 5,
};

const char* to_string(errc x);

/// Makes a CAF error of category "presence".
caf::error make_error(errc x);

/// Returns the presence error code inside `err` (errc::none if it is not one).
errc presence_code(const caf::error& err);

} // namespace presence

namespace presence::persistence {

/// Why the store could not do what it was asked (category atom "store").
/// RocksDB's Status becomes one of these in persistence/; nothing else of
/// RocksDB leaves that folder.
enum class errc : uint8_t {
  none = 0,
  /// RocksDB failed to read or write (I/O error, disk full, ...).
  io_error = 1,
  /// Stored bytes could not be decoded.
  corruption = 2,
  /// No store that holds the data answered (cluster replicas).
  unavailable = 3,
};

const char* to_string(errc x);

/// Makes a CAF error of category "store".
caf::error make_error(errc x);

/// Returns the store error code inside `err` (errc::none if it is not one).
errc store_code(const caf::error& err);

/// The category atom of store errors ("store").
caf::atom_value error_category();

} // namespace presence::persistence

namespace presence {

// -- typed interfaces ---------------------------------------------------------
//
// Every actor that another folder (or node) talks to has a typed interface
// here: a holder can send only what the interface names, checked at compile
// time. An actor's own timers are never part of it: each actor extends its
// interface privately in its .cpp.

struct join_request;
struct join_ack;
struct user_transfer;
struct member_info;
struct cluster_view;

/// One online user (actors/user_actor) as its sessions and the router see
/// it. Sessions hold this handle after a join and send heartbeats, status
/// changes and leaves directly to it (possibly on another node).
using user_api = caf::typed_actor<
  caf::replies_to<join_atom, join_request>::with<join_ack>,
  // a device goes (device, address of the session that held it: a leave
  // from a session that was replaced on that device is ignored)
  caf::reacts_to<leave_atom, std::string, caf::actor_addr>,
  // the client of a device was active at the edge (device, when); sent at
  // most once per checkpoint interval per device (edge/common/activity)
  caf::reacts_to<heartbeat_atom, std::string, millis>,
  caf::replies_to<status_atom, std::string, presence_status>::with<user_status>,
  // the user's custom status message (text, "" clears; ends at `expires`,
  // 0 never)
  caf::replies_to<status_atom, std::string, millis>::with<user_status>,
  caf::replies_to<get_atom>::with<user_status>,
  caf::replies_to<touch_atom>::with<user_status>,
  // a leave that came without a user actor (device, session): see
  // presence_api's touch with a device
  caf::replies_to<touch_atom, std::string, caf::actor_addr>::with<user_status>,
  // the user's visibility and contacts changed (stored already)
  caf::reacts_to<contacts_atom, contact_settings>,
  // the user gave input on a device (device, when): ends its auto-away
  // (and resets its idle time); not sent for heartbeats
  caf::reacts_to<activity_atom, std::string, millis>,
  // a private message for every device of the user but `except` (the
  // device that sent it, "" for none); replies how many devices it went to,
  // with `hidden_recipient` set when the user is invisible or hides from
  // the sender (contacts)
  caf::replies_to<message_atom, chat_message, std::string>::with<uint32_t>>;

/// Set in the reply to a private message (message_atom) when the recipient
/// is invisible or does not let the sender see them: their devices got it, and the sender must not learn that
/// they are there (the reply's other bits count the devices).
constexpr uint32_t hidden_recipient = uint32_t{1} << 31;

/// The session side of a device (edge/native and edge/socketio sessions,
/// possibly on another node): what a user actor tells the session holding
/// one of its devices. Both kinds of session implement it through
/// edge/common/device_link.
using session_api = caf::typed_actor<
  // the device is gone (device, why: "heartbeat timeout" or "replaced")
  caf::reacts_to<expire_atom, std::string, std::string>,
  // the device is held by this user actor now (the user moved nodes)
  caf::reacts_to<rehome_atom, std::string, user_api>,
  // the user actor does not know the device (any more): join again
  caf::reacts_to<rejoin_atom, std::string>,
  // a private message for the client of the device (device, message)
  caf::reacts_to<message_atom, std::string, chat_message>>;

/// Whoever subscribes to presence changes (sessions, an embedding host's
/// actors): gets one batch per coalescing window. Local only.
using delta_listener
  = caf::typed_actor<caf::reacts_to<delta_atom, delta_batch>>;

/// The fan-out of a node (actors/fanout): subscriptions, and the deltas of
/// every user (from the registries of every node) to pass on.
using fanout_api = caf::typed_actor<
  caf::replies_to<subscribe_atom, delta_listener, std::vector<std::string>,
                  bool>::with<bool>,
  caf::replies_to<unsubscribe_atom, delta_listener, std::vector<std::string>,
                  bool>::with<bool>,
  caf::reacts_to<delta_atom, presence_delta>,
  // several, in order (another node's registry sends what one pass of its
  // mailbox announced in one message)
  caf::reacts_to<delta_atom, std::vector<presence_delta>>,
  // (listener, since, limit): the change log after version `since`, only
  // what the listener subscribes to (an invalid listener: everything)
  caf::replies_to<changes_atom, delta_listener, uint64_t,
                  uint32_t>::with<change_page>,
  // the change log may lack changes up to this version (the node missed
  // other nodes' changes): older cursors get resync_required
  caf::reacts_to<changes_atom, uint64_t>>;

/// A member of rooms: gets the signals other members send to a room.
using room_member = caf::typed_actor<caf::reacts_to<room_atom, room_signal>>;

/// Whoever keeps users' profiles in memory (edge/socketio/seed000_list):
/// told when one changed anywhere in the cluster.
using profile_watcher
  = caf::typed_actor<caf::reacts_to<profile_atom, std::string>>;

/// The rooms of a node (actors/room_registry): named groups of members
/// passing ephemeral signals (typing indicators). Only members may signal.
/// The same node-to-node path tells every node's profile watchers of a
/// profile write (no room: clients cannot join or send it).
using rooms_api = caf::typed_actor<
  caf::reacts_to<join_atom, std::string, room_member>,
  caf::reacts_to<leave_atom, std::string, room_member>,
  // (sender, signal): passed to every other member of signal.room, on this
  // node and (through their rooms) on every other node
  caf::reacts_to<room_atom, room_member, room_signal>,
  // from another node's rooms: passed to this node's members of the room
  caf::reacts_to<room_atom, room_signal>,
  // a watcher hears of every profile write in the cluster (until it ends)
  caf::reacts_to<subscribe_atom, profile_watcher>,
  // a user's profile was written on this node: passed to this node's
  // watchers and to every other node's rooms
  caf::reacts_to<profile_atom, std::string>,
  // from another node's rooms (users whose profiles were written there):
  // passed to this node's watchers
  caf::reacts_to<profile_atom, std::vector<std::string>>>;

/// The persistence store (persistence/store_actor): a detached actor that owns
/// RocksDB. Writes are fire-and-forget (failed ones are retried by the store,
/// see persistence/README.md); requests may be answered with an error of
/// category "store" (persistence::errc). Its timer is private
/// (persistence/store_actor.cpp).
using store_api = caf::typed_actor<
  // last_seen and version of one user / many users
  caf::replies_to<load_atom, std::string>::with<user_record>,
  caf::replies_to<load_atom,
                  std::vector<std::string>>::with<std::vector<user_record>>,
  // what starting user actors need (the single load's record, with its
  // hints), for many users in one message (the replicator sends the loads
  // of one mailbox pass so); a user whose record could not be read comes
  // back with an empty user_id
  caf::replies_to<load_atom, join_atom,
                  std::vector<std::string>>::with<std::vector<user_record>>,
  // a user came online (user, start, version)
  caf::reacts_to<open_atom, std::string, millis, uint64_t>,
  // users came online: as many single opens, in order
  caf::reacts_to<open_atom, std::vector<session_open>>,
  // cheap activity mark for crash recovery (user, start, last_active,
  // version, status); batched by the store, never fsynced
  caf::reacts_to<checkpoint_atom, std::string, millis, millis, uint64_t,
                 presence_status>,
  // checkpoints: as many single ones, in order
  caf::reacts_to<checkpoint_atom, std::vector<session_checkpoint>>,
  // a user went offline (user, start, end = last_seen, version)
  caf::reacts_to<close_atom, std::string, millis, millis, uint64_t>,
  // last_seen of an offline user touched by REST (user, when)
  caf::replies_to<last_seen_atom, std::string, millis>::with<user_record>,
  caf::replies_to<get_atom, profile_atom, std::string>::with<profile>,
  caf::replies_to<get_atom, profile_atom,
                  std::vector<std::string>>::with<std::vector<profile>>,
  // set the fields of the profile named by the mask (profile_field bits),
  // in one step; replies the stored profile
  caf::replies_to<put_atom, profile_atom, std::string, profile,
                  uint8_t>::with<profile>,
  // recent sessions, newest first (user, limit)
  caf::replies_to<history_atom, std::string,
                  uint32_t>::with<std::vector<session_record>>,
  // write pending checkpoints and failed writes, sync the WAL (an error
  // if anything is still not written)
  caf::replies_to<flush_atom>::with<bool>,
  // forget the open-session mark of a user (it moved to another owner)
  caf::reacts_to<drop_atom, std::string>,
  // raise last_seen / version to at least the record's (read repair)
  caf::reacts_to<merge_atom, user_record>,
  // every open-session mark (to close sessions a dead owner left open)
  caf::replies_to<orphan_atom>::with<std::vector<user_record>>,
  // -- private messages (keyed by conversation id) --
  // stores the conversation unless its id is taken; replies what is stored
  // under that id
  caf::replies_to<put_atom, conversation_atom,
                  conversation>::with<conversation>,
  caf::replies_to<get_atom, conversation_atom, std::string>::with<conversation>,
  // appends a message (seq 0: numbered here; idempotent on (sender,
  // temp_id) within the conversation) or stores a replica's copy (seq set)
  caf::replies_to<put_atom, message_atom, chat_message>::with<chat_message>,
  // (conversation, before seq (0: the newest), limit)
  caf::replies_to<get_atom, message_atom, std::string, uint64_t,
                  uint32_t>::with<message_page>,
  // -- a user's offline queue (keyed by user id) --
  // a message for a user who had no live device; replies the queue length
  caf::replies_to<queue_atom, std::string, chat_message>::with<uint32_t>,
  // (user, device): what waits for the device, oldest first; its cursor
  // moves past them (store_db::take_queue; device "" = the unnamed ones)
  caf::replies_to<queue_atom, std::string,
                  std::string>::with<std::vector<chat_message>>,
  // how many no device of the user has taken
  caf::replies_to<queue_atom, count_atom, std::string>::with<uint32_t>,
  // -- replica repair (cluster/repairer.cpp) --
  // (after, limit): the next keys (user and conversation ids) this store
  // holds anything under, in order, at most limit
  caf::replies_to<repair_atom, std::string,
                  uint32_t>::with<std::vector<std::string>>,
  // what the store holds under each key (empty bundles for nothing)
  caf::replies_to<repair_atom, get_atom,
                  std::vector<std::string>>::with<std::vector<replica_bundle>>,
  // merges a bundle from another replica (idempotent; never lowers or
  // overwrites anything newer); replies true
  caf::replies_to<repair_atom, replica_bundle>::with<bool>>;

/// The presence service of a node: what the edge, REST and an embedding host
/// call. Implemented by actors/shard_registry.
using presence_api = caf::typed_actor<
  caf::replies_to<get_atom, std::string>::with<user_status>,
  caf::replies_to<get_atom,
                  std::vector<std::string>>::with<std::vector<user_status>>,
  // online users after `cursor` (exclusive), at most `limit`
  // (what `viewer` may see: users who hide from it are left out)
  caf::replies_to<list_atom, std::string, uint32_t, viewer>::with<online_page>,
  caf::replies_to<count_atom, viewer>::with<uint64_t>,
  // the user's visibility and contacts changed (stored already): its
  // owner's user actor, if running, shows the new visibility
  caf::reacts_to<contacts_atom, std::string, contact_settings>,
  // the listener gets the deltas of `users`, or of everyone if global
  caf::replies_to<subscribe_atom, delta_listener, std::vector<std::string>,
                  bool>::with<bool>,
  caf::replies_to<unsubscribe_atom, delta_listener, std::vector<std::string>,
                  bool>::with<bool>,
  // (listener, since, limit): what changed after version `since` (the
  // node's change log, fanout_api), as the listener subscribes to it
  caf::replies_to<changes_atom, delta_listener, uint64_t,
                  uint32_t>::with<change_page>,
  caf::replies_to<join_atom, join_request>::with<join_ack>,
  // REST "I am here": refresh activity (online) or last_seen (offline)
  caf::replies_to<touch_atom, std::string>::with<user_status>,
  // (user, device, session): the client of that device left while its
  // session had no user actor (between a lost one and the rejoin): the
  // owner drops the device if its user actor holds it from that session
  // (a handover reached it meanwhile), else records the user seen now
  caf::replies_to<touch_atom, std::string, std::string,
                  caf::actor_addr>::with<user_status>,
  // every online user goes offline now (node shutdown); replies the count
  caf::replies_to<shutdown_atom>::with<uint64_t>,
  // a private message to every live device of `user` but device `except`
  // (user, message, except); replies how many devices it reached (0: the
  // user is offline), with `hidden_recipient` set when the user is invisible
  caf::replies_to<message_atom, std::string, chat_message,
                  std::string>::with<uint32_t>>;

/// A node's registry as other nodes see it (actors/shard_registry): the
/// presence service, plus users handed over when the ring moves them here.
using node_registry_api
  = presence_api::extend<caf::reacts_to<handover_atom, user_transfer>>;

/// Whoever follows the cluster's membership (registry, router, replicator).
using view_listener = caf::typed_actor<caf::reacts_to<view_atom, cluster_view>>;

/// The membership actor of a node (cluster/membership), published on the
/// cluster port. Its retry and heartbeat timers are private.
using membership_api = caf::typed_actor<
  // a node joins: answered with every member this one knows
  caf::replies_to<hello_atom, member_info>::with<std::vector<member_info>>,
  // gossip: a member someone else learned of
  caf::reacts_to<member_atom, member_info>,
  // (node id, incarnation, its figures): a member is alive
  caf::reacts_to<heartbeat_atom, std::string, millis, member_stats>,
  // local: get every view, the current one at once
  caf::reacts_to<subscribe_atom, view_listener>,
  caf::replies_to<get_atom, cluster_atom>::with<cluster_status>,
  // local: the cluster port is bound (advertised endpoint) / the HTTP port
  caf::reacts_to<put_atom, std::string>, caf::reacts_to<put_atom, uint16_t>,
  // local: this node leaves; first a view without it, then (true) a
  // farewell to every member, answered once every member answered
  caf::replies_to<leave_atom>::with<bool>,
  caf::replies_to<leave_atom, bool>::with<bool>,
  // a member says farewell
  caf::replies_to<leave_atom, std::string>::with<bool>>;

// -- messages that carry actor handles -----------------------------------------

/// A device of `user_id` joins; `session` holds it (and hears about it
/// through `session_api`).
struct join_request {
  std::string user_id;
  device_info device;
  session_api session;
  /// The joining session takes the user's offline queue of private
  /// messages when join_ack::queued says some may wait (seed 000/001 and
  /// native joins; not seed 002/004, not rejoins).
  bool collects_queue = false;
  /// The client's name for the device in the offline queue ("": unnamed).
  std::string queue_device;
  /// Registries that passed it on to the owner they knew (bounded, as
  /// user_transfer::hops).
  uint8_t hops = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_request& x) {
  return f(caf::meta::type_name("join_request"), x.user_id, x.device, x.session,
           x.collects_queue, x.queue_device, x.hops);
}

/// Answer to a join: the user actor to send heartbeats and leaves to.
struct join_ack {
  user_api user;
  std::string device_id;
  user_status status;
  /// Private messages may wait in the user's offline queue: the joining
  /// session takes them (edge/common/chat.hpp, drain_queue).
  bool queued = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, join_ack& x) {
  return f(caf::meta::type_name("join_ack"), x.user, x.device_id, x.status,
           x.queued);
}

/// A user's live state moving from its old owner node to its new one when
/// the ring changes: devices (with the session actors that hold them) and
/// everything announced so far, so the move is invisible to everyone.
struct user_transfer {
  std::string user_id;
  bool online = false;
  presence_status status = presence_status::offline;
  millis online_since = 0;
  millis last_seen = 0;
  millis left_at = 0;
  uint64_t version = 0;
  bool in_grace = false;
  std::vector<device_view> devices;
  std::vector<session_api> sessions; // sessions[i] holds devices[i]
  std::string status_text;
  millis status_expires = 0;
  visibility vis;
  /// Registries that passed it on because the ring had moved while it
  /// travelled (bounded: views that disagree for long cannot bounce it
  /// forever).
  uint8_t hops = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, user_transfer& x) {
  return f(caf::meta::type_name("user_transfer"), x.user_id, x.online, x.status,
           x.online_since, x.last_seen, x.left_at, x.version, x.in_grace,
           x.devices, x.sessions, x.status_text, x.status_expires, x.vis,
           x.hops);
}

/// One node as the cluster knows it (gossiped between members).
struct member_info {
  std::string node_id;
  /// host:port of its cluster (middleman) listener.
  std::string endpoint;
  /// Its HTTP port (for /api/cluster).
  uint16_t http_port = 0;
  /// Start time: a node that restarts under the same id has a higher one.
  millis incarnation = 0;
  membership_api membership;
  node_registry_api registry;
  fanout_api fanout;
  /// A gateway to its store (cluster/store_gateway), never the store itself.
  store_api store;
  /// Its rooms (typing signals reach members on every node).
  rooms_api rooms;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, member_info& x) {
  return f(caf::meta::type_name("member_info"), x.node_id, x.endpoint,
           x.http_port, x.incarnation, x.membership, x.registry, x.fanout,
           x.store, x.rooms);
}

/// The alive members as one node sees them, pushed by the membership actor
/// to the local registry, router and replicator on every change.
struct cluster_view {
  uint64_t version = 0;
  std::string self;
  std::vector<member_info> members; // alive, sorted by node id

  /// The ids of `members`, in order.
  std::vector<std::string> node_ids() const {
    std::vector<std::string> out;
    for (auto& m : members)
      out.push_back(m.node_id);
    return out;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_view& x) {
  return f(caf::meta::type_name("cluster_view"), x.version, x.self, x.members);
}

/// The delta a status amounts to (devices dropped), and back.
presence_delta delta_of(const user_status& s);
user_status status_of(const presence_delta& d);

/// Registers every message type on `cfg`; call on every node.
void register_types(caf::actor_system_config& cfg);

} // namespace presence

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(presence::delta_batch)

CAF_BEGIN_TYPE_ID_BLOCK(presence, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(presence, (presence::presence_status))
  CAF_ADD_TYPE_ID(presence, (presence::visibility_mode))
  CAF_ADD_TYPE_ID(presence, (presence::contact_settings))
  CAF_ADD_TYPE_ID(presence, (presence::viewer))
  CAF_ADD_TYPE_ID(presence, (presence::device_info))
  CAF_ADD_TYPE_ID(presence, (presence::device_view))
  CAF_ADD_TYPE_ID(presence, (presence::user_status))
  CAF_ADD_TYPE_ID(presence, (presence::presence_delta))
  CAF_ADD_TYPE_ID(presence, (presence::online_page))
  CAF_ADD_TYPE_ID(presence, (presence::change_page))
  CAF_ADD_TYPE_ID(presence, (presence::profile))
  CAF_ADD_TYPE_ID(presence, (presence::session_record))
  CAF_ADD_TYPE_ID(presence, (presence::user_record))
  CAF_ADD_TYPE_ID(presence, (presence::session_open))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::session_open>))
  CAF_ADD_TYPE_ID(presence, (presence::join_request))
  CAF_ADD_TYPE_ID(presence, (presence::join_ack))
  CAF_ADD_TYPE_ID(presence, (presence::room_signal))
  CAF_ADD_TYPE_ID(presence, (presence::conversation))
  CAF_ADD_TYPE_ID(presence, (presence::chat_message))
  CAF_ADD_TYPE_ID(presence, (presence::message_page))
  CAF_ADD_TYPE_ID(presence, (presence::replica_bundle))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::replica_bundle>))
  CAF_ADD_TYPE_ID(presence, (presence::user_transfer))
  CAF_ADD_TYPE_ID(presence, (presence::member_info))
  CAF_ADD_TYPE_ID(presence, (presence::member_stats))
  CAF_ADD_TYPE_ID(presence, (presence::cluster_view))
  CAF_ADD_TYPE_ID(presence, (presence::member_status))
  CAF_ADD_TYPE_ID(presence, (presence::cluster_status))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::member_info>))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::user_status>))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::presence_delta>))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::profile>))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::session_record>))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::user_record>))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::chat_message>))
  CAF_ADD_TYPE_ID(presence, (presence::errc))
  CAF_ADD_TYPE_ID(presence, (presence::persistence::errc))
  CAF_ADD_TYPE_ID(presence, (presence::store_api))
  CAF_ADD_TYPE_ID(presence, (presence::user_api))
  CAF_ADD_TYPE_ID(presence, (presence::presence_api))
  CAF_ADD_TYPE_ID(presence, (presence::session_api))
  CAF_ADD_TYPE_ID(presence, (presence::delta_listener))
  CAF_ADD_TYPE_ID(presence, (presence::fanout_api))
  CAF_ADD_TYPE_ID(presence, (presence::room_member))
  CAF_ADD_TYPE_ID(presence, (presence::rooms_api))
  CAF_ADD_TYPE_ID(presence, (presence::node_registry_api))
  CAF_ADD_TYPE_ID(presence, (presence::view_listener))
  CAF_ADD_TYPE_ID(presence, (presence::membership_api))
  CAF_ADD_TYPE_ID(presence, (presence::session_checkpoint))
  CAF_ADD_TYPE_ID(presence, (std::vector<presence::session_checkpoint>))
CAF_END_TYPE_ID_BLOCK(presence)
