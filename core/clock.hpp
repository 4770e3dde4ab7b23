#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

#include "core/messages.hpp"

namespace presence {

/// Source of wall-clock time for everything presence-related. Production uses
/// system_now(); tests inject a clock they control.
using wall_clock = std::function<millis()>;

/// Milliseconds since the Unix epoch from std::chrono::system_clock.
inline millis system_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

/// Formats `ms` as ISO-8601 UTC with milliseconds ("2024-01-01T00:00:00.000Z").
std::string iso8601(millis ms);

/// The most bytes iso8601(ms, out) writes.
constexpr std::size_t iso8601_max = 64;

/// iso8601(ms) into `out` (room for iso8601_max bytes); returns its length.
std::size_t iso8601(millis ms, char* out);

} // namespace presence
