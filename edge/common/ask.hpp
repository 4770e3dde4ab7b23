#pragma once

#include <chrono>
#include <functional>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/expected.hpp>

namespace presence::edge {

/// Sends a request to `dest` from outside any actor (HTTP handlers on I/O
/// threads) and calls `cb` with the reply or the error. A one-shot actor
/// makes the request, so no thread ever blocks; `cb` runs on a CAF thread and
/// must post to its own strand before touching a socket.
template <class T, class Handle, class... Ts>
void ask(caf::actor_system& sys, const Handle& dest,
         std::chrono::milliseconds timeout,
         std::function<void(caf::expected<T>)> cb, Ts... xs) {
  sys.spawn([=](caf::event_based_actor* self) {
    self->request(dest, timeout, xs...)
      .then([=](T& result) { cb(std::move(result)); },
            [=](caf::error& err) { cb(std::move(err)); });
  });
}

} // namespace presence::edge
