// The running gateway: a Source (MQTT + input journal) feeds the ingress ring; the worker thread
// owns the Engine and pushes results and checkpoints into the egress ring; the publisher thread
// hands them to a Sink (MQTT + outbox + checkpoints). At-most-once results go from the worker to
// the output connection directly.
//
// Threads and what they own:
//   - Paho's receive thread: MqttSource's intake half (see mqtt_source.h).
//   - worker ("sg-worker"): the engine, the delivery map, ops hooks, the source's worker half.
//   - publisher ("sg-publisher"): the sink, the source's truncation.
//   - main thread: construction, start() (checkpoint restore, journal replay) and stop().
// Shared: the two rings, atomics (metrics, flags), and the reload hand-off (a mutex taken once
// per reload, never per message).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "gateway/durable_state.h"
#include "gateway/event_count.h"
#include "gateway/mqtt_client.h"
#include "gateway/mqtt_sink.h"
#include "gateway/mqtt_source.h"
#include "gateway/ops_hooks.h"
#include "gateway/pipeline_metrics.h"
#include "gateway/sd_notify.h"
#include "gateway/spsc_ring.h"
#include "rules/engine.h"

namespace streamgate::gateway {

//! The message `dead-letter-topic` receives for a rejected input (single box and cluster mode).
rules::Emission dead_letter_emission(const std::string& dead_letter_topic, std::string_view topic,
                                     std::string_view payload, std::string_view reason, std::size_t original_size,
                                     std::int64_t received_ns);

class Pipeline {
 public:
  //! `engine` has its rules loaded; from `start()` on only the worker thread touches it. Opens the
  //! state database (throws when it is unusable and state-required is set).
  Pipeline(const Config& config, std::unique_ptr<rules::Engine> engine, Heartbeat& heartbeat);
  ~Pipeline();
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  //! Restores the last checkpoint, replays the journal, starts the threads and the connections;
  //! returns at once (connecting goes on in the background).
  void start();
  //! Graceful stop: close intake, drain both rings, wait for publishes, disconnect.
  void stop();

  //! Hands a new rule set to the worker (applied between two messages, nothing is lost).
  void request_reload(std::vector<std::pair<std::string, std::string>> files);

  const PipelineMetrics& metrics() const { return metrics_; }
  std::string metrics_summary() const;
  bool input_connected() const;
  //! Control, metrics snapshot and durability gauges (docs/operations.md).
  OpsHooks& ops() { return ops_; }
  //! True when the state database is in use (false: in memory, after disk trouble or none set).
  bool durable() const { return state_.durable(); }
  //! True when state-required is set and the state database failed: main exits non-zero.
  bool state_failed() const { return state_.failed(); }

 private:
  // Worker.
  void worker_loop();
  void handle(const MessageSlot& slot);
  void handle_spilled(const SourceMessage& m);
  void process(std::string_view topic, std::string_view payload, std::int64_t received_ns, bool padded,
               std::size_t original_len);
  void dead_letter(std::string_view topic, std::string_view payload, std::string_view reason,
                   std::size_t original_size);
  void push_egress(rules::Emission&& e);
  void push_egress_item(EgressItem&& item);
  void take_checkpoint();
  void apply_pending_reload();
  //! Replaces the rule set, updates subscriptions; returns the errors (empty: applied).
  std::vector<rules::RuleError> apply_reload(const std::vector<std::pair<std::string, std::string>>& files);
  void handle_control(std::string_view payload);
  void publish_metrics(std::int64_t steady_now_ns);
  void refresh_delivery();
  void publish_now(const rules::Emission& e);
  //! One line per kind of engine failure at most every 10 s, with the count since the last line.
  void log_worker_error(std::string_view where, std::string_view topic, const char* what);
  // Publisher.
  void publisher_loop();

  Config config_;
  std::unique_ptr<rules::Engine> engine_;
  Heartbeat& heartbeat_;
  rules::EmitFn emit_;
  OpsHooks ops_{config_};
  PipelineMetrics metrics_;
  DurableState state_;

  MessageRing ingress_;
  SpscRing<EgressItem> egress_;
  WorkerWake wake_;
  EventCount egress_ready_;

  // Declared in dependency order: destroyed sink first, then the connections, then the source.
  std::unique_ptr<MqttSource> source_;
  std::unique_ptr<MqttClient> input_;
  std::unique_ptr<MqttClient> output_owned_;  //!< only with a separate output broker
  MqttClient* output_ = nullptr;
  std::unique_ptr<MqttSink> sink_;

  std::atomic<bool> worker_stop_{false};     //!< drain the ingress ring, then exit
  std::atomic<bool> publisher_stop_{false};  //!< drain the egress ring, then exit
  std::atomic<bool> abandon_{false};         //!< shutdown deadline passed: stop waiting
  std::atomic<bool> reload_pending_{false};
  std::atomic<bool> checkpoint_requested_{false};  //!< the sink needs a fresh checkpoint
  std::mutex reload_mu_;
  std::vector<std::pair<std::string, std::string>> reload_files_;

  std::thread worker_;
  std::thread publisher_;

  // Worker-owned.
  std::unordered_map<std::string, Delivery> delivery_;
  bool egress_pushed_ = false;  //!< results pushed since the publisher was last woken
  bool replaying_ = false;      //!< start-up replay: at-most-once results are not re-sent
  std::int64_t last_error_log_ns_ = 0;
  std::uint64_t errors_since_log_ = 0;
};

}  // namespace streamgate::gateway
