#include "persistence/store_db.hpp"

#include <algorithm>
#include <cstring>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>

namespace presence::persistence {

namespace {

// -- encoding (explicit little-endian; stable across compilers and CAF) -------

void put_u64(std::string& out, uint64_t x) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
}

bool get_u64(const char*& p, const char* end, uint64_t& x) {
  if (end - p < 8)
    return false;
  x = 0;
  for (int i = 0; i < 8; ++i)
    x |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  p += 8;
  return true;
}

void put_str(std::string& out, const std::string& s) {
  put_u64(out, s.size());
  out += s;
}

bool get_str(const char*& p, const char* end, std::string& s) {
  uint64_t n = 0;
  if (!get_u64(p, end, n) || static_cast<uint64_t>(end - p) < n)
    return false;
  s.assign(p, n);
  p += n;
  return true;
}

// History keys sort by user, then by start time (big-endian).
std::string history_key(const std::string& user_id, millis start) {
  std::string key = user_id;
  key.push_back('\0');
  auto x = static_cast<uint64_t>(start);
  for (int i = 7; i >= 0; --i)
    key.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
  return key;
}

millis history_start(const rocksdb::Slice& key) {
  uint64_t x = 0;
  auto p = key.data() + key.size() - 8;
  for (int i = 0; i < 8; ++i)
    x = (x << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<millis>(x);
}

std::string encode_open(const open_session& s) {
  std::string out;
  put_u64(out, static_cast<uint64_t>(s.start));
  put_u64(out, static_cast<uint64_t>(s.last_active));
  put_u64(out, s.version);
  out.push_back(static_cast<char>(s.status));
  return out;
}

bool decode_open(const std::string& v, open_session& s) {
  const char* p = v.data();
  const char* end = p + v.size();
  uint64_t a, b, c;
  if (!get_u64(p, end, a) || !get_u64(p, end, b) || !get_u64(p, end, c))
    return false;
  s.start = static_cast<millis>(a);
  s.last_active = static_cast<millis>(b);
  s.version = c;
  // The status byte came later; marks without it were "online".
  s.status = presence_status::online;
  if (p < end && *p >= 1 && *p <= 4)
    s.status = static_cast<presence_status>(*p);
  return true;
}

constexpr char profile_format = 1;

const char* cf_names[] = {"last_seen", "history", "profiles", "online"};

void check(const rocksdb::Status& st, const char* what) {
  if (!st.ok())
    spdlog::error("store: {} failed: {}", what, st.ToString());
}

} // namespace

store_db::~store_db() {
  if (db_ == nullptr)
    return;
  for (auto* h : handles_)
    db_->DestroyColumnFamilyHandle(h);
  db_->Close();
  delete db_;
}

std::unique_ptr<store_db> store_db::open(const std::string& dir,
                                         uint32_t history_limit,
                                         std::string& err) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  // Small machines: modest memory, no surprise thread pools.
  opts.IncreaseParallelism(2);
  opts.max_open_files = 256;
  opts.keep_log_file_num = 4;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName,
                   rocksdb::ColumnFamilyOptions{});
  for (auto name : cf_names)
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions{});
  std::unique_ptr<store_db> self{new store_db};
  self->history_limit_ = history_limit;
  auto st = rocksdb::DB::Open(opts, dir, cfs, &self->handles_, &self->db_);
  if (!st.ok()) {
    err = "cannot open RocksDB in '" + dir + "': " + st.ToString();
    self->db_ = nullptr;
    return nullptr;
  }
  self->last_seen_ = self->handles_[1];
  self->history_ = self->handles_[2];
  self->profiles_ = self->handles_[3];
  self->online_ = self->handles_[4];
  return self;
}

size_t store_db::recover_open_sessions(millis now) {
  std::vector<std::pair<std::string, open_session>> open;
  {
    std::unique_ptr<rocksdb::Iterator> it{
      db_->NewIterator(rocksdb::ReadOptions{}, online_)};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      open_session s;
      if (decode_open(it->value().ToString(), s))
        open.emplace_back(it->key().ToString(), s);
      else
        check(db_->Delete(rocksdb::WriteOptions{}, online_, it->key()),
              "delete corrupt open mark");
    }
  }
  for (auto& [user, s] : open) {
    // A mark from the future (clock stepped back) ends now, not later.
    auto end = std::max(s.start, std::min(s.last_active, now));
    close_session(user, s.start, end, s.version);
  }
  return open.size();
}

user_record store_db::load(const std::string& user_id) {
  user_record r;
  r.user_id = user_id;
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, last_seen_, user_id, &v);
  if (st.ok()) {
    const char* p = v.data();
    uint64_t ls = 0, ver = 0;
    if (get_u64(p, v.data() + v.size(), ls)
        && get_u64(p, v.data() + v.size(), ver)) {
      r.known = true;
      r.last_seen = static_cast<millis>(ls);
      r.version = ver;
    }
  } else if (!st.IsNotFound()) {
    check(st, "load last_seen");
  }
  // A session still open (this process is running it, or it crashed and
  // recovery has not run yet) carries a newer version.
  open_session s;
  if (open_mark(user_id, s)) {
    r.known = true;
    r.version = std::max(r.version, s.version);
    r.open = true;
    r.open_start = s.start;
    r.open_last_active = s.last_active;
    r.open_status = s.status;
  }
  return r;
}

void store_db::merge(const user_record& in) {
  if (!in.known)
    return;
  auto cur = load(in.user_id);
  if (cur.known && cur.last_seen >= in.last_seen && cur.version >= in.version)
    return;
  rocksdb::WriteBatch batch;
  write_last_seen(in.user_id, std::max(cur.last_seen, in.last_seen),
                  std::max(cur.version, in.version), &batch);
  check(db_->Write(rocksdb::WriteOptions{}, &batch), "merge last_seen");
}

void store_db::drop_open(const std::string& user_id) {
  check(db_->Delete(rocksdb::WriteOptions{}, online_, user_id),
        "drop open mark");
}

std::vector<user_record> store_db::open_marks() {
  std::vector<user_record> out;
  std::unique_ptr<rocksdb::Iterator> it{
    db_->NewIterator(rocksdb::ReadOptions{}, online_)};
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    open_session s;
    if (!decode_open(it->value().ToString(), s))
      continue;
    user_record r;
    r.user_id = it->key().ToString();
    r.known = true;
    r.version = s.version;
    r.open = true;
    r.open_start = s.start;
    r.open_last_active = s.last_active;
    r.open_status = s.status;
    out.push_back(std::move(r));
  }
  return out;
}

void store_db::mark_open(const std::string& user_id, const open_session& s) {
  check(db_->Put(rocksdb::WriteOptions{}, online_, user_id, encode_open(s)),
        "write open mark");
}

void store_db::mark_open_batch(
  const std::vector<std::pair<std::string, open_session>>& marks) {
  rocksdb::WriteBatch batch;
  for (auto& [user, s] : marks)
    batch.Put(online_, user, encode_open(s));
  check(db_->Write(rocksdb::WriteOptions{}, &batch), "write checkpoints");
}

void store_db::write_last_seen(const std::string& user_id, millis last_seen,
                               uint64_t version, void* batch) {
  std::string v;
  put_u64(v, static_cast<uint64_t>(last_seen));
  put_u64(v, version);
  static_cast<rocksdb::WriteBatch*>(batch)->Put(last_seen_, user_id, v);
}

void store_db::close_session(const std::string& user_id, millis start,
                             millis end, uint64_t version) {
  auto prev = load(user_id);
  rocksdb::WriteBatch batch;
  std::string v;
  put_u64(v, static_cast<uint64_t>(end));
  batch.Put(history_, history_key(user_id, start), v);
  write_last_seen(user_id, std::max(prev.last_seen, end),
                  std::max(prev.version, version), &batch);
  batch.Delete(online_, user_id);
  check(db_->Write(rocksdb::WriteOptions{}, &batch), "close session");
  // Trim once the entry is in: the newest history_limit_ by start time stay,
  // whatever order sessions were closed in.
  rocksdb::WriteBatch trim;
  trim_history(user_id, &trim);
  if (trim.Count() > 0)
    check(db_->Write(rocksdb::WriteOptions{}, &trim), "trim history");
}

void store_db::trim_history(const std::string& user_id, void* batch) {
  std::unique_ptr<rocksdb::Iterator> it{
    db_->NewIterator(rocksdb::ReadOptions{}, history_)};
  auto upper = user_id;
  upper.push_back('\x01');
  uint32_t seen = 0;
  for (it->SeekForPrev(upper); it->Valid(); it->Prev()) {
    auto key = it->key();
    if (key.size() != user_id.size() + 9
        || std::memcmp(key.data(), user_id.data(), user_id.size()) != 0
        || key[user_id.size()] != '\0')
      break;
    if (++seen > history_limit_)
      static_cast<rocksdb::WriteBatch*>(batch)->Delete(history_, key);
  }
}

user_record store_db::touch_last_seen(const std::string& user_id,
                                      millis when) {
  auto r = load(user_id);
  r.known = true;
  r.last_seen = std::max(r.last_seen, when);
  rocksdb::WriteBatch batch;
  write_last_seen(user_id, r.last_seen, r.version, &batch);
  check(db_->Write(rocksdb::WriteOptions{}, &batch), "touch last_seen");
  return r;
}

profile store_db::get_profile(const std::string& user_id) {
  profile p;
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, profiles_, user_id, &v);
  if (!st.ok()) {
    if (!st.IsNotFound())
      check(st, "read profile");
    return p;
  }
  const char* it = v.data();
  const char* end = v.data() + v.size();
  if (v.empty() || *it++ != profile_format)
    return p;
  if (get_str(it, end, p.name) && get_str(it, end, p.username)
      && get_str(it, end, p.email) && get_str(it, end, p.avatar))
    p.known = true;
  else
    p = profile{};
  return p;
}

void store_db::put_profile(const std::string& user_id, const profile& p) {
  std::string v(1, profile_format);
  put_str(v, p.name);
  put_str(v, p.username);
  put_str(v, p.email);
  put_str(v, p.avatar);
  check(db_->Put(rocksdb::WriteOptions{}, profiles_, user_id, v),
        "write profile");
}

std::vector<session_record> store_db::history(const std::string& user_id,
                                              uint32_t limit) {
  std::vector<session_record> out;
  std::unique_ptr<rocksdb::Iterator> it{
    db_->NewIterator(rocksdb::ReadOptions{}, history_)};
  auto upper = user_id;
  upper.push_back('\x01');
  for (it->SeekForPrev(upper); it->Valid() && out.size() < limit;
       it->Prev()) {
    auto key = it->key();
    if (key.size() != user_id.size() + 9
        || std::memcmp(key.data(), user_id.data(), user_id.size()) != 0
        || key[user_id.size()] != '\0')
      break;
    session_record r;
    r.start = history_start(key);
    auto v = it->value().ToString();
    const char* p = v.data();
    uint64_t end = 0;
    if (get_u64(p, v.data() + v.size(), end))
      r.end = static_cast<millis>(end);
    out.push_back(r);
  }
  return out;
}

bool store_db::open_mark(const std::string& user_id, open_session& out) {
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, online_, user_id, &v);
  return st.ok() && decode_open(v, out);
}

bool store_db::sync() {
  auto st = db_->FlushWAL(true);
  check(st, "sync WAL");
  return st.ok();
}

} // namespace presence::persistence
