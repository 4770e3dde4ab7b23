#pragma once

// A deterministic actor system (CAF's test coordinator) with a fake store and
// a recording listener, for driving user actors, the registry and the fan-out
// message by message.

#include <map>
#include <memory>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/fanout.hpp"
#include "actors/shard_registry.hpp"
#include "core/hash_ring.hpp"
#include "core/messages.hpp"
#include "core/stats.hpp"
#include "tests/testing_config.hpp"

namespace presence::test {

/// What the fake store was told, for assertions.
struct store_log {
  std::map<std::string, user_record> records;
  std::vector<std::pair<std::string, millis>> opens;
  std::vector<std::tuple<std::string, millis, millis>> checkpoints;
  std::vector<std::tuple<std::string, millis, millis, uint64_t>> closes;
  /// Open marks the orphan scan answers with.
  std::vector<user_record> marks;
  /// How many orphan scans / loads fail (store error) before they work.
  int failing_scans = 0;
  int failing_loads = 0;
  int failing_touches = 0;
  /// Open marks go into `records` with the session's version, as the real
  /// store keeps them (off by default: most tests read records they wrote).
  bool keep_open_marks = false;
};

inline store_api::behavior_type fake_store(store_api::pointer self,
                                           std::shared_ptr<store_log> log) {
  auto load_many = [log](const std::vector<std::string>& us) {
    std::vector<user_record> out;
    for (auto& u : us) {
      auto r = log->records[u];
      r.user_id = u;
      out.push_back(r);
    }
    return out;
  };
  return {
    [=](load_atom, const std::string& u) -> caf::result<user_record> {
      if (log->failing_loads > 0) {
        --log->failing_loads;
        return persistence::make_error(persistence::errc::io_error);
      }
      auto r = log->records[u];
      r.user_id = u;
      return r;
    },
    [=](load_atom, const std::vector<std::string>& us) {
      return load_many(us);
    },
    [=](load_atom, join_atom, const std::vector<std::string>& us) {
      // The replicator's batch (the actors' tests never send it).
      return load_many(us);
    },
    [=](open_atom, const std::vector<session_open>& os) {
      // The replicator's batch (the actors' tests never send it).
      for (auto& o : os)
        log->opens.emplace_back(o.user_id, o.start);
    },
    [=](open_atom, const std::string& u, millis start, uint64_t version) {
      log->opens.emplace_back(u, start);
      if (log->keep_open_marks) {
        auto& r = log->records[u];
        r.known = true;
        r.open = true;
        r.open_start = start;
        r.version = version;
      }
    },
    [=](checkpoint_atom, const std::string& u, millis start, millis last,
        uint64_t,
        presence_status) { log->checkpoints.emplace_back(u, start, last); },
    [=](checkpoint_atom, const std::vector<session_checkpoint>& cs) {
      // The replicator's batch (the actors' tests never send it).
      for (auto& c : cs)
        log->checkpoints.emplace_back(c.user_id, c.start, c.last_active);
    },
    [=](close_atom, const std::string& u, millis start, millis end,
        uint64_t version) {
      log->closes.emplace_back(u, start, end, version);
      auto& r = log->records[u];
      r.known = true;
      r.last_seen = end;
      r.version = version;
    },
    [=](last_seen_atom, const std::string& u,
        millis when) -> caf::result<user_record> {
      if (log->failing_touches > 0) {
        --log->failing_touches;
        return persistence::make_error(persistence::errc::io_error);
      }
      auto& r = log->records[u];
      r.user_id = u;
      r.known = true;
      r.last_seen = std::max(r.last_seen, when);
      return r;
    },
    [=](get_atom, profile_atom, const std::string&) { return profile{}; },
    [=](get_atom, profile_atom, const std::vector<std::string>& us) {
      return std::vector<profile>(us.size());
    },
    [=](put_atom, profile_atom, const std::string&, profile p, uint8_t) {
      return p;
    },
    [=](history_atom, const std::string&, uint32_t) {
      return std::vector<session_record>{};
    },
    [=](flush_atom) { return true; },
    [=](drop_atom, const std::string&) {},
    [=](merge_atom, const user_record&) {},
    [=](orphan_atom) -> caf::result<std::vector<user_record>> {
      if (log->failing_scans > 0) {
        --log->failing_scans;
        return persistence::make_error(persistence::errc::io_error);
      }
      return log->marks;
    },
    // Private messages: not what these tests are about.
    [=](put_atom, conversation_atom, conversation c) { return c; },
    [=](get_atom, conversation_atom, const std::string&) {
      return conversation{};
    },
    [=](put_atom, message_atom, chat_message m) { return m; },
    [=](queue_atom, const std::string&, const chat_message&) {
      return uint32_t{0};
    },
    [=](queue_atom, const std::string&, const std::string&) {
      return std::vector<chat_message>{};
    },
    [=](queue_atom, count_atom, const std::string&) { return uint32_t{0}; },
    [=](get_atom, message_atom, const std::string&, uint64_t, uint32_t) {
      return message_page{};
    },
    // Replica repair: not what these tests are about.
    [=](repair_atom, const std::string&, uint32_t) {
      return std::vector<std::string>{};
    },
    [=](repair_atom, get_atom, const std::vector<std::string>& keys) {
      return std::vector<replica_bundle>(keys.size());
    },
    [=](repair_atom, const replica_bundle&) { return true; },
  };
}

/// Everything a listener / session actor received.
struct inbox {
  std::vector<presence_delta> deltas;
  size_t batches = 0;
  /// The memo of each batch, in order.
  std::vector<std::shared_ptr<delta_memo>> memos;
  std::vector<std::pair<std::string, std::string>> expired; // device, why
  /// The user actor each rehome named, by device (the latest).
  std::map<std::string, user_api> rehomed;
  std::vector<room_signal> signals;
  std::vector<chat_message> messages;
};

/// How many deltas in `box` say `user` is online (or offline).
inline size_t count_for(const inbox& box, const std::string& user,
                        bool online) {
  size_t n = 0;
  for (auto& d : box.deltas)
    if (d.user_id == user && d.online == online)
      ++n;
  return n;
}

/// Keeps a delivered batch in `box`.
inline void record(inbox& box, const delta_batch& b) {
  ++box.batches;
  box.memos.push_back(b.memo);
  for (auto& d : *b.deltas)
    box.deltas.push_back(d);
}

inline caf::behavior recorder(caf::event_based_actor*,
                              std::shared_ptr<inbox> box) {
  return {
    [=](delta_atom, const delta_batch& b) { record(*box, b); },
    [=](expire_atom, const std::string& dev, const std::string& why) {
      box->expired.emplace_back(dev, why);
    },
    [=](room_atom, const room_signal& sig) { box->signals.push_back(sig); },
    [=](rehome_atom, const std::string& dev, const user_api& user) {
      box->rehomed[dev] = user;
    },
    [=](message_atom, const std::string&, const chat_message& m) {
      box->messages.push_back(m);
    },
  };
}

using config_holder = testing_config;

struct fixture : config_holder {
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  std::shared_ptr<store_log> log = std::make_shared<store_log>();
  static constexpr millis base = 1'700'000'000'000;
  actors_config acfg;
  actors::registry_api registry;
  presence_api api;
  /// Listeners the fan-out hands batches to directly (subscribe_direct).
  std::shared_ptr<direct_listeners> direct
    = std::make_shared<direct_listeners>();

  /// The node's live figures (the registry counts its users here; tests
  /// set the membership's stall fields).
  std::shared_ptr<node_stats> stats = std::make_shared<node_stats>();

  explicit fixture(actors_config c = default_cfg(),
                   std::chrono::milliseconds checkpoint_every = {},
                   const cluster_config& cluster = {})
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys), acfg(c) {
    auto store = sys.spawn(fake_store, log);
    auto fanout = actors::spawn_fanout(sys, acfg, 0, direct, nullptr,
                                       [this] { return now(); });
    actors::user_env env;
    env.cfg = acfg;
    env.store = store;
    env.now = [this] { return now(); };
    env.checkpoint_interval = checkpoint_every;
    registry = actors::spawn_registry(sys, std::move(env), fanout, stats,
                                      cluster);
    api = registry;
    run();
  }

  ~fixture() {
    run();
    // The registry goes first: a timer it re-arms for as long as the node
    // just stood still (the orphan scan) would run without end once the
    // test coordinator shuts down, its time standing still.
    caf::anon_send_exit(registry, caf::exit_reason::kill);
    run();
    // Fan-out and user actors live on; don't wait for them.
    sys.await_actors_before_shutdown(false);
  }

  static actors_config default_cfg() {
    actors_config c;
    c.heartbeat_ttl = std::chrono::seconds{90};
    c.reconnect_grace = std::chrono::seconds{2};
    c.coalesce_window = std::chrono::milliseconds{50};
    return c;
  }

  /// default_cfg() with every delta sent at once (no coalescing window;
  /// the reconnect grace stays).
  static actors_config unbatched_cfg() {
    auto c = default_cfg();
    c.coalesce_window = std::chrono::milliseconds{0};
    return c;
  }

  /// default_cfg() with every change announced at once: no coalescing
  /// window, no reconnect grace.
  static actors_config immediate_cfg() {
    auto c = default_cfg();
    c.coalesce_window = std::chrono::milliseconds{0};
    c.reconnect_grace = std::chrono::milliseconds{0};
    return c;
  }

  millis now() const {
    using namespace std::chrono;
    return base
           + duration_cast<milliseconds>(sched.clock().now().time_since_epoch())
               .count();
  }

  void run() { sched.run(); }

  /// Moves simulated time forward and runs everything that became due.
  void advance(std::chrono::milliseconds d) {
    // Step through in small increments so chained timers fire in order.
    auto step = std::chrono::milliseconds{10};
    while (d.count() > 0) {
      auto s = std::min(d, step);
      sched.advance_time(s);
      run();
      d -= s;
    }
  }

  std::pair<caf::actor, std::shared_ptr<inbox>> listener() {
    auto box = std::make_shared<inbox>();
    auto a = sys.spawn(recorder, box);
    return {a, box};
  }

  /// Subscribes a new listener (to `users`, or to everyone).
  std::shared_ptr<inbox> subscribe(std::vector<std::string> users,
                                   bool global) {
    auto [a, box] = listener();
    self->send(api, subscribe_atom::value, caf::actor_cast<delta_listener>(a),
               std::move(users), global);
    run();
    listeners.push_back(a);
    return box;
  }

  /// A direct_listener writing into an inbox.
  struct direct_box : direct_listener {
    std::shared_ptr<inbox> box = std::make_shared<inbox>();
    void deliver(const delta_batch& b) override { record(*box, b); }
  };

  /// Subscribes a new listener that registered a direct_listener first:
  /// what the fan-out hands it directly (first) and what reached its actor
  /// as messages (second).
  std::pair<std::shared_ptr<inbox>, std::shared_ptr<inbox>>
  subscribe_direct(std::vector<std::string> users, bool global) {
    auto [a, box] = listener();
    auto d = std::make_shared<direct_box>();
    direct->add(a.address(), d);
    self->send(api, subscribe_atom::value, caf::actor_cast<delta_listener>(a),
               std::move(users), global);
    run();
    listeners.push_back(a);
    return {d->box, box};
  }

  /// Joins `user` with `device` from a new session; returns the ack.
  join_ack join(const std::string& user, const std::string& device,
                std::shared_ptr<inbox>* session_box = nullptr,
                caf::actor* session = nullptr,
                presence_status status = presence_status::offline) {
    auto [a, box] = listener();
    if (session_box)
      *session_box = box;
    if (session)
      *session = a;
    sessions.push_back(a);
    join_request req;
    req.user_id = user;
    req.device.device_id = device;
    req.device.status = status;
    req.session = caf::actor_cast<session_api>(a);
    auto h = self->request(api, caf::infinite, join_atom::value, req);
    run();
    join_ack ack;
    bool ok = false;
    h.receive(
      [&](join_ack& x) {
        ack = std::move(x);
        ok = true;
      },
      [&](caf::error&) {});
    if (!ok)
      throw std::runtime_error("join failed");
    return ack;
  }

  template <class T, class... Ts>
  T ask(Ts... xs) {
    auto h = self->request(api, caf::infinite, xs...);
    run();
    T result{};
    h.receive([&](T& x) { result = std::move(x); },
              [&](caf::error& err) {
                throw std::runtime_error(sys.render(err));
              });
    return result;
  }

  template <class T, class Handle, class... Ts>
  T ask_actor(const Handle& h, Ts... xs) {
    auto rh = self->request(h, caf::infinite, xs...);
    run();
    T result{};
    rh.receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) {
                 throw std::runtime_error(sys.render(err));
               });
    return result;
  }

  std::vector<caf::actor> listeners;
  std::vector<caf::actor> sessions;
};

} // namespace presence::test
