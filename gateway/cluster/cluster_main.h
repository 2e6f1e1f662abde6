// `streamgate run` in cluster mode (cluster-url set): starts the ClusterRunner, tells systemd it
// is ready, waits for SIGINT/SIGTERM on the calling thread (signals are blocked by main), stops.
#pragma once

#include <signal.h>

#include <string>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "rules/engine.h"

namespace streamgate::gateway::cluster {

//! `files`: the rule files that loaded without error. Returns the exit code.
int run_cluster(const Config& config, std::vector<std::pair<std::string, std::string>> files,
                const rules::EngineOptions& engine_options, const sigset_t& signals);

}  // namespace streamgate::gateway::cluster
