// Forecasts (predictive analytics, early warning): forecast_linear, forecast_holt and
// time_to_threshold, each both an aggregate (per group, in a window) and an analytic function
// (per partition, OVER (PARTITION BY ...) or outside windows). Values are fitted against event
// time in seconds; the planner passes the event time as an extra last argument to the
// aggregates (AggregateFunction::event_time_arg), the analytic calls receive it directly.
//
// Forecasts return an object {"value", "lower", "upper"}: the prediction `horizon` after the
// last event and a 95 % band (lower/upper NULL when the data cannot give one).
//   linear: ordinary least squares; the band is the prediction interval
//           value ± t(0.975, n-2) · s · sqrt(1 + 1/n + (t0 - mean_t)² / Sxx).
//   holt:   Holt's linear trend (double exponential smoothing) on irregular time, trend per
//           second; for evenly spaced rows it is exactly the textbook recurrence. Band:
//           value ± 1.96 · σ · sqrt(1 + (h-1)(α² + αβ'h + β'²h(2h-1)/6)), β' = αβ,
//           h = horizon / mean spacing (ETS(A,A,N), Hyndman & Athanasopoulos, table 7.8),
//           σ² the mean squared one-step-ahead error.
// Memory is bounded: linear fits keep five sums (aggregates) or the last kAnalyticPoints rows
// (analytic calls); Holt keeps O(1) state (analytic) or at most kMaxHoltPoints rows (a window's
// rows must be put in time order before the recurrence runs; later rows are dropped).
#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using nlohmann::json;

constexpr std::size_t kAnalyticPoints = 64;
constexpr std::size_t kMaxHoltPoints = 10'000;
constexpr double kDefaultAlpha = 0.5;
constexpr double kDefaultBeta = 0.3;

//! Two-sided 95 % quantile of Student's t with df degrees of freedom.
double t_quantile_975(std::int64_t df) {
  static constexpr double kTable[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                      2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                      2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                      2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
  if (df >= 1 && df <= 30) return kTable[df - 1];
  // Cornish-Fisher expansion around the normal quantile: within 1e-3 of the exact value here.
  const double z = 1.959964, d = static_cast<double>(df);
  return z + (z * z * z + z) / (4 * d) + (5 * std::pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * d * d);
}

Value band(double value, double half_width) {
  Object o;
  o.emplace_back("value", value);
  if (std::isfinite(half_width)) {
    o.emplace_back("lower", value - half_width);
    o.emplace_back("upper", value + half_width);
  } else {
    o.emplace_back("lower", Value());
    o.emplace_back("upper", Value());
  }
  return o;
}

double seconds(TimeNs t) { return static_cast<double>(t) / 1e9; }
// a - b in seconds, computed in double: event times are any int64 (a difference may overflow).
double seconds_between(TimeNs a, TimeNs b) { return (static_cast<double>(a) - static_cast<double>(b)) / 1e9; }

// ---- least squares --------------------------------------------------------------------------

//! Streaming least squares of x against t (Welford / Chan: stable and mergeable). Times are
//! seconds after `ref`, the first time seen, so epoch magnitudes do not eat the precision.
struct LinearFit {
  std::int64_t n = 0;
  TimeNs ref = 0;
  TimeNs last = 0;
  double mean_t = 0, mean_x = 0, m2_t = 0, m2_x = 0, c_tx = 0;

  void add(TimeNs t, double x) {
    if (n == 0) ref = last = t;
    last = std::max(last, t);
    const double ts = seconds_between(t, ref);
    ++n;
    const double dt = ts - mean_t;
    mean_t += dt / static_cast<double>(n);
    const double dx = x - mean_x;
    mean_x += dx / static_cast<double>(n);
    m2_t += dt * (ts - mean_t);
    m2_x += dx * (x - mean_x);
    c_tx += dt * (x - mean_x);
  }

  void merge(const LinearFit& o) {
    if (o.n == 0) return;
    if (n == 0) {
      *this = o;
      return;
    }
    const double shift = seconds_between(o.ref, ref);
    const double na = static_cast<double>(n), nb = static_cast<double>(o.n), nt = na + nb;
    const double dt = (o.mean_t + shift) - mean_t, dx = o.mean_x - mean_x;
    mean_t += dt * nb / nt;
    mean_x += dx * nb / nt;
    m2_t += o.m2_t + dt * dt * na * nb / nt;
    m2_x += o.m2_x + dx * dx * na * nb / nt;
    c_tx += o.c_tx + dt * dx * na * nb / nt;
    n += o.n;
    last = std::max(last, o.last);
  }

  bool usable() const { return n >= 2 && m2_t > 0; }
  double slope() const { return c_tx / m2_t; }
  double at(TimeNs t) const { return mean_x + slope() * (seconds_between(t, ref) - mean_t); }

  //! Prediction `horizon_s` seconds after the last row, with its 95 % prediction interval.
  Value forecast(double horizon_s) const {
    if (!usable()) return {};
    const double t0 = seconds_between(last, ref) + horizon_s;
    const double value = mean_x + slope() * (t0 - mean_t);
    if (!std::isfinite(value)) return {};
    if (n < 3) return band(value, NAN);
    const double sse = std::max(0.0, m2_x - c_tx * c_tx / m2_t);
    const double s = std::sqrt(sse / static_cast<double>(n - 2));
    const double d = t0 - mean_t;
    const double se = s * std::sqrt(1 + 1 / static_cast<double>(n) + d * d / m2_t);
    return band(value, t_quantile_975(n - 2) * se);
  }

  //! Seconds from the last row until the fitted line reaches `threshold`; NULL when it never
  //! does going forward (flat, moving away, or already past it).
  Value time_to(double threshold) const {
    if (!usable()) return {};
    const double s = slope();
    if (s == 0 || !std::isfinite(s)) return {};
    const double tau = (threshold - at(last)) / s;
    if (!std::isfinite(tau) || tau < 0) return {};
    return tau;
  }

  json save() const {
    return {{"n", n}, {"ref", ref}, {"last", last}, {"mt", fn::save_double(mean_t)},
            {"mx", fn::save_double(mean_x)}, {"m2t", fn::save_double(m2_t)},
            {"m2x", fn::save_double(m2_x)}, {"ctx", fn::save_double(c_tx)}};
  }
  void restore(const json& j) {
    n = std::max<std::int64_t>(0, fn::json_int(j, "n"));
    ref = fn::json_int(j, "ref");
    last = fn::json_int(j, "last");
    mean_t = fn::load_double(j, "mt");
    mean_x = fn::load_double(j, "mx");
    m2_t = fn::load_double(j, "m2t");
    m2_x = fn::load_double(j, "m2x");
    c_tx = fn::load_double(j, "ctx");
  }
};

//! The event time the planner appended as the last argument of an aggregate call.
std::optional<TimeNs> appended_time(Args a) {
  if (a.size == 0 || !a[a.size - 1].is_int()) return std::nullopt;
  return a[a.size - 1].as_int();
}

std::optional<double> horizon_arg(const Value& v) {
  auto d = fn::duration_arg(v);
  if (!d) return std::nullopt;
  return seconds(*d);
}

//! forecast_linear(x, horizon) / time_to_threshold(x, threshold) over a window.
template <bool kForecast>
struct LinearAgg {
  LinearFit fit;
  double param = NAN;  //!< horizon (s) or threshold: the last valid one of the window

  void add(Args a) {
    auto t = appended_time(a);
    if (!t) return;
    if (kForecast) {
      if (auto h = horizon_arg(a[1])) param = *h;
    } else if (auto thr = fn::num_arg(a[1])) {
      param = *thr;
    }
    if (auto x = fn::num_arg(a[0]); x && std::isfinite(*x)) fit.add(*t, *x);
  }
  void merge(const LinearAgg& o) {
    fit.merge(o.fit);
    if (!std::isnan(o.param)) param = o.param;
  }
  Value result() const {
    if (std::isnan(param)) return {};
    return kForecast ? fit.forecast(param) : fit.time_to(param);
  }
  json save() const {
    json j = fit.save();
    j["p"] = fn::save_double(param);
    return j;
  }
  void restore(const json& j) {
    fit.restore(j);
    param = fn::load_double(j, "p", NAN);
  }
};

// ---- Holt -------------------------------------------------------------------------------------

bool valid_smoothing(double v) { return std::isfinite(v) && v > 0 && v <= 1; }

//! Holt's linear trend on irregular time (see the file comment). Rows must come in time order;
//! an earlier row than the last is ignored.
struct Holt {
  double alpha = kDefaultAlpha, beta = kDefaultBeta;
  std::int64_t n = 0;       //!< rows taken
  TimeNs first = 0, last = 0;
  double level = 0, trend = 0;  //!< trend per second
  double sse = 0;           //!< one-step-ahead squared errors
  std::int64_t errors = 0;

  void add(TimeNs t, double x) {
    if (n > 0 && t < last) return;
    if (n == 0) {
      first = last = t;
      level = x;
      ++n;
      return;
    }
    const double dt = seconds_between(t, last);
    if (n == 1) {
      // The first two rows set level and trend (the textbook start l1 = x1, b1 = x2 - x1).
      if (dt > 0) trend = (x - level) / dt;
      level = dt > 0 ? x : alpha * x + (1 - alpha) * level;
    } else {
      const double predicted = level + trend * dt;
      const double err = x - predicted;
      sse += err * err;
      ++errors;
      const double next = alpha * x + (1 - alpha) * predicted;
      if (dt > 0) trend = beta * (next - level) / dt + (1 - beta) * trend;
      level = next;
    }
    last = t;
    ++n;
  }

  Value forecast(double horizon_s) const {
    if (n < 2 || last == first) return {};
    const double value = level + trend * horizon_s;
    if (!std::isfinite(value)) return {};
    if (errors == 0) return band(value, NAN);
    const double sigma = std::sqrt(sse / static_cast<double>(errors));
    const double spacing = seconds_between(last, first) / static_cast<double>(n - 1);
    const double h = std::max(1.0, horizon_s / spacing);
    const double b = alpha * beta;
    const double factor =
        1 + (h - 1) * (alpha * alpha + alpha * b * h + b * b * h * (2 * h - 1) / 6);
    return band(value, 1.959964 * sigma * std::sqrt(factor));
  }

  json save() const {
    return {{"a", fn::save_double(alpha)}, {"b", fn::save_double(beta)}, {"n", n},
            {"first", first}, {"last", last}, {"l", fn::save_double(level)},
            {"t", fn::save_double(trend)}, {"sse", fn::save_double(sse)}, {"e", errors}};
  }
  void restore(const json& j) {
    alpha = fn::load_double(j, "a", kDefaultAlpha);
    beta = fn::load_double(j, "b", kDefaultBeta);
    n = std::max<std::int64_t>(0, fn::json_int(j, "n"));
    first = fn::json_int(j, "first");
    last = fn::json_int(j, "last");
    level = fn::load_double(j, "l");
    trend = fn::load_double(j, "t");
    sse = fn::load_double(j, "sse");
    errors = std::max<std::int64_t>(0, fn::json_int(j, "e"));
  }
};

//! forecast_holt's optional smoothing arguments; nullopt when given but invalid.
std::optional<std::pair<double, double>> smoothing_args(Args a, std::size_t user_args) {
  double alpha = kDefaultAlpha, beta = kDefaultBeta;
  if (user_args > 2) {
    auto v = fn::num_arg(a[2]);
    if (!v || !valid_smoothing(*v)) return std::nullopt;
    alpha = *v;
  }
  if (user_args > 3) {
    auto v = fn::num_arg(a[3]);
    if (!v || !valid_smoothing(*v)) return std::nullopt;
    beta = *v;
  }
  return std::make_pair(alpha, beta);
}

//! forecast_holt over a window: rows are kept (bounded) and put in time order at the end.
struct HoltAgg {
  std::vector<std::pair<TimeNs, double>> points;
  double horizon = NAN, alpha = kDefaultAlpha, beta = kDefaultBeta;
  bool bad_smoothing = false;

  void add(Args a) {
    auto t = appended_time(a);
    if (!t) return;
    if (auto h = horizon_arg(a[1])) horizon = *h;
    if (auto s = smoothing_args(a, a.size - 1)) {
      alpha = s->first;
      beta = s->second;
    } else {
      bad_smoothing = true;
    }
    auto x = fn::num_arg(a[0]);
    if (x && std::isfinite(*x) && points.size() < kMaxHoltPoints) points.emplace_back(*t, *x);
  }
  void merge(const HoltAgg& o) {
    for (const auto& p : o.points)
      if (points.size() < kMaxHoltPoints) points.push_back(p);
    if (!std::isnan(o.horizon)) horizon = o.horizon;
    alpha = o.alpha;
    beta = o.beta;
    bad_smoothing = bad_smoothing || o.bad_smoothing;
  }
  Value result() const {
    if (std::isnan(horizon) || bad_smoothing) return {};
    auto sorted = points;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    Holt h;
    h.alpha = alpha;
    h.beta = beta;
    for (const auto& [t, x] : sorted) h.add(t, x);
    return h.forecast(horizon);
  }
  std::size_t heap_bytes() const { return points.capacity() * sizeof(points[0]); }
  json save() const {
    json pts = json::array();
    for (const auto& [t, x] : points) pts.push_back({t, fn::save_double(x)});
    return {{"p", std::move(pts)}, {"h", fn::save_double(horizon)}, {"a", fn::save_double(alpha)},
            {"b", fn::save_double(beta)}, {"bad", bad_smoothing}};
  }
  void restore(const json& j) {
    points.clear();
    if (const json* p = fn::json_field(j, "p"); p && p->is_array()) {
      for (const auto& e : *p) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number()) continue;
        if (points.size() < kMaxHoltPoints) points.emplace_back(e[0].get<TimeNs>(), e[1].get<double>());
      }
    }
    horizon = fn::load_double(j, "h", NAN);
    alpha = fn::load_double(j, "a", kDefaultAlpha);
    beta = fn::load_double(j, "b", kDefaultBeta);
    const json* bad = fn::json_field(j, "bad");
    bad_smoothing = bad && bad->is_boolean() && bad->get<bool>();
  }
};

// ---- analytic (per partition) -----------------------------------------------------------------

//! forecast_linear / time_to_threshold OVER (...): a fit over the partition's last
//! kAnalyticPoints rows, this one included.
template <bool kForecast>
class LinearAnalytic final : public StatefulState {
 public:
  Value call(Args a, std::int64_t t) override {
    if (auto x = fn::num_arg(a[0]); x && std::isfinite(*x)) {
      points_.emplace_back(t, *x);
      if (points_.size() > kAnalyticPoints) points_.pop_front();
    }
    LinearFit fit;
    for (const auto& [pt, px] : points_) fit.add(pt, px);
    if (kForecast) {
      auto h = horizon_arg(a[1]);
      return h ? fit.forecast(*h) : Value();
    }
    auto thr = fn::num_arg(a[1]);
    return thr ? fit.time_to(*thr) : Value();
  }
  json save() const override {
    json pts = json::array();
    for (const auto& [t, x] : points_) pts.push_back({t, fn::save_double(x)});
    return {{"p", std::move(pts)}};
  }
  void restore(const json& j) override {
    points_.clear();
    if (const json* p = fn::json_field(j, "p"); p && p->is_array()) {
      for (const auto& e : *p) {
        if (!e.is_array() || e.size() != 2 || !e[0].is_number_integer() || !e[1].is_number()) continue;
        points_.emplace_back(e[0].get<TimeNs>(), e[1].get<double>());
        if (points_.size() > kAnalyticPoints) points_.pop_front();
      }
    }
  }

 private:
  std::deque<std::pair<TimeNs, double>> points_;
};

class HoltAnalytic final : public StatefulState {
 public:
  Value call(Args a, std::int64_t t) override {
    auto s = smoothing_args(a, a.size);
    if (!s) return {};
    holt_.alpha = s->first;
    holt_.beta = s->second;
    if (auto x = fn::num_arg(a[0]); x && std::isfinite(*x)) holt_.add(t, *x);
    auto h = horizon_arg(a[1]);
    return h ? holt_.forecast(*h) : Value();
  }
  json save() const override { return holt_.save(); }
  void restore(const json& j) override { holt_.restore(j); }

 private:
  Holt holt_;
};

template <class State>
void add_analytic(FunctionRegistry& r, const char* name, int min_args, int max_args) {
  r.add_stateful({name, min_args, max_args, [] { return std::make_unique<State>(); }});
}

// Example series of the reference: a battery losing 1 % per 10 minutes from 50 %, with noise.
const std::vector<std::string> kBattery = {
    R"({"ts":"2024-01-15T10:00:00Z","battery":50})", R"({"ts":"2024-01-15T10:10:00Z","battery":49.2})",
    R"({"ts":"2024-01-15T10:20:00Z","battery":48.1})", R"({"ts":"2024-01-15T10:30:00Z","battery":46.9})",
    R"({"ts":"2024-01-15T10:40:00Z","battery":46.0})"};

}  // namespace

void register_forecast_builtins(FunctionRegistry& r) {
  r.register_aggregate<LinearAgg<true>>("forecast_linear", 2, 2, true);
  r.register_aggregate<LinearAgg<false>>("time_to_threshold", 2, 2, true);
  r.register_aggregate<HoltAgg>("forecast_holt", 2, 4, true);
  add_analytic<LinearAnalytic<true>>(r, "forecast_linear", 2, 2);
  add_analytic<LinearAnalytic<false>>(r, "time_to_threshold", 2, 2);
  add_analytic<HoltAnalytic>(r, "forecast_holt", 2, 4);

  r.document({"forecast_linear", "forecast", FunctionKind::Aggregate,
              "forecast_linear(x, horizon) -> {value, lower, upper}",
              "Least-squares line of x against event time, evaluated `horizon` (duration text "
              "like '2h', or seconds) after the last row, with a 95 % prediction interval "
              "(Student's t). In a window: over the group's rows; with OVER (PARTITION BY ...) or "
              "in a rule without window: over the partition's last 64 rows. NULL with fewer than "
              "2 rows at distinct times; lower/upper NULL with 2 rows.",
              {{"round(forecast_linear(battery, '1h').value, 2)", "39.8", kBattery}}, {}});
  r.document({"forecast_holt", "forecast", FunctionKind::Aggregate,
              "forecast_holt(x, horizon [, alpha = 0.5 [, beta = 0.3]]) -> {value, lower, upper}",
              "Holt's linear trend (double exponential smoothing) with the trend per second, so "
              "irregular spacing is allowed; a window's rows are put in event-time order first "
              "(at most 10,000 per group), an analytic call takes rows in arrival order and skips "
              "rows older than the last. Band: 95 % from the one-step-ahead errors (ETS(A,A,N) "
              "variance with h = horizon / mean spacing). alpha and beta in (0, 1].",
              {{"round(forecast_holt(battery, '1h', 0.5, 0.5).value, 2)", "39.89", kBattery}}, {}});
  r.document({"time_to_threshold", "forecast", FunctionKind::Aggregate,
              "time_to_threshold(x, threshold) -> seconds",
              "Seconds from the last row until the least-squares line of x reaches `threshold`; "
              "NULL when it never does going forward (flat, moving away, or already past it: "
              "combine with a plain comparison for 'already below'). Same rows as "
              "forecast_linear.",
              {{"round(time_to_threshold(battery, 10) / 3600, 2)", "5.82", kBattery}}, {}});
}

}  // namespace streamgate::rules
