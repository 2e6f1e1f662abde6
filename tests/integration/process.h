// Child processes for integration tests: posix_spawn with stdout/stderr captured to files,
// stop by PID, wait for exit with a deadline. Tests wait for conditions, never for a fixed time.
#pragma once

#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace streamgate::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

//! Polls `cond` until it holds or `timeout` passes. The timeout is a safety net, never the
//! thing under test.
inline bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

//! A private temporary directory, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "streamgate-it-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    // STREAMGATE_KEEP_TEST_DIRS=1 keeps every log and store for a look after the test.
    if (const char* keep = std::getenv("STREAMGATE_KEEP_TEST_DIRS"); keep != nullptr && *keep == '1') return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

class Process {
 public:
  //! Starts `argv` with stdout/stderr redirected to files `<log_prefix>.out` / `.err`.
  Process(std::vector<std::string> argv, const fs::path& log_prefix,
          const std::map<std::string, std::string>& extra_env = {})
      : out_path_(log_prefix.string() + ".out"), err_path_(log_prefix.string() + ".err") {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      const std::string key = kv.substr(0, kv.find('='));
      if (extra_env.count(key) == 0) env_strings.push_back(std::move(kv));
    }
    for (const auto& [k, v] : extra_env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    const int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  ~Process() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      wait_exit(10s);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running() {
    if (exit_code_) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return r == 0;
  }
  void signal(int sig) { ::kill(pid_, sig); }
  //! Exit code (128+signal when killed), or nullopt if still running at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 30s) {
    wait_until([this] { return !running(); }, timeout);
    return exit_code_;
  }
  std::string out() const { return read_file(out_path_); }
  std::string err() const { return read_file(err_path_); }
  std::string logs() const { return "--- stdout:\n" + out() + "--- stderr:\n" + err(); }
  //! Number of times `text` appears in stderr.
  std::size_t err_count(const std::string& text) const {
    const std::string e = err();
    std::size_t n = 0;
    for (auto pos = e.find(text); pos != std::string::npos; pos = e.find(text, pos + 1)) ++n;
    return n;
  }

 private:
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

//! Runs a command to completion (stdin from a file or /dev/null); returns exit code + output.
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline RunResult run_command(std::vector<std::string> argv, const fs::path& scratch,
                             std::chrono::milliseconds timeout = 60s) {
  static int counter = 0;
  Process p(std::move(argv), scratch / ("cmd-" + std::to_string(counter++)));
  RunResult r;
  auto code = p.wait_exit(timeout);
  if (!code) {
    p.signal(SIGKILL);
    code = p.wait_exit(10s);
  }
  r.exit_code = code.value_or(-1);
  r.out = p.out();
  r.err = p.err();
  return r;
}

}  // namespace streamgate::test
