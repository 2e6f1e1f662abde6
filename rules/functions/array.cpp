// Array functions missing next to scalar.cpp's (cardinality, array_contains, element_at, set
// operations). Positions are 1-based like SQL; results are bounded (kMaxElements).
#include <algorithm>
#include <string>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using fn::add_documented;

constexpr std::size_t kMaxElements = 100'000;

Value position(Args a, bool last) {
  if (!a[0].is_array() || a[1].is_null()) return {};
  const Array& arr = a[0].as_array();
  std::int64_t found = 0;
  for (std::size_t i = 0; i < arr.size(); ++i) {
    if (arr[i] == a[1]) {
      found = static_cast<std::int64_t>(i) + 1;
      if (!last) break;
    }
  }
  return found;
}

//! min (want < 0) or max (want > 0) of the non-NULL elements.
Value extreme(const Value& v, int want) {
  if (!v.is_array()) return {};
  const Value* best = nullptr;
  for (const Value& e : v.as_array()) {
    if (e.is_null()) continue;
    if (!best || compare(e, *best) * want > 0) best = &e;
  }
  return best ? *best : Value();
}

void flatten(const Array& in, Array& out, int depth) {
  for (const Value& e : in) {
    if (out.size() >= kMaxElements) return;
    if (e.is_array() && depth > 0) flatten(e.as_array(), out, depth - 1);
    else out.push_back(e);
  }
}

}  // namespace

void register_array_builtins(FunctionRegistry& r) {
  const std::string fam = "array";
  add_documented(r, fam, "array_create", {"array"}, 0, -1, "array_create(v1, v2, ...) -> array",
                 "An array of the arguments; the literal [v1, v2, ...] is the same (eKuiper's "
                 "spelling).",
                 {{"array_create(1, 'a', null)", R"([1,"a",null])"}, {"[1, 'a', [2]]", R"([1,"a",[2]])"}},
                 [](Args a) -> Value { return Array(a.data, a.data + a.size); });
  add_documented(r, fam, "array_position", {}, 2, 2, "array_position(array, value) -> int",
                 "1-based position of the first element equal to value; 0 when absent.",
                 {{"array_position(array_create('a', 'b', 'a'), 'a')", "1"}},
                 [](Args a) { return position(a, false); });
  add_documented(r, fam, "array_last_position", {}, 2, 2, "array_last_position(array, value) -> int",
                 "1-based position of the last equal element; 0 when absent.",
                 {{"array_last_position(array_create('a', 'b', 'a'), 'a')", "3"}},
                 [](Args a) { return position(a, true); });
  add_documented(r, fam, "array_remove", {}, 2, 2, "array_remove(array, value) -> array",
                 "The array without the elements equal to value.",
                 {{"array_remove(array_create(1, 2, 1, 3), 1)", "[2,3]"}}, [](Args a) -> Value {
                   if (!a[0].is_array()) return {};
                   Array out;
                   for (const Value& e : a[0].as_array())
                     if (!(e == a[1])) out.push_back(e);
                   return out;
                 });
  add_documented(r, fam, "array_join", {}, 2, 3, "array_join(array, separator [, null_text]) -> text",
                 "Elements as text joined by separator; NULL elements are skipped unless null_text "
                 "is given.",
                 {{"array_join(array_create('a', null, 'c'), '-')", "\"a-c\""},
                  {"array_join(array_create('a', null, 'c'), '-', '?')", "\"a-?-c\""}},
                 [](Args a) -> Value {
                   if (!a[0].is_array() || !a[1].is_string()) return {};
                   const bool replace_nulls = a.size > 2 && a[2].is_string();
                   std::string out;
                   bool first = true;
                   for (const Value& e : a[0].as_array()) {
                     if (e.is_null() && !replace_nulls) continue;
                     if (!first) out += a[1].as_string();
                     first = false;
                     out += e.is_null() ? a[2].as_string() : e.to_text();
                     if (out.size() > (1 << 20)) return {};
                   }
                   return out;
                 });
  add_documented(r, fam, "array_max", {}, 1, 1, "array_max(array) -> value",
                 "Largest non-NULL element (the ORDER BY order).",
                 {{"array_max(array_create(3, 9, 4))", "9"}}, [](Args a) { return extreme(a[0], 1); });
  add_documented(r, fam, "array_min", {}, 1, 1, "array_min(array) -> value",
                 "Smallest non-NULL element.", {{"array_min(array_create(3, 9, 4))", "3"}},
                 [](Args a) { return extreme(a[0], -1); });
  add_documented(r, fam, "array_sum", {}, 1, 1, "array_sum(array) -> number",
                 "Sum of the numeric elements (others skipped); int when all are ints.",
                 {{"array_sum(array_create(1, 2.5, 'x'))", "3.5"}}, [](Args a) -> Value {
                   if (!a[0].is_array()) return {};
                   std::int64_t isum = 0;
                   double dsum = 0;
                   bool all_int = true, any = false, overflow = false;
                   for (const Value& e : a[0].as_array()) {
                     if (!e.is_number()) continue;
                     any = true;
                     if (e.is_int() && all_int && !overflow) {
                       overflow = __builtin_add_overflow(isum, e.as_int(), &isum);
                     } else {
                       all_int = false;
                     }
                     dsum += e.as_number();
                   }
                   if (!any) return {};
                   if (all_int && !overflow) return isum;
                   return fn::finite(dsum);
                 });
  add_documented(r, fam, "array_avg", {}, 1, 1, "array_avg(array) -> float",
                 "Mean of the numeric elements.", {{"array_avg(array_create(1, 2, 6))", "3.0"}},
                 [](Args a) -> Value {
                   if (!a[0].is_array()) return {};
                   double sum = 0;
                   std::size_t n = 0;
                   for (const Value& e : a[0].as_array())
                     if (e.is_number()) {
                       sum += e.as_number();
                       ++n;
                     }
                   if (n == 0) return {};
                   return fn::finite(sum / static_cast<double>(n));
                 });
  add_documented(r, fam, "array_sort", {}, 1, 2, "array_sort(array [, descending = false]) -> array",
                 "Elements in ORDER BY order (NULL first).",
                 {{"array_sort(array_create(3, 1, 2))", "[1,2,3]"},
                  {"array_sort(array_create('b', 'a'), true)", R"(["b","a"])"}},
                 [](Args a) -> Value {
                   if (!a[0].is_array()) return {};
                   const bool desc = a.size > 1 && a[1].is_true();
                   Array out = a[0].as_array();
                   std::stable_sort(out.begin(), out.end(), [desc](const Value& x, const Value& y) {
                     return desc ? compare(x, y) > 0 : compare(x, y) < 0;
                   });
                   return out;
                 });
  add_documented(r, fam, "array_reverse", {}, 1, 1, "array_reverse(array) -> array",
                 "Elements in reverse order.", {{"array_reverse(array_create(1, 2, 3))", "[3,2,1]"}},
                 [](Args a) -> Value {
                   if (!a[0].is_array()) return {};
                   Array out(a[0].as_array().rbegin(), a[0].as_array().rend());
                   return out;
                 });
  add_documented(r, fam, "array_concat", {}, 1, -1, "array_concat(a1, a2, ...) -> array",
                 "The arrays one after another (NULL arguments skipped).",
                 {{"array_concat(array_create(1), array_create(2, 3))", "[1,2,3]"}}, [](Args a) -> Value {
                   Array out;
                   for (std::size_t i = 0; i < a.size; ++i) {
                     if (a[i].is_null()) continue;
                     if (!a[i].is_array()) return {};
                     if (out.size() + a[i].as_array().size() > kMaxElements) return {};
                     out.insert(out.end(), a[i].as_array().begin(), a[i].as_array().end());
                   }
                   return out;
                 });
  add_documented(r, fam, "array_flatten", {}, 1, 2, "array_flatten(array [, depth = 1]) -> array",
                 "Elements of nested arrays lifted `depth` levels.",
                 {{"array_flatten(parse_json('[1,[2,[3]]]'))", "[1,2,[3]]"}}, [](Args a) -> Value {
                   if (!a[0].is_array()) return {};
                   std::int64_t depth = 1;
                   if (a.size > 1) {
                     auto d = fn::int_arg(a[1]);
                     if (!d || *d < 0) return {};
                     depth = std::min<std::int64_t>(*d, 64);
                   }
                   Array out;
                   flatten(a[0].as_array(), out, static_cast<int>(depth));
                   return out;
                 });
  add_documented(r, fam, "array_slice", {}, 2, 3, "array_slice(array, from [, to]) -> array",
                 "Elements from position `from` to `to` inclusive (1-based; negative counts from "
                 "the end; `to` defaults to the last).",
                 {{"array_slice(array_create(1, 2, 3, 4), 2, 3)", "[2,3]"},
                  {"array_slice(array_create(1, 2, 3, 4), -2)", "[3,4]"}},
                 [](Args a) -> Value {
                   if (!a[0].is_array()) return {};
                   const Array& arr = a[0].as_array();
                   const auto n = static_cast<std::int64_t>(arr.size());
                   auto from = fn::int_arg(a[1]);
                   auto to = a.size > 2 ? fn::int_arg(a[2]) : std::optional<std::int64_t>(n);
                   if (!from || !to) return {};
                   auto norm = [n](std::int64_t p) { return p < 0 ? n + p + 1 : p; };
                   const std::int64_t lo = std::max<std::int64_t>(1, norm(*from));
                   const std::int64_t hi = std::min<std::int64_t>(n, norm(*to));
                   Array out;
                   for (std::int64_t i = lo; i <= hi; ++i) out.push_back(arr[static_cast<std::size_t>(i - 1)]);
                   return out;
                 });
  add_documented(r, fam, "array_contains_any", {}, 2, 2, "array_contains_any(array, values) -> bool",
                 "Whether any element of `values` is in `array`.",
                 {{"array_contains_any(array_create(1, 2), array_create(5, 2))", "true"}},
                 [](Args a) -> Value {
                   if (!a[0].is_array() || !a[1].is_array()) return {};
                   for (const Value& v : a[1].as_array())
                     if (std::find(a[0].as_array().begin(), a[0].as_array().end(), v) != a[0].as_array().end())
                       return true;
                   return false;
                 });
  add_documented(r, fam, "sequence", {}, 2, 3, "sequence(start, stop [, step = 1]) -> array",
                 "Integers from start to stop inclusive (at most 100,000).",
                 {{"sequence(1, 7, 3)", "[1,4,7]"}}, [](Args a) -> Value {
                   auto start = fn::int_arg(a[0]);
                   auto stop = fn::int_arg(a[1]);
                   auto step = a.size > 2 ? fn::int_arg(a[2]) : std::optional<std::int64_t>(1);
                   if (!start || !stop || !step || *step == 0) return {};
                   Array out;
                   for (std::int64_t v = *start; *step > 0 ? v <= *stop : v >= *stop;) {
                     if (out.size() >= kMaxElements) return {};
                     out.emplace_back(v);
                     if (__builtin_add_overflow(v, *step, &v)) break;
                   }
                   return out;
                 });
}

}  // namespace streamgate::rules
