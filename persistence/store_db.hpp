#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/messages.hpp"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
} // namespace rocksdb

namespace presence::persistence {

/// An online session that was open when the store was last written.
struct open_session {
  millis start = 0;
  millis last_active = 0;
  uint64_t version = 0;
  presence_status status = presence_status::online;
};

/// The RocksDB database of one node: column families `last_seen`, `history`,
/// `profiles`, `online` (sessions open right now, for crash recovery).
/// Blocking and not thread-safe: only the store actor (a detached actor on its
/// own thread) calls it, and tests.
class store_db {
public:
  ~store_db();
  store_db(const store_db&) = delete;
  store_db& operator=(const store_db&) = delete;

  /// Opens (creating if needed) the database in `dir`. On failure returns
  /// nullptr and sets `err` to a message for humans.
  static std::unique_ptr<store_db> open(const std::string& dir,
                                        uint32_t history_limit,
                                        std::string& err);

  /// Closes every session left open by a previous process (it died without
  /// recording them offline): each becomes a history entry ending at its last
  /// checkpoint, which also becomes the user's last_seen. Returns how many.
  size_t recover_open_sessions(millis now);

  user_record load(const std::string& user_id);

  /// Records that `user_id` is online since `start` with activity up to
  /// `last_active` (overwrites the previous mark of that user).
  void mark_open(const std::string& user_id, const open_session& s);

  /// Writes many marks in one batch.
  void mark_open_batch(
    const std::vector<std::pair<std::string, open_session>>& marks);

  /// Ends the open session of `user_id`: history entry {start, end},
  /// last_seen = end, version stored, open mark removed.
  void close_session(const std::string& user_id, millis start, millis end,
                     uint64_t version);

  /// Raises last_seen of `user_id` to `when` (never lowers it).
  user_record touch_last_seen(const std::string& user_id, millis when);

  /// Raises last_seen and version to at least `r`'s (read repair).
  void merge(const user_record& r);

  /// Removes the open-session mark of `user_id`, if any.
  void drop_open(const std::string& user_id);

  /// Every open-session mark, as user records (open = true).
  std::vector<user_record> open_marks();

  profile get_profile(const std::string& user_id);
  void put_profile(const std::string& user_id, const profile& p);

  /// Newest first, at most `limit`.
  std::vector<session_record> history(const std::string& user_id,
                                      uint32_t limit);

  /// The open-session mark of `user_id`, if any (tests and recovery).
  bool open_mark(const std::string& user_id, open_session& out);

  /// Syncs the write-ahead log to disk.
  bool sync();

private:
  store_db() = default;

  void write_last_seen(const std::string& user_id, millis last_seen,
                       uint64_t version, void* batch);
  void trim_history(const std::string& user_id, void* batch);

  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* last_seen_ = nullptr;
  rocksdb::ColumnFamilyHandle* history_ = nullptr;
  rocksdb::ColumnFamilyHandle* profiles_ = nullptr;
  rocksdb::ColumnFamilyHandle* online_ = nullptr;
  uint32_t history_limit_ = 100;
};

} // namespace presence::persistence
