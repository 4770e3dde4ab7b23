#pragma once

// One scatter-gather for the cluster's actors: ask N handles, collect the
// replies in the order asked, finish once. The router asks every member's
// registry (counts, lists, batches by owner), the replicator every replica
// of a user (reads, profile writes), membership every member (farewell).

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/exit_reason.hpp>
#include <caf/node_id.hpp>
#include <caf/sec.hpp>

#include "core/config.hpp"

namespace presence::cluster {

/// What a scatter-gather does when a handle fails (an error reply, a dead
/// actor, no answer within the timeout).
enum class gather_policy {
  /// The first failure is the outcome, at once; later replies are dropped.
  /// The router's: a count or a list without one member would look whole.
  fail_fast,
  /// The failed handle's slot stays empty and the others are still waited
  /// for. The replicator's: whichever replicas answered will do.
  use_answered,
};

/// The outcome of a scatter-gather, handed to its finish function once.
template <class T>
struct gathered {
  /// One slot per handle, in the order asked; empty where that handle
  /// failed (and, after a fail_fast failure, where it had not answered yet).
  std::vector<std::optional<T>> replies;
  /// The first failure; none when every handle answered.
  caf::error error;
  /// How many handles failed (at most 1 under fail_fast).
  size_t failed = 0;
};

/// The replies that came, in the order asked (moved out of `g`).
template <class T>
std::vector<T> answered(gathered<T>& g) {
  std::vector<T> out;
  for (auto& r : g.replies)
    if (r)
      out.push_back(std::move(*r));
  return out;
}

/// A `message_for` for scatter_gather that asks every handle `xs...`.
template <class... Ts>
auto same_message(Ts... xs) {
  return [=](size_t) { return std::make_tuple(xs...); };
}

/// The scatter-gathers of one actor still waiting, told when the cluster's
/// view drops a node. A request to a node that died is lost with its
/// connection (CAF 0.17 fails it only at its timeout): a read that asked a
/// replica or a registry there waited out the whole request timeout (5 s
/// after a kill -9 in the chaos test, where a survivor agreed in 0.2 s
/// before). Told, the gather counts those handles failed at once. Used on
/// the owning actor's thread only.
class gather_watch {
public:
  /// Called with the nodes still alive.
  using abandon_fn = std::function<void(const std::set<caf::node_id>&)>;

  void add(const std::shared_ptr<abandon_fn>& f) {
    if (waiting_.size() >= prune_at_) {
      prune();
      prune_at_ = std::max<size_t>(64, 2 * waiting_.size());
    }
    waiting_.emplace_back(f);
  }

  /// Every handle of a waiting gather on a node not in `alive` fails now.
  void keep_only(const std::set<caf::node_id>& alive) {
    // A gather that finishes here may start another one (not in this
    // pass: a copy).
    auto now = std::move(waiting_);
    waiting_.clear();
    for (auto& w : now)
      if (auto f = w.lock()) {
        (*f)(alive);
        waiting_.emplace_back(w);
      }
    prune();
  }

  size_t size() const { return waiting_.size(); }

private:
  void prune() {
    waiting_.erase(std::remove_if(waiting_.begin(), waiting_.end(),
                                  [](const std::weak_ptr<abandon_fn>& w) {
                                    return w.expired();
                                  }),
                   waiting_.end());
  }

  std::vector<std::weak_ptr<abandon_fn>> waiting_;
  size_t prune_at_ = 64;
};

/// Asks each `to[i]` the message `message_for(i)` (a std::tuple of its
/// elements) within `timeout`, and calls `finish(gathered<T>&)` once: when
/// every handle answered or failed, or under fail_fast at the first
/// failure. No handles: `finish` runs at once, before this returns.
///
/// Called by the router, the replicator and membership from their message
/// handlers, on the calling actor's thread; `finish` runs there too (in a
/// reply handler of `self`, or in `watch->keep_only`), so it may touch the
/// actor's state and deliver its response promises. With a `watch`, the
/// handles on a node a later view drops fail then (gather_watch).
template <class T, class Self, class Handle, class MessageFor, class Finish>
void scatter_gather(Self* self, const std::vector<Handle>& to,
                    milliseconds timeout, gather_policy policy,
                    MessageFor message_for, Finish finish,
                    gather_watch* watch = nullptr) {
  struct state {
    gathered<T> result;
    size_t pending;
    bool done;
    gather_policy policy;
    Finish finish;
    /// Per handle: answered or failed already (a late reply after an
    /// abandon, or the other way round, counts once).
    std::vector<bool> settled;
    std::vector<caf::node_id> nodes;
    std::shared_ptr<gather_watch::abandon_fn> abandon;
    void complete() {
      done = true;
      abandon.reset(); // nothing to watch any more
      finish(result);
    }
    void reply(size_t i, T& x) {
      if (done || settled[i])
        return; // fail_fast already finished, or abandoned: too late
      settled[i] = true;
      result.replies[i] = std::move(x);
      if (--pending == 0)
        complete();
    }
    void fail(size_t i, caf::error& err) {
      if (done || settled[i])
        return;
      settled[i] = true;
      if (!result.error)
        result.error = err;
      ++result.failed;
      if (policy == gather_policy::fail_fast || --pending == 0)
        complete();
    }
  };
  auto st = std::make_shared<state>(state{gathered<T>{},
                                          to.size(),
                                          false,
                                          policy,
                                          std::move(finish),
                                          std::vector<bool>(to.size()),
                                          {},
                                          nullptr});
  st->result.replies.resize(to.size());
  if (to.empty()) {
    st->complete();
    return;
  }
  if (watch != nullptr) {
    for (auto& h : to)
      st->nodes.push_back(h ? h.node() : caf::node_id{});
    std::weak_ptr<state> weak = st;
    st->abandon = std::make_shared<gather_watch::abandon_fn>(
      [weak](const std::set<caf::node_id>& alive) {
        auto st = weak.lock();
        for (size_t i = 0; st && !st->done && i < st->nodes.size(); ++i)
          if (!st->settled[i] && alive.count(st->nodes[i]) == 0) {
            caf::error err = caf::make_error(caf::sec::request_receiver_down);
            st->fail(i, err);
          }
      });
    watch->add(st->abandon);
  }
  for (size_t i = 0; i < to.size(); ++i) {
    auto request = [&](const auto&... xs) {
      return self->request(to[i], timeout, xs...);
    };
    std::apply(request, message_for(i))
      .then([st, i](T& x) { st->reply(i, x); },
            [st, i](caf::error& err) { st->fail(i, err); });
  }
}

/// Asks `to` the message `xs...` (one handle: scatter_gather under `watch`)
/// and delivers its answer, or its error, to the response promise `rp`.
/// What `delegate` does, except that a view dropping `to`'s node fails it
/// at once instead of at the timeout.
template <class T, class Self, class Handle, class Promise, class... Ts>
void ask_watched(Self* self, const Handle& to, milliseconds timeout,
                 gather_watch* watch, Promise rp, Ts... xs) {
  scatter_gather<T>(
    self, std::vector<Handle>{to}, timeout, gather_policy::fail_fast,
    same_message(std::move(xs)...),
    [rp](gathered<T>& g) mutable {
      if (g.error)
        rp.deliver(g.error);
      else
        rp.deliver(std::move(*g.replies[0]));
    },
    watch);
}

/// The nodes of `v`'s members as CAF sees them (their membership actors'
/// nodes), and `self`'s: what a gather_watch keeps.
template <class View>
std::set<caf::node_id> alive_nodes(const View& v, const caf::node_id& self) {
  std::set<caf::node_id> out{self};
  for (auto& m : v.members)
    if (m.membership)
      out.insert(m.membership.node());
  return out;
}

} // namespace presence::cluster
