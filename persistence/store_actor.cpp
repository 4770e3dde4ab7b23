#include "persistence/store_actor.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_clock.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/clock.hpp"
#include "core/logger.hpp"
#include "persistence/retry_queue.hpp"

namespace presence::persistence {

namespace {

spdlog::logger& store_log() {
  static auto l = folder_logger("store");
  return *l;
}

/// The store actor's full interface: its timer (checkpoint batches and
/// retries of failed writes) is private.
using store_impl_api = store_api::extend<caf::reacts_to<tick_atom>,
                                         caf::reacts_to<checkpoint_atom>>;

/// Pending checkpoints are written in shares, one every
/// `checkpoint_interval / checkpoint_slices`: a node's thousands of users
/// checkpoint every interval, and one batch of them all held a core long
/// enough to stall the pings behind it (docs/benchmarks.md).
constexpr int checkpoint_slices = 10;

struct store_state {
  std::shared_ptr<store_db> db;
  persistence_config cfg;
  std::chrono::milliseconds retry_interval = default_retry_interval;
  std::shared_ptr<store_probe> probe;
  /// Checkpoints not yet written, latest per user.
  std::unordered_map<std::string, open_session> dirty;
  /// When each user in `dirty` started waiting, oldest first (an entry
  /// whose user is no longer waiting is skipped).
  std::deque<std::pair<caf::actor_clock::time_point, std::string>> waiting;
  /// Writes nobody waits for that failed, and the ones behind them.
  retry_queue retries{retry_queue_limit};
  /// Write errors and dropped writes since the last success: a run of
  /// failures is logged once when it starts and once when it ends.
  uint64_t failures = 0;
  uint64_t dropped = 0;
  bool checkpoint_tick_armed = false;
  bool retry_tick_armed = false;
  /// When the block cache and table reader figures were last read (they
  /// lock the cache and walk every table file: at most once a second).
  std::chrono::steady_clock::time_point buffers_sampled;
  static inline const char* name = "presence.store";

  /// Runs when the actor ends, however it ends: leave nothing behind.
  ~store_state();
};

using store_ptr = store_impl_api::stateful_pointer<store_state>;

// -- failures -----------------------------------------------------------------

/// A write failed: counted; only the first of a run is logged.
void on_failure(store_state& st, const caf::error& err) {
  st.probe->write_errors += 1;
  if (st.failures++ == 0)
    store_log().error(
      "{}; further failures are only counted until writes "
      "succeed again, failed writes are retried every {} ms",
      describe(err), st.retry_interval.count());
}

/// A write went through: ends a run of failures once nothing waits.
void on_success(store_state& st) {
  st.probe->memtable_bytes = st.db->memtable_bytes();
  auto now = std::chrono::steady_clock::now();
  if (now - st.buffers_sampled >= std::chrono::seconds(1)) {
    st.buffers_sampled = now;
    st.probe->block_cache_bytes = st.db->block_cache_bytes();
    st.probe->table_reader_bytes = st.db->table_reader_bytes();
  }
  if ((st.failures == 0 && st.dropped == 0) || !st.retries.empty())
    return;
  if (st.dropped > 0)
    store_log().info(
      "store writes recovered after {} failures ({} writes "
      "dropped)",
      st.failures, st.dropped);
  else
    store_log().info("store writes recovered after {} failures", st.failures);
  st.failures = 0;
  st.dropped = 0;
}

/// Writes are failing, or wait behind ones that failed.
bool stuck(const store_state& st) {
  return st.db->failed() || !st.retries.empty();
}

void arm_retry(store_ptr self) {
  auto& st = self->state;
  if (st.retry_tick_armed)
    return;
  st.retry_tick_armed = true;
  self->delayed_send(self, st.retry_interval, tick_atom::value);
}

/// After a write: makes sure a retry comes if anything is left.
void settle(store_ptr self) {
  if (stuck(self->state))
    arm_retry(self);
}

/// A write its caller waits for: counted like every write (an error of
/// another category, the caller's mistake, is not a store failure), then
/// answered with `r`.
template <class T>
caf::expected<T> answer_write(store_ptr self, caf::expected<T> r) {
  auto& st = self->state;
  if (!r) {
    if (store_code(r.error()) != errc::none)
      on_failure(st, r.error());
  } else {
    on_success(st);
  }
  settle(self);
  return r;
}

// -- writes nobody waits for --------------------------------------------------

/// Counts a write given up; true for the first of a run of failures.
bool count_drop(store_state& st) {
  st.probe->writes_dropped += 1;
  return st.dropped++ == 0;
}

/// Queues `w` behind the failed writes; what does not fit is dropped.
void enqueue(store_state& st, store_write w) {
  if (!st.retries.push(w) && count_drop(st))
    store_log().error(
      "retry queue full ({} writes): dropping {} of '{}', "
      "further drops are only counted",
      st.retries.limit(), name_of(w), user_of(w));
  st.probe->writes_pending = st.retries.size();
}

caf::error write(store_state& st, const store_write& w) {
  auto err = apply(*st.db, w);
  if (!err && std::holds_alternative<close_write>(w))
    st.probe->sessions_closed += 1;
  return err;
}

/// Writes `w` now, or queues it: behind earlier failed writes (a user's
/// writes stay in order), or because it failed.
/// True when `w` is on disk now (false: queued for the retry).
bool write_or_queue(store_state& st, store_write w) {
  if (stuck(st)) {
    enqueue(st, std::move(w));
    return false;
  }
  if (auto err = write(st, w)) {
    on_failure(st, err);
    enqueue(st, std::move(w));
    return false;
  }
  on_success(st);
  return true;
}

/// Activity up to `t` is on disk (a checkpoint, or an open mark: a session
/// that opened online is checkpointed by its mark).
void activity_written(store_state& st, millis t) {
  auto& probe = *st.probe;
  if (t > 0 && static_cast<uint64_t>(t) > probe.checkpoint_newest_ms.load())
    probe.checkpoint_newest_ms.store(static_cast<uint64_t>(t));
}

/// A session opened: its mark replaces any checkpoint still waiting.
void open_mark(store_state& st, const std::string& user, millis start,
               uint64_t version) {
  st.dirty.erase(user);
  if (write_or_queue(st, open_write{user, open_session{start, start, version}}))
    activity_written(st, start);
}

/// The open marks of a replicator's mailbox pass, in one write: each
/// replaces any checkpoint of its user still waiting; if the write fails
/// (or earlier writes wait for the retry) they are queued in order, as
/// one after the other would be.
void open_marks(store_state& st, const std::vector<session_open>& opens) {
  if (opens.empty())
    return;
  if (opens.size() == 1 || stuck(st)) {
    for (auto& o : opens)
      open_mark(st, o.user_id, o.start, o.version);
    return;
  }
  std::vector<std::pair<std::string, open_session>> marks;
  marks.reserve(opens.size());
  millis newest = 0;
  for (auto& o : opens) {
    st.dirty.erase(o.user_id);
    marks.emplace_back(o.user_id, open_session{o.start, o.start, o.version});
    newest = std::max(newest, o.start);
  }
  if (auto err = st.db->mark_open_batch(marks, "write open marks")) {
    on_failure(st, err);
    for (auto& [user, s] : marks)
      enqueue(st, open_write{user, s});
    return;
  }
  on_success(st);
  activity_written(st, newest);
}

/// A batch of `n` checkpoints, the newest of activity up to `t`, is on
/// disk: counted, and a run of failures may be over.
void checkpoints_written(store_state& st, size_t n, millis t) {
  auto& probe = *st.probe;
  probe.checkpoints_written += n;
  probe.checkpoint_flushes += 1;
  activity_written(st, t);
  on_success(st);
}

/// Writes the pending checkpoints in one batch, but only once nothing older
/// waits (a queued open must not overwrite a newer checkpoint). Returns
/// false if they are still pending.
bool flush_dirty(store_state& st) {
  if (st.dirty.empty()) {
    st.waiting.clear();
    return true;
  }
  if (stuck(st))
    return false;
  std::vector<std::pair<std::string, open_session>> marks;
  marks.reserve(st.dirty.size());
  millis newest = 0;
  for (auto& kvp : st.dirty) {
    marks.emplace_back(kvp.first, kvp.second);
    newest = std::max(newest, kvp.second.last_active);
  }
  if (auto err = st.db->mark_open_batch(marks)) {
    on_failure(st, err);
    return false; // kept in `dirty`
  }
  st.dirty.clear();
  st.waiting.clear();
  checkpoints_written(st, marks.size(), newest);
  return true;
}

/// The tick of the checkpoint shares.
std::chrono::milliseconds share_tick(const store_state& st) {
  return std::max(std::chrono::milliseconds{1},
                  st.cfg.checkpoint_interval / checkpoint_slices);
}

/// Forgets the entries of `waiting` whose user no longer waits (written,
/// or dropped by an open or a close), keeping the first of each user that
/// does, in order: they pile up while writes are stuck.
void compact_waiting(store_state& st) {
  std::unordered_set<std::string> kept;
  std::deque<std::pair<caf::actor_clock::time_point, std::string>> out;
  for (auto& w : st.waiting)
    if (st.dirty.count(w.second) > 0 && kept.insert(w.second).second)
      out.push_back(std::move(w));
  st.waiting.swap(out);
}

/// Notes that `user` started waiting now (if it was not waiting already).
void note_waiting(store_ptr self, const std::string& user, bool added) {
  auto& st = self->state;
  if (!added)
    return;
  st.waiting.emplace_back(self->clock().now(), user);
  if (st.waiting.size() > 2 * st.dirty.size() + 1024)
    compact_waiting(st);
}

/// Writes this tick's share of the pending checkpoints: the oldest tenth
/// of them, and every one that would have waited a whole interval by the
/// next tick (so none waits longer than an interval, as with one batch
/// per interval, and a burst drains within one). Not while older writes
/// wait (the retry writes everything then).
void flush_share(store_ptr self) {
  auto& st = self->state;
  if (st.dirty.empty()) {
    st.waiting.clear();
    return;
  }
  auto now = self->clock().now();
  auto horizon = st.cfg.checkpoint_interval - share_tick(st);
  auto share = (st.dirty.size() + checkpoint_slices - 1) / checkpoint_slices;
  std::vector<std::pair<std::string, open_session>> marks;
  millis newest = 0;
  while (!st.waiting.empty()) {
    auto& [since, user] = st.waiting.front();
    if (marks.size() >= share && now - since < horizon)
      break;
    if (auto i = st.dirty.find(user); i != st.dirty.end()) {
      newest = std::max(newest, i->second.last_active);
      marks.emplace_back(i->first, i->second);
      st.dirty.erase(i);
    }
    st.waiting.pop_front();
  }
  if (marks.empty())
    return;
  if (auto err = st.db->mark_open_batch(marks)) {
    on_failure(st, err);
    // Back to waiting (nothing newer came meanwhile); the retry writes
    // them with everything else.
    for (auto& m : marks) {
      st.waiting.emplace_front(now - st.cfg.checkpoint_interval, m.first);
      st.dirty.emplace(std::move(m.first), m.second);
    }
    arm_retry(self);
    return;
  }
  checkpoints_written(st, marks.size(), newest);
}

/// Arms the next checkpoint share, if none is armed.
void arm_checkpoint_tick(store_ptr self) {
  auto& st = self->state;
  if (st.checkpoint_tick_armed)
    return;
  st.checkpoint_tick_armed = true;
  self->delayed_send(self, share_tick(st), checkpoint_atom::value);
}

/// A checkpoint of `user`'s open session `s`: written at once with a
/// checkpoint interval of 0, else pending until its share's tick.
void take_checkpoint(store_ptr self, const std::string& user,
                     const open_session& s) {
  auto& st = self->state;
  if (st.cfg.checkpoint_interval.count() == 0 && !stuck(st)) {
    if (auto err = st.db->mark_open(user, s)) {
      on_failure(st, err);
      st.dirty[user] = s; // written by the retry
    } else {
      checkpoints_written(st, 1, s.last_active);
    }
    settle(self);
    return;
  }
  note_waiting(self, user, st.dirty.insert_or_assign(user, s).second);
  if (stuck(st))
    arm_retry(self);
  else
    arm_checkpoint_tick(self);
}

/// Reopens RocksDB if a write failed, then writes the queued writes in
/// order and the pending checkpoints. Returns true if nothing is left.
bool retry(store_state& st) {
  if (st.db->failed()) {
    if (auto err = st.db->recover())
      return false; // still failing: the run's first failure was logged
  }
  while (!st.retries.empty()) {
    auto& w = st.retries.front();
    if (auto err = write(st, w)) {
      // Corruption does not heal by waiting: the write would block every
      // other one forever.
      if (store_code(err) != errc::corruption)
        break;
      count_drop(st);
      store_log().error("dropping {} of '{}': {}", name_of(w), user_of(w),
                        describe(err));
    }
    st.retries.pop();
  }
  st.probe->writes_pending = st.retries.size();
  if (!flush_dirty(st))
    return false;
  on_success(st);
  return !stuck(st);
}

store_state::~store_state() {
  if (!db)
    return;
  // Queued writes and pending checkpoints, then the WAL; the DB closes with
  // the last owner.
  if (!retry(*this)) {
    probe->writes_dropped += retries.size() + dirty.size();
    store_log().error(
      "store stops with {} writes and {} checkpoints not "
      "written: they are lost",
      retries.size(), dirty.size());
    return;
  }
  if (auto err = db->sync())
    store_log().error("{} when the store stops", describe(err));
}

/// Adds who may see the user to a loaded record. A profile that cannot be
/// read hides the user from everyone (showing someone who hides would be
/// worse) without keeping them from joining.
void add_contacts(store_db& db, user_record& r) {
  auto p = db.get_profile(r.user_id);
  if (p) {
    r.contacts_stored = p->known;
    r.contacts = std::move(p->contacts);
    return;
  }
  store_log().warn("{}: {} is shown to no one until the profile is rewritten",
                   describe(p.error()), r.user_id);
  r.contacts_stored = true;
  r.contacts.mode = visibility_mode::contacts;
}

/// A user's record with the hints a user actor needs when it starts (batch
/// loads, for statuses and lists, do without). A queue record that cannot
/// be read counts as "maybe": the join then asks for the queue, whose read
/// reports the problem.
caf::expected<user_record> load_for_start(store_db& db,
                                          const std::string& user) {
  auto r = db.load(user);
  if (!r)
    return r;
  auto q = db.summarize_queue(user);
  r->queued = q ? q->kept : 1;
  if (q)
    for (auto& [name, seen] : q->devices) {
      r->queue_devices.push_back(name);
      r->queue_seen.push_back(seen);
    }
  add_contacts(db, *r);
  return r;
}

// -- the actor ----------------------------------------------------------------

store_impl_api::behavior_type store_impl(store_ptr self,
                                         std::shared_ptr<store_db> db,
                                         persistence_config cfg,
                                         std::shared_ptr<store_probe> probe,
                                         std::chrono::milliseconds every) {
  self->state.db = std::move(db);
  self->state.cfg = cfg;
  self->state.probe = std::move(probe);
  self->state.retry_interval = every;
  return {
    [=](load_atom, const std::string& user) -> caf::result<user_record> {
      return load_for_start(*self->state.db, user);
    },
    [=](load_atom, join_atom, const std::vector<std::string>& users)
      -> caf::result<std::vector<user_record>> {
      std::vector<user_record> out;
      out.reserve(users.size());
      for (auto& u : users) {
        auto r = load_for_start(*self->state.db, u);
        if (r) {
          out.push_back(std::move(*r));
          continue;
        }
        // This user's record alone is out of reach: an empty id says so,
        // as the single load's error would.
        store_log().warn("load of {} for its start failed: {}", u,
                         describe(r.error()));
        out.emplace_back();
      }
      return out;
    },
    [=](load_atom, const std::vector<std::string>& users)
      -> caf::result<std::vector<user_record>> {
      std::vector<user_record> out;
      out.reserve(users.size());
      for (auto& u : users) {
        auto r = self->state.db->load(u);
        if (!r)
          return std::move(r.error());
        add_contacts(*self->state.db, *r);
        out.push_back(std::move(*r));
      }
      return out;
    },
    [=](open_atom, const std::string& user, millis start, uint64_t version) {
      open_mark(self->state, user, start, version);
      settle(self);
    },
    [=](open_atom, const std::vector<session_open>& opens) {
      open_marks(self->state, opens);
      settle(self);
    },
    [=](checkpoint_atom, const std::string& user, millis start,
        millis last_active, uint64_t version, presence_status status) {
      take_checkpoint(self, user,
                      open_session{start, last_active, version, status});
    },
    [=](checkpoint_atom, const std::vector<session_checkpoint>& cps) {
      for (auto& c : cps)
        take_checkpoint(self, c.user_id,
                        open_session{c.start, c.last_active, c.version,
                                     c.status});
    },
    [=](checkpoint_atom) {
      auto& st = self->state;
      st.checkpoint_tick_armed = false;
      if (stuck(st)) {
        arm_retry(self);
        return;
      }
      flush_share(self);
      if (!st.dirty.empty())
        arm_checkpoint_tick(self);
    },
    [=](tick_atom) {
      // The retry timer (tests send it too): writes everything.
      auto& st = self->state;
      st.retry_tick_armed = false;
      if (!retry(st))
        arm_retry(self);
    },
    [=](close_atom, const std::string& user, millis start, millis end,
        uint64_t version) {
      // A pending checkpoint must not resurrect the session after this.
      self->state.dirty.erase(user);
      write_or_queue(self->state, close_write{user, start, end, version});
      settle(self);
    },
    [=](last_seen_atom, const std::string& user,
        millis when) -> caf::result<user_record> {
      // Bypasses the retry queue: last_seen only ever goes up, so this
      // commutes with every queued write.
      return answer_write(self, self->state.db->touch_last_seen(user, when));
    },
    [=](get_atom, profile_atom, const std::string& user)
      -> caf::result<profile> { return self->state.db->get_profile(user); },
    [=](get_atom, profile_atom, const std::vector<std::string>& users)
      -> caf::result<std::vector<profile>> {
      std::vector<profile> out;
      out.reserve(users.size());
      for (auto& u : users) {
        auto p = self->state.db->get_profile(u);
        if (!p)
          return std::move(p.error());
        out.push_back(std::move(*p));
      }
      return out;
    },
    [=](put_atom, profile_atom, const std::string& user, const profile& p,
        uint8_t mask) -> caf::result<profile> {
      // Read, merge, write in one step: concurrent partial updates of one
      // profile cannot lose each other's fields.
      auto& st = self->state;
      auto stored = st.db->get_profile(user);
      profile merged;
      if (stored) {
        merged = std::move(*stored);
      } else if (store_code(stored.error()) == errc::corruption) {
        // Nothing of it can be read back: the write repairs it.
        store_log().warn("{}: overwritten by a profile update",
                         describe(stored.error()));
      } else {
        return std::move(stored.error());
      }
      apply_fields(merged, p, mask);
      merged.known = true;
      if (auto err = st.db->put_profile(user, merged)) {
        on_failure(st, err);
        settle(self);
        return err;
      }
      on_success(st);
      return merged;
    },
    // -- private messages: answered with the store's error, never queued
    // (the caller tells its client, who retries with the same temp id) --
    [=](put_atom, conversation_atom,
        const conversation& c) -> caf::result<conversation> {
      return answer_write(self, self->state.db->put_conversation(c));
    },
    [=](get_atom, conversation_atom,
        const std::string& id) -> caf::result<conversation> {
      return self->state.db->get_conversation(id);
    },
    [=](put_atom, message_atom,
        const chat_message& m) -> caf::result<chat_message> {
      // An unknown conversation is the caller's mistake, not a failure.
      return answer_write(self, self->state.db->put_message(m));
    },
    [=](get_atom, message_atom, const std::string& conv, uint64_t before,
        uint32_t limit) -> caf::result<message_page> {
      return self->state.db->messages(conv, before, limit);
    },
    [=](queue_atom, const std::string& user,
        const chat_message& m) -> caf::result<uint32_t> {
      return answer_write(self, self->state.db->enqueue(user, m));
    },
    [=](queue_atom, const std::string& user,
        const std::string& device) -> caf::result<std::vector<chat_message>> {
      return answer_write(self, self->state.db->take_queue(user, device,
                                                           system_now()));
    },
    [=](queue_atom, count_atom, const std::string& user)
      -> caf::result<uint32_t> { return self->state.db->queue_length(user); },
    [=](history_atom, const std::string& user,
        uint32_t limit) -> caf::result<std::vector<session_record>> {
      return self->state.db->history(user, limit);
    },
    [=](flush_atom) -> caf::result<bool> {
      auto& st = self->state;
      if (!retry(st)) {
        arm_retry(self);
        return make_store_error(errc::io_error, "flush",
                                std::to_string(st.retries.size())
                                  + " writes and "
                                  + std::to_string(st.dirty.size())
                                  + " checkpoints still pending");
      }
      if (auto err = st.db->sync()) {
        on_failure(st, err);
        settle(self);
        return err;
      }
      return true;
    },
    [=](drop_atom, const std::string& user) {
      self->state.dirty.erase(user);
      write_or_queue(self->state, drop_write{user});
      settle(self);
    },
    [=](merge_atom, const user_record& r) {
      write_or_queue(self->state, merge_write{r});
      settle(self);
    },
    // -- replica repair (cluster/repairer.cpp) --------------------------------
    [=](repair_atom, const std::string& after,
        uint32_t limit) -> caf::result<std::vector<std::string>> {
      return self->state.db->repair_keys(after, limit);
    },
    [=](repair_atom, get_atom, const std::vector<std::string>& keys)
      -> caf::result<std::vector<replica_bundle>> {
      auto& st = self->state;
      std::vector<replica_bundle> out;
      out.reserve(keys.size());
      for (auto& k : keys) {
        auto b = st.db->bundle(k);
        if (!b && store_code(b.error()) == errc::corruption) {
          // One record that does not decode must not stop the others'
          // repair: this key's bundle goes out empty.
          store_log().warn("replica repair skips {}: {}", k,
                           describe(b.error()));
          out.emplace_back().key = k;
          continue;
        }
        if (!b)
          return std::move(b.error());
        // A checkpoint still waiting here is newer than the stored mark.
        if (auto i = st.dirty.find(k); i != st.dirty.end() && b->open
                                       && b->open_start == i->second.start) {
          b->open_last_active = i->second.last_active;
          b->open_version = i->second.version;
          b->open_status = i->second.status;
        }
        out.push_back(std::move(*b));
      }
      return out;
    },
    [=](repair_atom, const replica_bundle& b) -> caf::result<bool> {
      auto err = self->state.db->apply_bundle(b);
      return answer_write(self, err ? caf::expected<bool>{std::move(err)}
                                    : caf::expected<bool>{true});
    },
    [=](orphan_atom) -> caf::result<std::vector<user_record>> {
      // Queued writes and pending checkpoints first, so the marks are
      // current; stale marks would close sessions twice.
      auto& st = self->state;
      if (!retry(st)) {
        arm_retry(self);
        return make_store_error(errc::io_error, "scan open marks",
                                std::to_string(st.retries.size())
                                  + " writes still pending: the marks are "
                                    "not current");
      }
      return st.db->open_marks();
    },
  };
}

} // namespace

store_api spawn_store(caf::actor_system& sys, std::unique_ptr<store_db> db,
                      const persistence_config& cfg,
                      std::shared_ptr<store_probe> probe,
                      std::chrono::milliseconds retry_interval) {
  // Spawn arguments must be copyable; the actor is the only owner.
  std::shared_ptr<store_db> shared{std::move(db)};
  // The probe lives as long as the actor (it holds it).
  if (probe)
    shared->time_writes(&probe->write_latency);
  return sys.spawn<caf::detached>(store_impl, std::move(shared), cfg,
                                  std::move(probe), retry_interval);
}

} // namespace presence::persistence
