// Worker-side operations glue: control dispatch and metrics snapshots.
#include "gateway/ops_hooks.h"

#include <chrono>

#include <nlohmann/json.hpp>

namespace streamgate::gateway {

namespace {
constexpr std::int64_t kSnapshotIntervalNs = 1'000'000'000;

std::int64_t system_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

OpsHooks::OpsHooks(const Config& config)
    : metrics_on_(!config.metrics_listen.empty() || !config.metrics_topic.empty() || !config.dashboard.listen.empty()),
      metrics_topic_(config.metrics_topic),
      metrics_interval_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(config.metrics_interval).count()) {
  if (!config.control_topic.empty()) {
    control_ = std::make_unique<ControlHandler>(config.control_topic, config.control_secret,
                                                config.rules_dir, config.control_rules_dir, control_stats_);
  }
  if (!config.dashboard.listen.empty()) {
    // Budgets per second: the dashboard shows a live sample, it never costs the worker more
    // than a few thousand small copies a second.
    tap_ = std::make_unique<dashboard::Tap>(4096, 500, 500);
    // Authentication happened on the HTTP side (dashboard-auth-file): no HMAC here.
    dashboard_control_ = std::make_unique<ControlHandler>("$dashboard", "", config.rules_dir,
                                                          config.control_rules_dir, control_stats_);
  }
}

std::int64_t OpsHooks::now_ns() { return system_now_ns(); }

rules::Emission OpsHooks::on_control(std::string_view payload, rules::Engine& engine,
                                     const ControlHandler::ReloadFn& reload) {
  ControlReply r = control_->handle(payload, engine, reload);
  rules::Emission e;
  e.kind = rules::EmissionKind::Result;
  e.rule = "$control";
  e.topic = std::move(r.topic);
  e.qos = 1;
  e.payload = std::move(r.payload);
  return e;
}

std::optional<rules::Emission> OpsHooks::tick(std::int64_t now, const rules::Engine& engine,
                                              const std::function<void(MetricsInputs&)>& fill) {
  if (!metrics_on_) return std::nullopt;
  if (started_ns_ == 0) {
    started_ns_ = now;
    next_publish_ns_ = now + metrics_interval_ns_;
  }
  if (now < next_snapshot_ns_) return std::nullopt;
  next_snapshot_ns_ = now + kSnapshotIntervalNs;
  MetricsInputs in;
  in.rules = engine.metrics();
  in.tables = engine.table_metrics();
  in.durability = &durability_;
  in.control = control_ ? &control_stats_ : nullptr;
  in.topics_in = &topics_in_;
  in.topics_out = &topics_out_;
  in.rss_bytes = resident_memory_bytes();
  in.uptime_seconds = static_cast<double>(now - started_ns_) / 1e9;
  fill(in);
  if (tap_) {
    tap_->refill();
    // What the dashboard's Rules view shows besides the metrics: the SQL and where it comes from.
    nlohmann::json rules = nlohmann::json::array();
    for (const auto& r : engine.rules()) {
      rules.push_back({{"name", r.name}, {"file", r.file}, {"from", r.from}, {"topic", r.output_topic},
                       {"qos", r.qos}, {"delivery", rules::to_string(r.delivery)}, {"sql", r.text}});
    }
    in_rules_json_ = rules.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  const auto families = collect_metric_families(in);
  auto snap = std::make_shared<MetricsSnapshot>();
  snap->taken_ns = system_now_ns();
  snap->prometheus = format_prometheus(families);
  snap->json = format_metrics_json(families, snap->taken_ns);
  snap->rules = std::move(in_rules_json_);
  std::optional<rules::Emission> out;
  if (!metrics_topic_.empty() && now >= next_publish_ns_) {
    next_publish_ns_ = now + metrics_interval_ns_;
    rules::Emission e;
    e.kind = rules::EmissionKind::Result;
    e.rule = "$metrics";
    e.topic = metrics_topic_;
    e.qos = 0;
    e.payload = snap->json;
    out = std::move(e);
  }
  snapshot_.publish(std::move(snap));
  return out;
}

}  // namespace streamgate::gateway
