// The two clocks the gateway reads, as int64 nanoseconds (never `long`: 32 bits on armhf).
#pragma once

#include <chrono>
#include <cstdint>

namespace streamgate::gateway {

//! Wall clock: processing time given to the engine, timestamps in messages.
inline std::int64_t system_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

//! Monotonic clock: intervals, deadlines, rate limits.
inline std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace streamgate::gateway
