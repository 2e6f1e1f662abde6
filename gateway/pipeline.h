// The running gateway: Paho receive thread -> ingress ring -> worker (owns the Engine) ->
// egress ring -> publisher thread (outbox, checkpoints) -> output connection; at-most-once
// results go from the worker to the output connection directly. Only the rings and atomic
// counters are shared between threads; no exception crosses a thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "gateway/event_count.h"
#include "gateway/mqtt_client.h"
#include "gateway/ops_hooks.h"
#include "gateway/sd_notify.h"
#include "gateway/spsc_ring.h"
#include "rules/engine.h"
#include "storage/checkpoint_store.h"
#include "storage/database.h"
#include "storage/input_journal.h"
#include "storage/migrations.h"
#include "storage/outbox.h"

namespace streamgate::gateway {

//! Per-rule DELIVERY option (see README "Guarantees").
enum class Delivery : std::uint8_t { AtMostOnce, AtLeastOnce, ExactlyOnce };

//! A rule-state snapshot on its way from the worker to the publisher, behind the results the
//! engine emitted before it (checkpoint after enqueue).
struct PendingCheckpoint {
  nlohmann::json state;
  std::int64_t journal_seq = 0;  //!< last journaled input message the state includes
};

//! One item of the egress ring: a result to publish, or a checkpoint to save.
struct EgressItem {
  rules::Emission emission;
  Delivery delivery = Delivery::AtMostOnce;
  std::unique_ptr<PendingCheckpoint> checkpoint;
};

//! Counters readable from any thread (relaxed atomics).
struct PipelineMetrics {
  static constexpr std::size_t kStatuses = 9;  //!< number of rules::IngestStatus values
  std::atomic<std::uint64_t> received{0};          //!< messages that reached the Paho callback
  std::atomic<std::uint64_t> dropped_ring_full{0};  //!< drop-newest policy, ingress ring full
  std::atomic<std::uint64_t> dropped_oversize{0};   //!< over max-payload-bytes
  std::atomic<std::uint64_t> dropped_topic_too_long{0};
  std::atomic<std::uint64_t> dropped_stopping{0};   //!< arrived after intake closed
  std::atomic<std::uint64_t> producer_blocked{0};   //!< block policy: times the receive thread waited
  std::atomic<std::uint64_t> processed{0};          //!< handed to the engine
  std::array<std::atomic<std::uint64_t>, kStatuses> by_status{};  //!< indexed by IngestStatus
  std::atomic<std::uint64_t> emissions{0};
  std::atomic<std::uint64_t> dead_letters{0};
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> publish_retries{0};   //!< Paho refused (offline buffer full): retried
  std::atomic<std::uint64_t> dropped_egress{0};     //!< results lost at a shutdown deadline
  std::atomic<std::uint64_t> worker_errors{0};      //!< exceptions caught in the worker
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> reload_failures{0};
  // Durable state (state-db).
  std::atomic<std::uint64_t> journaled{0};            //!< input messages appended to the journal
  std::atomic<std::uint64_t> replayed{0};             //!< journal entries replayed at start
  std::atomic<std::uint64_t> checkpoints{0};          //!< checkpoints committed
  std::atomic<std::uint64_t> outbox_enqueued{0};
  std::atomic<std::uint64_t> outbox_acked{0};
  std::atomic<std::uint64_t> outbox_dropped{0};       //!< oldest results dropped by the outbox bound
  std::atomic<std::uint64_t> duplicates_suppressed{0};  //!< exactly-once: ids already published
  std::atomic<std::uint64_t> storage_errors{0};       //!< disk trouble: now running in memory
};

class Pipeline {
 public:
  //! `engine` has its rules loaded; from `start()` on only the worker thread touches it.
  Pipeline(const Config& config, std::unique_ptr<rules::Engine> engine, Heartbeat& heartbeat);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  //! Starts the threads and the first connection attempts; returns at once.
  void start();
  //! Graceful stop: close intake, drain both rings, wait for publishes, disconnect.
  void stop();

  //! Hands a new rule set to the worker (applied between two messages, nothing is lost).
  void request_reload(std::vector<std::pair<std::string, std::string>> files);

  const PipelineMetrics& metrics() const { return metrics_; }
  std::string metrics_summary() const;
  bool input_connected() const;
  //! Control, metrics snapshot and durability gauges (README "Control topic", "Metrics").
  OpsHooks& ops() { return ops_; }
  //! True when the state database is in use (false: in memory, after disk trouble or none set).
  bool durable() const { return durable_.load(std::memory_order_acquire); }
  //! True when state-required is set and the state database failed: main exits non-zero.
  bool state_failed() const { return state_failed_.load(std::memory_order_acquire); }

 private:
  void on_mqtt_message(const mqtt::const_message_ptr& msg);
  void worker_loop();
  void publisher_loop();
  void handle(const MessageSlot& slot);
  //! Worker: copies a QoS 0 message into the journal group; flush_journal() commits the group.
  void stage_journal(const MessageSlot& slot);
  void flush_journal();
  void dead_letter(std::string_view topic, std::string_view payload, std::string_view reason,
                   std::size_t original_size);
  void push_egress(rules::Emission&& e);
  void push_egress_item(EgressItem&& item);
  void apply_pending_reload();
  //! Worker: replaces the rule set, updates subscriptions; returns the errors (empty: applied).
  std::vector<rules::RuleError> apply_reload(const std::vector<std::pair<std::string, std::string>>& files);
  void handle_control(std::string_view payload);
  void publish_metrics(std::int64_t steady_now_ns);
  // Durable state: recover() runs in start() before any thread (restore checkpoint); replay()
  // runs after the publisher started and before the worker and the input connection.
  void recover();
  void replay_journal();
  void refresh_delivery();
  void take_checkpoint();
  void publish_direct(std::string_view topic, std::string_view payload, int qos, bool retain,
                      std::string_view result_id = {});
  void flush_to_outbox(std::vector<storage::OutboxMessage>& batch);
  void save_checkpoint(const PendingCheckpoint& cp);
  void pump_outbox();
  //! Disk trouble: loud (rate-limited) warning, switch to memory; with state-required, stop.
  void on_storage_error(const std::exception& ex, const char* where);

  Config config_;
  std::unique_ptr<rules::Engine> engine_;
  Heartbeat& heartbeat_;
  rules::EmitFn emit_;
  OpsHooks ops_{config_};

  MessageRing ingress_;
  SpscRing<EgressItem> egress_;
  EventCount ingress_ready_;
  EventCount egress_ready_;

  std::unique_ptr<MqttClient> input_;
  std::unique_ptr<MqttClient> output_owned_;  //!< only with a separate output broker
  MqttClient* output_ = nullptr;

  std::atomic<bool> intake_open_{false};
  std::atomic<bool> worker_stop_{false};     //!< drain the ingress ring, then exit
  std::atomic<bool> publisher_stop_{false};  //!< drain the egress ring, then exit
  std::atomic<bool> abandon_{false};         //!< shutdown deadline passed: stop waiting
  std::atomic<bool> reload_pending_{false};
  //! The worker naps for batch-delay after a busy spell; the receive thread then wakes it only
  //! for a backlog, so a steady stream costs one wake-up per nap, not one per message.
  std::atomic<bool> worker_napping_{false};
  std::mutex reload_mu_;
  std::vector<std::pair<std::string, std::string>> reload_files_;

  std::thread worker_;
  std::thread publisher_;
  std::atomic<std::int64_t> last_drop_log_ns_{0};
  PipelineMetrics metrics_;

  // Durable state. journal_db_/journal_ and journal_next_seq_ belong to the Paho receive thread
  // (seqs for every message, rows for QoS >= 1), worker_journal_db_/worker_journal_ to the worker
  // (rows of QoS 0 messages, in groups), state_db_ and the stores on it to the publisher thread.
  std::atomic<bool> durable_{false};
  std::atomic<bool> state_failed_{false};
  std::atomic<std::int64_t> last_storage_log_ns_{0};
  std::unique_ptr<storage::Database> journal_db_;
  std::unique_ptr<storage::InputJournal> journal_;
  std::unique_ptr<storage::Database> state_db_;
  std::unique_ptr<storage::Outbox> outbox_;
  std::unique_ptr<storage::CheckpointStore> checkpoints_;
  std::unique_ptr<storage::InputJournal> journal_truncator_;
  std::unique_ptr<storage::Database> worker_journal_db_;
  std::unique_ptr<storage::InputJournal> worker_journal_;
  std::int64_t journal_next_seq_ = 0;  //!< last seq handed out (receive thread)
  std::int64_t restored_journal_seq_ = 0;  //!< from the checkpoint: replay after this
  std::int64_t replay_until_seq_ = 0;      //!< journal end before the input connected
  // Worker-owned.
  std::int64_t last_seq_ = 0;  //!< highest journal seq the engine has processed
  bool egress_pushed_ = false;  //!< results pushed since the publisher was last woken
  //! QoS 0 messages waiting to be journaled: bytes in one preallocated buffer, so staging never
  //! allocates; bounded by count, bytes and age (flush_journal()).
  struct StagedMessage {
    std::int64_t seq = 0;
    std::int64_t received_at = 0;
    std::size_t offset = 0;  //!< topic, then payload, in journal_bytes_
    std::uint32_t topic_len = 0;
    std::uint32_t payload_len = 0;
  };
  std::vector<StagedMessage> journal_staged_;
  std::string journal_bytes_;
  std::int64_t journal_first_ns_ = 0;  //!< steady time the oldest staged message was staged
  std::unordered_map<std::string, Delivery> delivery_;
  // Publisher-owned outbox drain state.
  struct InFlight {
    std::int64_t id = 0;
    mqtt::delivery_token_ptr token;
  };
  std::deque<InFlight> in_flight_;
  std::int64_t outbox_sent_through_ = 0;  //!< highest outbox id handed to Paho
  std::int64_t outbox_acked_through_ = 0;  //!< highest outbox id acked (PUBACK seen)
  std::int64_t last_prune_ns_ = 0;
  bool replaying_ = false;  //!< replay_journal() running: at-most-once results are not re-sent
  std::uint64_t output_connects_seen_ = 0;
};

}  // namespace streamgate::gateway
