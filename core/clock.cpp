#include "core/clock.hpp"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <limits>

namespace presence {

std::size_t iso8601(millis ms, char* out) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int frac = static_cast<int>(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    secs -= 1;
  }
  // Every heartbeat's answer carries a timestamp: the date and time of the
  // current second are formatted once per thread and second.
  constexpr std::size_t stamp = 19; // YYYY-MM-DDTHH:MM:SS
  thread_local std::time_t cached_secs
    = std::numeric_limits<std::time_t>::min();
  thread_local char cached[stamp];
  char tail[5] = {'.', static_cast<char>('0' + frac / 100),
                  static_cast<char>('0' + frac / 10 % 10),
                  static_cast<char>('0' + frac % 10), 'Z'};
  if (secs != cached_secs) {
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[iso8601_max];
    auto n = std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d",
                           tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (n < 0 || static_cast<std::size_t>(n) + sizeof(tail) >= iso8601_max)
      n = 0; // cannot happen with an int year
    if (static_cast<std::size_t>(n) != stamp) {
      // A year beyond 9999: no cache.
      std::memcpy(out, buf, static_cast<std::size_t>(n));
      std::memcpy(out + n, tail, sizeof(tail));
      return static_cast<std::size_t>(n) + sizeof(tail);
    }
    std::memcpy(cached, buf, stamp);
    cached_secs = secs;
  }
  std::memcpy(out, cached, stamp);
  std::memcpy(out + stamp, tail, sizeof(tail));
  return stamp + sizeof(tail);
}

std::string iso8601(millis ms) {
  char buf[iso8601_max];
  return std::string(buf, iso8601(ms, buf));
}

} // namespace presence
