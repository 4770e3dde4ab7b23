#include "persistence/store_actor.hpp"

#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace presence::persistence {

namespace {

/// The store actor's full interface: its checkpoint batching timer is
/// private.
using store_impl_api = store_api::extend<caf::reacts_to<tick_atom>>;

struct store_state {
  std::shared_ptr<store_db> db;
  persistence_config cfg;
  std::shared_ptr<store_probe> probe;
  /// Checkpoints not yet written, latest per user.
  std::unordered_map<std::string, open_session> dirty;
  bool tick_armed = false;
  static inline const char* name = "presence.store";

  /// Runs when the actor ends, however it ends: leave nothing behind.
  ~store_state();
};

using store_ptr = store_impl_api::stateful_pointer<store_state>;

void flush_dirty(store_state& st) {
  if (st.dirty.empty())
    return;
  std::vector<std::pair<std::string, open_session>> marks;
  marks.reserve(st.dirty.size());
  for (auto& kvp : st.dirty)
    marks.emplace_back(kvp.first, kvp.second);
  st.dirty.clear();
  st.db->mark_open_batch(marks);
  st.probe->checkpoints_written += marks.size();
  st.probe->checkpoint_flushes += 1;
}

store_state::~store_state() {
  if (!db)
    return;
  // Pending checkpoints, then the WAL; the DB closes with the last owner.
  flush_dirty(*this);
  db->sync();
}

store_impl_api::behavior_type store_impl(store_ptr self,
                                    std::shared_ptr<store_db> db,
                                    persistence_config cfg,
                                    std::shared_ptr<store_probe> probe) {
  self->state.db = std::move(db);
  self->state.cfg = cfg;
  self->state.probe = std::move(probe);
  return {
    [=](load_atom, const std::string& user) -> user_record {
      return self->state.db->load(user);
    },
    [=](load_atom, const std::vector<std::string>& users) {
      std::vector<user_record> out;
      out.reserve(users.size());
      for (auto& u : users)
        out.push_back(self->state.db->load(u));
      return out;
    },
    [=](open_atom, const std::string& user, millis start, uint64_t version) {
      self->state.dirty.erase(user);
      self->state.db->mark_open(user, open_session{start, start, version});
    },
    [=](checkpoint_atom, const std::string& user, millis start,
        millis last_active, uint64_t version, presence_status status) {
      auto& st = self->state;
      open_session s{start, last_active, version, status};
      if (st.cfg.checkpoint_interval.count() == 0) {
        st.db->mark_open(user, s);
        st.probe->checkpoints_written += 1;
        st.probe->checkpoint_flushes += 1;
        return;
      }
      st.dirty[user] = s;
      if (!st.tick_armed) {
        st.tick_armed = true;
        self->delayed_send(self, st.cfg.checkpoint_interval, tick_atom::value);
      }
    },
    [=](tick_atom) {
      self->state.tick_armed = false;
      flush_dirty(self->state);
    },
    [=](close_atom, const std::string& user, millis start, millis end,
        uint64_t version) {
      // A pending checkpoint must not resurrect the session after this.
      self->state.dirty.erase(user);
      self->state.db->close_session(user, start, end, version);
      self->state.probe->sessions_closed += 1;
    },
    [=](last_seen_atom, const std::string& user, millis when) {
      return self->state.db->touch_last_seen(user, when);
    },
    [=](get_atom, profile_atom, const std::string& user) {
      return self->state.db->get_profile(user);
    },
    [=](get_atom, profile_atom, const std::vector<std::string>& users) {
      std::vector<profile> out;
      out.reserve(users.size());
      for (auto& u : users)
        out.push_back(self->state.db->get_profile(u));
      return out;
    },
    [=](put_atom, profile_atom, const std::string& user, const profile& p,
        uint8_t mask) {
      // Read, merge, write in one step: concurrent partial updates of one
      // profile cannot lose each other's fields.
      auto stored = self->state.db->get_profile(user);
      apply_fields(stored, p, mask);
      stored.known = true;
      self->state.db->put_profile(user, stored);
      return stored;
    },
    [=](history_atom, const std::string& user, uint32_t limit) {
      return self->state.db->history(user, limit);
    },
    [=](flush_atom) {
      flush_dirty(self->state);
      return self->state.db->sync();
    },
    [=](drop_atom, const std::string& user) {
      self->state.dirty.erase(user);
      self->state.db->drop_open(user);
    },
    [=](merge_atom, const user_record& r) { self->state.db->merge(r); },
    [=](orphan_atom) {
      // Pending checkpoints first, so the marks are current.
      flush_dirty(self->state);
      return self->state.db->open_marks();
    },
  };
}

} // namespace

store_api spawn_store(caf::actor_system& sys, std::unique_ptr<store_db> db,
                      const persistence_config& cfg,
                      std::shared_ptr<store_probe> probe) {
  // Spawn arguments must be copyable; the actor is the only owner.
  std::shared_ptr<store_db> shared{std::move(db)};
  return sys.spawn<caf::detached>(store_impl, std::move(shared), cfg,
                                  std::move(probe));
}

} // namespace presence::persistence
