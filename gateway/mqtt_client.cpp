// Paho async_client wrapper: background connect with backoff, re-subscribe on every connect.
#include "gateway/mqtt_client.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace streamgate::gateway {

namespace {

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Session expiry for MQTT 5 persistent sessions (3.1.1 has no expiry: the broker decides).
constexpr int kSessionExpirySeconds = 7 * 24 * 3600;

}  // namespace

class MqttClient::ConnectListener : public mqtt::iaction_listener {
 public:
  explicit ConnectListener(MqttClient& owner) : owner_(owner) {}
  void on_success(const mqtt::token& tok) override {
    bool session_present = false;
    try {
      session_present = tok.get_connect_response().is_session_present();
    } catch (...) {
    }
    spdlog::debug("{}: CONNACK from {} (session present: {})", owner_.options_.name,
                  owner_.options_.broker.url, session_present);
  }
  void on_failure(const mqtt::token& tok) override {
    owner_.stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    const auto delay = owner_.backoff_ms_.load();
    spdlog::warn("{}: cannot connect to {} (rc {}); retrying in {} ms", owner_.options_.name,
                 owner_.options_.broker.url, tok.get_return_code(), delay);
    // Retry time first, then the flag the manager checks: it must never see a stale time.
    owner_.schedule_retry();
    owner_.connecting_.store(false, std::memory_order_release);
  }

 private:
  MqttClient& owner_;
};

class MqttClient::SubscribeListener : public mqtt::iaction_listener {
 public:
  explicit SubscribeListener(MqttClient& owner) : owner_(owner) {}
  void on_success(const mqtt::token& tok) override {
    // A granted QoS of 0x80 (3.1.1) / reason code >= 0x80 (5) means the broker refused.
    bool refused = false;
    try {
      const mqtt::subscribe_response response = tok.get_subscribe_response();
      for (auto rc : response.get_reason_codes()) {
        refused |= static_cast<int>(rc) >= 0x80;
      }
    } catch (...) {
    }
    if (refused) {
      owner_.stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("{}: broker refused a subscription (check ACLs)", owner_.options_.name);
      return;
    }
    owner_.subscribed_.store(true, std::memory_order_release);
    std::lock_guard<std::mutex> lock(owner_.subs_mu_);
    for (const auto& s : owner_.options_.subscriptions) {
      spdlog::info("{}: subscribed to '{}' (QoS {})", owner_.options_.name, s.filter, s.qos);
    }
  }
  void on_failure(const mqtt::token& tok) override {
    owner_.stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: subscribe failed (rc {})", owner_.options_.name, tok.get_return_code());
  }

 private:
  MqttClient& owner_;
};

MqttClient::MqttClient(MqttClientOptions options, MessageFn on_message)
    : options_(std::move(options)),
      on_message_(std::move(on_message)),
      backoff_ms_(options_.broker.reconnect_min.count()) {
  const BrokerConfig& b = options_.broker;
  const int version = b.version == MqttVersion::V5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
  mqtt::create_options create(version);
  // Results produced while the broker is away are kept (in memory, bounded) and sent on reconnect.
  create.set_send_while_disconnected(true, true);
  create.set_max_buffered_messages(options_.max_buffered_messages);
  client_ = std::make_unique<mqtt::async_client>(b.url, b.client_id, create, nullptr);

  connect_options_.set_mqtt_version(version);
  if (b.version == MqttVersion::V5) {
    connect_options_.set_clean_start(b.clean_session);
    if (!b.clean_session) {
      connect_options_.set_properties(
          mqtt::properties{{mqtt::property::SESSION_EXPIRY_INTERVAL, kSessionExpirySeconds}});
    }
  } else {
    connect_options_.set_clean_session(b.clean_session);
  }
  connect_options_.set_keep_alive_interval(static_cast<int>(b.keepalive.count()));
  connect_options_.set_connect_timeout(10);
  connect_options_.set_automatic_reconnect(false);  // the manager thread owns reconnecting
  if (!b.username.empty()) connect_options_.set_user_name(b.username);
  if (!b.password.empty()) connect_options_.set_password(b.password);
  const bool tls = b.url.rfind("ssl://", 0) == 0 || b.url.rfind("mqtts://", 0) == 0 ||
                   b.url.rfind("wss://", 0) == 0;
  if (tls) {
    mqtt::ssl_options ssl;
    if (!b.tls_ca_file.empty()) ssl.set_trust_store(b.tls_ca_file);
    if (!b.tls_cert_file.empty()) ssl.set_key_store(b.tls_cert_file);
    if (!b.tls_key_file.empty()) ssl.set_private_key(b.tls_key_file);
    ssl.set_enable_server_cert_auth(b.tls_verify);
    ssl.set_verify(b.tls_verify);
    const std::string name = options_.name;
    ssl.set_error_handler([name](const std::string& msg) { spdlog::error("{}: TLS: {}", name, msg); });
    connect_options_.set_ssl(std::move(ssl));
  }

  connect_listener_ = std::make_unique<ConnectListener>(*this);
  subscribe_listener_ = std::make_unique<SubscribeListener>(*this);

  client_->set_connected_handler([this](const std::string&) { on_connected(); });
  client_->set_connection_lost_handler([this](const std::string& cause) { on_connection_lost(cause); });
  if (on_message_) {
    client_->set_message_callback([this](mqtt::const_message_ptr msg) { on_message_(msg); });
  }
}

MqttClient::~MqttClient() {
  stop(std::chrono::milliseconds(0));
}

void MqttClient::start() {
  if (manager_.joinable()) return;
  stopping_.store(false);
  // The first attempt starts here (non-blocking), so "started" means a CONNECT is on its way.
  attempt_connect();
  manager_ = std::thread([this] { manage(); });
}

void MqttClient::schedule_retry() {
  const std::int64_t delay = backoff_ms_.load();
  next_attempt_ns_.store(steady_now_ns() + delay * 1'000'000);
  backoff_ms_.store(std::min<std::int64_t>(delay * 2, options_.broker.reconnect_max.count()));
  cv_.notify_all();  // no lock: the manager also wakes on its own every 100 ms
}

void MqttClient::on_connected() {
  connected_.store(true, std::memory_order_release);
  connecting_.store(false, std::memory_order_release);
  backoff_ms_.store(options_.broker.reconnect_min.count());
  stats_.connects.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("{}: connected to {} as '{}' (MQTT {}, {} session)", options_.name,
               options_.broker.url, options_.broker.client_id,
               options_.broker.version == MqttVersion::V5 ? "5" : "3.1.1",
               options_.broker.clean_session ? "clean" : "persistent");
  subscribe_all();
}

void MqttClient::on_connection_lost(const std::string& cause) {
  next_attempt_ns_.store(steady_now_ns() + backoff_ms_.load() * 1'000'000);
  connected_.store(false, std::memory_order_release);
  subscribed_.store(false, std::memory_order_release);
  stats_.connection_losses.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("{}: disconnected from {}{}{}; reconnecting", options_.name, options_.broker.url,
               cause.empty() ? "" : ": ", cause);
  cv_.notify_all();
}

void MqttClient::subscribe_all() {
  auto filters = std::make_shared<mqtt::string_collection>();
  mqtt::iasync_client::qos_collection qos;
  {
    std::lock_guard<std::mutex> lock(subs_mu_);
    for (const auto& s : options_.subscriptions) {
      filters->push_back(s.filter);
      qos.push_back(s.qos);
    }
  }
  if (filters->empty()) {
    subscribed_.store(true, std::memory_order_release);
    return;
  }
  try {
    // Asynchronous: the listener reports the SUBACK later; nothing waits here (Paho thread).
    client_->subscribe(filters, qos, nullptr, *subscribe_listener_);
  } catch (const mqtt::exception& e) {
    stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: subscribe failed: {}", options_.name, e.what());
  }
}

void MqttClient::attempt_connect() {
  connecting_.store(true);
  spdlog::info("{}: connecting to {}", options_.name, options_.broker.url);
  try {
    client_->connect(connect_options_, nullptr, *connect_listener_);
  } catch (const mqtt::exception& e) {
    stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("{}: cannot connect to {}: {}; retrying in {} ms", options_.name,
                 options_.broker.url, e.what(), backoff_ms_.load());
    schedule_retry();
    connecting_.store(false);
  }
}

void MqttClient::manage() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_.load()) {
    if (!connected_.load() && !connecting_.load() && steady_now_ns() >= next_attempt_ns_.load()) {
      attempt_connect();
    }
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

namespace {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

// The deterministic result id travels with the message so consumers can drop the repeats an
// at-least-once hop may produce: as an MQTT 5 user property, and (opt-in, for MQTT 3.1.1
// consumers) as the first member of the JSON object payload. The payload is copied once either
// way (Paho owns its bytes); other payloads are sent as they are.
mqtt::message_ptr make_publish(const MqttClientOptions& o, std::string_view topic, std::string_view payload,
                               int qos, bool retain, std::string_view result_id) {
  mqtt::message_ptr msg;
  const std::size_t open = payload.find_first_not_of(" \t\r\n");
  if (!result_id.empty() && !o.result_id_field.empty() && open != std::string_view::npos && payload[open] == '{') {
    std::string p;
    p.reserve(payload.size() + o.result_id_field.size() + result_id.size() + 8);
    p += '{';
    append_json_string(p, o.result_id_field);
    p += ':';
    append_json_string(p, result_id);
    const std::size_t next = payload.find_first_not_of(" \t\r\n", open + 1);
    if (next != std::string_view::npos && payload[next] != '}') p += ',';
    p.append(payload.substr(open + 1));
    msg = mqtt::make_message(std::string(topic), std::move(p), qos, retain);
  } else {
    msg = mqtt::make_message(std::string(topic), payload.data(), payload.size(), qos, retain);
  }
  if (!result_id.empty() && o.broker.version == MqttVersion::V5) {
    msg->set_properties(mqtt::properties{{mqtt::property::USER_PROPERTY, kResultIdProperty, std::string(result_id)}});
  }
  return msg;
}

}  // namespace

bool MqttClient::publish(std::string_view topic, std::string_view payload, int qos, bool retain,
                         std::string_view result_id) {
  try {
    client_->publish(make_publish(options_, topic, payload, qos, retain, result_id));
    return true;
  } catch (const mqtt::exception&) {
    stats_.publish_refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
}

mqtt::delivery_token_ptr MqttClient::publish_tracked(std::string_view topic, std::string_view payload,
                                                     int qos, bool retain, std::string_view result_id) {
  try {
    return client_->publish(make_publish(options_, topic, payload, qos, retain, result_id));
  } catch (const mqtt::exception&) {
    stats_.publish_refused.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
}

void MqttClient::set_subscriptions(std::vector<Subscription> subscriptions) {
  std::vector<Subscription> added;
  std::vector<std::string> removed;
  {
    std::lock_guard<std::mutex> lock(subs_mu_);
    for (const auto& n : subscriptions) {
      bool same = false;
      for (const auto& o : options_.subscriptions) same = same || (o.filter == n.filter && o.qos == n.qos);
      if (!same) added.push_back(n);
    }
    for (const auto& o : options_.subscriptions) {
      bool kept = false;
      for (const auto& n : subscriptions) kept = kept || o.filter == n.filter;
      if (!kept) removed.push_back(o.filter);
    }
    options_.subscriptions = std::move(subscriptions);
  }
  // When not connected, the next connect subscribes to the new set anyway.
  if (!connected()) return;
  try {
    for (const auto& s : added) {
      // No wait for the SUBACK: this runs on the worker thread.
      client_->subscribe(s.filter, s.qos);
      spdlog::info("{}: subscribing to '{}' (QoS {}) after a rule reload", options_.name, s.filter, s.qos);
    }
    for (const auto& f : removed) {
      client_->unsubscribe(f);
      spdlog::info("{}: unsubscribing from '{}' after a rule reload", options_.name, f);
    }
  } catch (const mqtt::exception& e) {
    stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: changing subscriptions failed: {}", options_.name, e.what());
  }
}

std::size_t MqttClient::pending_deliveries() const {
  return client_->get_pending_delivery_tokens().size();
}

void MqttClient::stop(std::chrono::milliseconds timeout) {
  if (!manager_.joinable()) return;
  // Let queued publishes leave before the connection goes.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (connected_.load() && pending_deliveries() != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stopping_.store(true);
  cv_.notify_all();
  manager_.join();
  const bool was_connected = connected_.load();
  try {
    // A connect may still be in flight; disconnect also cancels it.
    auto tok = client_->disconnect(std::max(timeout, std::chrono::milliseconds(100)));
    tok->wait_for(std::max(timeout, std::chrono::milliseconds(1000)));
  } catch (const mqtt::exception&) {
    // Not connected: nothing to close.
  }
  connected_.store(false);
  if (was_connected) spdlog::info("{}: disconnected from {}", options_.name, options_.broker.url);
}

}  // namespace streamgate::gateway
