// Built-in aggregates. The hot ones (count, sum, avg, min, max) are small fixed-size states with
// no heap, because a group's states live side by side in its arena; the rest may own memory but
// are bounded (kMaxValues). NULL and wrong-typed inputs are ignored; nothing here throws.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using nlohmann::json;

//! Bound on values one state keeps (collect, median, distinct tables): the same order as the
//! engine's max_rows_per_window, so one group cannot take the box's memory.
constexpr std::size_t kMaxValues = 100'000;

//! Neumaier's compensated sum: money totals over thousands of events stay exact to the cent.
inline void compensated_add(double& sum, double& comp, double x) {
  const double t = sum + x;
  if (!std::isfinite(t)) {
    sum = t;
    return;
  }
  if (std::fabs(sum) >= std::fabs(x)) comp += (sum - t) + x;
  else comp += (x - t) + sum;
  sum = t;
}

inline double compensated_result(double sum, double comp) {
  return std::isfinite(sum) ? sum + comp : sum;
}

Value load_value(const json& j, const char* key) {
  const json* f = fn::json_field(j, key);
  return f ? Value::from_nlohmann(*f) : Value();
}

json save_values(const std::vector<Value>& values) {
  json arr = json::array();
  for (const auto& v : values) arr.push_back(v.to_nlohmann());
  return arr;
}

std::size_t value_heap_bytes(const Value& v) {
  if (v.is_string()) return v.as_string().capacity();
  if (v.is_array() || v.is_object()) return v.to_json().size();  // an estimate is enough
  return 0;
}

// ---- count, sum, avg ---------------------------------------------------------------------

struct CountState {
  std::int64_t n = 0;
  // Zero arguments is count(*): the engine passes every row.
  void add(Args a) { n += (a.empty() || !a[0].is_null()) ? 1 : 0; }
  void merge(const CountState& o) { n += o.n; }
  Value result() const { return n; }
  json save() const { return {{"n", n}}; }
  void save_cbor(std::vector<std::uint8_t>& out) const {
    append_cbor_head(out, 5, 1);
    append_cbor_text(out, "n");
    Value(n).append_cbor(out);
  }
  void restore(const json& j) { n = fn::json_int(j, "n"); }
};

struct SumState {
  enum Mode : std::uint8_t { kEmpty, kInt, kDouble };
  union {
    std::int64_t i = 0;
    double d;
  };
  double comp = 0;
  Mode mode = kEmpty;

  void to_double() {
    if (mode == kInt) {
      const double x = static_cast<double>(i);
      d = x;
      comp = 0;
    }
    mode = kDouble;
  }
  void add_double(double x) {
    if (mode != kDouble) {
      if (mode == kEmpty) d = 0;
      to_double();
    }
    compensated_add(d, comp, x);
  }
  void add_int(std::int64_t x) {
    if (mode == kEmpty) {
      i = x;
      mode = kInt;
    } else if (mode == kInt) {
      std::int64_t out;
      // Ints stay exact until they overflow; then the sum continues as a double.
      if (__builtin_add_overflow(i, x, &out)) add_double(static_cast<double>(x));
      else i = out;
    } else {
      compensated_add(d, comp, static_cast<double>(x));
    }
  }
  void add(Args a) {
    if (a.empty()) return;
    if (a[0].is_int()) add_int(a[0].as_int());
    else if (a[0].is_double()) add_double(a[0].as_double_exact());
  }
  void merge(const SumState& o) {
    if (o.mode == kInt) {
      add_int(o.i);
    } else if (o.mode == kDouble) {
      add_double(o.d);
      compensated_add(d, comp, o.comp);
    }
  }
  Value result() const {
    if (mode == kEmpty) return {};
    if (mode == kInt) return i;
    return compensated_result(d, comp);
  }
  json save() const {
    if (mode == kInt) return {{"i", i}};
    if (mode == kDouble) return {{"d", fn::save_double(d)}, {"c", fn::save_double(comp)}};
    return json::object();
  }
  void save_cbor(std::vector<std::uint8_t>& out) const {
    if (mode == kInt) {
      append_cbor_head(out, 5, 1);
      append_cbor_text(out, "i");
      Value(i).append_cbor(out);
    } else if (mode == kDouble) {
      append_cbor_head(out, 5, 2);
      append_cbor_text(out, "d");
      fn::append_cbor_double(out, d);
      append_cbor_text(out, "c");
      fn::append_cbor_double(out, comp);
    } else {
      append_cbor_head(out, 5, 0);
    }
  }
  void restore(const json& j) {
    mode = kEmpty;
    i = 0;
    comp = 0;
    if (fn::json_field(j, "i")) {
      i = fn::json_int(j, "i");
      mode = kInt;
    } else if (fn::json_field(j, "d")) {
      d = fn::load_double(j, "d");
      comp = fn::load_double(j, "c");
      mode = kDouble;
    }
  }
};

struct AvgState {
  std::int64_t n = 0;
  double sum = 0;
  double comp = 0;
  void add(Args a) {
    if (a.empty() || !a[0].is_number()) return;
    compensated_add(sum, comp, a[0].as_number());
    ++n;
  }
  void merge(const AvgState& o) {
    n += o.n;
    compensated_add(sum, comp, o.sum);
    compensated_add(sum, comp, o.comp);
  }
  Value result() const {
    if (n == 0) return {};
    return compensated_result(sum, comp) / static_cast<double>(n);
  }
  json save() const {
    return {{"n", n}, {"s", fn::save_double(sum)}, {"c", fn::save_double(comp)}};
  }
  void save_cbor(std::vector<std::uint8_t>& out) const {
    append_cbor_head(out, 5, 3);
    append_cbor_text(out, "n");
    Value(n).append_cbor(out);
    append_cbor_text(out, "s");
    fn::append_cbor_double(out, sum);
    append_cbor_text(out, "c");
    fn::append_cbor_double(out, comp);
  }
  void restore(const json& j) {
    n = fn::json_int(j, "n");
    sum = fn::load_double(j, "s");
    comp = fn::load_double(j, "c");
  }
};

// ---- min, max ----------------------------------------------------------------------------

//! Numbers are kept unboxed (the common case); any other comparable Value goes to the heap.
template <int Dir>  // +1 max, -1 min
struct ExtremumState {
  enum Kind : std::uint8_t { kEmpty, kInt, kDouble, kBoxed };
  union {
    std::int64_t i = 0;
    double d;
  };
  std::unique_ptr<Value> boxed;
  Kind kind = kEmpty;

  Value current() const {
    switch (kind) {
      case kInt: return i;
      case kDouble: return d;
      case kBoxed: return *boxed;
      default: return {};
    }
  }
  void set(const Value& v) {
    if (v.is_int()) {
      i = v.as_int();
      kind = kInt;
      boxed.reset();
    } else if (v.is_double()) {
      d = v.as_double_exact();
      kind = kDouble;
      boxed.reset();
    } else {
      boxed = std::make_unique<Value>(v);
      kind = kBoxed;
    }
  }
  void offer(const Value& v) {
    if (v.is_null()) return;
    if (v.is_double() && std::isnan(v.as_double_exact())) return;  // NaN orders with nothing
    if (kind == kEmpty) return set(v);
    if (kind != kBoxed && v.is_number()) {
      // Same rule as compare(): int vs int exactly, otherwise as doubles.
      bool better;
      if (kind == kInt && v.is_int()) better = Dir > 0 ? v.as_int() > i : v.as_int() < i;
      else {
        const double cur = kind == kInt ? static_cast<double>(i) : d;
        better = Dir > 0 ? v.as_number() > cur : v.as_number() < cur;
      }
      if (better) set(v);
      return;
    }
    if (compare(v, current()) * Dir > 0) set(v);
  }
  void add(Args a) {
    if (!a.empty()) offer(a[0]);
  }
  void merge(const ExtremumState& o) {
    if (o.kind != kEmpty) offer(o.current());
  }
  Value result() const { return current(); }
  json save() const {
    if (kind == kEmpty) return json::object();
    return {{"v", current().to_nlohmann()}};
  }
  void save_cbor(std::vector<std::uint8_t>& out) const {
    if (kind == kEmpty) return append_cbor_head(out, 5, 0);
    append_cbor_head(out, 5, 1);
    append_cbor_text(out, "v");
    current().append_cbor(out);
  }
  void restore(const json& j) {
    kind = kEmpty;
    boxed.reset();
    offer(load_value(j, "v"));
  }
  std::size_t heap_bytes() const {
    return boxed ? sizeof(Value) + value_heap_bytes(*boxed) : 0;
  }
};

// ---- variance and standard deviation (Welford, merged with Chan et al.) --------------------

enum class Spread { VarSamp, VarPop, StddevSamp, StddevPop };

template <Spread S>
struct VarianceState {
  std::int64_t n = 0;
  double mean = 0;
  double m2 = 0;
  void add(Args a) {
    if (a.empty() || !a[0].is_number()) return;
    const double x = a[0].as_number();
    if (!std::isfinite(x)) return;
    ++n;
    const double delta = x - mean;
    mean += delta / static_cast<double>(n);
    m2 += delta * (x - mean);
  }
  void merge(const VarianceState& o) {
    if (o.n == 0) return;
    if (n == 0) {
      *this = o;
      return;
    }
    const double na = static_cast<double>(n), nb = static_cast<double>(o.n);
    const double delta = o.mean - mean;
    const double total = na + nb;
    mean += delta * nb / total;
    m2 += o.m2 + delta * delta * na * nb / total;
    n += o.n;
  }
  Value result() const {
    const bool sample = S == Spread::VarSamp || S == Spread::StddevSamp;
    if (n == 0 || (sample && n < 2)) return {};
    const double var = std::max(0.0, m2) / static_cast<double>(sample ? n - 1 : n);
    const bool stddev = S == Spread::StddevSamp || S == Spread::StddevPop;
    return stddev ? std::sqrt(var) : var;
  }
  json save() const {
    return {{"n", n}, {"mean", fn::save_double(mean)}, {"m2", fn::save_double(m2)}};
  }
  void restore(const json& j) {
    n = fn::json_int(j, "n");
    mean = fn::load_double(j, "mean");
    m2 = fn::load_double(j, "m2");
  }
};

// ---- median and percentiles --------------------------------------------------------------

enum class Quantile { Median, Cont, Disc };

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

//! Exact up to kMaxValues numbers; beyond that a deterministic reservoir sample (so the result
//! is an estimate, but memory stays bounded and a replay gives the same answer).
template <Quantile Q>
struct QuantileState {
  mutable std::vector<double> values;
  mutable bool sorted = true;
  std::uint64_t seen = 0;
  double p = Q == Quantile::Median ? 0.5 : std::nan("");
  bool bad_p = false;
  bool all_int = true;

  void offer(double x, bool is_int) {
    ++seen;
    all_int &= is_int;
    if (values.size() < kMaxValues) {
      values.push_back(x);
      sorted = false;
      return;
    }
    const std::uint64_t j = splitmix64(seen) % seen;
    if (j < kMaxValues) {
      values[j] = x;
      sorted = false;
    }
  }
  void add(Args a) {
    if (a.empty() || !a[0].is_number()) return;
    const double x = a[0].as_number();
    if (std::isnan(x)) return;
    if constexpr (Q != Quantile::Median) {
      // The fraction is normally a constant; the first valid one wins.
      if (std::isnan(p)) {
        if (a.size < 2 || !a[1].is_number() || a[1].as_number() < 0 || a[1].as_number() > 1) {
          bad_p = true;
          return;
        }
        p = a[1].as_number();
      }
    }
    offer(x, a[0].is_int());
  }
  //! Exact while both sides are exact and hold kMaxValues values together. Beyond, a weighted
  //! compaction (each value stands for seen / size of its side): kMaxValues values at evenly
  //! spaced ranks of the union, so one merge of exact states misplaces a rank by at most
  //! N / (2 kMaxValues) of the N values (docs/scaling-out.md states the bound).
  void merge(const QuantileState& o) {
    if (std::isnan(p)) p = o.p;
    bad_p |= o.bad_p;
    all_int &= o.all_int;
    if (o.values.empty()) {
      seen += o.seen;
      return;
    }
    if (values.size() + o.values.size() <= kMaxValues && seen == values.size() && o.seen == o.values.size()) {
      values.insert(values.end(), o.values.begin(), o.values.end());
      seen += o.seen;
      sorted = false;
      return;
    }
    std::vector<std::pair<double, double>> weighted;
    weighted.reserve(values.size() + o.values.size());
    auto take = [&weighted](const std::vector<double>& vs, std::uint64_t n) {
      if (vs.empty()) return;
      const double w = static_cast<double>(std::max<std::uint64_t>(n, vs.size())) / static_cast<double>(vs.size());
      for (double v : vs) weighted.emplace_back(v, w);
    };
    take(values, seen);
    take(o.values, o.seen);
    std::sort(weighted.begin(), weighted.end());
    double total = 0;
    for (const auto& [v, w] : weighted) total += w;
    const std::size_t k = std::min(kMaxValues, weighted.size());
    std::vector<double> kept;
    kept.reserve(k);
    double cum = 0;
    std::size_t at = 0;
    for (std::size_t j = 0; j < k; ++j) {
      const double target = (static_cast<double>(j) + 0.5) * total / static_cast<double>(k);
      while (at + 1 < weighted.size() && cum + weighted[at].second < target) cum += weighted[at++].second;
      kept.push_back(weighted[at].first);
    }
    values = std::move(kept);
    seen += o.seen;
    sorted = true;
  }
  Value result() const {
    if (values.empty() || std::isnan(p)) return {};
    if (!sorted) {
      std::sort(values.begin(), values.end());
      sorted = true;
    }
    const std::size_t n = values.size();
    if constexpr (Q == Quantile::Disc) {
      // The smallest value whose cumulative share reaches p (SQL percentile_disc).
      auto idx = static_cast<std::int64_t>(std::ceil(p * static_cast<double>(n))) - 1;
      idx = std::clamp<std::int64_t>(idx, 0, static_cast<std::int64_t>(n) - 1);
      const double v = values[static_cast<std::size_t>(idx)];
      if (all_int && std::fabs(v) < 9.2e18) return static_cast<std::int64_t>(v);
      return v;
    } else {
      const double pos = p * static_cast<double>(n - 1);
      const auto lo = static_cast<std::size_t>(std::floor(pos));
      const std::size_t hi = std::min(lo + 1, n - 1);
      const double frac = pos - static_cast<double>(lo);
      return values[lo] + (values[hi] - values[lo]) * frac;
    }
  }
  json save() const {
    json arr = json::array();
    for (double v : values) arr.push_back(fn::save_double(v));
    json j = {{"values", std::move(arr)}, {"seen", seen}, {"all_int", all_int}};
    if (Q != Quantile::Median) {
      if (!std::isnan(p)) j["p"] = p;
      if (bad_p) j["bad_p"] = true;
    }
    return j;
  }
  void restore(const json& j) {
    values.clear();
    if (const json* arr = fn::json_field(j, "values"); arr && arr->is_array()) {
      for (const auto& e : *arr) {
        if (values.size() >= kMaxValues) break;
        if (e.is_number()) values.push_back(e.get<double>());
        else if (e.is_string()) values.push_back(fn::load_double(json{{"v", e}}, "v"));
      }
    }
    sorted = false;
    seen = static_cast<std::uint64_t>(
        std::max<std::int64_t>(fn::json_int(j, "seen"), static_cast<std::int64_t>(values.size())));
    const json* ai = fn::json_field(j, "all_int");
    all_int = ai && ai->is_boolean() ? ai->get<bool>() : false;
    if (Q != Quantile::Median) {
      p = fn::load_double(j, "p", std::nan(""));
      const json* b = fn::json_field(j, "bad_p");
      bad_p = b && b->is_boolean() && b->get<bool>();
    }
  }
  std::size_t heap_bytes() const { return values.capacity() * sizeof(double); }
};

// ---- first, last, collect, deduplicate ---------------------------------------------------

//! merge(into, from) treats `from` as the later part of the stream (the engine merges panes in
//! time order), so first_value keeps its own and last_value takes the other's. Across
//! partitions (merge_partition) no arrival order exists: each state carries the event time of
//! the row that set its value, first_value keeps the earliest and last_value the latest; on a
//! tie the smaller value (ORDER BY's order) is first and the greater last, so any order of
//! merges gives the same answer.
template <bool First>
struct EdgeValueState {
  Value v;
  std::int64_t t = INT64_MIN;  //!< event time of the row that set v; INT64_MIN: unknown
  bool seen = false;
  // Optional second argument as in eKuiper: ignore_null (default true); false lets a NULL be
  // the first/last value.
  void add(Args a) { add(a, INT64_MIN); }
  void add(Args a, std::int64_t event_time) {
    if (a.empty()) return;
    const bool ignore_null = a.size < 2 || !a[1].is_bool() || a[1].as_bool();
    if (ignore_null && a[0].is_null()) return;
    if (First && seen) return;
    v = a[0];
    t = event_time;
    seen = true;
  }
  void merge(const EdgeValueState& o) {
    if (!o.seen) return;
    if (First && seen) return;
    v = o.v;
    t = o.t;
    seen = true;
  }
  void merge_partition(const EdgeValueState& o) {
    if (!o.seen) return;
    if (seen) {
      if (First ? o.t > t : o.t < t) return;
      if (o.t == t && (First ? compare(o.v, v) >= 0 : compare(o.v, v) <= 0)) return;
    }
    v = o.v;
    t = o.t;
    seen = true;
  }
  Value result() const { return v; }
  json save() const { return seen ? json{{"v", v.to_nlohmann()}, {"t", t}} : json::object(); }
  //! A state saved before "t" existed restores with an unknown time (INT64_MIN).
  void restore(const json& j) {
    seen = fn::json_field(j, "v") != nullptr;
    v = load_value(j, "v");
    t = fn::json_int(j, "t", INT64_MIN);
  }
  std::size_t heap_bytes() const { return value_heap_bytes(v); }
};

struct CollectState {
  std::vector<Value> values;
  void add(Args a) {
    if (a.empty() || a[0].is_null() || values.size() >= kMaxValues) return;
    values.push_back(a[0]);
  }
  void merge(const CollectState& o) {
    for (const auto& v : o.values) {
      if (values.size() >= kMaxValues) break;
      values.push_back(v);
    }
  }
  Value result() const { return Array(values); }
  json save() const { return {{"values", save_values(values)}}; }
  void restore(const json& j) {
    values.clear();
    if (const json* arr = fn::json_field(j, "values"); arr && arr->is_array())
      for (const auto& e : *arr)
        if (values.size() < kMaxValues) values.push_back(Value::from_nlohmann(e));
  }
  std::size_t heap_bytes() const {
    std::size_t b = values.capacity() * sizeof(Value);
    for (const auto& v : values) b += value_heap_bytes(v);
    return b;
  }
};

//! merge_agg(object): the group's objects merged into one (eKuiper's merge_agg). A key seen
//! again takes the later value and keeps its first position; non-objects are ignored; at most
//! kMaxValues keys (later new keys are dropped). merge() treats `from` as the later part.
struct MergeAggState {
  Object merged;
  std::unordered_map<std::string, std::size_t> pos;
  bool seen = false;

  void put(const std::string& key, const Value& v) {
    if (auto it = pos.find(key); it != pos.end()) {
      merged[it->second].second = v;
      return;
    }
    if (merged.size() >= kMaxValues) return;
    pos.emplace(key, merged.size());
    merged.emplace_back(key, v);
  }
  void add(Args a) {
    if (a.empty() || !a[0].is_object()) return;
    seen = true;
    for (const auto& [k, v] : a[0].as_object()) put(k, v);
  }
  void merge(const MergeAggState& o) {
    seen |= o.seen;
    for (const auto& [k, v] : o.merged) put(k, v);
  }
  Value result() const { return seen ? Value(merged) : Value(); }
  // Pairs, not a JSON object: a checkpoint must keep the keys' order.
  json save() const {
    if (!seen) return json::object();
    json arr = json::array();
    for (const auto& [k, v] : merged) arr.push_back(json::array({k, v.to_nlohmann()}));
    return {{"pairs", std::move(arr)}};
  }
  void restore(const json& j) {
    merged.clear();
    pos.clear();
    const json* arr = fn::json_field(j, "pairs");
    seen = arr && arr->is_array();
    if (!seen) return;
    for (const auto& e : *arr)
      if (e.is_array() && e.size() == 2 && e[0].is_string())
        put(e[0].get<std::string>(), Value::from_nlohmann(e[1]));
  }
  std::size_t heap_bytes() const {
    std::size_t b = merged.capacity() * sizeof(merged[0]) + pos.bucket_count() * sizeof(void*);
    for (const auto& [k, v] : merged)
      b += 2 * k.capacity() + value_heap_bytes(v) + sizeof(std::size_t) + 2 * sizeof(void*);
    return b;
  }
};

//! Distinct values in first-seen order, each with how often it was seen. Shared by
//! deduplicate, mode, top_k, count_by and count_distinct.
struct FrequencyTable {
  std::vector<std::pair<Value, std::int64_t>> entries;
  std::unordered_map<Value, std::size_t, ValueHash> index;

  void add(const Value& v, std::int64_t count = 1) {
    auto it = index.find(v);
    if (it == index.end()) {
      if (entries.size() >= kMaxValues) return;  // new values beyond the bound are not tracked
      it = index.emplace(v, entries.size()).first;
      entries.emplace_back(v, 0);
    }
    entries[it->second].second += count;
  }
  void merge(const FrequencyTable& o) {
    for (const auto& [v, c] : o.entries) add(v, c);
  }
  json save() const {
    json arr = json::array();
    for (const auto& [v, c] : entries) arr.push_back(json::array({v.to_nlohmann(), c}));
    return {{"entries", std::move(arr)}};
  }
  void restore(const json& j) {
    entries.clear();
    index.clear();
    const json* arr = fn::json_field(j, "entries");
    if (!arr || !arr->is_array()) return;
    for (const auto& e : *arr) {
      if (!e.is_array() || e.size() != 2 || !e[1].is_number_integer()) continue;
      add(Value::from_nlohmann(e[0]), e[1].get<std::int64_t>());
    }
  }
  std::size_t heap_bytes() const {
    std::size_t b = entries.capacity() * sizeof(entries[0]) +
                    index.size() * (sizeof(Value) + sizeof(std::size_t) + 2 * sizeof(void*)) +
                    index.bucket_count() * sizeof(void*);
    for (const auto& [v, c] : entries) b += 2 * value_heap_bytes(v);
    return b;
  }
  //! Indices of entries by count descending, ties by value ascending (deterministic).
  std::vector<std::size_t> ranked() const {
    std::vector<std::size_t> order(entries.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (entries[a].second != entries[b].second) return entries[a].second > entries[b].second;
      return compare(entries[a].first, entries[b].first) < 0;
    });
    return order;
  }
};

//! The aggregates over a FrequencyTable differ only in their result.
template <class Derived>
struct FrequencyState {
  FrequencyTable table;
  void add(Args a) {
    if (!a.empty() && !a[0].is_null()) table.add(a[0]);
  }
  void merge(const Derived& o) { table.merge(o.table); }
  json save() const { return table.save(); }
  void restore(const json& j) { table.restore(j); }
  std::size_t heap_bytes() const { return table.heap_bytes(); }
};

struct DeduplicateState : FrequencyState<DeduplicateState> {
  Value result() const {
    Array out;
    out.reserve(table.entries.size());
    for (const auto& [v, c] : table.entries) out.push_back(v);
    return out;
  }
};

struct CountDistinctState : FrequencyState<CountDistinctState> {
  Value result() const { return static_cast<std::int64_t>(table.entries.size()); }
};

struct ModeState : FrequencyState<ModeState> {
  Value result() const {
    const std::pair<Value, std::int64_t>* best = nullptr;
    for (const auto& e : table.entries)
      if (!best || e.second > best->second ||
          (e.second == best->second && compare(e.first, best->first) < 0))
        best = &e;
    return best ? best->first : Value();
  }
};

//! {"US": 2, "CN": 1}: keys are the values' text, in first-seen order (1 and "1" share a key).
struct CountByState : FrequencyState<CountByState> {
  Value result() const {
    Object out;
    std::unordered_map<std::string, std::size_t> pos;
    for (const auto& [v, c] : table.entries) {
      std::string key = v.to_text();
      auto [it, inserted] = pos.emplace(key, out.size());
      if (inserted) out.emplace_back(std::move(key), c);
      else out[it->second].second = out[it->second].second.as_int() + c;
    }
    return out;
  }
};

constexpr std::int64_t kMaxTopK = 10'000;

struct TopKState {
  FrequencyTable table;
  std::int64_t k = -1;  // -1: no valid k seen yet
  void add(Args a) {
    if (a.size < 2) return;
    if (k < 0) {
      auto kk = fn::int_arg(a[1]);
      if (!kk || *kk < 0) return;
      k = std::min(*kk, kMaxTopK);
    }
    if (!a[0].is_null()) table.add(a[0]);
  }
  void merge(const TopKState& o) {
    if (k < 0) k = o.k;
    table.merge(o.table);
  }
  Value result() const {
    if (k < 0) return {};
    Array out;
    for (std::size_t idx : table.ranked()) {
      if (static_cast<std::int64_t>(out.size()) >= k) break;
      out.push_back(table.entries[idx].first);
    }
    return out;
  }
  json save() const {
    json j = table.save();
    j["k"] = k;
    return j;
  }
  void restore(const json& j) {
    table.restore(j);
    k = std::min(fn::json_int(j, "k", -1), kMaxTopK);
  }
  std::size_t heap_bytes() const { return table.heap_bytes(); }
};

// ---- trends: least-squares slope, value at the extreme --------------------------------------

//! slope(y, x): change of y per unit of x. trend(y, t): change of y per second of time t
//! (RFC 3339 text or epoch number, unit guessed as for TIMESTAMP).
template <bool Time>
struct SlopeState {
  std::int64_t n = 0;
  double mx = 0, my = 0, cxy = 0, m2x = 0;  // centred co-moments: epoch-sized x stays accurate

  void add(Args a) {
    if (a.size < 2 || !a[0].is_number()) return;
    double x;
    if constexpr (Time) {
      auto t = fn::time_arg(a[1]);
      if (!t) return;
      x = static_cast<double>(*t) / 1e9;
    } else {
      if (!a[1].is_number()) return;
      x = a[1].as_number();
    }
    const double y = a[0].as_number();
    if (!std::isfinite(x) || !std::isfinite(y)) return;
    ++n;
    const double dx = x - mx;
    mx += dx / static_cast<double>(n);
    my += (y - my) / static_cast<double>(n);
    cxy += dx * (y - my);
    m2x += dx * (x - mx);
  }
  void merge(const SlopeState& o) {
    if (o.n == 0) return;
    if (n == 0) {
      *this = o;
      return;
    }
    const double na = static_cast<double>(n), nb = static_cast<double>(o.n), total = na + nb;
    const double dx = o.mx - mx, dy = o.my - my;
    mx += dx * nb / total;
    my += dy * nb / total;
    cxy += o.cxy + dx * dy * na * nb / total;
    m2x += o.m2x + dx * dx * na * nb / total;
    n += o.n;
  }
  Value result() const {
    if (n < 2 || !(m2x > 0)) return {};
    const double s = cxy / m2x;
    return std::isfinite(s) ? Value(s) : Value();
  }
  json save() const {
    return {{"n", n}, {"mx", fn::save_double(mx)}, {"my", fn::save_double(my)},
            {"cxy", fn::save_double(cxy)}, {"m2x", fn::save_double(m2x)}};
  }
  void restore(const json& j) {
    n = fn::json_int(j, "n");
    mx = fn::load_double(j, "mx");
    my = fn::load_double(j, "my");
    cxy = fn::load_double(j, "cxy");
    m2x = fn::load_double(j, "m2x");
  }
};

//! max_by(value, by): the value on the row with the largest `by` (the earliest such row on ties),
//! e.g. max_by(window_start, sales) is the peak sales time.
template <int Dir>
struct ArgExtremumState {
  Value value;
  Value by;
  bool seen = false;
  void offer(const Value& v, const Value& b) {
    if (b.is_null() || (b.is_double() && std::isnan(b.as_double_exact()))) return;
    if (seen && compare(b, by) * Dir <= 0) return;
    value = v;
    by = b;
    seen = true;
  }
  void add(Args a) {
    if (a.size >= 2) offer(a[0], a[1]);
  }
  void merge(const ArgExtremumState& o) {
    if (o.seen) offer(o.value, o.by);
  }
  Value result() const { return value; }
  json save() const {
    if (!seen) return json::object();
    return {{"v", value.to_nlohmann()}, {"by", by.to_nlohmann()}};
  }
  void restore(const json& j) {
    seen = false;
    value = Value();
    by = Value();
    offer(load_value(j, "v"), load_value(j, "by"));
  }
  std::size_t heap_bytes() const { return value_heap_bytes(value) + value_heap_bytes(by); }
};

// The hot states must stay small: a window key with five of them has a 200-byte budget.
static_assert(sizeof(CountState) <= 8);
static_assert(sizeof(SumState) <= 24);
static_assert(sizeof(AvgState) <= 24);
static_assert(sizeof(ExtremumState<1>) <= 24);

//! Registers an aggregate under `name` and its aliases with its reference entry (examples are
//! run by tests/unit/rules/function_docs_test.cpp over a window of all their inputs).
template <class State>
void add_documented(FunctionRegistry& r, std::string name, std::vector<std::string> aliases,
                    int min_args, int max_args, std::string signature, std::string description,
                    std::vector<FunctionExample> examples) {
  r.register_aggregate<State>(name, min_args, max_args);
  for (const auto& alias : aliases) r.register_aggregate<State>(alias, min_args, max_args);
  r.document({std::move(name), "aggregate", FunctionKind::Aggregate, std::move(signature),
              std::move(description), std::move(examples), std::move(aliases)});
}


}  // namespace

void register_aggregate_builtins(FunctionRegistry& r) {
  using fn::rows_of;
  const auto nums = rows_of({"3", "1", "null", "2", "10"});
  add_documented<CountState>(r, "count", {}, 0, 1, "count(x) / count(*) -> int",
                             "Rows where x is not NULL; count(*) counts every row.",
                             {{"count(v)", "4", nums}, {"count(*)", "5", nums}});
  add_documented<SumState>(r, "sum", {}, 1, 1, "sum(x) -> number",
                           "Sum of the numbers (NULLs and non-numbers skipped): exact ints until "
                           "they overflow, floats with compensated (Neumaier) summation; NULL for "
                           "no numbers.",
                           {{"sum(v)", "16", nums}, {"sum(v)", "3.5", rows_of({"1.5", "2"})}});
  add_documented<AvgState>(r, "avg", {"mean"}, 1, 1, "avg(x) -> float",
                           "Mean of the numbers (NULLs skipped); NULL for no numbers.",
                           {{"avg(v)", "4.0", nums}});
  add_documented<ExtremumState<-1>>(r, "min", {}, 1, 1, "min(x) -> value",
                                    "Smallest value (numbers by value, text by bytes); NULLs "
                                    "skipped.",
                                    {{"min(v)", "1", nums}, {"min(v)", "\"a\"", rows_of({"\"b\"", "\"a\""})}});
  add_documented<ExtremumState<1>>(r, "max", {}, 1, 1, "max(x) -> value",
                                   "Largest value (numbers by value, text by bytes); NULLs "
                                   "skipped.",
                                   {{"max(v)", "10", nums}});
  const auto spread = rows_of({"2", "4", "4", "4", "5", "5", "7", "9"});
  // Where porting users look: stddev and var mean the POPULATION versions in StreamSQL and
  // eKuiper, the sample ones here (PostgreSQL, DuckDB); stddevs/vars are eKuiper's sample names,
  // stddevp/varp spell out the population ones (issue 16).
  add_documented<VarianceState<Spread::StddevSamp>>(
      r, "stddev", {"stddev_samp", "stddevs"}, 1, 1, "stddev(x) -> float",
      "SAMPLE standard deviation (divides by n - 1, as PostgreSQL and DuckDB); NULL for fewer "
      "than 2 values. StreamSQL's and eKuiper's stddev is the POPULATION one: write stddev_pop "
      "(or stddevp) there; their stddevs is this one.",
      {{"round(stddev(v), 4)", "2.1381", spread}, {"round(stddevs(v), 4)", "2.1381", spread}});
  add_documented<VarianceState<Spread::StddevPop>>(
      r, "stddev_pop", {"stddevp"}, 1, 1, "stddev_pop(x) -> float",
      "Population standard deviation (divides by n): StreamSQL's and eKuiper's stddev.",
      {{"stddev_pop(v)", "2.0", spread}, {"stddevp(v)", "2.0", spread}});
  add_documented<VarianceState<Spread::VarSamp>>(
      r, "variance", {"var", "var_samp", "vars"}, 1, 1, "variance(x) -> float",
      "SAMPLE variance (divides by n - 1); NULL for fewer than 2 values. StreamSQL's and "
      "eKuiper's var is the POPULATION one: write var_pop (or varp) there; their vars is this "
      "one.",
      {{"round(variance(v), 4)", "4.5714", spread}, {"round(vars(v), 4)", "4.5714", spread}});
  add_documented<VarianceState<Spread::VarPop>>(
      r, "var_pop", {"varp"}, 1, 1, "var_pop(x) -> float",
      "Population variance (divides by n): StreamSQL's and eKuiper's var.",
      {{"var_pop(v)", "4.0", spread}, {"varp(v)", "4.0", spread}});
  const auto ten = rows_of({"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"});
  add_documented<QuantileState<Quantile::Median>>(
      r, "median", {}, 1, 1, "median(x) -> number",
      "Middle value of the numbers (the mean of the two middle ones for an even count); exact up "
      "to 100,000 values per group, then a deterministic sample.",
      {{"median(v)", "2.5", nums}, {"median(v)", "2", rows_of({"3", "1", "2"})}});
  add_documented<QuantileState<Quantile::Cont>>(
      r, "percentile", {"percentile_cont"}, 2, 2, "percentile(x, p) -> float",
      "The p-quantile (0 <= p <= 1) interpolated between the two nearest values (SQL "
      "percentile_cont, NumPy's default); exact up to 100,000 values per group.",
      {{"percentile(v, 0.9)", "9.1", ten}, {"percentile_cont(v, 0.5)", "5.5", ten}});
  add_documented<QuantileState<Quantile::Disc>>(
      r, "percentile_disc", {}, 2, 2, "percentile_disc(x, p) -> number",
      "The smallest value whose share of the values at or below it reaches p: always one of the "
      "values (SQL percentile_disc).",
      {{"percentile_disc(v, 0.9)", "9", ten}, {"percentile_disc(v, 0.5)", "5", ten}});
  const auto gaps = rows_of({"null", "1", "2", "null"});
  add_documented<EdgeValueState<true>>(
      r, "first_value", {}, 1, 2, "first_value(x [, ignore_null = true]) -> value",
      "x of the group's first row in arrival order; NULLs are skipped unless ignore_null is "
      "false (as eKuiper). A fleet-wide rule in cluster mode merges the partitions' values by "
      "event time: the earliest wins (docs/scaling-out.md).",
      {{"first_value(v)", "1", gaps}, {"first_value(v, false)", "null", gaps}});
  add_documented<EdgeValueState<false>>(
      r, "last_value", {}, 1, 2, "last_value(x [, ignore_null = true]) -> value",
      "x of the group's last row in arrival order; NULLs are skipped unless ignore_null is "
      "false (as eKuiper). A fleet-wide rule in cluster mode merges the partitions' values by "
      "event time: the latest wins (docs/scaling-out.md).",
      {{"last_value(v)", "2", gaps}, {"last_value(v, false)", "null", gaps}});
  add_documented<CollectState>(
      r, "collect", {}, 1, 1, "collect(x) -> array",
      "The group's non-NULL values of x in arrival order (at most 100,000). eKuiper's collect(*) "
      "(whole rows) is refused here: collect the fields you need.",
      {{"collect(v)", "[3,1,2,10]", nums}});
  const auto words = rows_of({"\"b\"", "\"a\"", "\"b\"", "null", "\"c\"", "\"b\""});
  add_documented<DeduplicateState>(
      r, "deduplicate", {"collect_distinct"}, 1, 1, "deduplicate(x) -> array",
      "The group's distinct non-NULL values in first-seen order. eKuiper's deduplicate(x, all) "
      "with its second argument is not taken.",
      {{"deduplicate(v)", R"(["b","a","c"])", words}});
  add_documented<CountDistinctState>(r, "count_distinct", {}, 1, 1, "count_distinct(x) -> int",
                                     "Number of distinct non-NULL values; count(DISTINCT x) is "
                                     "the same.",
                                     {{"count_distinct(v)", "3", words}, {"count(DISTINCT v)", "3", words}});
  add_documented<ModeState>(r, "mode", {}, 1, 1, "mode(x) -> value",
                            "The most frequent non-NULL value; ties go to the smallest value.",
                            {{"mode(v)", "\"b\"", words}});
  add_documented<TopKState>(r, "top_k", {}, 2, 2, "top_k(x, k) -> array",
                            "The k most frequent non-NULL values, most frequent first (ties: "
                            "smallest value first); k at most 10,000.",
                            {{"top_k(v, 2)", R"(["b","a"])", words}});
  add_documented<CountByState>(r, "count_by", {"histogram"}, 1, 1, "count_by(x) -> object",
                               "How often each non-NULL value occurs, keyed by its text, in "
                               "first-seen order.",
                               {{"count_by(v)", R"({"b":3,"a":1,"c":1})", words}});
  add_documented<SlopeState<false>>(
      r, "slope", {}, 2, 2, "slope(y, x) -> float",
      "Least-squares slope of y over x (change of y per unit of x); NULL for fewer than 2 points "
      "or when x does not vary.",
      {{"slope(v, x)", "2.0", {R"({"v":1,"x":0})", R"({"v":3,"x":1})", R"({"v":5,"x":2})"}}});
  add_documented<SlopeState<true>>(
      r, "trend", {}, 2, 2, "trend(y, time) -> float",
      "Least-squares slope of y per SECOND of time (RFC 3339 text or an epoch number).",
      {{"trend(v, t)", "0.5",
        {R"({"v":10,"t":"2024-01-15T10:00:00Z"})", R"({"v":40,"t":"2024-01-15T10:01:00Z"})"}}});
  const auto sales = std::vector<std::string>{R"({"shop":"north","v":5})", R"({"shop":"south","v":9})",
                                              R"({"shop":"east","v":9})", R"({"shop":"west","v":2})"};
  add_documented<ArgExtremumState<1>>(
      r, "max_by", {"arg_max"}, 2, 2, "max_by(value, by) -> value",
      "value on the row with the largest `by` (the earliest such row on ties).",
      {{"max_by(shop, v)", "\"south\"", sales}});
  add_documented<ArgExtremumState<-1>>(
      r, "min_by", {"arg_min"}, 2, 2, "min_by(value, by) -> value",
      "value on the row with the smallest `by` (the earliest such row on ties).",
      {{"min_by(shop, v)", "\"west\"", sales}});
  add_documented<MergeAggState>(
      r, "merge_agg", {}, 1, 1, "merge_agg(object) -> object",
      "The group's objects merged into one: a key seen again takes the later value (keeping its "
      "first position); non-objects are skipped; NULL when there was no object. At most 100,000 "
      "keys.",
      {{"merge_agg(m)", R"({"a":1,"b":3,"c":4})",
        {R"({"m":{"a":1,"b":2}})", R"({"m":null})", R"({"m":{"b":3,"c":4}})"}}});
}

}  // namespace streamgate::rules
