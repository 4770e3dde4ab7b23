#pragma once

// The TTL checks of a registry's user actors, in one place: each user
// actor puts in when its next device may run out, and one sweeper actor
// per registry tells each live actor when its time has come. A user actor
// kept its own CAF timer before (~0.3 KB per online user in the clock,
// and a user who left kept its actor's memory until the timer fired:
// CAF 0.17's delayed messages hold their receiver). An entry here is 16 B
// and holds the actor weakly; an actor that ends takes its entry back
// (a weak reference still keeps an actor's memory in CAF 0.17).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include <caf/actor_addr.hpp>
#include <caf/actor_system.hpp>

#include "core/clock.hpp"

namespace presence::actors {

class ttl_wheel {
public:
  struct entry {
    caf::actor_addr who;
    uint64_t gen = 0;
  };

  /// Checks are due in steps of `granularity` ms (an entry fires up to one
  /// step after its time).
  explicit ttl_wheel(millis granularity);

  /// `who` wants `(ttl_atom, gen)` at `due` (or up to one step later).
  /// Returns true if this is now the earliest step (the sweeper must hear
  /// of it: its timer is for a later one, or it has none).
  bool arm(millis due, caf::actor_addr who, uint64_t gen);

  /// Takes back what `who` armed for `due`: an actor that ends before its
  /// check (a user who left), whose entry would otherwise keep the actor's
  /// memory (CAF frees it with the last weak reference) until the check.
  /// False if it is not there.
  bool disarm(millis due, const caf::actor_addr& who);

  /// Takes the entries of every step that began by `now`.
  std::vector<entry> take_due(millis now);

  /// When the earliest step begins (0: the wheel is empty).
  millis earliest() const;

  size_t size() const;

  millis granularity() const { return step_; }

private:
  /// The end of the step `due` falls in.
  millis step_of(millis due) const;

  millis step_;
  mutable std::mutex mu_;
  /// Entries by the end of their step (due rounded up).
  std::map<millis, std::vector<entry>> steps_;
  size_t size_ = 0;
};

/// The step for a heartbeat TTL of `ttl` ms: 1/100 of it, 10 ms to 500 ms.
millis ttl_step(millis ttl);

/// Spawns the sweeper of `wheel` (time from `now`); it sleeps while the
/// wheel is empty and ends with `owner` (its registry). It takes
/// `(tick_atom, 0)`: an earlier step was armed (ttl_wheel::arm said so).
caf::actor spawn_ttl_sweeper(caf::actor_system& sys,
                             std::shared_ptr<ttl_wheel> wheel, wall_clock now,
                             caf::actor_addr owner);

} // namespace presence::actors
