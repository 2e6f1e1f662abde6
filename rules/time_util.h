// Time in the engine: int64 nanoseconds since the Unix epoch (UTC) everywhere, never `long`
// (32 bits on armhf). Parsing of durations and timestamps, RFC 3339 formatting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace streamgate::rules {

using TimeNs = std::int64_t;
inline constexpr TimeNs kNsPerUs = 1'000;
inline constexpr TimeNs kNsPerMs = 1'000'000;
inline constexpr TimeNs kNsPerSec = 1'000'000'000;
inline constexpr TimeNs kTimeMin = INT64_MIN;
inline constexpr TimeNs kTimeMax = INT64_MAX;

//! Days since 1970-01-01 of a proleptic Gregorian date, and back (Howard Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);
void civil_from_days(std::int64_t days, std::int64_t& y, unsigned& m, unsigned& d);

//! "500ms", "5s", "30m", "2h", "1d", "1h30m", "250us", "10ns"; a bare number means seconds.
std::optional<TimeNs> parse_duration(std::string_view text);

//! RFC 3339 / ISO 8601 date-time: "2024-01-15T10:30:00Z", "...T10:30:00.123+02:00",
//! a space instead of 'T' is accepted; no offset means UTC.
std::optional<TimeNs> parse_rfc3339(std::string_view text);

//! An epoch number whose unit is guessed from its magnitude: seconds (< 1e11), milliseconds
//! (< 1e14), microseconds (< 1e17), otherwise nanoseconds. Fractions are kept.
std::optional<TimeNs> epoch_number_to_ns(double number);
std::optional<TimeNs> epoch_number_to_ns(std::int64_t number);

//! "2024-01-15T10:30:00Z"; sub-second digits only when non-zero (".123Z", ".123456789Z").
std::string format_rfc3339(TimeNs t);

//! Longest text of format_rfc3339 ("2262-04-11T23:47:16.854775807Z" is 30 characters).
inline constexpr std::size_t kRfc3339MaxLen = 32;
//! format_rfc3339 into `buf` (at least kRfc3339MaxLen bytes, not NUL-terminated); returns the
//! length. No allocation: alert messages carry three times each.
std::size_t format_rfc3339(TimeNs t, char* buf);
//! Appends format_rfc3339(t) to `out`.
void append_rfc3339(std::string& out, TimeNs t);

//! Floor division that is correct for negative times (window alignment before 1970).
inline TimeNs floor_div(TimeNs a, TimeNs b) {
  TimeNs q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

//! Start of the epoch-aligned window of length `size` (offset `offset`) holding t. Saturates
//! to the lowest time instead of overflowing for t within one window of the int64 limits (only
//! reachable from scalar functions: event times that far out are rejected at ingest).
inline TimeNs align_down(TimeNs t, TimeNs size, TimeNs offset = 0) {
  TimeNs shifted = 0;
  TimeNs start = 0;
  if (__builtin_sub_overflow(t, offset, &shifted) ||
      __builtin_mul_overflow(floor_div(shifted, size), size, &start) ||
      __builtin_add_overflow(start, offset, &start)) {
    return std::numeric_limits<TimeNs>::min();
  }
  return start;
}

//! Event times accepted at ingest: about 1824 to 2116. Far enough from the int64 limits that
//! window arithmetic (start + size, watermark - lateness) cannot overflow.
inline constexpr TimeNs kMinEventTime = -(TimeNs{1} << 62);
inline constexpr TimeNs kMaxEventTime = TimeNs{1} << 62;

}  // namespace streamgate::rules
