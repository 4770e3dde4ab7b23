#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "core/messages.hpp"
#include "core/stats.hpp"

namespace rocksdb {
class Cache;
class DB;
class ColumnFamilyHandle;
class Env;
class Status;
} // namespace rocksdb

namespace presence::persistence {

/// An online session that was open when the store was last written.
struct open_session {
  millis start = 0;
  millis last_active = 0;
  uint64_t version = 0;
  presence_status status = presence_status::online;
};

/// What recover_open_sessions did.
struct recovery_report {
  /// Sessions closed (history entry, last_seen).
  size_t closed = 0;
  /// Marks that could not be decoded: deleted, their sessions are lost.
  size_t corrupt_dropped = 0;
};

/// The one mapping of a RocksDB status to a store error code: ok and
/// NotFound are no error (absence is an answer), corruption is `corruption`,
/// anything else is `io_error`.
errc to_errc(const rocksdb::Status& st);

/// A store error (category "store") carrying what failed and why, for the
/// log: `what` names the operation ("close session"), `detail` is RocksDB's
/// message or what could not be decoded.
caf::error make_store_error(errc code, std::string what, std::string detail);

/// A `corruption` error: the record under `key` (`size` bytes) does not
/// decode.
caf::error corrupt(const char* what, const std::string& key, size_t size);

/// The store error of a RocksDB status (none for ok and NotFound).
caf::error status_error(const rocksdb::Status& st, const char* what);

/// One line for a log: "store: io_error (close session: IO error: ...)" for
/// errors of make_store_error, CAF's rendering for any other error.
std::string describe(const caf::error& err);

/// The RocksDB database of one node: column families `last_seen`, `history`,
/// `profiles`, `online` (sessions open right now, for crash recovery),
/// `messages` (private conversations and their messages).
/// Blocking and not thread-safe: only the store actor (a detached actor on its
/// own thread) calls it, and tests.
///
/// Errors are values: writes return a `caf::error` (none on success), reads a
/// `caf::expected`, both of category "store" (`errc`); nothing is logged here.
/// Reads are strict: a stored record that cannot be decoded is `corruption`.
/// Writes that read first (close, touch, merge) treat a corrupt last_seen or
/// open mark as absent and overwrite it: the write repairs the record.
///
/// After a write fails the store is `failed()`: RocksDB 7.8 treats a failed
/// WAL write or sync as a fatal background error, which `DB::Resume()` does
/// not clear, and its WAL writer must not be used again (Debian's build
/// asserts on it). So every later write (and sync) fails at once with
/// `io_error` until `recover()` closes and reopens RocksDB; reads keep going
/// to the old instance meanwhile. What was written before the failure is in
/// the WAL and comes back with the reopen; the failed write is not applied.
/// RocksDB's memtables (all column families together) hold at most this
/// much by default before they are flushed to disk (`--store-memtable-mb`):
/// a node's memory levels off while new users keep arriving (RocksDB's
/// default is 64 MiB per memtable, two per column family, six of them).
/// 8 MiB: a node that keeps writing new users' records stays within a few
/// MiB (the 10-minute soak, docs/benchmarks.md), where 32 MiB, before, let
/// it grow 20 MiB over those ten minutes before the first flush.
constexpr size_t memtable_budget = 8 * 1024 * 1024;

/// The block cache every column family shares, by default
/// (`--store-cache-mb`). Left to itself RocksDB gives each column family
/// an 8 MiB cache of its own (six here).
constexpr size_t block_cache_budget = 8 * 1024 * 1024;

/// What RocksDB's buffers may hold: the memtables before a flush, and the
/// block cache of data read.
struct memory_limits {
  size_t memtables = memtable_budget;
  size_t block_cache = block_cache_budget;
};

class store_db {
public:
  ~store_db();
  store_db(const store_db&) = delete;
  store_db& operator=(const store_db&) = delete;

  /// Opens (creating if needed) the database in `dir`. On failure returns
  /// nullptr and sets `err` to a message for humans. `env` (tests: a fault
  /// injecting file system) must outlive the store; nullptr is RocksDB's
  /// default. `mem`: what RocksDB's memtables and block cache may hold.
  static std::unique_ptr<store_db>
  open(const std::string& dir, uint32_t history_limit, std::string& err,
       rocksdb::Env* env = nullptr, memory_limits mem = {});

  // -- failure and recovery ---------------------------------------------------

  /// True from a failed write until a successful `recover()`.
  bool failed() const { return failed_; }

  /// Bytes in RocksDB's memtables now (all column families; 0 if closed).
  uint64_t memtable_bytes() const;

  /// Bytes in the block cache now (data blocks read).
  uint64_t block_cache_bytes() const;

  /// Bytes RocksDB holds for its open tables (their index and filter
  /// blocks; grows with the files on disk).
  uint64_t table_reader_bytes() const;

  /// Every write's duration goes to `h` from now on (nullptr: none). `h`
  /// must outlive the store.
  void time_writes(latency_histogram* h) { write_latency_ = h; }

  /// Closes and reopens RocksDB if a write failed; none when the store is
  /// (again) writable. Called by the store actor's retry tick.
  caf::error recover();

  // -- reads ------------------------------------------------------------------

  /// last_seen and version of `user_id`, plus its open session if any.
  [[nodiscard]] caf::expected<user_record> load(const std::string& user_id);

  /// Every open-session mark, as user records (open = true). A mark that
  /// cannot be decoded is skipped: one bad record must not stop the scan
  /// that closes every other orphaned session.
  [[nodiscard]] caf::expected<std::vector<user_record>> open_marks();

  /// The stored profile (known = false if there is none).
  [[nodiscard]] caf::expected<profile> get_profile(const std::string& user_id);

  /// Newest first, at most `limit`.
  [[nodiscard]] caf::expected<std::vector<session_record>>
  history(const std::string& user_id, uint32_t limit);

  /// The open-session mark of `user_id`, if any (tests and recovery).
  [[nodiscard]] caf::expected<std::optional<open_session>>
  open_mark(const std::string& user_id);

  // -- writes -----------------------------------------------------------------

  /// Closes every session left open by a previous process (it died without
  /// recording them offline): each becomes a history entry ending at its last
  /// checkpoint, which also becomes the user's last_seen. Marks that cannot
  /// be decoded are deleted (and counted). Stops at the first failed write.
  [[nodiscard]] caf::expected<recovery_report>
  recover_open_sessions(millis now);

  /// Records that `user_id` is online since `start` with activity up to
  /// `last_active` (overwrites the previous mark of that user).
  [[nodiscard]] caf::error mark_open(const std::string& user_id,
                                     const open_session& s);

  /// Writes many marks in one batch (all or nothing); `what` names the
  /// write in an error.
  [[nodiscard]] caf::error mark_open_batch(
    const std::vector<std::pair<std::string, open_session>>& marks,
    const char* what = "write checkpoints");

  /// Ends the open session of `user_id`: history entry {start, end},
  /// last_seen = end, version stored, open mark removed. Idempotent: writing
  /// the same close again changes nothing. The end is never earlier than
  /// the activity this store has checkpointed for that session (its open
  /// mark), which a reader may already have seen as the user's last_seen,
  /// unless `raise_to_checkpoint` is false (crash recovery clamps marks
  /// from the future).
  [[nodiscard]] caf::error close_session(const std::string& user_id,
                                         millis start, millis end,
                                         uint64_t version,
                                         bool raise_to_checkpoint = true);

  /// Raises last_seen of `user_id` to `when` (never lowers it); returns the
  /// record as stored.
  [[nodiscard]] caf::expected<user_record>
  touch_last_seen(const std::string& user_id, millis when);

  /// Raises last_seen and version to at least `r`'s (read repair).
  [[nodiscard]] caf::error merge(const user_record& r);

  /// Removes the open-session mark of `user_id`, if any.
  [[nodiscard]] caf::error drop_open(const std::string& user_id);

  [[nodiscard]] caf::error put_profile(const std::string& user_id,
                                       const profile& p);

  /// Syncs the write-ahead log to disk.
  [[nodiscard]] caf::error sync();

  // -- private messages (chat_db.cpp; column family `messages`) ----------------

  /// Messages kept per conversation (the oldest are dropped first).
  void set_message_limit(uint32_t n) { message_limit_ = n; }

  /// Messages kept per user's offline queue (--chat-queue-limit): beyond
  /// it the oldest go, which only devices lagging behind another one of
  /// the same user still wanted (a send is refused before that, see
  /// queue_length).
  void set_queue_limit(uint32_t n) { queue_limit_ = n; }

  /// The conversation `id` (known = false if there is none).
  [[nodiscard]] caf::expected<conversation>
  get_conversation(const std::string& id);

  /// Stores `c` (known) unless its id is taken; returns what is stored under
  /// the id.
  [[nodiscard]] caf::expected<conversation>
  put_conversation(const conversation& c);

  /// seq 0: appends `m` to its conversation as the next seq, unless the
  /// conversation already has a message of the same sender and temp_id
  /// (non-empty): then returns that one with `duplicate` set. seq > 0: stores
  /// `m` as it is (a replica's copy; the conversation's seq follows it).
  /// The conversation must exist (the caller checked who may write).
  [[nodiscard]] caf::expected<chat_message> put_message(chat_message m);

  /// Up to `limit` messages of `conv` with seq < `before` (0: the newest),
  /// oldest first.
  [[nodiscard]] caf::expected<message_page>
  messages(const std::string& conv, uint64_t before, uint32_t limit);

  /// Queues `m` for `user` (who had no live device); returns how many wait
  /// (queue_length). A message already queued (same id) is not queued
  /// twice.
  ///
  /// The queue is a log with a cursor per device: a device takes what came
  /// after its cursor, each message once (take_queue). A message leaves
  /// the log once every device the store knows for the user has taken it.
  [[nodiscard]] caf::expected<uint32_t> enqueue(const std::string& user,
                                                const chat_message& m);

  /// The messages queued for `user` that `device` has not taken yet, oldest
  /// first; the device's cursor moves past them in the same write. A device
  /// the store does not know yet gets everything still queued. `device` is
  /// the name a client gave its device; "" stands for every unnamed device
  /// of the user together (the first of them to join takes the messages).
  /// A device not seen for `device_ttl` is forgotten (what only it still
  /// wanted is dropped), and at most max_queue_devices are kept per user
  /// (the longest unseen goes first).
  [[nodiscard]] caf::expected<std::vector<chat_message>>
  take_queue(const std::string& user, const std::string& device, millis now);

  /// How many queued messages no device of `user` has taken (what the
  /// most current device would get): a send is refused when this reaches
  /// the queue limit.
  [[nodiscard]] caf::expected<uint32_t> queue_length(const std::string& user);

  /// How many messages the queue of `user` holds for any device (a join's
  /// hint that there may be something to take): one read.
  [[nodiscard]] caf::expected<uint32_t> queue_kept(const std::string& user);

  /// The devices the queue of `user` keeps a cursor for, with when each
  /// last took it.
  [[nodiscard]] caf::expected<std::vector<std::pair<std::string, millis>>>
  queue_devices(const std::string& user);

  /// queue_kept and queue_devices in one read of the queue record (what a
  /// user actor needs when it starts; the cursors are read only when the
  /// record exists).
  struct queue_summary {
    uint32_t kept = 0;
    std::vector<std::pair<std::string, millis>> devices;
  };
  [[nodiscard]] caf::expected<queue_summary>
  summarize_queue(const std::string& user);

  // -- replica repair (repair_db.cpp) -------------------------------------------

  /// The keys (user ids and conversation ids) this store holds anything
  /// under that sort after `after` ("" : from the first), in order, at
  /// most `limit`: a replica repair pass pages through them.
  [[nodiscard]] caf::expected<std::vector<std::string>>
  repair_keys(const std::string& after, uint32_t limit);

  /// Everything stored under `key`: the user's last_seen record, open
  /// mark, history, profile and offline queue with its device cursors, and
  /// the conversation of that id with its messages.
  [[nodiscard]] caf::expected<replica_bundle> bundle(const std::string& key);

  /// Merges a bundle read from another replica. Idempotent, and it never
  /// lowers or replaces anything newer:
  /// - last_seen and version go up to the bundle's (as merge);
  /// - the open mark is taken only when this store has nothing newer of
  ///   the user (no mark of a later version, no last_seen record of a
  ///   later version, no history entry of that session: it was closed);
  ///   a mark of the same session keeps the later activity;
  /// - history entries are added (the longer end wins), then trimmed;
  /// - the profile and the conversation are written only where absent;
  /// - messages are stored as replica copies (numbered);
  /// - an offline queue is copied only to a store without one: its
  ///   messages in the bundle's order, and each device a cursor that leaves
  ///   it exactly the messages it had not taken (a store that has the
  ///   queue may have handed out and deleted what the bundle still holds).
  [[nodiscard]] caf::error apply_bundle(const replica_bundle& b);

  /// How long a device's cursor is kept without the device joining.
  static constexpr millis device_ttl = 30LL * 24 * 3600 * 1000;
  /// Most device cursors kept per user.
  static constexpr size_t max_queue_devices = 32;

private:
  store_db() = default;

  /// Opens RocksDB in dir_ into db_ and the handles; sets `err` on failure.
  bool open_rocksdb(std::string& err);
  void close_rocksdb();

  /// io_error when RocksDB is closed (a reopen failed), else none.
  caf::error check_open(const char* what) const;

  /// io_error when writes must wait for recover(), else none.
  caf::error check_writable(const char* what) const;

  /// Writes `batch` (a rocksdb::WriteBatch); a failure marks the store
  /// failed.
  caf::error write(void* batch, const char* what);

  /// The record of `user_id` for a write: a corrupt last_seen or open mark
  /// counts as absent (the write overwrites it).
  caf::expected<user_record> load_for_update(const std::string& user_id);

  void write_last_seen(const std::string& user_id, millis last_seen,
                       uint64_t version, void* batch);
  caf::error trim_history(const std::string& user_id, void* batch);

  // The halves of bundle() and apply_bundle() by column family: users
  // (store_db.cpp) and private messages (chat_db.cpp).
  caf::error fill_user(replica_bundle& b);
  caf::error fill_chat(replica_bundle& b);
  caf::error apply_user(const replica_bundle& b);
  caf::error apply_chat(const replica_bundle& b);

  std::string dir_;
  rocksdb::Env* env_ = nullptr;
  bool failed_ = false;
  latency_histogram* write_latency_ = nullptr;
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* last_seen_ = nullptr;
  rocksdb::ColumnFamilyHandle* history_ = nullptr;
  rocksdb::ColumnFamilyHandle* profiles_ = nullptr;
  rocksdb::ColumnFamilyHandle* online_ = nullptr;
  rocksdb::ColumnFamilyHandle* messages_ = nullptr;
  uint32_t history_limit_ = 100;
  memory_limits mem_;
  /// Shared by every column family; kept over a recover().
  std::shared_ptr<rocksdb::Cache> cache_;
  uint32_t message_limit_ = 1000;
  uint32_t queue_limit_ = 1000;
};

} // namespace presence::persistence
