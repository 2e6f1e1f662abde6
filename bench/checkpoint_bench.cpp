// Cost of durable state on the pipeline (issue 4 target: with a checkpoint every second,
// throughput within 10% of no checkpoints and p99 per-event latency within 2x), and the input
// journal's per-message cost.
//
// A three-thread copy of the gateway's hand-offs with the real pieces and no MQTT:
//   feeder    = the Paho receive thread: optionally InputJournal::append (own connection, one
//               autocommit transaction per message), then the ingress SPSC ring;
//   worker    = the engine; every interval Engine::save_state() goes into the egress ring behind
//               the results emitted before it (checkpoint after enqueue);
//   publisher = results into the real Outbox (exactly-once: id check + published_ids row) in
//               batches, acked at once (a broker that PUBACKs instantly), checkpoints written
//               with CheckpointStore::save, then the journal truncated.
// One SQLite file in WAL mode, synchronous=NORMAL, as the gateway opens it.
//
// Two kinds of run per configuration:
//   rate = 0: the feeder pushes as fast as the worker takes (throughput: events/s);
//   rate = R: events arrive on a fixed schedule of R/s, and latency is measured from the
//             scheduled arrival to the end of Engine::on_message, so a stall delays every event
//             queued behind it (no coordinated omission): p50/p99/p999.
// Reproduce (A/B interleaved, medians of 3):
//   ninja -C build checkpoint_bench
//   build/bench/checkpoint_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//     --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "gateway/event_count.h"
#include "gateway/spsc_ring.h"
#include "rules/engine.h"
#include "storage/checkpoint_store.h"
#include "storage/input_journal.h"
#include "storage/migrations.h"
#include "storage/outbox.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace sg = streamgate;

const char* const kRules =
    "CREATE STREAM s WITH (TOPIC = 'b/in', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '1s');\n"
    "CREATE RULE r WITH (TOPIC = 'b/out', QOS = 1, DELIVERY = 'exactly_once') AS\n"
    "SELECT key, count(*) AS n, sum(v) AS s, avg(v) AS a FROM s GROUP BY key, TumblingWindow('10s');\n";

constexpr std::size_t kEvents = 1'000'000;     // per saturated run
constexpr double kPacedSeconds = 6.0;          // per paced run: 6 checkpoints at 1 s
constexpr std::size_t kPublisherBatch = 512;   // as the gateway's publisher

// 20k events per second of event time: a 10 s window holds 200k events over `keys` keys.
const std::vector<std::string>& events(std::size_t keys) {
  static std::map<std::size_t, std::vector<std::string>> by_keys;  // built once per key count
  std::vector<std::string>& cache = by_keys[keys];
  if (cache.empty()) {
    cache.reserve(kEvents);
    for (std::size_t i = 0; i < kEvents; ++i) {
      cache.push_back(nlohmann::json{{"key", "k" + std::to_string(i % keys)},
                                     {"v", static_cast<double>(i % 100)},
                                     {"ts", 1'700'000'000'000LL + static_cast<long long>(i / 20)}}
                          .dump());
    }
  }
  return cache;
}

std::int64_t ns_since(Clock::time_point t0, Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t - t0).count();
}

struct Arrival {
  std::uint32_t index = 0;
  std::int64_t at_ns = 0;  // scheduled (paced) or actual (saturated) arrival, since start
};

struct EgressItem {
  sg::rules::Emission emission;
  std::unique_ptr<nlohmann::json> checkpoint;
};

struct RunResult {
  double events_per_s = 0;
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
  int checkpoints = 0;
  double max_save_state_ms = 0;   // worker stall per checkpoint
  double max_checkpoint_write_ms = 0;  // publisher: CheckpointStore::save + journal truncate
  double journal_ns_per_msg = 0;  // feeder time in InputJournal::append, per message
  std::size_t results = 0;
};

struct Config {
  bool journal = false;
  std::chrono::milliseconds interval{0};  // 0: no checkpoints
  std::int64_t rate = 0;                  // events/s; 0: saturated
  std::size_t keys = 1000;
};

RunResult run(const Config& cfg, const std::string& db_path) {
  const auto& evs = events(cfg.keys);
  const std::size_t n =
      cfg.rate == 0 ? evs.size() : std::min(evs.size(), static_cast<std::size_t>(cfg.rate * kPacedSeconds));
  sg::rules::Engine engine;
  if (!engine.load_file("bench.sql", kRules).empty()) {
    std::fprintf(stderr, "rule does not load\n");
    std::abort();
  }
  sg::storage::Database state_db = sg::storage::open_database(db_path);
  sg::storage::Database journal_db = sg::storage::open_database(db_path);
  sg::storage::Outbox outbox(state_db);
  sg::storage::CheckpointStore store(state_db);
  sg::storage::InputJournal truncator(state_db);
  sg::storage::InputJournal journal(journal_db);

  sg::gateway::SpscRing<Arrival> ingress(4096);
  sg::gateway::SpscRing<EgressItem> egress(4096);
  sg::gateway::EventCount ingress_ready, egress_ready;
  std::atomic<bool> feeder_done{false}, worker_done{false};
  RunResult r;
  std::vector<std::int64_t> lat;
  lat.reserve(n);
  const auto start = Clock::now();

  std::thread feeder([&] {
    std::int64_t journal_ns = 0;
    for (std::size_t i = 0; i < n; ++i) {
      std::int64_t at = 0;
      if (cfg.rate != 0) {
        at = static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / static_cast<double>(cfg.rate));
        const auto due = start + std::chrono::nanoseconds(at);
        if (Clock::now() < due) std::this_thread::sleep_until(due);
      }
      if (cfg.journal) {
        const auto j0 = Clock::now();
        journal.append("b/in", evs[i], 0);
        journal_ns += ns_since(j0, Clock::now());
      }
      if (cfg.rate == 0) at = ns_since(start, Clock::now());
      while (!ingress.try_push(Arrival{static_cast<std::uint32_t>(i), at})) {  // block policy: back-pressure, nothing dropped
        ingress_ready.notify();
        std::this_thread::yield();
      }
      ingress_ready.notify();
    }
    r.journal_ns_per_msg = static_cast<double>(journal_ns) / static_cast<double>(n);
    feeder_done.store(true, std::memory_order_release);
    ingress_ready.notify();
  });

  std::thread publisher([&] {
    EgressItem item;
    std::vector<sg::storage::OutboxMessage> batch;
    auto flush = [&] {
      if (batch.empty()) return;
      outbox.enqueue(batch);
      batch.clear();
      // The broker acks at once: peek + ack like pump_outbox, so published_ids grows as live.
      const auto sent = outbox.peek(4096);
      if (!sent.empty()) outbox.ack(sent.back().id);
    };
    while (true) {
      bool any = false;
      while (egress.try_pop(item)) {
        any = true;
        if (item.checkpoint) {
          flush();
          const auto c0 = Clock::now();
          const std::int64_t seq = item.checkpoint->at("seq").get<std::int64_t>();
          store.save(item.checkpoint->at("state"), nlohmann::json{{"journal_seq", seq}});
          if (seq > 0) truncator.truncate_through(seq);
          r.max_checkpoint_write_ms =
              std::max(r.max_checkpoint_write_ms, std::chrono::duration<double, std::milli>(Clock::now() - c0).count());
          item.checkpoint.reset();
          continue;
        }
        ++r.results;
        batch.push_back(sg::storage::OutboxMessage::from_emission(std::move(item.emission)));
        if (batch.size() >= kPublisherBatch) flush();
      }
      flush();
      if (any) continue;
      if (worker_done.load(std::memory_order_acquire) && egress.empty()) break;
      const std::uint32_t key = egress_ready.prepare_wait();
      if (!egress.empty() || worker_done.load(std::memory_order_acquire)) {
        egress_ready.cancel_wait();
        continue;
      }
      egress_ready.wait(key, std::chrono::milliseconds(2));
    }
  });

  // The worker: this thread.
  auto push_egress = [&](EgressItem&& it) {
    while (!egress.try_push(std::move(it))) {
      egress_ready.notify();
      std::this_thread::yield();
    }
    egress_ready.notify();
  };
  sg::rules::EmitFn emit = [&](sg::rules::Emission&& e) {
    EgressItem it;
    it.emission = std::move(e);
    push_egress(std::move(it));
  };
  auto next_checkpoint = start + cfg.interval;
  std::int64_t now_ns = 1'700'000'000'000'000'000;
  std::size_t done = 0;
  Arrival a;
  while (done < n) {
    if (!ingress.try_pop(a)) {
      const std::uint32_t key = ingress_ready.prepare_wait();
      if (!ingress.empty()) {
        ingress_ready.cancel_wait();
        continue;
      }
      ingress_ready.wait(key, std::chrono::milliseconds(1));
      continue;
    }
    if (cfg.interval.count() != 0 && Clock::now() >= next_checkpoint) {
      // As Pipeline::take_checkpoint: the snapshot is taken on the worker, between two events.
      const auto s0 = Clock::now();
      auto cp = std::make_unique<nlohmann::json>();
      (*cp)["state"] = engine.save_state();
      // Journal seqs of a fresh file are 1, 2, ...: the snapshot covers events before this one.
      (*cp)["seq"] = cfg.journal ? static_cast<std::int64_t>(a.index) : std::int64_t{0};
      r.max_save_state_ms =
          std::max(r.max_save_state_ms, std::chrono::duration<double, std::milli>(Clock::now() - s0).count());
      EgressItem it;
      it.checkpoint = std::move(cp);
      push_egress(std::move(it));
      ++r.checkpoints;
      next_checkpoint = Clock::now() + cfg.interval;
    }
    engine.on_message("b/in", evs[a.index], now_ns, emit);
    now_ns += 1000;
    lat.push_back(ns_since(start, Clock::now()) - a.at_ns);
    ++done;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  worker_done.store(true, std::memory_order_release);
  egress_ready.notify();
  feeder.join();
  publisher.join();

  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return static_cast<double>(lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * static_cast<double>(lat.size())))]) /
           1000.0;
  };
  r.events_per_s = static_cast<double>(n) / secs;
  r.p50_us = pct(0.50);
  r.p99_us = pct(0.99);
  r.p999_us = pct(0.999);
  r.max_us = static_cast<double>(lat.back()) / 1000.0;
  return r;
}

// Args: journal (0/1), checkpoint interval ms (0 = none), paced rate events/s (0 = saturated), keys.
void BM_DurablePipeline(benchmark::State& state) {
  Config cfg;
  cfg.journal = state.range(0) != 0;
  cfg.interval = std::chrono::milliseconds(state.range(1));
  cfg.rate = state.range(2);
  cfg.keys = static_cast<std::size_t>(state.range(3));
  events(cfg.keys);  // built outside the timed run
  static int run_no = 0;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("checkpoint_bench_" + std::to_string(::getpid()) + "_" + std::to_string(run_no++));
  std::filesystem::create_directories(dir);
  RunResult r;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    r = run(cfg, (dir / "state.db").string());
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::filesystem::remove_all(dir);
  state.counters["events_per_s"] = r.events_per_s;
  state.counters["p50_us"] = r.p50_us;
  state.counters["p99_us"] = r.p99_us;
  state.counters["p999_us"] = r.p999_us;
  state.counters["max_us"] = r.max_us;
  state.counters["checkpoints"] = r.checkpoints;
  state.counters["save_state_max_ms"] = r.max_save_state_ms;
  state.counters["cp_write_max_ms"] = r.max_checkpoint_write_ms;
  state.counters["journal_ns_per_msg"] = r.journal_ns_per_msg;
  state.counters["results"] = static_cast<double>(r.results);
}

constexpr std::int64_t kPacedRate = 50'000;  // well below saturation, above the gateway's e2e rate

BENCHMARK(BM_DurablePipeline)
    ->ArgNames({"journal", "cp_ms", "rate", "keys"})
    // Throughput, checkpoint off vs every 1 s; then the same with the input journal.
    ->Args({0, 0, 0, 1000})
    ->Args({0, 1000, 0, 1000})
    ->Args({1, 0, 0, 1000})
    ->Args({1, 1000, 0, 1000})
    // p99 latency at a fixed arrival rate.
    ->Args({0, 0, kPacedRate, 1000})
    ->Args({0, 1000, kPacedRate, 1000})
    ->Args({1, 0, kPacedRate, 1000})
    ->Args({1, 1000, kPacedRate, 1000})
    // A large state: 100k keys open in every window.
    ->Args({0, 0, kPacedRate, 100000})
    ->Args({0, 1000, kPacedRate, 100000})
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
