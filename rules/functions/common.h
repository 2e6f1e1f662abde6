// Small conversions shared by the built-in function families (not a public API).
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <regex>
#include <vector>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "rules/time_util.h"
#include "rules/value.h"

#include "rules/function_registry.h"

namespace streamgate::rules::fn {

//! Anomaly-detection functions (anomaly.cpp), registered by register_stateful_builtins.
void register_anomaly_builtins(FunctionRegistry& r);

// ---- shared helpers defined in scalar.cpp --------------------------------------------------

//! A UTC calendar breakdown of a time.
struct Civil {
  std::int64_t year;
  unsigned month, day;
  int hour, minute, second;
  std::int64_t nanos;
  std::int64_t days;  // since 1970-01-01
};
Civil civil(TimeNs t);
using rules::days_from_civil;  // time_util.h
//! time_arg, also accepting numeric text ("1700000000000").
std::optional<TimeNs> any_time(const Value& v);
//! A whole decimal number (int when it fits, else double), blanks around allowed.
std::optional<Value> parse_number(std::string_view s);
Value to_number(const Value& v);
Value to_bigint(const Value& v);
std::size_t utf8_length(std::string_view s);
std::vector<std::string_view> utf8_chars(std::string_view s);
//! Standard base64 with padding (hash.cpp); decoding also takes the URL-safe alphabet.
std::string base64_encode(std::string_view in);
std::optional<std::string> base64_decode(std::string_view in);
//! A compiled ECMAScript regex from a per-thread cache; nullptr for an invalid pattern.
std::shared_ptr<const std::regex> compiled_regex(const std::string& pattern);
//! Longest subject a regex function accepts: libstdc++'s matcher recurses per character, so a
//! long input could exhaust the stack. Longer inputs give NULL.
inline constexpr std::size_t kMaxRegexInput = 64 * 1024;

//! Registers a scalar under `name` and its aliases, with its reference entry (examples are run by
//! tests/unit/rules/function_docs_test.cpp).
inline void add_documented(FunctionRegistry& r, std::string family, std::string name,
                           std::vector<std::string> aliases, int min_args, int max_args,
                           std::string signature, std::string description,
                           std::vector<FunctionExample> examples, std::function<Value(Args)> call) {
  r.add_scalar({name, min_args, max_args, call});
  for (const auto& alias : aliases) r.add_scalar({alias, min_args, max_args, call});
  r.document({std::move(name), std::move(family), FunctionKind::Scalar, std::move(signature),
              std::move(description), std::move(examples), std::move(aliases)});
}

//! Registers an analytic (per-key, row-by-row) function under `name` and its aliases with its
//! reference entry; examples give the value on their last input row.
template <class State>
void add_documented_analytic(FunctionRegistry& r, std::string name, std::vector<std::string> aliases,
                             int min_args, int max_args, std::string signature,
                             std::string description, std::vector<FunctionExample> examples) {
  auto create = [] { return std::unique_ptr<StatefulState>(std::make_unique<State>()); };
  r.add_stateful({name, min_args, max_args, create});
  for (const auto& alias : aliases) r.add_stateful({alias, min_args, max_args, create});
  r.document({std::move(name), "analytic", FunctionKind::Analytic, std::move(signature),
              std::move(description), std::move(examples), std::move(aliases)});
}

//! Example inputs: one message per value of field v.
inline std::vector<std::string> rows_of(std::initializer_list<const char*> values) {
  std::vector<std::string> out;
  for (const char* v : values) out.push_back(std::string(R"({"v":)") + v + "}");
  return out;
}

//! SQL NULL propagation: true when any argument is NULL.
inline bool any_null(Args a) {
  for (std::size_t i = 0; i < a.size; ++i)
    if (a[i].is_null()) return true;
  return false;
}

//! Finite doubles only: NaN and infinities are SQL errors, here NULL.
inline Value finite(double d) { return std::isfinite(d) ? Value(d) : Value(); }

//! An integer argument: ints, or doubles holding an integral value (2.0). Anything else: none.
inline std::optional<std::int64_t> int_arg(const Value& v) {
  if (v.is_int()) return v.as_int();
  if (v.is_double()) {
    const double d = v.as_double_exact();
    // 9.2e18 keeps the cast defined; beyond that no index or count makes sense anyway.
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 9.2e18)
      return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

inline std::optional<double> num_arg(const Value& v) {
  if (v.is_number()) return v.as_number();
  return std::nullopt;
}

//! A point in time: RFC 3339 text, or an epoch number whose unit is guessed from its magnitude
//! (the same rule as a stream's TIMESTAMP field, so epoch ms of any date after 1973 reads as ms).
inline std::optional<TimeNs> time_arg(const Value& v) {
  if (v.is_int()) {
    // The integer overload overflows (undefined behaviour) for epochs past year 2262 and for
    // INT64_MIN; the double overload range-checks, so it screens the value first.
    if (!epoch_number_to_ns(static_cast<double>(v.as_int()))) return std::nullopt;
    return epoch_number_to_ns(v.as_int());
  }
  if (v.is_double()) return epoch_number_to_ns(v.as_double_exact());
  if (v.is_string()) return parse_rfc3339(v.as_string());
  return std::nullopt;
}

//! A duration: text ("10m", "24h") or a number of seconds.
inline std::optional<TimeNs> duration_arg(const Value& v) {
  if (v.is_string()) return parse_duration(v.as_string());
  if (v.is_number()) {
    const double ns = v.as_number() * 1e9;
    if (std::isfinite(ns) && ns >= 0 && ns < 9.2e18) return static_cast<TimeNs>(std::llround(ns));
  }
  return std::nullopt;
}

//! Checkpoint fields are read defensively: a damaged checkpoint restores an empty state instead
//! of throwing out of the worker.
inline double json_num(const nlohmann::json& j, const char* key, double fallback = 0.0) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->get<double>();
}

inline std::int64_t json_int(const nlohmann::json& j, const char* key, std::int64_t fallback = 0) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_number_integer()) return it->get<std::int64_t>();
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (std::isfinite(d) && std::fabs(d) < 9.2e18) return static_cast<std::int64_t>(d);
  }
  return fallback;
}

inline const nlohmann::json* json_field(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

//! Doubles are saved as numbers when finite; NaN/Inf survive as strings (JSON has no literal).
inline nlohmann::json save_double(double d) {
  if (std::isfinite(d)) return d;
  if (std::isnan(d)) return "nan";
  return d > 0 ? "inf" : "-inf";
}

//! save_double(d) as CBOR.
inline void append_cbor_double(std::vector<std::uint8_t>& out, double d) {
  if (std::isfinite(d)) return Value(d).append_cbor(out);
  append_cbor_text(out, std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf"));
}

inline double load_double(const nlohmann::json& j, const char* key, double fallback = 0.0) {
  const nlohmann::json* f = json_field(j, key);
  if (f == nullptr) return fallback;
  if (f->is_number()) return f->get<double>();
  if (f->is_string()) {
    const auto& s = f->get_ref<const std::string&>();
    if (s == "nan") return std::nan("");
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
  }
  return fallback;
}

}  // namespace streamgate::rules::fn
