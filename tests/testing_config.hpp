#pragma once

// The actor system configuration of the deterministic actor tests: CAF's
// test coordinator (`scheduler.policy = testing`: nothing runs until a test
// calls run() or advances the clock) and presenced's message types.

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>

#include "core/messages.hpp"

namespace presence::test {

/// Base of a fixture: must be constructed before its actor system.
struct testing_config {
  caf::actor_system_config cfg;
  testing_config() {
    cfg.set("scheduler.policy", caf::atom("testing"));
    register_types(cfg);
  }
};

} // namespace presence::test
