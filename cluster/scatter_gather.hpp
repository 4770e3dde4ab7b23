#pragma once

// One scatter-gather for the cluster's actors: ask N handles, collect the
// replies in the order asked, finish once. The router asks every member's
// registry (counts, lists, batches by owner), the replicator every replica
// of a user (reads, profile writes), membership every member (farewell).

#include <cstddef>
#include <memory>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <caf/error.hpp>

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

/// Asks each `to[i]` the message `message_for(i)` (a std::tuple of its
/// elements) within `timeout`, and calls `finish(gathered<T>&)` once: when
/// every handle answered or failed, or under fail_fast at the first
/// failure. No handles: `finish` runs at once, before this returns.
///
/// Called by the router, the replicator and membership from their message
/// handlers, on the calling actor's thread; `finish` runs there too (in a
/// reply handler of `self`), so it may touch the actor's state and deliver
/// its response promises.
template <class T, class Self, class Handle, class MessageFor, class Finish>
void scatter_gather(Self* self, const std::vector<Handle>& to,
                    milliseconds timeout, gather_policy policy,
                    MessageFor message_for, Finish finish) {
  struct state {
    gathered<T> result;
    size_t pending;
    bool done;
    Finish finish;
    void complete() {
      done = true;
      finish(result);
    }
  };
  auto st = std::make_shared<state>(
    state{gathered<T>{}, to.size(), false, std::move(finish)});
  st->result.replies.resize(to.size());
  if (to.empty()) {
    st->complete();
    return;
  }
  for (size_t i = 0; i < to.size(); ++i) {
    auto request = [&](const auto&... xs) {
      return self->request(to[i], timeout, xs...);
    };
    std::apply(request, message_for(i))
      .then(
        [st, i](T& x) {
          if (st->done)
            return; // fail_fast already finished: too late
          st->result.replies[i] = std::move(x);
          if (--st->pending == 0)
            st->complete();
        },
        [st, policy](caf::error& err) {
          if (st->done)
            return;
          if (!st->result.error)
            st->result.error = err;
          ++st->result.failed;
          if (policy == gather_policy::fail_fast || --st->pending == 0)
            st->complete();
        });
  }
}

} // namespace presence::cluster
