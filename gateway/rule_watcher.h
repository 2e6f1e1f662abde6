// Watches the rules directory with inotify and calls back once the *.sql files stopped changing
// for a short debounce delay (editors write a temp file and rename it, `cp` writes in pieces).
// The callback runs on the watcher's thread; it only reads the files and hands them to the
// pipeline, which applies the reload on its worker thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace streamgate::gateway {

class RuleWatcher {
 public:
  using ChangedFn = std::function<void()>;
  RuleWatcher(std::string dir, ChangedFn on_change,
              std::chrono::milliseconds debounce = std::chrono::milliseconds(200));
  ~RuleWatcher();
  RuleWatcher(const RuleWatcher&) = delete;
  RuleWatcher& operator=(const RuleWatcher&) = delete;

  //! Starts watching; returns an error line, or "" on success.
  std::string start();
  void stop();

 private:
  void run();

  std::string dir_;
  ChangedFn on_change_;
  std::chrono::milliseconds debounce_;
  int inotify_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

//! True for names the watcher reacts to: "*.sql" that are not hidden (".#x.sql", editor locks).
bool is_rule_file_name(const std::string& name);

}  // namespace streamgate::gateway
