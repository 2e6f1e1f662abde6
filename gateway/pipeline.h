// The running gateway: Paho receive thread -> ingress ring -> worker (owns the Engine) ->
// egress ring -> publisher thread -> output connection. Only the rings and atomic counters are
// shared between threads; no exception crosses a thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/config.h"
#include "gateway/event_count.h"
#include "gateway/mqtt_client.h"
#include "gateway/sd_notify.h"
#include "gateway/spsc_ring.h"
#include "rules/engine.h"

namespace streamgate::gateway {

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

 private:
  void on_mqtt_message(const mqtt::const_message_ptr& msg);
  void worker_loop();
  void publisher_loop();
  void handle(const MessageSlot& slot);
  void dead_letter(std::string_view topic, std::string_view payload, std::string_view reason,
                   std::size_t original_size);
  void push_egress(rules::Emission&& e);
  void apply_pending_reload();

  Config config_;
  std::unique_ptr<rules::Engine> engine_;
  Heartbeat& heartbeat_;
  rules::EmitFn emit_;

  MessageRing ingress_;
  SpscRing<rules::Emission> egress_;
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
  std::mutex reload_mu_;
  std::vector<std::pair<std::string, std::string>> reload_files_;

  std::thread worker_;
  std::thread publisher_;
  std::atomic<std::int64_t> last_drop_log_ns_{0};
  PipelineMetrics metrics_;
};

}  // namespace streamgate::gateway
