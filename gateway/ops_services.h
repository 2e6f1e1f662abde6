// The operator-facing threads around a running pipeline: the rules-directory watcher (hot
// reload) and the loopback HTTP server for /metrics and /health. Started by main after the
// pipeline, stopped before it.
#pragma once

#include <memory>
#include <string>

#include "gateway/config.h"
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
  HttpResponse serve(const std::string& path);

  const Config& config_;
  Pipeline& pipeline_;
  ProgressMonitor progress_;
  bool healthy_ = true;  //!< sampled on the HTTP thread only
  std::unique_ptr<RuleWatcher> watcher_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace streamgate::gateway
