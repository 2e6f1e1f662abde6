// systemd notify datagrams and the progress-tied watchdog pinger.
#include "gateway/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <spdlog/spdlog.h>

namespace streamgate::gateway {

std::string notify_ready(std::string_view status) {
  std::string m = "READY=1";
  if (!status.empty()) {
    m += "\nSTATUS=";
    m += status;
  }
  return m;
}
std::string notify_watchdog() { return "WATCHDOG=1"; }
std::string notify_stopping() { return "STOPPING=1"; }
std::string notify_status(std::string_view status) { return "STATUS=" + std::string(status); }

bool send_notify(const std::string& socket_path, std::string_view message) {
  if (socket_path.empty() || socket_path.size() >= sizeof(sockaddr_un::sun_path)) return false;
  if (socket_path[0] != '/' && socket_path[0] != '@') return false;
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
  if (socket_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size());
  const ssize_t sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&addr), len);
  ::close(fd);
  return sent == static_cast<ssize_t>(message.size());
}

bool sd_notify(std::string_view message) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr) return false;
  return send_notify(path, message);
}

std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec,
                                                           const char* watchdog_pid) {
  if (watchdog_usec == nullptr || *watchdog_usec == '\0') return std::nullopt;
  if (watchdog_pid != nullptr && *watchdog_pid != '\0') {
    char* end = nullptr;
    const long long pid = std::strtoll(watchdog_pid, &end, 10);
    if (*end != '\0' || pid != static_cast<long long>(::getpid())) return std::nullopt;
  }
  char* end = nullptr;
  const unsigned long long usec = std::strtoull(watchdog_usec, &end, 10);
  if (*end != '\0' || usec == 0) return std::nullopt;
  return std::chrono::microseconds(static_cast<std::int64_t>(usec / 2));
}

std::optional<std::chrono::microseconds> watchdog_interval_from_env() {
  return watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"));
}

WatchdogPinger::WatchdogPinger(const Heartbeat& heartbeat, std::chrono::microseconds interval,
                               SendFn send)
    : heartbeat_(heartbeat), interval_(interval), send_(std::move(send)) {
  thread_ = std::thread([this] { run(); });
}

WatchdogPinger::~WatchdogPinger() { stop(); }

void WatchdogPinger::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WatchdogPinger::run() {
  std::uint64_t last = heartbeat_.beats.load(std::memory_order_relaxed);
  bool warned = false;
  // First ping right away: the worker has just started.
  send_(notify_watchdog());
  pings_.fetch_add(1);
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    const std::uint64_t now = heartbeat_.beats.load(std::memory_order_relaxed);
    if (now != last || heartbeat_.idle.load(std::memory_order_relaxed)) {
      last = now;
      warned = false;
      send_(notify_watchdog());
      pings_.fetch_add(1);
    } else {
      skipped_.fetch_add(1);
      if (!warned) {
        spdlog::warn("watchdog: worker made no progress for {} ms; not pinging systemd",
                     std::chrono::duration_cast<std::chrono::milliseconds>(interval_).count());
        warned = true;
      }
    }
  }
}

}  // namespace streamgate::gateway
