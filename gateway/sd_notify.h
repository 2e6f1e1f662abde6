// systemd's notify protocol without libsystemd: datagrams such as "READY=1" sent to the
// AF_UNIX socket named by $NOTIFY_SOCKET, and a watchdog pinger that only pings while the
// worker makes progress (a stuck pipeline must let systemd's WatchdogSec fire).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace streamgate::gateway {

//! Message texts, e.g. notify_ready("3 rules") == "READY=1\nSTATUS=3 rules".
std::string notify_ready(std::string_view status = {});
std::string notify_watchdog();
std::string notify_stopping();
std::string notify_status(std::string_view status);

//! Sends one datagram to `socket_path` ('@' prefix = abstract namespace). False on failure.
bool send_notify(const std::string& socket_path, std::string_view message);

//! Sends to $NOTIFY_SOCKET; a no-op returning false when it is unset.
bool sd_notify(std::string_view message);

//! Ping interval from WATCHDOG_USEC (half of it) when set and WATCHDOG_PID is unset or ours.
std::optional<std::chrono::microseconds> watchdog_interval(const char* watchdog_usec,
                                                           const char* watchdog_pid);
std::optional<std::chrono::microseconds> watchdog_interval_from_env();

//! Progress the worker reports: `beat()` each loop iteration, `set_idle()` around waits.
struct Heartbeat {
  std::atomic<std::uint64_t> beats{0};
  std::atomic<bool> idle{false};
  void beat() { beats.fetch_add(1, std::memory_order_relaxed); }
};

//! Pings WATCHDOG=1 every `interval` if the heartbeat advanced since the last ping or the worker
//! is idle-waiting; otherwise skips the ping (and logs once), so systemd restarts a stuck gateway.
class WatchdogPinger {
 public:
  using SendFn = std::function<void(std::string_view)>;
  WatchdogPinger(const Heartbeat& heartbeat, std::chrono::microseconds interval, SendFn send);
  ~WatchdogPinger();
  WatchdogPinger(const WatchdogPinger&) = delete;
  WatchdogPinger& operator=(const WatchdogPinger&) = delete;
  void stop();
  std::uint64_t pings() const { return pings_.load(); }
  std::uint64_t skipped() const { return skipped_.load(); }

 private:
  void run();
  const Heartbeat& heartbeat_;
  std::chrono::microseconds interval_;
  SendFn send_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::atomic<std::uint64_t> pings_{0};
  std::atomic<std::uint64_t> skipped_{0};
  std::thread thread_;
};

}  // namespace streamgate::gateway
