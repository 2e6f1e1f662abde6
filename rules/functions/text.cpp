// String splitting, regular expressions and small text helpers missing next to scalar.cpp's
// string functions. Positions and lengths count UTF-8 code points. Regular expressions are
// std::regex (ECMAScript); inputs longer than fn::kMaxRegexInput (64 KiB) give NULL because
// libstdc++'s matcher recurses per character, and results are bounded (kMaxParts, kMaxBuilt).
#include <limits>
#include <string>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using fn::add_documented;
using fn::any_null;

constexpr std::size_t kMaxParts = 10'000;
constexpr std::size_t kMaxBuilt = 1 << 20;

//! The n-th (1-based; negative from the end) `sep`-separated part of s; NULL when out of range.
Value nth_part(std::string_view s, std::string_view sep, std::int64_t n) {
  std::vector<std::string_view> parts;
  if (sep.empty()) {
    parts.push_back(s);
  } else {
    std::size_t pos = 0;
    for (;;) {
      const auto hit = s.find(sep, pos);
      if (hit == std::string_view::npos || parts.size() + 1 >= kMaxParts) break;
      parts.push_back(s.substr(pos, hit - pos));
      pos = hit + sep.size();
    }
    parts.push_back(s.substr(pos));
  }
  const auto size = static_cast<std::int64_t>(parts.size());
  if (n == 0 || n > size || n < -size) return {};
  return parts[static_cast<std::size_t>(n > 0 ? n - 1 : size + n)];
}

std::function<Value(Args)> part_fn(bool zero_based) {
  return [zero_based](Args a) -> Value {
    if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
    auto n = fn::int_arg(a[2]);
    if (!n) return {};
    std::int64_t k = *n;
    if (zero_based && k >= 0) {
      if (k == std::numeric_limits<std::int64_t>::max()) return {};
      ++k;
    }
    return nth_part(a[0].as_string(), a[1].as_string(), k);
  };
}

std::string_view prefix_chars(std::string_view s, std::size_t n) {
  auto chars = fn::utf8_chars(s);
  if (n >= chars.size()) return s;
  return s.substr(0, static_cast<std::size_t>(chars[n].data() - s.data()));
}

}  // namespace

void register_text_builtins(FunctionRegistry& r) {
  const std::string fam = "text";
  add_documented(r, fam, "split_part", {}, 3, 3, "split_part(text, separator, n) -> text",
                 "The n-th part (1-based; negative counts from the end) of text split at "
                 "separator; NULL when there is no such part.",
                 {{"split_part('devices/d1/telemetry', '/', 2)", "\"d1\""},
                  {"split_part('a,b,c', ',', -1)", "\"c\""}},
                 part_fn(false));
  add_documented(r, fam, "split_value", {}, 3, 3, "split_value(text, separator, index) -> text",
                 "eKuiper's spelling of split_part with a 0-based index.",
                 {{"split_value('a/b/c', '/', 0)", "\"a\""}}, part_fn(true));
  add_documented(r, fam, "regexp_split", {}, 2, 2, "regexp_split(text, pattern) -> array",
                 "Text split at every match of a regular expression (at most 10,000 parts).",
                 {{"regexp_split('a1b22c', '[0-9]+')", R"(["a","b","c"])"}}, [](Args a) -> Value {
                   if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
                   const std::string& s = a[0].as_string();
                   if (s.size() > fn::kMaxRegexInput) return {};
                   auto re = fn::compiled_regex(a[1].as_string());
                   if (!re) return {};
                   Array out;
                   try {
                     std::sregex_token_iterator it(s.begin(), s.end(), *re, -1), end;
                     for (; it != end && out.size() < kMaxParts; ++it) out.emplace_back(it->str());
                   } catch (const std::exception&) {
                     return {};
                   }
                   return out;
                 });
  add_documented(r, fam, "regexp_count", {}, 2, 2, "regexp_count(text, pattern) -> int",
                 "Number of non-overlapping matches of a regular expression.",
                 {{"regexp_count('a1b22c333', '[0-9]+')", "3"}}, [](Args a) -> Value {
                   if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
                   const std::string& s = a[0].as_string();
                   if (s.size() > fn::kMaxRegexInput) return {};
                   auto re = fn::compiled_regex(a[1].as_string());
                   if (!re) return {};
                   try {
                     return static_cast<std::int64_t>(
                         std::distance(std::sregex_iterator(s.begin(), s.end(), *re), std::sregex_iterator()));
                   } catch (const std::exception&) {
                     return {};
                   }
                 });
  add_documented(r, fam, "reverse", {}, 1, 1, "reverse(text) -> text",
                 "The characters (code points) in reverse order.", {{"reverse('héllo')", "\"olléh\""}},
                 [](Args a) -> Value {
                   if (!a[0].is_string()) return {};
                   auto chars = fn::utf8_chars(a[0].as_string());
                   std::string out;
                   out.reserve(a[0].as_string().size());
                   for (auto it = chars.rbegin(); it != chars.rend(); ++it) out.append(*it);
                   return out;
                 });
  add_documented(r, fam, "repeat", {}, 2, 2, "repeat(text, n) -> text",
                 "text n times (NULL beyond 1 MiB).", {{"repeat('ab', 3)", "\"ababab\""}},
                 [](Args a) -> Value {
                   if (any_null(a) || !a[0].is_string()) return {};
                   auto n = fn::int_arg(a[1]);
                   if (!n || *n < 0) return {};
                   const std::string& s = a[0].as_string();
                   if (!s.empty() && static_cast<std::size_t>(*n) > kMaxBuilt / s.size()) return {};
                   std::string out;
                   for (std::int64_t i = 0; i < *n; ++i) out += s;
                   return out;
                 });
  add_documented(r, fam, "left", {}, 2, 2, "left(text, n) -> text", "The first n characters.",
                 {{"left('sensor-42', 6)", "\"sensor\""}}, [](Args a) -> Value {
                   if (any_null(a) || !a[0].is_string()) return {};
                   auto n = fn::int_arg(a[1]);
                   if (!n || *n < 0) return {};
                   return prefix_chars(a[0].as_string(), static_cast<std::size_t>(*n));
                 });
  add_documented(r, fam, "right", {}, 2, 2, "right(text, n) -> text", "The last n characters.",
                 {{"right('sensor-42', 2)", "\"42\""}}, [](Args a) -> Value {
                   if (any_null(a) || !a[0].is_string()) return {};
                   auto n = fn::int_arg(a[1]);
                   if (!n || *n < 0) return {};
                   const std::string_view s = a[0].as_string();
                   auto chars = fn::utf8_chars(s);
                   if (*n == 0) return std::string();
                   if (static_cast<std::size_t>(*n) >= chars.size()) return s;
                   return s.substr(static_cast<std::size_t>(chars[chars.size() - static_cast<std::size_t>(*n)].data() - s.data()));
                 });
  add_documented(r, fam, "contains", {}, 2, 2, "contains(text, part) -> bool",
                 "Whether text contains part.", {{"contains('overheat', 'heat')", "true"}},
                 [](Args a) -> Value {
                   if (any_null(a) || !a[0].is_string() || !a[1].is_string()) return {};
                   return a[0].as_string().find(a[1].as_string()) != std::string::npos;
                 });
  add_documented(r, fam, "numbytes", {"octet_length"}, 1, 1, "numbytes(text) -> int",
                 "Length in bytes (UTF-8), where length() counts characters.",
                 {{"numbytes('café')", "5"}}, [](Args a) -> Value {
                   if (!a[0].is_string()) return {};
                   return static_cast<std::int64_t>(a[0].as_string().size());
                 });
  add_documented(r, fam, "chr", {}, 1, 1, "chr(code) -> text",
                 "The character of a Unicode code point (NULL for surrogates and beyond U+10FFFF; "
                 "0 is refused).",
                 {{"chr(233)", "\"é\""}}, [](Args a) -> Value {
                   auto c = fn::int_arg(a[0]);
                   if (!c || *c <= 0 || *c > 0x10FFFF || (*c >= 0xD800 && *c <= 0xDFFF)) return {};
                   const auto u = static_cast<std::uint32_t>(*c);
                   std::string out;
                   if (u < 0x80) {
                     out += static_cast<char>(u);
                   } else if (u < 0x800) {
                     out += static_cast<char>(0xC0 | (u >> 6));
                     out += static_cast<char>(0x80 | (u & 0x3F));
                   } else if (u < 0x10000) {
                     out += static_cast<char>(0xE0 | (u >> 12));
                     out += static_cast<char>(0x80 | ((u >> 6) & 0x3F));
                     out += static_cast<char>(0x80 | (u & 0x3F));
                   } else {
                     out += static_cast<char>(0xF0 | (u >> 18));
                     out += static_cast<char>(0x80 | ((u >> 12) & 0x3F));
                     out += static_cast<char>(0x80 | ((u >> 6) & 0x3F));
                     out += static_cast<char>(0x80 | (u & 0x3F));
                   }
                   return out;
                 });
}

}  // namespace streamgate::rules
