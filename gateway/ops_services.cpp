// Rule watcher, metrics endpoint and dashboard wiring.
#include "gateway/ops_services.h"

#include "gateway/clock.h"

#include <chrono>

#include <httplib.h>

#include <spdlog/spdlog.h>

#include "gateway/plugins.h"
#include "gateway/rule_files.h"

namespace streamgate::gateway {

namespace {
// The worker beats at least every tick (100 ms by default) even when idle; ten seconds without
// a beat means it is stuck in one message, a reload or a blocked output.
constexpr std::int64_t kStallNs = 10'000'000'000;
}  // namespace

void reload_rules(Pipeline& pipeline, const Config& config, const char* why) {
  spdlog::info("{}: reloading rules from {}", why, config.rules_dir);
  // New plugins first, so the new rules may call them (the worker plans them after this).
  if (!config.plugins_dir.empty()) load_and_log_plugins(config.plugins_dir);
  std::vector<RuleFile> rf;
  std::vector<std::string> problems;
  read_gateway_rule_files(config.rules_dir, config.control_rules_dir, rf, problems);
  if (!problems.empty()) {
    for (const auto& p : problems) spdlog::error("reload: {}", p);
    spdlog::error("reload skipped; the previous rules keep running");
    return;
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (auto& f : rf) files.emplace_back(std::move(f.path), std::move(f.text));
  pipeline.request_reload(std::move(files));
}

OpsServices::OpsServices(const Config& config, Pipeline& pipeline, const Heartbeat& heartbeat)
    : config_(config), pipeline_(pipeline), progress_(heartbeat.beats, kStallNs) {}

OpsServices::~OpsServices() { stop(); }

void OpsServices::start() {
  if (config_.watch_rules) {
    watcher_ = std::make_unique<RuleWatcher>(config_.rules_dir, [this] {
      reload_rules(pipeline_, config_, "rules directory changed");
    });
    const std::string err = watcher_->start();
    if (err.empty()) {
      spdlog::info("watching {} for rule changes", config_.rules_dir);
    } else {
      spdlog::error("{}: hot reload on file changes is off (SIGHUP still reloads)", err);
      watcher_.reset();
    }
  }
  if (!config_.metrics_listen.empty()) {
    // Scrapers and health probes: a few threads, no rate bound (probes may be frequent).
    HttpLimits limits;
    limits.threads = 4;
    limits.requests_per_second = 0;
    http_ = std::make_unique<HttpServer>(limits);
    add_ops_routes(*http_);
    const std::string err = http_->start(config_.metrics_listen, "metrics-listen");
    if (err.empty()) {
      spdlog::info("metrics on http://{}/metrics (port {})", config_.metrics_listen, http_->port());
    } else {
      spdlog::error("{}: the metrics endpoint is off", err);
      http_.reset();
    }
  }
  if (!config_.dashboard.listen.empty()) {
    dashboard_ = std::make_unique<dashboard::Dashboard>(config_, pipeline_.ops(),
                                                        [this](HttpServer& s) { add_ops_routes(s); });
    const std::string err = dashboard_->start();
    if (err.empty()) {
      spdlog::info("dashboard on http://{}/ (port {})", config_.dashboard.listen, dashboard_->port());
    } else {
      spdlog::error("{}: the dashboard is off", err);
      dashboard_->stop();
      dashboard_.reset();
    }
  }
}

void OpsServices::stop() {
  if (watcher_) watcher_->stop();
  if (dashboard_) dashboard_->stop();
  if (http_) http_->stop();
  {
    std::lock_guard<std::mutex> lock(progress_mu_);
    stop_sampling_ = true;
  }
  sampler_cv_.notify_all();
  if (sampler_.joinable()) sampler_.join();
}

void OpsServices::sample_health() {
  std::unique_lock<std::mutex> lock(progress_mu_);
  while (!stop_sampling_) {
    healthy_.store(progress_.healthy(steady_now_ns()));
    sampler_cv_.wait_for(lock, std::chrono::milliseconds(500));
  }
}

void OpsServices::add_ops_routes(HttpServer& server) {
  auto& s = server.routes();
  auto snapshot = [this](httplib::Response& res) {
    auto snap = pipeline_.ops().snapshot();
    if (!snap) {
      res.status = 503;
      res.set_content("no snapshot yet\n", "text/plain; charset=utf-8");
    }
    return snap;
  };
  s.Get("/metrics", [snapshot](const httplib::Request&, httplib::Response& res) {
    auto snap = snapshot(res);
    if (!snap) return;
    // The worker takes the snapshot: if it is stuck the figures stop changing, and this line, taken
    // now, says for how long (with /health turning 503 after 10 s).
    const double age = static_cast<double>(system_now_ns() - snap->taken_ns) / 1e9;
    res.set_content(snap->prometheus +
                        "# HELP streamgate_metrics_age_seconds seconds since the worker took these figures\n"
                        "# TYPE streamgate_metrics_age_seconds gauge\n"
                        "streamgate_metrics_age_seconds " + std::to_string(age) + "\n",
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/metrics.json", [snapshot](const httplib::Request&, httplib::Response& res) {
    if (auto snap = snapshot(res)) res.set_content(snap->json, "application/json");
  });
  if (!sampler_.joinable()) sampler_ = std::thread([this] { sample_health(); });
  auto health = [this](const httplib::Request&, httplib::Response& res) {
    if (healthy_.load()) {
      res.set_content("ok\n", "text/plain; charset=utf-8");
    } else {
      res.status = 503;
      res.set_content("worker stalled\n", "text/plain; charset=utf-8");
    }
  };
  s.Get("/health", health);
  s.Get("/healthz", health);
}

}  // namespace streamgate::gateway
