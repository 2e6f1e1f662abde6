// Requests from the dashboard's HTTP threads to the worker (deploy, pause, resume): they run on
// the worker through the control topic's handler, between two messages, so a deploy takes the
// same validated reload path as a control-topic "add". The HTTP side queues a request and waits
// on its future; the worker looks at one atomic flag per loop and takes the mutex only when a
// request is waiting. Bounded: beyond kMax waiting requests, submit() refuses.
#pragma once

#include <atomic>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace streamgate::gateway::dashboard {

class RequestInbox {
 public:
  static constexpr std::size_t kMax = 8;

  //! HTTP thread: the worker's reply (control JSON) arrives on the future; nullopt when full.
  std::optional<std::future<std::string>> submit(std::string request) {
    std::lock_guard<std::mutex> lock(mu_);
    if (queue_.size() >= kMax) return std::nullopt;
    queue_.emplace_back(std::move(request), std::promise<std::string>());
    auto f = queue_.back().second.get_future();
    waiting_.store(true, std::memory_order_release);
    return f;
  }

  //! Worker: cheap check once per loop.
  bool waiting() const { return waiting_.load(std::memory_order_acquire); }

  //! Worker: runs `handle(request) -> reply` for every waiting request.
  template <typename Handle>
  void serve(Handle&& handle) {
    std::deque<std::pair<std::string, std::promise<std::string>>> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(queue_);
      waiting_.store(false, std::memory_order_release);
    }
    for (auto& [request, promise] : batch) promise.set_value(handle(request));
  }

 private:
  std::mutex mu_;
  std::deque<std::pair<std::string, std::promise<std::string>>> queue_;
  std::atomic<bool> waiting_{false};
};

}  // namespace streamgate::gateway::dashboard
