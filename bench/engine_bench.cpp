// Engine benchmarks (issue 3 targets): events already in memory as JSON text, one core,
// parsing included. Reproduce:
//   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build engine_bench
//   build/bench/engine_bench --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <malloc.h>
#include <new>
#include <random>
#include <string>
#include <vector>

#include <simdjson.h>

#include "rules/engine.h"

namespace {

// Heap accounting for the memory-per-key figure: live bytes held through operator new
// (usable size, so allocator rounding is included).
std::atomic<std::int64_t> g_heap_bytes{0};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void release(void* p) noexcept {
  if (!p) return;
  g_heap_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
  std::free(p);
}
#pragma GCC diagnostic pop

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = std::malloc(n ? n : 1)) {
    g_heap_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }

namespace {

using streamgate::rules::Emission;
using streamgate::rules::EmitFn;
using streamgate::rules::Engine;
using streamgate::rules::TimeNs;

constexpr TimeNs kBase = 1705312800LL * 1'000'000'000LL;  // 2024-01-15T10:00:00Z

//! ~250-byte IoT-style events; `keys` distinct device ids; event time advancing 1 ms/event (so a
//! one-minute window holds 60,000 events: ~6 per key for 10,000 keys).
std::vector<std::string> make_events(std::size_t n, int keys, unsigned seed = 42) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> temp(0, 100);
  std::vector<std::string> out;
  out.reserve(n);
  char buf[512];
  for (std::size_t i = 0; i < n; ++i) {
    const long long ms = 1705312800000LL + static_cast<long long>(i);
    std::snprintf(buf, sizeof buf,
                  R"({"device_id":"device-%05d","site":"plant-7","temp":%.2f,"humidity":%.1f,)"
                  R"("pressure":1013.25,"status":"ok","firmware":"v2.3.1","battery":%d,"rssi":-67,)"
                  R"("seq":%zu,"timestamp":%lld,"tags":["line-a","zone-3"],"location":{"lat":52.52,"lon":13.40}})",
                  static_cast<int>(rng() % static_cast<unsigned>(keys)), temp(rng), temp(rng) / 2,
                  static_cast<int>(rng() % 100), i, ms);
    out.emplace_back(buf);
    // Spare capacity = the padding simdjson may read past the end, as a gateway ring slot has:
    // lets the *Padded benchmarks parse in place (on_message(..., padded = true)).
    out.back().reserve(out.back().size() + simdjson::SIMDJSON_PADDING);
  }
  return out;
}

//! Rewrites the 13-digit epoch-ms timestamp of every event so time keeps moving forward when
//! the benchmark loops over the pre-generated events (otherwise windows would see late data).
//! Runs while the timer is paused; kept cheap (in-place digit arithmetic) so that profiles of
//! the benchmark show the engine rather than this bookkeeping.
void shift_timestamps(std::vector<std::string>& events, std::vector<std::size_t>& positions,
                      long long delta_ms) {
  if (positions.empty()) {
    positions.reserve(events.size());
    for (const auto& e : events) positions.push_back(e.find("\"timestamp\":") + 12);
  }
  for (std::size_t k = 0; k < events.size(); ++k) {
    char* d = events[k].data() + positions[k];
    long long ms = 0;
    for (int j = 0; j < 13; ++j) ms = ms * 10 + (d[j] - '0');
    ms += delta_ms;
    for (int j = 12; j >= 0; --j, ms /= 10) d[j] = static_cast<char>('0' + ms % 10);
  }
}

void run(benchmark::State& state, const char* rules, int keys, bool padded = false) {
  Engine eng;
  auto errs = eng.load_file("bench.sql", rules);
  if (!errs.empty()) {
    state.SkipWithError(errs[0].to_string().c_str());
    return;
  }
  auto events = make_events(1 << 16, keys);
  std::size_t bytes = 0;
  for (const auto& e : events) bytes += e.size();
  std::uint64_t results = 0;
  EmitFn sink = [&](Emission&& e) {
    results += e.payload.size() > 0;
    benchmark::DoNotOptimize(e);
  };
  std::size_t i = 0;
  std::vector<std::size_t> ts_positions;
  const TimeNs now = kBase + 365LL * 86400LL * 1'000'000'000LL;
  for (auto _ : state) {
    eng.on_message("plant/7/telemetry", events[i], now, sink, padded);
    if (++i == events.size()) {
      state.PauseTiming();
      shift_timestamps(events, ts_positions, static_cast<long long>(events.size()));
      i = 0;
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * (bytes / events.size())));
  state.counters["avg_event_bytes"] = static_cast<double>(bytes) / static_cast<double>(events.size());
  state.counters["results_per_event"] =
      static_cast<double>(results) / static_cast<double>(std::max<std::int64_t>(1, state.iterations()));
  for (const auto& m : eng.metrics()) {
    state.counters["late_events"] = static_cast<double>(m.late_events);
    state.counters["dropped"] = static_cast<double>(m.dropped_keys + m.dropped_windows);
  }
}

void BM_FilterRule(benchmark::State& state) {
  run(state,
      "CREATE STREAM s WITH (TOPIC='plant/+/telemetry', TIMESTAMP='timestamp');"
      "CREATE RULE hot WITH (TOPIC='alerts/hot') AS SELECT device_id, temp, humidity FROM s "
      "WHERE temp > 90 AND status = 'ok';",
      1000);
}
BENCHMARK(BM_FilterRule);

void BM_FilterRulePadded(benchmark::State& state) {
  run(state,
      "CREATE STREAM s WITH (TOPIC='plant/+/telemetry', TIMESTAMP='timestamp');"
      "CREATE RULE hot WITH (TOPIC='alerts/hot') AS SELECT device_id, temp, humidity FROM s "
      "WHERE temp > 90 AND status = 'ok';",
      1000, true);
}
BENCHMARK(BM_FilterRulePadded);

void BM_TumblingWindow10kKeys5Aggs(benchmark::State& state) {
  run(state,
      "CREATE STREAM s WITH (TOPIC='plant/+/telemetry', TIMESTAMP='timestamp');"
      "CREATE RULE stats WITH (TOPIC='stats') AS SELECT device_id, count(*) AS n, sum(temp) AS s, "
      "avg(temp) AS a, min(temp) AS mn, max(temp) AS mx FROM s "
      "GROUP BY device_id, TumblingWindow('1m');",
      10000);
}
BENCHMARK(BM_TumblingWindow10kKeys5Aggs);

void BM_TumblingWindow10kKeys5AggsPadded(benchmark::State& state) {
  run(state,
      "CREATE STREAM s WITH (TOPIC='plant/+/telemetry', TIMESTAMP='timestamp');"
      "CREATE RULE stats WITH (TOPIC='stats') AS SELECT device_id, count(*) AS n, sum(temp) AS s, "
      "avg(temp) AS a, min(temp) AS mn, max(temp) AS mx FROM s "
      "GROUP BY device_id, TumblingWindow('1m');",
      10000, true);
}
BENCHMARK(BM_TumblingWindow10kKeys5AggsPadded);

// simdjson's DOM parse alone, in place, on the same events: the floor under every rule above
// (what a rule adds is the difference).
void BM_ParseOnlyPadded(benchmark::State& state) {
  auto events = make_events(1 << 16, 1000);
  simdjson::dom::parser parser;
  if (parser.allocate(64 * 1024)) {
    state.SkipWithError("simdjson allocate failed");
    return;
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& e = events[i];
    auto doc = parser.parse(e.data(), e.size(), false);
    benchmark::DoNotOptimize(doc);
    if (++i == events.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_ParseOnlyPadded);

// Heap bytes per open window key (count/sum/avg/min/max), measured by feeding 10,000 keys into
// one window that never fires.
void BM_MemoryPerWindowKey(benchmark::State& state) {
  const int keys = 10000;
  std::vector<std::string> events;
  char buf[128];
  for (int k = 0; k < keys; ++k) {
    std::snprintf(buf, sizeof buf, R"({"device_id":"device-%05d","temp":%d.5,"timestamp":1705312800})", k,
                  k % 100);
    events.emplace_back(buf);
  }
  double per_key = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto eng = std::make_unique<Engine>();
    (void)eng->load_file("bench.sql",
                         "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='timestamp');"
                         "CREATE RULE stats WITH (TOPIC='stats') AS SELECT device_id, count(*) AS n, "
                         "sum(temp) AS s, avg(temp) AS a, min(temp) AS mn, max(temp) AS mx FROM s "
                         "GROUP BY device_id, TumblingWindow('1h');");
    EmitFn sink = [](Emission&&) {};
    // Warm the engine (parser buffers, first window) before measuring.
    eng->on_message("t", events[0], kBase + 86400LL * 1'000'000'000LL, sink);
    state.ResumeTiming();
    const std::int64_t before = g_heap_bytes.load();
    for (int k = 1; k < keys; ++k) eng->on_message("t", events[static_cast<std::size_t>(k)], kBase + 86400LL * 1'000'000'000LL, sink);
    const std::int64_t after = g_heap_bytes.load();
    per_key = static_cast<double>(after - before) / (keys - 1);
    state.PauseTiming();
    eng.reset();
    state.ResumeTiming();
  }
  state.counters["heap_bytes_per_key"] = per_key;
}
BENCHMARK(BM_MemoryPerWindowKey)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
