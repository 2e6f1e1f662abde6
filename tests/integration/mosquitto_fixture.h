// A real Mosquitto broker for tests: a free loopback port (bind port 0, read it, close), a temp
// config with `listener PORT 127.0.0.1` (Mosquitto 2.0 ignores -p once a listener is
// configured, and port 0 would mean a Unix socket), started as a child process, ready when the
// port accepts connections, stopped by PID, and restartable on the same port.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "process.h"

namespace streamgate::test {

//! `n` distinct free loopback ports: every probe socket stays bound until all are picked (one
//! at a time, the kernel may hand the same port out twice).
inline std::vector<int> pick_free_ports(int n) {
  std::vector<int> fds, ports;
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      if (fd >= 0) ::close(fd);
      for (int f : fds) ::close(f);
      throw std::runtime_error("cannot bind a loopback port");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    fds.push_back(fd);
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int f : fds) ::close(f);
  return ports;
}

inline int pick_free_port() { return pick_free_ports(1).front(); }

inline bool port_accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

inline std::string mosquitto_binary() {
  for (const char* p : {"/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"}) {
    if (::access(p, X_OK) == 0) return p;
  }
  return "mosquitto";  // let posix_spawnp search PATH
}

class MosquittoBroker {
 public:
  //! `listener_options`: lines for the listener (e.g. TLS: cafile, certfile, keyfile).
  explicit MosquittoBroker(const std::string& listener_options = "") : port_(pick_free_port()) {
    write_file(dir_ / "mosquitto.conf",
               "listener " + std::to_string(port_) + " 127.0.0.1\n" + listener_options +
               "allow_anonymous true\n"
               "persistence false\n"
               "set_tcp_nodelay true\n"
               // Tests publish bursts of thousands of QoS 1 messages; the default queue of
               // 1000 per client would drop some of them under load and fail a test at random.
               "max_queued_messages 0\n"
               "log_dest stderr\n"
               "log_type error\nlog_type warning\nlog_type notice\n");
    start();
  }
  ~MosquittoBroker() { stop(); }

  int port() const { return port_; }
  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port_); }

  //! Starts (again) on the same port and returns once the port accepts connections.
  void start() {
    if (process_ && process_->running()) return;
    ++starts_;
    process_ = std::make_unique<Process>(
        std::vector<std::string>{mosquitto_binary(), "-c", (dir_ / "mosquitto.conf").string()},
        dir_ / ("mosquitto-" + std::to_string(starts_)));
    if (!wait_until([this] { return port_accepts(port_) || !process_->running(); }, 20s) ||
        !process_->running()) {
      throw std::runtime_error("mosquitto did not start on port " + std::to_string(port_) + ":\n" +
                               process_->logs());
    }
  }
  //! SIGTERM by PID and wait for the exit.
  void stop() { halt(SIGTERM); }
  //! SIGKILL: the broker dies mid-stream without a goodbye.
  void kill() { halt(SIGKILL); }
  //! SIGSTOP: the broker keeps its connections open but reads nothing (a hung broker, a stalled
  //! link). thaw() lets it go on; stopping a frozen broker thaws it first.
  void freeze() {
    if (process_ && process_->running()) process_->signal(SIGSTOP);
  }
  void thaw() {
    if (process_ && process_->running()) process_->signal(SIGCONT);
  }
  std::string logs() const { return process_ ? process_->logs() : std::string(); }

 private:
  void halt(int sig) {
    if (!process_) return;
    if (process_->running()) {
      process_->signal(SIGCONT);
      process_->signal(sig);
      if (!process_->wait_exit(20s)) {
        process_->signal(SIGKILL);
        process_->wait_exit(10s);
      }
    }
    // The port is free again once nobody listens (the broker sets SO_REUSEADDR on restart).
    wait_until([this] { return !port_accepts(port_); }, 10s);
  }

  TempDir dir_;
  int port_;
  int starts_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace streamgate::test
