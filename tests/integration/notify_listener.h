// A fake systemd notify socket: the datagram socket that $NOTIFY_SOCKET names, so tests can run
// the real binary as a Type=notify service and read its READY=1 / WATCHDOG=1 / STOPPING=1.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "process.h"

namespace streamgate::test {

class NotifyListener {
 public:
  NotifyListener() {
    path_ = (dir_ / "notify.sock").string();
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("notify socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd_);
      throw std::runtime_error("bind " + path_);
    }
    // Short receive timeout: wait_for() polls, so its own deadline decides.
    timeval tv{0, 200'000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifyListener() { ::close(fd_); }
  NotifyListener(const NotifyListener&) = delete;
  NotifyListener& operator=(const NotifyListener&) = delete;

  //! The value for $NOTIFY_SOCKET.
  const std::string& path() const { return path_; }

  //! Receives at most one datagram (waits up to the 200 ms receive timeout).
  void receive_one() {
    char buf[1024];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) received_.emplace_back(buf, static_cast<std::size_t>(n));
  }
  //! Datagrams received so far that contain `text`.
  std::size_t count(const std::string& text) const {
    std::size_t c = 0;
    for (const auto& m : received_) c += m.find(text) != std::string::npos;
    return c;
  }
  //! Receives until `n` datagrams containing `text` have arrived, or `timeout`.
  bool wait_for(const std::string& text, std::size_t n = 1, std::chrono::milliseconds timeout = 30s) {
    return wait_until(
        [&] {
          if (count(text) >= n) return true;
          receive_one();
          return count(text) >= n;
        },
        timeout);
  }

 private:
  TempDir dir_;
  std::string path_;
  int fd_ = -1;
  std::vector<std::string> received_;
};

}  // namespace streamgate::test
