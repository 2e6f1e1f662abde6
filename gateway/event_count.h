// Sleep/wake between a ring's producer and consumer without a lock on the producer side: the
// consumer sleeps on a futex with a timeout (so it can still run ticks), and a producer only
// makes the wake syscall when the consumer announced it is about to sleep. This keeps the Paho
// callback free of mutexes and the idle worker off the CPU.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>

namespace streamgate::gateway {

class EventCount {
 public:
  //! Consumer: announce the intent to sleep; returns the key to pass to `wait`. After calling it
  //! the consumer must re-check its condition, then either `cancel()` or `wait(key, ...)`.
  std::uint32_t prepare_wait() {
    waiters_.fetch_add(1, std::memory_order_seq_cst);
    return epoch_.load(std::memory_order_seq_cst);
  }
  void cancel_wait() { waiters_.fetch_sub(1, std::memory_order_seq_cst); }

  //! Consumer: sleeps until notified after `prepare_wait` or the timeout passes.
  void wait(std::uint32_t key, std::chrono::nanoseconds timeout) {
    if (epoch_.load(std::memory_order_seq_cst) == key && timeout.count() > 0) {
      timespec ts{};
      ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
      ts.tv_nsec = static_cast<decltype(ts.tv_nsec)>(timeout.count() % 1'000'000'000);
      syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&epoch_), FUTEX_WAIT_PRIVATE, key, &ts,
              nullptr, 0);
    }
    waiters_.fetch_sub(1, std::memory_order_seq_cst);
  }

  //! Producer, after publishing: wakes a sleeping consumer; a no-op (one load) otherwise.
  void notify() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (waiters_.load(std::memory_order_seq_cst) != 0) {
      epoch_.fetch_add(1, std::memory_order_seq_cst);
      syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&epoch_), FUTEX_WAKE_PRIVATE, 1, nullptr,
              nullptr, 0);
    }
  }

 private:
  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  alignas(64) std::atomic<std::uint32_t> epoch_{0};
  std::atomic<std::uint32_t> waiters_{0};
};

}  // namespace streamgate::gateway
