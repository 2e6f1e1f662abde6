// MqttSink: results to Paho (tracked, in a bounded window), the outbox when they cannot go out at
// once, checkpoints once the results before them are safe.
#include "gateway/mqtt_sink.h"

#include "gateway/clock.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

namespace streamgate::gateway {

namespace {



constexpr std::size_t kOutboxBatch = 512;                   // rows per outbox transaction
constexpr std::int64_t kProbeIntervalNs = 5'000'000'000;    // degraded: try the database every 5 s
constexpr std::int64_t kPruneIntervalNs = 60'000'000'000;   // published ids: prune once a minute
constexpr std::int64_t kPublishedIdsHorizonNs = 7LL * 24 * 3600 * 1'000'000'000;
constexpr std::size_t kPublishedIdsMax = 1'000'000;
constexpr int kMaxAttempts = 5;                             // a result refused this often is dropped
constexpr std::int64_t kDropLogIntervalNs = 10'000'000'000;

}  // namespace

MqttSink::MqttSink(const Config& config, MqttClient& output, MqttSource& source, DurableState& state,
                   PipelineMetrics& metrics, DurabilityGauges& gauges, std::function<void()> request_checkpoint)
    : config_(config),
      output_(output),
      source_(source),
      state_(state),
      metrics_(metrics),
      gauges_(gauges),
      request_checkpoint_(std::move(request_checkpoint)),
      inflight_(std::make_unique<InFlight[]>(std::max<std::size_t>(config.outbox_inflight, 1))),
      capacity_(std::max<std::size_t>(config.outbox_inflight, 1)) {
  if (state_.enabled()) {
    storage::OutboxLimits limits;
    limits.max_rows = config_.outbox_max_messages;
    outbox_ = std::make_unique<storage::Outbox>(state_.publisher_db(), limits);
    checkpoints_ = std::make_unique<storage::CheckpointStore>(state_.publisher_db());
    gauges_.outbox_depth.store(static_cast<std::int64_t>(outbox_->depth()), std::memory_order_relaxed);
    batch_.reserve(kOutboxBatch);
  }
}

MqttSink::~MqttSink() = default;

std::optional<std::pair<nlohmann::json, std::int64_t>> MqttSink::load_checkpoint() {
  if (checkpoints_ == nullptr || !state_.durable()) return std::nullopt;
  auto state = checkpoints_->load();
  if (!state) return std::nullopt;
  const auto progress = checkpoints_->load_progress();
  const std::int64_t position = progress.is_object() ? progress.value("journal_seq", std::int64_t{0}) : 0;
  return std::make_pair(std::move(*state), position);
}

void MqttSink::discard_lineage() {
  if (checkpoints_ == nullptr) return;
  storage::Transaction tx(state_.publisher_db());
  checkpoints_->clear();
  source_.discard_journal();
  tx.commit();
}

// ---- worker: at-most-once ----------------------------------------------------------------------

bool MqttSink::send_now(const rules::Emission& e, const std::function<bool()>& keep_waiting) {
  int tries = 0;
  while (true) {
    switch (output_.publish(e.topic, e.payload, e.qos, e.retain, e.result_id)) {
      case PublishResult::Sent:
        metrics_.published.fetch_add(1, std::memory_order_relaxed);
        return true;
      case PublishResult::Refused:
        drop_refused(e.rule, e.topic);
        return false;
      case PublishResult::Full:
        break;
    }
    // The broker has been away (or not reading) for output-buffer results: keep this one, retry.
    metrics_.publish_retries.fetch_add(1, std::memory_order_relaxed);
    if (full_log_.due()) {
      spdlog::warn("output buffer full ({} results held for {}): results wait, input backs up into the ingress "
                   "ring", config_.output_buffer, output_.url());
    }
    if (!keep_waiting()) {
      metrics_.dropped_egress.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(++tries < 10 ? 1 : 50));
  }
}

// ---- publisher ----------------------------------------------------------------------------------

PublishResult MqttSink::publish_tracked(InFlight& f, const std::string& topic, const std::string& payload, int qos,
                                        bool retain, const std::string& result_id) {
  return output_.publish(topic, payload, qos, retain, result_id, &f.slot);
}

void MqttSink::drop_refused(const std::string& rule, const std::string& topic) {
  metrics_.dropped_refused.fetch_add(1, std::memory_order_relaxed);
  if (refused_log_.due()) {
    spdlog::error("result of rule '{}' to '{}' refused by the MQTT client (topic longer than {} bytes or not valid "
                  "for MQTT): dropped; counted in streamgate_drops_total{{reason=\"refused_by_client\"}}",
                  rule.empty() ? "(from the outbox)" : rule, topic.substr(0, 200), kMaxTopicBytes);
  }
}

void MqttSink::to_outbox(rules::Emission&& e, bool dedup) {
  auto m = storage::OutboxMessage::from_emission(std::move(e));
  // At-least-once: the id is carried to consumers but not checked, so a re-emission after a
  // crash is sent again (no published_ids lookup or row per result).
  m.dedup = dedup;
  batch_.push_back(std::move(m));
  if (batch_.size() >= kOutboxBatch) flush_outbox_batch();
}

void MqttSink::flush_outbox_batch() {
  if (batch_.empty()) return;
  if (state_.durable()) {
    try {
      const auto r = outbox_->enqueue(batch_);
      metrics_.outbox_enqueued.fetch_add(r.enqueued, std::memory_order_relaxed);
      metrics_.duplicates_suppressed.fetch_add(r.duplicates, std::memory_order_relaxed);
      if (r.dropped != 0) {
        metrics_.outbox_dropped.fetch_add(r.dropped, std::memory_order_relaxed);
        const std::int64_t t = steady_now_ns();
        if (last_drop_log_ns_ == 0 || t - last_drop_log_ns_ > kDropLogIntervalNs) {
          last_drop_log_ns_ = t;
          spdlog::warn("outbox full ({} messages): dropped the oldest results ({} dropped so far)",
                       config_.outbox_max_messages, metrics_.outbox_dropped.load(std::memory_order_relaxed));
        }
      }
      gauges_.outbox_depth.store(static_cast<std::int64_t>(outbox_->depth()), std::memory_order_relaxed);
      batch_.clear();
      return;
    } catch (const std::exception& ex) {
      state_.on_error(ex, "outbox");
    }
  }
  // In memory (the state db just failed): hand the results to Paho's offline buffer.
  for (const auto& m : batch_) {
    rules::Emission e;
    e.topic = m.topic;
    e.payload = m.payload;
    e.qos = m.qos;
    e.retain = m.retain;
    e.result_id = m.result_id;
    send_now(e, [this] { return !abandoned_; });
  }
  batch_.clear();
}

void MqttSink::send(rules::Emission&& e, Delivery delivery) {
  const std::uint64_t seq = ++next_seq_;
  if (!state_.durable()) {
    send_now(e, [this] { return !abandoned_; });
    return;
  }
  if (delivery == Delivery::ExactlyOnce) {
    to_outbox(std::move(e), true);
    return;
  }
  check_connection();
  // Straight out when nothing older waits on disk: the outbox would only add a write and a delete.
  if (output_ready() && batch_.empty() && outbox_->depth() == 0 && count_ < capacity_) {
    InFlight& f = at(count_);
    f.emission = std::move(e);
    f.seq = seq;
    f.direct = true;
    f.outbox_id = 0;
    f.attempts = 0;
    f.refused = false;
    switch (publish_tracked(f, f.emission.topic, f.emission.payload, f.emission.qos, f.emission.retain,
                            f.emission.result_id)) {
      case PublishResult::Sent:
        ++count_;
        return;
      case PublishResult::Refused:  // never sendable: the outbox would only block what follows it
        drop_refused(f.emission.rule, f.emission.topic);
        return;
      case PublishResult::Full:
        break;
    }
    e = std::move(f.emission);
  }
  to_outbox(std::move(e), false);
}

void MqttSink::move_direct_to_outbox() {
  // Results in flight without a PUBACK, in order, onto disk: they become safe for the checkpoint
  // and are resent from the outbox once the output is back. Outbox rows in flight are forgotten
  // and re-peeked from the oldest unacknowledged one (a consumer may see a few twice, same id).
  // The window never mixes the two kinds: direct sends need an empty outbox.
  for (std::size_t i = 0; i < count_; ++i) {
    InFlight& f = at(i);
    if (f.direct) to_outbox(std::move(f.emission), false);
  }
  flush_outbox_batch();
  head_ = (head_ + count_) % capacity_;
  count_ = 0;
  outbox_in_flight_ = 0;
  outbox_sent_through_ = outbox_acked_through_;
}

void MqttSink::check_connection() {
  if (!output_.connected()) {
    if (count_ != outbox_in_flight_) move_direct_to_outbox();
    return;
  }
  // Every entry in flight was published on the connection seen here: a new one means their
  // PUBACKs may never come.
  const std::uint64_t connects = output_.stats().connects.load(std::memory_order_relaxed);
  if (connects != connects_seen_) {
    connects_seen_ = connects;
    collect_acks();
    move_direct_to_outbox();  // PUBACKs of what is still in flight may never come
  }
}

bool MqttSink::output_ready() const {
  // A connection that came up after check_connection() last looked is not used until the next
  // check has taken it up: that check forgets whatever is in flight and resends it from the outbox,
  // so a result sent on it before the check would go out twice more (once now, once resent), beyond
  // the outbox-inflight bound. Paho counts the connect before it reports connected (release).
  return output_.connected() && output_.stats().connects.load(std::memory_order_relaxed) == connects_seen_;
}

void MqttSink::collect_acks() {
  std::int64_t acked_outbox = 0;
  while (count_ > 0) {
    InFlight& f = at(0);
    const int outcome = f.refused ? DeliverySlot::Failed : f.slot.outcome();
    if (outcome == DeliverySlot::Pending) break;
    if (f.refused) {
      drop_refused(f.emission.rule, f.emission.topic);
    } else if (outcome == DeliverySlot::Failed) {
      // Refused (e.g. an MQTT 5 PUBACK with an error reason): try again a few times, then drop it
      // loudly rather than block every later result.
      if (++f.attempts < kMaxAttempts && output_ready()) {
        const bool again = f.direct && publish_tracked(f, f.emission.topic, f.emission.payload, f.emission.qos,
                                                       f.emission.retain, f.emission.result_id) == PublishResult::Sent;
        if (again) break;
        if (!f.direct) {  // outbox row: resend from the outbox
          move_direct_to_outbox();
          return;
        }
      }
      metrics_.dropped_egress.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("result to '{}' refused by the output broker {} times: dropped", f.emission.topic, f.attempts);
    } else if (f.direct) {
      metrics_.published.fetch_add(1, std::memory_order_relaxed);
    }
    if (!f.direct) {
      acked_outbox = f.outbox_id;
      --outbox_in_flight_;
    }
    head_ = (head_ + 1) % capacity_;
    --count_;
  }
  if (acked_outbox != 0) {
    try {
      const std::size_t acked = outbox_->ack(acked_outbox);
      outbox_acked_through_ = acked_outbox;
      metrics_.outbox_acked.fetch_add(acked, std::memory_order_relaxed);
      metrics_.published.fetch_add(acked, std::memory_order_relaxed);
    } catch (const std::exception& ex) {
      state_.on_error(ex, "outbox");
    }
  }
}

void MqttSink::pump_outbox() {
  if (!output_ready() || count_ >= capacity_ || outbox_->depth() <= outbox_in_flight_) return;
  try {
    for (auto& e : outbox_->peek(capacity_ - count_, outbox_sent_through_)) {
      InFlight& f = at(count_);
      f.direct = false;
      f.outbox_id = e.id;
      f.seq = 0;
      f.attempts = 0;
      f.emission.topic = std::move(e.message.topic);  // kept for the error lines only
      f.emission.rule.clear();                        // an outbox row does not keep its rule's name
      const PublishResult r = publish_tracked(f, f.emission.topic, e.message.payload, e.message.qos,
                                              e.message.retain, e.message.result_id);
      if (r == PublishResult::Full) break;
      // A row the client can never send takes its place in the window as done-and-dropped, so it is
      // acknowledged in order and does not block the rows behind it.
      f.refused = r == PublishResult::Refused;
      ++count_;
      ++outbox_in_flight_;
      outbox_sent_through_ = e.id;
    }
  } catch (const std::exception& ex) {
    state_.on_error(ex, "outbox");
  }
}

void MqttSink::checkpoint(std::unique_ptr<PendingCheckpoint> cp) {
  if (!state_.durable()) return;
  flush_outbox_batch();  // results before the checkpoint that went to the outbox are on disk now
  // A newer checkpoint replaces one still waiting: it includes more and follows more results.
  pending_checkpoint_ = std::move(cp);
  pending_checkpoint_after_ = next_seq_;
  maybe_save_checkpoint();
}

void MqttSink::maybe_save_checkpoint() {
  if (!pending_checkpoint_) return;
  if (!state_.durable()) {
    pending_checkpoint_.reset();
    return;
  }
  // Every direct result emitted before the checkpoint must be acknowledged first: until then the
  // input that produced it must stay in the journal.
  for (std::size_t i = 0; i < count_; ++i) {
    const InFlight& f = at(i);
    if (f.direct && f.seq <= pending_checkpoint_after_) return;
  }
  const std::int64_t started = steady_now_ns();
  try {
    const auto stats =
        checkpoints_->save(pending_checkpoint_->state, nlohmann::json{{"journal_seq", pending_checkpoint_->position}});
    const std::int64_t took = steady_now_ns() - started;
    metrics_.checkpoints.fetch_add(1, std::memory_order_relaxed);
    gauges_.checkpoints.fetch_add(1, std::memory_order_relaxed);
    gauges_.last_checkpoint_duration_ns.store(took, std::memory_order_relaxed);
    gauges_.last_checkpoint_unix_ns.store(system_now_ns(), std::memory_order_relaxed);
    // Only after the checkpoint committed: it now covers these journal entries.
    source_.covered(pending_checkpoint_->position);
    spdlog::debug("checkpoint: {} rules ({} written, {} bytes), position {}, {} ms", stats.entries, stats.written,
                  stats.bytes, pending_checkpoint_->position, took / 1'000'000);
    if (recovering_) {
      recovering_ = false;
      state_.lineage_restored();
    }
    const std::int64_t now = system_now_ns();
    if (now - last_prune_ns_ > kPruneIntervalNs) {
      last_prune_ns_ = now;
      outbox_->prune_published(now - kPublishedIdsHorizonNs, kPublishedIdsMax);
    }
  } catch (const std::exception& ex) {
    gauges_.checkpoint_failures.fetch_add(1, std::memory_order_relaxed);
    state_.on_error(ex, "checkpoint");
  }
  pending_checkpoint_.reset();
}

void MqttSink::probe_state() {
  const std::int64_t now = steady_now_ns();
  if (now < next_probe_ns_) return;
  next_probe_ns_ = now + kProbeIntervalNs;
  if (!state_.probe([this] {
        checkpoints_->clear();
        source_.discard_journal();
      })) {
    return;
  }
  // The database takes writes again and the broken lineage is gone: journal from now on, and
  // have the worker take a checkpoint of what it holds (it includes everything processed).
  state_.set_durable_again();
  recovering_ = true;
  outbox_acked_through_ = outbox_sent_through_ = 0;
  count_ = outbox_in_flight_ = 0;
  request_checkpoint_();
}

bool MqttSink::pump() {
  if (outbox_ == nullptr) return false;  // no state db: nothing is tracked
  if (!state_.durable()) {
    probe_state();
    return false;
  }
  check_connection();
  collect_acks();
  flush_outbox_batch();
  pump_outbox();
  maybe_save_checkpoint();
  gauges_.outbox_depth.store(static_cast<std::int64_t>(outbox_->depth()), std::memory_order_relaxed);
  return count_ != 0 || pending_checkpoint_ != nullptr || (output_.connected() && outbox_->depth() != 0);
}

bool MqttSink::drained() const {
  if (outbox_ == nullptr || !state_.durable()) return true;
  return count_ == 0 && batch_.empty() && outbox_->depth() == 0 && pending_checkpoint_ == nullptr;
}

void MqttSink::finish() {
  if (outbox_ == nullptr || !state_.durable()) return;
  collect_acks();
  move_direct_to_outbox();  // unacknowledged results wait on disk for the next start
  flush_outbox_batch();
  maybe_save_checkpoint();
}

}  // namespace streamgate::gateway
