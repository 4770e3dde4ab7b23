#include "cluster/repairer.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <utility>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "cluster/cluster_log.hpp"
#include "cluster/membership.hpp"
#include "core/hash_ring.hpp"

namespace presence::cluster {

namespace {

/// Keys asked of the local store per step.
constexpr uint32_t page_keys = 256;

/// An unfinished pass (a copy or the local store failed) runs again after
/// this long.
constexpr milliseconds retry_delay{3'000};

/// A member set and its ring: who held a key then, who holds it now.
struct placement {
  std::vector<std::string> nodes; // sorted
  hash_ring ring;
  uint32_t rf = 1;

  placement() = default;
  placement(std::vector<std::string> ids, const cluster_config& cfg)
    : nodes(std::move(ids)), ring(hash_ring::of(nodes, cfg.vnodes)),
      rf(effective_replication(cfg.replication, nodes.size())) {
    std::sort(nodes.begin(), nodes.end());
  }

  bool has(const std::string& node) const {
    return std::binary_search(nodes.begin(), nodes.end(), node);
  }

  std::vector<std::string> replicas(const std::string& key) const {
    return ring.replicas(key, rf);
  }
};

struct repairer_state {
  cluster_config cfg;
  milliseconds timeout{};
  store_api local;
  std::shared_ptr<store_stats> probe;
  std::string self;
  /// The members now, with their stores (gateways).
  placement now;
  std::map<std::string, store_api> stores;
  /// The members when the last pass finished (or at the first view): every
  /// key's replicas under it hold what they should.
  placement then;
  bool have_then = false;
  /// The pass: a new one on every change of the member set; callbacks of
  /// an older one are ignored.
  uint64_t pass = 0;
  bool running = false;
  /// The last key of the last page asked for.
  std::string cursor;
  bool failed = false;
  uint64_t keys = 0;
  uint64_t copies = 0;
  uint64_t failures = 0;
  std::chrono::steady_clock::time_point started;
  static inline const char* name = "presence.repairer";
};

using repairer_ptr = caf::stateful_actor<repairer_state>*;

using step_atom = caf::atom_constant<caf::atom("repstep")>;

/// The nodes `key` must be copied to by this node: its replicas now that
/// were not its replicas then, when this node is the first of its former
/// replicas still alive (or none is: then whoever holds it copies it).
std::vector<std::string> targets(const repairer_state& st,
                                 const std::string& key) {
  auto before = st.then.replicas(key);
  auto after = st.now.replicas(key);
  auto alive = std::find_if(before.begin(), before.end(),
                            [&](const std::string& n) {
                              return st.now.has(n);
                            });
  if (alive != before.end() && *alive != st.self)
    return {};
  std::vector<std::string> out;
  for (auto& n : after)
    if (n != st.self
        && std::find(before.begin(), before.end(), n) == before.end())
      out.push_back(n);
  return out;
}

void step(repairer_ptr self, uint64_t pass);

void start_pass(repairer_ptr self) {
  auto& st = self->state;
  ++st.pass;
  st.running = true;
  st.cursor.clear();
  st.failed = false;
  st.keys = st.copies = st.failures = 0;
  st.started = std::chrono::steady_clock::now();
  st.probe->repair_running = 1;
  self->send(self, step_atom::value, st.pass);
}

/// Stops the running pass, if any (its callbacks are ignored from now on).
void cancel_pass(repairer_ptr self) {
  auto& st = self->state;
  ++st.pass;
  st.running = false;
  st.probe->repair_running = 0;
}

void finish_pass(repairer_ptr self) {
  auto& st = self->state;
  st.running = false;
  st.probe->repair_running = 0;
  auto ms = std::chrono::duration_cast<milliseconds>(
              std::chrono::steady_clock::now() - st.started)
              .count();
  if (st.failed) {
    cluster_log().warn(
      "replica repair: pass unfinished after {} ms ({} records copied, {} "
      "copies failed); again in {} ms",
      ms, st.copies, st.failures, retry_delay.count());
    self->delayed_send(self, retry_delay, step_atom::value, uint64_t{0});
    return;
  }
  st.then = st.now;
  st.probe->repair_passes += 1;
  if (st.copies > 0)
    cluster_log().info(
      "replica repair: {} records copied to their new "
      "replicas ({} keys checked) in {} ms",
      st.copies, st.keys, ms);
}

/// The next step of `pass` after `copied` copies, no sooner than the rate
/// allows.
void next_step(repairer_ptr self, uint64_t pass, size_t copied,
               std::chrono::steady_clock::time_point began) {
  auto& st = self->state;
  auto budget = milliseconds{copied * 1000
                             / std::max<uint32_t>(st.cfg.repair_rate, 1)};
  auto spent = std::chrono::duration_cast<milliseconds>(
    std::chrono::steady_clock::now() - began);
  if (budget > spent)
    self->delayed_send(self, budget - spent, step_atom::value, pass);
  else
    self->send(self, step_atom::value, pass);
}

/// Copies the bundles of one page; the next step once every copy answered.
void copy(repairer_ptr self, uint64_t pass,
          std::vector<std::vector<std::string>> to,
          std::vector<replica_bundle> bundles,
          std::chrono::steady_clock::time_point began) {
  auto& st = self->state;
  // (bundle, node) of every copy, so the count is known before any answer.
  std::vector<std::pair<size_t, store_api>> copies;
  for (size_t i = 0; i < bundles.size() && i < to.size(); ++i) {
    if (bundles[i].empty())
      continue;
    for (auto& node : to[i])
      if (auto h = st.stores.find(node); h != st.stores.end())
        copies.emplace_back(i, h->second);
  }
  if (copies.empty()) {
    next_step(self, pass, 0, began);
    return;
  }
  auto total = copies.size();
  auto outstanding = std::make_shared<size_t>(total);
  auto shared = std::make_shared<std::vector<replica_bundle>>(
    std::move(bundles));
  for (auto& [i, store] : copies) {
    auto done = [=](bool ok) {
      auto& st = self->state;
      if (pass != st.pass)
        return;
      if (ok) {
        ++st.copies;
        st.probe->repair_copies += 1;
      } else {
        ++st.failures;
        st.failed = true;
        st.probe->repair_failures += 1;
      }
      if (--*outstanding == 0)
        next_step(self, pass, total, began);
    };
    auto key = (*shared)[i].key;
    self->request(store, st.timeout, repair_atom::value, (*shared)[i])
      .then([=](bool) { done(true); },
            [=](caf::error& err) {
              if (pass == self->state.pass && !self->state.failed)
                cluster_log().warn("replica repair: a copy of {} failed: {}",
                                   key, self->system().render(err));
              done(false);
            });
  }
}

void step(repairer_ptr self, uint64_t pass) {
  auto& st = self->state;
  auto began = std::chrono::steady_clock::now();
  self->request(st.local, st.timeout, repair_atom::value, st.cursor, page_keys)
    .then(
      [=](std::vector<std::string>& keys) {
        auto& st = self->state;
        if (pass != st.pass)
          return;
        if (keys.empty()) {
          finish_pass(self);
          return;
        }
        st.keys += keys.size();
        st.cursor = keys.back();
        std::vector<std::string> chosen;
        std::vector<std::vector<std::string>> to;
        for (auto& k : keys)
          if (auto t = targets(st, k); !t.empty()) {
            chosen.push_back(k);
            to.push_back(std::move(t));
          }
        if (chosen.empty()) {
          self->send(self, step_atom::value, pass);
          return;
        }
        self
          ->request(st.local, st.timeout, repair_atom::value, get_atom::value,
                    chosen)
          .then(
            [=](std::vector<replica_bundle>& bundles) mutable {
              if (pass == self->state.pass)
                copy(self, pass, std::move(to), std::move(bundles), began);
            },
            [=](caf::error& err) {
              auto& st = self->state;
              if (pass != st.pass)
                return;
              cluster_log().warn(
                "replica repair: cannot read {} records "
                "of this node's store: {}",
                chosen.size(), self->system().render(err));
              st.failed = true;
              // The rest of the pass goes on; the pass runs again.
              self->send(self, step_atom::value, pass);
            });
      },
      [=](caf::error& err) {
        auto& st = self->state;
        if (pass != st.pass)
          return;
        cluster_log().warn("replica repair: cannot list this node's keys: {}",
                           self->system().render(err));
        st.failed = true;
        finish_pass(self);
      });
}

caf::behavior repairer_impl(repairer_ptr self, cluster_config cfg,
                            milliseconds timeout, store_api local,
                            membership_api membership,
                            std::shared_ptr<store_stats> probe) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.timeout = timeout;
  st.local = std::move(local);
  st.probe = std::move(probe);
  if (membership)
    caf::anon_send(membership, subscribe_atom::value,
                   caf::actor_cast<view_listener>(self));
  return {
    [=](view_atom, const cluster_view& v) {
      auto& st = self->state;
      st.self = v.self;
      st.stores.clear();
      for (auto& m : v.members)
        if (m.node_id != v.self)
          st.stores.emplace(m.node_id, m.store);
      placement p{v.node_ids(), st.cfg};
      if (!st.have_then) {
        st.then = st.now = p;
        st.have_then = true;
        return;
      }
      if (p.nodes == st.now.nodes)
        return;
      auto leaving = !p.has(v.self);
      st.now = std::move(p);
      if (leaving) {
        // This node is leaving (a view without it): the others copy what
        // it held; a pass now would race the shutdown of its store.
        cancel_pass(self);
        return;
      }
      if (st.cfg.repair_rate == 0)
        return;
      if (st.now.nodes == st.then.nodes) {
        // Back where the last pass left every key: nothing to copy.
        cancel_pass(self);
        return;
      }
      start_pass(self);
    },
    [=](step_atom, uint64_t pass) {
      auto& st = self->state;
      if (pass == 0) {
        // The retry of an unfinished pass, unless a newer one started.
        if (!st.running && st.now.nodes != st.then.nodes
            && st.cfg.repair_rate > 0)
          start_pass(self);
        return;
      }
      if (pass == st.pass && st.running)
        step(self, pass);
    },
  };
}

} // namespace

caf::actor spawn_repairer(caf::actor_system& sys, const cluster_config& cfg,
                          milliseconds request_timeout, store_api local,
                          membership_api membership,
                          std::shared_ptr<store_stats> probe) {
  return sys.spawn(repairer_impl, cfg, request_timeout, std::move(local),
                   std::move(membership), std::move(probe));
}

} // namespace presence::cluster
