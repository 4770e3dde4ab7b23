#include "persistence/store_db.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <tuple>

#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/status.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "persistence/codec.hpp"

namespace presence::persistence {

namespace {

using namespace codec;

// History keys sort by user, then by start time (big-endian).
std::string history_key(const std::string& user_id, millis start) {
  std::string key = user_id;
  key.push_back('\0');
  put_be64(key, static_cast<uint64_t>(start));
  return key;
}

millis history_start(const rocksdb::Slice& key) {
  return static_cast<millis>(get_be64(key.data() + key.size() - 8));
}

constexpr char profile_format = 1;

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

bool decode_last_seen(const std::string& v, millis& last_seen,
                      uint64_t& version) {
  const char* p = v.data();
  const char* end = p + v.size();
  uint64_t ls = 0;
  if (!get_u64(p, end, ls) || !get_u64(p, end, version))
    return false;
  last_seen = static_cast<millis>(ls);
  return true;
}

std::string encode_profile(const profile& p) {
  std::string v(1, profile_format);
  put_str(v, p.name);
  put_str(v, p.username);
  put_str(v, p.email);
  put_str(v, p.avatar);
  if (p.contacts.mode != visibility_mode::server_default
      || !p.contacts.ids.empty() || p.contacts.since != 0) {
    v.push_back(static_cast<char>(p.contacts.mode));
    put_u64(v, p.contacts.since);
    put_u64(v, p.contacts.ids.size());
    for (auto& id : p.contacts.ids)
      put_str(v, id);
  }
  return v;
}

bool decode_profile(const std::string& v, profile& p) {
  const char* it = v.data();
  const char* end = v.data() + v.size();
  if (v.empty() || *it++ != profile_format)
    return false;
  if (!get_str(it, end, p.name) || !get_str(it, end, p.username)
      || !get_str(it, end, p.email) || !get_str(it, end, p.avatar))
    return false;
  // Visibility and contacts came later: a profile without them has the
  // server's default and no contacts.
  if (it == end)
    return true;
  auto mode = static_cast<unsigned char>(*it++);
  if (mode > static_cast<unsigned char>(visibility_mode::contacts))
    return false;
  p.contacts.mode = static_cast<visibility_mode>(mode);
  if (!get_u64(it, end, p.contacts.since))
    return false;
  uint64_t n = 0;
  if (!get_u64(it, end, n) || n > static_cast<uint64_t>(end - it) / 8)
    return false;
  p.contacts.ids.resize(n);
  for (auto& id : p.contacts.ids)
    if (!get_str(it, end, id))
      return false;
  return it == end;
}

/// True if `key` is a history key of `user_id` (and not of "user_id" + more).
bool history_key_of(const rocksdb::Slice& key, const std::string& user_id) {
  return key.size() == user_id.size() + 9
         && std::memcmp(key.data(), user_id.data(), user_id.size()) == 0
         && key[user_id.size()] == '\0';
}

const char* cf_names[] = {"last_seen", "history", "profiles", "online",
                          "messages"};

/// A RocksDB integer property summed over every column family (0 when the
/// database is closed or does not know it).
uint64_t aggregated(rocksdb::DB* db, const std::string& property) {
  uint64_t v = 0;
  if (db == nullptr || !db->GetAggregatedIntProperty(property, &v))
    return 0;
  return v;
}

} // namespace

caf::error corrupt(const char* what, const std::string& key, size_t size) {
  return make_store_error(errc::corruption, what,
                          "cannot decode the record of '" + key + "' ("
                            + std::to_string(size) + " bytes)");
}

caf::error status_error(const rocksdb::Status& st, const char* what) {
  auto code = to_errc(st);
  if (code == errc::none)
    return caf::none;
  return make_store_error(code, what, st.ToString());
}

// -- errors -------------------------------------------------------------------

errc to_errc(const rocksdb::Status& st) {
  if (st.ok() || st.IsNotFound())
    return errc::none;
  if (st.IsCorruption())
    return errc::corruption;
  return errc::io_error;
}

caf::error make_store_error(errc code, std::string what, std::string detail) {
  return caf::error{static_cast<uint8_t>(code), error_category(),
                    caf::make_message(std::move(what), std::move(detail))};
}

std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  auto code = store_code(err);
  if (code == errc::none)
    return caf::to_string(err);
  std::string out = "store: ";
  out += to_string(code);
  auto& ctx = err.context();
  if (ctx.match_elements<std::string, std::string>()) {
    out += " (";
    out += ctx.get_as<std::string>(0);
    out += ": ";
    out += ctx.get_as<std::string>(1);
    out += ')';
  }
  return out;
}

// -- opening and recovery -----------------------------------------------------

store_db::~store_db() {
  close_rocksdb();
}

std::unique_ptr<store_db> store_db::open(const std::string& dir,
                                         uint32_t history_limit,
                                         std::string& err, rocksdb::Env* env,
                                         memory_limits mem) {
  std::unique_ptr<store_db> self{new store_db};
  self->dir_ = dir;
  self->env_ = env;
  self->mem_ = mem;
  self->history_limit_ = history_limit;
  if (!self->open_rocksdb(err))
    return nullptr;
  return self;
}

uint64_t store_db::memtable_bytes() const {
  return aggregated(db_, rocksdb::DB::Properties::kCurSizeAllMemTables);
}

uint64_t store_db::block_cache_bytes() const {
  return cache_ ? cache_->GetUsage() : 0;
}

uint64_t store_db::table_reader_bytes() const {
  return aggregated(db_, rocksdb::DB::Properties::kEstimateTableReadersMem);
}

bool store_db::open_rocksdb(std::string& err) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  // Small machines: modest memory, no surprise thread pools.
  opts.IncreaseParallelism(2);
  opts.max_open_files = 256;
  opts.db_write_buffer_size = mem_.memtables;
  opts.keep_log_file_num = 4;
  if (env_ != nullptr)
    opts.env = env_;
  if (!cache_)
    cache_ = rocksdb::NewLRUCache(mem_.block_cache);
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache_;
  rocksdb::ColumnFamilyOptions cf;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  cfs.emplace_back(rocksdb::kDefaultColumnFamilyName, cf);
  for (auto name : cf_names)
    cfs.emplace_back(name, cf);
  handles_.clear();
  auto st = rocksdb::DB::Open(opts, dir_, cfs, &handles_, &db_);
  if (!st.ok()) {
    err = "cannot open RocksDB in '" + dir_ + "': " + st.ToString();
    db_ = nullptr;
    handles_.clear();
    return false;
  }
  last_seen_ = handles_[1];
  history_ = handles_[2];
  profiles_ = handles_[3];
  online_ = handles_[4];
  messages_ = handles_[5];
  return true;
}

void store_db::close_rocksdb() {
  if (db_ == nullptr)
    return;
  for (auto* h : handles_)
    db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  last_seen_ = history_ = profiles_ = online_ = messages_ = nullptr;
  // After a failed write Close() reports that error again; there is nothing
  // left to do about it here.
  db_->Close().PermitUncheckedError();
  delete db_;
  db_ = nullptr;
}

caf::error store_db::recover() {
  if (!failed_ && db_ != nullptr)
    return caf::none;
  // Resume() does not clear the fatal error a failed WAL write leaves in
  // RocksDB 7.8: a fresh instance replays the WAL written so far and gets a
  // new WAL writer.
  close_rocksdb();
  std::string err;
  if (!open_rocksdb(err))
    return make_store_error(errc::io_error, "reopen", err);
  failed_ = false;
  return caf::none;
}

caf::error store_db::check_open(const char* what) const {
  if (db_ != nullptr)
    return caf::none;
  return make_store_error(errc::io_error, what,
                          "RocksDB is closed: its reopen failed");
}

caf::error store_db::check_writable(const char* what) const {
  if (auto err = check_open(what))
    return err;
  if (!failed_)
    return caf::none;
  return make_store_error(errc::io_error, what,
                          "not written: an earlier write failed and the store "
                          "is not recovered yet");
}

caf::error store_db::write(void* batch, const char* what) {
  if (auto err = check_writable(what))
    return err;
  auto start = std::chrono::steady_clock::now();
  auto st = db_->Write(rocksdb::WriteOptions{},
                       static_cast<rocksdb::WriteBatch*>(batch));
  if (write_latency_ != nullptr)
    write_latency_->observe(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start)
        .count()));
  if (st.ok())
    return caf::none;
  failed_ = true;
  // A write never answers NotFound; if it did, it still failed.
  auto code = to_errc(st);
  return make_store_error(code == errc::none ? errc::io_error : code, what,
                          st.ToString());
}

caf::expected<recovery_report> store_db::recover_open_sessions(millis now) {
  if (auto err = check_writable("recover open sessions"))
    return err;
  recovery_report report;
  std::vector<std::pair<std::string, open_session>> open;
  rocksdb::WriteBatch corrupt_marks;
  {
    std::unique_ptr<rocksdb::Iterator> it{
      db_->NewIterator(rocksdb::ReadOptions{}, online_)};
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      open_session s;
      if (decode_open(it->value().ToString(), s))
        open.emplace_back(it->key().ToString(), s);
      else
        corrupt_marks.Delete(online_, it->key());
    }
    if (auto err = status_error(it->status(), "scan open marks"))
      return err;
  }
  // A mark that cannot be decoded cannot be closed either: it goes, or every
  // later start would stop at it.
  report.corrupt_dropped = corrupt_marks.Count();
  if (report.corrupt_dropped > 0)
    if (auto err = write(&corrupt_marks, "delete corrupt open marks"))
      return err;
  for (auto& [user, s] : open) {
    // A mark from the future (clock stepped back) ends now, not later.
    auto end = std::max(s.start, std::min(s.last_active, now));
    if (auto err = close_session(user, s.start, end, s.version, false))
      return err;
    ++report.closed;
  }
  return report;
}

// -- reads --------------------------------------------------------------------

caf::expected<user_record> store_db::load(const std::string& user_id) {
  if (auto err = check_open("load"))
    return err;
  user_record r;
  r.user_id = user_id;
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, last_seen_, user_id, &v);
  if (auto err = status_error(st, "load last_seen"))
    return err;
  if (st.ok()) {
    if (!decode_last_seen(v, r.last_seen, r.version))
      return corrupt("load last_seen", user_id, v.size());
    r.known = true;
  }
  // A session still open (this process is running it, or it crashed and
  // recovery has not run yet) carries a newer version.
  auto mark = open_mark(user_id);
  if (!mark)
    return std::move(mark.error());
  if (auto& s = *mark) {
    r.known = true;
    r.version = std::max(r.version, s->version);
    r.open = true;
    r.open_start = s->start;
    r.open_last_active = s->last_active;
    r.open_status = s->status;
  }
  return r;
}

caf::expected<user_record>
store_db::load_for_update(const std::string& user_id) {
  if (auto err = check_writable("load for update"))
    return err;
  user_record r;
  r.user_id = user_id;
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, last_seen_, user_id, &v);
  if (auto err = status_error(st, "load last_seen"))
    return err;
  if (st.ok() && decode_last_seen(v, r.last_seen, r.version))
    r.known = true;
  v.clear();
  st = db_->Get(rocksdb::ReadOptions{}, online_, user_id, &v);
  if (auto err = status_error(st, "load open mark"))
    return err;
  open_session s;
  if (st.ok() && decode_open(v, s)) {
    r.known = true;
    r.version = std::max(r.version, s.version);
    r.open = true;
    r.open_start = s.start;
    r.open_last_active = s.last_active;
    r.open_status = s.status;
  }
  return r;
}

caf::expected<std::vector<user_record>> store_db::open_marks() {
  if (auto err = check_open("scan open marks"))
    return err;
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
  if (auto err = status_error(it->status(), "scan open marks"))
    return err;
  return out;
}

caf::expected<profile> store_db::get_profile(const std::string& user_id) {
  if (auto err = check_open("read profile"))
    return err;
  profile p;
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, profiles_, user_id, &v);
  if (auto err = status_error(st, "read profile"))
    return err;
  if (st.IsNotFound())
    return p;
  if (!decode_profile(v, p))
    return corrupt("read profile", user_id, v.size());
  p.known = true;
  return p;
}

caf::expected<std::vector<session_record>>
store_db::history(const std::string& user_id, uint32_t limit) {
  if (auto err = check_open("read history"))
    return err;
  std::vector<session_record> out;
  std::unique_ptr<rocksdb::Iterator> it{
    db_->NewIterator(rocksdb::ReadOptions{}, history_)};
  auto upper = user_id;
  upper.push_back('\x01');
  for (it->SeekForPrev(upper); it->Valid() && out.size() < limit; it->Prev()) {
    auto key = it->key();
    if (!history_key_of(key, user_id))
      break;
    session_record r;
    r.start = history_start(key);
    auto v = it->value().ToString();
    const char* p = v.data();
    uint64_t end = 0;
    if (!get_u64(p, v.data() + v.size(), end))
      return corrupt("read history", user_id, v.size());
    r.end = static_cast<millis>(end);
    out.push_back(r);
  }
  if (auto err = status_error(it->status(), "read history"))
    return err;
  return out;
}

caf::expected<std::optional<open_session>>
store_db::open_mark(const std::string& user_id) {
  if (auto err = check_open("read open mark"))
    return err;
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, online_, user_id, &v);
  if (auto err = status_error(st, "read open mark"))
    return err;
  if (st.IsNotFound())
    return std::optional<open_session>{};
  open_session s;
  if (!decode_open(v, s))
    return corrupt("read open mark", user_id, v.size());
  return std::optional<open_session>{s};
}

// -- writes -------------------------------------------------------------------

caf::error store_db::merge(const user_record& in) {
  if (!in.known)
    return caf::none;
  auto cur = load_for_update(in.user_id);
  if (!cur)
    return std::move(cur.error());
  if (cur->known && cur->last_seen >= in.last_seen
      && cur->version >= in.version)
    return caf::none;
  rocksdb::WriteBatch batch;
  write_last_seen(in.user_id, std::max(cur->last_seen, in.last_seen),
                  std::max(cur->version, in.version), &batch);
  return write(&batch, "merge last_seen");
}

caf::error store_db::drop_open(const std::string& user_id) {
  rocksdb::WriteBatch batch;
  batch.Delete(online_, user_id);
  return write(&batch, "drop open mark");
}

caf::error store_db::mark_open(const std::string& user_id,
                               const open_session& s) {
  rocksdb::WriteBatch batch;
  batch.Put(online_, user_id, encode_open(s));
  return write(&batch, "write open mark");
}

caf::error store_db::mark_open_batch(
  const std::vector<std::pair<std::string, open_session>>& marks,
  const char* what) {
  rocksdb::WriteBatch batch;
  for (auto& [user, s] : marks)
    batch.Put(online_, user, encode_open(s));
  return write(&batch, what);
}

void store_db::write_last_seen(const std::string& user_id, millis last_seen,
                               uint64_t version, void* batch) {
  std::string v;
  put_u64(v, static_cast<uint64_t>(last_seen));
  put_u64(v, version);
  static_cast<rocksdb::WriteBatch*>(batch)->Put(last_seen_, user_id, v);
}

caf::error store_db::close_session(const std::string& user_id, millis start,
                                   millis end, uint64_t version,
                                   bool raise_to_checkpoint) {
  auto prev = load_for_update(user_id);
  if (!prev)
    return std::move(prev.error());
  // Activity this store already has checkpointed for the session counts:
  // a reader may have seen it as the user's last_seen (an open mark reads
  // as offline at its last checkpoint while its owner is gone), and the
  // actor closing the session may know less (it took the user over, or
  // the last heartbeat went to the previous owner). Found by the chaos
  // test: last_seen went 1.2 s back.
  if (raise_to_checkpoint && prev->open && prev->open_start == start)
    end = std::max(end, prev->open_last_active);
  rocksdb::WriteBatch batch;
  std::string v;
  put_u64(v, static_cast<uint64_t>(end));
  batch.Put(history_, history_key(user_id, start), v);
  write_last_seen(user_id, std::max(prev->last_seen, end),
                  std::max(prev->version, version), &batch);
  batch.Delete(online_, user_id);
  if (auto err = write(&batch, "close session"))
    return err;
  // Trim once the entry is in: the newest history_limit_ by start time stay,
  // whatever order sessions were closed in.
  rocksdb::WriteBatch trim;
  if (auto err = trim_history(user_id, &trim))
    return err;
  if (trim.Count() > 0)
    return write(&trim, "trim history");
  return caf::none;
}

caf::error store_db::trim_history(const std::string& user_id, void* batch) {
  std::unique_ptr<rocksdb::Iterator> it{
    db_->NewIterator(rocksdb::ReadOptions{}, history_)};
  auto upper = user_id;
  upper.push_back('\x01');
  uint32_t seen = 0;
  for (it->SeekForPrev(upper); it->Valid(); it->Prev()) {
    auto key = it->key();
    if (!history_key_of(key, user_id))
      break;
    if (++seen > history_limit_)
      static_cast<rocksdb::WriteBatch*>(batch)->Delete(history_, key);
  }
  return status_error(it->status(), "trim history");
}

caf::expected<user_record> store_db::touch_last_seen(const std::string& user_id,
                                                     millis when) {
  auto r = load_for_update(user_id);
  if (!r)
    return r;
  r->known = true;
  r->last_seen = std::max(r->last_seen, when);
  rocksdb::WriteBatch batch;
  write_last_seen(user_id, r->last_seen, r->version, &batch);
  if (auto err = write(&batch, "touch last_seen"))
    return err;
  return r;
}

caf::error store_db::put_profile(const std::string& user_id, const profile& p) {
  rocksdb::WriteBatch batch;
  batch.Put(profiles_, user_id, encode_profile(p));
  return write(&batch, "write profile");
}

// -- replica repair: the user's half (repair_db.cpp has the rest) -------------

caf::error store_db::fill_user(replica_bundle& b) {
  const char* what = "read for replica repair";
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, last_seen_, b.key, &v);
  if (auto err = status_error(st, what))
    return err;
  if (st.ok()) {
    if (!decode_last_seen(v, b.last_seen, b.version))
      return corrupt(what, b.key, v.size());
    b.seen = true;
  }
  auto mark = open_mark(b.key);
  if (!mark)
    return std::move(mark.error());
  if (auto& m = *mark) {
    b.open = true;
    b.open_start = m->start;
    b.open_last_active = m->last_active;
    b.open_version = m->version;
    b.open_status = m->status;
  }
  auto h = history(b.key, history_limit_);
  if (!h)
    return std::move(h.error());
  b.history = std::move(*h);
  auto p = get_profile(b.key);
  if (!p)
    return std::move(p.error());
  b.prof = std::move(*p);
  return caf::none;
}

caf::error store_db::apply_user(const replica_bundle& b) {
  const char* what = "apply replica repair";
  if (!b.seen && !b.open && b.history.empty() && !b.prof.known)
    return caf::none;
  if (auto err = check_writable(what))
    return err;
  auto& user = b.key;
  rocksdb::ReadOptions ro;
  // What is here now; a record that does not decode counts as absent (the
  // write repairs it, as every write that reads first).
  bool seen = false;
  millis last_seen = 0;
  uint64_t version = 0;
  std::string v;
  auto st = db_->Get(ro, last_seen_, user, &v);
  if (auto err = status_error(st, what))
    return err;
  if (st.ok())
    seen = decode_last_seen(v, last_seen, version);
  open_session mark;
  bool has_mark = false;
  st = db_->Get(ro, online_, user, &v);
  if (auto err = status_error(st, what))
    return err;
  if (st.ok())
    has_mark = decode_open(v, mark);
  // The end this store has for the session that began at `start` (nullopt:
  // none, the session is not closed here).
  auto end_here = [&](millis start) -> caf::expected<std::optional<millis>> {
    std::string ev;
    auto s = db_->Get(ro, history_, history_key(user, start), &ev);
    if (auto err = status_error(s, what))
      return err;
    const char* p = ev.data();
    uint64_t end = 0;
    if (s.IsNotFound() || !get_u64(p, ev.data() + ev.size(), end))
      return std::optional<millis>{};
    return std::optional<millis>{static_cast<millis>(end)};
  };
  rocksdb::WriteBatch batch;
  bool history_added = false;
  for (auto& h : b.history) {
    auto here = end_here(h.start);
    if (!here)
      return std::move(here.error());
    if (*here && **here >= h.end)
      continue;
    std::string ev;
    put_u64(ev, static_cast<uint64_t>(h.end));
    batch.Put(history_, history_key(user, h.start), ev);
    history_added = true;
  }
  // The bundle's history entry of the session that began at `start`.
  auto closed_in_bundle = [&](millis start) -> const session_record* {
    for (auto& h : b.history)
      if (h.start == start)
        return &h;
    return nullptr;
  };
  // This store's mark of a session the bundle has closed later than the
  // mark's activity, with a newer version: it missed the close (a ghost
  // online otherwise). Not a bundle of a node that closed the session by
  // crash recovery at its restart while it went on elsewhere (a resumed
  // session keeps its start): that close carries the mark's own version
  // and an end before the live mark's activity.
  if (auto h = has_mark ? closed_in_bundle(mark.start) : nullptr;
      h != nullptr && b.seen && b.version > mark.version
      && h->end >= mark.last_active) {
    batch.Delete(online_, user);
    has_mark = false;
  }
  if (b.open && !closed_in_bundle(b.open_start)) {
    auto here = end_here(b.open_start);
    if (!here)
      return std::move(here.error());
    open_session in{b.open_start, b.open_last_active, b.open_version,
                    b.open_status};
    if (*here) {
      // Closed here already: the bundle's mark is the stale one.
    } else if (has_mark && mark.start == in.start) {
      // The same session: the later activity and version.
      if (in.last_active > mark.last_active || in.version > mark.version) {
        auto later = std::tie(in.version, in.last_active)
                     > std::tie(mark.version, mark.last_active);
        open_session m = later ? in : mark;
        m.last_active = std::max(in.last_active, mark.last_active);
        m.version = std::max(in.version, mark.version);
        batch.Put(online_, user, encode_open(m));
      }
    } else if (has_mark ? in.version > mark.version
                        : (!seen || in.version > version)) {
      // Newer than anything this store knows of the user (a close here
      // would have stored a later version).
      batch.Put(online_, user, encode_open(in));
    }
  }
  if (b.seen && (!seen || b.last_seen > last_seen || b.version > version))
    write_last_seen(user, std::max(last_seen, b.last_seen),
                    std::max(version, b.version), &batch);
  if (b.prof.known) {
    st = db_->Get(ro, profiles_, user, &v);
    if (auto err = status_error(st, what))
      return err;
    // Only where there is none: a repair never overwrites a profile, which
    // may be newer than the one copied.
    if (st.IsNotFound())
      batch.Put(profiles_, user, encode_profile(b.prof));
  }
  if (batch.Count() == 0)
    return caf::none;
  if (auto err = write(&batch, what))
    return err;
  if (!history_added)
    return caf::none;
  rocksdb::WriteBatch trim;
  if (auto err = trim_history(user, &trim))
    return err;
  return trim.Count() > 0 ? write(&trim, "trim history") : caf::none;
}

caf::error store_db::sync() {
  // Never FlushWAL a failed store: its WAL writer has seen an error and
  // RocksDB asserts on reuse (Debian builds it with assertions).
  if (auto err = check_writable("sync WAL"))
    return err;
  auto st = db_->FlushWAL(true);
  if (st.ok())
    return caf::none;
  failed_ = true;
  auto code = to_errc(st);
  return make_store_error(code == errc::none ? errc::io_error : code,
                          "sync WAL", st.ToString());
}

} // namespace presence::persistence
