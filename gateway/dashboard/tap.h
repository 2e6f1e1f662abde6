// The worker's side of the dashboard: a bounded, lock-free tap of what passes through the
// worker (input events for the rule editor's sample, results, alerts, late data, dead letters).
// The worker copies an item into a preallocated slot of an SPSC ring and moves on; when the ring
// is full, or the per-second budget is spent, the item is counted and skipped, never waited for.
// The dashboard hub thread is the only consumer. Slots keep their string buffers, so after
// warm-up offering an item does not allocate.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/spsc_ring.h"
#include "rules/engine.h"

namespace streamgate::gateway::dashboard {

enum class TapKind : std::uint8_t { Input, Result, Alert, Late, DeadLetter };

struct TapItem {
  TapKind kind = TapKind::Input;
  std::int64_t time_ns = 0;  //!< system clock: when the worker saw it
  std::string rule;
  std::string topic;
  std::string payload;
};

class Tap {
 public:
  //! Payloads longer than this are not tapped (inputs) or cut (outputs, marked by the hub).
  static constexpr std::size_t kMaxPayload = 8 * 1024;

  //! `inputs_per_second` / `outputs_per_second`: budgets, refilled by `refill()` every second.
  Tap(std::size_t capacity, std::uint32_t inputs_per_second, std::uint32_t outputs_per_second)
      : ring_(capacity), inputs_per_second_(inputs_per_second), outputs_per_second_(outputs_per_second) {}

  //! Worker.
  void offer_input(std::string_view topic, std::string_view payload, std::int64_t time_ns) {
    if (input_budget_ == 0 || payload.size() > kMaxPayload) {
      skipped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    --input_budget_;
    push(TapKind::Input, {}, topic, payload, time_ns);
  }
  //! Worker: a result, alert, late event or dead letter leaving the engine.
  void offer_output(const rules::Emission& e, std::int64_t time_ns);
  //! Worker, about once a second.
  void refill() {
    input_budget_ = inputs_per_second_;
    output_budget_ = outputs_per_second_;
  }

  //! Hub thread only.
  template <typename Use>
  bool pop(Use&& use) {
    return ring_.try_pop_with(use);
  }
  //! Any thread.
  std::uint64_t skipped() const { return skipped_.load(std::memory_order_relaxed); }

 private:
  void push(TapKind kind, std::string_view rule, std::string_view topic, std::string_view payload, std::int64_t t);

  SpscRing<TapItem> ring_;
  std::uint32_t inputs_per_second_;
  std::uint32_t outputs_per_second_;
  std::uint32_t input_budget_ = 0;  // worker-owned
  std::uint32_t output_budget_ = 0;
  std::atomic<std::uint64_t> skipped_{0};
};

}  // namespace streamgate::gateway::dashboard
