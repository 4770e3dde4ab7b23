#pragma once

// A deterministic actor system (CAF's test coordinator) for the cluster's
// actors, with fake stores and fake registries standing in for the members
// of a cluster. No sockets: "remote" members are local actors handed to the
// router and the replicator in a cluster_view.

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "core/messages.hpp"
#include "tests/testing_config.hpp"

namespace presence::test {

/// A member's store as the tests see it: what it holds, whether it fails
/// every read, and what it was told.
struct fake_store_data {
  std::string name;
  bool failing = false;
  std::map<std::string, user_record> records;
  std::map<std::string, std::vector<session_record>> history;
  std::map<std::string, profile> profiles;
  std::vector<user_record> merges;
  /// Batch loads for starting user actors answered (load_atom, join_atom).
  int batch_loads = 0;
  /// The most ids one batch load carried.
  size_t largest_batch = 0;
  /// The open marks in the order they came, and how many opens and
  /// checkpoints came as batches.
  std::vector<std::string> opens;
  int open_batches = 0;
  int checkpoint_batches = 0;
  /// Every write in the order it came: "open u", "close u", "cp u", ...
  std::vector<std::string> writes;
  std::vector<std::string> profile_writes;
  std::vector<replica_bundle> repairs;
};

inline caf::error store_failure() {
  return persistence::make_error(persistence::errc::io_error);
}

/// A store_api over `d`; reads fail with io_error while `d->failing`.
inline store_api::behavior_type fake_store(store_api::pointer,
                                           std::shared_ptr<fake_store_data> d) {
  auto record = [d](const std::string& u) {
    auto r = d->records[u];
    r.user_id = u;
    return r;
  };
  return {
    [=](load_atom, const std::string& u) -> caf::result<user_record> {
      if (d->failing)
        return store_failure();
      return record(u);
    },
    [=](load_atom, const std::vector<std::string>& us)
      -> caf::result<std::vector<user_record>> {
      if (d->failing)
        return store_failure();
      std::vector<user_record> out;
      for (auto& u : us)
        out.push_back(record(u));
      return out;
    },
    [=](load_atom, join_atom, const std::vector<std::string>& us)
      -> caf::result<std::vector<user_record>> {
      if (d->failing)
        return store_failure();
      ++d->batch_loads;
      d->largest_batch = std::max(d->largest_batch, us.size());
      std::vector<user_record> out;
      for (auto& u : us)
        out.push_back(record(u));
      return out;
    },
    [=](open_atom, const std::string& u, millis, uint64_t) {
      d->opens.push_back(u);
      d->writes.push_back("open " + u);
    },
    [=](open_atom, const std::vector<session_open>& os) {
      ++d->open_batches;
      for (auto& o : os) {
        d->opens.push_back(o.user_id);
        d->writes.push_back("open " + o.user_id);
      }
    },
    [=](checkpoint_atom, const std::string& u, millis, millis, uint64_t,
        presence_status) { d->writes.push_back("cp " + u); },
    [=](checkpoint_atom, const std::vector<session_checkpoint>& cs) {
      ++d->checkpoint_batches;
      for (auto& c : cs)
        d->writes.push_back("cp " + c.user_id);
    },
    [=](close_atom, const std::string& u, millis, millis, uint64_t) {
      d->writes.push_back("close " + u);
    },
    [=](last_seen_atom, const std::string& u,
        millis when) -> caf::result<user_record> {
      if (d->failing)
        return store_failure();
      auto& r = d->records[u];
      r.user_id = u;
      r.known = true;
      r.last_seen = std::max(r.last_seen, when);
      return r;
    },
    [=](get_atom, profile_atom, const std::string& u) -> caf::result<profile> {
      if (d->failing)
        return store_failure();
      return d->profiles[u];
    },
    [=](get_atom, profile_atom, const std::vector<std::string>& us)
      -> caf::result<std::vector<profile>> {
      if (d->failing)
        return store_failure();
      // Names who answered for which id, to check the order.
      std::vector<profile> out;
      for (auto& u : us) {
        profile p;
        p.known = true;
        p.name = d->name + ":" + u;
        out.push_back(p);
      }
      return out;
    },
    [=](put_atom, profile_atom, const std::string& u, profile p,
        uint8_t mask) -> caf::result<profile> {
      if (d->failing)
        return store_failure();
      d->profile_writes.push_back(u);
      auto& stored = d->profiles[u];
      apply_fields(stored, p, mask);
      stored.known = true;
      return stored;
    },
    [=](history_atom, const std::string& u,
        uint32_t) -> caf::result<std::vector<session_record>> {
      if (d->failing)
        return store_failure();
      return d->history[u];
    },
    [=](flush_atom) { return true; },
    [=](drop_atom, const std::string& u) { d->writes.push_back("drop " + u); },
    [=](merge_atom, const user_record& r) { d->merges.push_back(r); },
    [=](orphan_atom) { return std::vector<user_record>{}; },
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
    // Replica repair: the keys of `records`, their records as bundles; a
    // bundle applied is kept in `repairs`.
    [=](repair_atom, const std::string& after,
        uint32_t limit) -> caf::result<std::vector<std::string>> {
      if (d->failing)
        return store_failure();
      std::vector<std::string> out;
      for (auto i = d->records.upper_bound(after);
           i != d->records.end() && out.size() < limit; ++i)
        out.push_back(i->first);
      return out;
    },
    [=](repair_atom, get_atom, const std::vector<std::string>& keys)
      -> caf::result<std::vector<replica_bundle>> {
      if (d->failing)
        return store_failure();
      std::vector<replica_bundle> out;
      for (auto& k : keys) {
        auto& b = out.emplace_back();
        b.key = k;
        auto r = record(k);
        b.seen = r.known;
        b.last_seen = r.last_seen;
        b.version = r.version;
        b.history = d->history[k];
      }
      return out;
    },
    [=](repair_atom, const replica_bundle& b) -> caf::result<bool> {
      if (d->failing)
        return store_failure();
      d->repairs.push_back(b);
      return true;
    },
  };
}

/// A member's registry as the tests see it: its online users, and whether
/// it fails every question.
struct fake_registry_data {
  uint64_t id = 0;
  bool failing = false;
  /// Online users, by id (the registry's online list is ordered by id).
  std::map<std::string, presence_delta> online;
};

inline caf::error registry_failure() {
  return make_error(errc::shutting_down);
}

/// A node_registry_api over `d`: answers like actors/shard_registry (its
/// statuses carry `d->id` as their version, to tell who answered).
inline node_registry_api::behavior_type
fake_registry(node_registry_api::pointer,
              std::shared_ptr<fake_registry_data> d) {
  auto status = [d](const std::string& u) {
    user_status s;
    s.user_id = u;
    s.online = d->online.count(u) > 0;
    s.version = d->id;
    return s;
  };
  return {
    [=](get_atom, const std::string& u) -> caf::result<user_status> {
      if (d->failing)
        return registry_failure();
      return status(u);
    },
    [=](get_atom, const std::vector<std::string>& us)
      -> caf::result<std::vector<user_status>> {
      if (d->failing)
        return registry_failure();
      std::vector<user_status> out;
      for (auto& u : us)
        out.push_back(status(u));
      return out;
    },
    [=](list_atom, const std::string& cursor, uint32_t limit,
        const viewer&) -> caf::result<online_page> {
      if (d->failing)
        return registry_failure();
      online_page page;
      page.total = d->online.size();
      auto i = cursor.empty() ? d->online.begin()
                              : d->online.upper_bound(cursor);
      for (; i != d->online.end() && page.users.size() < limit; ++i)
        page.users.push_back(i->second);
      if (i != d->online.end() && !page.users.empty())
        page.next_cursor = page.users.back().user_id;
      return page;
    },
    [=](count_atom, const viewer&) -> caf::result<uint64_t> {
      if (d->failing)
        return registry_failure();
      return static_cast<uint64_t>(d->online.size());
    },
    [=](subscribe_atom, const delta_listener&, std::vector<std::string>&,
        bool) { return true; },
    [=](unsubscribe_atom, const delta_listener&, std::vector<std::string>&,
        bool) { return true; },
    [=](changes_atom, const delta_listener&, uint64_t, uint32_t) {
      return change_page{};
    },
    [=](join_atom, join_request&) -> caf::result<join_ack> {
      return registry_failure();
    },
    [=](touch_atom, const std::string& u) -> caf::result<user_status> {
      return status(u);
    },
    [=](touch_atom, const std::string& u, const std::string&,
        const caf::actor_addr&) -> caf::result<user_status> {
      return status(u);
    },
    [=](contacts_atom, const std::string&, const contact_settings&) {},
    [=](shutdown_atom) { return uint64_t{0}; },
    [=](message_atom, const std::string&, const chat_message&,
        const std::string&) { return uint32_t{0}; },
    [=](handover_atom, const user_transfer&) {},
  };
}

using config_holder = testing_config;

struct fixture : config_holder {
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;

  fixture()
    : sys(cfg),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      self(sys) {}

  ~fixture() {
    sched.run();
    // The actors under test live on; don't wait for them.
    sys.await_actors_before_shutdown(false);
  }

  /// What ask() returns when the actor asked has not answered.
  static caf::error no_answer() {
    return caf::make_error(caf::sec::request_timeout);
  }

  void run() { sched.run(); }

  /// Moves simulated time forward and runs everything that became due.
  void advance(std::chrono::milliseconds d) {
    sched.advance_time(d);
    sched.run();
  }

  /// Asks `h`, runs every actor until nothing is left to do, and returns
  /// the answer, its error, or no_answer() if none came by then.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& h, Ts... xs) {
    auto rh = self->request(h, caf::infinite, xs...);
    run();
    if (self->mailbox().empty())
      return no_answer();
    caf::expected<T> result{no_answer()};
    rh.receive([&](T& x) { result = std::move(x); },
               [&](caf::error& err) { result = std::move(err); });
    return result;
  }
};

} // namespace presence::test
