// Pattern and alert benchmarks (issue 5 targets): a 3-step MATCH_RECOGNIZE over 10,000
// partitions (engine with JSON parsing, and the matcher alone on pre-parsed rows), and the cost
// of CREATE ALERT over the same rule as a plain CREATE RULE. Reproduce:
//   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build pattern_bench
//   build/bench/pattern_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

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
constexpr const char* kStatus[] = {"a", "b", "c", "x"};

//! Events over `keys` devices, status drawn from a/b/c/x, event time advancing 1 ms per event.
std::vector<std::string> make_events(std::size_t n, int keys, unsigned seed = 7) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  out.reserve(n);
  char buf[256];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf,
                  R"({"device_id":"device-%05d","status":"%s","temp":%u.5,"seq":%zu,"timestamp":%013lld})",
                  static_cast<int>(rng() % static_cast<unsigned>(keys)), kStatus[rng() % 4], static_cast<unsigned>(rng() % 100),
                  i, 1705312800000LL + static_cast<long long>(i));
    out.emplace_back(buf);
  }
  return out;
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

void run_engine(benchmark::State& state, const char* rules) {
  Engine eng;
  auto errs = eng.load_file("bench.sql", rules);
  if (!errs.empty()) {
    state.SkipWithError(errs[0].to_string().c_str());
    return;
  }
  auto events = make_events(1 << 16, kPartitions);
  std::uint64_t out = 0;
  EmitFn sink = [&](Emission&& e) {
    ++out;
    benchmark::DoNotOptimize(e);
  };
  const TimeNs now = 1705312800LL * 1'000'000'000LL + 365LL * 86400LL * 1'000'000'000LL;
  std::size_t i = 0;
  for (auto _ : state) {
    eng.on_message("plant/7/status", events[i], now, sink);
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

// A -> B -> C per device within 1 minute, 10,000 devices, JSON parsing included.
void BM_MatchRecognize3Steps10kPartitions(benchmark::State& state) {
  run_engine(state,
             "CREATE STREAM s WITH (TOPIC='plant/+/status', TIMESTAMP='timestamp');"
             "CREATE RULE abc WITH (TOPIC='patterns/abc') AS SELECT * FROM s MATCH_RECOGNIZE ("
             " PARTITION BY device_id ORDER BY timestamp"
             " MEASURES A.seq AS first_seq, C.seq AS last_seq"
             " PATTERN (A B C) WITHIN '1m'"
             " DEFINE A AS status = 'a', B AS status = 'b', C AS status = 'c');");
}
BENCHMARK(BM_MatchRecognize3Steps10kPartitions);

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
  for (int i = 0; i < (1 << 16); ++i)
    evs.push_back({Value(static_cast<std::int64_t>(rng() % kPartitions)), static_cast<int>(rng() % 4)});
  std::uint64_t matches = 0;
  const pattern::OnMatch on_match = [&](const pattern::MatchView&) { ++matches; };
  const pattern::Predicate pred = [](std::uint16_t var, const pattern::MatchView& v) {
    return v.row(v.size() - 1).slots[0].as_int() == var;  // A=0, B=1, C=2
  };
  TimeNs t = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const Ev& e = evs[i];
    m.on_row(e.key, t, {Value(static_cast<std::int64_t>(e.status))}, pred, on_match);
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
// and cleared as the condition flips).
void BM_RuleWithoutAlert(benchmark::State& state) {
  run_engine(state,
             "CREATE STREAM s WITH (TOPIC='plant/+/status', TIMESTAMP='timestamp');"
             "CREATE RULE hot WITH (TOPIC='hot') AS SELECT device_id, temp FROM s WHERE temp > 90;");
}
BENCHMARK(BM_RuleWithoutAlert);

void BM_RuleWithAlert(benchmark::State& state) {
  run_engine(state,
             "CREATE STREAM s WITH (TOPIC='plant/+/status', TIMESTAMP='timestamp');"
             "CREATE ALERT hot WITH (TOPIC='alerts/hot', KEY='device_id', CLEAR_AFTER='10s') AS "
             "SELECT device_id, temp FROM s WHERE temp > 90;");
}
BENCHMARK(BM_RuleWithAlert);

}  // namespace

BENCHMARK_MAIN();
