// Cluster-mode figures for bench/README.md (issue 14): a 3-node nats-server cluster on loopback
// (tests/integration/nats_cluster_fixture.h) and 1-3 real `streamgate` instances.
//   throughput: 1, 2 or 3 instances started and balanced, then N events published (async, R3)
//     and the time to the last result taken; CPU per event from /proc/<pid>/stat (user + system
//     of the instances during the run; nats-server and the publisher not counted).
//   takeover: 3 instances, kill -9 one, time until the survivors have taken all its partitions
//     (their "took partition" log lines); the killed one is restarted and balance awaited; K times.
//   single: the same rule and input on a single box (Mosquitto on a free port, state db in a temp
//     dir, QoS 1 in and out), published flat out with up to 1,000 in flight; time to the last
//     result and CPU of the gateway (Mosquitto and the publisher not counted).
//   idle: 3 instances with P partitions and no input; CPU of the instances and of the three
//     nats-server processes over S seconds: what leases and polling cost by themselves.
// usage: cluster_bench STREAMGATE_BINARY [events=50000] [kills=10] [lease-ttl=10s]
//        cluster_bench STREAMGATE_BINARY idle P [seconds=30]
//        cluster_bench STREAMGATE_BINARY single [events=50000]
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <thread>

#include <mqtt/async_client.h>

#include "gateway/cluster/nats_client.h"
#include "tests/integration/nats_cluster_fixture.h"

namespace cl = streamgate::gateway::cluster;
using namespace streamgate::test;
using Clock = std::chrono::steady_clock;

namespace {

const char* kRules =
    "CREATE STREAM telemetry WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts', "
    "MAXOUTOFORDERNESS = '0s');\n"
    "CREATE RULE per_device WITH (TOPIC = 'out/per_device') AS SELECT device, window_start() AS ws, "
    "count(*) AS n, avg(v) AS mean, max(v) AS top FROM telemetry GROUP BY device, TumblingWindow('10s');\n";

constexpr int kDevices = 1000;
int kPartitions = 16;  // the idle run sets its own

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), {});
  const auto close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(s.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::unique_ptr<Process> instance(const std::string& bin, const NatsCluster& nats, const fs::path& dir,
                                  const std::string& id, const std::string& ttl) {
  static int n = 0;
  return std::make_unique<Process>(
      std::vector<std::string>{bin, "run", "--rules-dir", (dir / "rules").string(), "--state-db", "",
                               "--watch-rules", "false", "--cluster-url", nats.urls(), "--cluster-partitions",
                               std::to_string(kPartitions), "--cluster-lease-ttl", ttl, "--cluster-instance-id", id},
      dir / (id + "-" + std::to_string(++n)));
}

// Windows of 10 s, one event per device per second; a trailing event per device closes them all.
std::size_t preload(cl::JetStream& js, int events) {
  const std::int64_t base = 1'700'000'000'000;
  const int seconds = std::max(1, events / kDevices);
  for (int i = 0; i < seconds; ++i) {
    for (int d = 0; d < kDevices; ++d) {
      const std::string dev = "d" + std::to_string(d);
      js.publish_async("devices." + dev + ".telemetry",
                       "{\"device\":\"" + dev + "\",\"v\":" + std::to_string((i * 7 + d) % 100) +
                           ",\"ts\":" + std::to_string(base + i * 1000 + d) + "}",
                       "");
    }
  }
  for (int d = 0; d < kDevices; ++d) {
    const std::string dev = "d" + std::to_string(d);
    js.publish_async("devices." + dev + ".telemetry",
                     "{\"device\":\"" + dev + "\",\"v\":0,\"ts\":" + std::to_string(base + 3'600'000) + "}", "");
  }
  if (!js.wait_published(120'000)) throw std::runtime_error("preload not acknowledged");
  return static_cast<std::size_t>(kDevices) * static_cast<std::size_t>((seconds + 9) / 10);
}

void throughput(const std::string& bin, int events, int instances) {
  NatsCluster nats(kPartitions);
  TempDir dir;
  fs::create_directories(dir / "rules");
  write_file(dir / "rules" / "10.sql", kRules);
  cl::ConnectOptions o;
  o.urls = nats.urls();
  cl::JetStream js(o);
  std::vector<std::unique_ptr<Process>> procs;
  for (int i = 0; i < instances; ++i) procs.push_back(instance(bin, nats, dir.path(), "i" + std::to_string(i), "10s"));
  // Every instance holds its share before the input arrives, so the split is the steady state's.
  const bool balanced = wait_until(
      [&] {
        std::size_t total = 0;
        for (auto& p : procs) {
          const auto owned = p->err_count("took partition") - p->err_count("released partition");
          if (owned < static_cast<std::size_t>(kPartitions / instances)) return false;
          total += owned;
        }
        return total == static_cast<std::size_t>(kPartitions);
      },
      120s);
  std::vector<double> cpu0;
  for (auto& p : procs) cpu0.push_back(cpu_seconds(p->pid()));
  const auto t0 = Clock::now();
  const std::size_t expected = preload(js, events);
  const auto t_published = Clock::now();
  const std::size_t sent = js.stream_messages("STREAMGATE_IN");
  const bool done = wait_until(
      [&] {
        try {
          return js.stream_messages("STREAMGATE_RESULTS") >= expected;
        } catch (const std::exception&) {
          return false;
        }
      },
      180s);
  const auto t1 = Clock::now();
  double cpu = 0;
  std::string split;
  for (std::size_t i = 0; i < procs.size(); ++i) {
    const double c = cpu_seconds(procs[i]->pid()) - cpu0[i];
    cpu += c;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%s%.2f", split.empty() ? "" : "/", c);
    split += buf;
  }
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  std::printf("instances=%d%s events=%zu results=%zu%s published in %.2fs, all results in %.2fs: %.0f ev/s; "
              "cpu %.2fs (per instance %s) = %.1f us/event\n",
              instances, balanced ? "" : " (NOT BALANCED)", sent, expected, done ? "" : " (INCOMPLETE)",
              std::chrono::duration<double>(t_published - t0).count(), secs, sent / secs, cpu, split.c_str(),
              cpu / static_cast<double>(sent) * 1e6);
  std::fflush(stdout);
}

void takeover(const std::string& bin, int kills, const std::string& ttl) {
  NatsCluster nats(kPartitions);
  TempDir dir;
  fs::create_directories(dir / "rules");
  write_file(dir / "rules" / "10.sql", kRules);
  std::vector<std::unique_ptr<Process>> procs;
  int next_id = 0;
  for (int i = 0; i < 3; ++i) procs.push_back(instance(bin, nats, dir.path(), "i" + std::to_string(next_id++), ttl));
  auto owned = [](Process& p) {
    return static_cast<int>(p.err_count("took partition")) - static_cast<int>(p.err_count("released partition")) -
           static_cast<int>(p.err_count("dropping it"));
  };
  auto balanced = [&] {
    int total = 0;
    for (auto& p : procs) {
      const int o = owned(*p);
      if (o < kPartitions / 3) return false;
      total += o;
    }
    return total == kPartitions;
  };
  std::vector<double> times;
  for (int k = 0; k < kills; ++k) {
    if (!wait_until(balanced, 120s)) {
      std::printf("kill %d: cluster did not balance\n", k);
      break;
    }
    const int victim = k % 3;
    const int lost = owned(*procs[victim]);
    int before = 0;
    for (int i = 0; i < 3; ++i) {
      if (i != victim) before += static_cast<int>(procs[i]->err_count("took partition"));
    }
    const auto t0 = Clock::now();
    procs[victim]->signal(SIGKILL);
    procs[victim]->wait_exit(10s);
    const bool ok = wait_until(
        [&] {
          int took = 0;
          for (int i = 0; i < 3; ++i) {
            if (i != victim) took += static_cast<int>(procs[i]->err_count("took partition"));
          }
          return took - before >= lost;
        },
        120s);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("kill %d: %d partitions taken over in %.2fs%s\n", k, lost, secs, ok ? "" : " (INCOMPLETE)");
    std::fflush(stdout);
    times.push_back(secs);
    procs[victim] = instance(bin, nats, dir.path(), "i" + std::to_string(next_id++), ttl);
  }
  if (times.empty()) return;
  std::sort(times.begin(), times.end());
  std::printf("takeover after kill -9 (lease ttl %s, %d partitions, 3 instances): median %.2fs, max %.2fs over %zu kills\n",
              ttl.c_str(), kPartitions, times[times.size() / 2], times.back(), times.size());
}

void single_box(const std::string& bin, int events) {
  MosquittoBroker broker;
  TempDir dir;
  fs::create_directories(dir / "rules");
  write_file(dir / "rules" / "10.sql", kRules);
  Process gw({bin, "run", "--rules-dir", (dir / "rules").string(), "--state-db", (dir / "state.db").string(),
              "--watch-rules", "false", "--broker", broker.url(), "--client-id", "bench-gw"},
             dir / "gw");
  std::atomic<std::size_t> results{0};
  mqtt::async_client sub(broker.url(), "bench-sub", mqtt::create_options(MQTTVERSION_3_1_1));
  sub.set_message_callback([&](mqtt::const_message_ptr) { ++results; });
  mqtt::connect_options copts;
  copts.set_clean_session(true);
  sub.connect(copts)->wait();
  sub.subscribe("out/per_device", 1)->wait();
  mqtt::async_client pub(broker.url(), "bench-pub",
                         mqtt::create_options(MQTTVERSION_3_1_1));
  mqtt::connect_options popts;
  popts.set_clean_session(true);
  popts.set_max_inflight(1000);
  pub.connect(popts)->wait();
  if (!wait_until([&] { return gw.err_count("subscribed to") > 0; }, 30s)) {
    throw std::runtime_error("gateway did not connect:\n" + gw.logs());
  }
  std::this_thread::sleep_for(1s);
  const double cpu0 = cpu_seconds(gw.pid());
  const auto t0 = Clock::now();
  const std::int64_t base = 1'700'000'000'000;
  const int seconds = std::max(1, events / kDevices);
  std::size_t sent = 0;
  mqtt::delivery_token_ptr last;
  auto send = [&](const std::string& dev, const std::string& payload) {
    while (true) {
      try {
        last = pub.publish(mqtt::make_message("devices/" + dev + "/telemetry", payload, 1, false));
        ++sent;
        return;
      } catch (const mqtt::exception&) {  // too many in flight: let some complete
        if (last) last->wait();
      }
    }
  };
  for (int i = 0; i < seconds; ++i) {
    for (int d = 0; d < kDevices; ++d) {
      const std::string dev = "d" + std::to_string(d);
      send(dev, "{\"device\":\"" + dev + "\",\"v\":" + std::to_string((i * 7 + d) % 100) +
                    ",\"ts\":" + std::to_string(base + i * 1000 + d) + "}");
    }
  }
  for (int d = 0; d < kDevices; ++d) {
    const std::string dev = "d" + std::to_string(d);
    send(dev, "{\"device\":\"" + dev + "\",\"v\":0,\"ts\":" + std::to_string(base + 3'600'000) + "}");
  }
  if (last) last->wait();
  const auto t_published = Clock::now();
  const std::size_t expected = static_cast<std::size_t>(kDevices) * static_cast<std::size_t>((seconds + 9) / 10);
  const bool done = wait_until([&] { return results.load() >= expected; }, 180s);
  const auto t1 = Clock::now();
  const double cpu = cpu_seconds(gw.pid()) - cpu0;
  const double secs = std::chrono::duration<double>(t1 - t0).count();
  std::printf("single box: events=%zu results=%zu%s published in %.2fs, all results in %.2fs: %.0f ev/s; "
              "cpu %.2fs = %.1f us/event\n",
              sent, results.load(), done ? "" : " (INCOMPLETE)", std::chrono::duration<double>(t_published - t0).count(),
              secs, sent / secs, cpu, cpu / static_cast<double>(sent) * 1e6);
  std::fflush(stdout);
  pub.disconnect()->wait();
  sub.disconnect()->wait();
}

void idle(const std::string& bin, int partitions, int seconds) {
  kPartitions = partitions;
  NatsCluster nats(kPartitions);
  TempDir dir;
  fs::create_directories(dir / "rules");
  write_file(dir / "rules" / "10.sql", kRules);
  std::vector<std::unique_ptr<Process>> procs;
  for (int i = 0; i < 3; ++i) procs.push_back(instance(bin, nats, dir.path(), "i" + std::to_string(i), "10s"));
  const auto t_start = Clock::now();
  const bool balanced = wait_until(
      [&] {
        int total = 0;
        for (auto& p : procs) {
          const int o = static_cast<int>(p->err_count("took partition")) - static_cast<int>(p->err_count("released partition"));
          if (o < kPartitions / 3) return false;
          total += o;
        }
        return total == kPartitions;
      },
      300s);
  const double balance_s = std::chrono::duration<double>(Clock::now() - t_start).count();
  std::this_thread::sleep_for(5s);  // let the last acquisitions settle
  std::vector<double> c0, n0;
  for (auto& p : procs) c0.push_back(cpu_seconds(p->pid()));
  for (int i = 0; i < NatsCluster::kNodes; ++i) n0.push_back(cpu_seconds(nats.pid(i)));
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  double inst = 0, srv = 0;
  for (std::size_t i = 0; i < procs.size(); ++i) inst += cpu_seconds(procs[i]->pid()) - c0[i];
  for (int i = 0; i < NatsCluster::kNodes; ++i) srv += cpu_seconds(nats.pid(i)) - n0[static_cast<std::size_t>(i)];
  std::printf("idle P=%d, 3 instances%s (balanced in %.1fs), %ds: instances %.2fs CPU (%.1f%% of a core each), "
              "nats-servers %.2fs CPU (%.1f%% of a core each)\n",
              kPartitions, balanced ? "" : " (NOT BALANCED)", balance_s, seconds, inst, inst / seconds / 3 * 100, srv,
              srv / seconds / 3 * 100);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: cluster_bench STREAMGATE_BINARY [events=50000] [kills=10] [lease-ttl=10s]\n";
    return 2;
  }
  const std::string bin = argv[1];
  if (argc > 2 && std::string(argv[2]) == "single") {
    try {
      single_box(bin, argc > 3 ? std::stoi(argv[3]) : 50'000);
    } catch (const std::exception& e) {
      std::cerr << "cluster_bench: " << e.what() << "\n";
      return 1;
    }
    return 0;
  }
  if (argc > 3 && std::string(argv[2]) == "idle") {
    try {
      idle(bin, std::stoi(argv[3]), argc > 4 ? std::stoi(argv[4]) : 30);
    } catch (const std::exception& e) {
      std::cerr << "cluster_bench: " << e.what() << "\n";
      return 1;
    }
    return 0;
  }
  const int events = argc > 2 ? std::stoi(argv[2]) : 50'000;
  const int kills = argc > 3 ? std::stoi(argv[3]) : 10;
  const std::string ttl = argc > 4 ? argv[4] : "10s";
  try {
    for (int n = 1; n <= 3; ++n) throughput(bin, events, n);
    if (kills > 0) takeover(bin, kills, ttl);
  } catch (const std::exception& e) {
    std::cerr << "cluster_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
