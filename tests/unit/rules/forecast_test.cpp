// forecast_linear, forecast_holt and time_to_threshold checked against closed forms computed
// here: least squares from the textbook sums, the prediction interval from its formula, and
// Holt's recurrence written out step by step. Then the same functions through the engine: in a
// window per group, and as OVER (PARTITION BY ...) calls.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engine.h"
#include "rules/function_registry.h"
#include "rules/time_util.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;

constexpr TimeNs kT0 = 1705312800LL * kNsPerSec;  // 2024-01-15T10:00:00Z

struct Point {
  double t_s;  // seconds after kT0
  double x;
};

//! An aggregate run over points through the registry's type-erased entry (as the engine does:
//! the event time appended as the last argument).
class AggRun {
 public:
  explicit AggRun(const char* name) : f_(FunctionRegistry::global().aggregate(name)) {
    EXPECT_NE(f_, nullptr);
    EXPECT_TRUE(f_->event_time_arg);
    // The deleter must free with the alignment the state was allocated with.
    state_ = std::unique_ptr<unsigned char, Free>(
        static_cast<unsigned char*>(::operator new(f_->state_size, std::align_val_t(f_->state_align))),
        Free{f_->state_align});
    f_->construct(state_.get());
  }
  ~AggRun() { f_->destroy(state_.get()); }
  void add(const Point& p, std::vector<Value> extra) {
    std::vector<Value> args{Value(p.x)};
    for (auto& e : extra) args.push_back(std::move(e));
    args.emplace_back(static_cast<std::int64_t>(kT0 + static_cast<TimeNs>(p.t_s * 1e9)));
    f_->add(state_.get(), Args{args.data(), args.size()});
  }
  void merge(const AggRun& o) { f_->merge(state_.get(), o.state_.get()); }
  Value result() const { return f_->result(state_.get()); }
  json save() const { return f_->save(state_.get()); }
  void restore(const json& j) { f_->restore(state_.get(), j); }

 private:
  struct Free {
    std::size_t align;
    void operator()(unsigned char* p) const { ::operator delete(p, std::align_val_t(align)); }
  };
  const AggregateFunction* f_;
  std::unique_ptr<unsigned char, Free> state_{nullptr, Free{alignof(std::max_align_t)}};
};

double field(const Value& v, const char* name) {
  const Value* f = v.find(name);
  EXPECT_TRUE(f && f->is_number()) << v.to_json() << " ." << name;
  return f && f->is_number() ? f->as_number() : NAN;
}

void expect_near_rel(double got, double want) {
  EXPECT_NEAR(got, want, 1e-9 * std::max(1.0, std::fabs(want)));
}

// Battery readings every 10 minutes, not on a perfect line.
const std::vector<Point> kSeries = {{0, 50}, {600, 49.2}, {1200, 48.1}, {1800, 46.9}, {2400, 46.0}};

struct Ols {
  double slope, intercept, s, sxx, mean_t;
  std::size_t n;
};

Ols least_squares(const std::vector<Point>& pts) {
  double st = 0, sx = 0, stt = 0, stx = 0;
  const double n = static_cast<double>(pts.size());
  for (const auto& p : pts) {
    st += p.t_s;
    sx += p.x;
    stt += p.t_s * p.t_s;
    stx += p.t_s * p.x;
  }
  Ols o{};
  o.n = pts.size();
  o.slope = (n * stx - st * sx) / (n * stt - st * st);
  o.intercept = (sx - o.slope * st) / n;
  double sse = 0;
  for (const auto& p : pts) sse += std::pow(p.x - (o.intercept + o.slope * p.t_s), 2);
  o.s = std::sqrt(sse / (n - 2));
  o.mean_t = st / n;
  o.sxx = stt - st * st / n;
  return o;
}

TEST(ForecastLinear, MatchesLeastSquaresAndPredictionInterval) {
  AggRun run("forecast_linear");
  for (const auto& p : kSeries) run.add(p, {Value("2h")});
  const Value r = run.result();
  const Ols o = least_squares(kSeries);
  const double t0 = 2400 + 7200;
  const double value = o.intercept + o.slope * t0;
  const double t975_df3 = 3.182;  // Student's t, 3 degrees of freedom
  const double half = t975_df3 * o.s * std::sqrt(1 + 1.0 / 5 + std::pow(t0 - o.mean_t, 2) / o.sxx);
  expect_near_rel(field(r, "value"), value);
  expect_near_rel(field(r, "lower"), value - half);
  expect_near_rel(field(r, "upper"), value + half);
  EXPECT_NEAR(value, 33.62, 1e-9);  // 50.1 - 0.00171666.. * 9600: a sanity anchor
}

TEST(ForecastLinear, MergeAndCheckpointGiveTheSameFit) {
  AggRun whole("forecast_linear"), a("forecast_linear"), b("forecast_linear");
  for (std::size_t i = 0; i < kSeries.size(); ++i) {
    whole.add(kSeries[i], {Value(3600)});
    (i % 2 ? a : b).add(kSeries[i], {Value(3600)});
  }
  a.merge(b);
  for (const char* k : {"value", "lower", "upper"}) expect_near_rel(field(a.result(), k), field(whole.result(), k));
  AggRun restored("forecast_linear");
  restored.restore(json::parse(whole.save().dump()));
  EXPECT_EQ(restored.result().to_json(), whole.result().to_json());
}

TEST(ForecastLinear, TooFewRowsGiveNullOrNoBand) {
  AggRun one("forecast_linear");
  one.add({0, 1}, {Value("1h")});
  EXPECT_TRUE(one.result().is_null());
  AggRun two("forecast_linear");
  two.add({0, 1}, {Value("1h")});
  two.add({60, 2}, {Value("1h")});
  expect_near_rel(field(two.result(), "value"), 2 + 60);
  EXPECT_TRUE(two.result().find("lower")->is_null());
  AggRun same_time("forecast_linear");
  same_time.add({0, 1}, {Value("1h")});
  same_time.add({0, 2}, {Value("1h")});
  EXPECT_TRUE(same_time.result().is_null());
  AggRun bad_horizon("forecast_linear");
  bad_horizon.add({0, 1}, {Value("soon")});
  bad_horizon.add({60, 2}, {Value("soon")});
  EXPECT_TRUE(bad_horizon.result().is_null());
}

TEST(TimeToThreshold, IsWhereTheFittedLineCrosses) {
  AggRun run("time_to_threshold");
  for (const auto& p : kSeries) run.add(p, {Value(10)});
  const Ols o = least_squares(kSeries);
  const double at_last = o.intercept + o.slope * 2400;
  expect_near_rel(run.result().as_number(), (10 - at_last) / o.slope);
  AggRun rising("time_to_threshold");  // moving away from the threshold: never
  for (const auto& p : kSeries) rising.add({p.t_s, 100 - p.x}, {Value(10)});
  EXPECT_TRUE(rising.result().is_null());
  AggRun flat("time_to_threshold");
  flat.add({0, 5}, {Value(10)});
  flat.add({60, 5}, {Value(10)});
  EXPECT_TRUE(flat.result().is_null());
}

// Holt by hand, evenly spaced (60 s), alpha = 0.5, beta = 0.4, textbook form per step:
//   l1 = x1, b1 = x2 - x1, then l_t = a x_t + (1-a)(l_{t-1} + b_{t-1}),
//   b_t = B (l_t - l_{t-1}) + (1-B) b_{t-1}, forecast h steps = l + h b.
TEST(ForecastHolt, MatchesTheTextbookRecurrence) {
  const std::vector<double> x = {10, 12, 15, 15, 18, 21};
  const double a = 0.5, B = 0.4;
  double l = x[1], b = x[1] - x[0];  // after the second row (l2 = x2 with this start)
  double sse = 0;
  int errors = 0;
  for (std::size_t t = 2; t < x.size(); ++t) {
    const double pred = l + b;
    sse += (x[t] - pred) * (x[t] - pred);
    ++errors;
    const double nl = a * x[t] + (1 - a) * pred;
    b = B * (nl - l) + (1 - B) * b;
    l = nl;
  }
  const double h = 3;  // 180 s ahead = 3 steps
  const double value = l + h * b;
  const double sigma = std::sqrt(sse / errors);
  const double be = a * B;
  const double half = 1.959964 * sigma * std::sqrt(1 + (h - 1) * (a * a + a * be * h + be * be * h * (2 * h - 1) / 6));

  AggRun run("forecast_holt");
  std::vector<Point> pts;
  for (std::size_t i = 0; i < x.size(); ++i) pts.push_back({60.0 * static_cast<double>(i), x[i]});
  // A window's rows may arrive out of order: they are put in time order first.
  std::vector<Point> shuffled = {pts[3], pts[0], pts[5], pts[1], pts[4], pts[2]};
  for (const auto& p : shuffled) run.add(p, {Value("3m"), Value(a), Value(B)});
  const Value r = run.result();
  expect_near_rel(field(r, "value"), value);
  expect_near_rel(field(r, "lower"), value - half);
  expect_near_rel(field(r, "upper"), value + half);
  // Defaults alpha 0.5, beta 0.3; smoothing outside (0, 1] gives NULL.
  AggRun bad("forecast_holt");
  for (const auto& p : pts) bad.add(p, {Value("3m"), Value(1.5)});
  EXPECT_TRUE(bad.result().is_null());
}

// ---- through the engine -------------------------------------------------------------------------

struct EngineRun {
  Engine eng;
  std::vector<json> rows;
  EmitFn sink = [this](Emission&& e) {
    if (e.kind == EmissionKind::Result) rows.push_back(json::parse(e.payload));
  };
  void load(const std::string& text) {
    for (const auto& e : eng.load_file("t.sql", text)) ADD_FAILURE() << e.to_string();
  }
  void send_series(const std::string& device, const std::vector<Point>& pts) {
    for (const auto& p : pts) {
      json j = {{"device", device}, {"battery", p.x},
                {"ts", format_rfc3339(kT0 + static_cast<TimeNs>(p.t_s * 1e9))}};
      EXPECT_EQ(eng.on_message("devices/" + device + "/battery", j.dump(), kT0 + 86400 * kNsPerSec, sink),
                IngestStatus::Ok);
    }
  }
};

const char* kStream = "CREATE STREAM b WITH (TOPIC='devices/+/battery', TIMESTAMP='ts');\n";

TEST(ForecastEngine, PerGroupInAWindowAndPerPartitionOver) {
  EngineRun r;
  r.load(std::string(kStream) +
         "CREATE RULE w AS SELECT device, forecast_linear(battery, '2h') AS f, "
         "time_to_threshold(battery, 10) AS ttt FROM b GROUP BY device, TumblingWindow('1h') ORDER BY device;\n"
         "CREATE RULE o AS SELECT device, forecast_linear(battery, '2h') OVER (PARTITION BY device) AS f, "
         "forecast_holt(battery, '2h') OVER (PARTITION BY device) AS h FROM b;\n");
  std::vector<Point> other;
  for (const auto& p : kSeries) other.push_back({p.t_s + 30, 80 - 2 * (50 - p.x)});
  r.send_series("d1", kSeries);
  r.send_series("d2", other);
  r.eng.flush(r.sink);
  const Ols o1 = least_squares(kSeries), o2 = least_squares(other);
  std::vector<json> window_rows, over_rows;
  for (const auto& row : r.rows) (row.contains("ttt") ? window_rows : over_rows).push_back(row);
  ASSERT_EQ(window_rows.size(), 2u);
  EXPECT_NEAR(window_rows[0]["f"]["value"].get<double>(), o1.intercept + o1.slope * 9600, 1e-9);
  EXPECT_NEAR(window_rows[1]["f"]["value"].get<double>(), o2.intercept + o2.slope * (2430 + 7200), 1e-9);
  EXPECT_NEAR(window_rows[0]["ttt"].get<double>(), (10 - (o1.intercept + o1.slope * 2400)) / o1.slope, 1e-6);
  // OVER: each row sees the fit of its partition so far (the other device does not disturb it).
  ASSERT_EQ(over_rows.size(), 10u);
  EXPECT_TRUE(over_rows[0]["f"].is_null());  // one row: no line yet
  json last_d1;
  for (const auto& row : over_rows)
    if (row["device"] == "d1") last_d1 = row;
  EXPECT_NEAR(last_d1["f"]["value"].get<double>(), o1.intercept + o1.slope * 9600, 1e-9);
  EXPECT_TRUE(last_d1["h"]["value"].is_number());
}

TEST(ForecastEngine, AnalyticCallsKeepTheLast64RowsAndSurviveACheckpoint) {
  const std::string rule = std::string(kStream) +
                           "CREATE RULE o AS SELECT forecast_linear(battery, 600) OVER (PARTITION BY device) AS f, "
                           "forecast_holt(battery, 600, 0.6, 0.2) OVER (PARTITION BY device) AS h FROM b;\n";
  std::vector<Point> pts;
  for (int i = 0; i < 100; ++i) pts.push_back({60.0 * i, 100 - 0.5 * i + ((i % 3) - 1) * 0.25});
  EngineRun whole;
  whole.load(rule);
  whole.send_series("d1", pts);
  const Ols last64 = least_squares(std::vector<Point>(pts.end() - 64, pts.end()));
  EXPECT_NEAR(whole.rows.back()["f"]["value"].get<double>(), last64.intercept + last64.slope * (99 * 60 + 600), 1e-9);
  // Half the rows, a checkpoint, a new engine, the other half: the same last row.
  EngineRun first, second;
  first.load(rule);
  second.load(rule);
  first.send_series("d1", std::vector<Point>(pts.begin(), pts.begin() + 50));
  second.eng.restore_state(json::parse(first.eng.save_state().dump()));
  second.send_series("d1", std::vector<Point>(pts.begin() + 50, pts.end()));
  EXPECT_EQ(second.rows.back(), whole.rows.back());
}

}  // namespace
}  // namespace streamgate::rules
