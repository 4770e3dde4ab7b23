#pragma once

// Raw bytes into a closed store's directory (records store_db cannot
// decode), for the tests of corrupt records.

#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <rocksdb/db.h>
#include <rocksdb/options.h>

namespace presence::test {

/// Writes raw bytes into a column family of a closed store's directory,
/// bypassing store_db's encoding (records it cannot decode).
inline void raw_put(const std::string& dir, const std::string& cf,
                    const std::string& key, const std::string& value) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName,
                   rocksdb::ColumnFamilyOptions{});
  for (auto name : {"last_seen", "history", "profiles", "online", "messages"})
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  auto st = rocksdb::DB::Open(opts, dir, cfs, &handles, &db);
  REQUIRE(st.ok());
  rocksdb::ColumnFamilyHandle* target = nullptr;
  for (auto* h : handles)
    if (h->GetName() == cf)
      target = h;
  REQUIRE(target != nullptr);
  CHECK(db->Put(rocksdb::WriteOptions{}, target, key, value).ok());
  for (auto* h : handles)
    CHECK(db->DestroyColumnFamilyHandle(h).ok());
  CHECK(db->Close().ok());
  delete db;
}

} // namespace presence::test
