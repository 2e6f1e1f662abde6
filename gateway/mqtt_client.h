// One MQTT connection (Paho async_client) that stays up by itself: connects in the background,
// reconnects with exponential backoff (min..max) after failures and losses, and re-subscribes
// every time it is connected. Paho runs every callback on one library thread, so the callbacks
// here only flip atomics, log one line, or start non-blocking Paho calls; waiting happens on
// the client's own manager thread or the caller's thread, never inside a callback.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <mqtt/async_client.h>

#include "gateway/config.h"

namespace streamgate::gateway {

struct MqttClientOptions {
  std::string name = "mqtt";  //!< for log lines: "input", "output"
  BrokerConfig broker;
  std::vector<Subscription> subscriptions;
  //! Messages Paho keeps while disconnected before `publish` starts refusing.
  int max_buffered_messages = 100'000;
  //! Non-empty: publishes with a result id add it as this field of the JSON object payload
  //! (config `result-id-field`, for MQTT 3.1.1 consumers).
  std::string result_id_field;
};

//! Name of the MQTT 5 user property carrying a result's deterministic id.
inline constexpr const char* kResultIdProperty = "result_id";

struct MqttClientStats {
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connection_losses{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> subscribe_failures{0};
  std::atomic<std::uint64_t> publish_refused{0};
};

class MqttClient {
 public:
  //! Runs on Paho's callback thread for every message: it must copy and return, never wait.
  using MessageFn = std::function<void(const mqtt::const_message_ptr&)>;

  MqttClient(MqttClientOptions options, MessageFn on_message);
  ~MqttClient();
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  //! Starts the first connection attempt and returns at once; retries continue in background.
  void start();
  //! Stops reconnecting, waits up to `timeout` for queued publishes, then disconnects.
  void stop(std::chrono::milliseconds timeout);

  bool connected() const { return connected_.load(std::memory_order_acquire); }
  //! True once the subscriptions of the current connection were acknowledged.
  bool subscribed() const { return subscribed_.load(std::memory_order_acquire); }

  //! Thread-safe, non-blocking. False when Paho refuses (offline buffer full or client
  //! stopped); the caller decides whether to retry. A non-empty `result_id` travels with the
  //! message: MQTT 5 user property kResultIdProperty, and the result_id_field when set.
  bool publish(std::string_view topic, std::string_view payload, int qos, bool retain,
               std::string_view result_id = {});
  //! Like publish(), but returns Paho's delivery token (nullptr when refused) so the caller can
  //! poll token->is_complete() / get_return_code() from its own thread: the outbox acks a row
  //! only after the broker's PUBACK (QoS >= 1), without waiting inside a Paho callback.
  mqtt::delivery_token_ptr publish_tracked(std::string_view topic, std::string_view payload, int qos,
                                           bool retain, std::string_view result_id = {});

  //! Publishes handed to Paho but not yet completed (QoS 0: written; QoS 1/2: acknowledged).
  std::size_t pending_deliveries() const;

  //! Replaces the subscriptions (after a rule reload): subscribes to new filters and
  //! unsubscribes from dropped ones at once when connected; any thread, non-blocking.
  void set_subscriptions(std::vector<Subscription> subscriptions);

  const MqttClientStats& stats() const { return stats_; }
  const std::string& url() const { return options_.broker.url; }

 private:
  class ConnectListener;
  class SubscribeListener;

  void manage();
  void attempt_connect();
  void schedule_retry();
  void on_connected();
  void on_connection_lost(const std::string& cause);
  void subscribe_all();

  MqttClientOptions options_;
  MessageFn on_message_;
  std::unique_ptr<mqtt::async_client> client_;
  mqtt::connect_options connect_options_;
  std::unique_ptr<ConnectListener> connect_listener_;
  std::unique_ptr<SubscribeListener> subscribe_listener_;

  std::atomic<bool> connected_{false};
  std::atomic<bool> connecting_{false};
  std::atomic<bool> subscribed_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> backoff_ms_;
  std::atomic<std::int64_t> next_attempt_ns_{0};  //!< steady clock

  std::mutex mu_;
  std::mutex subs_mu_;  //!< guards options_.subscriptions (changed by reloads, read on connect)
  std::condition_variable cv_;
  std::thread manager_;
  MqttClientStats stats_;
};

}  // namespace streamgate::gateway
