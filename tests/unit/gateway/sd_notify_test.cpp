// systemd notify: message texts, datagram delivery to a socket, WATCHDOG_USEC parsing, and the
// pinger that stops pinging when the worker stops making progress.
#include "gateway/sd_notify.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace sg = streamgate::gateway;
using namespace std::chrono_literals;

TEST(SdNotify, MessageTexts) {
  EXPECT_EQ(sg::notify_ready(), "READY=1");
  EXPECT_EQ(sg::notify_ready("3 rules loaded"), "READY=1\nSTATUS=3 rules loaded");
  EXPECT_EQ(sg::notify_watchdog(), "WATCHDOG=1");
  EXPECT_EQ(sg::notify_stopping(), "STOPPING=1");
  EXPECT_EQ(sg::notify_status("draining"), "STATUS=draining");
}

TEST(SdNotify, WatchdogIntervalIsHalfOfWatchdogUsec) {
  EXPECT_EQ(sg::watchdog_interval("2000000", nullptr), std::chrono::microseconds(1'000'000));
  EXPECT_EQ(sg::watchdog_interval(nullptr, nullptr), std::nullopt);
  EXPECT_EQ(sg::watchdog_interval("abc", nullptr), std::nullopt);
  EXPECT_EQ(sg::watchdog_interval("0", nullptr), std::nullopt);
  const std::string me = std::to_string(::getpid());
  EXPECT_EQ(sg::watchdog_interval("1000", me.c_str()), std::chrono::microseconds(500));
  EXPECT_EQ(sg::watchdog_interval("1000", "1"), std::nullopt);  // meant for another process
}

namespace {
struct DatagramListener {
  std::string path;
  int fd = -1;
  explicit DatagramListener(bool abstract_ns) {
    const auto stamp = std::to_string(::getpid()) + "-" +
                       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    path = abstract_ns ? "@streamgate-test-" + stamp
                       : (std::filesystem::temp_directory_path() / ("sg-notify-" + stamp)).string();
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (abstract_ns) addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~DatagramListener() {
    ::close(fd);
    if (path[0] == '/') std::filesystem::remove(path);
  }
  std::string receive() {
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
  }
};
}  // namespace

TEST(SdNotify, SendsDatagramsToPathAndAbstractSockets) {
  for (bool abstract_ns : {false, true}) {
    DatagramListener listener(abstract_ns);
    ASSERT_TRUE(sg::send_notify(listener.path, "READY=1"));
    EXPECT_EQ(listener.receive(), "READY=1");
  }
  EXPECT_FALSE(sg::send_notify("", "READY=1"));
  EXPECT_FALSE(sg::send_notify("relative/path", "READY=1"));
}

TEST(SdNotify, SdNotifyWithoutSocketIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(sg::sd_notify("READY=1"));
}

TEST(WatchdogPinger, PingsOnlyWhileTheWorkerProgressesOrIdles) {
  sg::Heartbeat hb;
  std::mutex mu;
  int pings = 0;
  sg::WatchdogPinger pinger(hb, 5ms, [&](std::string_view m) {
    EXPECT_EQ(m, "WATCHDOG=1");
    std::lock_guard<std::mutex> l(mu);
    ++pings;
  });
  auto count = [&] {
    std::lock_guard<std::mutex> l(mu);
    return pings;
  };
  // Stuck worker (no beats, not idle): after the first ping, pings stop and skips accumulate.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (pinger.skipped() < 5 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_GE(pinger.skipped(), 5u);
  const int stuck_pings = count();
  EXPECT_EQ(stuck_pings, 1);  // only the initial ping
  // Progress resumes: pings resume.
  while (count() < stuck_pings + 3 && std::chrono::steady_clock::now() < deadline) {
    hb.beat();
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(count(), stuck_pings + 3);
  // Idle-waiting worker keeps being pinged for without beats.
  hb.idle = true;
  const int before_idle = count();
  while (count() < before_idle + 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_GE(count(), before_idle + 3);
  pinger.stop();
}
