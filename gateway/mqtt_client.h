// One MQTT connection on Paho's C API (MQTTAsync) that stays up by itself: connects in the
// background, reconnects with exponential backoff (min..max), re-subscribes on every connect.
//
// Why the C API and not Paho C++ on top of it: the C++ wrapper copies every message it receives
// into a shared mqtt::message (three allocations), every publish into another one plus a
// shared delivery token kept in a locked list, and its TLS error handler pointed into a moved-from
// object (any failed handshake crashed the gateway). Here the receive callback hands the caller a
// view of Paho's own buffers, publishes are handed straight to MQTTAsync_sendMessage, and
// delivery completions land in caller-owned slots.
//
// Threads: Paho runs message, connect, subscribe and completion callbacks on its own threads while
// holding its process-wide mutex, so every callback here only copies, flips atomics or logs one
// line; waiting happens on the manager thread (reconnects) or the caller's thread, never inside a
// callback. publish() may be called from several threads at once (the worker's at-most-once results
// and the publisher's tracked ones share the output connection).
#pragma once

#include <MQTTAsync.h>

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

#include "gateway/config.h"
#include "gateway/log_limit.h"

namespace streamgate::gateway {

struct MqttClientOptions {
  std::string name = "mqtt";  //!< for log lines: "input", "output"
  BrokerConfig broker;
  std::vector<Subscription> subscriptions;
  //! Publishes Paho may hold unsent or unacknowledged (config `output-buffer`), connected or not:
  //! past it `publish` answers Full. Paho bounds its queue itself only while disconnected; a
  //! connected broker that stops reading (frozen, a stalled link) would let it grow without end.
  int max_buffered_messages = 10'000;
  //! Non-empty: publishes with a result id add it as this field of the JSON object payload
  //! (config `result-id-field`, for MQTT 3.1.1 consumers).
  std::string result_id_field;
  //! Called on Paho's thread after each CONNACK with the broker's session-present flag.
  std::function<void(bool session_present)> on_session;
};

//! What became of a publish handed to the client.
enum class PublishResult {
  Sent,     //!< queued in Paho (written or acknowledged later)
  Full,     //!< output-buffer reached (the broker is away or not reading): try again later
  Refused,  //!< never sendable as it is (topic too long, invalid for MQTT): do not retry
};

//! Name of the MQTT 5 user property carrying a result's deterministic id.
inline constexpr const char* kResultIdProperty = "result_id";

struct MqttClientStats {
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connection_losses{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> subscribe_failures{0};
  std::atomic<std::uint64_t> publish_refused{0};  //!< Refused: the message itself (topic too long, …)
  std::atomic<std::uint64_t> buffer_full{0};      //!< Full answers (output-buffer reached)
  std::atomic<std::uint64_t> tls_errors{0};
};

//! A received message, valid only for the duration of the callback (Paho's buffers).
struct InboundMessage {
  std::string_view topic;
  std::string_view payload;
  int qos = 0;
  bool retained = false;
  bool dup = false;    //!< the broker says it may have sent this packet before
  int packet_id = 0;   //!< MQTT packet identifier (QoS >= 1), 0 for QoS 0
};

//! Where a tracked publish reports its outcome (written by a Paho thread, read by the owner).
//! Paho reports the token it completed, so a late callback of an earlier publish through the same
//! slot (after a reconnect) is told apart from the current one: done() compares tokens.
struct DeliverySlot {
  enum State : int { Pending = 0, Done = 1, Failed = 2 };
  std::atomic<int> state{Pending};
  std::atomic<int> completed_token{0};
  int sent_token = 0;  //!< written by the publishing thread after MQTTAsync_sendMessage
  //! The owner's view: Done/Failed for the current publish, Pending otherwise.
  int outcome() const {
    const int s = state.load(std::memory_order_acquire);
    return s != Pending && completed_token.load(std::memory_order_relaxed) == sent_token ? s : Pending;
  }
};

class MqttClient {
 public:
  //! Runs on Paho's receive thread for every message: copy what is needed and return at once.
  //! Return false to leave the message with Paho, which offers it again on a later cycle.
  using MessageFn = std::function<bool(const InboundMessage&)>;

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

  //! Non-blocking; any thread. Full when Paho holds output-buffer publishes already (retry
  //! later), Refused when this message can never go (the caller drops it). A non-empty `result_id` travels with the message: MQTT 5 user
  //! property kResultIdProperty, and the result_id_field when set. With `slot`, the outcome is
  //! written there (QoS 0: written to the socket; QoS 1/2: acknowledged by the broker); the slot
  //! must outlive the delivery or the client.
  PublishResult publish(std::string_view topic, std::string_view payload, int qos, bool retain,
                        std::string_view result_id = {}, DeliverySlot* slot = nullptr);

  //! Publishes handed to Paho but not yet completed.
  std::size_t pending_deliveries() const;

  //! Replaces the subscriptions (after a rule reload): subscribes to new filters and
  //! unsubscribes from dropped ones at once when connected; any thread, non-blocking.
  void set_subscriptions(std::vector<Subscription> subscriptions);

  const MqttClientStats& stats() const { return stats_; }
  const std::string& url() const { return options_.broker.url; }

 private:
  // Paho C callbacks (static trampolines; `context` is the client).
  static int on_message_arrived(void* context, char* topic, int topic_len, MQTTAsync_message* m);
  static void on_connection_lost(void* context, char* cause);
  static void on_connected(void* context, char* cause);
  static void on_connect_success(void* context, MQTTAsync_successData* data);
  static void on_connect_success5(void* context, MQTTAsync_successData5* data);
  static void on_connect_failure(void* context, MQTTAsync_failureData* data);
  static void on_connect_failure5(void* context, MQTTAsync_failureData5* data);
  static void on_subscribe_success(void* context, MQTTAsync_successData* data);
  static void on_subscribe_success5(void* context, MQTTAsync_successData5* data);
  static void on_subscribe_failure(void* context, MQTTAsync_failureData* data);
  static void on_subscribe_failure5(void* context, MQTTAsync_failureData5* data);
  static void on_delivered(void* context, MQTTAsync_successData* data);
  static void on_delivered5(void* context, MQTTAsync_successData5* data);
  static void on_delivery_failed(void* context, MQTTAsync_failureData* data);
  static void on_delivery_failed5(void* context, MQTTAsync_failureData5* data);
  static int on_tls_error(const char* text, std::size_t len, void* context);

  void manage();
  void attempt_connect();
  void schedule_retry();
  void connect_failed(int code, const char* message);
  void subscribe_all();
  void subscribe_done(bool refused);
  bool v5() const { return options_.broker.version == MqttVersion::V5; }
  bool buffer_has_room();

  MqttClientOptions options_;
  MessageFn on_message_;
  // Paho keeps pointers into these while connecting: they live as long as the client.
  MQTTAsync_connectOptions connect_options_;
  MQTTAsync_SSLOptions ssl_options_;
  MQTTProperties connect_properties_;
  MQTTAsync handle_ = nullptr;

  std::atomic<bool> connected_{false};
  std::atomic<bool> connecting_{false};
  std::atomic<bool> subscribed_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::int64_t> backoff_ms_;
  std::atomic<std::int64_t> next_attempt_ns_{0};  //!< steady clock
  LogLimit tls_log_;  //!< TLS failure lines (Paho's threads)

  // An upper bound of what Paho holds: its count when last asked plus the publishes since. Asking
  // (MQTTAsync_getPendingTokens walks Paho's queue under its mutex) happens only when the bound
  // reaches output-buffer, so a flowing output asks once per output-buffer publishes.
  std::atomic<std::int64_t> held_bound_{0};

  std::mutex mu_;
  std::mutex subs_mu_;  //!< guards options_.subscriptions (changed by reloads, read on connect)
  std::condition_variable cv_;
  std::thread manager_;
  MqttClientStats stats_;
};

}  // namespace streamgate::gateway
