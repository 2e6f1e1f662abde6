// Pipeline: the wiring of source, worker, publisher and sink; the worker loop; start-up and shut-down.
#include "gateway/pipeline.h"

#include "gateway/clock.h"

#include <pthread.h>

#include <chrono>
#include <sstream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace streamgate::gateway {

namespace {



constexpr int kWorkerBatch = 256;               // messages between two checks of ticks and reloads
constexpr std::size_t kPublisherBatch = 512;    // egress items between two sink pumps
constexpr std::int64_t kErrorLogIntervalNs = 10'000'000'000;  // worker error lines at most every 10 s
constexpr std::int64_t kRemindIntervalNs = 1'000'000'000;

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
      state_(config_, metrics_),
      ingress_(config.ring_capacity, config.max_payload_bytes, kMaxTopicBytes),
      egress_(config.ring_capacity) {
  emit_ = [this](rules::Emission&& e) { push_egress(std::move(e)); };
  state_.open();  // throws when state-required and the database is unusable

  source_ = std::make_unique<MqttSource>(config_, ingress_, wake_, metrics_, state_,
                                         [this](std::string_view topic) { return ops_.is_control(topic); });
  MqttClientOptions in;
  in.name = config_.separate_output ? "input" : "mqtt";
  in.broker = config_.input;
  in.subscriptions = subscriptions_for(config_, *engine_);
  in.on_session = [this](bool present) { source_->on_session(present); };
  in.max_buffered_messages = static_cast<int>(config_.output_buffer);
  if (!config_.separate_output) in.result_id_field = config_.result_id_field;  // results go out here
  if (in.subscriptions.empty()) spdlog::warn("no stream has a TOPIC and no --subscribe given: nothing to receive");
  input_ = std::make_unique<MqttClient>(std::move(in), [this](const InboundMessage& m) {
    return source_->on_message(m);
  });
  source_->attach(*input_);
  if (config_.separate_output) {
    MqttClientOptions out;
    out.name = "output";
    out.broker = config_.output;
    out.result_id_field = config_.result_id_field;
    out.max_buffered_messages = static_cast<int>(config_.output_buffer);
    output_owned_ = std::make_unique<MqttClient>(std::move(out), nullptr);
    output_ = output_owned_.get();
  } else {
    output_ = input_.get();
  }
  sink_ = std::make_unique<MqttSink>(config_, *output_, *source_, state_, metrics_, ops_.durability(), [this] {
    checkpoint_requested_.store(true, std::memory_order_release);
    wake_.ready.notify();
  });
}

Pipeline::~Pipeline() { stop(); }

bool Pipeline::input_connected() const { return source_->connected(); }

void Pipeline::start() {
  if (worker_.joinable()) return;
  refresh_delivery();
  // Restore, then replay, on this thread: the engine is ours alone until the worker starts.
  std::int64_t position = 0;
  try {
    if (state_.lineage_broken_at_start()) {
      // The last run crashed while its state database was failing: its checkpoint and journal do
      // not add up to the state it had (see durable_state.h). Starting empty loses the windows
      // that were open; restoring would re-emit them with partial totals under their usual ids.
      spdlog::error("state db {}: the last run stopped while the database was failing (disk full?); its "
                    "checkpoint and journal are incomplete and are discarded: windows open at that time are "
                    "lost, not re-emitted with partial totals",
                    config_.state_db);
      sink_->discard_lineage();
    } else if (auto cp = sink_->load_checkpoint()) {
      engine_->restore_state(cp->first);
      position = cp->second;
    }
  } catch (const std::exception& ex) {
    if (config_.state_required) throw;
    state_.on_error(ex, "checkpoint restore");
  }
  if (state_.durable()) {
    spdlog::info("state db {}: {}", config_.state_db, position != 0 ? "restored the last checkpoint" : "no checkpoint");
  }
  replaying_ = true;
  const std::int64_t replayed_through = source_->replay_after(position, [this](const SourceMessage& m) {
    try {
      engine_->on_message(m.topic, m.payload, m.received_ns, emit_);
    } catch (const std::exception& ex) {
      metrics_.worker_errors.fetch_add(1, std::memory_order_relaxed);
      log_worker_error("replaying", m.topic, ex.what());
    }
  });
  replaying_ = false;
  if (metrics_.replayed.load() != 0) {
    spdlog::info("replayed {} journaled messages (through seq {})", metrics_.replayed.load(), replayed_through);
  }
  publisher_ = std::thread([this] { publisher_loop(); });
  worker_ = std::thread([this] { worker_loop(); });
  if (output_owned_) output_owned_->start();
  source_->start();
}

// ---- worker -------------------------------------------------------------------------------------

void Pipeline::log_worker_error(std::string_view where, std::string_view topic, const char* what) {
  ++errors_since_log_;
  const std::int64_t t = steady_now_ns();
  if (last_error_log_ns_ != 0 && t - last_error_log_ns_ < kErrorLogIntervalNs) return;
  spdlog::error("engine error {} '{}': {} ({} engine errors since the last line)", where, topic, what,
                errors_since_log_);
  last_error_log_ns_ = t;
  errors_since_log_ = 0;
}

void Pipeline::push_egress(rules::Emission&& e) {
  metrics_.emissions.fetch_add(1, std::memory_order_relaxed);
  ops_.count_out(e);
  EgressItem item;
  // Dead letters and unknown rules: direct publish (at-most-once), they are not results.
  const auto it = delivery_.find(e.rule);
  item.delivery = it == delivery_.end() ? Delivery::AtMostOnce : it->second;
  // Nothing to store first and no acknowledgement to wait for (QoS 0 output has none): straight
  // to Paho (thread-safe, non-blocking) from the worker, one thread hand-off and one wake-up less
  // than through the publisher. While the broker is away Paho buffers them (100,000 at most).
  if (item.delivery == Delivery::AtMostOnce || (item.delivery == Delivery::AtLeastOnce && e.qos == 0)) {
    if (replaying_ && item.delivery == Delivery::AtMostOnce) return;  // may have been sent already
    publish_now(e);
    return;
  }
  item.emission = std::move(e);
  push_egress_item(std::move(item));
}

void Pipeline::publish_now(const rules::Emission& e) {
  sink_->send_now(e, [this] {
    // Waiting for an unreachable broker is not being stuck; waiting on a connected one that does
    // not read for the whole watchdog interval is (the heartbeat stops, systemd restarts us).
    if (!output_->connected()) heartbeat_.beat();
    return !abandon_.load(std::memory_order_acquire);
  });
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
    // Waiting for an unreachable broker is not being stuck; waiting on a connected one for the
    // whole watchdog interval is (the heartbeat stops and systemd restarts the gateway).
    if (!output_->connected()) heartbeat_.beat();
    if (++spins < 64) std::this_thread::yield();
    else std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  // The publisher is woken once per worker pass (worker_loop), not once per result.
  egress_pushed_ = true;
}

rules::Emission dead_letter_emission(const std::string& dead_letter_topic, std::string_view topic,
                                     std::string_view payload, std::string_view reason, std::size_t original_size,
                                     std::int64_t received_ns) {
  nlohmann::json j;
  j["reason"] = reason;
  j["topic"] = topic;
  j["size"] = original_size;
  j["received_at"] = rules::format_rfc3339(received_ns);
  // The payload may be invalid UTF-8: keep it as text with replacement characters.
  j["payload"] = std::string(payload);
  rules::Emission e;
  e.kind = rules::EmissionKind::Result;
  e.rule = "$dead_letter";
  e.topic = dead_letter_topic;
  e.qos = 1;
  e.payload = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return e;
}

void Pipeline::dead_letter(std::string_view topic, std::string_view payload, std::string_view reason,
                           std::size_t original_size) {
  if (config_.dead_letter_topic.empty()) return;
  metrics_.dead_letters.fetch_add(1, std::memory_order_relaxed);
  push_egress(dead_letter_emission(config_.dead_letter_topic, topic, payload, reason, original_size, system_now_ns()));
}

void Pipeline::handle(const MessageSlot& slot) {
  source_->taken(slot);
  if (slot.oversize) {
    dead_letter(slot.topic_view(), slot.payload_view(), "too_large", slot.original_len);
    return;
  }
  if (ops_.is_control(slot.topic_view())) {
    handle_control(slot.payload_view());
    return;
  }
  // The slot has MessageRing::kPayloadPadding spare bytes: simdjson parses it in place.
  static_assert(MessageRing::kPayloadPadding >= rules::kJsonPadding);
  process(slot.topic_view(), slot.payload_view(), slot.received_ns, true, slot.original_len);
}

void Pipeline::handle_spilled(const SourceMessage& m) {
  process(m.topic, m.payload, m.received_ns, false, m.payload.size());
}

void Pipeline::process(std::string_view topic, std::string_view payload, std::int64_t received_ns, bool padded,
                       std::size_t original_len) {
  ops_.count_in(topic, payload, received_ns);
  metrics_.processed.fetch_add(1, std::memory_order_relaxed);
  rules::IngestStatus status;
  try {
    status = engine_->on_message(topic, payload, received_ns, emit_, padded);
  } catch (const std::exception& ex) {
    // A bug, not bad input (bad input gets an ingest status): counted, logged at a rate limit,
    // and the pipeline goes on with the next message.
    metrics_.worker_errors.fetch_add(1, std::memory_order_relaxed);
    log_worker_error("on", topic, ex.what());
    return;
  }
  const auto idx = static_cast<std::size_t>(status);
  if (idx < metrics_.by_status.size()) metrics_.by_status[idx].fetch_add(1, std::memory_order_relaxed);
  if (status != rules::IngestStatus::Ok && status != rules::IngestStatus::NoStream) {
    dead_letter(topic, payload, rules::to_string(status), original_len);
  }
}

void Pipeline::request_reload(std::vector<std::pair<std::string, std::string>> files) {
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    reload_files_ = std::move(files);
  }
  reload_pending_.store(true, std::memory_order_release);
  wake_.ready.notify();
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

std::vector<rules::RuleError> Pipeline::apply_reload(const std::vector<std::pair<std::string, std::string>>& files) {
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

void Pipeline::refresh_delivery() {
  delivery_.clear();
  for (const auto& r : engine_->rules()) delivery_[r.name] = r.delivery;
}

void Pipeline::take_checkpoint() {
  // The source first makes everything taken so far durable; the position it returns is what the
  // snapshot includes.
  const std::int64_t position = source_->sync();
  if (!state_.durable()) return;
  auto cp = std::make_unique<PendingCheckpoint>();
  try {
    cp->state = engine_->save_state();
  } catch (const std::exception& ex) {
    metrics_.worker_errors.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("checkpoint: engine state could not be saved: {}", ex.what());
    return;
  }
  cp->position = position;
  EgressItem item;
  item.checkpoint = std::move(cp);
  push_egress_item(std::move(item));
}

void Pipeline::worker_loop() {
  using namespace std::chrono;
  pthread_setname_np(pthread_self(), "sg-worker");  // per-thread CPU in top, perf, bench/e2e.sh
  const std::int64_t tick_ns = duration_cast<nanoseconds>(config_.tick_interval).count();
  std::int64_t next_tick = steady_now_ns() + tick_ns;
  const std::int64_t checkpoint_ns = duration_cast<nanoseconds>(config_.checkpoint_interval).count();
  std::int64_t next_checkpoint = steady_now_ns() + checkpoint_ns;
  std::int64_t next_remind = steady_now_ns() + kRemindIntervalNs;
  const std::int64_t batch_delay_ns = duration_cast<nanoseconds>(config_.batch_delay).count();
  const SourceMessageFn spilled = [this](const SourceMessage& m) { handle_spilled(m); };
  bool busy = false;  // the last pass found messages: nap rather than park
  while (true) {
    heartbeat_.beat();
    int n = 0;
    while (n < kWorkerBatch && ingress_.try_pop_with([this](const MessageSlot& s) { handle(s); })) ++n;
    // Input that bypassed the full ring comes back in order once the ring is empty.
    if (n == 0 && source_->spill_pending()) n += static_cast<int>(source_->take_spilled(spilled, kWorkerBatch));

    const std::int64_t now = steady_now_ns();
    if (now >= next_tick) {
      try {
        engine_->on_tick(system_now_ns(), emit_);
      } catch (const std::exception& ex) {
        metrics_.worker_errors.fetch_add(1, std::memory_order_relaxed);
        log_worker_error("on tick for", "", ex.what());
      }
      next_tick = now + tick_ns;
    }
    if (ops_.metrics_on()) publish_metrics(now);
    ops_.serve_requests(*engine_, [this](const ControlHandler::Files& f) { return apply_reload(f); });
    if (now >= next_checkpoint || checkpoint_requested_.exchange(false, std::memory_order_acq_rel)) {
      take_checkpoint();
      next_checkpoint = now + checkpoint_ns;
    }
    if (now >= next_remind) {
      state_.remind();
      next_remind = now + kRemindIntervalNs;
    }
    if (reload_pending_.exchange(false, std::memory_order_acq_rel)) {
      try {
        apply_pending_reload();
      } catch (const std::exception& ex) {
        metrics_.reload_failures.fetch_add(1, std::memory_order_relaxed);
        spdlog::error("reload failed: {}", ex.what());
      }
    }
    const std::int64_t sync_due = source_->sync_due_ns();
    if (sync_due != 0 && now >= sync_due) source_->sync();
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
        // the next start resume them. Spilled input not read yet stays in the journal after it.
        take_checkpoint();
        egress_ready_.notify();
        break;
      }
      continue;
    }
    // Idle. After a busy pass the worker naps for batch-delay: what arrives meanwhile waits for
    // the end of the nap (unless WorkerWake::kBacklog messages pile up) and is handled as one
    // batch, so a steady stream costs one wake-up per nap, not one futex wake per message. A nap
    // that finds nothing parks the worker until the next message (woken at once), the next tick
    // or the journal's deadline.
    const bool nap = busy && batch_delay_ns > 0;
    busy = false;
    std::int64_t wake_at = std::min(next_tick, next_remind);
    if (sync_due != 0) wake_at = std::min(wake_at, sync_due);
    if (nap) wake_at = std::min(wake_at, now + batch_delay_ns);
    wake_.napping.store(nap, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the flag before the ring check
    const std::uint32_t key = wake_.ready.prepare_wait();
    if ((nap ? ingress_.size() >= WorkerWake::kBacklog : !ingress_.empty()) || source_->spill_pending() ||
        worker_stop_.load() || reload_pending_.load() || checkpoint_requested_.load()) {
      wake_.ready.cancel_wait();
      wake_.napping.store(false, std::memory_order_relaxed);
      continue;
    }
    heartbeat_.idle.store(true, std::memory_order_relaxed);  // waiting for input: not stuck
    wake_.ready.wait(key, nanoseconds(std::max<std::int64_t>(wake_at - steady_now_ns(), 1)));
    heartbeat_.idle.store(false, std::memory_order_relaxed);
    wake_.napping.store(false, std::memory_order_relaxed);
  }
}

// ---- publisher ----------------------------------------------------------------------------------

void Pipeline::publisher_loop() {
  pthread_setname_np(pthread_self(), "sg-publisher");
  EgressItem item;
  while (true) {
    std::size_t n = 0;
    while (n < kPublisherBatch && egress_.try_pop(item)) {
      ++n;
      if (item.checkpoint) {
        sink_->checkpoint(std::move(item.checkpoint));
      } else {
        sink_->send(std::move(item.emission), item.delivery);
      }
    }
    if (abandon_.load(std::memory_order_acquire)) sink_->abandon();
    const bool busy = sink_->pump();
    if (n != 0) continue;
    if (publisher_stop_.load(std::memory_order_acquire) && egress_.empty()) {
      // Results still waiting stay on disk for the next start; try until the deadline.
      if (sink_->drained() || abandon_.load(std::memory_order_acquire) || !sink_->can_progress()) break;
    }
    const std::uint32_t key = egress_ready_.prepare_wait();
    if (!egress_.empty()) {
      egress_ready_.cancel_wait();
      continue;
    }
    egress_ready_.wait(key, busy ? std::chrono::milliseconds(1) : std::chrono::milliseconds(200));
  }
  sink_->finish();
}

// ---- shut-down ----------------------------------------------------------------------------------

void Pipeline::stop() {
  if (!worker_.joinable()) return;
  const auto deadline = std::chrono::steady_clock::now() + config_.shutdown_timeout;
  // 1. Stop intake. A separate input connection is closed first so nothing more is acknowledged
  //    and then dropped; on a shared connection the source journals (QoS >= 1) or drops what
  //    still arrives.
  if (output_owned_) source_->stop(std::chrono::milliseconds(1000));
  source_->close_intake();
  // 2. Drain the ingress ring through the engine.
  worker_stop_.store(true, std::memory_order_release);
  wake_.ready.notify();
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
  // 3. Drain the egress ring to the sink.
  publisher_stop_.store(true, std::memory_order_release);
  egress_ready_.notify();
  publisher_.join();
  drained.store(true);
  abandoner.join();
  // 4. Let Paho deliver what it holds, then disconnect.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  output_->stop(std::max(left, std::chrono::milliseconds(100)));
  spdlog::info("stopped: {}", metrics_summary());
}

std::string Pipeline::metrics_summary() const {
  auto v = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::ostringstream os;
  os << "received=" << v(metrics_.received) << " processed=" << v(metrics_.processed)
     << " emitted=" << v(metrics_.emissions) << " published=" << v(metrics_.published)
     << " dropped_ring_full=" << v(metrics_.dropped_ring_full) << " dropped_too_large=" << v(metrics_.dropped_too_large)
     << " spilled=" << v(metrics_.spilled) << " redeliveries_skipped=" << v(metrics_.redeliveries_skipped)
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
