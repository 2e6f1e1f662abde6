// Threads of the running gateway and the hand-offs between them.
#include "gateway/pipeline.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

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
constexpr std::int64_t kStorageLogIntervalNs = 5'000'000'000;  // disk-trouble warning at most every 5 s
constexpr std::size_t kPublisherBatch = 512;  // egress items per outbox transaction
// QoS 0 input is journaled by the worker in groups: one transaction per 10 ms, 1,024 messages or
// 1 MiB, whichever comes first, instead of one per message on the receive thread.
constexpr std::int64_t kJournalDelayNs = 10'000'000;
constexpr std::size_t kJournalGroup = 1024;
constexpr std::size_t kJournalGroupBytes = 1 << 20;
// Messages waiting in the ingress ring that wake a napping worker before its nap ends.
constexpr std::size_t kWakeBacklog = 64;

Delivery parse_delivery(const std::string& d) {
  if (d == "at_most_once") return Delivery::AtMostOnce;
  if (d == "exactly_once") return Delivery::ExactlyOnce;
  return Delivery::AtLeastOnce;
}

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
  if (!config.control_topic.empty()) add(config.control_topic, 1);
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
  if (!config_.separate_output) in.result_id_field = config_.result_id_field;  // results go out here
  if (in.subscriptions.empty()) spdlog::warn("no stream has a TOPIC and no --subscribe given: nothing to receive");
  input_ = std::make_unique<MqttClient>(std::move(in), [this](const mqtt::const_message_ptr& m) {
    on_mqtt_message(m);
  });
  if (config_.separate_output) {
    MqttClientOptions out;
    out.name = "output";
    out.broker = config_.output;
    out.result_id_field = config_.result_id_field;
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
  refresh_delivery();
  recover();  // restores the last checkpoint; throws when state-required and the db is unusable
  intake_open_.store(true);
  publisher_ = std::thread([this] { publisher_loop(); });
  replay_journal();  // before the worker and the input connection: the engine is ours alone
  worker_ = std::thread([this] { worker_loop(); });
  if (output_owned_) output_owned_->start();
  input_->start();
}

// Paho's callback thread: copy into the ring and return. No lock, no allocation, no waiting
// (except under the explicitly chosen block policy, which is the point of that policy).
void Pipeline::on_mqtt_message(const mqtt::const_message_ptr& msg) {
  metrics_.received.fetch_add(1, std::memory_order_relaxed);
  const std::string& topic = msg->get_topic();
  const std::string& payload = msg->get_payload_str();
  const std::int64_t now = system_now_ns();
  // Paho sends the PUBACK as soon as this callback returns: journal first, so "acknowledged"
  // implies "on disk". Messages arriving after intake closed are journaled too and replayed at
  // the next start. Oversize payloads are not journaled (they are rejected anyway).
  std::int64_t seq = 0;
  bool journal_pending = false;
  // Control requests are not journaled: replaying them at the next start would repeat them.
  if (journal_ && durable_.load(std::memory_order_acquire) && payload.size() <= config_.max_payload_bytes &&
      topic.size() <= 1024 && !ops_.is_control(topic)) {
    // Seqs are handed out here, in arrival order, whoever writes the row.
    seq = ++journal_next_seq_;
    if (msg->get_qos() == 0) {
      // Nothing acknowledges a QoS 0 message: the worker journals it with its group (a crash
      // loses at most the last kJournalDelayNs of QoS 0 input), sparing a commit per message.
      journal_pending = true;
    } else {
      try {
        journal_->append_at(seq, topic, payload, now);
        metrics_.journaled.fetch_add(1, std::memory_order_relaxed);
      } catch (const std::exception& ex) {
        seq = 0;
        on_storage_error(ex, "input journal");
      }
    }
  }
  if (!intake_open_.load(std::memory_order_acquire)) {
    metrics_.dropped_stopping.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const bool keep_head = !config_.dead_letter_topic.empty();
  PushResult r =
      ingress_.try_push(topic, payload, now, msg->get_qos(), msg->is_retained(), keep_head, seq, journal_pending);
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
      r = ingress_.try_push(topic, payload, now, msg->get_qos(), msg->is_retained(), keep_head, seq, journal_pending);
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
  // A napping worker comes back within batch-delay by itself: wake it only for a backlog. The
  // fence orders the push before the flag check (pairs with the fence in worker_loop).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!worker_napping_.load(std::memory_order_relaxed) || ingress_.size() >= kWakeBacklog) ingress_ready_.notify();
}

void Pipeline::push_egress(rules::Emission&& e) {
  metrics_.emissions.fetch_add(1, std::memory_order_relaxed);
  ops_.count_out(e);
  EgressItem item;
  // Dead letters and unknown rules: direct publish (at-most-once), they are not results.
  const auto it = delivery_.find(e.rule);
  item.delivery = it == delivery_.end() ? Delivery::AtMostOnce : it->second;
  if (item.delivery == Delivery::AtMostOnce) {
    if (replaying_) return;  // may have been sent already
    // Nothing to store first: straight to Paho (thread-safe, non-blocking) from the worker,
    // one thread hand-off and one wake-up less than through the publisher.
    publish_direct(e.topic, e.payload, e.qos, e.retain, e.result_id);
    return;
  }
  item.emission = std::move(e);
  push_egress_item(std::move(item));
}

void Pipeline::push_egress_item(EgressItem&& item) {
  // Results are never dropped for a full egress ring: the worker waits for the publisher
  // (back-pressure reaches the ingress ring and its policy instead).
  int spins = 0;
  while (!egress_.try_push(std::move(item))) {
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
  // The publisher is woken once per worker pass (worker_loop), not once per result.
  egress_pushed_ = true;
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

void Pipeline::stage_journal(const MessageSlot& slot) {
  if (!worker_journal_ || !durable_.load(std::memory_order_acquire)) return;
  const std::size_t size = slot.topic_len + slot.payload_len;
  if (journal_staged_.size() >= kJournalGroup || journal_bytes_.size() + size > kJournalGroupBytes) flush_journal();
  if (journal_staged_.empty()) journal_first_ns_ = steady_now_ns();
  // journal_bytes_ was reserved for a full group plus one largest message: no allocation here.
  journal_staged_.push_back({slot.journal_seq, slot.received_ns, journal_bytes_.size(), slot.topic_len, slot.payload_len});
  journal_bytes_.append(slot.topic, slot.topic_len);
  journal_bytes_.append(slot.payload, slot.payload_len);
}

void Pipeline::flush_journal() {
  if (journal_staged_.empty()) return;
  if (durable_.load(std::memory_order_acquire)) {
    try {
      storage::Transaction tx(*worker_journal_db_);
      for (const StagedMessage& m : journal_staged_) {
        const std::string_view bytes(journal_bytes_.data() + m.offset, m.topic_len + m.payload_len);
        worker_journal_->append_at(m.seq, bytes.substr(0, m.topic_len), bytes.substr(m.topic_len), m.received_at);
      }
      tx.commit();
      metrics_.journaled.fetch_add(journal_staged_.size(), std::memory_order_relaxed);
    } catch (const std::exception& ex) {
      on_storage_error(ex, "input journal");
    }
  }
  journal_staged_.clear();
  journal_bytes_.clear();
}

void Pipeline::handle(const MessageSlot& slot) {
  if (slot.journal_seq > last_seq_) last_seq_ = slot.journal_seq;
  if (slot.journal_pending) stage_journal(slot);
  if (slot.oversize) {
    dead_letter(slot.topic_view(), slot.payload_view(), "too_large", slot.original_len);
    return;
  }
  if (ops_.is_control(slot.topic_view())) {
    handle_control(slot.payload_view());
    return;
  }
  ops_.count_in(slot.topic_view(), slot.payload_view(), slot.received_ns);
  metrics_.processed.fetch_add(1, std::memory_order_relaxed);
  rules::IngestStatus status;
  try {
    // The slot has MessageRing::kPayloadPadding spare bytes: simdjson parses it in place.
    static_assert(MessageRing::kPayloadPadding >= rules::kJsonPadding);
    status = engine_->on_message(slot.topic_view(), slot.payload_view(), slot.received_ns, emit_, true);
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
  apply_reload(files);
}

std::vector<rules::RuleError> Pipeline::apply_reload(
    const std::vector<std::pair<std::string, std::string>>& files) {
  // Runs on the worker between two messages: what waits in the ingress ring is processed by
  // the new rule set, nothing is lost.
  auto errors = engine_->reload(files);
  if (!errors.empty()) {
    metrics_.reload_failures.fetch_add(1, std::memory_order_relaxed);
    for (const auto& e : errors) spdlog::error("reload rejected: {}", e.to_string());
    spdlog::error("reload failed; the previous rules keep running");
    return errors;
  }
  metrics_.reloads.fetch_add(1, std::memory_order_relaxed);
  refresh_delivery();
  spdlog::info("rules reloaded: {} rules from {} files", engine_->rules().size(), files.size());
  // New stream TOPICs get subscribed, dropped ones unsubscribed (non-blocking Paho calls).
  input_->set_subscriptions(subscriptions_for(config_, *engine_));
  return errors;
}

void Pipeline::handle_control(std::string_view payload) {
  push_egress(ops_.on_control(payload, *engine_, [this](const ControlHandler::Files& files) {
    return apply_reload(files);
  }));
}

void Pipeline::publish_metrics(std::int64_t steady_now_ns) {
  auto message = ops_.tick(steady_now_ns, *engine_, [this](MetricsInputs& in) {
    in.pipeline = &metrics_;
    in.ingress_size = ingress_.size();
    in.ingress_capacity = ingress_.capacity();
    in.egress_size = egress_.size();
    in.egress_capacity = egress_.capacity();
    in.input_stats = &input_->stats();
    in.input_connected = input_->connected();
    if (output_owned_) {
      in.output_stats = &output_owned_->stats();
      in.output_connected = output_owned_->connected();
    }
  });
  if (message) push_egress(std::move(*message));
}

void Pipeline::worker_loop() {
  using namespace std::chrono;
  pthread_setname_np(pthread_self(), "sg-worker");  // per-thread CPU in top, perf, bench/e2e.sh
  const std::int64_t tick_ns = duration_cast<nanoseconds>(config_.tick_interval).count();
  std::int64_t next_tick = steady_now_ns() + tick_ns;
  const std::int64_t checkpoint_ns = duration_cast<nanoseconds>(config_.checkpoint_interval).count();
  std::int64_t next_checkpoint = steady_now_ns() + checkpoint_ns;
  const std::int64_t batch_delay_ns = duration_cast<nanoseconds>(config_.batch_delay).count();
  bool busy = false;  // the last pass found messages: nap rather than park
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
    if (ops_.metrics_on()) publish_metrics(now);
    ops_.serve_requests(*engine_, [this](const ControlHandler::Files& f) { return apply_reload(f); });
    if (now >= next_checkpoint) {
      take_checkpoint();
      next_checkpoint = now + checkpoint_ns;
    }
    if (reload_pending_.exchange(false, std::memory_order_acq_rel)) {
      try {
        apply_pending_reload();
      } catch (const std::exception& ex) {
        metrics_.reload_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("reload failed: {}", ex.what());
      }
    }
    if (!journal_staged_.empty() && now - journal_first_ns_ >= kJournalDelayNs) flush_journal();
    if (egress_pushed_) {
      egress_pushed_ = false;
      egress_ready_.notify();
    }
    if (n != 0) {
      busy = true;
      continue;
    }
    if (worker_stop_.load(std::memory_order_acquire)) {
      if (ingress_.empty()) {
        // Clean shutdown: windows stay open (nothing flushed early); the final checkpoint lets
        // the next start resume them.
        take_checkpoint();
        egress_ready_.notify();
        break;
      }
      continue;
    }
    // Idle. After a busy pass the worker naps for batch-delay: what arrives meanwhile waits for
    // the end of the nap (unless kWakeBacklog messages pile up) and is handled as one batch, so a
    // steady stream costs one wake-up per nap, not one futex wake per message, and Paho's send
    // thread gets the results in bursts. A nap that finds nothing parks the worker until the next
    // message (woken at once), the next tick or the journal's deadline.
    const bool nap = busy && batch_delay_ns > 0;
    busy = false;
    std::int64_t wake_at = next_tick;
    if (!journal_staged_.empty()) wake_at = std::min(wake_at, journal_first_ns_ + kJournalDelayNs);
    if (nap) wake_at = std::min(wake_at, now + batch_delay_ns);
    worker_napping_.store(nap, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the flag before the ring check
    const std::uint32_t key = ingress_ready_.prepare_wait();
    if ((nap ? ingress_.size() >= kWakeBacklog : !ingress_.empty()) || worker_stop_.load() || reload_pending_.load()) {
      ingress_ready_.cancel_wait();
      worker_napping_.store(false, std::memory_order_relaxed);
      continue;
    }
    heartbeat_.idle.store(true, std::memory_order_relaxed);
    ingress_ready_.wait(key, nanoseconds(std::max<std::int64_t>(wake_at - steady_now_ns(), 1)));
    heartbeat_.idle.store(false, std::memory_order_relaxed);
    worker_napping_.store(false, std::memory_order_relaxed);
  }
}

void Pipeline::publish_direct(std::string_view topic, std::string_view payload, int qos, bool retain,
                              std::string_view result_id) {
  int tries = 0;
  bool sent = false;
  while (!(sent = output_->publish(topic, payload, qos, retain, result_id))) {
    // Offline buffer full: the broker has been away for a while. Keep the result and retry.
    metrics_.publish_retries.fetch_add(1, std::memory_order_relaxed);
    if (abandon_.load(std::memory_order_acquire)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(++tries < 10 ? 1 : 50));
  }
  (sent ? metrics_.published : metrics_.dropped_egress).fetch_add(1, std::memory_order_relaxed);
}

void Pipeline::publisher_loop() {
  pthread_setname_np(pthread_self(), "sg-publisher");
  EgressItem item;
  std::vector<storage::OutboxMessage> batch;
  while (true) {
    std::size_t n = 0;
    while (n < kPublisherBatch && egress_.try_pop(item)) {
      ++n;
      if (item.checkpoint) {
        // Checkpoint after enqueue: every result emitted before the snapshot goes first.
        flush_to_outbox(batch);
        save_checkpoint(*item.checkpoint);
        item.checkpoint.reset();
        continue;
      }
      if (item.delivery == Delivery::AtMostOnce || !durable_.load(std::memory_order_acquire)) {
        publish_direct(item.emission.topic, item.emission.payload, item.emission.qos, item.emission.retain,
                       item.emission.result_id);
        continue;
      }
      auto m = storage::OutboxMessage::from_emission(std::move(item.emission));
      // At-least-once: the id is carried to consumers but not checked, so a re-emission after a
      // crash is sent again (no published_ids lookup or row per result).
      m.dedup = item.delivery == Delivery::ExactlyOnce;
      batch.push_back(std::move(m));
    }
    flush_to_outbox(batch);
    if (outbox_ && durable_.load(std::memory_order_acquire)) pump_outbox();
    if (n != 0) continue;
    const bool outbox_busy =
        outbox_ && durable_.load(std::memory_order_acquire) && (outbox_->depth() != 0 || !in_flight_.empty());
    if (publisher_stop_.load(std::memory_order_acquire) && egress_.empty()) {
      // Results still in the outbox stay on disk for the next start; try until the deadline.
      if (!outbox_busy || abandon_.load(std::memory_order_acquire) || !output_->connected()) break;
    }
    const std::uint32_t key = egress_ready_.prepare_wait();
    if (!egress_.empty() || (publisher_stop_.load() && !outbox_busy)) {
      egress_ready_.cancel_wait();
      continue;
    }
    egress_ready_.wait(key, outbox_busy ? std::chrono::milliseconds(2) : std::chrono::milliseconds(200));
  }
}

void Pipeline::refresh_delivery() {
  delivery_.clear();
  for (const auto& r : engine_->rules()) delivery_[r.name] = parse_delivery(r.delivery);
}

void Pipeline::take_checkpoint() {
  flush_journal();  // the checkpoint's journal_seq must not cover rows still in memory
  if (!durable_.load(std::memory_order_acquire)) return;
  auto cp = std::make_unique<PendingCheckpoint>();
  try {
    cp->state = engine_->save_state();
  } catch (const std::exception& ex) {
    metrics_.worker_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("checkpoint: engine state could not be saved: {}", ex.what());
    return;
  }
  cp->journal_seq = last_seq_;
  EgressItem item;
  item.checkpoint = std::move(cp);
  push_egress_item(std::move(item));
}

void Pipeline::flush_to_outbox(std::vector<storage::OutboxMessage>& batch) {
  if (batch.empty()) return;
  if (durable_.load(std::memory_order_acquire)) {
    try {
      const auto r = outbox_->enqueue(batch);
      metrics_.outbox_enqueued.fetch_add(r.enqueued, std::memory_order_relaxed);
      metrics_.duplicates_suppressed.fetch_add(r.duplicates, std::memory_order_relaxed);
      if (r.dropped != 0) {
        metrics_.outbox_dropped.fetch_add(r.dropped, std::memory_order_relaxed);
        const std::int64_t t = steady_now_ns();
        std::int64_t last = last_drop_log_ns_.load(std::memory_order_relaxed);
        if (t - last > kDropLogIntervalNs && last_drop_log_ns_.compare_exchange_strong(last, t)) {
          spdlog::warn("outbox full ({} messages): dropped the oldest results ({} dropped so far)",
                       config_.outbox_max_messages, metrics_.outbox_dropped.load(std::memory_order_relaxed));
        }
      }
      batch.clear();
      return;
    } catch (const std::exception& ex) {
      on_storage_error(ex, "outbox");
    }
  }
  // In memory (no state db, or it just failed): hand the results to Paho directly.
  for (const auto& m : batch) publish_direct(m.topic, m.payload, m.qos, m.retain, m.result_id);
  batch.clear();
}

void Pipeline::save_checkpoint(const PendingCheckpoint& cp) {
  if (!durable_.load(std::memory_order_acquire)) return;
  try {
    const auto stats = checkpoints_->save(cp.state, nlohmann::json{{"journal_seq", cp.journal_seq}});
    metrics_.checkpoints.fetch_add(1, std::memory_order_relaxed);
    // Only after the checkpoint committed: it now covers these journal entries.
    const std::size_t truncated = cp.journal_seq > 0 ? journal_truncator_->truncate_through(cp.journal_seq) : 0;
    spdlog::debug("checkpoint: {} rules ({} written, {} bytes), journal seq {} ({} entries truncated)",
                  stats.entries, stats.written, stats.bytes, cp.journal_seq, truncated);
    const std::int64_t now = system_now_ns();
    if (now - last_prune_ns_ > 60'000'000'000) {  // dedup horizon: 7 days, at most 1M ids
      last_prune_ns_ = now;
      outbox_->prune_published(now - 7 * 24 * 3600 * 1'000'000'000LL, 1'000'000);
    }
  } catch (const std::exception& ex) {
    on_storage_error(ex, "checkpoint");
  }
}

void Pipeline::pump_outbox() {
  const std::uint64_t connects = output_->stats().connects.load(std::memory_order_relaxed);
  if (!output_->connected() || connects != output_connects_seen_) {
    // Connection lost or renewed: PUBACKs of what was in flight may never come. Resend from the
    // oldest unacknowledged row (the broker may see a few twice: same result_id).
    in_flight_.clear();
    outbox_sent_through_ = outbox_acked_through_;
    if (!output_->connected()) return;
    output_connects_seen_ = connects;
  }
  try {
    std::int64_t done = 0;
    while (!in_flight_.empty() && in_flight_.front().token->is_complete()) {
      if (in_flight_.front().token->get_return_code() != 0) {
        in_flight_.clear();
        outbox_sent_through_ = done != 0 ? done : outbox_acked_through_;
        break;
      }
      done = in_flight_.front().id;
      in_flight_.pop_front();
    }
    if (done != 0) {
      const std::size_t acked = outbox_->ack(done);
      outbox_acked_through_ = done;
      metrics_.outbox_acked.fetch_add(acked, std::memory_order_relaxed);
      metrics_.published.fetch_add(acked, std::memory_order_relaxed);
    }
    // At most outbox_inflight rows are out without a recorded PUBACK: that is the bound on
    // what a crash makes the next start send again.
    const std::size_t window = config_.outbox_inflight;
    if (in_flight_.size() >= window || outbox_->depth() <= in_flight_.size()) return;
    for (auto& e : outbox_->peek(window - in_flight_.size(), outbox_sent_through_)) {
      auto token = output_->publish_tracked(e.message.topic, e.message.payload, e.message.qos, e.message.retain,
                                            e.message.result_id);
      if (!token) break;
      in_flight_.push_back({e.id, std::move(token)});
      outbox_sent_through_ = e.id;
    }
  } catch (const std::exception& ex) {
    on_storage_error(ex, "outbox");
  }
}

void Pipeline::recover() {
  if (config_.state_db.empty()) {
    spdlog::warn("no state-db: rule state, the input journal and the outbox live in memory only");
    return;
  }
  try {
    state_db_ = std::make_unique<storage::Database>(storage::open_database(config_.state_db));
    journal_db_ = std::make_unique<storage::Database>(storage::open_database(config_.state_db));
    storage::OutboxLimits limits;
    limits.max_rows = config_.outbox_max_messages;
    outbox_ = std::make_unique<storage::Outbox>(*state_db_, limits);
    checkpoints_ = std::make_unique<storage::CheckpointStore>(*state_db_);
    journal_truncator_ = std::make_unique<storage::InputJournal>(*state_db_);
    journal_ = std::make_unique<storage::InputJournal>(*journal_db_);
    worker_journal_db_ = std::make_unique<storage::Database>(storage::open_database(config_.state_db));
    worker_journal_ = std::make_unique<storage::InputJournal>(*worker_journal_db_);
    const auto state = checkpoints_->load();
    if (state) engine_->restore_state(*state);
    const auto progress = checkpoints_->load_progress();
    restored_journal_seq_ = progress.is_object() ? progress.value("journal_seq", std::int64_t{0}) : 0;
    replay_until_seq_ = journal_->last_seq();
    journal_next_seq_ = replay_until_seq_;
    // A full group plus the largest message: stage_journal() never reallocates.
    journal_staged_.reserve(kJournalGroup);
    journal_bytes_.reserve(kJournalGroupBytes + config_.max_payload_bytes + 1024);
    durable_.store(true, std::memory_order_release);
    spdlog::info("state db {}: {}; {} journaled messages after seq {} to replay; {} results in the outbox",
                 config_.state_db, state ? "restored the last checkpoint" : "no checkpoint yet",
                 journal_->size(), restored_journal_seq_, outbox_->depth());
  } catch (const std::exception& ex) {
    worker_journal_.reset();
    worker_journal_db_.reset();
    journal_.reset();
    journal_truncator_.reset();
    checkpoints_.reset();
    outbox_.reset();
    journal_db_.reset();
    state_db_.reset();
    if (config_.state_required) {
      throw std::runtime_error("state database '" + config_.state_db + "' is unusable and state-required = true: " +
                               ex.what());
    }
    on_storage_error(ex, "open");
  }
}

void Pipeline::replay_journal() {
  if (!durable_.load(std::memory_order_acquire)) return;
  std::int64_t after = restored_journal_seq_;
  replaying_ = true;
  try {
    while (after < replay_until_seq_) {
      const auto page = journal_->read_after(after, 1024);
      if (page.empty()) break;
      for (const auto& en : page) {
        if (en.seq > replay_until_seq_) break;
        after = en.seq;
        metrics_.replayed.fetch_add(1, std::memory_order_relaxed);
        try {
          engine_->on_message(en.message.topic, en.message.payload, en.message.received_at, emit_);
        } catch (const std::exception& ex) {
          metrics_.worker_errors.fetch_add(1, std::memory_order_relaxed);
          spdlog::error("engine error replaying '{}': {}", en.message.topic, ex.what());
        }
      }
    }
  } catch (const std::exception& ex) {
    on_storage_error(ex, "journal replay");
  }
  replaying_ = false;
  last_seq_ = after;
  if (metrics_.replayed.load() != 0) {
    spdlog::info("replayed {} journaled messages (through seq {})", metrics_.replayed.load(), after);
  }
}

void Pipeline::on_storage_error(const std::exception& ex, const char* where) {
  metrics_.storage_errors.fetch_add(1, std::memory_order_relaxed);
  durable_.store(false, std::memory_order_release);
  const auto* se = dynamic_cast<const storage::StorageError*>(&ex);
  const char* kind = se != nullptr ? storage::to_string(se->kind()) : "error";
  if (config_.state_required) {
    if (!state_failed_.exchange(true)) {
      spdlog::critical("state database '{}' failed ({}, {}): {}; state-required = true: stopping",
                       config_.state_db, where, kind, ex.what());
      ::kill(::getpid(), SIGTERM);  // main's sigwait runs the orderly stop
    }
    return;
  }
  const std::int64_t t = steady_now_ns();
  std::int64_t last = last_storage_log_ns_.load(std::memory_order_relaxed);
  if (last == 0 || (t - last > kStorageLogIntervalNs && last_storage_log_ns_.compare_exchange_strong(last, t))) {
    last_storage_log_ns_.store(t, std::memory_order_relaxed);
    spdlog::error("STATE NOT DURABLE: state database '{}' failed ({}, {}): {}. Processing continues IN MEMORY: "
                  "no more checkpoints, input journal or outbox until restart; a crash now loses open windows "
                  "and unsent results (set state-required = true to stop instead) [{} storage errors]",
                  config_.state_db, where, kind, ex.what(), metrics_.storage_errors.load());
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
  os << " durable=" << (durable() ? "yes" : "no") << " journaled=" << v(metrics_.journaled)
     << " replayed=" << v(metrics_.replayed) << " checkpoints=" << v(metrics_.checkpoints)
     << " outbox_enqueued=" << v(metrics_.outbox_enqueued) << " outbox_acked=" << v(metrics_.outbox_acked)
     << " outbox_dropped=" << v(metrics_.outbox_dropped)
     << " duplicates_suppressed=" << v(metrics_.duplicates_suppressed)
     << " storage_errors=" << v(metrics_.storage_errors);
  return os.str();
}

}  // namespace streamgate::gateway
