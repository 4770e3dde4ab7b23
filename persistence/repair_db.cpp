// store_db's side of replica repair (cluster/repairer.cpp drives it): the
// keys a store holds, everything under one key as a bundle, and merging a
// bundle from another replica. The halves that know a column family's
// records are fill_user / apply_user (store_db.cpp) and fill_chat /
// apply_chat (chat_db.cpp).

#include <set>

#include <rocksdb/db.h>

#include "persistence/store_db.hpp"

namespace presence::persistence {

caf::expected<std::vector<std::string>>
store_db::repair_keys(const std::string& after, uint32_t limit) {
  const char* what = "list keys for replica repair";
  if (auto err = check_open(what))
    return err;
  // The first `limit` keys after `after` of each source; the first `limit`
  // of their union are the answer.
  std::set<std::string> keys;
  auto collect = [&](rocksdb::ColumnFamilyHandle* cf,
                     const std::string& prefix) -> caf::error {
    std::unique_ptr<rocksdb::Iterator> it{
      db_->NewIterator(rocksdb::ReadOptions{}, cf)};
    uint32_t n = 0;
    for (it->Seek(prefix + after); it->Valid() && n < limit; it->Next()) {
      auto k = it->key();
      if (!k.starts_with(prefix))
        break;
      std::string id(k.data() + prefix.size(), k.size() - prefix.size());
      if (id <= after)
        continue;
      keys.insert(std::move(id));
      ++n;
    }
    return status_error(it->status(), what);
  };
  // Users: a last_seen record, an open mark or a profile (a user with
  // history has a last_seen record); in `messages` (chat_db.cpp's layout),
  // conversations ('c') and offline queues ('Q').
  for (auto cf : {last_seen_, online_, profiles_})
    if (auto err = collect(cf, ""))
      return err;
  for (auto prefix : {"c", "Q"})
    if (auto err = collect(messages_, prefix))
      return err;
  std::vector<std::string> out;
  for (auto& k : keys) {
    if (out.size() == limit)
      break;
    out.push_back(k);
  }
  return out;
}

caf::expected<replica_bundle> store_db::bundle(const std::string& key) {
  if (auto err = check_open("read for replica repair"))
    return err;
  replica_bundle b;
  b.key = key;
  if (auto err = fill_user(b))
    return err;
  if (auto err = fill_chat(b))
    return err;
  return b;
}

caf::error store_db::apply_bundle(const replica_bundle& b) {
  if (auto err = apply_user(b))
    return err;
  return apply_chat(b);
}

} // namespace presence::persistence
