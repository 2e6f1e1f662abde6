// Date arithmetic and formatting with patterns (UTC). Inputs are RFC 3339 text or epoch numbers
// (unit guessed from the magnitude, as for a stream's TIMESTAMP); functions returning a point in
// time return epoch milliseconds, like to_timestamp and date_trunc.
//
// Patterns (format_date / parse_date) use the Java/eKuiper letters: yyyy, yy, MM, M, dd, d, HH,
// H, mm, m, ss, s, SSS (milliseconds), EEE (Mon), MMM (Jan), and 'quoted text'; any other
// character is literal.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <string>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using fn::add_documented;
using fn::any_time;
using fn::civil;
using fn::Civil;
using fn::days_from_civil;

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char* kMonthNames[] = {"January", "February", "March",     "April",
                                       "May",     "June",     "July",      "August",
                                       "September", "October", "November", "December"};
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kDayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                     "Thursday", "Friday", "Saturday"};
constexpr std::size_t kMaxPattern = 256;

int weekday(const Civil& c) { return static_cast<int>(((c.days % 7) + 7 + 4) % 7); }

bool leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr unsigned kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kDaysIn[m - 1];
}

Value ms(TimeNs t) { return floor_div(t, kNsPerMs); }

//! A pattern token: the run of one letter at pattern[i] (its length), or 0 for a literal.
std::size_t run(std::string_view p, std::size_t i) {
  const char c = p[i];
  if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return 0;
  std::size_t n = 1;
  while (i + n < p.size() && p[i + n] == c) ++n;
  return n;
}

std::optional<std::string> format_pattern(TimeNs t, std::string_view p) {
  const Civil c = civil(t);
  std::string out;
  char buf[32];
  for (std::size_t i = 0; i < p.size();) {
    if (p[i] == '\'') {
      const std::size_t close = p.find('\'', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      out.append(p.substr(i + 1, close - i - 1));
      i = close + 1;
      continue;
    }
    const std::size_t n = run(p, i);
    if (n == 0) {
      out += p[i++];
      continue;
    }
    const std::string tok(p.substr(i, n));
    buf[0] = 0;
    if (tok == "yyyy") std::snprintf(buf, sizeof buf, "%04lld", static_cast<long long>(c.year));
    else if (tok == "yy") std::snprintf(buf, sizeof buf, "%02lld", static_cast<long long>(((c.year % 100) + 100) % 100));
    else if (tok == "MMMM") std::snprintf(buf, sizeof buf, "%s", kMonthNames[c.month - 1]);
    else if (tok == "MMM") std::snprintf(buf, sizeof buf, "%s", kMonths[c.month - 1]);
    else if (tok == "MM") std::snprintf(buf, sizeof buf, "%02u", c.month);
    else if (tok == "M") std::snprintf(buf, sizeof buf, "%u", c.month);
    else if (tok == "dd") std::snprintf(buf, sizeof buf, "%02u", c.day);
    else if (tok == "d") std::snprintf(buf, sizeof buf, "%u", c.day);
    else if (tok == "HH") std::snprintf(buf, sizeof buf, "%02d", c.hour);
    else if (tok == "H") std::snprintf(buf, sizeof buf, "%d", c.hour);
    else if (tok == "mm") std::snprintf(buf, sizeof buf, "%02d", c.minute);
    else if (tok == "m") std::snprintf(buf, sizeof buf, "%d", c.minute);
    else if (tok == "ss") std::snprintf(buf, sizeof buf, "%02d", c.second);
    else if (tok == "s") std::snprintf(buf, sizeof buf, "%d", c.second);
    else if (tok == "SSS") std::snprintf(buf, sizeof buf, "%03lld", static_cast<long long>(c.nanos / kNsPerMs));
    else if (tok == "EEEE") std::snprintf(buf, sizeof buf, "%s", kDayNames[weekday(c)]);
    else if (tok == "EEE") std::snprintf(buf, sizeof buf, "%s", kDays[weekday(c)]);
    else return std::nullopt;  // an unknown letter run is a user error: NULL, not a guess
    out += buf;
    i += n;
  }
  return out;
}

//! Reads `width` digits (or 1..width when `exact` is false) at s[pos].
std::optional<int> digits(std::string_view s, std::size_t& pos, std::size_t width, bool exact) {
  std::size_t n = 0;
  int v = 0;
  while (n < width && pos + n < s.size() && s[pos + n] >= '0' && s[pos + n] <= '9') {
    v = v * 10 + (s[pos + n] - '0');
    ++n;
  }
  if (n == 0 || (exact && n != width)) return std::nullopt;
  pos += n;
  return v;
}

std::optional<TimeNs> parse_pattern(std::string_view s, std::string_view p) {
  std::int64_t year = 1970;
  int month = 1, day = 1, hour = 0, minute = 0, second = 0, milli = 0;
  std::size_t pos = 0;
  for (std::size_t i = 0; i < p.size();) {
    if (p[i] == '\'') {
      const std::size_t close = p.find('\'', i + 1);
      if (close == std::string_view::npos) return std::nullopt;
      const std::string_view lit = p.substr(i + 1, close - i - 1);
      if (s.substr(pos, lit.size()) != lit) return std::nullopt;
      pos += lit.size();
      i = close + 1;
      continue;
    }
    const std::size_t n = run(p, i);
    if (n == 0) {
      if (pos >= s.size() || s[pos] != p[i]) return std::nullopt;
      ++pos;
      ++i;
      continue;
    }
    const std::string tok(p.substr(i, n));
    std::optional<int> v;
    if (tok == "yyyy") v = digits(s, pos, 4, true);
    else if (tok == "yy") v = digits(s, pos, 2, true);
    else if (tok == "MM" || tok == "dd" || tok == "HH" || tok == "mm" || tok == "ss") v = digits(s, pos, 2, true);
    else if (tok == "M" || tok == "d" || tok == "H" || tok == "m" || tok == "s") v = digits(s, pos, 2, false);
    else if (tok == "SSS") v = digits(s, pos, 3, true);
    else if (tok == "MMM") {
      for (int k = 0; k < 12 && !v; ++k)
        if (s.substr(pos, 3) == kMonths[k]) v = k + 1;
      if (v) pos += 3;
    } else {
      return std::nullopt;
    }
    if (!v) return std::nullopt;
    const char c = tok[0];
    if (c == 'y') year = tok == "yy" ? 2000 + *v : *v;
    else if (c == 'M') month = *v;
    else if (c == 'd') day = *v;
    else if (c == 'H') hour = *v;
    else if (c == 'm') minute = *v;
    else if (c == 's') second = *v;
    else if (c == 'S') milli = *v;
    i += n;
  }
  if (pos != s.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > days_in_month(year, static_cast<unsigned>(month)) || hour > 23 ||
      minute > 59 || second > 59)
    return std::nullopt;
  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  const std::int64_t millis = (days * 86400 + hour * 3600 + minute * 60 + second) * 1000 + milli;
  // Years 0-9999 fit the milliseconds; nanoseconds only cover 1677-2262.
  TimeNs out;
  if (__builtin_mul_overflow(millis, kNsPerMs, &out) || out < kMinEventTime || out > kMaxEventTime)
    return std::nullopt;
  return out;
}

//! A signed duration: "-2h", "90s", "1d", or seconds.
std::optional<TimeNs> signed_duration(const Value& v) {
  if (v.is_string() && !v.as_string().empty() && v.as_string()[0] == '-') {
    auto d = parse_duration(std::string_view(v.as_string()).substr(1));
    if (!d) return std::nullopt;
    return -*d;
  }
  if (v.is_number() && v.as_number() < 0) {
    auto d = fn::duration_arg(Value(-v.as_number()));
    if (!d) return std::nullopt;
    return -*d;
  }
  return fn::duration_arg(v);
}

std::optional<TimeNs> unit_ns(const Value& v) {
  if (!v.is_string()) return std::nullopt;
  std::string u = v.as_string();
  for (char& c : u) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!u.empty() && u.back() == 's' && u.size() > 2) u.pop_back();  // "seconds" -> "second"
  if (u == "millisecond" || u == "ms") return kNsPerMs;
  if (u == "second") return kNsPerSec;
  if (u == "minute") return 60 * kNsPerSec;
  if (u == "hour") return 3600 * kNsPerSec;
  if (u == "day") return 86400 * kNsPerSec;
  if (u == "week") return 7 * 86400 * kNsPerSec;
  return std::nullopt;
}

// Times before 1677 or after 2262 do not fit int64 nanoseconds; arithmetic stays in that range.
std::optional<TimeNs> add_checked(TimeNs t, TimeNs d) {
  TimeNs out;
  if (__builtin_add_overflow(t, d, &out)) return std::nullopt;
  return out;
}

//! A time within the event-time range, where day arithmetic cannot overflow.
std::optional<TimeNs> bounded_time(const Value& v) {
  auto t = any_time(v);
  if (!t || *t < kMinEventTime || *t > kMaxEventTime) return std::nullopt;
  return t;
}

std::function<Value(Args)> civil_part(std::int64_t (*f)(const Civil&)) {
  return [f](Args a) -> Value {
    auto t = bounded_time(a[0]);
    if (!t) return {};
    return f(civil(*t));
  };
}

}  // namespace

void register_datetime_builtins(FunctionRegistry& r) {
  const std::string fam = "datetime";
  add_documented(r, fam, "format_date", {"date_format"}, 2, 2, "format_date(time, pattern) -> text",
                 "Formats a time (UTC) with a pattern: yyyy yy MMMM MMM MM M dd d HH H mm m ss s "
                 "SSS EEEE EEE and 'quoted text'; NULL for an unknown letter.",
                 {{"format_date('2024-01-15T10:30:05.123Z', 'yyyy-MM-dd HH:mm:ss.SSS')", "\"2024-01-15 10:30:05.123\""},
                  {"format_date(1705314600000, 'EEE d MMM yyyy')", "\"Mon 15 Jan 2024\""}},
                 [](Args a) -> Value {
                   auto t = any_time(a[0]);
                   if (!t || !a[1].is_string() || a[1].as_string().size() > kMaxPattern) return {};
                   auto s = format_pattern(*t, a[1].as_string());
                   return s ? Value(std::move(*s)) : Value();
                 });
  add_documented(r, fam, "parse_date", {"to_date"}, 2, 2, "parse_date(text, pattern) -> epoch ms",
                 "Reads a UTC time written with a pattern (the letters of format_date except "
                 "EEE/EEEE); NULL when the text does not match.",
                 {{"parse_date('15/01/2024 10:30', 'dd/MM/yyyy HH:mm')", "1705314600000"}},
                 [](Args a) -> Value {
                   if (!a[0].is_string() || !a[1].is_string() || a[1].as_string().size() > kMaxPattern) return {};
                   auto t = parse_pattern(a[0].as_string(), a[1].as_string());
                   return t ? ms(*t) : Value();
                 });
  add_documented(r, fam, "date_add", {"date_calc"}, 2, 2, "date_add(time, duration) -> epoch ms",
                 "time plus a signed duration ('90s', '-2h', '1d', or seconds).",
                 {{"format_date(date_add('2024-01-15T10:30:00Z', '-2h'), 'HH:mm')", "\"08:30\""}},
                 [](Args a) -> Value {
                   auto t = any_time(a[0]);
                   auto d = signed_duration(a[1]);
                   if (!t || !d) return {};
                   auto out = add_checked(*t, *d);
                   return out ? ms(*out) : Value();
                 });
  add_documented(r, fam, "date_diff", {}, 2, 3, "date_diff(from, to [, unit = 'second']) -> int",
                 "Whole units (millisecond, second, minute, hour, day, week) from `from` to "
                 "`to`, cut toward zero; negative when `to` is earlier.",
                 {{"date_diff('2024-01-15T10:00:00Z', '2024-01-15T12:59:00Z', 'hour')", "2"}},
                 [](Args a) -> Value {
                   auto from = any_time(a[0]);
                   auto to = any_time(a[1]);
                   auto unit = a.size > 2 ? unit_ns(a[2]) : std::optional<TimeNs>(kNsPerSec);
                   if (!from || !to || !unit) return {};
                   TimeNs diff;
                   if (__builtin_sub_overflow(*to, *from, &diff)) return {};
                   return diff / *unit;
                 });
  add_documented(r, fam, "unix_timestamp", {"to_seconds"}, 1, 1, "unix_timestamp(time) -> int",
                 "Whole seconds since 1970-01-01T00:00:00Z.",
                 {{"unix_timestamp('2024-01-15T10:30:00Z')", "1705314600"}}, [](Args a) -> Value {
                   auto t = any_time(a[0]);
                   return t ? Value(floor_div(*t, kNsPerSec)) : Value();
                 });
  add_documented(r, fam, "from_unixtime", {"from_unix_time"}, 1, 1,
                 "from_unixtime(seconds) -> text", "Epoch seconds as RFC 3339 text.",
                 {{"from_unixtime(1705314600)", "\"2024-01-15T10:30:00Z\""}}, [](Args a) -> Value {
                   if (!a[0].is_number()) return {};
                   const double ns = a[0].as_number() * 1e9;
                   if (!std::isfinite(ns) || ns < static_cast<double>(kMinEventTime) ||
                       ns > static_cast<double>(kMaxEventTime))
                     return {};
                   return format_rfc3339(static_cast<TimeNs>(std::llround(ns)));
                 });
  add_documented(r, fam, "day_of_year", {"dayofyear"}, 1, 1, "day_of_year(time) -> int",
                 "1 for January 1st.", {{"day_of_year('2024-03-01T00:00:00Z')", "61"}},
                 civil_part([](const Civil& c) {
                   return c.days - days_from_civil(c.year, 1, 1) + 1;
                 }));
  add_documented(r, fam, "week_of_year", {"week"}, 1, 1, "week_of_year(time) -> int",
                 "ISO 8601 week number (weeks start on Monday; week 1 holds the first Thursday).",
                 {{"week_of_year('2024-01-15T10:30:00Z')", "3"}, {"week_of_year('2021-01-01T00:00:00Z')", "53"}},
                 civil_part([](const Civil& c) -> std::int64_t {
                   // The Thursday of this ISO week decides the year; count its weeks from there.
                   const std::int64_t iso_dow = (weekday(c) + 6) % 7;  // Monday 0
                   const std::int64_t thursday = c.days - iso_dow + 3;
                   const Civil th = civil(thursday * 86400 * kNsPerSec);
                   return (thursday - days_from_civil(th.year, 1, 1)) / 7 + 1;
                 }));
  add_documented(r, fam, "day_name", {"dayname"}, 1, 1, "day_name(time) -> text",
                 "English weekday name.", {{"day_name('2024-01-15T10:30:00Z')", "\"Monday\""}},
                 [](Args a) -> Value {
                   auto t = any_time(a[0]);
                   return t ? Value(kDayNames[weekday(civil(*t))]) : Value();
                 });
  add_documented(r, fam, "month_name", {"monthname"}, 1, 1, "month_name(time) -> text",
                 "English month name.", {{"month_name('2024-01-15T10:30:00Z')", "\"January\""}},
                 [](Args a) -> Value {
                   auto t = any_time(a[0]);
                   return t ? Value(kMonthNames[civil(*t).month - 1]) : Value();
                 });
  add_documented(r, fam, "last_day", {}, 1, 1, "last_day(time) -> epoch ms",
                 "Midnight (UTC) starting the last day of the time's month.",
                 {{"format_date(last_day('2024-02-10T08:00:00Z'), 'yyyy-MM-dd')", "\"2024-02-29\""}},
                 [](Args a) -> Value {
                   auto t = bounded_time(a[0]);
                   if (!t) return {};
                   const Civil c = civil(*t);
                   return ms(days_from_civil(c.year, c.month, days_in_month(c.year, c.month)) *
                             86400 * kNsPerSec);
                 });
}

}  // namespace streamgate::rules
