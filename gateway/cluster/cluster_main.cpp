// Cluster mode's main loop; see cluster_main.h.
#include "gateway/cluster/cluster_main.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "gateway/cluster/cluster_runner.h"
#include "gateway/http_server.h"
#include "gateway/metrics.h"
#include "gateway/rule_files.h"
#include "gateway/sd_notify.h"
#include "rules/cluster/partition_check.h"

namespace streamgate::gateway::cluster {

namespace {

// As in single-box mode: ten seconds without a worker beat is a stall (the worker beats every
// round, and while it waits for NATS).
constexpr std::int64_t kStallNs = 10'000'000'000;

//! metrics-listen in cluster mode: /metrics, /metrics.json, /cluster (the status document of the
//! control topic) and /health, served from the snapshot the worker publishes once a second.
class ClusterHttp {
 public:
  explicit ClusterHttp(const ClusterRunner& runner) : runner_(runner), progress_(runner.heartbeat().beats, kStallNs) {
    HttpLimits limits;  // scrapers and probes: a few threads, no rate bound
    limits.threads = 4;
    limits.requests_per_second = 0;
    http_ = std::make_unique<HttpServer>(limits);
    auto& s = http_->routes();
    serve(s, "/metrics", &ClusterSnapshot::prometheus, "text/plain; version=0.0.4; charset=utf-8");
    serve(s, "/metrics.json", &ClusterSnapshot::json, "application/json");
    serve(s, "/cluster", &ClusterSnapshot::status, "application/json");
    auto health = [this](const httplib::Request&, httplib::Response& res) {
      bool ok = false;
      {
        std::lock_guard<std::mutex> lock(progress_mu_);
        ok = progress_.healthy(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
      }
      res.status = ok ? 200 : 503;
      res.set_content(ok ? "ok\n" : "worker stalled\n", "text/plain; charset=utf-8");
    };
    s.Get("/health", health);
    s.Get("/healthz", health);
  }
  std::string start(const std::string& listen) { return http_->start(listen, "metrics-listen"); }
  void stop() { http_->stop(); }
  int port() const { return http_->port(); }

 private:
  void serve(httplib::Server& s, const char* path, std::string ClusterSnapshot::*member, const char* type) {
    s.Get(path, [this, member, type](const httplib::Request&, httplib::Response& res) {
      if (auto snap = runner_.snapshot()) {
        res.set_content((*snap).*member, type);
      } else {
        res.status = 503;
        res.set_content("no snapshot yet\n", "text/plain; charset=utf-8");
      }
    });
  }

  const ClusterRunner& runner_;
  std::mutex progress_mu_;  //!< ProgressMonitor is single-threaded; HTTP threads take turns
  ProgressMonitor progress_;
  std::unique_ptr<HttpServer> http_;
};

//! SIGHUP: the rule files as at startup, checked for the partition key like there; the worker
//! checks they load. Any problem refuses the whole reload (the running rules stay).
void reload_cluster_rules(ClusterRunner& runner, const Config& config) {
  spdlog::info("SIGHUP: reloading rules from {}", config.rules_dir);
  std::vector<RuleFile> rf;
  std::vector<std::string> problems;
  read_gateway_rule_files(config.rules_dir, config.control_rules_dir, rf, problems);
  std::vector<std::pair<std::string, std::string>> files;
  rules::PartitionContext cluster;  // what earlier files declared (tables, fleet-wide rules)
  for (auto& f : rf) {
    for (const auto& e : rules::check_partition_key(f.path, f.text, config.cluster.partition_field, &cluster)) {
      problems.push_back(e.to_string());
    }
    files.emplace_back(std::move(f.path), std::move(f.text));
  }
  if (!problems.empty()) {
    for (const auto& p : problems) spdlog::error("reload: {}", p);
    spdlog::error("reload skipped; the previous rules keep running");
    return;
  }
  runner.request_reload(std::move(files));
}

}  // namespace

int run_cluster(const Config& config, std::vector<std::pair<std::string, std::string>> files,
                const rules::EngineOptions& engine_options, const sigset_t& signals) {
  spdlog::info("cluster mode: {} partitions, lease ttl {} ms, instance '{}'", config.cluster.partitions,
               config.cluster.lease_ttl.count(), config.cluster.instance_id);
  Heartbeat heartbeat;
  ClusterRunner runner(config, std::move(files), engine_options, heartbeat);
  runner.start();
  std::unique_ptr<ClusterHttp> http;
  if (!config.metrics_listen.empty()) {
    http = std::make_unique<ClusterHttp>(runner);
    const std::string err = http->start(config.metrics_listen);
    if (err.empty()) {
      spdlog::info("metrics on http://{}/metrics, cluster status on /cluster (port {})", config.metrics_listen,
                   http->port());
    } else {
      spdlog::error("{}: the metrics endpoint is off", err);
      http.reset();
    }
  }
  if (!config.dashboard.listen.empty()) {
    spdlog::warn("dashboard-listen: the dashboard is single-box only; in cluster mode the status is on "
                 "metrics-listen (/cluster, /metrics) and the control topic");
  }
  sd_notify(notify_ready("running (cluster)"));
  // The unit's WatchdogSec applies unchanged: pinged while the worker loop advances.
  std::unique_ptr<WatchdogPinger> pinger;
  if (auto interval = watchdog_interval_from_env()) {
    pinger = std::make_unique<WatchdogPinger>(heartbeat, *interval, [](std::string_view m) { sd_notify(m); });
  }
  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      reload_cluster_rules(runner, config);
      continue;
    }
    spdlog::info("{}: stopping", strsignal(sig));
    break;
  }
  sd_notify(notify_stopping());
  if (http) http->stop();
  runner.stop();
  if (pinger) pinger->stop();
  spdlog::info("bye");
  return 0;
}

}  // namespace streamgate::gateway::cluster
