// Checkpoint cost on the worker (issue 4 target: with a checkpoint every second, throughput within
// 10% of no checkpoints and p99 per-event latency within 2x). Mirrors the gateway: the worker
// thread runs the engine and, every interval, takes Engine::save_state() and hands it to another
// thread that writes it with CheckpointStore::save into a real SQLite file (WAL).
// Reproduce:
//   cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && ninja -C build checkpoint_bench
//   build/bench/checkpoint_bench [events=2000000] [keys=1000] [interval_ms=1000]
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engine.h"
#include "storage/checkpoint_store.h"
#include "storage/migrations.h"

namespace {

using Clock = std::chrono::steady_clock;

const char* const kRules =
    "CREATE STREAM s WITH (TOPIC = 'b/in', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '1s');\n"
    "CREATE RULE r WITH (TOPIC = 'b/out') AS\n"
    "SELECT key, count(*) AS n, sum(v) AS s, avg(v) AS a FROM s GROUP BY key, TumblingWindow('10s');\n";

struct Result {
  double events_per_s = 0;
  double p50_ns = 0;
  double p99_ns = 0;
  int checkpoints = 0;
  double max_save_state_ms = 0;
};

// A writer thread: the gateway's publisher saving snapshots off the worker.
class Writer {
 public:
  explicit Writer(const std::string& path)
      : db_(streamgate::storage::open_database(path)), store_(db_), thread_([this] { run(); }) {}
  ~Writer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  void submit(nlohmann::json state) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_ = std::move(state);
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return done_ || pending_; });
      if (pending_) {
        nlohmann::json s = std::move(*pending_);
        pending_.reset();
        lock.unlock();
        store_.save(s, nlohmann::json{{"journal_seq", 0}});
        lock.lock();
      }
      if (done_ && !pending_) return;
    }
  }
  streamgate::storage::Database db_;
  streamgate::storage::CheckpointStore store_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<nlohmann::json> pending_;
  bool done_ = false;
  std::thread thread_;
};

Result run(const std::vector<std::string>& events, std::chrono::milliseconds interval, bool checkpoint,
           const std::string& db_path) {
  streamgate::rules::Engine engine;
  if (!engine.load_file("bench.sql", kRules).empty()) {
    std::fprintf(stderr, "rule does not load\n");
    std::exit(1);
  }
  std::optional<Writer> writer;
  if (checkpoint) writer.emplace(db_path);
  std::size_t emitted = 0;
  streamgate::rules::EmitFn emit = [&](streamgate::rules::Emission&&) { ++emitted; };
  std::vector<std::int64_t> lat;
  lat.reserve(events.size());
  Result r;
  const auto start = Clock::now();
  auto next = start + interval;
  std::int64_t now_ns = 1'700'000'000'000'000'000;
  for (const auto& e : events) {
    const auto t0 = Clock::now();
    if (checkpoint && t0 >= next) {
      // The checkpoint's cost lands on the event that happens to follow it, as in the gateway.
      auto state = engine.save_state();
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      r.max_save_state_ms = std::max(r.max_save_state_ms, ms);
      writer->submit(std::move(state));
      ++r.checkpoints;
      next = t0 + interval;
    }
    engine.on_message("b/in", e, now_ns, emit);
    now_ns += 1000;
    lat.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(lat.begin(), lat.end());
  r.events_per_s = static_cast<double>(events.size()) / secs;
  r.p50_ns = static_cast<double>(lat[lat.size() / 2]);
  r.p99_ns = static_cast<double>(lat[lat.size() * 99 / 100]);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  const int keys = argc > 2 ? std::atoi(argv[2]) : 1000;
  const std::chrono::milliseconds interval(argc > 3 ? std::atoi(argv[3]) : 1000);
  std::vector<std::string> events;
  events.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    // 20k events per second of event time: a 10 s window holds 200k events over `keys` keys.
    events.push_back(nlohmann::json{{"key", "k" + std::to_string(i % static_cast<std::size_t>(keys))},
                                    {"v", static_cast<double>(i % 100)},
                                    {"ts", 1'700'000'000'000LL + static_cast<long long>(i / 20)}}
                         .dump());
  }
  const auto dir = std::filesystem::temp_directory_path() / ("checkpoint_bench_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Result base = run(events, interval, false, "");
  const Result cp = run(events, interval, true, (dir / "state.db").string());
  std::filesystem::remove_all(dir);
  std::printf("events=%zu keys=%d interval=%lldms\n", n, keys, static_cast<long long>(interval.count()));
  std::printf("no checkpoint : %10.0f events/s  p50 %6.0f ns  p99 %6.0f ns\n", base.events_per_s, base.p50_ns,
              base.p99_ns);
  std::printf("checkpoint/%llds: %10.0f events/s  p50 %6.0f ns  p99 %6.0f ns  (%d checkpoints, worst save_state %.2f ms)\n",
              static_cast<long long>(interval.count() / 1000), cp.events_per_s, cp.p50_ns, cp.p99_ns,
              cp.checkpoints, cp.max_save_state_ms);
  std::printf("throughput ratio %.3f (target >= 0.90), p99 ratio %.2f (target <= 2.0)\n",
              cp.events_per_s / base.events_per_s, cp.p99_ns / base.p99_ns);
  return 0;
}
