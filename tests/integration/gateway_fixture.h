// The real `streamgate` binary as a test subject: a temp rules dir, state db and config file,
// started against a test broker, logs captured, stopped by signal.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mosquitto_fixture.h"
#include "process.h"

#ifndef STREAMGATE_BINARY
#error "STREAMGATE_BINARY must be defined by CMake ($<TARGET_FILE:streamgate>)"
#endif
#ifndef STREAMGATE_SOURCE_DIR
#error "STREAMGATE_SOURCE_DIR must be defined by CMake"
#endif

namespace streamgate::test {

inline const std::string kBinary = STREAMGATE_BINARY;
inline const fs::path kSourceDir = STREAMGATE_SOURCE_DIR;

class GatewayProcess {
 public:
  //! `rule_files`: name -> SQL text written into a fresh rules dir. `extra_args` go after the
  //! generated --config file on the command line.
  GatewayProcess(const std::string& broker_url, const std::map<std::string, std::string>& rule_files,
                 std::vector<std::string> extra_args = {},
                 const std::map<std::string, std::string>& env = {}) {
    fs::create_directories(dir_ / "rules.d");
    for (const auto& [name, text] : rule_files) write_file(dir_ / "rules.d" / name, text);
    static int counter = 0;
    write_file(dir_ / "streamgate.conf",
               "broker = " + broker_url + "\n"
               "client-id = streamgate-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "\n"
               "rules-dir = " + (dir_ / "rules.d").string() + "\n"
               "state-db = " + (dir_ / "state.db").string() + "\n"
               "log-level = debug\n"
               "reconnect-min = 100ms\n"
               "reconnect-max = 1s\n"
               "tick-interval = 50ms\n");
    std::vector<std::string> argv{kBinary, "--config", (dir_ / "streamgate.conf").string()};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<Process>(argv, dir_ / "gateway", env);
  }

  Process& process() { return *process_; }
  const fs::path& dir() const { return dir_.path(); }
  std::string logs() const { return process_->logs(); }

  //! Waits until the gateway's subscriptions were acknowledged `n` times in total.
  bool wait_subscribed(std::size_t n = 1, std::chrono::milliseconds timeout = 30s) {
    return wait_until([&] { return process_->err_count("subscribed to") >= n || !process_->running(); },
                      timeout) &&
           process_->running();
  }

  //! SIGTERM and the exit code.
  std::optional<int> terminate(int sig = SIGTERM) {
    process_->signal(sig);
    return process_->wait_exit(30s);
  }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
};

//! The shipped first rule, read from the source tree.
inline std::string device_filter_rules() {
  return read_file(kSourceDir / "etc" / "rules.d" / "00-device-filter.sql");
}

}  // namespace streamgate::test
