// The single box's output: results published over Paho, stored in the SQLite outbox only when
// they cannot go out at once, and the checkpoints of rule state.
//
// Paths of a result (publisher thread, in emission order):
//   - at-least-once while the output is connected and the outbox is empty: published at once and
//     kept in memory (bounded by outbox-inflight) until the broker's PUBACK. No disk write: if the
//     process dies first, the input that produced it is still in the journal (the checkpoint
//     waits for the PUBACK), so the restart re-emits it.
//   - at-least-once otherwise (output down, window full, outbox not yet drained) and every
//     exactly-once result: the outbox (a row is deleted after its PUBACK; exactly-once ids are
//     remembered in published_ids and never sent twice).
//   - no state db, or disk trouble: handed to Paho's in-memory offline buffer.
//
// Threads: everything here belongs to the publisher thread, except send_now() (the worker's
// results that need no acknowledgement: a Paho call, atomic counters, nothing kept) and the delivery slots, which Paho's threads
// write (atomics).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "gateway/config.h"
#include "gateway/durable_state.h"
#include "gateway/metrics.h"
#include "gateway/mqtt_client.h"
#include "gateway/mqtt_source.h"
#include "gateway/sink.h"
#include "storage/checkpoint_store.h"
#include "storage/outbox.h"

namespace streamgate::gateway {

class MqttSink final : public Sink {
 public:
  //! `request_checkpoint` asks the worker for a fresh checkpoint (after the state db came back).
  MqttSink(const Config& config, MqttClient& output, MqttSource& source, DurableState& state,
           PipelineMetrics& metrics, DurabilityGauges& gauges, std::function<void()> request_checkpoint);
  ~MqttSink() override;

  //! Main thread, before the threads start: the last checkpoint (state, position) or nullopt.
  std::optional<std::pair<nlohmann::json, std::int64_t>> load_checkpoint();
  //! Main thread: the last run's lineage is broken (see DurableState): forget checkpoint + journal.
  void discard_lineage();

  bool send_now(const rules::Emission& e, const std::function<bool()>& keep_waiting) override;
  void send(rules::Emission&& e, Delivery delivery) override;
  void checkpoint(std::unique_ptr<PendingCheckpoint> cp) override;
  bool pump() override;
  bool drained() const override;
  bool can_progress() const override { return output_.connected(); }
  void finish() override;
  //! Shutdown deadline passed: stop retrying refused publishes.
  void abandon() { abandoned_ = true; }

 private:
  //! A result handed to Paho and not yet acknowledged.
  struct InFlight {
    DeliverySlot slot;            //!< written by Paho's thread; address stable (fixed array)
    rules::Emission emission;     //!< kept to resend after a reconnect (direct results only)
    std::int64_t outbox_id = 0;   //!< > 0: the row to ack in the outbox
    std::uint64_t seq = 0;        //!< emission order (checkpoint gating)
    bool direct = false;
    int attempts = 0;             //!< refusals so far (a result refused kMaxAttempts times is dropped)
    bool refused = false;         //!< outbox row the client can never send: dropped when its turn comes
  };

  PublishResult publish_tracked(InFlight& f, const std::string& topic, const std::string& payload, int qos,
                                bool retain, const std::string& result_id);
  //! Counts and logs (rate-limited) a result the client can never send; any thread.
  void drop_refused(const std::string& rule, const std::string& topic);
  void to_outbox(rules::Emission&& e, bool dedup);
  void flush_outbox_batch();
  void collect_acks();
  void check_connection();
  //! Connected, on the connection check_connection() has taken up: results may go out.
  bool output_ready() const;
  void move_direct_to_outbox();
  void pump_outbox();
  void maybe_save_checkpoint();
  void probe_state();
  InFlight& at(std::size_t i) { return inflight_[(head_ + i) % capacity_]; }
  const InFlight& at(std::size_t i) const { return inflight_[(head_ + i) % capacity_]; }

  const Config& config_;
  MqttClient& output_;
  MqttSource& source_;
  DurableState& state_;
  PipelineMetrics& metrics_;
  DurabilityGauges& gauges_;
  std::function<void()> request_checkpoint_;
  std::unique_ptr<storage::Outbox> outbox_;
  std::unique_ptr<storage::CheckpointStore> checkpoints_;

  //! Fixed at construction (outbox-inflight entries): Paho holds pointers to the slots.
  std::unique_ptr<InFlight[]> inflight_;
  std::size_t capacity_ = 0;
  std::size_t outbox_in_flight_ = 0;  //!< in-flight entries that came from the outbox
  std::size_t head_ = 0;   //!< oldest in-flight entry
  std::size_t count_ = 0;  //!< entries in flight
  std::uint64_t next_seq_ = 0;  //!< emissions seen
  std::vector<storage::OutboxMessage> batch_;  //!< outbox rows waiting for one transaction
  std::int64_t outbox_sent_through_ = 0;       //!< highest outbox id handed to Paho
  std::int64_t outbox_acked_through_ = 0;      //!< highest outbox id acknowledged
  std::uint64_t connects_seen_ = 0;
  bool was_connected_ = false;
  std::unique_ptr<PendingCheckpoint> pending_checkpoint_;
  std::uint64_t pending_checkpoint_after_ = 0;  //!< seq of the last result before it
  bool recovering_ = false;                     //!< the db came back: the next checkpoint restores the lineage
  std::int64_t last_prune_ns_ = 0;
  std::int64_t next_probe_ns_ = 0;
  std::int64_t last_drop_log_ns_ = 0;  //!< outbox-full warning rate limit
  bool abandoned_ = false;
  // send_now()'s log limits (worker and publisher both call it).
  LogLimit full_log_;
  LogLimit refused_log_;
};

}  // namespace streamgate::gateway
