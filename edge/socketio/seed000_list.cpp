#include "edge/socketio/seed000_list.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "edge/common/edge_log.hpp"
#include "edge/common/seed_payloads.hpp"

namespace presence::edge {

std::chrono::milliseconds seed000_list_window(std::chrono::milliseconds base,
                                              size_t bytes, size_t listeners) {
  // Every listener gets every build: bytes * listeners per build, at most
  // list_bytes_per_second per second.
  auto per_build = static_cast<double>(bytes) * static_cast<double>(listeners);
  auto ms = static_cast<int64_t>(per_build * 1000.0 / list_bytes_per_second);
  return std::max(base, std::chrono::milliseconds{ms});
}

std::shared_ptr<const std::string>
seed000_list::users_for(const viewer& who) const {
  if (!restricted)
    return users_json;
  std::string out;
  for (auto& e : *restricted) {
    if (!may_see(who, e.user_id, e.vis))
      continue;
    if (out.empty()) {
      out = *users_json;
      out.pop_back(); // ']'
    }
    if (out.size() > 1)
      out.push_back(',');
    out += e.json;
  }
  if (out.empty())
    return users_json;
  out.push_back(']');
  return std::make_shared<const std::string>(std::move(out));
}

namespace {

/// The list actor's full interface: the global feed's deltas, and its
/// private timer.
using list_impl_api = seed000_list_api::extend_with<delta_listener>::extend<
  // a build is due (window over)
  caf::reacts_to<tick_atom>,
  // follow the feed and sync (again)
  caf::reacts_to<subscribe_atom>,
  // nobody used the list for --sio-list-idle (its generation): stop
  caf::reacts_to<idle_atom, uint64_t>>;

/// After a failed subscribe or sync.
constexpr std::chrono::milliseconds sync_retry{1'000};

struct cached_profile {
  profile p;
  millis fetched_at = 0;
};

/// What the list keeps of one online user: what an entry shows and what
/// decides who sees it (every online user of the cluster has one, so it is
/// kept small: ~100 B with its map node, where a whole presence_delta took
/// ~200).
struct list_user {
  uint64_t version = 0;
  presence_status status = presence_status::offline;
  visibility vis;
};

/// One shown user: its id (the map's key) and entry.
using shown_user = std::pair<const std::string, list_user>;

struct list_state {
  std::shared_ptr<edge_context> ctx;
  /// Online users, ordered by id (from the global feed).
  std::map<std::string, list_user> online;
  std::unordered_map<std::string, cached_profile> profiles;
  /// Until the first sync ends: the version at which users went offline,
  /// so an older page of the sync cannot bring them back (the feed's
  /// deltas of one user arrive in order; a page may be older).
  std::unordered_map<std::string, uint64_t> gone;
  bool synced = false;
  /// Following the global feed (while seed 000 uses the list); bumped
  /// `idle_gen` makes an idle timer stale.
  bool following = false;
  uint64_t idle_gen = 0;
  /// Bumped when following stops: a sync of an earlier time is stale.
  uint64_t follow_gen = 0;
  /// Encoded list entries of online users (dropped when they change).
  std::unordered_map<std::string, std::string> encoded;
  std::set<seed000_list_listener> listeners;
  seed000_list current;
  bool built = false;
  /// The online set or a profile changed since the last build.
  bool dirty = true;
  /// Listeners have not had the latest changes (a joiner's list is built
  /// at once, but only for the joiner: the listeners' builds keep to the
  /// window).
  bool unsent = true;
  bool building = false;
  /// Users whose profile was written while profiles were fetched: what
  /// the fetch brings of them may predate the write (it is shown once and
  /// fetched again at the next build).
  std::unordered_set<std::string> written_during_fetch;
  /// A build asked for while profiles were fetched wants a broadcast.
  bool broadcast_after = false;
  bool armed = false;
  millis last_build = 0;
  std::vector<caf::typed_response_promise<seed000_list>> waiting;
  static inline const char* name = "presence.seed000-list";
};

using list_ptr = list_impl_api::stateful_pointer<list_state>;

/// Applies one change of the online set (the higher version wins).
bool apply(list_state& st, const presence_delta& d) {
  auto i = st.online.find(d.user_id);
  if (i != st.online.end() && i->second.version > d.version)
    return false;
  if (!st.synced) {
    auto g = st.gone.find(d.user_id);
    if (g != st.gone.end()) {
      if (g->second >= d.version)
        return false;
      st.gone.erase(g);
    }
    if (!d.online)
      st.gone[d.user_id] = d.version;
  }
  if (d.online) {
    if (i != st.online.end() && i->second.status == d.status
        && same_visibility(i->second.vis, d.vis)) {
      i->second.version = d.version;
      i->second.vis = d.vis;
      return false; // the list shows nothing of what changed
    }
    st.online[d.user_id] = list_user{d.version, d.status, d.vis};
    st.ctx->online->set(d.user_id, true, d.vis);
  } else {
    if (i == st.online.end())
      return false;
    st.online.erase(i);
    st.ctx->online->set(d.user_id, false);
  }
  st.encoded.erase(d.user_id);
  return true;
}

/// Something the list shows changed.
void changed(list_state& st) {
  st.dirty = true;
  st.unsent = true;
}

void build(list_ptr self, bool broadcast);

/// Builds now if the window allows, else when it ends.
void schedule(list_ptr self) {
  auto& st = self->state;
  // Before the sync ends the set holds only what the feed brought since
  // following began: the sync's end builds.
  if (!st.synced || !st.unsent || st.building || st.armed
      || st.listeners.empty())
    return;
  auto window = seed000_list_window(st.ctx->cfg.edge.sio_list_window,
                                    st.current.users_json
                                      ? st.current.users_json->size()
                                      : 0,
                                    st.listeners.size());
  // Wall clock: a step back must not hold the lists for that long.
  auto since = std::max<millis>(0, st.ctx->now() - st.last_build);
  if (since >= window.count()) {
    build(self, true);
    return;
  }
  st.armed = true;
  self->delayed_send(self, std::chrono::milliseconds{window.count() - since},
                     tick_atom::value);
}

/// The users the list shows: the first seed000_list_max online users.
std::vector<const shown_user*> shown(const list_state& st) {
  std::vector<const shown_user*> out;
  out.reserve(std::min(st.online.size(), seed000_list_max));
  for (auto& kvp : st.online) {
    if (out.size() == seed000_list_max)
      break;
    out.push_back(&kvp);
  }
  return out;
}

/// Sends the current build to every listener.
void broadcast(list_ptr self) {
  auto& st = self->state;
  st.unsent = false;
  st.last_build = st.ctx->now();
  for (auto& l : st.listeners)
    self->send(l, list_atom::value, st.current);
}

/// Who asked for the list while it was stale gets the current build.
void answer_waiting(list_state& st) {
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  for (auto& rp : waiting)
    rp.deliver(st.current);
}

std::string encode_user(const shown_user& u, const profile& p) {
  presence_delta d;
  d.user_id = u.first;
  d.status = u.second.status;
  return seeds::seed000_user(d, p).dump(
    -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

/// Encodes the list from the cache, answers who waits for it and, if
/// `and_broadcast`, sends it to every listener. A user whose profile has
/// not been fetched yet is shown without one (and not cached so): returns
/// false if there was such a user.
bool finish(list_ptr self, bool and_broadcast) {
  static const profile none;
  auto& st = self->state;
  auto users = shown(st);
  bool complete = true;
  std::string json = "[";
  std::vector<seed000_list::restricted_entry> restricted;
  size_t count = 0;
  for (auto* u : users) {
    const std::string* entry = nullptr;
    std::string fresh;
    auto e = st.encoded.find(u->first);
    if (e != st.encoded.end()) {
      entry = &e->second;
    } else if (auto p = st.profiles.find(u->first); p == st.profiles.end()) {
      complete = false;
      fresh = encode_user(*u, none);
      entry = &fresh;
    } else {
      entry = &st.encoded.emplace(u->first, encode_user(*u, p->second.p))
                 .first->second;
    }
    if (u->second.vis.restricted()) {
      restricted.push_back({u->first, u->second.vis, *entry});
      continue;
    }
    if (json.size() > 1)
      json.push_back(',');
    json += *entry;
    ++count;
  }
  json.push_back(']');
  seed000_list out;
  out.count = count;
  if (!restricted.empty())
    out.restricted
      = std::make_shared<const std::vector<seed000_list::restricted_entry>>(
        std::move(restricted));
  auto packet = std::make_shared<std::string>();
  packet->reserve(json.size() + 40);
  *packet += "42[\"online_users_list\",{\"users\":";
  *packet += json;
  *packet += "}]";
  out.packet = std::move(packet);
  out.users_json = std::make_shared<const std::string>(std::move(json));
  st.current = out;
  st.built = true;
  if (and_broadcast)
    broadcast(self);
  answer_waiting(st);
  return complete;
}

/// Brings the current build up to date (fetching missing profiles first),
/// then answers who waits and, if `and_broadcast`, sends it to every
/// listener. While a fetch is out, a second call only remembers whether to
/// broadcast. The fetch's answer finishes at once (who waits is never held
/// up by users who came meanwhile: they are shown without a profile until
/// the next build fetches theirs).
void build(list_ptr self, bool and_broadcast) {
  auto& st = self->state;
  if (!st.synced)
    return; // a partial set: the sync's end builds for who waits
  if (st.building) {
    st.broadcast_after = st.broadcast_after || and_broadcast;
    return;
  }
  if (!st.dirty && st.built) {
    if (and_broadcast)
      broadcast(self);
    answer_waiting(st);
    return;
  }
  // Profiles of shown users that are not cached (or too old) come first.
  auto now = st.ctx->now();
  auto ttl = std::chrono::duration_cast<std::chrono::milliseconds>(
               profile_cache_ttl)
               .count();
  std::vector<std::string> missing;
  for (auto* u : shown(st)) {
    auto p = st.profiles.find(u->first);
    if (p == st.profiles.end() || now - p->second.fetched_at >= ttl)
      missing.push_back(u->first);
  }
  if (missing.empty()) {
    st.dirty = false;
    finish(self, and_broadcast); // complete: nothing was missing
    return;
  }
  st.building = true;
  st.broadcast_after = and_broadcast;
  auto done = [=](std::vector<profile> ps, millis fetched_at) {
    auto& st = self->state;
    bool again = false; // a profile written meanwhile: fetch it again
    for (size_t i = 0; i < missing.size(); ++i) {
      st.encoded.erase(missing[i]);
      if (st.online.count(missing[i]) == 0)
        continue; // left meanwhile: nothing to cache
      auto at = fetched_at;
      if (st.written_during_fetch.count(missing[i]) > 0) {
        at = 0; // shown this once, stale from now on
        again = true;
      }
      st.profiles[missing[i]]
        = cached_profile{i < ps.size() ? std::move(ps[i]) : profile{}, at};
    }
    st.written_during_fetch.clear();
    st.building = false;
    auto b = st.broadcast_after;
    st.broadcast_after = false;
    if (!st.synced)
      return; // stopped (and maybe following again) meanwhile: not this set
    st.dirty = false;
    if (!finish(self, b) || again)
      changed(st); // newcomers' profiles: the next build fetches them
    schedule(self);
  };
  self
    ->request(st.ctx->store, st.ctx->cfg.actors.request_timeout,
              get_atom::value, profile_atom::value, missing)
    .then([=](std::vector<profile>& ps) { done(std::move(ps), now); },
          [=](caf::error& err) {
            // Shown without profiles (ids as names, as for users who have
            // none) and fetched again a second from now.
            log_edge().warn("seed 000 list: profiles unavailable: {}",
                            self->system().render(err));
            done({}, self->state.ctx->now() - ttl + 1000);
          });
}

/// Fills the online set from the presence service (at start: users already
/// online, cluster-wide), page by page.
void sync(list_ptr self, std::string cursor, uint64_t gen) {
  auto& st = self->state;
  self
    ->request(st.ctx->api, st.ctx->cfg.actors.request_timeout, list_atom::value,
              cursor, uint32_t{1000}, viewer::everything())
    .then(
      [=](online_page& page) {
        auto& st = self->state;
        if (!st.following || st.follow_gen != gen)
          return; // stopped meanwhile (the pages of then may miss users)
        for (auto& u : page.users)
          if (apply(st, u))
            changed(st);
        if (!page.next_cursor.empty()) {
          sync(self, page.next_cursor, gen);
          return;
        }
        st.synced = true;
        st.gone.clear();
        st.ctx->online->mark_ready();
        if (!st.waiting.empty())
          build(self, false); // who asked before the sync ended
        schedule(self);
      },
      [=](caf::error& err) {
        // Tried again from the start (the feed keeps what it has current
        // meanwhile; check_user_online asks the service until then).
        log_edge().warn(
          "seed 000 list: initial sync failed (again in {} "
          "ms): {}",
          sync_retry.count(), self->system().render(err));
        self->delayed_send(self, sync_retry, subscribe_atom::value);
      });
}

/// Follows the global feed, then fills the online set; tried again every
/// sync_retry until both worked (subscribing twice is harmless).
void follow(list_ptr self) {
  auto& st = self->state;
  auto gen = st.follow_gen;
  self
    ->request(st.ctx->api, st.ctx->cfg.actors.request_timeout,
              subscribe_atom::value, delta_listener{self},
              std::vector<std::string>{}, true)
    .then(
      [=](bool) {
        if (self->state.follow_gen == gen)
          sync(self, std::string{}, gen);
      },
      [=](caf::error& err) {
        log_edge().error(
          "seed 000 list: cannot follow the feed (again "
          "in {} ms): {}",
          sync_retry.count(), self->system().render(err));
        self->delayed_send(self, sync_retry, subscribe_atom::value);
      });
}

/// Seed 000 uses the list: follow the feed if not yet, and (with nobody
/// listening) stop --sio-list-idle from now unless it is used again.
void used(list_ptr self) {
  auto& st = self->state;
  if (!st.following) {
    st.following = true;
    follow(self);
  }
  auto gen = ++st.idle_gen;
  if (st.listeners.empty())
    self->delayed_send(self, st.ctx->cfg.edge.sio_list_idle, idle_atom::value,
                       gen);
}

/// Nobody uses the list any more: stop following the feed and drop the
/// copy of the online users (the index is not ready again, so
/// check_user_online asks the presence service).
void stop_following(list_ptr self) {
  auto& st = self->state;
  if (!st.following || !st.listeners.empty() || !st.waiting.empty())
    return;
  st.following = false;
  ++st.follow_gen;
  caf::anon_send(st.ctx->api, unsubscribe_atom::value, delta_listener{self},
                 std::vector<std::string>{}, true);
  st.ctx->online->reset();
  st.online.clear();
  st.profiles.clear();
  st.gone.clear();
  st.encoded.clear();
  st.synced = false;
  st.built = false;
  st.current = seed000_list{};
  st.dirty = true;
  st.unsent = true;
}

list_impl_api::behavior_type list_impl(list_ptr self,
                                       std::shared_ptr<edge_context> ctx) {
  self->state.ctx = std::move(ctx);
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& ls = self->state.listeners;
    for (auto i = ls.begin(); i != ls.end(); ++i)
      if (i->address() == dm.source) {
        ls.erase(i);
        if (ls.empty())
          used(self); // the idle countdown starts
        return;
      }
  });
  return {
    [=](subscribe_atom, const seed000_list_listener& l) {
      if (self->state.listeners.insert(l).second)
        self->monitor(l);
      used(self);
    },
    [=](unsubscribe_atom, const seed000_list_listener& l) {
      if (self->state.listeners.erase(l) > 0) {
        self->demonitor(l.address());
        if (self->state.listeners.empty())
          used(self);
      }
    },
    [=](get_atom, const presence_delta& joined) -> caf::result<seed000_list> {
      auto& st = self->state;
      used(self);
      if (!joined.user_id.empty() && apply(st, joined)) {
        changed(st);
        schedule(self);
      }
      if (!st.synced) {
        // Started following just now: the list waits for the whole online
        // set (answered when the sync ends).
        auto rp = self->make_response_promise<seed000_list>();
        st.waiting.push_back(rp);
        return rp;
      }
      if (!st.dirty && st.built && !st.building)
        return st.current;
      auto rp = self->make_response_promise<seed000_list>();
      st.waiting.push_back(rp);
      build(self, false);
      return rp;
    },
    [=](profile_atom, const std::string& user) {
      auto& st = self->state;
      st.profiles.erase(user);
      st.encoded.erase(user);
      if (st.building)
        st.written_during_fetch.insert(user);
      if (st.online.count(user) > 0) {
        changed(st);
        schedule(self);
      }
    },
    [=](delta_atom, const delta_batch& batch) {
      auto& st = self->state;
      if (!st.following)
        return; // sent before the unsubscribe arrived
      for (auto& d : *batch.deltas) {
        if (!d.online)
          st.profiles.erase(d.user_id); // re-read when back
        if (apply(st, d))
          changed(st);
      }
      schedule(self);
    },
    [=](subscribe_atom) {
      if (self->state.following)
        follow(self); // a retry
    },
    [=](idle_atom, uint64_t gen) {
      if (gen == self->state.idle_gen)
        stop_following(self);
    },
    [=](tick_atom) {
      auto& st = self->state;
      st.armed = false;
      if (st.unsent)
        build(self, true);
    },
  };
}

} // namespace

seed000_list_api spawn_seed000_list(std::shared_ptr<edge_context> ctx) {
  auto& sys = ctx->sys;
  return sys.spawn(list_impl, std::move(ctx));
}

} // namespace presence::edge
