// Bounded lock-free single-producer/single-consumer rings: the only channel between the Paho
// receive thread, the worker and the publisher (see DESIGN.md). Slots are allocated once, at
// construction; pushing and popping never allocate and never take a lock.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

namespace streamgate::gateway {

//! One cache line; head and tail live on separate lines so producer and consumer do not
//! invalidate each other's line on every operation (false sharing).
inline constexpr std::size_t kCacheLine = 64;

//! Generic SPSC ring of preallocated `T` slots. The producer fills a slot in place
//! (`try_push_with`), the consumer reads it in place (`try_pop_with`), so a `T` holding buffers
//! keeps and reuses them. Capacity is a power of two so an index maps to a slot with a mask.
template <typename T>
class SpscRing {
 public:
  explicit SpscRing(std::size_t capacity) : capacity_(capacity), mask_(capacity - 1) {
    if (capacity < 2 || !std::has_single_bit(capacity)) {
      throw std::invalid_argument("ring capacity must be a power of two >= 2");
    }
    slots_ = std::make_unique<T[]>(capacity);
  }
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const { return capacity_; }

  //! Producer only. Calls `fill(T&)` on the free slot and publishes it. Returns false (and does
  //! not call `fill`) when the ring is full.
  template <typename Fill>
  bool try_push_with(Fill&& fill) {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head - cached_tail_ >= capacity_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head - cached_tail_ >= capacity_) return false;
    }
    fill(slots_[head & mask_]);
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  //! Before any push or pop only: `init(T&, index)` on every slot (wiring preallocated buffers).
  template <typename Init>
  void init_slots(Init&& init) {
    for (std::size_t i = 0; i < capacity_; ++i) init(slots_[i], i);
  }

  //! Producer only: moves `value` into the next slot.
  bool try_push(T&& value) {
    return try_push_with([&](T& slot) { slot = std::move(value); });
  }

  //! Consumer only. Calls `use(T&)` on the oldest slot, then releases it to the producer.
  template <typename Use>
  bool try_pop_with(Use&& use) {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (cached_head_ == tail) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (cached_head_ == tail) return false;
    }
    use(slots_[tail & mask_]);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  //! Consumer only: moves the oldest item out.
  bool try_pop(T& out) {
    return try_pop_with([&](T& slot) { out = std::move(slot); });
  }

  //! Approximate from any thread (metrics): exact when called by producer or consumer.
  std::size_t size() const {
    const std::size_t tail = tail_.load(std::memory_order_acquire);
    const std::size_t head = head_.load(std::memory_order_acquire);
    return head - tail;
  }
  bool empty() const { return size() == 0; }

 private:
  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<T[]> slots_;
  // Producer line: its index and its cached copy of the consumer's index.
  alignas(kCacheLine) std::atomic<std::size_t> head_{0};
  std::size_t cached_tail_ = 0;
  // Consumer line.
  alignas(kCacheLine) std::atomic<std::size_t> tail_{0};
  std::size_t cached_head_ = 0;
  // alignas(64) members make sizeof a multiple of 64, so nothing else shares the consumer's line.
};

//! One MQTT message inside the ingress ring. `topic`/`payload` point into the ring's arena.
struct MessageSlot {
  char* topic = nullptr;
  char* payload = nullptr;
  std::uint32_t topic_len = 0;
  std::uint32_t payload_len = 0;
  std::int64_t received_ns = 0;  //!< processing time at arrival (system clock)
  std::uint32_t original_len = 0;  //!< payload size as received (> payload_len when truncated)
  std::uint8_t qos = 0;
  bool retained = false;
  bool oversize = false;  //!< payload was over the limit: only its head was kept, for dead letters
  std::int64_t journal_seq = 0;  //!< seq in the durable input journal; 0 when not journaled
  //! QoS 0: the seq is assigned but the row not yet written; the worker journals it in a group.
  bool journal_pending = false;

  std::string_view topic_view() const { return {topic, topic_len}; }
  std::string_view payload_view() const { return {payload, payload_len}; }
};

enum class PushResult : std::uint8_t { Ok, Full, Oversize, TopicTooLong };

//! The ingress ring: fixed-size byte buffers per slot (max topic + max payload + padding), carved
//! from one arena allocated up front without touching it, so pages are only mapped once a message
//! of that size has actually passed through the slot.
class MessageRing {
 public:
  //! Bytes of an oversize payload kept for the dead-letter message.
  static constexpr std::size_t kOversizeHead = 256;
  //! Readable bytes after every payload (simdjson::SIMDJSON_PADDING): the engine parses the
  //! payload in place (`on_message(..., padded = true)`) instead of copying it into a padded buffer.
  static constexpr std::size_t kPayloadPadding = 64;

  MessageRing(std::size_t capacity, std::size_t max_payload_bytes, std::size_t max_topic_bytes)
      : ring_(capacity),
        max_payload_(max_payload_bytes),
        max_topic_(max_topic_bytes),
        slot_bytes_(round_up(max_topic_bytes + std::max(max_payload_bytes, kOversizeHead) + kPayloadPadding)) {
    // Default-initialised on purpose: zeroing would fault in every page of the arena.
    arena_.reset(new char[slot_bytes_ * capacity]);
    // Wire every slot to its region once; producer and consumer never change the pointers.
    ring_.init_slots([&](MessageSlot& s, std::size_t i) {
      s.topic = arena_.get() + i * slot_bytes_;
      s.payload = s.topic + max_topic_;
    });
  }

  std::size_t capacity() const { return ring_.capacity(); }
  std::size_t max_payload_bytes() const { return max_payload_; }

  //! Producer (the Paho callback): copies topic and payload into the next slot. An oversize
  //! payload is still queued (truncated, flagged) when `keep_oversize_head`, so the worker can
  //! dead-letter it; it never reaches the engine.
  PushResult try_push(std::string_view topic, std::string_view payload, std::int64_t received_ns,
                      int qos, bool retained, bool keep_oversize_head, std::int64_t journal_seq = 0,
                      bool journal_pending = false) {
    if (topic.size() > max_topic_) return PushResult::TopicTooLong;
    const bool oversize = payload.size() > max_payload_;
    if (oversize && !keep_oversize_head) return PushResult::Oversize;
    const bool ok = ring_.try_push_with([&](MessageSlot& s) {
      std::memcpy(s.topic, topic.data(), topic.size());
      s.topic_len = static_cast<std::uint32_t>(topic.size());
      const std::size_t n = oversize ? std::min(payload.size(), kOversizeHead) : payload.size();
      if (n != 0) std::memcpy(s.payload, payload.data(), n);
      s.payload_len = static_cast<std::uint32_t>(n);
      s.original_len = static_cast<std::uint32_t>(std::min<std::size_t>(payload.size(), UINT32_MAX));
      s.received_ns = received_ns;
      s.qos = static_cast<std::uint8_t>(qos);
      s.retained = retained;
      s.oversize = oversize;
      s.journal_seq = journal_seq;
      s.journal_pending = journal_pending;
    });
    if (!ok) return PushResult::Full;
    return oversize ? PushResult::Oversize : PushResult::Ok;
  }

  //! Consumer: `use(const MessageSlot&)` on the oldest message; the views are valid only inside.
  template <typename Use>
  bool try_pop_with(Use&& use) {
    return ring_.try_pop_with([&](MessageSlot& s) { use(static_cast<const MessageSlot&>(s)); });
  }

  std::size_t size() const { return ring_.size(); }
  bool empty() const { return ring_.empty(); }
  //! Exact for the producer (only the consumer frees slots): a push right after `!full()` succeeds.
  bool full() const { return ring_.size() >= ring_.capacity(); }

 private:
  static std::size_t round_up(std::size_t n) { return (n + kCacheLine - 1) / kCacheLine * kCacheLine; }

  SpscRing<MessageSlot> ring_;
  std::size_t max_payload_;
  std::size_t max_topic_;
  std::size_t slot_bytes_;
  std::unique_ptr<char[]> arena_;
};

}  // namespace streamgate::gateway
