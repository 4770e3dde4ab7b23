#pragma once

// Store results in tests: the value of a read, or the test fails with the
// store's own description of the error.

#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <caf/error.hpp>
#include <caf/expected.hpp>

#include "persistence/store_db.hpp"

namespace presence::test {

/// The value of `x`; fails the test if it is an error.
template <class T>
T must(caf::expected<T> x) {
  if (!x)
    FAIL("store error: " << persistence::describe(x.error()));
  return std::move(*x);
}

/// Fails the test if `err` is an error.
inline void must(const caf::error& err) {
  if (err)
    FAIL("store error: " << persistence::describe(err));
}

/// The open mark of `user` into `out`; false if there is none.
inline bool open_mark(persistence::store_db& db, const std::string& user,
                      persistence::open_session& out) {
  auto mark = must(db.open_mark(user));
  if (!mark)
    return false;
  out = *mark;
  return true;
}

/// A store_db in `dir` (the test stops if it cannot be opened); `env`: a
/// fault-injecting file system, or RocksDB's default.
inline std::unique_ptr<persistence::store_db>
open_store(const std::string& dir, rocksdb::Env* env = nullptr) {
  std::string err;
  auto db = persistence::store_db::open(dir, 100, err, env);
  INFO("open error: " << err);
  REQUIRE(db != nullptr);
  return db;
}

/// How many sessions recovery closed.
inline size_t recover(persistence::store_db& db, millis now) {
  return must(db.recover_open_sessions(now)).closed;
}

/// True if the WAL was synced.
inline bool synced(persistence::store_db& db) {
  auto err = db.sync();
  INFO("sync: " << persistence::describe(err));
  return !err;
}

} // namespace presence::test
