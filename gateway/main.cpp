// streamgate: entry point. `streamgate [run] [options]` runs the gateway daemon,
// `streamgate replay ...` and `streamgate check-rules ...` run rules offline, `streamgate
// functions --markdown` prints the function reference.
#include <signal.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "gateway/check_rules.h"
#ifdef STREAMGATE_CLUSTER
#include "gateway/cluster/cluster_main.h"
#endif
#include "gateway/config.h"
#include "gateway/functions_doc.h"
#include "gateway/ops_services.h"
#include "gateway/pipeline.h"
#include "gateway/plugins.h"
#include "gateway/replay.h"
#include "gateway/rule_files.h"
#include "gateway/sd_notify.h"
#include "gateway/sqlite_table_loader.h"
#include "rules/cluster/partition_check.h"
#include "rules/engine.h"

namespace sg = streamgate::gateway;

namespace {

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("streamgate");
  // Under systemd the journal adds its own timestamp; keep ours for plain terminals and tests.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

int run_daemon(const std::vector<std::string>& args) {
  sg::ParseOutcome parsed = sg::parse_config(args);
  if (!parsed.error.empty()) {
    std::cerr << "streamgate: error: " << parsed.error << "\n";
    return 2;
  }
  if (!parsed.config) {
    std::cout << parsed.print;
    return 0;
  }
  const sg::Config& config = *parsed.config;
  {
    std::error_code ec;
    if (!std::filesystem::is_directory(config.rules_dir, ec)) {
      std::cerr << "streamgate: error: option 'rules-dir': '" << config.rules_dir
                << "' is not a readable directory\n";
      return 2;
    }
    if (!config.plugins_dir.empty() && !std::filesystem::is_directory(config.plugins_dir, ec)) {
      std::cerr << "streamgate: error: option 'plugins-dir': '" << config.plugins_dir
                << "' is not a readable directory\n";
      return 2;
    }
  }
  setup_logging(config.log_level);
  spdlog::info("{} starting{}", sg::version_string(),
               config.config_file ? " (config " + *config.config_file + ")" : std::string());

  // Signals are taken synchronously by this thread (sigwait); every thread started from here
  // inherits the blocked mask, so no handler ever runs on a Paho or worker thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // A file-size limit (RLIMIT_FSIZE) is a full disk for the state db: a write error to handle
  // (degraded mode), not a signal that kills the process.
  signal(SIGXFSZ, SIG_IGN);

  // Before any rule is planned: rules may call the plugins' functions. A refused library is
  // logged and skipped, like a bad rule file; the rules calling it then fail to load.
  if (!config.plugins_dir.empty()) sg::load_and_log_plugins(config.plugins_dir);

  streamgate::rules::EngineOptions engine_options;
  engine_options.max_payload_bytes = config.max_payload_bytes;
  engine_options.max_group_keys = config.rule_bounds.max_group_keys;
  engine_options.max_open_windows = config.rule_bounds.max_open_windows;
  engine_options.max_rows_per_window = config.rule_bounds.max_rows_per_window;
  engine_options.max_pending_events = config.rule_bounds.max_pending_events;
  engine_options.max_distinct_values = config.rule_bounds.max_distinct_values;
  engine_options.max_dedup_ids = config.rule_bounds.max_dedup_ids;
  engine_options.max_table_rows = config.rule_bounds.max_table_rows;
  engine_options.sqlite_loader = sg::sqlite_table_loader();
  engine_options.on_table_event = [](const std::string& m, bool failed) {
    if (failed) spdlog::warn("{}", m);
    else spdlog::info("{}", m);
  };
  // Engine bounds refusing data (keys, windows, rows, pending events): already rate-limited.
  engine_options.on_limit = [](const std::string& m) { spdlog::warn("{}", m); };
  auto engine = std::make_unique<streamgate::rules::Engine>(engine_options);
  std::vector<std::pair<std::string, std::string>> files;
  {
    std::vector<sg::RuleFile> rf;
    std::vector<std::string> problems;
    sg::read_gateway_rule_files(config.rules_dir, config.control_rules_dir, rf, problems);
    for (const auto& p : problems) spdlog::error("rules: {}", p);
    for (auto& f : rf) files.emplace_back(std::move(f.path), std::move(f.text));
  }
  std::vector<std::pair<std::string, std::string>> loaded;  // cluster mode's engines load these
  streamgate::rules::PartitionContext cluster;  // what earlier files declared (tables, fleet-wide rules)
  for (const auto& [path, text] : files) {
    const auto before = engine->rules().size();
    const auto errors = engine->load_file(path, text);
    // Cluster mode runs one engine per partition: per-key state must be keyed by the partition key.
    const auto cluster_errors = errors.empty() && !config.cluster.url.empty()
                                    ? streamgate::rules::check_partition_key(path, text, config.cluster.partition_field, &cluster)
                                    : std::vector<streamgate::rules::RuleError>{};
    if (errors.empty() && cluster_errors.empty()) {
      loaded.emplace_back(path, text);
      spdlog::info("loaded {} ({} rules)", path, engine->rules().size() - before);
    } else {
      // A bad file is skipped as a whole; the other files keep running.
      for (const auto& e : errors.empty() ? cluster_errors : errors) spdlog::error("{}", e.to_string());
      spdlog::error("skipped {}: {} errors", path, errors.size() + cluster_errors.size());
    }
  }
  for (const auto& r : engine->rules()) {
    spdlog::info("rule '{}' FROM {} -> '{}' (QoS {})", r.name, r.from, r.output_topic, r.qos);
  }
  if (engine->rules().empty()) spdlog::warn("no rules loaded from {}", config.rules_dir);
  if (!config.cluster.url.empty()) {
#ifdef STREAMGATE_CLUSTER
    return streamgate::gateway::cluster::run_cluster(config, std::move(loaded), engine_options, signals);
#else
    spdlog::critical("cluster-url is set but this build has no cluster mode (libnats-dev was missing)");
    return 2;
#endif
  }

  sg::Heartbeat heartbeat;
  sg::Pipeline pipeline(config, std::move(engine), heartbeat);
  pipeline.start();
  // Hot reload (inotify) and the metrics endpoint, when configured; see docs/operations.md.
  sg::OpsServices ops(config, pipeline, heartbeat);
  ops.start();

  const std::string status = "running";
  sg::sd_notify(sg::notify_ready(status));
  std::unique_ptr<sg::WatchdogPinger> pinger;
  if (auto interval = sg::watchdog_interval_from_env()) {
    pinger = std::make_unique<sg::WatchdogPinger>(
        heartbeat, *interval, [](std::string_view m) { sg::sd_notify(m); });
  }

  while (true) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      sg::reload_rules(pipeline, config, "SIGHUP");
      continue;
    }
    spdlog::info("{}: stopping", strsignal(sig));
    break;
  }
  sg::sd_notify(sg::notify_stopping());
  ops.stop();
  pipeline.stop();
  if (pinger) pinger->stop();
  if (pipeline.state_failed()) {
    spdlog::critical("exiting: the state database '{}' failed and state-required = true", config.state_db);
    return 1;
  }
  spdlog::info("bye");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  try {
    if (args.size() >= 2 && args[1] == "replay") {
      return sg::run_replay({args.begin() + 2, args.end()}, std::cin, std::cout, std::cerr);
    }
    if (args.size() >= 2 && args[1] == "check-rules") {
      return sg::run_check_rules({args.begin() + 2, args.end()}, std::cout, std::cerr);
    }
    if (args.size() >= 2 && args[1] == "functions") {
      return sg::run_functions({args.begin() + 2, args.end()}, std::cout, std::cerr);
    }
    if (args.size() >= 2 && args[1] == "run") args.erase(args.begin() + 1);
    return run_daemon(args);
  } catch (const std::exception& e) {
    std::cerr << "streamgate: fatal: " << e.what() << "\n";
    return 1;
  }
}
