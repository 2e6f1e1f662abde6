// Pattern and alert benchmarks (issue 5 targets): a 3-step MATCH_RECOGNIZE over 10,000
// partitions (engine with JSON parsing, and the matcher alone on pre-parsed rows), and the cost
// of CREATE ALERT over the same rule as a plain CREATE RULE. Events are the ~250-byte IoT events
// of engine_bench (same fields and sizes; only `status` / `temp` are drawn for the case), fed as
// JSON text through Engine::on_message, one core. Reproduce:
//   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build pattern_bench
//   build/bench/pattern_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <simdjson.h>

#include "rules/ast.h"
#include "rules/engine.h"
#include "rules/pattern/automaton.h"
#include "rules/pattern/matcher.h"

namespace {

using streamgate::rules::Emission;
using streamgate::rules::EmitFn;
using streamgate::rules::Engine;
using streamgate::rules::TimeNs;
using streamgate::rules::Value;
namespace pattern = streamgate::rules::pattern;

constexpr int kPartitions = 10'000;
constexpr std::size_t kEvents = 1 << 16;
constexpr const char* kStatus[] = {"a", "b", "c", "x"};
const TimeNs kNow = 1705312800LL * 1'000'000'000LL + 365LL * 86400LL * 1'000'000'000LL;

//! Per event: (device index, status, temperature).
struct Draw {
  int device;
  const char* status;
  double temp;
};

//! engine_bench's event (device_id, site, temp, humidity, pressure, status, firmware, battery,
//! rssi, seq, timestamp, tags, location), event time advancing 1 ms per event; `draw` picks the
//! device, status and temperature of event i.
std::vector<std::string> make_events(const std::function<Draw(std::size_t)>& draw, unsigned seed = 42) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> pct(0, 100);
  std::vector<std::string> out;
  out.reserve(kEvents);
  char buf[512];
  for (std::size_t i = 0; i < kEvents; ++i) {
    const Draw d = draw(i);
    std::snprintf(buf, sizeof buf,
                  R"({"device_id":"device-%05d","site":"plant-7","temp":%.2f,"humidity":%.1f,)"
                  R"("pressure":1013.25,"status":"%s","firmware":"v2.3.1","battery":%d,"rssi":-67,)"
                  R"("seq":%zu,"timestamp":%013lld,"tags":["line-a","zone-3"],"location":{"lat":52.52,"lon":13.40}})",
                  d.device, d.temp, pct(rng) / 2, d.status, static_cast<int>(rng() % 100), i,
                  1705312800000LL + static_cast<long long>(i));
    out.emplace_back(buf);
    // Spare capacity = the padding simdjson may read past the end, as a gateway ring slot has.
    out.back().reserve(out.back().size() + simdjson::SIMDJSON_PADDING);
  }
  return out;
}

//! Status a/b/c/x uniformly at random: A B C completes at ~1.5% of events.
std::vector<std::string> pattern_events() {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> temp(0, 100);
  return make_events([&](std::size_t) {
    return Draw{static_cast<int>(rng() % kPartitions), kStatus[rng() % 4], temp(rng)};
  });
}

//! Alert workloads; in both, 10% of the events have temp > 90.
//!  - spikes: temperatures independent per event, so every hot reading is an isolated episode
//!    (the worst case for an alert: each one is a raise and, later, a clear);
//!  - episodes: each device is hot in runs (a two-state Markov chain per device: a hot device
//!    stays hot with p = 0.8, a cold one turns hot with p = 0.8/36), as a real overheating
//!    device is, so a raise covers ~5 hot readings.
std::vector<std::string> alert_events(bool episodes) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> u(0, 1);
  // Each device starts in the chain's stationary state (hot with p = 0.1): with ~6.5 readings
  // per device in the generated events, starting all cold would make fewer than 10% hot.
  std::vector<std::uint8_t> hot(kPartitions, 0);
  for (auto& h : hot) h = u(rng) < 0.1;
  return make_events([&](std::size_t) {
    const int d = static_cast<int>(rng() % kPartitions);
    bool is_hot;
    if (episodes) {
      is_hot = hot[static_cast<std::size_t>(d)] ? u(rng) < 0.8 : u(rng) < 0.8 / 36;
      hot[static_cast<std::size_t>(d)] = is_hot;
    } else {
      is_hot = u(rng) < 0.1;
    }
    const double temp = is_hot ? 90.5 + 9 * u(rng) : 20 + 69 * u(rng);
    return Draw{d, "ok", temp};
  });
}

void shift_timestamps(std::vector<std::string>& events, long long delta_ms) {
  char digits[16];
  for (auto& e : events) {
    const auto pos = e.find("\"timestamp\":") + 12;
    const long long ms = std::stoll(e.substr(pos, 13)) + delta_ms;
    std::snprintf(digits, sizeof digits, "%013lld", ms);
    e.replace(pos, 13, digits);
  }
}

std::unique_ptr<Engine> load(benchmark::State& state, const char* rules) {
  auto eng = std::make_unique<Engine>();
  auto errs = eng->load_file("bench.sql", rules);
  if (!errs.empty()) {
    state.SkipWithError(errs[0].to_string().c_str());
    return nullptr;
  }
  return eng;
}

void run_engine(benchmark::State& state, const char* rules, std::vector<std::string> events,
                bool padded) {
  auto eng = load(state, rules);
  if (!eng) return;
  std::uint64_t out = 0;
  EmitFn sink = [&](Emission&& e) {
    ++out;
    benchmark::DoNotOptimize(e);
  };
  std::size_t i = 0;
  for (auto _ : state) {
    eng->on_message("plant/7/status", events[i], kNow, sink, padded);
    if (++i == events.size()) {
      state.PauseTiming();
      shift_timestamps(events, static_cast<long long>(events.size()));
      i = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["emissions_per_event"] =
      static_cast<double>(out) / static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
}

constexpr const char* kPatternRules =
    "CREATE STREAM s WITH (TOPIC='plant/+/status', TIMESTAMP='timestamp');"
    "CREATE RULE abc WITH (TOPIC='patterns/abc') AS SELECT * FROM s MATCH_RECOGNIZE ("
    " PARTITION BY device_id ORDER BY timestamp"
    " MEASURES A.seq AS first_seq, C.seq AS last_seq"
    " PATTERN (A B C) WITHIN '1m'"
    " DEFINE A AS status = 'a', B AS status = 'b', C AS status = 'c');";

// A -> B -> C per device within 1 minute, 10,000 devices, JSON parsing included.
void BM_MatchRecognize3Steps10kPartitions(benchmark::State& state) {
  run_engine(state, kPatternRules, pattern_events(), false);
}
BENCHMARK(BM_MatchRecognize3Steps10kPartitions);

// The same with the payload parsed in place (a gateway ring slot has simdjson's padding).
void BM_MatchRecognize3Steps10kPartitionsPadded(benchmark::State& state) {
  run_engine(state, kPatternRules, pattern_events(), true);
}
BENCHMARK(BM_MatchRecognize3Steps10kPartitionsPadded);

// The matcher alone on pre-parsed rows (the comparable figure to engines that benchmark CEP on
// already decoded events): same pattern, predicates as plain callbacks.
void BM_Matcher3Steps10kPartitions(benchmark::State& state) {
  const auto parsed = streamgate::rules::ast::parse(
      "CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A B C) DEFINE A AS true)");
  std::string err;
  auto automaton = pattern::compile(parsed.statements.at(0).select->match_recognize->pattern, &err);
  pattern::MatcherOptions o;
  o.within = 60LL * 1'000'000'000LL;
  pattern::Matcher m(*automaton, o);
  std::mt19937 rng(7);
  struct Ev {
    Value key;
    int status;
  };
  std::vector<Ev> evs;
  for (std::size_t i = 0; i < kEvents; ++i)
    evs.push_back({Value(static_cast<std::int64_t>(rng() % kPartitions)), static_cast<int>(rng() % 4)});
  std::uint64_t matches = 0;
  const pattern::OnMatch on_match = [&](const pattern::MatchView&) { ++matches; };
  const pattern::Predicate pred = [](std::uint16_t var, const pattern::MatchView& v) {
    return v.row(v.size() - 1).slots[0].as_int() == var;  // A=0, B=1, C=2
  };
  TimeNs t = 0;
  std::size_t i = 0;
  std::vector<Value> row(1);
  for (auto _ : state) {
    const Ev& e = evs[i];
    row.resize(1);
    row[0] = Value(static_cast<std::int64_t>(e.status));
    m.on_row(e.key, t, std::move(row), pred, on_match);
    t += 1'000'000;
    if ((i & 1023) == 0) m.advance(t, on_match);
    if (++i == evs.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["matches_per_event"] =
      static_cast<double>(matches) / static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
}
BENCHMARK(BM_Matcher3Steps10kPartitions);

// Alert overhead: the same condition as a plain rule and as an alert (per-device state, raised
// and cleared as the condition flips). Arg 0: spikes, 1: episodes (see alert_events).
constexpr const char* kRuleText =
    "CREATE STREAM s WITH (TOPIC='plant/+/status', TIMESTAMP='timestamp');"
    "CREATE RULE hot WITH (TOPIC='hot') AS SELECT device_id, temp FROM s WHERE temp > 90;";
constexpr const char* kAlertText =
    "CREATE STREAM s WITH (TOPIC='plant/+/status', TIMESTAMP='timestamp');"
    "CREATE ALERT hot WITH (TOPIC='alerts/hot', KEY='device_id', CLEAR_AFTER='10s') AS "
    "SELECT device_id, temp FROM s WHERE temp > 90;";

// The same stream with a condition that never holds: the cost of an event that produces
// nothing (parse, route, evaluate), subtracted to get the cost per message of the two above.
constexpr const char* kNoneText =
    "CREATE STREAM s WITH (TOPIC='plant/+/status', TIMESTAMP='timestamp');"
    "CREATE RULE none WITH (TOPIC='none') AS SELECT device_id, temp FROM s WHERE temp > 1000;";

void BM_RuleWithoutAlert(benchmark::State& state) {
  run_engine(state, kRuleText, alert_events(state.range(0) == 1), false);
}
BENCHMARK(BM_RuleWithoutAlert)->ArgName("episodes")->Arg(0)->Arg(1);

void BM_RuleWithAlert(benchmark::State& state) {
  run_engine(state, kAlertText, alert_events(state.range(0) == 1), false);
}
BENCHMARK(BM_RuleWithAlert)->ArgName("episodes")->Arg(0)->Arg(1);

std::int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000LL + ts.tv_nsec;
}

// Rule, alert and `none` (the condition never holds) over the same events, interleaved per block
// of 1,024 events, each timed by this thread's CPU clock, so load drift on a shared machine hits
// all alike. `with_none` = false: rule and alert only, the overhead figure to quote (issue 5).
// With `none`: the cost per message (MQTT publish; an alert transition is two, the event and
// the retained state) = (ns per event - none's) / messages per event. The third engine adds
// cache pressure, so its overhead figure reads a little higher than the two-engine one.
void alert_interleaved(benchmark::State& state, bool with_none) {
  auto rule = load(state, kRuleText);
  auto alert = load(state, kAlertText);
  auto none = load(state, kNoneText);
  if (!rule || !alert || !none) return;
  std::vector<std::string> events = alert_events(state.range(0) == 1);
  std::uint64_t out_rule = 0, out_alert = 0;
  EmitFn sink_rule = [&](Emission&& e) {
    ++out_rule;
    benchmark::DoNotOptimize(e);
  };
  EmitFn sink_alert = [&](Emission&& e) {
    ++out_alert;
    benchmark::DoNotOptimize(e);
  };
  EmitFn sink_none = [&](Emission&& e) { benchmark::DoNotOptimize(e); };
  constexpr std::size_t kBlock = 1024;
  std::int64_t ns_rule = 0, ns_alert = 0, ns_none = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    std::int64_t t0 = thread_cpu_ns();
    for (std::size_t k = 0; k < kBlock; ++k) rule->on_message("plant/7/status", events[i + k], kNow, sink_rule);
    std::int64_t t1 = thread_cpu_ns();
    for (std::size_t k = 0; k < kBlock; ++k) alert->on_message("plant/7/status", events[i + k], kNow, sink_alert);
    std::int64_t t2 = thread_cpu_ns();
    if (with_none)
      for (std::size_t k = 0; k < kBlock; ++k) none->on_message("plant/7/status", events[i + k], kNow, sink_none);
    std::int64_t t3 = thread_cpu_ns();
    ns_rule += t1 - t0;
    ns_alert += t2 - t1;
    ns_none += t3 - t2;
    i += kBlock;
    if (i == events.size()) {
      state.PauseTiming();
      shift_timestamps(events, static_cast<long long>(events.size()));
      i = 0;
      state.ResumeTiming();
    }
  }
  const double n = static_cast<double>(state.iterations()) * kBlock;
  state.SetItemsProcessed(static_cast<std::int64_t>((with_none ? 3 : 2) * n));
  state.counters["rule_ns_per_event"] = static_cast<double>(ns_rule) / n;
  state.counters["alert_ns_per_event"] = static_cast<double>(ns_alert) / n;
  state.counters["alert_overhead_pct"] = 100.0 * (static_cast<double>(ns_alert) / static_cast<double>(ns_rule) - 1);
  state.counters["rule_emissions_per_event"] = static_cast<double>(out_rule) / n;
  state.counters["alert_emissions_per_event"] = static_cast<double>(out_alert) / n;
  if (!with_none) return;
  state.counters["none_ns_per_event"] = static_cast<double>(ns_none) / n;
  const auto per_message = [&](std::int64_t ns, std::uint64_t messages) {
    return static_cast<double>(ns - ns_none) / static_cast<double>(std::max<std::uint64_t>(1, messages));
  };
  state.counters["rule_ns_per_message"] = per_message(ns_rule, out_rule);
  state.counters["alert_ns_per_message"] = per_message(ns_alert, out_alert);
}

void BM_AlertOverheadInterleaved(benchmark::State& state) { alert_interleaved(state, false); }
BENCHMARK(BM_AlertOverheadInterleaved)->ArgName("episodes")->Arg(0)->Arg(1);

void BM_AlertCostPerMessage(benchmark::State& state) { alert_interleaved(state, true); }
BENCHMARK(BM_AlertCostPerMessage)->ArgName("episodes")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
