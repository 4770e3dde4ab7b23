#include "actors/fanout.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/change_log.hpp"
#include "core/clock.hpp"
#include "core/handoff.hpp"
#include "core/messages.hpp"

namespace presence::actors {

namespace {

/// The fan-out's full interface: its coalescing timer is private.
using fanout_impl_api = fanout_api::extend<caf::reacts_to<tick_atom>>;

struct listener_entry {
  bool global = false;
  std::unordered_set<std::string> users;
  /// Takes batches on the fan-out's thread (null: a message to `l`).
  std::shared_ptr<direct_listener> direct;
  /// Where `direct` is best called (null: on the fan-out's thread).
  std::shared_ptr<delivery_home> home;
};

/// The global listeners of one delivery_home, as the home reads them: in
/// chunks of home_chunk, one task each. A chunk is shared with the tasks
/// in flight, so it is never changed: a listener that subscribes replaces
/// the last chunk with a copy that has it too (at most home_chunk
/// pointers copied, where a rebuild of the whole list took ~0.4 ms per
/// 1,000 listeners, on the join's path: docs/benchmarks.md, "thirty-first
/// session").
struct home_group {
  std::shared_ptr<delivery_home> home;
  std::vector<std::shared_ptr<const delivery_home::listeners>> chunks;
};

/// Listeners a home is handed per task: its thread starts on the first
/// chunk at once, and a large delivery does not hold that thread's other
/// sockets (heartbeats) back for its whole length.
constexpr size_t home_chunk = 128;

struct fanout_state {
  actors_config cfg;
  std::unordered_map<delta_listener, listener_entry> listeners;
  std::unordered_map<std::string, std::unordered_set<delta_listener>> by_user;
  /// Listeners of everything (their entries in `listeners`).
  std::unordered_map<delta_listener, const listener_entry*> global;
  /// Those of them handed their batches here: no home (their direct way
  /// in; null: a message).
  std::unordered_map<delta_listener, std::shared_ptr<direct_listener>>
    global_here;
  /// The global listeners that have a home, by home: a new one is added
  /// at once (add_home); the whole is rebuilt at the first delivery after
  /// enough of them left (drop_global).
  std::vector<home_group> homes;
  bool homes_stale = false;
  /// Listeners with a home that stopped listening to everything since
  /// `homes` was built (it still holds them: regroup_homes).
  size_t homes_dropped = 0;
  /// The node's direct listeners (may be null: messages only).
  std::shared_ptr<direct_listeners> direct;
  /// Deltas of the current window in arrival order; one per user.
  std::vector<presence_delta> pending;
  std::unordered_map<std::string, size_t> pending_index;
  /// When the window the last send opened ends: a delta before then is
  /// gathered, one at or after it goes out at once. No timer runs for a
  /// window nothing falls into (most sends on a quiet node).
  caf::actor_clock::time_point window_end;
  /// The open window is shorter than fanout_timer_min: what falls into it
  /// waits for the deltas already in the mailbox, not for a timer.
  bool window_short = false;
  /// A tick is on its way: the open window gathered something.
  bool armed = false;
  /// Every delta heard, the latest per user (resync).
  change_log log{1, 0};
  /// The node's wall clock (ms).
  wall_clock now = system_now;
  /// Where the age of each change at its send goes (may be null).
  std::shared_ptr<node_stats> stats;
  static inline const char* name = "presence.fanout";
};

using fanout_ptr = fanout_impl_api::stateful_pointer<fanout_state>;

/// Hands `batch` to listener `l`: straight to its direct listener when it
/// has one, else as a message.
void hand(fanout_ptr self, const delta_listener& l,
          const std::shared_ptr<direct_listener>& direct,
          const delta_batch& batch) {
  if (direct)
    direct->deliver(batch);
  else
    self->send(l, delta_atom::value, batch);
}

/// Groups the global listeners that have a home by it (state::homes).
void regroup_homes(fanout_state& st) {
  st.homes_stale = false;
  st.homes_dropped = 0;
  std::unordered_map<delivery_home*, std::pair<std::shared_ptr<delivery_home>,
                                               delivery_home::listeners>>
    by_home;
  for (auto& [l, e] : st.global)
    if (e->home) {
      auto& [home, ls] = by_home[e->home.get()];
      home = e->home;
      ls.push_back(e->direct);
    }
  st.homes.clear();
  for (auto& [raw, g] : by_home) {
    home_group group{std::move(g.first), {}};
    auto& ls = g.second;
    for (size_t i = 0; i < ls.size(); i += home_chunk)
      group.chunks.push_back(std::make_shared<const delivery_home::listeners>(
        ls.begin() + static_cast<std::ptrdiff_t>(i),
        ls.begin()
          + static_cast<std::ptrdiff_t>(std::min(i + home_chunk, ls.size()))));
    st.homes.push_back(std::move(group));
  }
}

/// A global listener with a home joins its home's list now (a rebuild
/// due anyway takes it in then).
void add_home(fanout_state& st, const listener_entry& entry) {
  if (st.homes_stale)
    return;
  auto g = std::find_if(st.homes.begin(), st.homes.end(),
                        [&](const home_group& x) {
                          return x.home == entry.home;
                        });
  if (g == st.homes.end()) {
    st.homes.push_back(home_group{entry.home, {}});
    g = std::prev(st.homes.end());
  }
  if (g->chunks.empty() || g->chunks.back()->size() >= home_chunk) {
    g->chunks.push_back(
      std::make_shared<const delivery_home::listeners>(1, entry.direct));
    return;
  }
  auto last = std::make_shared<delivery_home::listeners>();
  last->reserve(g->chunks.back()->size() + 1);
  *last = *g->chunks.back();
  last->push_back(entry.direct);
  g->chunks.back() = std::move(last);
}

/// Sends `deltas` to their listeners; returns how many listeners it
/// reached.
size_t deliver(fanout_ptr self, std::vector<presence_delta> deltas) {
  auto& st = self->state;
  if (st.stats) {
    // A version is its change's wall-clock time in ms (next_version).
    auto now_ms = st.now();
    for (auto& d : deltas) {
      auto age = now_ms - static_cast<int64_t>(d.version);
      st.stats->delivery_delay.observe(
        static_cast<uint64_t>(std::max<int64_t>(age, 0)) * 1000);
    }
  }
  auto all = std::make_shared<const std::vector<presence_delta>>(
    std::move(deltas));
  // Every receiver of this delivery shares the encodings.
  auto memo = std::make_shared<delta_memo>();
  // The sockets' wake-ups go to the I/O threads in chunks, not one by one.
  handoff_pass pass;
  size_t sent = 0;
  if (!st.global.empty()) {
    delta_batch batch{all, memo};
    // Those with a home get the batch there, a chunk per task.
    if (st.homes_stale)
      regroup_homes(st);
    for (auto& g : st.homes)
      for (auto& chunk : g.chunks)
        g.home->deliver(chunk, 0, chunk->size(), batch);
    for (auto& [l, direct] : st.global_here)
      hand(self, l, direct, batch);
    sent += st.global.size();
    pass.flush(); // the last chunk need not wait for the per-user listeners
  }
  if (st.by_user.empty())
    return sent;
  // Listeners of single users get only their users' deltas.
  std::unordered_map<delta_listener, std::vector<presence_delta>> per;
  for (auto& d : *all) {
    auto i = st.by_user.find(d.user_id);
    if (i == st.by_user.end())
      continue;
    for (auto& l : i->second)
      if (st.global.count(l) == 0)
        per[l].push_back(d);
  }
  // Those with a home get theirs there (every batch of a listener with a
  // home goes there, so they stay in order), a chunk per task.
  std::unordered_map<delivery_home*, std::pair<std::shared_ptr<delivery_home>,
                                               delivery_home::batches>>
    away;
  for (auto& [l, ds] : per) {
    auto i = st.listeners.find(l);
    delta_batch batch{std::make_shared<const std::vector<presence_delta>>(
                        std::move(ds)),
                      memo};
    if (i == st.listeners.end() || !i->second.home) {
      hand(self, l, i == st.listeners.end() ? nullptr : i->second.direct,
           batch);
      continue;
    }
    auto& [home, each] = away[i->second.home.get()];
    home = i->second.home;
    each.emplace_back(i->second.direct, std::move(batch));
    if (each.size() == home_chunk) {
      home->deliver(std::move(each));
      each.clear();
    }
  }
  for (auto& [raw, slot] : away)
    if (!slot.second.empty())
      slot.first->deliver(std::move(slot.second));
  return sent + per.size();
}

/// Opens a coalescing window after a send of `sent` messages: deltas that
/// come before it ends are gathered (the first of them asks for the tick).
void open_window(fanout_ptr self, size_t sent) {
  auto& st = self->state;
  auto window = fanout_window(st.cfg.coalesce_window, sent);
  st.window_end = self->clock().now() + window;
  st.window_short = window < fanout_timer_min;
}

/// The window is over: what it gathered goes out and opens the next
/// window; the stream is quiet again once a window gathers nothing.
void flush(fanout_ptr self) {
  auto& st = self->state;
  st.armed = false;
  if (st.pending.empty())
    return;
  std::vector<presence_delta> out;
  out.swap(st.pending);
  st.pending_index.clear();
  open_window(self, deliver(self, std::move(out)));
}

/// Takes deltas in (one, or several from another node's registry, in
/// order): into the change log, then out to the listeners, coalesced
/// adaptively (Nagle-like, without the delay): after a quiet spell they go
/// out at once, together; the window that send opens gathers whatever
/// follows, so batching starts only when deltas come faster than one send
/// per window.
void take(fanout_ptr self, std::vector<presence_delta> ds) {
  auto& st = self->state;
  for (auto& d : ds)
    st.log.add(d, static_cast<uint64_t>(st.now()));
  if (st.listeners.empty())
    return;
  if (st.cfg.coalesce_window.count() == 0) {
    deliver(self, std::move(ds));
    return;
  }
  if (!st.armed) {
    auto now = self->clock().now();
    if (now >= st.window_end) {
      open_window(self, deliver(self, std::move(ds)));
      return;
    }
    st.armed = true;
    if (st.window_short)
      self->send(self, tick_atom::value); // after what is queued already
    else
      self->delayed_send(self, st.window_end - now, tick_atom::value);
  }
  for (auto& d : ds) {
    auto i = st.pending_index.find(d.user_id);
    if (i != st.pending_index.end()) {
      auto& slot = st.pending[i->second];
      if (d.version >= slot.version)
        slot = std::move(d);
    } else {
      st.pending_index.emplace(d.user_id, st.pending.size());
      st.pending.push_back(std::move(d));
    }
  }
}

/// `l` (with `entry`) listens to everything no more; `ended`: because its
/// actor ended (its direct way in ended with it: it writes nothing more).
void drop_global(fanout_state& st, const delta_listener& l,
                 const listener_entry& entry, bool ended) {
  if (st.global.erase(l) == 0)
    return;
  if (!entry.home) {
    st.global_here.erase(l);
    return;
  }
  // One that lives on (it unsubscribed) must hear nothing more of
  // everything: the list is rebuilt before the next delivery.
  if (!ended) {
    st.homes_stale = true;
    return;
  }
  // `homes` holds the listeners that ended until it is rebuilt (their
  // direct ways in ended with them, so they write nothing): at the next
  // delivery once an eighth of the list (at least 16) has left, and on a
  // quiet node at once when as many have left as are still there. Each
  // rebuild is paid for by that many leaves; a leave alone (each
  // repetition of a seed-000 join and leave) rebuilt the list before.
  ++st.homes_dropped;
  // The homed ones still listening (those without a home are not on the
  // list).
  auto live = st.global.size() - st.global_here.size();
  if (live == 0) {
    st.homes.clear();
    st.homes_dropped = 0;
    st.homes_stale = false;
  } else if (st.homes_dropped > home_chunk && st.homes_dropped > live) {
    regroup_homes(st);
  } else if (st.homes_dropped >= 16
             && st.homes_dropped * 8 >= live + st.homes_dropped) {
    st.homes_stale = true;
  }
}

void forget(fanout_ptr self, const delta_listener& l) {
  auto& st = self->state;
  auto i = st.listeners.find(l);
  if (i == st.listeners.end())
    return;
  for (auto& u : i->second.users) {
    auto j = st.by_user.find(u);
    if (j != st.by_user.end()) {
      j->second.erase(l);
      if (j->second.empty())
        st.by_user.erase(j);
    }
  }
  drop_global(st, l, i->second, true);
  st.listeners.erase(i);
}

fanout_impl_api::behavior_type
fanout_impl(fanout_ptr self, actors_config cfg, uint64_t started,
            std::shared_ptr<direct_listeners> direct,
            std::shared_ptr<node_stats> stats, wall_clock now) {
  self->state.cfg = cfg;
  self->state.now = std::move(now);
  self->state.direct = std::move(direct);
  self->state.stats = std::move(stats);
  self->state.log = change_log{
    cfg.change_log_size, started,
    static_cast<uint64_t>(std::max<int64_t>(cfg.change_log_ttl.count(), 0))};
  self->set_down_handler([=](caf::down_msg& dm) {
    auto l = caf::actor_cast<delta_listener>(dm.source);
    if (l)
      forget(self, l);
    else
      // The handle cannot be rebuilt from a dead address: search for it.
      for (auto& kvp : self->state.listeners)
        if (kvp.first.address() == dm.source) {
          auto copy = kvp.first;
          forget(self, copy);
          break;
        }
  });
  return {
    [=](subscribe_atom, const delta_listener& l,
        const std::vector<std::string>& users,
        bool global) -> caf::result<bool> {
      auto& st = self->state;
      if (!l)
        return false;
      // Bounded per listener (a connection): what it follows already
      // plus what this adds.
      if (auto i = st.listeners.find(l); !users.empty()) {
        size_t have = i == st.listeners.end() ? 0 : i->second.users.size();
        std::unordered_set<std::string_view> fresh;
        for (auto& u : users)
          if (i == st.listeners.end() || i->second.users.count(u) == 0)
            fresh.insert(u);
        if (have + fresh.size() > st.cfg.max_subscriptions)
          return make_error(errc::too_many_subscriptions);
      }
      auto [it, added] = st.listeners.try_emplace(l);
      auto& entry = it->second;
      if (added) {
        self->monitor(l);
        if (st.direct)
          entry.direct = st.direct->find(l.address());
        if (entry.direct)
          entry.home = entry.direct->home();
      } else if (entry.direct && !entry.home) {
        // Subscribed again after it found a home (a Socket.IO session that
        // upgraded from polling to a WebSocket): its deliveries move there.
        // Those handed out before went through its socket's inbox, which
        // the home drains before it writes anything of its own.
        entry.home = entry.direct->home();
        if (entry.home && entry.global) {
          st.global_here.erase(l);
          add_home(st, entry);
        }
      }
      if (global) {
        entry.global = true;
        if (st.global.emplace(l, &entry).second) {
          if (entry.home)
            add_home(st, entry);
          else
            st.global_here.emplace(l, entry.direct);
        }
      }
      for (auto& u : users)
        if (entry.users.insert(u).second)
          st.by_user[u].insert(l);
      return true;
    },
    [=](unsubscribe_atom, const delta_listener& l,
        const std::vector<std::string>& users, bool global) {
      auto& st = self->state;
      auto it = st.listeners.find(l);
      if (it == st.listeners.end())
        return false;
      auto& entry = it->second;
      if (global) {
        entry.global = false;
        drop_global(st, l, entry, false);
      }
      for (auto& u : users) {
        if (entry.users.erase(u) == 0)
          continue;
        auto j = st.by_user.find(u);
        if (j != st.by_user.end()) {
          j->second.erase(l);
          if (j->second.empty())
            st.by_user.erase(j);
        }
      }
      if (!entry.global && entry.users.empty()) {
        self->demonitor(l.address());
        st.listeners.erase(it);
      }
      return true;
    },
    [=](delta_atom, presence_delta& d) {
      std::vector<presence_delta> ds;
      ds.push_back(std::move(d));
      take(self, std::move(ds));
    },
    [=](delta_atom, std::vector<presence_delta>& ds) {
      take(self, std::move(ds));
    },
    [=](tick_atom) { flush(self); },
    [=](changes_atom, uint64_t version) {
      self->state.log.forget_before(version);
    },
    [=](changes_atom, const delta_listener& l, uint64_t since,
        uint32_t limit) -> change_page {
      auto& st = self->state;
      // Look back a little: deltas do not arrive in version order (other
      // nodes, the coalescing window, equal versions); clients drop what
      // they have by version.
      // Changes past the age bound are gone even on a quiet node (they
      // are otherwise dropped as new ones come in).
      st.log.expire(static_cast<uint64_t>(st.now()));
      auto margin = static_cast<uint64_t>(st.cfg.resync_margin.count());
      since = since > margin ? since - margin : 0;
      if (!l)
        return st.log.since(since, limit,
                            [](const std::string&) { return true; });
      auto it = st.listeners.find(l);
      if (it == st.listeners.end()) {
        change_page none;
        none.cursor = st.log.cursor();
        return none; // subscribed to nothing: nothing changed for it
      }
      auto& entry = it->second;
      if (entry.global)
        return st.log.since(since, limit,
                            [](const std::string&) { return true; });
      return st.log.since(since, limit, [&](const std::string& u) {
        return entry.users.count(u) > 0;
      });
    },
  };
}

} // namespace

std::chrono::microseconds fanout_window(std::chrono::microseconds base,
                                        std::size_t listeners) {
  auto cost = std::chrono::microseconds{
    static_cast<int64_t>(listeners * 1'000'000 / fanout_deliveries_per_second)};
  auto scaled = std::min<std::chrono::microseconds>(cost, fanout_max_window);
  return std::max<std::chrono::microseconds>(base, scaled);
}

fanout_api spawn_fanout(caf::actor_system& sys, const actors_config& cfg,
                        uint64_t started,
                        std::shared_ptr<direct_listeners> direct,
                        std::shared_ptr<node_stats> stats, wall_clock now) {
  return sys.spawn(fanout_impl, cfg, started, std::move(direct),
                   std::move(stats), std::move(now));
}

} // namespace presence::actors
