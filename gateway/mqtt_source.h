// The single box's input: a Paho subscription feeding the ingress ring, made durable by the SQLite
// input journal.
//
// Who owns what:
//   - Paho's receive thread (on_message): the journal connection's writes of QoS >= 1 input and
//     of spilled input, the sequence numbers, the delivery log (redelivery recognition) and the
//     spill state. It never waits for another thread: a full ring means "spill" (journal it, the
//     worker reads it back), "drop" or "leave it with Paho", per ring-full-policy.
//   - the worker (taken, take_spilled, sync): the staged group of QoS 0 input (journaled in
//     groups: nothing acknowledges QoS 0, so a crash loses at most the last group's ~10 ms), the
//     read-back of spilled input, and the position a checkpoint includes.
//   - the publisher (covered): truncation of the journal behind a durable checkpoint.
// Shared between them: atomics only (spill head/tail, the worker's cursor).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/durable_state.h"
#include "gateway/event_count.h"
#include "gateway/log_limit.h"
#include "gateway/mqtt_client.h"
#include "gateway/pipeline_metrics.h"
#include "gateway/source.h"
#include "gateway/spsc_ring.h"
#include "storage/delivery_log.h"
#include "storage/input_journal.h"

namespace streamgate::gateway {

//! How the receive thread wakes the worker: a napping worker (batch-delay) is only woken for a
//! backlog, so a steady stream costs one wake-up per nap, not one per message.
struct WorkerWake {
  EventCount ready;
  std::atomic<bool> napping{false};
  //! Messages waiting in the ring that wake a napping worker before its nap ends.
  static constexpr std::size_t kBacklog = 64;
};

class MqttSource final : public Source {
 public:
  using IsControlFn = std::function<bool(std::string_view topic)>;

  MqttSource(const Config& config, MessageRing& ring, WorkerWake& wake, PipelineMetrics& metrics,
             DurableState& state, IsControlFn is_control);
  ~MqttSource() override;

  //! The input connection's message callback (Paho's receive thread).
  bool on_message(const InboundMessage& m);
  //! The input connection's connect callback: a new broker session forgets old packet ids.
  void on_session(bool session_present);
  //! The connection this source reads (created by the pipeline with on_message as callback).
  void attach(MqttClient& client) { client_ = &client; }

  std::int64_t replay_after(std::int64_t position, const SourceMessageFn& handle) override;
  void start() override;
  void close_intake() override;
  void stop(std::chrono::milliseconds timeout) override;
  bool connected() const override { return client_ != nullptr && client_->connected(); }

  void taken(const MessageSlot& slot) override;
  std::size_t take_spilled(const SourceMessageFn& handle, std::size_t max) override;
  bool spill_pending() const override;
  std::int64_t sync() override;
  std::int64_t sync_due_ns() const override;

  void covered(std::int64_t position) override;

  //! Publisher, after the state db came back (inside DurableState::probe's transaction): the
  //! journal on disk has a hole, so it is discarded; seqs continue from where they are.
  void discard_journal();

 private:
  bool journal_now(std::string_view topic, std::string_view payload, std::int64_t received_ns,
                   const InboundMessage& m, std::int64_t seq);
  void stage(const MessageSlot& slot);
  void flush_staged();
  void wake_worker();
  void log_ring_full();

  const Config& config_;
  MessageRing& ring_;
  WorkerWake& wake_;
  PipelineMetrics& metrics_;
  DurableState& state_;
  IsControlFn is_control_;
  MqttClient* client_ = nullptr;
  const bool track_redeliveries_;  //!< persistent sessions only (clean ones are never redelivered)
  std::atomic<bool> intake_open_{false};
  LogLimit drop_log_;  //!< ring-full warnings (Paho's receive thread)

  // Receive thread.
  std::unique_ptr<storage::InputJournal> journal_;
  std::unique_ptr<storage::DeliveryLog> deliveries_;
  std::int64_t next_seq_ = 0;  //!< last seq handed out
  bool spilling_ = false;
  // Spill episode, written by the receive thread: rows in [head, tail] are journaled and not in
  // the ring; the worker reads them once it has taken everything before `head`.
  std::atomic<std::int64_t> spill_head_{0};
  std::atomic<std::int64_t> spill_tail_{0};
  //! The worker's position (last seq taken): the receive thread hands input back to the ring once
  //! the worker has read every spilled row.
  std::atomic<std::int64_t> worker_position_{0};

  // Worker.
  std::unique_ptr<storage::InputJournal> worker_journal_;
  std::int64_t position_ = 0;  //!< highest seq taken
  struct StagedMessage {
    std::int64_t seq = 0;
    std::int64_t received_at = 0;
    std::size_t offset = 0;  //!< topic, then payload, in staged_bytes_
    std::uint32_t topic_len = 0;
    std::uint32_t payload_len = 0;
  };
  std::vector<StagedMessage> staged_;
  std::string staged_bytes_;  //!< reserved for a full group: staging never allocates
  std::int64_t staged_since_ns_ = 0;

  // Publisher.
  std::unique_ptr<storage::InputJournal> truncator_;
};

}  // namespace streamgate::gateway
