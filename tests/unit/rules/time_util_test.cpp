// Tests for RFC 3339 formatting (rules/time_util.cpp): the hand-written formatter must give
// exactly the text of the snprintf version it replaced, kept here as the reference.
#include <gtest/gtest.h>

#include <cmath>

#include <cstdio>
#include <random>
#include <string>

#include "rules/time_util.h"

namespace streamgate::rules {
namespace {

// A copy of time_util.cpp's internal civil_from_days, on purpose: the reference must not share
// code with the formatter it checks.
void civil(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

// The previous format_rfc3339, verbatim apart from the name and `frac` (it was t - secs * 1e9,
// signed overflow for t near INT64_MIN).
std::string reference(TimeNs t) {
  const TimeNs secs = floor_div(t, kNsPerSec);
  const TimeNs frac = t % kNsPerSec < 0 ? t % kNsPerSec + kNsPerSec : t % kNsPerSec;
  const std::int64_t days = floor_div(secs, 86400);
  const std::int64_t sod = secs - days * 86400;
  std::int64_t y;
  unsigned m, d;
  civil(days, y, m, d);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02d",
                        static_cast<long long>(y), m, d, static_cast<int>(sod / 3600),
                        static_cast<int>((sod / 60) % 60), static_cast<int>(sod % 60));
  std::string out(buf, static_cast<std::size_t>(n));
  if (frac != 0) {
    char fb[32];
    if (frac % kNsPerMs == 0) {
      std::snprintf(fb, sizeof fb, ".%03lld", static_cast<long long>(frac / kNsPerMs));
    } else if (frac % kNsPerUs == 0) {
      std::snprintf(fb, sizeof fb, ".%06lld", static_cast<long long>(frac / kNsPerUs));
    } else {
      std::snprintf(fb, sizeof fb, ".%09lld", static_cast<long long>(frac));
    }
    out += fb;
  }
  out += 'Z';
  return out;
}

void expect_same(TimeNs t) {
  const std::string want = reference(t);
  ASSERT_EQ(format_rfc3339(t), want) << "t=" << t;
  char buf[kRfc3339MaxLen];
  ASSERT_EQ(std::string(buf, format_rfc3339(t, buf)), want) << "t=" << t;
  std::string appended = "x";
  append_rfc3339(appended, t);
  ASSERT_EQ(appended, "x" + want) << "t=" << t;
}

TEST(FormatRfc3339, KnownTexts) {
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_rfc3339(1'705'314'600'005'000'000), "2024-01-15T10:30:00.005Z");
  EXPECT_EQ(format_rfc3339(1'705'314'600'000'005'000), "2024-01-15T10:30:00.000005Z");
  EXPECT_EQ(format_rfc3339(1'705'314'600'000'000'005), "2024-01-15T10:30:00.000000005Z");
  EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(format_rfc3339(kTimeMin), "1677-09-21T00:12:43.145224192Z");
  EXPECT_EQ(format_rfc3339(kTimeMax), "2262-04-11T23:47:16.854775807Z");
  EXPECT_LE(format_rfc3339(kTimeMax).size(), kRfc3339MaxLen);
}

TEST(FormatRfc3339, SameTextAsTheSnprintfVersion) {
  for (TimeNs t : {TimeNs{0}, TimeNs{-1}, TimeNs{1}, kTimeMin, kTimeMin + 1, kTimeMax, kTimeMax - 1,
                   kMinEventTime, kMinEventTime - 1, kMinEventTime + 1, kMaxEventTime,
                   kMaxEventTime - 1, kMaxEventTime + 1, -kNsPerSec, -kNsPerMs, -kNsPerUs,
                   TimeNs{951'782'400} * kNsPerSec,   // 2000-02-29
                   TimeNs{4'107'542'400} * kNsPerSec,  // 2100-03-01
                   TimeNs{-2'203'891'200} * kNsPerSec}) {  // 1900-03-01
    expect_same(t);
  }
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<TimeNs> any(kTimeMin, kTimeMax);
  std::uniform_int_distribution<TimeNs> events(kMinEventTime, kMaxEventTime);
  for (int i = 0; i < 200'000; ++i) {
    expect_same(any(rng));
    const TimeNs e = events(rng);
    expect_same(e);
    // Whole seconds and millisecond / microsecond fractions take the shorter forms.
    const TimeNs s = floor_div(e, kNsPerSec) * kNsPerSec;
    expect_same(s);
    expect_same(s + (e % 1000) * kNsPerMs);
    expect_same(s + (e % 1'000'000) * kNsPerUs);
    expect_same(s - (e % 1000 + 1) * kNsPerMs);
    expect_same(-s + (e % 999'999 + 1) * kNsPerUs);
  }
}

TEST(EpochNumber, UnitIsGuessedAndEveryProductIsRangeChecked) {
  using std::int64_t;
  auto ns = [](int64_t n) { return epoch_number_to_ns(n); };
  EXPECT_EQ(ns(1705312800), 1705312800LL * 1'000'000'000);          // seconds
  EXPECT_EQ(ns(-1705312800), -1705312800LL * 1'000'000'000);
  EXPECT_EQ(ns(1705312800123), 1705312800123LL * 1'000'000);         // milliseconds
  EXPECT_EQ(ns(1705312800123456), 1705312800123456LL * 1'000);       // microseconds
  EXPECT_EQ(ns(1705312800123456789), 1705312800123456789LL);         // nanoseconds
  EXPECT_EQ(ns(0), 0);
  // The last value of each unit that fits in int64 nanoseconds, and the first that does not.
  EXPECT_EQ(ns(9'223'372'036), 9'223'372'036LL * 1'000'000'000);
  EXPECT_FALSE(ns(9'223'372'037));
  EXPECT_FALSE(ns(99'999'999'999));
  EXPECT_EQ(ns(9'223'372'036'854), 9'223'372'036'854LL * 1'000'000);
  EXPECT_FALSE(ns(9'223'372'036'855));
  EXPECT_FALSE(ns(-9'223'372'036'855));
  EXPECT_EQ(ns(9'223'372'036'854'775), 9'223'372'036'854'775LL * 1'000);
  EXPECT_FALSE(ns(9'223'372'036'854'776));
  EXPECT_EQ(ns(INT64_MAX), INT64_MAX);
  EXPECT_EQ(ns(INT64_MIN + 1), INT64_MIN + 1);
  EXPECT_FALSE(ns(INT64_MIN));
}

TEST(EpochNumber, FractionsAreReadFromTheirDecimalDigits) {
  // number * 1e9 in doubles rounds to the 256 ns grid near 1.7e18 (issue 16).
  auto ns = [](double d) { return epoch_number_to_ns(d); };
  EXPECT_EQ(ns(1705312800.25), 1705312800250000000LL);
  EXPECT_EQ(ns(1705312800.123), 1705312800123000000LL);
  EXPECT_EQ(ns(1705312800.000000001), 1705312800000000000LL);  // beyond 15 digits: nearest
  EXPECT_EQ(ns(-1.5), -1500000000LL);
  EXPECT_EQ(ns(1705312800123.5), 1705312800123500000LL);           // milliseconds
  EXPECT_EQ(ns(1705312800123456.5), 1705312800123456500LL);        // microseconds
  EXPECT_EQ(ns(1705312800.0), 1705312800000000000LL);
  EXPECT_EQ(ns(0.0000000004), 0);
  EXPECT_EQ(ns(0.0000000005), 1);  // half a nanosecond rounds away from zero, as llround did
  EXPECT_FALSE(ns(1e19));
  EXPECT_FALSE(ns(std::nan("")));
}

}  // namespace
}  // namespace streamgate::rules
