// inotify watch of the rules directory with debounce.
#include "gateway/rule_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace streamgate::gateway {

bool is_rule_file_name(const std::string& name) {
  return name.size() > 4 && name.compare(name.size() - 4, 4, ".sql") == 0 && name[0] != '.';
}

RuleWatcher::RuleWatcher(std::string dir, ChangedFn on_change, std::chrono::milliseconds debounce)
    : dir_(std::move(dir)), on_change_(std::move(on_change)), debounce_(debounce) {}

RuleWatcher::~RuleWatcher() { stop(); }

std::string RuleWatcher::start() {
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0) return std::string("inotify: ") + std::strerror(errno);
  // Not IN_MODIFY: a file being written fires it many times; IN_CLOSE_WRITE marks the end.
  const std::uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                             IN_DELETE_SELF | IN_MOVE_SELF;
  if (::inotify_add_watch(inotify_fd_, dir_.c_str(), mask) < 0) {
    const std::string err = std::strerror(errno);
    ::close(inotify_fd_);
    inotify_fd_ = -1;
    return "inotify watch of " + dir_ + ": " + err;
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_.store(false);
  thread_ = std::thread([this] { run(); });
  return {};
}

void RuleWatcher::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(inotify_fd_);
  ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
}

void RuleWatcher::run() {
  using clock = std::chrono::steady_clock;
  bool pending = false;
  clock::time_point fire_at{};
  alignas(inotify_event) char buf[4096];
  while (!stop_.load()) {
    int timeout_ms = -1;
    if (pending) {
      timeout_ms = static_cast<int>(
          std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(fire_at - clock::now()).count()));
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, timeout_ms);
    if (stop_.load()) break;
    if (n > 0 && (fds[0].revents & POLLIN) != 0) {
      while (true) {
        const ssize_t len = ::read(inotify_fd_, buf, sizeof buf);
        if (len <= 0) break;
        for (ssize_t off = 0; off < len;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
          off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
          if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) != 0) {
            spdlog::warn("rules directory {} was removed or moved: hot reload stops (SIGHUP still works)", dir_);
            return;
          }
          if ((ev->mask & IN_Q_OVERFLOW) != 0 || (ev->len != 0 && is_rule_file_name(ev->name))) {
            spdlog::debug("rules directory: {} changed", ev->len != 0 ? ev->name : "(overflow)");
            pending = true;
            fire_at = clock::now() + debounce_;  // each new event restarts the quiet period
          }
        }
      }
    }
    if (pending && clock::now() >= fire_at) {
      pending = false;
      spdlog::info("rules directory changed: reloading rules from {}", dir_);
      try {
        on_change_();
      } catch (const std::exception& e) {
        spdlog::error("reload after a change in {}: {}", dir_, e.what());
      }
    }
  }
}

}  // namespace streamgate::gateway
