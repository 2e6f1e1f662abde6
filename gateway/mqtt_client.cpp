// Paho C (MQTTAsync) connection: background connect with backoff, re-subscribe on every connect,
// zero-copy receive callback, publishes with completion slots.
#include "gateway/mqtt_client.h"

#include "gateway/clock.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

namespace streamgate::gateway {

namespace {


// Session expiry for MQTT 5 persistent sessions (3.1.1 has no expiry: the broker decides).
constexpr int kSessionExpirySeconds = 7 * 24 * 3600;

bool is_tls_url(const std::string& url) {
  return url.rfind("ssl://", 0) == 0 || url.rfind("mqtts://", 0) == 0 || url.rfind("wss://", 0) == 0;
}

// Paho's return codes as words, for the one line a failed connect or publish gets.
const char* paho_code_name(int code) {
  switch (code) {
    case MQTTASYNC_FAILURE: return "connection failed (refused, unreachable, or TLS handshake failed)";
    case MQTTASYNC_PERSISTENCE_ERROR: return "persistence error";
    case MQTTASYNC_DISCONNECTED: return "disconnected";
    case MQTTASYNC_MAX_MESSAGES_INFLIGHT: return "too many messages in flight";
    case MQTTASYNC_BAD_UTF8_STRING: return "bad UTF-8 string";
    case MQTTASYNC_NULL_PARAMETER: return "null parameter";
    case MQTTASYNC_TOPICNAME_TRUNCATED: return "topic name truncated";
    case MQTTASYNC_BAD_STRUCTURE: return "bad structure";
    case MQTTASYNC_BAD_QOS: return "bad QoS";
    case MQTTASYNC_NO_MORE_MSGIDS: return "no more message ids";
    case MQTTASYNC_OPERATION_INCOMPLETE: return "operation incomplete";
    case MQTTASYNC_MAX_BUFFERED_MESSAGES: return "offline buffer full";
    case MQTTASYNC_SSL_NOT_SUPPORTED: return "TLS not supported by this Paho build";
    case MQTTASYNC_BAD_PROTOCOL: return "bad protocol in the URL";
    case MQTTASYNC_BAD_MQTT_OPTION: return "bad MQTT option";
    case MQTTASYNC_WRONG_MQTT_VERSION: return "wrong MQTT version";
    case 1: return "unacceptable protocol version";
    case 2: return "client identifier rejected";
    case 3: return "server unavailable";
    case 4: return "bad user name or password";
    case 5: return "not authorized";
    default: return "error";
  }
}

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

// Writes `payload` with `"field":"id"` as its first member into `out` (reused: no allocation once
// it has grown to the largest payload). False when the payload is not a JSON object.
bool with_result_id_field(std::string& out, std::string_view field, std::string_view payload,
                          std::string_view result_id) {
  const std::size_t open = payload.find_first_not_of(" \t\r\n");
  if (open == std::string_view::npos || payload[open] != '{') return false;
  out.clear();
  out += '{';
  append_json_string(out, field);
  out += ':';
  append_json_string(out, result_id);
  const std::size_t next = payload.find_first_not_of(" \t\r\n", open + 1);
  if (next != std::string_view::npos && payload[next] != '}') out += ',';
  out.append(payload.substr(open + 1));
  return true;
}

// Paho's message-arrived callback may run while the client is being destroyed only before
// MQTTAsync_destroy returns; the trampolines below never outlive the client.
MqttClient* self(void* context) { return static_cast<MqttClient*>(context); }

}  // namespace

MqttClient::MqttClient(MqttClientOptions options, MessageFn on_message)
    : options_(std::move(options)),
      on_message_(std::move(on_message)),
      backoff_ms_(options_.broker.reconnect_min.count()) {
  const BrokerConfig& b = options_.broker;
  MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
  create.MQTTVersion = v5() ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
  // Results produced while the broker is away are kept (in memory, bounded) and sent on reconnect.
  create.sendWhileDisconnected = 1;
  create.allowDisconnectedSendAtAnyTime = 1;
  create.maxBufferedMessages = options_.max_buffered_messages;
  create.deleteOldestMessages = 0;
  int rc = MQTTAsync_createWithOptions(&handle_, b.url.c_str(), b.client_id.c_str(), MQTTCLIENT_PERSISTENCE_NONE,
                                       nullptr, &create);
  if (rc != MQTTASYNC_SUCCESS) {
    throw std::runtime_error(options_.name + ": cannot create an MQTT client for '" + b.url + "': " +
                             paho_code_name(rc) + " (rc " + std::to_string(rc) + ")");
  }
  // Paho refuses the whole call (connection-lost callback included) without a message callback,
  // so an output-only client gets one too (it takes and frees whatever arrives).
  rc = MQTTAsync_setCallbacks(handle_, this, &MqttClient::on_connection_lost, &MqttClient::on_message_arrived, nullptr);
  if (rc != MQTTASYNC_SUCCESS) {
    MQTTAsync_destroy(&handle_);
    throw std::runtime_error(options_.name + ": cannot set MQTT callbacks: " + paho_code_name(rc));
  }
  MQTTAsync_setConnected(handle_, this, &MqttClient::on_connected);

  MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
  MQTTAsync_connectOptions co5 = MQTTAsync_connectOptions_initializer5;
  connect_options_ = v5() ? co5 : co;
  connect_properties_ = MQTTProperties_initializer;
  if (v5()) {
    connect_options_.cleanstart = b.clean_session ? 1 : 0;
    if (!b.clean_session) {
      MQTTProperty p;
      p.identifier = MQTTPROPERTY_CODE_SESSION_EXPIRY_INTERVAL;
      p.value.integer4 = kSessionExpirySeconds;
      MQTTProperties_add(&connect_properties_, &p);
      connect_options_.connectProperties = &connect_properties_;
    }
    connect_options_.onSuccess5 = &MqttClient::on_connect_success5;
    connect_options_.onFailure5 = &MqttClient::on_connect_failure5;
  } else {
    connect_options_.cleansession = b.clean_session ? 1 : 0;
    connect_options_.onSuccess = &MqttClient::on_connect_success;
    connect_options_.onFailure = &MqttClient::on_connect_failure;
  }
  connect_options_.context = this;
  connect_options_.keepAliveInterval = static_cast<int>(b.keepalive.count());
  connect_options_.connectTimeout = 10;
  connect_options_.automaticReconnect = 0;  // the manager thread owns reconnecting
  connect_options_.maxInflight = 65535;
  if (!b.username.empty()) connect_options_.username = options_.broker.username.c_str();
  if (!b.password.empty()) connect_options_.password = options_.broker.password.c_str();
  MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
  ssl_options_ = ssl;
  if (is_tls_url(b.url)) {
    if (!b.tls_ca_file.empty()) ssl_options_.trustStore = options_.broker.tls_ca_file.c_str();
    if (!b.tls_cert_file.empty()) ssl_options_.keyStore = options_.broker.tls_cert_file.c_str();
    if (!b.tls_key_file.empty()) ssl_options_.privateKey = options_.broker.tls_key_file.c_str();
    ssl_options_.enableServerCertAuth = b.tls_verify ? 1 : 0;
    ssl_options_.verify = b.tls_verify ? 1 : 0;
    // The context is this client, which outlives the handle: the handler can never dangle.
    ssl_options_.ssl_error_cb = &MqttClient::on_tls_error;
    ssl_options_.ssl_error_context = this;
    connect_options_.ssl = &ssl_options_;
  }
}

MqttClient::~MqttClient() {
  stop(std::chrono::milliseconds(0));
  // After destroy no callback can run: the trampolines' `this` stays valid until here.
  MQTTAsync_destroy(&handle_);
  MQTTProperties_free(&connect_properties_);
}

void MqttClient::start() {
  if (manager_.joinable()) return;
  stopping_.store(false);
  // The first attempt starts here (non-blocking), so "started" means a CONNECT is on its way.
  attempt_connect();
  manager_ = std::thread([this] { manage(); });
}

int MqttClient::on_message_arrived(void* context, char* topic, int topic_len, MQTTAsync_message* m) {
  MqttClient* c = self(context);
  InboundMessage in;
  in.topic = std::string_view(topic, topic_len > 0 ? static_cast<std::size_t>(topic_len) : std::strlen(topic));
  in.payload = std::string_view(static_cast<const char*>(m->payload), static_cast<std::size_t>(m->payloadlen));
  in.qos = m->qos;
  in.retained = m->retained != 0;
  in.dup = m->dup != 0;
  in.packet_id = m->msgid;
  bool taken = true;
  try {
    if (c->on_message_) taken = c->on_message_(in);
  } catch (...) {
    // No exception may cross into Paho's C code; the handler counts its own failures.
    taken = true;
  }
  if (!taken) return 0;  // Paho keeps the message and offers it again later
  MQTTAsync_freeMessage(&m);
  MQTTAsync_free(topic);
  return 1;
}

void MqttClient::schedule_retry() {
  const std::int64_t delay = backoff_ms_.load();
  next_attempt_ns_.store(steady_now_ns() + delay * 1'000'000);
  backoff_ms_.store(std::min<std::int64_t>(delay * 2, options_.broker.reconnect_max.count()));
  cv_.notify_all();  // no lock: the manager also wakes on its own every 100 ms
}

void MqttClient::on_connected(void* context, char* /*cause*/) {
  MqttClient* c = self(context);
  // The count first: whoever sees connected() also sees the connection it belongs to.
  c->stats_.connects.fetch_add(1, std::memory_order_relaxed);
  c->connected_.store(true, std::memory_order_release);
  c->connecting_.store(false, std::memory_order_release);
  c->backoff_ms_.store(c->options_.broker.reconnect_min.count());
  spdlog::info("{}: connected to {} as '{}' (MQTT {}, {} session)", c->options_.name, c->options_.broker.url,
               c->options_.broker.client_id, c->v5() ? "5" : "3.1.1",
               c->options_.broker.clean_session ? "clean" : "persistent");
  c->subscribe_all();
}

void MqttClient::on_connection_lost(void* context, char* cause) {
  MqttClient* c = self(context);
  c->next_attempt_ns_.store(steady_now_ns() + c->backoff_ms_.load() * 1'000'000);
  c->connected_.store(false, std::memory_order_release);
  c->subscribed_.store(false, std::memory_order_release);
  c->stats_.connection_losses.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("{}: disconnected from {}{}{}; reconnecting", c->options_.name, c->options_.broker.url,
               cause != nullptr ? ": " : "", cause != nullptr ? cause : "");
  c->cv_.notify_all();
}

void MqttClient::connect_failed(int code, const char* message) {
  stats_.connect_failures.fetch_add(1, std::memory_order_relaxed);
  const auto delay = backoff_ms_.load();
  spdlog::warn("{}: cannot connect to {}: {} (rc {}){}{}; retrying in {} ms", options_.name, options_.broker.url,
               paho_code_name(code), code, message != nullptr ? ": " : "", message != nullptr ? message : "", delay);
  // Retry time first, then the flag the manager checks: it must never see a stale time.
  schedule_retry();
  connecting_.store(false, std::memory_order_release);
}

void MqttClient::on_connect_success(void* context, MQTTAsync_successData* data) {
  MqttClient* c = self(context);
  if (c->options_.on_session) c->options_.on_session(data != nullptr && data->alt.connect.sessionPresent != 0);
}

void MqttClient::on_connect_success5(void* context, MQTTAsync_successData5* data) {
  MqttClient* c = self(context);
  if (c->options_.on_session) c->options_.on_session(data != nullptr && data->alt.connect.sessionPresent != 0);
}

void MqttClient::on_connect_failure(void* context, MQTTAsync_failureData* data) {
  self(context)->connect_failed(data != nullptr ? data->code : MQTTASYNC_FAILURE,
                                data != nullptr ? data->message : nullptr);
}

void MqttClient::on_connect_failure5(void* context, MQTTAsync_failureData5* data) {
  // MQTT 5 CONNACK refusals carry a reason code (>= 0x80), transport failures a Paho code.
  const int code = data == nullptr ? MQTTASYNC_FAILURE
                   : data->reasonCode != MQTTREASONCODE_SUCCESS ? static_cast<int>(data->reasonCode)
                                                                 : data->code;
  const char* message = data == nullptr ? nullptr
                        : data->message != nullptr ? data->message
                        : data->reasonCode != MQTTREASONCODE_SUCCESS ? MQTTReasonCode_toString(data->reasonCode)
                                                                      : nullptr;
  self(context)->connect_failed(code, message);
}

int MqttClient::on_tls_error(const char* text, std::size_t len, void* context) {
  MqttClient* c = self(context);
  c->stats_.tls_errors.fetch_add(1, std::memory_order_relaxed);
  if (c->tls_log_.due()) {
    std::string_view s(text != nullptr ? text : "", text != nullptr ? len : 0);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    spdlog::error("{}: TLS with {} failed: {}", c->options_.name, c->options_.broker.url, s);
  }
  return 0;
}

void MqttClient::subscribe_done(bool refused) {
  if (refused) {
    stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: broker refused a subscription (check ACLs)", options_.name);
    return;
  }
  subscribed_.store(true, std::memory_order_release);
  std::lock_guard<std::mutex> lock(subs_mu_);
  for (const auto& s : options_.subscriptions) {
    spdlog::info("{}: subscribed to '{}' (QoS {})", options_.name, s.filter, s.qos);
  }
}

void MqttClient::on_subscribe_success(void* context, MQTTAsync_successData* data) {
  // A granted QoS of 0x80 means the broker refused (with several filters Paho lists them all).
  bool refused = false;
  MqttClient* c = self(context);
  std::size_t n = 0;
  {
    std::lock_guard<std::mutex> lock(c->subs_mu_);
    n = c->options_.subscriptions.size();
  }
  if (data != nullptr) {
    if (n <= 1) refused = data->alt.qos >= 0x80;
    else if (data->alt.qosList != nullptr)
      for (std::size_t i = 0; i < n; ++i) refused |= data->alt.qosList[i] >= 0x80;
  }
  c->subscribe_done(refused);
}

void MqttClient::on_subscribe_success5(void* context, MQTTAsync_successData5* data) {
  bool refused = false;
  if (data != nullptr) {
    refused = data->reasonCode >= 0x80;
    // Paho fills the list only for several filters (a single one is in reasonCode).
    for (int i = 0; data->alt.sub.reasonCodeCount > 1 && i < data->alt.sub.reasonCodeCount; ++i) {
      refused |= data->alt.sub.reasonCodes[i] >= 0x80;
    }
  }
  self(context)->subscribe_done(refused);
}

void MqttClient::on_subscribe_failure(void* context, MQTTAsync_failureData* data) {
  MqttClient* c = self(context);
  c->stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("{}: subscribe failed: {} (rc {})", c->options_.name,
                paho_code_name(data != nullptr ? data->code : -1), data != nullptr ? data->code : -1);
}

void MqttClient::on_subscribe_failure5(void* context, MQTTAsync_failureData5* data) {
  MqttClient* c = self(context);
  c->stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
  spdlog::error("{}: subscribe failed: {}", c->options_.name,
                data != nullptr ? MQTTReasonCode_toString(data->reasonCode) : "unknown");
}

void MqttClient::subscribe_all() {
  std::vector<std::string> filters;
  std::vector<int> qos;
  {
    std::lock_guard<std::mutex> lock(subs_mu_);
    for (const auto& s : options_.subscriptions) {
      filters.push_back(s.filter);
      qos.push_back(s.qos);
    }
  }
  if (filters.empty()) {
    subscribed_.store(true, std::memory_order_release);
    return;
  }
  std::vector<char*> names;
  for (auto& f : filters) names.push_back(f.data());
  MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
  ro.context = this;
  if (v5()) {
    ro.onSuccess5 = &MqttClient::on_subscribe_success5;
    ro.onFailure5 = &MqttClient::on_subscribe_failure5;
  } else {
    ro.onSuccess = &MqttClient::on_subscribe_success;
    ro.onFailure = &MqttClient::on_subscribe_failure;
  }
  // Asynchronous: the SUBACK is reported later; nothing waits here (this may be Paho's thread).
  const int rc = MQTTAsync_subscribeMany(handle_, static_cast<int>(names.size()), names.data(), qos.data(), &ro);
  if (rc != MQTTASYNC_SUCCESS) {
    stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("{}: subscribe failed: {} (rc {})", options_.name, paho_code_name(rc), rc);
  }
}

void MqttClient::attempt_connect() {
  connecting_.store(true);
  spdlog::info("{}: connecting to {}", options_.name, options_.broker.url);
  const int rc = MQTTAsync_connect(handle_, &connect_options_);
  if (rc != MQTTASYNC_SUCCESS) connect_failed(rc, nullptr);
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
void complete(void* context, int token, int state) {
  auto* slot = static_cast<DeliverySlot*>(context);
  slot->completed_token.store(token, std::memory_order_relaxed);
  slot->state.store(state, std::memory_order_release);
}
}  // namespace

void MqttClient::on_delivered(void* context, MQTTAsync_successData* data) {
  complete(context, data != nullptr ? data->token : 0, DeliverySlot::Done);
}

void MqttClient::on_delivered5(void* context, MQTTAsync_successData5* data) {
  // A PUBACK with a reason code >= 0x80 (e.g. not authorized) is a refusal, not a delivery.
  const bool ok = data == nullptr || data->reasonCode < 0x80;
  complete(context, data != nullptr ? data->token : 0, ok ? DeliverySlot::Done : DeliverySlot::Failed);
}

void MqttClient::on_delivery_failed(void* context, MQTTAsync_failureData* data) {
  complete(context, data != nullptr ? data->token : 0, DeliverySlot::Failed);
}

void MqttClient::on_delivery_failed5(void* context, MQTTAsync_failureData5* data) {
  complete(context, data != nullptr ? data->token : 0, DeliverySlot::Failed);
}

// The deterministic result id travels with the message so consumers can drop the repeats an
// at-least-once hop may produce: as an MQTT 5 user property, and (opt-in, for MQTT 3.1.1
// consumers) as the first member of the JSON object payload.
PublishResult MqttClient::publish(std::string_view topic, std::string_view payload, int qos, bool retain,
                                  std::string_view result_id, DeliverySlot* slot) {
  // Paho wants a NUL-terminated topic: topics are short, a stack buffer avoids the allocation.
  char topic_buf[kMaxTopicBytes + 1];
  if (topic.size() > kMaxTopicBytes) {
    stats_.publish_refused.fetch_add(1, std::memory_order_relaxed);
    return PublishResult::Refused;
  }
  if (!buffer_has_room()) {
    stats_.buffer_full.fetch_add(1, std::memory_order_relaxed);
    return PublishResult::Full;
  }
  std::memcpy(topic_buf, topic.data(), topic.size());
  topic_buf[topic.size()] = '\0';

  // One buffer per publishing thread: no allocation once it has grown to the largest payload.
  thread_local std::string with_id;
  if (!result_id.empty() && !options_.result_id_field.empty() &&
      with_result_id_field(with_id, options_.result_id_field, payload, result_id)) {
    payload = with_id;
  }
  MQTTAsync_message m = MQTTAsync_message_initializer;
  m.payload = const_cast<char*>(payload.data());  // Paho copies; it never writes through it
  m.payloadlen = static_cast<int>(payload.size());
  m.qos = qos;
  m.retained = retain ? 1 : 0;
  if (!result_id.empty() && v5()) {
    MQTTProperty p;
    p.identifier = MQTTPROPERTY_CODE_USER_PROPERTY;
    p.value.data.data = const_cast<char*>(kResultIdProperty);
    p.value.data.len = static_cast<int>(std::strlen(kResultIdProperty));
    p.value.value.data = const_cast<char*>(result_id.data());
    p.value.value.len = static_cast<int>(result_id.size());
    MQTTProperties_add(&m.properties, &p);
  }
  MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
  if (slot != nullptr) {
    ro.context = slot;
    if (v5()) {
      ro.onSuccess5 = &MqttClient::on_delivered5;
      ro.onFailure5 = &MqttClient::on_delivery_failed5;
    } else {
      ro.onSuccess = &MqttClient::on_delivered;
      ro.onFailure = &MqttClient::on_delivery_failed;
    }
  }
  const int rc = MQTTAsync_sendMessage(handle_, topic_buf, &m, &ro);
  MQTTProperties_free(&m.properties);
  if (slot != nullptr) slot->sent_token = ro.token;  // outcome() matches the callback's token
  switch (rc) {
    case MQTTASYNC_SUCCESS:
      return PublishResult::Sent;
    case MQTTASYNC_MAX_BUFFERED_MESSAGES:  // Paho's own bound while disconnected
    case MQTTASYNC_DISCONNECTED:           // between a stop and a start
    case MQTTASYNC_OPERATION_INCOMPLETE:
      held_bound_.fetch_sub(1, std::memory_order_relaxed);
      stats_.buffer_full.fetch_add(1, std::memory_order_relaxed);
      return PublishResult::Full;
    default:  // invalid UTF-8, bad QoS, …: the same message would be refused again
      held_bound_.fetch_sub(1, std::memory_order_relaxed);
      stats_.publish_refused.fetch_add(1, std::memory_order_relaxed);
      return PublishResult::Refused;
  }
}

bool MqttClient::buffer_has_room() {
  const std::int64_t limit = options_.max_buffered_messages;
  if (held_bound_.fetch_add(1, std::memory_order_relaxed) < limit) return true;  // counts this one
  // The bound says full: ask Paho what it really holds (queued publishes of any QoS plus QoS 1/2
  // ones waiting for their acknowledgement). Two threads asking at once may each admit one more.
  MQTTAsync_token* tokens = nullptr;
  std::int64_t held = 0;
  if (MQTTAsync_getPendingTokens(handle_, &tokens) == MQTTASYNC_SUCCESS && tokens != nullptr) {
    while (tokens[held] != -1) ++held;
    MQTTAsync_free(tokens);
  }
  held_bound_.store(held < limit ? held + 1 : held, std::memory_order_relaxed);
  return held < limit;
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
  for (const auto& s : added) {
    // No wait for the SUBACK: this runs on the worker thread.
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    const int rc = MQTTAsync_subscribe(handle_, s.filter.c_str(), s.qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
      stats_.subscribe_failures.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("{}: subscribing to '{}' failed: {} (rc {})", options_.name, s.filter, paho_code_name(rc), rc);
    } else {
      spdlog::info("{}: subscribing to '{}' (QoS {}) after a rule reload", options_.name, s.filter, s.qos);
    }
  }
  for (const auto& f : removed) {
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    MQTTAsync_unsubscribe(handle_, f.c_str(), &ro);
    spdlog::info("{}: unsubscribing from '{}' after a rule reload", options_.name, f);
  }
}

std::size_t MqttClient::pending_deliveries() const {
  MQTTAsync_token* tokens = nullptr;
  if (MQTTAsync_getPendingTokens(handle_, &tokens) != MQTTASYNC_SUCCESS || tokens == nullptr) return 0;
  std::size_t n = 0;
  while (tokens[n] != -1) ++n;
  MQTTAsync_free(tokens);
  return n;
}

void MqttClient::stop(std::chrono::milliseconds timeout) {
  if (!manager_.joinable()) return;
  // Let queued publishes leave before the connection goes.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (connected_.load() && pending_deliveries() != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stopping_.store(true);
  cv_.notify_all();
  manager_.join();
  const bool was_connected = connected_.load();
  MQTTAsync_disconnectOptions d4 = MQTTAsync_disconnectOptions_initializer;
  MQTTAsync_disconnectOptions d5 = MQTTAsync_disconnectOptions_initializer5;
  MQTTAsync_disconnectOptions d = v5() ? d5 : d4;
  d.timeout = static_cast<int>(std::max<std::int64_t>(timeout.count(), 100));
  // A connect may still be in flight; disconnect also cancels it. Paho's disconnect is
  // asynchronous: wait (here, on the caller's thread) until the socket is closed.
  if (MQTTAsync_disconnect(handle_, &d) == MQTTASYNC_SUCCESS) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(d.timeout + 1000);
    while (MQTTAsync_isConnected(handle_) && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  connected_.store(false);
  if (was_connected) spdlog::info("{}: disconnected from {}", options_.name, options_.broker.url);
}

}  // namespace streamgate::gateway
