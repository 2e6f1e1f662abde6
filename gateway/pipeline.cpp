// Threads of the running gateway and the hand-offs between them.
#include "gateway/pipeline.h"

#include <chrono>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace streamgate::gateway {

namespace {

std::int64_t system_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

constexpr std::int64_t kDropLogIntervalNs = 10'000'000'000;  // warn about drops at most every 10 s
constexpr int kWorkerBatch = 256;  // messages between two checks of ticks and reloads

std::vector<Subscription> subscriptions_for(const Config& config, const rules::Engine& engine) {
  std::vector<Subscription> subs;
  auto add = [&](const std::string& filter, int qos) {
    for (auto& s : subs) {
      if (s.filter == filter) {
        s.qos = std::max(s.qos, qos);
        return;
      }
    }
    subs.push_back({filter, qos});
  };
  for (const auto& s : engine.streams()) {
    if (!s.topic_filter.empty()) add(s.topic_filter, std::max(config.qos, s.qos));
  }
  for (const auto& f : config.extra_subscriptions) add(f, config.qos);
  return subs;
}

}  // namespace

Pipeline::Pipeline(const Config& config, std::unique_ptr<rules::Engine> engine, Heartbeat& heartbeat)
    : config_(config),
      engine_(std::move(engine)),
      heartbeat_(heartbeat),
      ingress_(config.ring_capacity, config.max_payload_bytes),
      egress_(config.ring_capacity) {
  emit_ = [this](rules::Emission&& e) { push_egress(std::move(e)); };

  MqttClientOptions in;
  in.name = config_.separate_output ? "input" : "mqtt";
  in.broker = config_.input;
  in.subscriptions = subscriptions_for(config_, *engine_);
  if (in.subscriptions.empty()) spdlog::warn("no stream has a TOPIC and no --subscribe given: nothing to receive");
  input_ = std::make_unique<MqttClient>(std::move(in), [this](const mqtt::const_message_ptr& m) {
    on_mqtt_message(m);
  });
  if (config_.separate_output) {
    MqttClientOptions out;
    out.name = "output";
    out.broker = config_.output;
    output_owned_ = std::make_unique<MqttClient>(std::move(out), nullptr);
    output_ = output_owned_.get();
  } else {
    output_ = input_.get();
  }
}

Pipeline::~Pipeline() { stop(); }

bool Pipeline::input_connected() const { return input_->connected(); }

void Pipeline::start() {
  if (worker_.joinable()) return;
  intake_open_.store(true);
  worker_ = std::thread([this] { worker_loop(); });
  publisher_ = std::thread([this] { publisher_loop(); });
  if (output_owned_) output_owned_->start();
  input_->start();
}

// Paho's callback thread: copy into the ring and return. No lock, no allocation, no waiting
// (except under the explicitly chosen block policy, which is the point of that policy).
void Pipeline::on_mqtt_message(const mqtt::const_message_ptr& msg) {
  metrics_.received.fetch_add(1, std::memory_order_relaxed);
  if (!intake_open_.load(std::memory_order_acquire)) {
    metrics_.dropped_stopping.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string& topic = msg->get_topic();
  const std::string& payload = msg->get_payload_str();
  const bool keep_head = !config_.dead_letter_topic.empty();
  const std::int64_t now = system_now_ns();
  PushResult r = ingress_.try_push(topic, payload, now, msg->get_qos(), msg->is_retained(), keep_head);
  if (r == PushResult::Full && config_.ring_full_policy == RingFullPolicy::Block) {
    metrics_.producer_blocked.fetch_add(1, std::memory_order_relaxed);
    int spins = 0;
    while (r == PushResult::Full && intake_open_.load(std::memory_order_acquire)) {
      ingress_ready_.notify();
      if (++spins < 64) {
        std::this_thread::yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      r = ingress_.try_push(topic, payload, now, msg->get_qos(), msg->is_retained(), keep_head);
    }
  }
  switch (r) {
    case PushResult::Ok:
      break;
    case PushResult::Oversize:
      metrics_.dropped_oversize.fetch_add(1, std::memory_order_relaxed);
      break;
    case PushResult::TopicTooLong:
      metrics_.dropped_topic_too_long.fetch_add(1, std::memory_order_relaxed);
      return;
    case PushResult::Full: {
      metrics_.dropped_ring_full.fetch_add(1, std::memory_order_relaxed);
      const std::int64_t t = steady_now_ns();
      std::int64_t last = last_drop_log_ns_.load(std::memory_order_relaxed);
      if (t - last > kDropLogIntervalNs && last_drop_log_ns_.compare_exchange_strong(last, t)) {
        spdlog::warn("ingress ring full: dropping newest messages ({} dropped so far)",
                     metrics_.dropped_ring_full.load(std::memory_order_relaxed));
      }
      return;
    }
  }
  ingress_ready_.notify();
}

void Pipeline::push_egress(rules::Emission&& e) {
  metrics_.emissions.fetch_add(1, std::memory_order_relaxed);
  // Results are never dropped for a full egress ring: the worker waits for the publisher
  // (back-pressure reaches the ingress ring and its policy instead).
  int spins = 0;
  while (!egress_.try_push(std::move(e))) {
    if (abandon_.load(std::memory_order_acquire)) {
      metrics_.dropped_egress.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    egress_ready_.notify();
    heartbeat_.idle.store(true, std::memory_order_relaxed);  // waiting on output, not stuck
    if (++spins < 64) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  heartbeat_.idle.store(false, std::memory_order_relaxed);
  egress_ready_.notify();
}

void Pipeline::dead_letter(std::string_view topic, std::string_view payload, std::string_view reason,
                           std::size_t original_size) {
  if (config_.dead_letter_topic.empty()) return;
  nlohmann::json j;
  j["reason"] = reason;
  j["topic"] = topic;
  j["size"] = original_size;
  j["received_at"] = rules::format_rfc3339(system_now_ns());
  // The payload may be invalid UTF-8: keep it as text with replacement characters.
  j["payload"] = std::string(payload);
  rules::Emission e;
  e.kind = rules::EmissionKind::Result;
  e.rule = "$dead_letter";
  e.topic = config_.dead_letter_topic;
  e.qos = 1;
  e.payload = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  metrics_.dead_letters.fetch_add(1, std::memory_order_relaxed);
  push_egress(std::move(e));
}

void Pipeline::handle(const MessageSlot& slot) {
  if (slot.oversize) {
    dead_letter(slot.topic_view(), slot.payload_view(), "too_large", slot.original_len);
    return;
  }
  metrics_.processed.fetch_add(1, std::memory_order_relaxed);
  rules::IngestStatus status;
  try {
    status = engine_->on_message(slot.topic_view(), slot.payload_view(), slot.received_ns, emit_);
  } catch (const std::exception& ex) {
    metrics_.worker_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("engine error on '{}': {}", slot.topic_view(), ex.what());
    return;
  }
  const auto idx = static_cast<std::size_t>(status);
  if (idx < metrics_.by_status.size()) metrics_.by_status[idx].fetch_add(1, std::memory_order_relaxed);
  if (status != rules::IngestStatus::Ok && status != rules::IngestStatus::NoStream) {
    dead_letter(slot.topic_view(), slot.payload_view(), rules::to_string(status), slot.original_len);
  }
}

void Pipeline::request_reload(std::vector<std::pair<std::string, std::string>> files) {
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    reload_files_ = std::move(files);
  }
  reload_pending_.store(true, std::memory_order_release);
  ingress_ready_.notify();
}

void Pipeline::apply_pending_reload() {
  std::vector<std::pair<std::string, std::string>> files;
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    files = std::move(reload_files_);
    reload_files_.clear();
  }
  const auto before = engine_->streams();
  const auto errors = engine_->reload(files);
  if (!errors.empty()) {
    metrics_.reload_failures.fetch_add(1, std::memory_order_relaxed);
    for (const auto& e : errors) spdlog::error("reload rejected: {}", e.to_string());
    spdlog::error("reload failed; the previous rules keep running");
    return;
  }
  metrics_.reloads.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("rules reloaded: {} rules from {} files", engine_->rules().size(), files.size());
  for (const auto& s : engine_->streams()) {
    bool known = s.topic_filter.empty();
    for (const auto& b : before) known = known || b.topic_filter == s.topic_filter;
    if (!known) {
      spdlog::warn("stream '{}' has a new TOPIC '{}': subscribe to it with --subscribe or restart",
                   s.name, s.topic_filter);
    }
  }
}

void Pipeline::worker_loop() {
  using namespace std::chrono;
  const std::int64_t tick_ns = duration_cast<nanoseconds>(config_.tick_interval).count();
  std::int64_t next_tick = steady_now_ns() + tick_ns;
  while (true) {
    heartbeat_.beat();
    int n = 0;
    while (n < kWorkerBatch && ingress_.try_pop_with([this](const MessageSlot& s) { handle(s); })) ++n;

    const std::int64_t now = steady_now_ns();
    if (now >= next_tick) {
      try {
        engine_->on_tick(system_now_ns(), emit_);
      } catch (const std::exception& ex) {
        metrics_.worker_errors.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("engine error on tick: {}", ex.what());
      }
      next_tick = now + tick_ns;
    }
    if (reload_pending_.exchange(false, std::memory_order_acq_rel)) {
      try {
        apply_pending_reload();
      } catch (const std::exception& ex) {
        metrics_.reload_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("reload failed: {}", ex.what());
      }
    }
    if (n != 0) continue;
    if (worker_stop_.load(std::memory_order_acquire)) {
      if (ingress_.empty()) break;
      continue;
    }
    // Idle: sleep until a message arrives or the next tick is due.
    const std::uint32_t key = ingress_ready_.prepare_wait();
    if (!ingress_.empty() || worker_stop_.load() || reload_pending_.load()) {
      ingress_ready_.cancel_wait();
      continue;
    }
    heartbeat_.idle.store(true, std::memory_order_relaxed);
    ingress_ready_.wait(key, nanoseconds(std::max<std::int64_t>(next_tick - steady_now_ns(), 1)));
    heartbeat_.idle.store(false, std::memory_order_relaxed);
  }
}

void Pipeline::publisher_loop() {
  rules::Emission e;
  while (true) {
    if (egress_.try_pop(e)) {
      int tries = 0;
      bool sent = false;
      while (!(sent = output_->publish(e.topic, e.payload, e.qos, e.retain))) {
        // Offline buffer full: the broker has been away for a while. Keep the result and retry.
        metrics_.publish_retries.fetch_add(1, std::memory_order_relaxed);
        if (abandon_.load(std::memory_order_acquire)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(++tries < 10 ? 1 : 50));
      }
      (sent ? metrics_.published : metrics_.dropped_egress).fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (publisher_stop_.load(std::memory_order_acquire)) {
      if (egress_.empty()) break;
      continue;
    }
    const std::uint32_t key = egress_ready_.prepare_wait();
    if (!egress_.empty() || publisher_stop_.load()) {
      egress_ready_.cancel_wait();
      continue;
    }
    egress_ready_.wait(key, std::chrono::milliseconds(200));
  }
}

void Pipeline::stop() {
  if (!worker_.joinable()) return;
  const auto deadline = std::chrono::steady_clock::now() + config_.shutdown_timeout;
  // 1. Stop intake. A separate input connection is closed first so nothing more is acknowledged
  //    and then dropped; on a shared connection the callback drops what still arrives.
  if (output_owned_) input_->stop(std::chrono::milliseconds(1000));
  intake_open_.store(false, std::memory_order_release);
  // 2. Drain the ingress ring through the engine.
  worker_stop_.store(true, std::memory_order_release);
  ingress_ready_.notify();
  std::atomic<bool> drained{false};
  std::thread abandoner([this, deadline, &drained] {
    // Bounds the joins below: past the deadline, waits on a full ring or a refusing client give up.
    while (!drained.load()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        abandon_.store(true);
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  worker_.join();
  // 3. Drain the egress ring to Paho.
  publisher_stop_.store(true, std::memory_order_release);
  egress_ready_.notify();
  publisher_.join();
  drained.store(true);
  abandoner.join();
  // 4. Let Paho deliver what it holds, then disconnect.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  output_->stop(std::max(left, std::chrono::milliseconds(100)));
  if (output_owned_) input_->stop(std::chrono::milliseconds(100));
  spdlog::info("stopped: {}", metrics_summary());
}

std::string Pipeline::metrics_summary() const {
  auto v = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::ostringstream os;
  os << "received=" << v(metrics_.received) << " processed=" << v(metrics_.processed)
     << " emitted=" << v(metrics_.emissions) << " published=" << v(metrics_.published)
     << " dropped_ring_full=" << v(metrics_.dropped_ring_full)
     << " dropped_oversize=" << v(metrics_.dropped_oversize)
     << " dead_letters=" << v(metrics_.dead_letters);
  for (std::size_t i = 1; i < metrics_.by_status.size(); ++i) {
    const auto n = v(metrics_.by_status[i]);
    if (n != 0) os << ' ' << rules::to_string(static_cast<rules::IngestStatus>(i)) << '=' << n;
  }
  if (v(metrics_.dropped_egress) != 0) os << " dropped_results=" << v(metrics_.dropped_egress);
  return os.str();
}

}  // namespace streamgate::gateway
