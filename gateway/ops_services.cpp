// Rule watcher and metrics endpoint wiring.
#include "gateway/ops_services.h"

#include <chrono>

#include <spdlog/spdlog.h>

#include "gateway/rule_files.h"

namespace streamgate::gateway {

namespace {
// The worker beats at least every tick (100 ms by default) even when idle; ten seconds without
// a beat means it is stuck in one message, a reload or a blocked output.
constexpr std::int64_t kStallNs = 10'000'000'000;

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void reload_rules(Pipeline& pipeline, const Config& config, const char* why) {
  spdlog::info("{}: reloading rules from {}", why, config.rules_dir);
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
    http_ = std::make_unique<HttpServer>([this](const std::string& path) { return serve(path); },
                                         [this] { healthy_ = progress_.healthy(steady_now_ns()); });
    const std::string err = http_->start(config_.metrics_listen);
    if (err.empty()) {
      spdlog::info("metrics on http://{}/metrics (port {})", config_.metrics_listen, http_->port());
    } else {
      spdlog::error("{}: the metrics endpoint is off", err);
      http_.reset();
    }
  }
}

void OpsServices::stop() {
  if (watcher_) watcher_->stop();
  if (http_) http_->stop();
}

HttpResponse OpsServices::serve(const std::string& path) {
  if (path == "/metrics") {
    auto snap = pipeline_.ops().snapshot();
    if (!snap) return {503, "text/plain; charset=utf-8", "no snapshot yet\n"};
    return {200, "text/plain; version=0.0.4; charset=utf-8", snap->prometheus};
  }
  if (path == "/metrics.json") {
    auto snap = pipeline_.ops().snapshot();
    if (!snap) return {503, "text/plain; charset=utf-8", "no snapshot yet\n"};
    return {200, "application/json", snap->json};
  }
  if (path == "/health" || path == "/healthz") {
    healthy_ = progress_.healthy(steady_now_ns());
    if (healthy_) return {200, "text/plain; charset=utf-8", "ok\n"};
    return {503, "text/plain; charset=utf-8", "worker stalled\n"};
  }
  return {404, "text/plain; charset=utf-8", "not found (try /metrics or /health)\n"};
}

}  // namespace streamgate::gateway
