// The worker-side part of operations: control requests, per-topic counters and the periodic
// metrics snapshot. The pipeline owns one OpsHooks and calls it from its worker thread at a few
// points (message in, result out, between batches); the HTTP thread only reads the published
// snapshot and the atomics. Keeping this out of pipeline.cpp keeps the hot loop readable.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/config.h"
#include "gateway/control.h"
#include "gateway/dashboard/requests.h"
#include "gateway/dashboard/tap.h"
#include "gateway/metrics.h"
#include "rules/engine.h"

namespace streamgate::gateway {

class OpsHooks {
 public:
  explicit OpsHooks(const Config& config);

  //! Worker: is this message a control request (not an event)?
  bool is_control(std::string_view topic) const {
    return control_ != nullptr && topic == control_->topic();
  }
  //! Worker, per message / per result (no-ops when metrics and the dashboard are off).
  void count_in(std::string_view topic, std::string_view payload, std::int64_t received_ns) {
    if (metrics_on_) topics_in_.add(topic);
    if (tap_) tap_->offer_input(topic, payload, received_ns);
  }
  void count_out(const rules::Emission& e) {
    if (metrics_on_) topics_out_.add(e.topic);
    if (tap_) tap_->offer_output(e, now_ns());
  }

  //! Worker, once per loop: runs the dashboard's waiting requests (deploy, pause, resume).
  void serve_requests(rules::Engine& engine, const ControlHandler::ReloadFn& reload) {
    if (!dashboard_requests_.waiting()) return;
    dashboard_requests_.serve(
        [&](const std::string& request) { return dashboard_control_->handle(request, engine, reload).payload; });
  }

  //! Worker: runs one control request; the reply is to be published.
  rules::Emission on_control(std::string_view payload, rules::Engine& engine,
                             const ControlHandler::ReloadFn& reload);

  //! Worker, between batches: about once a second rebuilds the snapshot (`fill` adds the
  //! pipeline's figures to the inputs); every metrics-interval returns a message for metrics-topic.
  std::optional<rules::Emission> tick(std::int64_t steady_now_ns, const rules::Engine& engine,
                                      const std::function<void(MetricsInputs&)>& fill);

  //! Any thread.
  std::shared_ptr<const MetricsSnapshot> snapshot() const { return snapshot_.load(); }
  const SnapshotBox& snapshot_box() const { return snapshot_; }
  DurabilityGauges& durability() { return durability_; }
  const ControlStats& control_stats() const { return control_stats_; }
  bool metrics_on() const { return metrics_on_; }
  //! The dashboard's side of the worker (null / unused when dashboard-listen is empty).
  dashboard::Tap* tap() { return tap_.get(); }
  dashboard::RequestInbox& dashboard_requests() { return dashboard_requests_; }

 private:
  std::unique_ptr<ControlHandler> control_;
  ControlStats control_stats_;
  DurabilityGauges durability_;
  bool metrics_on_ = false;
  std::string metrics_topic_;
  std::int64_t metrics_interval_ns_;
  std::int64_t started_ns_ = 0;
  std::int64_t next_snapshot_ns_ = 0;
  std::int64_t next_publish_ns_ = 0;
  TopicCounter topics_in_;
  TopicCounter topics_out_;
  SnapshotBox snapshot_;
  static std::int64_t now_ns();
  std::string in_rules_json_;
  std::unique_ptr<dashboard::Tap> tap_;
  std::unique_ptr<ControlHandler> dashboard_control_;
  dashboard::RequestInbox dashboard_requests_;
};

}  // namespace streamgate::gateway
