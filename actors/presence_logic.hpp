#pragma once

// Pure functions behind the actors: unit-tested without an actor system.

#include <cstdint>
#include <vector>

#include "core/messages.hpp"

namespace presence::actors {

/// The status a user shows, given the statuses of their devices: a deliberate
/// "do not disturb" or "busy" on any device wins, then "online" on any device,
/// then "away"; no devices = offline.
presence_status aggregate(const std::vector<presence_status>& devices);

/// One device's status and whether its client chose it (device_view).
struct device_choice {
  presence_status status;
  bool chosen;
};

/// The status a user has, invisible included: `invisible` when a device is
/// invisible and no device shows a visible status its client chose (a
/// device that merely joined, or turned away by itself, does not reveal the
/// user); otherwise aggregate() over the devices that are not invisible.
presence_status combine(const std::vector<device_choice>& devices);

/// Next version of a user's presence: strictly greater than `prev` and at
/// least `now` (wall-clock ms), so versions keep growing across restarts even
/// when the last increments were never written.
uint64_t next_version(uint64_t prev, millis now);

/// Milliseconds until a device last active at `last_active` expires under
/// `ttl`; <= 0 means it has expired.
inline millis ttl_remaining(millis last_active, millis ttl, millis now) {
  return last_active + ttl - now;
}

} // namespace presence::actors
