// A rate limit for log lines a flood could repeat (dropped input, refused results, TLS failures):
// at most one line per interval, whichever thread asks. The counts go to metrics; the line only
// tells the operator that it happens.
#pragma once

#include <atomic>
#include <cstdint>

#include "gateway/clock.h"

namespace streamgate::gateway {

inline constexpr std::int64_t kLogLimitIntervalNs = 10'000'000'000;  // 10 s

class LogLimit {
 public:
  explicit LogLimit(std::int64_t interval_ns = kLogLimitIntervalNs) : interval_ns_(interval_ns) {}

  //! True at most once per interval (the first call is due); any thread.
  bool due() {
    const std::int64_t t = steady_now_ns();
    std::int64_t last = last_ns_.load(std::memory_order_relaxed);
    return (last == 0 || t - last > interval_ns_) && last_ns_.compare_exchange_strong(last, t);
  }

 private:
  const std::int64_t interval_ns_;
  std::atomic<std::int64_t> last_ns_{0};
};

}  // namespace streamgate::gateway
