#pragma once

#include <algorithm>
#include <chrono>

namespace presence::edge {

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
/// Owned by one session and used on its strand only.
class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  rate_limiter(double rate, double burst)
    : rate_(rate), burst_(burst), tokens_(burst), last_(clock::now()) {
    // nop
  }

  /// Takes one token; false when the bucket is empty.
  bool try_take(clock::time_point now = clock::now()) {
    std::chrono::duration<double> dt = now - last_;
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + dt.count() * rate_);
    if (tokens_ < 1.0)
      return false;
    tokens_ -= 1.0;
    return true;
  }

private:
  double rate_;
  double burst_;
  double tokens_;
  clock::time_point last_;
};

} // namespace presence::edge
