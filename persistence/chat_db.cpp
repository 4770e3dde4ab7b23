// store_db's private messages (column family `messages`). Key layout:
//   'c' conv                          -> conversation: format, created_at,
//                                        participants, last seq
//   'm' conv '\0' seq (big-endian)    -> message: format, sender, content,
//                                        created_at, temp_id
//   't' conv '\0' sender '\0' temp_id -> seq (idempotency of a sender's
//                                        retries)
//   'Q' user                          -> offline queue: next number, how
//                                        many are kept (numbers next-length
//                                        .. next-1)
//   'q' user '\0' n (big-endian)      -> a queued message: conversation,
//                                        seq, then as 'm'
//   'k' user '\0' message id          -> "" (the message is queued)
//   'd' user '\0' device              -> a device's cursor: the last number
//                                        it took, when it last took
// Conversation ids and user ids never contain '\0' (core/ids.hpp).

#include "persistence/store_db.hpp"

#include <algorithm>
#include <limits>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "persistence/codec.hpp"

namespace presence::persistence {

namespace {

using namespace codec;

constexpr char conversation_format = 1;
constexpr char message_format = 1;

std::string conversation_key(const std::string& conv) {
  return "c" + conv;
}

std::string message_prefix(const std::string& conv) {
  std::string key = "m" + conv;
  key.push_back('\0');
  return key;
}

std::string message_key(const std::string& conv, uint64_t seq) {
  auto key = message_prefix(conv);
  put_be64(key, seq);
  return key;
}

std::string temp_key(const std::string& conv, const std::string& sender,
                     const std::string& temp_id) {
  std::string key = "t" + conv;
  key.push_back('\0');
  key += sender;
  key.push_back('\0');
  key += temp_id;
  return key;
}

struct conversation_record {
  conversation c;
  uint64_t last_seq = 0;
};

std::string encode(const conversation_record& r) {
  std::string out(1, conversation_format);
  put_u64(out, static_cast<uint64_t>(r.c.created_at));
  put_u64(out, r.c.participants.size());
  for (auto& p : r.c.participants)
    put_str(out, p);
  put_u64(out, r.last_seq);
  return out;
}

bool decode(const std::string& v, const std::string& id,
            conversation_record& r) {
  const char* p = v.data();
  const char* end = p + v.size();
  uint64_t created = 0, n = 0;
  if (v.empty() || *p++ != conversation_format || !get_u64(p, end, created)
      || !get_u64(p, end, n) || n > 100'000)
    return false;
  r.c.participants.resize(n);
  for (auto& x : r.c.participants)
    if (!get_str(p, end, x))
      return false;
  if (!get_u64(p, end, r.last_seq))
    return false;
  r.c.known = true;
  r.c.id = id;
  r.c.created_at = static_cast<millis>(created);
  return true;
}

std::string encode(const chat_message& m) {
  std::string out(1, message_format);
  put_str(out, m.sender_id);
  put_str(out, m.content);
  put_u64(out, static_cast<uint64_t>(m.created_at));
  put_str(out, m.temp_id);
  return out;
}

bool decode(const rocksdb::Slice& v, const std::string& conv, uint64_t seq,
            chat_message& m) {
  const char* p = v.data();
  const char* end = p + v.size();
  uint64_t created = 0;
  if (v.empty() || *p++ != message_format || !get_str(p, end, m.sender_id)
      || !get_str(p, end, m.content) || !get_u64(p, end, created)
      || !get_str(p, end, m.temp_id))
    return false;
  m.conversation_id = conv;
  m.seq = seq;
  m.id = conv + ":" + std::to_string(seq);
  m.created_at = static_cast<millis>(created);
  return true;
}

struct queue_record {
  uint64_t next = 1;
  uint64_t length = 0;
  /// Read from the store (false: the user never had a queue record).
  bool stored = false;

  /// The number of the oldest message kept.
  uint64_t first() const { return next - length; }
};

/// A device's place in its user's queue.
struct cursor {
  std::string device;
  uint64_t taken = 0;
  millis seen = 0;
};

std::string cursor_prefix(const std::string& user) {
  std::string key = "d" + user;
  key.push_back('\0');
  return key;
}

std::string queue_key(const std::string& user) {
  return "Q" + user;
}

std::string queued_prefix(const std::string& user) {
  std::string key = "q" + user;
  key.push_back('\0');
  return key;
}

std::string queued_id_key(const std::string& user, const std::string& id) {
  std::string key = "k" + user;
  key.push_back('\0');
  key += id;
  return key;
}

std::string encode_queued(const chat_message& m) {
  std::string out;
  put_str(out, m.conversation_id);
  put_u64(out, m.seq);
  out += encode(m);
  return out;
}

bool decode_queued(const rocksdb::Slice& v, chat_message& m) {
  const char* p = v.data();
  const char* end = p + v.size();
  std::string conv;
  uint64_t seq = 0;
  if (!get_str(p, end, conv) || !get_u64(p, end, seq))
    return false;
  return decode(rocksdb::Slice{p, static_cast<size_t>(end - p)}, conv, seq, m);
}

} // namespace

caf::expected<conversation> store_db::get_conversation(const std::string& id) {
  if (auto err = check_open("read conversation"))
    return err;
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, messages_, conversation_key(id),
                     &v);
  if (auto err = status_error(st, "read conversation"))
    return err;
  if (st.IsNotFound())
    return conversation{};
  conversation_record r;
  if (!decode(v, id, r))
    return corrupt("read conversation", id, v.size());
  return std::move(r.c);
}

caf::expected<conversation> store_db::put_conversation(const conversation& c) {
  auto found = get_conversation(c.id);
  if (!found)
    return found.error();
  if (found->known)
    return found;
  conversation_record r;
  r.c = c;
  r.c.known = true;
  rocksdb::WriteBatch batch;
  batch.Put(messages_, conversation_key(c.id), encode(r));
  if (auto err = write(&batch, "write conversation"))
    return err;
  return r.c;
}

caf::expected<chat_message> store_db::put_message(chat_message m) {
  const char* what = "write message";
  if (auto err = check_writable(what))
    return err;
  auto& conv = m.conversation_id;
  std::string v;
  auto st = db_->Get(rocksdb::ReadOptions{}, messages_, conversation_key(conv),
                     &v);
  if (auto err = status_error(st, what))
    return err;
  conversation_record r;
  bool known = !st.IsNotFound();
  if (known && !decode(v, conv, r))
    return corrupt(what, conv, v.size());
  if (!known && m.seq == 0)
    return presence::make_error(presence::errc::invalid_argument);
  auto tkey = temp_key(conv, m.sender_id, m.temp_id);
  if (!m.temp_id.empty()) {
    // A retry of a message this conversation already has: that message.
    std::string seq_bytes;
    st = db_->Get(rocksdb::ReadOptions{}, messages_, tkey, &seq_bytes);
    if (auto err = status_error(st, what))
      return err;
    if (!st.IsNotFound() && seq_bytes.size() == 8) {
      auto seq = get_be64(seq_bytes.data());
      std::string mv;
      st = db_->Get(rocksdb::ReadOptions{}, messages_, message_key(conv, seq),
                    &mv);
      if (auto err = status_error(st, what))
        return err;
      chat_message old;
      if (!st.IsNotFound() && decode(mv, conv, seq, old)) {
        old.duplicate = true;
        return old;
      }
      // Its message was dropped (the conversation's limit): a new one.
    }
  }
  if (m.seq == 0)
    m.seq = r.last_seq + 1;
  m.id = conv + ":" + std::to_string(m.seq);
  m.duplicate = false;
  rocksdb::WriteBatch batch;
  batch.Put(messages_, message_key(conv, m.seq), encode(m));
  if (!m.temp_id.empty()) {
    std::string seq_bytes;
    put_be64(seq_bytes, m.seq);
    batch.Put(messages_, tkey, seq_bytes);
  }
  if (known && m.seq > r.last_seq) {
    r.last_seq = m.seq;
    batch.Put(messages_, conversation_key(conv), encode(r));
  }
  // The oldest message beyond the limit goes, with its retry key.
  if (m.seq > message_limit_) {
    auto old_seq = m.seq - message_limit_;
    std::string ov;
    auto okey = message_key(conv, old_seq);
    st = db_->Get(rocksdb::ReadOptions{}, messages_, okey, &ov);
    if (auto err = status_error(st, what))
      return err;
    chat_message old;
    if (!st.IsNotFound()) {
      if (decode(ov, conv, old_seq, old) && !old.temp_id.empty())
        batch.Delete(messages_, temp_key(conv, old.sender_id, old.temp_id));
      batch.Delete(messages_, okey);
    }
  }
  if (auto err = write(&batch, what))
    return err;
  return m;
}

caf::expected<message_page>
store_db::messages(const std::string& conv, uint64_t before, uint32_t limit) {
  if (auto err = check_open("read messages"))
    return err;
  message_page page;
  if (before == 1)
    return page;
  auto prefix = message_prefix(conv);
  auto start = message_key(conv, before == 0
                                   ? std::numeric_limits<uint64_t>::max()
                                   : before - 1);
  std::unique_ptr<rocksdb::Iterator> it{
    db_->NewIterator(rocksdb::ReadOptions{}, messages_)};
  for (it->SeekForPrev(start); it->Valid(); it->Prev()) {
    auto key = it->key();
    if (key.size() != prefix.size() + 8 || !key.starts_with(prefix))
      break;
    if (page.messages.size() == limit) {
      page.has_more = true;
      break;
    }
    auto seq = get_be64(key.data() + prefix.size());
    chat_message m;
    if (!decode(it->value(), conv, seq, m))
      return corrupt("read messages", m.id.empty() ? conv : m.id,
                     it->value().size());
    page.messages.push_back(std::move(m));
  }
  if (auto err = status_error(it->status(), "read messages"))
    return err;
  std::reverse(page.messages.begin(), page.messages.end());
  return page;
}

namespace {

/// The queue record of `user` (a fresh one when absent).
caf::expected<queue_record> read_queue(rocksdb::DB* db,
                                       rocksdb::ColumnFamilyHandle* cf,
                                       const std::string& user,
                                       const char* what) {
  std::string v;
  auto st = db->Get(rocksdb::ReadOptions{}, cf, queue_key(user), &v);
  if (auto err = status_error(st, what))
    return err;
  queue_record r;
  if (st.IsNotFound())
    return r;
  const char* p = v.data();
  const char* end = p + v.size();
  if (!get_u64(p, end, r.next) || !get_u64(p, end, r.length))
    return corrupt(what, user, v.size());
  r.stored = true;
  return r;
}

std::string encode(const queue_record& r) {
  std::string out;
  put_u64(out, r.next);
  put_u64(out, r.length);
  return out;
}

} // namespace

namespace {

/// Every device cursor of `user`.
caf::expected<std::vector<cursor>> read_cursors(rocksdb::DB* db,
                                                rocksdb::ColumnFamilyHandle* cf,
                                                const std::string& user,
                                                const char* what) {
  std::vector<cursor> out;
  auto prefix = cursor_prefix(user);
  std::unique_ptr<rocksdb::Iterator> it{
    db->NewIterator(rocksdb::ReadOptions{}, cf)};
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    cursor c;
    auto k = it->key();
    c.device.assign(k.data() + prefix.size(), k.size() - prefix.size());
    const char* p = it->value().data();
    const char* end = p + it->value().size();
    uint64_t seen = 0;
    if (!get_u64(p, end, c.taken) || !get_u64(p, end, seen))
      return corrupt(what, k.ToString(), it->value().size());
    c.seen = static_cast<millis>(seen);
    out.push_back(std::move(c));
  }
  if (auto err = status_error(it->status(), what))
    return err;
  return out;
}

std::string encode(const cursor& c) {
  std::string out;
  put_u64(out, c.taken);
  put_u64(out, static_cast<uint64_t>(c.seen));
  return out;
}

std::string queued_key(const std::string& user, uint64_t n) {
  auto key = queued_prefix(user);
  put_be64(key, n);
  return key;
}

/// Adds to `batch` the removal of `user`'s queued messages numbered below
/// `until` (from q.first()), and moves q past them. With `out`, the
/// messages from `from` on are appended to it first (the ones a device
/// takes). Messages that do not decode are dropped with the rest.
caf::error scan_queue(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                      const std::string& user, queue_record& q, uint64_t until,
                      uint64_t from, std::vector<chat_message>* out,
                      rocksdb::WriteBatch& batch, const char* what) {
  auto prefix = queued_prefix(user);
  auto lo = std::min(q.first(), from);
  std::unique_ptr<rocksdb::Iterator> it{
    db->NewIterator(rocksdb::ReadOptions{}, cf)};
  it->Seek(queued_key(user, lo));
  while (it->Valid()) {
    auto k = it->key();
    if (k.size() != prefix.size() + 8 || !k.starts_with(prefix))
      break;
    auto n = get_be64(k.data() + prefix.size());
    bool wanted = out != nullptr && n >= from;
    bool dropped = n < until;
    if (!wanted && !dropped) {
      if (out == nullptr)
        break;
      it->Seek(queued_key(user, from)); // skip what stays and is not taken
      continue;
    }
    chat_message m;
    bool ok = decode_queued(it->value(), m);
    if (dropped) {
      if (ok)
        batch.Delete(cf, queued_id_key(user, m.id));
      batch.Delete(cf, k);
    }
    if (wanted && ok)
      out->push_back(std::move(m));
    it->Next();
  }
  if (auto err = status_error(it->status(), what))
    return err;
  if (until > q.first())
    q.length = q.next - std::min(until, q.next);
  return {};
}

} // namespace

namespace {

/// Adds to `batch` `m` as the next message of `user`'s queue `q`.
void append_queued(rocksdb::ColumnFamilyHandle* cf, const std::string& user,
                   const chat_message& m, queue_record& q,
                   rocksdb::WriteBatch& batch) {
  batch.Put(cf, queued_key(user, q.next), encode_queued(m));
  batch.Put(cf, queued_id_key(user, m.id), "");
  ++q.next;
  ++q.length;
}

/// Over `limit`, adds to `batch` the removal of the oldest (only devices
/// lagging behind another device of the user still wanted them; sends are
/// refused before the most current device would lose one).
caf::error trim_queue(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                      const std::string& user, queue_record& q, uint32_t limit,
                      rocksdb::WriteBatch& batch, const char* what) {
  if (q.length <= limit)
    return {};
  auto until = q.next - std::max<uint32_t>(limit, 1);
  return scan_queue(db, cf, user, q, until, 0, nullptr, batch, what);
}

} // namespace

caf::expected<uint32_t> store_db::enqueue(const std::string& user,
                                          const chat_message& m) {
  const char* what = "queue message";
  if (auto err = check_writable(what))
    return err;
  auto q = read_queue(db_, messages_, user, what);
  if (!q)
    return q.error();
  std::string dummy;
  auto idk = queued_id_key(user, m.id);
  auto st = db_->Get(rocksdb::ReadOptions{}, messages_, idk, &dummy);
  if (auto err = status_error(st, what))
    return err;
  if (!st.IsNotFound())
    return queue_length(user);
  rocksdb::WriteBatch batch;
  append_queued(messages_, user, m, *q, batch);
  if (auto err = trim_queue(db_, messages_, user, *q, queue_limit_, batch,
                            what))
    return err;
  batch.Put(messages_, queue_key(user), encode(*q));
  if (auto err = write(&batch, what))
    return err;
  return queue_length(user);
}

caf::expected<std::vector<chat_message>>
store_db::take_queue(const std::string& user, const std::string& device,
                     millis now) {
  const char* what = "take queued messages";
  if (auto err = check_writable(what))
    return err;
  auto q = read_queue(db_, messages_, user, what);
  if (!q)
    return q.error();
  auto cs = read_cursors(db_, messages_, user, what);
  if (!cs)
    return cs.error();
  rocksdb::WriteBatch batch;
  auto prefix = cursor_prefix(user);
  // Devices unseen for too long are forgotten; so are the longest unseen
  // beyond max_queue_devices (this device stays).
  auto forget = [&](std::vector<cursor>::iterator i) {
    batch.Delete(messages_, prefix + i->device);
    return cs->erase(i);
  };
  for (auto i = cs->begin(); i != cs->end();)
    i = (i->device != device && i->seen + device_ttl < now) ? forget(i) : i + 1;
  auto mine = std::find_if(cs->begin(), cs->end(),
                           [&](const cursor& c) { return c.device == device; });
  // A device the store does not know gets everything still kept.
  uint64_t from = mine == cs->end() ? q->first()
                                    : std::max(mine->taken + 1, q->first());
  if (mine == cs->end()) {
    while (cs->size() >= max_queue_devices) {
      auto oldest = std::min_element(cs->begin(), cs->end(),
                                     [](const cursor& a, const cursor& b) {
                                       return a.seen < b.seen;
                                     });
      forget(oldest);
    }
    cs->push_back(cursor{device, 0, now});
    mine = cs->end() - 1;
  }
  mine->taken = q->next - 1;
  mine->seen = now;
  batch.Put(messages_, prefix + device, encode(*mine));
  // What every known device has taken leaves the log.
  uint64_t until = q->next;
  for (auto& c : *cs)
    until = std::min(until, c.taken + 1);
  std::vector<chat_message> out;
  if (from < q->next || until > q->first()) {
    if (auto err = scan_queue(db_, messages_, user, *q, until, from, &out,
                              batch, what))
      return err;
  }
  // The queue record exists whenever a cursor does: a user without one
  // costs a single read at load (queue_devices).
  batch.Put(messages_, queue_key(user), encode(*q));
  if (auto err = write(&batch, what))
    return err;
  return out;
}

caf::expected<uint32_t> store_db::queue_length(const std::string& user) {
  const char* what = "read queue";
  if (auto err = check_open(what))
    return err;
  auto q = read_queue(db_, messages_, user, what);
  if (!q)
    return q.error();
  if (q->length == 0)
    return uint32_t{0};
  auto cs = read_cursors(db_, messages_, user, what);
  if (!cs)
    return cs.error();
  // What the most current device has not taken.
  uint64_t taken = q->first() - 1;
  for (auto& c : *cs)
    taken = std::max(taken, c.taken);
  return static_cast<uint32_t>(q->next - 1 - std::min(taken, q->next - 1));
}

caf::expected<store_db::queue_summary>
store_db::summarize_queue(const std::string& user) {
  const char* what = "read queue";
  if (auto err = check_open(what))
    return err;
  auto q = read_queue(db_, messages_, user, what);
  if (!q)
    return q.error();
  queue_summary out;
  out.kept = static_cast<uint32_t>(q->length);
  // No queue record, no cursors (take_queue writes both).
  if (!q->stored)
    return out;
  auto cs = read_cursors(db_, messages_, user, what);
  if (!cs)
    return cs.error();
  for (auto& c : *cs)
    out.devices.emplace_back(std::move(c.device), c.seen);
  return out;
}

caf::expected<std::vector<std::pair<std::string, millis>>>
store_db::queue_devices(const std::string& user) {
  auto s = summarize_queue(user);
  if (!s)
    return s.error();
  return std::move(s->devices);
}

caf::expected<uint32_t> store_db::queue_kept(const std::string& user) {
  if (auto err = check_open("read queue"))
    return err;
  auto q = read_queue(db_, messages_, user, "read queue");
  if (!q)
    return q.error();
  return static_cast<uint32_t>(q->length);
}

} // namespace presence::persistence

// -- replica repair: the private messages' half -------------------------------

namespace presence::persistence {

namespace {

/// The messages kept in `user`'s queue, oldest first, with their numbers.
caf::error read_queued(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                       const std::string& user, const queue_record& q,
                       std::vector<chat_message>& out,
                       std::vector<uint64_t>& numbers, const char* what) {
  auto prefix = queued_prefix(user);
  std::unique_ptr<rocksdb::Iterator> it{
    db->NewIterator(rocksdb::ReadOptions{}, cf)};
  for (it->Seek(queued_key(user, q.first())); it->Valid(); it->Next()) {
    auto k = it->key();
    if (k.size() != prefix.size() + 8 || !k.starts_with(prefix))
      break;
    chat_message m;
    // One that does not decode is left out, as a take leaves it out.
    if (!decode_queued(it->value(), m))
      continue;
    out.push_back(std::move(m));
    numbers.push_back(get_be64(k.data() + prefix.size()));
  }
  return status_error(it->status(), what);
}

} // namespace

caf::error store_db::fill_chat(replica_bundle& b) {
  const char* what = "read for replica repair";
  auto c = get_conversation(b.key);
  if (!c)
    return std::move(c.error());
  if (c->known) {
    auto page = messages(b.key, 0, message_limit_);
    if (!page)
      return std::move(page.error());
    b.conv = std::move(*c);
    b.messages = std::move(page->messages);
  }
  auto q = read_queue(db_, messages_, b.key, what);
  if (!q)
    return q.error();
  if (!q->stored)
    return caf::none;
  std::vector<uint64_t> numbers;
  if (auto err = read_queued(db_, messages_, b.key, *q, b.queued, numbers,
                             what))
    return err;
  auto cs = read_cursors(db_, messages_, b.key, what);
  if (!cs)
    return cs.error();
  for (auto& c : *cs) {
    auto pending = std::count_if(numbers.begin(), numbers.end(),
                                 [&](uint64_t n) { return n > c.taken; });
    b.cursors.push_back(
      queue_cursor{c.device, static_cast<uint32_t>(pending), c.seen});
  }
  return caf::none;
}

caf::error store_db::apply_chat(const replica_bundle& b) {
  const char* what = "apply replica repair";
  if (b.conv.known) {
    auto c = put_conversation(b.conv);
    if (!c)
      return c.error();
    for (auto& m : b.messages) {
      if (m.seq == 0)
        continue;
      std::string v;
      auto st = db_->Get(rocksdb::ReadOptions{}, messages_,
                         message_key(b.key, m.seq), &v);
      if (auto err = status_error(st, what))
        return err;
      if (!st.IsNotFound())
        continue;
      auto stored = put_message(m);
      if (!stored)
        return stored.error();
    }
  }
  if (b.queued.empty() && b.cursors.empty())
    return caf::none;
  if (auto err = check_writable(what))
    return err;
  auto& user = b.key;
  auto q = read_queue(db_, messages_, user, what);
  if (!q)
    return q.error();
  // Only a replica without the queue gets it: one that has it may have
  // handed out and deleted messages the bundle still holds (a device
  // would get them twice). Takes ask every replica, so what only the
  // others hold is still delivered.
  if (q->stored)
    return caf::none;
  // A store without the queue holds none of its messages or cursors: the
  // bundle's messages are numbered from here in its order, and each device
  // gets a cursor just before the first of them it had not taken.
  rocksdb::WriteBatch batch;
  for (auto& m : b.queued)
    append_queued(messages_, user, m, *q, batch);
  auto prefix = cursor_prefix(user);
  auto n = std::min(b.cursors.size(), max_queue_devices);
  for (size_t i = 0; i < n; ++i) {
    auto& c = b.cursors[i];
    uint64_t pending = std::min<uint64_t>(c.pending, b.queued.size());
    batch.Put(messages_, prefix + c.device,
              encode(cursor{c.device, q->next - 1 - pending, c.seen}));
  }
  if (auto err = trim_queue(db_, messages_, user, *q, queue_limit_, batch,
                            what))
    return err;
  batch.Put(messages_, queue_key(user), encode(*q));
  return write(&batch, what);
}

} // namespace presence::persistence
