// The operator-facing threads around a running pipeline: the rules-directory watcher (hot
// reload), the HTTP server for /metrics and /health (metrics-listen) and the dashboard
// (dashboard-listen, which serves /metrics and /health too). Started by main after the
// pipeline, stopped before it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <string>

#include "gateway/config.h"
#include "gateway/dashboard/dashboard.h"
#include "gateway/http_server.h"
#include "gateway/metrics.h"
#include "gateway/pipeline.h"
#include "gateway/rule_watcher.h"
#include "gateway/sd_notify.h"

namespace streamgate::gateway {

//! Reads every *.sql file of the rules directory and of the control-rules directory and hands
//! the set to the pipeline, which applies it on its worker. An unreadable directory or file
//! skips the reload (the running rules stay).
void reload_rules(Pipeline& pipeline, const Config& config, const char* why);

class OpsServices {
 public:
  OpsServices(const Config& config, Pipeline& pipeline, const Heartbeat& heartbeat);
  ~OpsServices();
  OpsServices(const OpsServices&) = delete;
  OpsServices& operator=(const OpsServices&) = delete;

  //! Starts what the config enables. Problems are logged; the data path runs regardless.
  void start();
  void stop();
  //! Port of the metrics endpoint (0 when off).
  int metrics_port() const { return http_ ? http_->port() : 0; }

 private:
  //! /metrics, /metrics.json, /health on `server` (the metrics server, the dashboard's).
  void add_ops_routes(HttpServer& server);

  const Config& config_;
  Pipeline& pipeline_;
  //! Samples progress twice a second while an HTTP server runs, so a worker that stalls right
  //! after its last beat reads as stalled at the first probe 10 s later, not the second.
  void sample_health();
  std::mutex progress_mu_;  //!< guards progress_ and stop_sampling_ (sampler + HTTP threads)
  std::condition_variable sampler_cv_;
  bool stop_sampling_ = false;
  ProgressMonitor progress_;
  std::atomic<bool> healthy_{true};
  std::thread sampler_;
  std::unique_ptr<RuleWatcher> watcher_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<dashboard::Dashboard> dashboard_;
};

}  // namespace streamgate::gateway
