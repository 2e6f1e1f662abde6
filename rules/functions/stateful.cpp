// Built-in analytic functions that remember earlier rows of the same key: lag, latest,
// changed_col, had_changed, first_seen. Each keeps bounded memory and checkpoints as JSON.
#include <algorithm>
#include <deque>
#include <list>
#include <unordered_map>
#include <vector>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using nlohmann::json;

constexpr std::int64_t kMaxLag = 1'000;
constexpr std::size_t kMaxFirstSeen = 100'000;
constexpr TimeNs kDefaultFirstSeenTtl = 24 * 3600 * kNsPerSec;

Value load_value(const json& j, const char* key) {
  const json* f = fn::json_field(j, key);
  return f ? Value::from_nlohmann(*f) : Value();
}

//! lag(x[, n = 1[, default]]): x of the row n rows back (NULLs count as rows), else default.
class LagState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t) override {
    std::int64_t n = 1;
    bool valid = true;
    if (a.size > 1) {
      auto k = fn::int_arg(a[1]);
      valid = k && *k >= 0 && *k <= kMaxLag;
      if (valid) n = *k;
    }
    Value out;
    if (valid) {
      keep_ = std::max<std::size_t>(keep_, static_cast<std::size_t>(n));
      if (n == 0) out = a[0];
      else if (history_.size() >= static_cast<std::size_t>(n)) out = history_[history_.size() - n];
      else if (a.size > 2) out = a[2];
    }
    history_.push_back(a[0]);
    while (history_.size() > keep_) history_.pop_front();
    return out;
  }
  json save() const override {
    json values = json::array();
    for (const auto& v : history_) values.push_back(v.to_nlohmann());
    return {{"keep", keep_}, {"values", std::move(values)}};
  }
  void restore(const json& j) override {
    keep_ = static_cast<std::size_t>(std::clamp<std::int64_t>(fn::json_int(j, "keep", 1), 1, kMaxLag));
    history_.clear();
    if (const json* arr = fn::json_field(j, "values"); arr && arr->is_array())
      for (const auto& e : *arr) history_.push_back(Value::from_nlohmann(e));
    while (history_.size() > keep_) history_.pop_front();
  }

 private:
  std::deque<Value> history_;  // most recent at the back
  std::size_t keep_ = 1;
};

//! latest(x[, default]): the last non-NULL x seen, this row included.
class LatestState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t) override {
    if (!a[0].is_null()) {
      last_ = a[0];
      seen_ = true;
    }
    if (seen_) return last_;
    return a.size > 1 ? a[1] : Value();
  }
  json save() const override { return seen_ ? json{{"v", last_.to_nlohmann()}} : json::object(); }
  void restore(const json& j) override {
    seen_ = fn::json_field(j, "v") != nullptr;
    last_ = load_value(j, "v");
  }

 private:
  Value last_;
  bool seen_ = false;
};

//! changed_col(ignore_null, x): x when it differs from the previous x (the first row counts as
//! a change), else NULL. With ignore_null, NULL rows neither report nor reset anything.
class ChangedColState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t) override {
    const bool ignore_null = a[0].is_true();
    const Value& x = a[1];
    if (ignore_null && x.is_null()) return {};
    if (seen_ && x == prev_) return {};
    prev_ = x;
    seen_ = true;
    return x;
  }
  json save() const override { return seen_ ? json{{"v", prev_.to_nlohmann()}} : json::object(); }
  void restore(const json& j) override {
    seen_ = fn::json_field(j, "v") != nullptr;
    prev_ = load_value(j, "v");
  }

 private:
  Value prev_;
  bool seen_ = false;
};

//! had_changed(ignore_null, x, ...): true when any x differs from its value on the previous row.
class HadChangedState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t) override {
    const bool ignore_null = a[0].is_true();
    const std::size_t n = a.size - 1;
    if (prev_.size() < n) {
      prev_.resize(n);
      seen_.resize(n, false);
    }
    bool changed = false;
    for (std::size_t i = 0; i < n; ++i) {
      const Value& x = a[i + 1];
      if (ignore_null && x.is_null()) continue;
      if (!seen_[i] || !(x == prev_[i])) {
        changed = true;
        prev_[i] = x;
        seen_[i] = true;
      }
    }
    return changed;
  }
  json save() const override {
    json arr = json::array();
    // Unseen positions are saved as {} so they stay distinct from a seen NULL.
    for (std::size_t i = 0; i < prev_.size(); ++i)
      arr.push_back(seen_[i] ? json{{"v", prev_[i].to_nlohmann()}} : json::object());
    return {{"prev", std::move(arr)}};
  }
  void restore(const json& j) override {
    prev_.clear();
    seen_.clear();
    const json* arr = fn::json_field(j, "prev");
    if (!arr || !arr->is_array()) return;
    for (const auto& e : *arr) {
      seen_.push_back(fn::json_field(e, "v") != nullptr);
      prev_.push_back(load_value(e, "v"));
    }
  }

 private:
  std::vector<Value> prev_;
  std::vector<bool> seen_;
};

//! first_seen(x[, ttl = '24h']): true the first time x is seen. A value is forgotten after ttl
//! without being seen (event time), and at most kMaxFirstSeen values are kept, the least
//! recently seen going first: this is "new users" with state that cleans itself up.
class FirstSeenState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t event_time) override {
    if (a[0].is_null()) return {};
    TimeNs ttl = kDefaultFirstSeenTtl;
    if (a.size > 1) {
      auto d = fn::duration_arg(a[1]);
      if (!d || *d <= 0) return {};
      ttl = *d;
    }
    now_ = std::max(now_, event_time);
    // Entries last seen at or before `horizon` have expired.
    const TimeNs horizon = now_ > kTimeMin + ttl ? now_ - ttl : kTimeMin;
    while (!order_.empty() && order_.front().last <= horizon && now_ != kTimeMin) {
      index_.erase(order_.front().value);
      order_.pop_front();
    }
    auto it = index_.find(a[0]);
    if (it != index_.end()) {
      // Out-of-order times can leave an expired entry behind the list front: check it too.
      const bool expired = it->second->last <= horizon && now_ != kTimeMin;
      it->second->last = std::max(it->second->last, event_time);
      order_.splice(order_.end(), order_, it->second);
      return expired;
    }
    order_.push_back({a[0], event_time});
    index_.emplace(a[0], std::prev(order_.end()));
    if (order_.size() > kMaxFirstSeen) {
      index_.erase(order_.front().value);
      order_.pop_front();
    }
    return true;
  }
  json save() const override {
    json entries = json::array();
    for (const auto& e : order_) entries.push_back(json::array({e.value.to_nlohmann(), e.last}));
    return {{"now", now_}, {"entries", std::move(entries)}};
  }
  void restore(const json& j) override {
    order_.clear();
    index_.clear();
    now_ = fn::json_int(j, "now", kTimeMin);
    const json* arr = fn::json_field(j, "entries");
    if (!arr || !arr->is_array()) return;
    for (const auto& e : *arr) {
      if (!e.is_array() || e.size() != 2 || !e[1].is_number_integer()) continue;
      Value v = Value::from_nlohmann(e[0]);
      if (index_.count(v) != 0 || order_.size() >= kMaxFirstSeen) continue;
      order_.push_back({v, e[1].get<std::int64_t>()});
      index_.emplace(std::move(v), std::prev(order_.end()));
    }
  }

 private:
  struct Entry {
    Value value;
    TimeNs last;
  };
  std::list<Entry> order_;  // least recently seen first
  std::unordered_map<Value, std::list<Entry>::iterator, ValueHash> index_;
  TimeNs now_ = kTimeMin;  // the largest event time seen: expiry never runs backwards
};

}  // namespace

void register_stateful_builtins(FunctionRegistry& r) {
  using fn::add_documented_analytic;
  using fn::rows_of;
  add_documented_analytic<LagState>(
      r, "lag", {}, 1, 3, "lag(x [, n = 1 [, default]]) -> value",
      "x of the row n rows back in the key (NULL rows count), else default (NULL); n at most "
      "1,000.",
      {{"lag(v)", "2", rows_of({"1", "2", "3"})}, {"lag(v, 2, 0)", "0", rows_of({"1", "2"})}});
  add_documented_analytic<LatestState>(
      r, "latest", {}, 1, 2, "latest(x [, default]) -> value",
      "The last non-NULL x of the key, this row included (a gap-filling 'last known value'); "
      "default until there is one.",
      {{"latest(v)", "1", rows_of({"1", "null"})}, {"latest(v, 0)", "0", rows_of({"null"})}});
  add_documented_analytic<ChangedColState>(
      r, "changed_col", {}, 2, 2, "changed_col(ignore_null, x) -> value",
      "x when it differs from the key's previous x (the first row counts as a change), else "
      "NULL; with ignore_null true, NULL rows are passed over (as eKuiper).",
      {{"changed_col(true, v)", "null", rows_of({"5", "5"})},
       {"changed_col(true, v)", "7", rows_of({"5", "null", "7"})}});
  add_documented_analytic<HadChangedState>(
      r, "had_changed", {}, 2, -1, "had_changed(ignore_null, x1, x2, ...) -> bool",
      "Whether any x differs from its value on the key's previous row (the first row counts as "
      "a change); with ignore_null true, NULL values are passed over (as eKuiper).",
      {{"had_changed(true, v)", "false", rows_of({"5", "null", "5"})},
       {"had_changed(true, v)", "true", rows_of({"5", "6"})}});
  add_documented_analytic<FirstSeenState>(
      r, "first_seen", {}, 1, 2, "first_seen(x [, ttl = '24h']) -> bool",
      "true the first time x is seen in the key; a value unseen for ttl (event time) is "
      "forgotten, and at most 100,000 values are kept (least recently seen dropped first).",
      {{"first_seen(v)", "false", rows_of({"\"a\"", "\"b\"", "\"a\""})},
       {"first_seen(v)", "true", rows_of({"\"a\"", "\"b\""})}});
  fn::register_anomaly_builtins(r);
}

}  // namespace streamgate::rules
