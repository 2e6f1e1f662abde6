// Cluster mode's main loop; see cluster_main.h.
#include "gateway/cluster/cluster_main.h"

#include <cstring>
#include <memory>

#include <spdlog/spdlog.h>

#include "gateway/cluster/cluster_runner.h"
#include "gateway/sd_notify.h"

namespace streamgate::gateway::cluster {

int run_cluster(const Config& config, std::vector<std::pair<std::string, std::string>> files,
                const rules::EngineOptions& engine_options, const sigset_t& signals) {
  spdlog::info("cluster mode: {} partitions, lease ttl {} ms, instance '{}'", config.cluster.partitions,
               config.cluster.lease_ttl.count(), config.cluster.instance_id);
  Heartbeat heartbeat;
  ClusterRunner runner(config, std::move(files), engine_options, heartbeat);
  runner.start();
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
      spdlog::warn("SIGHUP: rule reload is not supported in cluster mode yet; restart the instances");
      continue;
    }
    spdlog::info("{}: stopping", strsignal(sig));
    break;
  }
  sd_notify(notify_stopping());
  runner.stop();
  if (pinger) pinger->stop();
  spdlog::info("bye");
  return 0;
}

}  // namespace streamgate::gateway::cluster
