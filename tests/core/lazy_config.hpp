#pragma once

// An actor system configuration on presenced's scheduler
// (core/scheduler.hpp): a base of a fixture, constructed before its
// actor system.

#include <cstddef>

#include <caf/actor_system_config.hpp>

#include "core/scheduler.hpp"

namespace presence::test {

struct lazy_config {
  caf::actor_system_config cfg;
  /// `threads`: scheduler threads (0: CAF's default).
  explicit lazy_config(size_t threads = 0) {
    if (threads > 0)
      cfg.set("scheduler.max-threads", threads);
    use_lazy_sharing(cfg);
  }
};

} // namespace presence::test
