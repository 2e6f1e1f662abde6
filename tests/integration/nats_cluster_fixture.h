// A real 3-node nats-server cluster for tests: client, route (and optionally MQTT) ports picked
// free on loopback, JetStream in per-node temp dirs, the partition subject mapping
// `devices.*.telemetry -> part.{{partition(P,1)}}.devices.{{wildcard(1)}}.telemetry` (and the
// same for `shop.*.events`) on every node (so every device always lands in one partition). Ready
// when every node answers on its client port and a stream with 3 replicas can be created (every
// node is a JetStream peer). Nodes are stopped by PID (kill -9 or SIGTERM) and restarted on the
// same ports with the same store.
//
// Each cluster has its own name and route credentials: ctest runs tests in parallel, and a port
// freed by one cluster's stopped node can be picked by another test's cluster while the first
// cluster's nodes still dial it. Without them the two clusters merged (same name, same server
// names) and JetStream placed nothing for a whole test ("no suitable peers for placement").
#pragma once

#include <nats/nats.h>

#include <unistd.h>

#include <array>
#include <atomic>
#include <memory>
#include <random>
#include <string>

#include "mosquitto_fixture.h"
#include "process.h"

namespace streamgate::test {

inline std::string nats_server_binary() {
  for (const char* p : {"/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "nats-server";
}

class NatsCluster {
 public:
  static constexpr int kNodes = 3;

  //! `partitions`: P of the subject mapping; `mqtt`: node 0 also listens for MQTT clients.
  explicit NatsCluster(int partitions = 8, bool mqtt = false)
      : partitions_(partitions), name_(unique_name()) {
    // A port picked free can be taken by another test before the node binds it (ctest -j):
    // the node then exits, and a fresh set of ports is tried.
    for (int attempt = 1;; ++attempt) {
      const auto ports = pick_free_ports(2 * kNodes + 1);  // distinct: held together while picked
      for (int i = 0; i < kNodes; ++i) {
        client_ports_[i] = ports[2 * i];
        route_ports_[i] = ports[2 * i + 1];
      }
      if (mqtt) mqtt_port_ = ports[2 * kNodes];
      for (int i = 0; i < kNodes; ++i) write_config(i);
      for (int i = 0; i < kNodes; ++i) start_process(i);
      const bool up = wait_until([this] { return jetstream_ready() || !all_running(); }, 60s) && all_running();
      if (up) return;
      if (attempt == 3 || all_running()) {
        throw std::runtime_error("JetStream could not place a stream on 3 peers:\n" + logs());
      }
      for (int i = 0; i < kNodes; ++i) halt(i, SIGKILL);
    }
  }
  ~NatsCluster() {
    for (int i = 0; i < kNodes; ++i) halt(i, SIGKILL);
  }
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  int partitions() const { return partitions_; }
  int mqtt_port() const { return mqtt_port_; }
  std::string url(int node) const { return "nats://127.0.0.1:" + std::to_string(client_ports_[node]); }
  //! All client URLs, comma separated (what `cluster-url` takes).
  std::string urls() const {
    std::string s;
    for (int i = 0; i < kNodes; ++i) s += (i ? "," : "") + url(i);
    return s;
  }

  void kill(int node) { halt(node, SIGKILL); }
  void stop(int node) { halt(node, SIGTERM); }
  void start(int node) {
    if (procs_[node] && procs_[node]->running()) return;
    start_process(node);
    wait_listening(node);
  }
  bool running(int node) { return procs_[node] && procs_[node]->running(); }
  //! PID of a running node (benchmarks read its CPU time); -1 when stopped.
  pid_t pid(int node) { return running(node) ? procs_[node]->pid() : -1; }

  //! Every node's log; with `tail_chars`, the last that many characters of each.
  std::string logs(std::size_t tail_chars = std::string::npos) const {
    std::string s;
    for (int i = 0; i < kNodes; ++i) {
      if (!procs_[i]) continue;
      const std::string log = procs_[i]->logs();
      s += "--- nats node " + std::to_string(i) + ":\n" +
           (log.size() > tail_chars ? "[...]" + log.substr(log.size() - tail_chars) : log);
    }
    return s;
  }

 private:
  void write_config(int i) {
    std::string routes;
    for (int j = 0; j < kNodes; ++j) {
      if (j != i) {
        routes += "    nats-route://sg:" + name_ + "@127.0.0.1:" + std::to_string(route_ports_[j]) + "\n";
      }
    }
    const auto store = dir_ / ("store-" + std::to_string(i));
    std::string conf =
        "server_name: " + name_ + "-n" + std::to_string(i) + "\n" +
        "listen: 127.0.0.1:" + std::to_string(client_ports_[i]) + "\n" +
        "jetstream { store_dir: \"" + store.string() + "\", max_memory_store: 64MB, max_file_store: 512MB }\n" +
        "cluster {\n  name: " + name_ + "\n  listen: 127.0.0.1:" + std::to_string(route_ports_[i]) +
        "\n  authorization { user: sg, password: " + name_ + " }" +
        "\n  routes: [\n" + routes + "  ]\n}\n" +
        "mappings = {\n  \"devices.*.telemetry\": \"part.{{partition(" + std::to_string(partitions_) +
        ",1)}}.devices.{{wildcard(1)}}.telemetry\"\n" +
        // The shipped 10-sales.sql's stream: shop/<id>/events, partitioned by the shop token.
        "  \"shop.*.events\": \"part.{{partition(" + std::to_string(partitions_) +
        ",1)}}.shop.{{wildcard(1)}}.events\"\n}\n";
    if (i == 0 && mqtt_port_ != 0) conf += "mqtt { listen: 127.0.0.1:" + std::to_string(mqtt_port_) + " }\n";
    write_file(dir_ / ("n" + std::to_string(i) + ".conf"), conf);
  }

  void start_process(int i) {
    ++starts_;
    procs_[i] = std::make_unique<Process>(
        std::vector<std::string>{nats_server_binary(), "-c", (dir_ / ("n" + std::to_string(i) + ".conf")).string()},
        dir_ / ("nats-" + std::to_string(i) + "-" + std::to_string(starts_)));
  }

  bool all_running() {
    for (int i = 0; i < kNodes; ++i) {
      if (!running(i)) return false;
    }
    return true;
  }

  void wait_listening(int i) {
    if (!wait_until([&] { return port_accepts(client_ports_[i]) || !procs_[i]->running(); }, 30s) ||
        !procs_[i]->running()) {
      throw std::runtime_error("nats-server node " + std::to_string(i) + " did not start:\n" + logs());
    }
  }

  void halt(int i, int sig) {
    if (!procs_[i] || !procs_[i]->running()) return;
    procs_[i]->signal(sig);
    if (!procs_[i]->wait_exit(20s)) {
      procs_[i]->signal(SIGKILL);
      procs_[i]->wait_exit(10s);
    }
  }

  // A cluster, and its JetStream, is usable once every node is a peer: a stream with 3 replicas
  // can be created (a meta leader alone is not enough; streamgate's streams are R3).
  bool jetstream_ready() {
    natsConnection* nc = nullptr;
    if (natsConnection_ConnectTo(&nc, urls().c_str()) != NATS_OK) return false;
    jsCtx* js = nullptr;
    bool ok = false;
    if (natsConnection_JetStream(&js, nc, nullptr) == NATS_OK) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      cfg.Name = "SGTEST_READY";
      const char* subjects[] = {"sgtest.ready"};
      cfg.Subjects = subjects;
      cfg.SubjectsLen = 1;
      cfg.Replicas = 3;
      cfg.Storage = js_MemoryStorage;
      jsStreamInfo* si = nullptr;
      jsErrCode jerr = static_cast<jsErrCode>(0);
      ok = js_AddStream(&si, js, &cfg, nullptr, &jerr) == NATS_OK;
      if (si) jsStreamInfo_Destroy(si);
      if (ok) js_DeleteStream(js, "SGTEST_READY", nullptr, &jerr);
      jsCtx_Destroy(js);
    }
    natsConnection_Destroy(nc);
    return ok;
  }

  static std::string unique_name() {
    static std::atomic<int> counter{0};
    return "sgt" + std::to_string(::getpid()) + "x" + std::to_string(counter++) + "x" +
           std::to_string(std::random_device{}() % 1000000);
  }

  TempDir dir_;
  int partitions_;
  std::string name_;  // cluster name, route password and server-name prefix: this cluster's alone
  std::array<int, kNodes> client_ports_{};
  std::array<int, kNodes> route_ports_{};
  int mqtt_port_ = 0;
  int starts_ = 0;
  std::array<std::unique_ptr<Process>, kNodes> procs_;
};

}  // namespace streamgate::test
