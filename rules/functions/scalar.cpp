// Built-in scalar functions: math, string, conditional, conversion, time, array and object.
// SQL semantics: NULL in gives NULL out (except the NULL-handling functions), and a wrong type
// gives NULL instead of an error, so one odd message cannot stop a rule.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <regex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "rules/function_registry.h"
#include "rules/functions/common.h"
#include "rules/functions/unicode_case.h"

namespace streamgate::rules {

namespace {

using fn::add_documented;
using fn::any_null;
using fn::any_time;
using fn::Civil;
using fn::civil;
using fn::compiled_regex;
using fn::days_from_civil;
using fn::parse_number;
using fn::to_bigint;
using fn::to_number;
using fn::utf8_chars;
using fn::utf8_length;
using fn::finite;
using fn::int_arg;
using fn::num_arg;
using fn::time_arg;

constexpr std::size_t kMaxBuiltString = 1 << 20;  // lpad/rpad/repeat results: bounded memory

void add(FunctionRegistry& r, std::initializer_list<const char*> names, int min_args,
         int max_args, std::function<Value(Args)> call) {
  for (const char* name : names) r.add_scalar({name, min_args, max_args, call});
}


//! Integral doubles become ints when they fit (floor(2.5) -> 2), so outputs read naturally.
Value integral(double d) {
  if (!std::isfinite(d)) return {};
  if (d >= -9.2e18 && d <= 9.2e18) return static_cast<std::int64_t>(d);
  return d;
}

// ---- math -------------------------------------------------------------------------------

//! Rounds the shortest decimal form of x (what a user sees and writes) half away from zero,
//! so round(2.675, 2) is 2.68 although the binary double is slightly below 2.675.
double round_decimal(double x, int digits) {
  if (!std::isfinite(x) || x == 0) return x;
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::scientific);
  std::string_view text(buf, static_cast<std::size_t>(res.ptr - buf));
  const bool negative = text.front() == '-';
  if (negative) text.remove_prefix(1);
  const auto e_pos = text.find('e');
  std::string mantissa;
  for (char c : text.substr(0, e_pos))
    if (c != '.') mantissa.push_back(c);
  const int exponent = std::atoi(std::string(text.substr(e_pos + 1)).c_str());
  // mantissa[0] has place value 10^exponent; keep digits down to 10^-digits.
  const long keep = static_cast<long>(exponent) + 1 + digits;
  if (keep >= static_cast<long>(mantissa.size())) return x;
  if (keep < 0) return negative ? -0.0 : 0.0;
  std::string kept = mantissa.substr(0, static_cast<std::size_t>(keep));
  if (mantissa[static_cast<std::size_t>(keep)] >= '5') {
    int i = static_cast<int>(kept.size()) - 1;
    while (i >= 0 && kept[static_cast<std::size_t>(i)] == '9') kept[static_cast<std::size_t>(i--)] = '0';
    if (i < 0) kept.insert(kept.begin(), '1');
    else ++kept[static_cast<std::size_t>(i)];
  }
  if (kept.empty()) return negative ? -0.0 : 0.0;
  const std::string out = (negative ? "-" : "") + kept + "e" + std::to_string(-digits);
  return std::strtod(out.c_str(), nullptr);
}

Value round_fn(Args a) {
  if (any_null(a)) return {};
  std::int64_t digits = 0;
  if (a.size > 1) {
    auto d = int_arg(a[1]);
    if (!d || *d < -30 || *d > 30) return {};
    digits = *d;
  }
  if (a[0].is_int()) {
    const std::int64_t x = a[0].as_int();
    if (digits >= 0) return x;
    if (digits <= -19) return std::int64_t{0};
    std::int64_t p = 1;
    for (std::int64_t i = 0; i < -digits; ++i) p *= 10;
    std::int64_t q = x / p;
    const std::int64_t rem = x % p;
    // |rem| >= p/2 without overflow: rem is below p in magnitude.
    if (rem >= p - rem) ++q;
    else if (-rem >= p + rem) --q;
    std::int64_t out;
    if (__builtin_mul_overflow(q, p, &out)) return static_cast<double>(q) * static_cast<double>(p);
    return out;
  }
  if (!a[0].is_double()) return {};
  const double r = round_decimal(a[0].as_double_exact(), static_cast<int>(digits));
  if (a.size == 1) return integral(r);
  return finite(r);
}

Value power_fn(Args a) {
  if (any_null(a)) return {};
  if (!a[0].is_number() || !a[1].is_number()) return {};
  if (a[0].is_int() && a[1].is_int() && a[1].as_int() >= 0) {
    std::int64_t base = a[0].as_int(), exp = a[1].as_int(), out = 1;
    bool overflow = false;
    // Exponentiation by squaring, falling back to double on overflow.
    while (exp > 0 && !overflow) {
      if (exp & 1) overflow |= __builtin_mul_overflow(out, base, &out);
      exp >>= 1;
      if (exp > 0) overflow |= __builtin_mul_overflow(base, base, &base);
    }
    if (!overflow) return out;
  }
  return finite(std::pow(a[0].as_number(), a[1].as_number()));
}

Value mod_fn(Args a) {
  if (any_null(a) || !a[0].is_number() || !a[1].is_number()) return {};
  if (a[0].is_int() && a[1].is_int()) {
    const std::int64_t x = a[0].as_int(), y = a[1].as_int();
    if (y == 0) return {};
    if (y == -1) return std::int64_t{0};  // INT64_MIN % -1 is undefined behaviour in C++
    return x % y;
  }
  const double y = a[1].as_number();
  if (y == 0) return {};
  return finite(std::fmod(a[0].as_number(), y));
}

Value log_fn(Args a) {
  if (any_null(a)) return {};
  for (std::size_t i = 0; i < a.size; ++i)
    if (!a[i].is_number()) return {};
  if (a.size == 1) {
    const double x = a[0].as_number();
    return x > 0 ? finite(std::log(x)) : Value();
  }
  const double b = a[0].as_number(), x = a[1].as_number();
  if (b <= 0 || b == 1 || x <= 0) return {};
  return finite(std::log(x) / std::log(b));
}

Value extremum(Args a, int want) {
  // NULLs are skipped (PostgreSQL's greatest/least), so one missing field does not hide the rest.
  const Value* best = nullptr;
  for (std::size_t i = 0; i < a.size; ++i) {
    if (a[i].is_null()) continue;
    if (best == nullptr || compare(a[i], *best) * want > 0) best = &a[i];
  }
  return best ? *best : Value();
}

void register_math(FunctionRegistry& r) {
  const std::string fam = "math";
  add_documented(r, fam, "abs", {}, 1, 1, "abs(x) -> number",
                 "Absolute value; an int stays an int.", {{"abs(-3)", "3"}, {"abs(-2.5)", "2.5"}},
                 [](Args a) -> Value {
                   if (a[0].is_int()) {
                     const std::int64_t x = a[0].as_int();
                     if (x == std::numeric_limits<std::int64_t>::min()) return -static_cast<double>(x);
                     return x < 0 ? -x : x;
                   }
                   if (a[0].is_double()) return std::fabs(a[0].as_double_exact());
                   return {};
                 });
  add_documented(r, fam, "ceil", {"ceiling"}, 1, 1, "ceil(x) -> int",
                 "Smallest integer not below x, as an int (eKuiper gives a float).",
                 {{"ceil(2.1)", "3"}, {"ceil(-2.9)", "-2"}}, [](Args a) -> Value {
                   if (a[0].is_int()) return a[0];
                   if (a[0].is_double()) return integral(std::ceil(a[0].as_double_exact()));
                   return {};
                 });
  add_documented(r, fam, "floor", {}, 1, 1, "floor(x) -> int",
                 "Largest integer not above x, as an int (eKuiper gives a float).",
                 {{"floor(2.9)", "2"}, {"floor(-2.1)", "-3"}}, [](Args a) -> Value {
                   if (a[0].is_int()) return a[0];
                   if (a[0].is_double()) return integral(std::floor(a[0].as_double_exact()));
                   return {};
                 });
  add_documented(r, fam, "round", {}, 1, 2, "round(x [, digits = 0]) -> number",
                 "x rounded half away from zero to `digits` decimals (negative: tens, hundreds, "
                 "...), judged on the decimal text of x, so round(2.675, 2) is 2.68 although the "
                 "binary double lies below; without digits the result is an int.",
                 {{"round(2.5)", "3"}, {"round(2.675, 2)", "2.68"}, {"round(1234, -2)", "1200"}},
                 round_fn);
  add_documented(r, fam, "sqrt", {}, 1, 1, "sqrt(x) -> float", "Square root; NULL for x < 0.",
                 {{"sqrt(16)", "4.0"}, {"sqrt(-1)", "null"}}, [](Args a) -> Value {
                   if (!a[0].is_number() || a[0].as_number() < 0) return {};
                   return finite(std::sqrt(a[0].as_number()));
                 });
  add_documented(r, fam, "power", {"pow"}, 2, 2, "power(base, exponent) -> number",
                 "base raised to exponent: exact int arithmetic for int base and non-negative int "
                 "exponent (a float once it overflows), else a float.",
                 {{"power(2, 10)", "1024"}, {"power(4, 0.5)", "2.0"}}, power_fn);
  add_documented(r, fam, "exp", {}, 1, 1, "exp(x) -> float", "e raised to x.",
                 {{"exp(0)", "1.0"}, {"round(exp(1), 5)", "2.71828"}}, [](Args a) -> Value {
                   if (!a[0].is_number()) return {};
                   return finite(std::exp(a[0].as_number()));
                 });
  add_documented(r, fam, "ln", {}, 1, 1, "ln(x) -> float", "Natural logarithm; NULL for x <= 0.",
                 {{"round(ln(10), 4)", "2.3026"}}, log_fn);
  add_documented(r, fam, "log", {}, 1, 2, "log([base,] x) -> float",
                 "Logarithm of x to base; with ONE argument the NATURAL logarithm (as ln), where "
                 "eKuiper and PostgreSQL take base 10: write log10(x) there. NULL for x <= 0 or "
                 "an invalid base.",
                 {{"log(2, 8)", "3.0"}, {"round(log(100), 4)", "4.6052"}}, log_fn);
  add_documented(r, fam, "log10", {}, 1, 1, "log10(x) -> float",
                 "Base-10 logarithm (eKuiper's one-argument log); NULL for x <= 0.",
                 {{"log10(1000)", "3.0"}}, [](Args a) -> Value {
                   if (!a[0].is_number() || a[0].as_number() <= 0) return {};
                   return finite(std::log10(a[0].as_number()));
                 });
  add_documented(r, fam, "mod", {}, 2, 2, "mod(x, y) -> number",
                 "Remainder of x / y with the sign of x (as the % operator); NULL when y is 0.",
                 {{"mod(7, 3)", "1"}, {"mod(-7, 3)", "-1"}, {"mod(7.5, 2)", "1.5"}}, mod_fn);
  add_documented(r, fam, "sign", {}, 1, 1, "sign(x) -> int", "-1, 0 or 1 by the sign of x.",
                 {{"sign(-4.2)", "-1"}, {"sign(0)", "0"}}, [](Args a) -> Value {
                   if (!a[0].is_number()) return {};
                   const double x = a[0].as_number();
                   if (std::isnan(x)) return {};
                   return std::int64_t{x > 0 ? 1 : (x < 0 ? -1 : 0)};
                 });
  add_documented(r, fam, "greatest", {}, 1, -1, "greatest(v1, v2, ...) -> value",
                 "The largest argument; NULLs are skipped (as PostgreSQL), so NULL only when all "
                 "are NULL.",
                 {{"greatest(3, 7.5, NULL, 1)", "7.5"}}, [](Args a) { return extremum(a, 1); });
  add_documented(r, fam, "least", {}, 1, -1, "least(v1, v2, ...) -> value",
                 "The smallest argument; NULLs are skipped (as PostgreSQL).",
                 {{"least(3, 7.5, NULL, 1)", "1"}, {"least('b', 'a')", "\"a\""}},
                 [](Args a) { return extremum(a, -1); });
}

// ---- strings ----------------------------------------------------------------------------
// Lengths and positions count UTF-8 code points (what a user calls characters); malformed
// bytes count one each and never read past the end.

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }


//! Byte offset of code point `index` (0-based); s.size() when beyond the end.
std::size_t utf8_offset(std::string_view s, std::size_t index) {
  std::size_t pos = 0;
  while (pos < s.size() && index > 0) {
    ++pos;
    while (pos < s.size() && is_continuation(s[pos])) ++pos;
    --index;
  }
  return pos;
}


Value trim_fn(Args a, bool left, bool right) {
  if (any_null(a) || !a[0].is_string()) return {};
  std::string_view chars = " \t\r\n\f\v";
  if (a.size > 1) {
    if (!a[1].is_string()) return {};
    chars = a[1].as_string();
  }
  std::string_view s = a[0].as_string();
  if (left) {
    const auto p = s.find_first_not_of(chars);
    s = p == std::string_view::npos ? std::string_view() : s.substr(p);
  }
  if (right) {
    const auto p = s.find_last_not_of(chars);
    s = p == std::string_view::npos ? std::string_view() : s.substr(0, p + 1);
  }
  return s;
}

Value substring_fn(Args a) {
  if (any_null(a) || !a[0].is_string()) return {};
  auto start = int_arg(a[1]);
  if (!start) return {};
  const std::string_view s = a[0].as_string();
  // SQL semantics: positions before 1 still consume the length (substring('abc', 0, 2) = 'a').
  std::int64_t first = *start;
  std::int64_t last = std::numeric_limits<std::int64_t>::max();  // exclusive, 1-based
  if (a.size > 2) {
    auto len = int_arg(a[2]);
    if (!len || *len < 0) return {};
    last = (*len > std::numeric_limits<std::int64_t>::max() - first) ? last : first + *len;
  }
  if (first < 1) first = 1;
  if (last <= first) return std::string();
  const auto from = utf8_offset(s, static_cast<std::size_t>(first - 1));
  const std::size_t count = static_cast<std::size_t>(
      std::min<std::int64_t>(last - first, static_cast<std::int64_t>(s.size())));
  const auto to = from + utf8_offset(s.substr(from), count);
  return s.substr(from, to - from);
}

Value replace_fn(Args a) {
  if (any_null(a) || !a[0].is_string() || !a[1].is_string() || !a[2].is_string()) return {};
  const std::string& s = a[0].as_string();
  const std::string& from = a[1].as_string();
  const std::string& to = a[2].as_string();
  if (from.empty()) return s;
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    const auto hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  return out;
}

Value split_fn(Args a) {
  if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
  const std::string_view s = a[0].as_string(), sep = a[1].as_string();
  Array out;
  if (sep.empty()) {
    for (auto c : utf8_chars(s)) out.emplace_back(c);
    return out;
  }
  std::size_t pos = 0;
  for (;;) {
    const auto hit = s.find(sep, pos);
    if (hit == std::string_view::npos) break;
    out.emplace_back(s.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  out.emplace_back(s.substr(pos));
  return out;
}

Value pad_fn(Args a, bool left) {
  if (any_null(a) || !a[0].is_string()) return {};
  auto n = int_arg(a[1]);
  if (!n) return {};
  std::string_view fill = " ";
  if (a.size > 2) {
    if (!a[2].is_string()) return {};
    fill = a[2].as_string();
  }
  if (*n <= 0) return std::string();
  const std::string_view s = a[0].as_string();
  const auto want = static_cast<std::size_t>(*n);
  const std::size_t have = utf8_length(s);
  if (have >= want) return s.substr(0, utf8_offset(s, want));  // PostgreSQL truncates
  if (fill.empty()) return s;
  const auto fill_chars = utf8_chars(fill);
  std::string pad;
  for (std::size_t i = 0; i < want - have; ++i) {
    pad += fill_chars[i % fill_chars.size()];
    if (pad.size() + s.size() > kMaxBuiltString) return {};
  }
  return left ? pad + std::string(s) : std::string(s) + pad;
}

Value indexof_fn(Args a) {
  if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
  const std::string& s = a[0].as_string();
  const auto hit = s.find(a[1].as_string());
  if (hit == std::string::npos) return std::int64_t{0};
  return static_cast<std::int64_t>(utf8_length(std::string_view(s).substr(0, hit)) + 1);
}


using fn::kMaxRegexInput;

Value regexp_matches_fn(Args a) {
  if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
  if (a[0].as_string().size() > kMaxRegexInput) return {};
  auto re = compiled_regex(a[1].as_string());
  if (!re) return {};
  try {
    return std::regex_search(a[0].as_string(), *re);
  } catch (const std::exception&) {
    return {};
  }
}

Value regexp_replace_fn(Args a) {
  if (any_null(a) || !a[0].is_string() || !a[1].is_string() || !a[2].is_string()) return {};
  if (a[0].as_string().size() > kMaxRegexInput) return {};
  auto re = compiled_regex(a[1].as_string());
  if (!re) return {};
  try {
    return std::regex_replace(a[0].as_string(), *re, a[2].as_string());
  } catch (const std::exception&) {
    return {};
  }
}

Value regexp_extract_fn(Args a) {
  if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
  std::int64_t group = 0;
  if (a.size > 2) {
    auto g = int_arg(a[2]);
    if (!g || *g < 0) return {};
    group = *g;
  }
  if (a[0].as_string().size() > kMaxRegexInput) return {};
  auto re = compiled_regex(a[1].as_string());
  if (!re) return {};
  try {
    std::smatch m;
    if (!std::regex_search(a[0].as_string(), m, *re)) return {};
    if (static_cast<std::size_t>(group) >= m.size() || !m[static_cast<std::size_t>(group)].matched)
      return {};
    return m[static_cast<std::size_t>(group)].str();
  } catch (const std::exception&) {
    return {};
  }
}

Value format_number_fn(Args a) {
  if (any_null(a) || !a[0].is_number()) return {};
  std::int64_t digits = 0;
  if (a.size > 1) {
    auto d = int_arg(a[1]);
    if (!d || *d < 0 || *d > 20) return {};
    digits = *d;
  }
  const double x = round_decimal(a[0].as_number(), static_cast<int>(digits));
  if (!std::isfinite(x)) return {};
  char buf[400];
  auto res = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::fixed,
                           static_cast<int>(digits));
  if (res.ec != std::errc()) return {};
  return std::string(buf, res.ptr);
}

void register_strings(FunctionRegistry& r) {
  const std::string fam = "text";
  // Unicode-aware for Latin-1, Latin Extended-A, Greek and Cyrillic (unicode_case.cpp).
  add(r, {"lower", "lcase"}, 1, 1, [](Args a) -> Value {
    if (!a[0].is_string()) return {};
    return fn::utf8_change_case(a[0].as_string(), false);
  });
  add(r, {"upper", "ucase"}, 1, 1, [](Args a) -> Value {
    if (!a[0].is_string()) return {};
    return fn::utf8_change_case(a[0].as_string(), true);
  });
  const char* case_ranges =
      " of UTF-8 text in Basic Latin, Latin-1 Supplement, Latin Extended-A, Greek and Cyrillic "
      "(U+0000-017F, U+0370-04FF; Unicode's one-to-one mappings). Letters without a one-letter "
      "counterpart stay (ß, ŉ, ĸ, ſ, µ, Turkish İ and ı); other scripts pass through.";
  r.document({"upper", fam, FunctionKind::Scalar, "upper(text) -> text",
              std::string("Upper-cases the letters") + case_ranges,
              {{"upper('café σοφία')", "\"CAFÉ ΣΟΦΊΑ\""}}, {"ucase"}});
  r.document({"lower", fam, FunctionKind::Scalar, "lower(text) -> text",
              std::string("Lower-cases the letters") + case_ranges,
              {{"lower('ÀÉÎ ЖЁ')", "\"àéî жё\""}}, {"lcase"}});
  add_documented(r, fam, "trim", {}, 1, 2, "trim(text [, characters]) -> text",
                 "text without leading and trailing white space (or any of `characters`).",
                 {{"trim('  hi  ')", "\"hi\""}, {"trim('xxhix', 'x')", "\"hi\""}},
                 [](Args a) { return trim_fn(a, true, true); });
  add_documented(r, fam, "ltrim", {}, 1, 2, "ltrim(text [, characters]) -> text",
                 "text without leading white space (or any of `characters`).",
                 {{"ltrim('  hi  ')", "\"hi  \""}}, [](Args a) { return trim_fn(a, true, false); });
  add_documented(r, fam, "rtrim", {}, 1, 2, "rtrim(text [, characters]) -> text",
                 "text without trailing white space (or any of `characters`).",
                 {{"rtrim('  hi  ')", "\"  hi\""}, {"rtrim('12.500', '0')", "\"12.5\""}},
                 [](Args a) { return trim_fn(a, false, true); });
  add_documented(r, fam, "length", {"len", "char_length"}, 1, 1, "length(value) -> int",
                 "Characters (UTF-8 code points, not bytes: see numbytes) of a text, elements of "
                 "an array, keys of an object.",
                 {{"length('héllo')", "5"}, {"length(split('a,b,c', ','))", "3"}},
                 [](Args a) -> Value {
                   if (a[0].is_string()) return static_cast<std::int64_t>(utf8_length(a[0].as_string()));
                   if (a[0].is_array()) return static_cast<std::int64_t>(a[0].as_array().size());
                   if (a[0].is_object()) return static_cast<std::int64_t>(a[0].as_object().size());
                   return {};
                 });
  // concat skips NULLs (PostgreSQL): one missing field should not blank a whole label.
  add_documented(r, fam, "concat", {}, 1, -1, "concat(v1, v2, ...) -> text",
                 "The arguments' text joined; NULLs are skipped (as PostgreSQL), where the || "
                 "operator gives NULL.",
                 {{"concat('id-', 7, NULL, '/', true)", "\"id-7/true\""}}, [](Args a) -> Value {
                   std::string out;
                   for (std::size_t i = 0; i < a.size; ++i)
                     if (!a[i].is_null()) out += a[i].to_text();
                   return out;
                 });
  add_documented(r, fam, "substring", {"substr"}, 2, 3, "substring(text, from [, count]) -> text",
                 "`count` characters of text starting at position `from`, 1-BASED (SQL), to the "
                 "end without count. eKuiper's substring(text, start, end) takes a 0-based start "
                 "and an end index: its substring(s, 1, 3) is substring(s, 2, 2) here.",
                 {{"substring('sensor-42', 8)", "\"42\""}, {"substring('hello', 2, 3)", "\"ell\""}},
                 substring_fn);
  add_documented(r, fam, "replace", {}, 3, 3, "replace(text, from, to) -> text",
                 "Every occurrence of `from` replaced by `to` (plain text; see regexp_replace).",
                 {{"replace('a-b-c', '-', '+')", "\"a+b+c\""}}, replace_fn);
  add_documented(r, fam, "split", {}, 2, 2, "split(text, separator) -> array",
                 "text split at every separator; an empty separator splits into characters.",
                 {{"split('a,b,,c', ',')", R"(["a","b","","c"])"}, {"split('héj', '')", R"(["h","é","j"])"}},
                 split_fn);
  add_documented(r, fam, "startswith", {"starts_with"}, 2, 2, "startswith(text, prefix) -> bool",
                 "Whether text begins with prefix (case-sensitive).",
                 {{"startswith('sensor-1', 'sensor')", "true"}}, [](Args a) -> Value {
                   if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
                   return a[0].as_string().starts_with(a[1].as_string());
                 });
  add_documented(r, fam, "endswith", {"ends_with"}, 2, 2, "endswith(text, suffix) -> bool",
                 "Whether text ends with suffix (case-sensitive).",
                 {{"endswith('report.csv', '.json')", "false"}}, [](Args a) -> Value {
                   if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
                   return a[0].as_string().ends_with(a[1].as_string());
                 });
  add_documented(r, fam, "indexof", {"strpos"}, 2, 2, "indexof(text, part) -> int",
                 "1-BASED character position of the first `part` in text, 0 when absent (as "
                 "PostgreSQL's strpos); eKuiper's indexof is 0-based and gives -1: subtract 1.",
                 {{"indexof('hello', 'l')", "3"}, {"indexof('hello', 'z')", "0"}}, indexof_fn);
  add_documented(r, fam, "lpad", {}, 2, 3, "lpad(text, width [, fill = ' ']) -> text",
                 "text padded on the left with fill to `width` characters, cut to width when "
                 "longer (as PostgreSQL); eKuiper's lpad(text, n) instead adds n spaces.",
                 {{"lpad('7', 3, '0')", "\"007\""}, {"lpad('hello', 2)", "\"he\""}},
                 [](Args a) { return pad_fn(a, true); });
  add_documented(r, fam, "rpad", {}, 2, 3, "rpad(text, width [, fill = ' ']) -> text",
                 "text padded on the right with fill to `width` characters, cut when longer; "
                 "eKuiper's rpad(text, n) instead adds n spaces.",
                 {{"rpad('ab', 4, '.')", "\"ab..\""}}, [](Args a) { return pad_fn(a, false); });
  add_documented(r, fam, "regexp_matches", {}, 2, 2, "regexp_matches(text, pattern) -> bool",
                 "Whether the regular expression (ECMAScript) matches anywhere in text; NULL for "
                 "an invalid pattern.",
                 {{"regexp_matches('sensor-12', '^sensor-[0-9]+$')", "true"}}, regexp_matches_fn);
  add_documented(r, fam, "regexp_replace", {}, 3, 3,
                 "regexp_replace(text, pattern, replacement) -> text",
                 "Every match of the regular expression replaced; `$1` in replacement is the first "
                 "group.",
                 {{"regexp_replace('a1b22c', '[0-9]+', '#')", "\"a#b#c\""},
                  {"regexp_replace('2024-01-15', '([0-9]+)-([0-9]+)-([0-9]+)', '$3.$2.$1')", "\"15.01.2024\""}},
                 regexp_replace_fn);
  add_documented(r, fam, "regexp_extract", {}, 2, 3,
                 "regexp_extract(text, pattern [, group = 0]) -> text",
                 "The first match of the regular expression (or its numbered group); NULL when "
                 "nothing matches.",
                 {{"regexp_extract('temp=21.5C', '[0-9.]+')", "\"21.5\""},
                  {"regexp_extract('id:ab-7', '([a-z]+)-([0-9])', 2)", "\"7\""}},
                 regexp_extract_fn);
  add_documented(r, fam, "format_number", {}, 1, 2, "format_number(x [, digits = 0]) -> text",
                 "x as text with exactly `digits` decimals (rounded half away from zero), no "
                 "thousands separators.",
                 {{"format_number(3.14159, 2)", "\"3.14\""}, {"format_number(2, 3)", "\"2.000\""}},
                 format_number_fn);
}

// ---- conditional and conversion ---------------------------------------------------------




Value to_boolean(const Value& v) {
  if (v.is_bool()) return v;
  if (v.is_number()) {
    const double d = v.as_number();
    return std::isnan(d) ? Value() : Value(d != 0);
  }
  if (v.is_string()) {
    std::string s = v.as_string();
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "true" || s == "t" || s == "1" || s == "yes" || s == "y" || s == "on") return true;
    if (s == "false" || s == "f" || s == "0" || s == "no" || s == "n" || s == "off") return false;
  }
  return {};
}

Value cast_fn(Args a) {
  if (a[0].is_null() || !a[1].is_string()) return {};
  std::string type = a[1].as_string();
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (type == "bigint" || type == "int" || type == "integer" || type == "long")
    return to_bigint(a[0]);
  if (type == "float" || type == "double" || type == "real" || type == "number") {
    const Value n = to_number(a[0]);
    return n.is_null() ? n : Value(n.as_number());
  }
  if (type == "string" || type == "text" || type == "varchar") return a[0].to_text();
  if (type == "boolean" || type == "bool") return to_boolean(a[0]);
  return {};
}

void register_conditional(FunctionRegistry& r) {
  const std::string fam = "conditional";
  add_documented(r, fam, "coalesce", {}, 1, -1, "coalesce(v1, v2, ...) -> value",
                 "The first argument that is not NULL; NULL when all are.",
                 {{"coalesce(NULL, v, 0)", "0", {R"({"x":1})"}}, {"coalesce(NULL, 2, 3)", "2"}},
                 [](Args a) -> Value {
                   for (std::size_t i = 0; i < a.size; ++i)
                     if (!a[i].is_null()) return a[i];
                   return {};
                 });
  add_documented(r, fam, "if_null", {"ifnull", "nvl"}, 2, 2, "if_null(v, fallback) -> value",
                 "v, or fallback when v is NULL (coalesce of two).",
                 {{"if_null(v, -1)", "-1", {R"({"x":1})"}}, {"ifnull(5, -1)", "5"}},
                 [](Args a) -> Value { return a[0].is_null() ? a[1] : a[0]; });
  add_documented(r, fam, "nullif", {}, 2, 2, "nullif(a, b) -> value",
                 "NULL when a equals b, else a: turns a sentinel (-999, '') into NULL.",
                 {{"nullif(-999, -999)", "null"}, {"nullif(21.5, -999)", "21.5"}}, [](Args a) -> Value {
                   if (a[0].is_null() || a[1].is_null()) return a[0];
                   return a[0] == a[1] ? Value() : a[0];
                 });
  add_documented(r, fam, "if", {"iif"}, 3, 3, "if(condition, then, else) -> value",
                 "then when condition is true, else otherwise (NULL counts as false); the short "
                 "form of CASE WHEN.",
                 {{"if(v > 30, 'hot', 'ok')", "\"hot\"", {R"({"v":35})"}},
                  {"iif(NULL, 1, 2)", "2"}},
                 [](Args a) -> Value { return a[0].is_true() ? a[1] : a[2]; });
}

void register_conversions(FunctionRegistry& r) {
  const std::string fam = "type";
  add_documented(r, fam, "cast", {}, 2, 2, "cast(value, type) -> value",
                 "value converted to type, given as text: 'bigint' (also int, integer, long: "
                 "truncates toward zero), 'float' (double, real, number), 'string' (text, "
                 "varchar), 'boolean' (bool); NULL when it does not convert. eKuiper's "
                 "cast(v, \"bigint\") reads the same; SQL's CAST(v AS type) is not parsed.",
                 {{"cast('42', 'bigint')", "42"}, {"cast(7.9, 'bigint')", "7"},
                  {"cast(3, 'float')", "3.0"}, {"cast('yes', 'boolean')", "true"}},
                 cast_fn);
  add_documented(r, fam, "to_number", {"tonumber"}, 1, 1, "to_number(value) -> number",
                 "A number from a number, a boolean (1/0) or numeric text (an int when it is "
                 "whole); NULL otherwise.",
                 {{"to_number(' 12 ')", "12"}, {"to_number('2.5e3')", "2500.0"},
                  {"to_number('abc')", "null"}},
                 [](Args a) { return to_number(a[0]); });
  add_documented(r, fam, "to_string", {"tostring"}, 1, 1, "to_string(value) -> text",
                 "value as text: numbers and booleans as written, arrays and objects as JSON.",
                 {{"to_string(2.5)", "\"2.5\""}, {"to_string(split('a,b', ','))", R"("[\"a\",\"b\"]")"}},
                 [](Args a) -> Value {
                   if (a[0].is_null()) return {};
                   return a[0].to_text();
                 });
  add_documented(r, fam, "to_boolean", {}, 1, 1, "to_boolean(value) -> bool",
                 "true/false from a boolean, a number (0 is false) or text (true/t/1/yes/y/on, "
                 "false/f/0/no/n/off, any case); NULL otherwise.",
                 {{"to_boolean('ON')", "true"}, {"to_boolean(0)", "false"}, {"to_boolean('maybe')", "null"}},
                 [](Args a) { return to_boolean(a[0]); });
}

// ---- time (UTC; inputs are RFC 3339 text or epoch numbers) --------------------------------





template <class F>
std::function<Value(Args)> time_part(F part) {
  return [part](Args a) -> Value {
    auto t = any_time(a[0]);
    if (!t) return {};
    return static_cast<std::int64_t>(part(civil(*t)));
  };
}

// 32-bit safety: the year is printed through long long explicitly.
Value format_time_fn(Args a) {
  auto t = any_time(a[0]);
  if (!t) return {};
  std::string fmt = "rfc3339";
  if (a.size > 1) {
    if (!a[1].is_string()) return {};
    fmt = a[1].as_string();
  }
  std::string lowered = fmt;
  for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lowered == "rfc3339" || lowered == "iso8601") return format_rfc3339(*t);
  const Civil c = civil(*t);
  std::string out;
  char buf[32];
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%' || i + 1 == fmt.size()) {
      out.push_back(fmt[i]);
      continue;
    }
    const char spec = fmt[++i];
    switch (spec) {
      case 'Y': std::snprintf(buf, sizeof buf, "%04lld", static_cast<long long>(c.year)); break;
      case 'm': std::snprintf(buf, sizeof buf, "%02u", c.month); break;
      case 'd': std::snprintf(buf, sizeof buf, "%02u", c.day); break;
      case 'H': std::snprintf(buf, sizeof buf, "%02d", c.hour); break;
      case 'M': std::snprintf(buf, sizeof buf, "%02d", c.minute); break;
      case 'S': std::snprintf(buf, sizeof buf, "%02d", c.second); break;
      case 'L':  // milliseconds, as in several logging libraries
        std::snprintf(buf, sizeof buf, "%03lld", static_cast<long long>(c.nanos / kNsPerMs));
        break;
      case 'f':
        std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(c.nanos / kNsPerUs));
        break;
      case 's':
        std::snprintf(buf, sizeof buf, "%lld",
                      static_cast<long long>(floor_div(*t, kNsPerSec)));
        break;
      case '%': std::snprintf(buf, sizeof buf, "%%"); break;
      default: return {};  // an unknown directive is a user error: NULL, not a guess
    }
    out += buf;
  }
  return out;
}

Value date_trunc_fn(Args a) {
  if (!a[0].is_string()) return {};
  auto t = any_time(a[1]);
  if (!t) return {};
  std::string unit = a[0].as_string();
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  TimeNs out;
  if (unit == "second") out = align_down(*t, kNsPerSec);
  else if (unit == "minute") out = align_down(*t, 60 * kNsPerSec);
  else if (unit == "hour") out = align_down(*t, 3600 * kNsPerSec);
  else if (unit == "day") out = align_down(*t, 86400 * kNsPerSec);
  else if (unit == "week") out = align_down(*t, 7 * 86400 * kNsPerSec, 4 * 86400 * kNsPerSec);
  else if (unit == "month" || unit == "year") {
    const Civil c = civil(*t);
    const unsigned month = unit == "month" ? c.month : 1;
    out = days_from_civil(c.year, month, 1) * 86400 * kNsPerSec;
  } else {
    return {};
  }
  return floor_div(out, kNsPerMs);
}

void register_time(FunctionRegistry& r) {
  const std::string fam = "datetime";
  const std::string t = "'2024-01-15T10:30:45Z'";
  add_documented(r, fam, "to_timestamp", {}, 1, 1, "to_timestamp(time) -> epoch ms",
                 "A time (RFC 3339 text, or an epoch number or numeric text in s, ms, us or ns, "
                 "the unit guessed from its size) as epoch milliseconds.",
                 {{"to_timestamp('2024-01-15T10:00:00Z')", "1705312800000"},
                  {"to_timestamp(1705312800)", "1705312800000"}},
                 [](Args a) -> Value {
                   auto tt = any_time(a[0]);
                   if (!tt) return {};
                   return floor_div(*tt, kNsPerMs);
                 });
  add_documented(r, fam, "format_time", {}, 1, 2, "format_time(time [, format = 'rfc3339']) -> text",
                 "A time (UTC) as text: 'rfc3339' (or 'iso8601'), or strftime-like directives %Y "
                 "%m %d %H %M %S, %L milliseconds, %f microseconds, %s epoch seconds, %%; an "
                 "unknown directive gives NULL. eKuiper's format_time uses Java-style patterns "
                 "(yyyy-MM-dd): see format_date.",
                 {{"format_time(1705314645000, '%Y-%m-%d %H:%M')", "\"2024-01-15 10:30\""},
                  {"format_time(1705314645123)", "\"2024-01-15T10:30:45.123Z\""}},
                 format_time_fn);
  add_documented(r, fam, "year", {}, 1, 1, "year(time) -> int", "The UTC year of a time.",
                 {{"year(" + t + ")", "2024"}}, time_part([](const Civil& c) { return c.year; }));
  add_documented(r, fam, "month", {}, 1, 1, "month(time) -> int", "The UTC month, 1-12.",
                 {{"month(" + t + ")", "1"}}, time_part([](const Civil& c) { return c.month; }));
  add_documented(r, fam, "day", {"day_of_month"}, 1, 1, "day(time) -> int",
                 "The UTC day of the month, 1-31.", {{"day(" + t + ")", "15"}},
                 time_part([](const Civil& c) { return c.day; }));
  add_documented(r, fam, "hour", {}, 1, 1, "hour(time) -> int", "The UTC hour, 0-23.",
                 {{"hour(" + t + ")", "10"}, {"hour('2024-01-15T10:30:45+02:00')", "8"}},
                 time_part([](const Civil& c) { return c.hour; }));
  add_documented(r, fam, "minute", {}, 1, 1, "minute(time) -> int", "The minute, 0-59.",
                 {{"minute(" + t + ")", "30"}}, time_part([](const Civil& c) { return c.minute; }));
  add_documented(r, fam, "second", {}, 1, 1, "second(time) -> int", "The second, 0-59.",
                 {{"second(" + t + ")", "45"}}, time_part([](const Civil& c) { return c.second; }));
  // 0 = Sunday .. 6 = Saturday (PostgreSQL's dow); 1970-01-01 was a Thursday.
  add_documented(r, fam, "day_of_week", {"dayofweek", "dow"}, 1, 1, "day_of_week(time) -> int",
                 "The UTC weekday, 0 = Sunday .. 6 = Saturday (PostgreSQL's dow; MySQL's "
                 "dayofweek counts 1 = Sunday: add 1).",
                 {{"day_of_week(" + t + ")", "1"}},
                 time_part([](const Civil& c) { return ((c.days % 7) + 7 + 4) % 7; }));
  add_documented(r, fam, "date_trunc", {}, 2, 2, "date_trunc(unit, time) -> epoch ms",
                 "The time cut down (UTC) to the start of its 'second', 'minute', 'hour', 'day', "
                 "'week' (Monday), 'month' or 'year', as epoch milliseconds.",
                 {{"date_trunc('hour', " + t + ")", "1705312800000"},
                  {"format_time(date_trunc('month', " + t + "))", "\"2024-01-01T00:00:00Z\""}},
                 date_trunc_fn);
}

// ---- arrays and objects ------------------------------------------------------------------

using ValueSet = std::unordered_set<Value, ValueHash>;

Value set_op(Args a, int op) {
  if (!a[0].is_array() || !a[1].is_array()) return {};
  const Array& x = a[0].as_array();
  const Array& y = a[1].as_array();
  ValueSet other;
  if (op != 2) other.insert(y.begin(), y.end());
  ValueSet seen;
  Array out;
  auto take = [&](const Value& v) {
    if (seen.insert(v).second) out.push_back(v);
  };
  for (const auto& v : x) {
    const bool in_other = other.count(v) != 0;
    if (op == 0 && in_other) take(v);   // intersect
    if (op == 1 && !in_other) take(v);  // except
    if (op == 2) take(v);               // union
  }
  if (op == 2)
    for (const auto& v : y) take(v);
  return out;
}

Value element_at_fn(Args a) {
  if (a[0].is_object()) {
    if (!a[1].is_string()) return {};
    const Value* v = a[0].find(a[1].as_string());
    return v ? *v : Value();
  }
  if (!a[0].is_array()) return {};
  auto i = int_arg(a[1]);
  if (!i || *i == 0) return {};
  const Value* v = a[0].at(*i > 0 ? *i - 1 : *i);  // 1-based; negative counts from the end
  return v ? *v : Value();
}

void register_collections(FunctionRegistry& r) {
  const std::string fam = "array";
  add_documented(r, fam, "cardinality", {"array_length"}, 1, 1, "cardinality(value) -> int",
                 "Elements of an array or keys of an object; NULL for anything else.",
                 {{"cardinality(array_create(1, 2, 3))", "3"}, {"array_length(v)", "2", {R"({"v":[7,8]})"}}},
                 [](Args a) -> Value {
                   if (a[0].is_array()) return static_cast<std::int64_t>(a[0].as_array().size());
                   if (a[0].is_object()) return static_cast<std::int64_t>(a[0].as_object().size());
                   return {};
                 });
  add_documented(r, fam, "array_contains", {}, 2, 2, "array_contains(array, value) -> bool",
                 "Whether the array holds value (1 and 1.0 are equal).",
                 {{"array_contains(tags, 'hot')", "true", {R"({"tags":["dry","hot"]})"}}},
                 [](Args a) -> Value {
                   if (!a[0].is_array() || a[1].is_null()) return {};
                   for (const auto& v : a[0].as_array())
                     if (v == a[1]) return true;
                   return false;
                 });
  add_documented(r, fam, "array_intersect", {}, 2, 2, "array_intersect(a1, a2) -> array",
                 "Distinct elements of a1 also in a2, in a1's order.",
                 {{"array_intersect(array_create(1, 2, 2, 3), array_create(3, 2))", "[2,3]"}},
                 [](Args a) { return set_op(a, 0); });
  add_documented(r, fam, "array_except", {}, 2, 2, "array_except(a1, a2) -> array",
                 "Distinct elements of a1 not in a2, in a1's order.",
                 {{"array_except(array_create(1, 2, 2, 3), array_create(3))", "[1,2]"}},
                 [](Args a) { return set_op(a, 1); });
  add_documented(r, fam, "array_union", {}, 2, 2, "array_union(a1, a2) -> array",
                 "Distinct elements of a1 then of a2, first occurrence first.",
                 {{"array_union(array_create(1, 2), array_create(2, 3))", "[1,2,3]"}},
                 [](Args a) { return set_op(a, 2); });
  add_documented(r, fam, "array_distinct", {}, 1, 1, "array_distinct(array) -> array",
                 "The array without repeated elements, first occurrence first.",
                 {{"array_distinct(array_create('a', 'b', 'a'))", R"(["a","b"])"}},
                 [](Args a) -> Value {
                   if (!a[0].is_array()) return {};
                   ValueSet seen;
                   Array out;
                   for (const auto& v : a[0].as_array())
                     if (seen.insert(v).second) out.push_back(v);
                   return out;
                 });
  add_documented(r, fam, "element_at", {}, 2, 2, "element_at(array_or_object, index_or_key) -> value",
                 "The array element at a 1-BASED index (negative counts from the end; eKuiper's "
                 "index is 0-based: its element_at(a, 0) is element_at(a, 1) here), or the "
                 "object's value under key; NULL when absent.",
                 {{"element_at(array_create('a', 'b', 'c'), 1)", "\"a\""},
                  {"element_at(array_create('a', 'b', 'c'), -1)", "\"c\""},
                  {"element_at(m, 'k')", "2", {R"({"m":{"k":2}})"}}},
                 element_at_fn);
  add_documented(r, fam, "object_keys", {}, 1, 1, "object_keys(object) -> array",
                 "The object's keys in message order.",
                 {{"object_keys(m)", R"(["b","a"])", {R"({"m":{"b":1,"a":2}})"}}},
                 [](Args a) -> Value {
                   if (!a[0].is_object()) return {};
                   Array out;
                   for (const auto& [k, v] : a[0].as_object()) out.emplace_back(k);
                   return out;
                 });
  add_documented(r, fam, "object_values", {}, 1, 1, "object_values(object) -> array",
                 "The object's values in message order.",
                 {{"object_values(m)", "[1,2]", {R"({"m":{"b":1,"a":2}})"}}},
                 [](Args a) -> Value {
                   if (!a[0].is_object()) return {};
                   Array out;
                   for (const auto& [k, v] : a[0].as_object()) out.push_back(v);
                   return out;
                 });
}

}  // namespace

// Shared with the other families (declared in common.h).
namespace fn {

std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += !is_continuation(c);
  return n;
}

std::vector<std::string_view> utf8_chars(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t end = pos + 1;
    while (end < s.size() && is_continuation(s[end])) ++end;
    out.push_back(s.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

//! Compiled patterns, per thread (each worker has its own): rules use a handful of constant
//! patterns, so a small cache makes regexp_matches cost one search, not one compile.
std::shared_ptr<const std::regex> compiled_regex(const std::string& pattern) {
  thread_local std::unordered_map<std::string, std::shared_ptr<const std::regex>> cache;
  if (auto it = cache.find(pattern); it != cache.end()) return it->second;
  if (cache.size() >= 256) cache.clear();  // patterns built from data must not grow it forever
  std::shared_ptr<const std::regex> re;
  try {
    re = std::make_shared<const std::regex>(pattern, std::regex::ECMAScript);
  } catch (const std::exception&) {
    re = nullptr;  // an invalid pattern gives NULL, and is remembered as invalid
  }
  cache.emplace(pattern, re);
  return re;
}

std::optional<Value> parse_number(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (s.empty()) return std::nullopt;
  std::string_view digits = s.front() == '+' ? s.substr(1) : s;
  std::int64_t i;
  auto ri = std::from_chars(digits.data(), digits.data() + digits.size(), i);
  if (ri.ec == std::errc() && ri.ptr == digits.data() + digits.size()) return Value(i);
  double d;
  auto rd = std::from_chars(digits.data(), digits.data() + digits.size(), d);
  if (rd.ec == std::errc() && rd.ptr == digits.data() + digits.size() && std::isfinite(d))
    return Value(d);
  return std::nullopt;
}

Value to_number(const Value& v) {
  if (v.is_number()) return v;
  if (v.is_bool()) return std::int64_t{v.as_bool() ? 1 : 0};
  if (v.is_string()) {
    if (auto n = parse_number(v.as_string())) return *n;
  }
  return {};
}

Value to_bigint(const Value& v) {
  const Value n = to_number(v);
  if (n.is_int() || n.is_null()) return n;
  // Truncation toward zero, like SQLite's CAST (the oracle the tests compare with).
  const double d = std::trunc(n.as_double_exact());
  if (!std::isfinite(d) || d < -9.2e18 || d > 9.2e18) return {};
  return static_cast<std::int64_t>(d);
}

Civil civil(TimeNs t) {
  Civil c{};
  const TimeNs secs = floor_div(t, kNsPerSec);
  c.nanos = t - secs * kNsPerSec;
  c.days = floor_div(secs, 86400);
  const std::int64_t sod = secs - c.days * 86400;
  c.hour = static_cast<int>(sod / 3600);
  c.minute = static_cast<int>((sod / 60) % 60);
  c.second = static_cast<int>(sod % 60);
  civil_from_days(c.days, c.year, c.month, c.day);
  return c;
}

//! Time arguments also accept numeric text ("1700000000000"), common in CSV-ish payloads.
std::optional<TimeNs> any_time(const Value& v) {
  if (auto t = time_arg(v)) return t;
  if (v.is_string()) {
    if (auto n = parse_number(v.as_string())) return time_arg(*n);
  }
  return std::nullopt;
}

}  // namespace fn

void register_scalar_builtins(FunctionRegistry& r) {
  register_math(r);
  register_strings(r);
  register_conditional(r);
  register_conversions(r);
  register_time(r);
  register_collections(r);
}

}  // namespace streamgate::rules
