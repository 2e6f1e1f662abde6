// Duration and timestamp parsing, RFC 3339 formatting (civil-date arithmetic, no libc tz).
#include "rules/time_util.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace streamgate::rules {

namespace {

bool read_digits(std::string_view s, std::size_t& pos, int count, int& out) {
  if (pos + static_cast<std::size_t>(count) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < count; ++i) {
    const char c = s[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(count);
  out = v;
  return true;
}

}  // namespace

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
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

std::optional<TimeNs> parse_duration(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  TimeNs total = 0;
  std::size_t pos = 0;
  bool any = false;
  while (pos < text.size()) {
    double number = 0;
    std::size_t start = pos;
    bool seen_dot = false;
    while (pos < text.size() &&
           ((text[pos] >= '0' && text[pos] <= '9') || (text[pos] == '.' && !seen_dot))) {
      seen_dot |= text[pos] == '.';
      ++pos;
    }
    if (pos == start) return std::nullopt;
    number = std::strtod(std::string(text.substr(start, pos - start)).c_str(), nullptr);
    std::size_t unit_start = pos;
    while (pos < text.size() && ((text[pos] >= 'a' && text[pos] <= 'z') ||
                                 (text[pos] >= 'A' && text[pos] <= 'Z')))
      ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    double scale;
    if (unit.empty() || unit == "s" || unit == "S") {
      if (unit.empty() && pos != text.size()) return std::nullopt;
      scale = 1e9;
    } else if (unit == "ms") {
      scale = 1e6;
    } else if (unit == "us") {
      scale = 1e3;
    } else if (unit == "ns") {
      scale = 1;
    } else if (unit == "m" || unit == "M") {
      scale = 60e9;
    } else if (unit == "h" || unit == "H") {
      scale = 3600e9;
    } else if (unit == "d" || unit == "D") {
      scale = 86400e9;
    } else {
      return std::nullopt;
    }
    const double ns = number * scale;
    if (!std::isfinite(ns) || ns > 9.2e18) return std::nullopt;
    // "9e18ns9e18ns": each part fits, the sum must too (signed overflow is undefined).
    if (__builtin_add_overflow(total, static_cast<TimeNs>(std::llround(ns)), &total)) return std::nullopt;
    any = true;
  }
  if (!any) return std::nullopt;
  return total;
}

std::optional<TimeNs> parse_rfc3339(std::string_view s) {
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(s, pos, 4, year)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!read_digits(s, pos, 2, month) || month < 1 || month > 12) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-') return std::nullopt;
  if (!read_digits(s, pos, 2, day) || day < 1 || day > 31) return std::nullopt;
  TimeNs frac_ns = 0;
  TimeNs offset_sec = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    ++pos;
    if (!read_digits(s, pos, 2, hour) || hour > 23) return std::nullopt;
    if (pos >= s.size() || s[pos++] != ':') return std::nullopt;
    if (!read_digits(s, pos, 2, minute) || minute > 59) return std::nullopt;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!read_digits(s, pos, 2, second) || second > 60) return std::nullopt;
    }
    if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
      ++pos;
      TimeNs scale = 100'000'000;
      std::size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        frac_ns += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return std::nullopt;
    }
    if (pos < s.size()) {
      const char z = s[pos];
      if (z == 'Z' || z == 'z') {
        ++pos;
      } else if (z == '+' || z == '-') {
        ++pos;
        int oh = 0, om = 0;
        if (!read_digits(s, pos, 2, oh)) return std::nullopt;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (pos < s.size() && !read_digits(s, pos, 2, om)) return std::nullopt;
        offset_sec = (oh * 3600 + om * 60) * (z == '+' ? 1 : -1);
      } else {
        return std::nullopt;
      }
    }
    if (pos != s.size()) return std::nullopt;
  }
  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month),
                                            static_cast<unsigned>(day));
  const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_sec;
  // Years past 2262 (or before 1677) do not fit in int64 nanoseconds: not a time we can hold.
  TimeNs ns;
  if (__builtin_mul_overflow(secs, kNsPerSec, &ns) || __builtin_add_overflow(ns, frac_ns, &ns))
    return std::nullopt;
  return ns;
}

std::optional<TimeNs> epoch_number_to_ns(double number) {
  if (!std::isfinite(number)) return std::nullopt;
  const double a = std::fabs(number);
  const int exp10 = a < 1e11 ? 9 : a < 1e14 ? 6 : a < 1e17 ? 3 : 0;  // ns digits per unit
  const double ns = number * (exp10 == 9 ? 1e9 : exp10 == 6 ? 1e6 : exp10 == 3 ? 1e3 : 1.0);
  if (std::fabs(ns) > 9.2e18) return std::nullopt;
  // number * 1e9 rounds to the 256 ns grid of doubles near 1.7e18 (1705312800.25 s became
  // ...:00.249999872). The shortest decimal that reads back as `number` is the text the device
  // sent (for up to 15 significant digits), so its digits are scaled exactly instead.
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, a, std::chars_format::fixed);
  if (res.ec != std::errc()) return static_cast<TimeNs>(std::llround(ns));
  const char* p = buf;
  std::int64_t whole = 0;
  for (; p < res.ptr && *p != '.'; ++p) whole = whole * 10 + (*p - '0');
  if (p < res.ptr) ++p;  // '.'
  std::int64_t frac = 0;
  int taken = 0;
  for (; taken < exp10; ++taken) frac = frac * 10 + (p < res.ptr ? *p++ - '0' : 0);
  if (p < res.ptr && *p >= '5') ++frac;  // round half away from zero, as llround did
  std::int64_t scale = 1;
  for (int i = 0; i < exp10; ++i) scale *= 10;
  TimeNs out = 0;
  if (__builtin_mul_overflow(whole, scale, &out) || __builtin_add_overflow(out, frac, &out))
    return std::nullopt;
  return number < 0 ? -out : out;
}

std::optional<TimeNs> epoch_number_to_ns(std::int64_t n) {
  // Integer path keeps full nanosecond precision, which doubles lose past 2^53. The number is
  // user input: its unit is guessed first, then the product is range-checked so it cannot
  // overflow (epoch seconds past 2262 do not fit in int64 nanoseconds).
  if (n == INT64_MIN) return std::nullopt;
  const std::int64_t a = n < 0 ? -n : n;
  // One branch per unit so each bound is a constant (no division per event).
  auto scaled = [n, a](TimeNs scale) -> std::optional<TimeNs> {
    if (a > INT64_MAX / scale) return std::nullopt;
    return n * scale;
  };
  if (a < 100'000'000'000LL) return scaled(kNsPerSec);
  if (a < 100'000'000'000'000LL) return scaled(kNsPerMs);
  if (a < 100'000'000'000'000'000LL) return scaled(kNsPerUs);
  return n;
}

namespace {

// Writes v (< 10^n) as exactly n digits.
char* put_digits(char* p, std::uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return p + n;
}

}  // namespace

std::size_t format_rfc3339(TimeNs t, char* buf) {
  // By hand rather than snprintf: the same text, several times cheaper (alerts format three
  // times per message).
  const TimeNs secs = floor_div(t, kNsPerSec);
  // t % 1e9 made non-negative: t - secs * 1e9 overflows for t near INT64_MIN.
  const TimeNs frac = t % kNsPerSec < 0 ? t % kNsPerSec + kNsPerSec : t % kNsPerSec;
  const std::int64_t days = floor_div(secs, 86400);
  const std::int64_t sod = secs - days * 86400;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char* p = buf;
  // int64 nanoseconds span the years 1677..2262: always four digits (the guard keeps the
  // buffer bound true for any input of civil_from_days).
  p = put_digits(p, static_cast<std::uint64_t>(std::clamp<std::int64_t>(y, 0, 9999)), 4);
  *p++ = '-';
  p = put_digits(p, m, 2);
  *p++ = '-';
  p = put_digits(p, d, 2);
  *p++ = 'T';
  p = put_digits(p, static_cast<std::uint64_t>(sod / 3600), 2);
  *p++ = ':';
  p = put_digits(p, static_cast<std::uint64_t>((sod / 60) % 60), 2);
  *p++ = ':';
  p = put_digits(p, static_cast<std::uint64_t>(sod % 60), 2);
  if (frac != 0) {
    *p++ = '.';
    const auto f = static_cast<std::uint64_t>(frac);
    if (frac % kNsPerMs == 0) {
      p = put_digits(p, f / kNsPerMs, 3);
    } else if (frac % kNsPerUs == 0) {
      p = put_digits(p, f / kNsPerUs, 6);
    } else {
      p = put_digits(p, f, 9);
    }
  }
  *p++ = 'Z';
  return static_cast<std::size_t>(p - buf);
}

std::string format_rfc3339(TimeNs t) {
  char buf[kRfc3339MaxLen];
  return std::string(buf, format_rfc3339(t, buf));
}

void append_rfc3339(std::string& out, TimeNs t) {
  char buf[kRfc3339MaxLen];
  out.append(buf, format_rfc3339(t, buf));
}

}  // namespace streamgate::rules
