// Anomaly detection for issue 5, per key and row by row: rolling z-score, EWMA with a deviation
// band, and a threshold with hysteresis. All O(1) per row amortised, bounded, checkpointable.
#include <algorithm>
#include <cmath>
#include <deque>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxZscoreWindow = 10'000;

bool valid_number(const Value& v) { return v.is_number() && std::isfinite(v.as_number()); }

//! zscore(x, n): how many standard deviations x lies from the mean of the previous values of the
//! key (x itself excluded, so a spike does not dampen its own score). n is a count (the last n
//! values) or a duration text ('10m': the values of the last 10 minutes of event time, at most
//! kMaxZscoreWindow of them). NULL until two previous values exist, and when they are all equal
//! but x differs (the deviation would be infinite).
class ZscoreState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t event_time) override {
    if (!valid_number(a[0])) return {};
    std::size_t max_count = kMaxZscoreWindow;
    std::optional<TimeNs> span;
    if (a[1].is_string()) {
      span = parse_duration(a[1].as_string());
      if (!span || *span <= 0) return {};
    } else {
      auto n = fn::int_arg(a[1]);
      if (!n || *n < 2) return {};
      max_count = static_cast<std::size_t>(std::min<std::int64_t>(*n, kMaxZscoreWindow));
    }
    const double x = a[0].as_number();
    if (span && event_time > kTimeMin + *span) {
      while (!window_.empty() && window_.front().t <= event_time - *span) pop();
    }
    Value out;
    const auto m = static_cast<double>(window_.size());
    if (window_.size() >= 2) {
      const double mean = shift_ + s1_ / m;
      const double var = std::max(0.0, (s2_ - s1_ * s1_ / m) / (m - 1));
      const double sd = std::sqrt(var);
      // A relative floor: rounding noise of a constant series must not read as a deviation.
      if (sd > 1e-12 * std::max(1.0, std::fabs(mean))) out = (x - mean) / sd;
      else if (std::fabs(x - mean) <= 1e-12 * std::max(1.0, std::fabs(mean))) out = 0.0;
    }
    push({event_time, x});
    while (window_.size() > max_count) pop();
    return out;
  }
  json save() const override {
    json values = json::array();
    for (const auto& s : window_) values.push_back(json::array({s.t, s.x}));
    // The running sums are saved as they are, so a restored state scores bit-for-bit the same.
    return {{"values", std::move(values)},
            {"shift", fn::save_double(shift_)},
            {"s1", fn::save_double(s1_)},
            {"s2", fn::save_double(s2_)},
            {"removed", removed_}};
  }
  void restore(const json& j) override {
    window_.clear();
    if (const json* arr = fn::json_field(j, "values"); arr && arr->is_array())
      for (const auto& e : *arr)
        if (e.is_array() && e.size() == 2 && e[0].is_number_integer() && e[1].is_number() &&
            window_.size() < kMaxZscoreWindow)
          window_.push_back({e[0].get<std::int64_t>(), e[1].get<double>()});
    rebuild();
    const double s1 = fn::load_double(j, "s1", NAN), s2 = fn::load_double(j, "s2", NAN);
    if (!window_.empty() && std::isfinite(s1) && std::isfinite(s2) && fn::json_field(j, "shift")) {
      shift_ = fn::load_double(j, "shift");
      s1_ = s1;
      s2_ = s2;
      removed_ = static_cast<std::size_t>(std::max<std::int64_t>(0, fn::json_int(j, "removed")));
    }
  }

 private:
  struct Sample {
    TimeNs t;
    double x;
  };
  void push(Sample s) {
    if (window_.empty()) {
      shift_ = s.x;
      s1_ = s2_ = 0;
    }
    window_.push_back(s);
    const double d = s.x - shift_;
    s1_ += d;
    s2_ += d * d;
  }
  void pop() {
    const double d = window_.front().x - shift_;
    s1_ -= d;
    s2_ -= d * d;
    window_.pop_front();
    // Running sums drift as values leave; recomputing once per window's worth of removals
    // keeps them exact at O(1) amortised cost.
    if (++removed_ >= std::max<std::size_t>(window_.size(), 64)) rebuild();
  }
  void rebuild() {
    removed_ = 0;
    s1_ = s2_ = 0;
    if (window_.empty()) return;
    double mean = 0;
    for (const auto& s : window_) mean += s.x;
    // Shifting by the mean keeps sum-of-squares cancellation away (values like 1e9 +- 0.1).
    shift_ = mean / static_cast<double>(window_.size());
    for (const auto& s : window_) {
      const double d = s.x - shift_;
      s1_ += d;
      s2_ += d * d;
    }
  }

  std::deque<Sample> window_;
  double shift_ = 0, s1_ = 0, s2_ = 0;
  std::size_t removed_ = 0;
};

std::optional<double> alpha_arg(const Value& v) {
  if (!valid_number(v)) return std::nullopt;
  const double alpha = v.as_number();
  if (!(alpha > 0 && alpha <= 1)) return std::nullopt;
  return alpha;
}

//! Exponentially weighted mean and variance (West's incremental form), shared by ewma and
//! ewma_band.
struct Ewm {
  std::int64_t n = 0;
  double mean = 0, var = 0;
  void add(double x, double alpha) {
    if (n++ == 0) {
      mean = x;
      var = 0;
      return;
    }
    const double diff = x - mean;
    const double incr = alpha * diff;
    mean += incr;
    var = (1 - alpha) * (var + diff * incr);
  }
  json save() const {
    return {{"n", n}, {"mean", fn::save_double(mean)}, {"var", fn::save_double(var)}};
  }
  void restore(const json& j) {
    n = fn::json_int(j, "n");
    mean = fn::load_double(j, "mean");
    var = fn::load_double(j, "var");
  }
};

//! ewma(x, alpha): the exponentially weighted mean including x; the first value starts it.
class EwmaState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t) override {
    auto alpha = alpha_arg(a[1]);
    if (!valid_number(a[0]) || !alpha) return {};
    ewm_.add(a[0].as_number(), *alpha);
    return ewm_.mean;
  }
  json save() const override { return ewm_.save(); }
  void restore(const json& j) override { ewm_.restore(j); }

 private:
  Ewm ewm_;
};

//! ewma_band(x, alpha, k): true when x lies more than k weighted standard deviations from the
//! weighted mean of the earlier values (x is judged before it joins them). NULL until two
//! earlier values exist.
class EwmaBandState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t) override {
    auto alpha = alpha_arg(a[1]);
    if (!valid_number(a[0]) || !alpha || !valid_number(a[2]) || a[2].as_number() < 0) return {};
    const double x = a[0].as_number();
    Value out;
    if (ewm_.n >= 2) out = std::fabs(x - ewm_.mean) > a[2].as_number() * std::sqrt(ewm_.var);
    ewm_.add(x, *alpha);
    return out;
  }
  json save() const override { return ewm_.save(); }
  void restore(const json& j) override { ewm_.restore(j); }

 private:
  Ewm ewm_;
};

//! threshold_cross(x, high, low): hysteresis. Becomes true when x >= high and stays true until
//! x <= low, so a value hovering between the two does not flap an alert.
class ThresholdCrossState final : public StatefulState {
 public:
  Value call(Args a, std::int64_t) override {
    if (!valid_number(a[0]) || !valid_number(a[1]) || !valid_number(a[2])) return {};
    const double x = a[0].as_number(), high = a[1].as_number(), low = a[2].as_number();
    if (low > high) return {};
    if (!active_ && x >= high) active_ = true;
    else if (active_ && x <= low) active_ = false;
    return active_;
  }
  json save() const override { return {{"active", active_}}; }
  void restore(const json& j) override {
    const json* f = fn::json_field(j, "active");
    active_ = f && f->is_boolean() && f->get<bool>();
  }

 private:
  bool active_ = false;
};

}  // namespace

void fn::register_anomaly_builtins(FunctionRegistry& r) {
  add_documented_analytic<ZscoreState>(
      r, "zscore", {}, 2, 2, "zscore(x, n) -> float",
      "How many (sample) standard deviations x lies from the mean of the key's previous values, "
      "x itself excluded; n is a count (the last n values) or a duration text ('10m' of event "
      "time). NULL until two previous values exist.",
      {{"zscore(v, 10)", "8.0", rows_of({"1", "2", "3", "10"})}});
  add_documented_analytic<EwmaState>(
      r, "ewma", {}, 2, 2, "ewma(x, alpha) -> float",
      "Exponentially weighted moving average of the key's x including this row (0 < alpha <= "
      "1: the new value's weight); the first value starts it.",
      {{"ewma(v, 0.5)", "22.5", rows_of({"10", "20", "30"})}});
  add_documented_analytic<EwmaBandState>(
      r, "ewma_band", {"ewma_anomaly"}, 3, 3, "ewma_band(x, alpha, k) -> bool",
      "true when x lies more than k exponentially weighted standard deviations from the "
      "weighted mean of the key's earlier values (x is judged before it joins them); NULL until "
      "two earlier values exist.",
      {{"ewma_band(v, 0.5, 3)", "true", rows_of({"10", "20", "40"})},
       {"ewma_band(v, 0.5, 3)", "false", rows_of({"10", "20", "20"})}});
  add_documented_analytic<ThresholdCrossState>(
      r, "threshold_cross", {}, 3, 3, "threshold_cross(x, high, low) -> bool",
      "Hysteresis: becomes true when x >= high and stays true until x <= low, so a value "
      "hovering between the two does not flap an alert.",
      {{"threshold_cross(v, 80, 70)", "true", rows_of({"85", "75"})},
       {"threshold_cross(v, 80, 70)", "false", rows_of({"85", "75", "65"})}});
}

}  // namespace streamgate::rules
