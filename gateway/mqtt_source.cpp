// MqttSource: Paho callback -> ingress ring, the input journal, spill and read-back, redeliveries.
#include "gateway/mqtt_source.h"

#include "gateway/clock.h"

#include <chrono>
#include <limits>

#include <spdlog/spdlog.h>

#include "storage/database.h"

namespace streamgate::gateway {

namespace {



// QoS 0 input is journaled by the worker in groups: one transaction per 10 ms, 1,024 messages or
// 1 MiB, whichever comes first, instead of one per message on the receive thread.
constexpr std::int64_t kJournalDelayNs = 10'000'000;
constexpr std::size_t kJournalGroup = 1024;
constexpr std::size_t kJournalGroupBytes = 1 << 20;
constexpr std::size_t kReplayPage = 1024;
constexpr std::size_t kSpillPage = 256;

}  // namespace

MqttSource::MqttSource(const Config& config, MessageRing& ring, WorkerWake& wake, PipelineMetrics& metrics,
                       DurableState& state, IsControlFn is_control)
    : config_(config),
      ring_(ring),
      wake_(wake),
      metrics_(metrics),
      state_(state),
      is_control_(std::move(is_control)),
      // A clean session is discarded by the broker at every disconnect: nothing is redelivered.
      track_redeliveries_(!config.input.clean_session) {
  if (!state_.enabled()) return;
  journal_ = std::make_unique<storage::InputJournal>(state_.receive_db());
  deliveries_ = std::make_unique<storage::DeliveryLog>(state_.receive_db());
  worker_journal_ = std::make_unique<storage::InputJournal>(state_.worker_db());
  truncator_ = std::make_unique<storage::InputJournal>(state_.publisher_db());
  next_seq_ = journal_->last_seq();
  // A full group plus the largest message: stage() never reallocates.
  staged_.reserve(kJournalGroup);
  staged_bytes_.reserve(kJournalGroupBytes + config_.max_payload_bytes + kMaxTopicBytes);
}

MqttSource::~MqttSource() = default;

// ---- receive thread ----------------------------------------------------------------------------

bool MqttSource::journal_now(std::string_view topic, std::string_view payload, std::int64_t received_ns,
                             const InboundMessage& m, std::int64_t seq) {
  try {
    storage::Transaction tx(state_.receive_db());
    journal_->append_at(seq, topic, payload, received_ns);
    if (track_redeliveries_ && m.qos > 0 && m.packet_id > 0) {
      deliveries_->record(m.packet_id, storage::DeliveryLog::digest(topic, payload));
    }
    tx.commit();
    metrics_.journaled.fetch_add(1, std::memory_order_relaxed);
    return true;
  } catch (const std::exception& ex) {
    state_.on_error(ex, "input journal");
    return false;
  }
}

void MqttSource::wake_worker() {
  // A napping worker comes back within batch-delay by itself: wake it only for a backlog. The
  // fence orders the push before the flag check (pairs with the fence in the worker loop).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (!wake_.napping.load(std::memory_order_relaxed) || ring_.size() >= WorkerWake::kBacklog) wake_.ready.notify();
}

void MqttSource::log_ring_full() {
  if (drop_log_.due()) {
    spdlog::warn("ingress ring full: dropping newest messages ({} dropped so far; ring-full-policy = {})",
                 metrics_.dropped_ring_full.load(std::memory_order_relaxed), to_string(config_.ring_full_policy));
  }
}

void MqttSource::on_session(bool session_present) {
  if (session_present || !track_redeliveries_ || deliveries_ == nullptr || !state_.durable()) return;
  try {
    deliveries_->forget_all();
  } catch (const std::exception& ex) {
    state_.on_error(ex, "delivery log");
  }
}

// Paho's receive thread: copy into the ring (or the journal) and return. No lock, no waiting for
// another thread: a full ring is handled by ring-full-policy.
bool MqttSource::on_message(const InboundMessage& m) {
  metrics_.received.fetch_add(1, std::memory_order_relaxed);
  if (m.topic.size() > kMaxTopicBytes) {
    metrics_.dropped_topic_too_long.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  const std::int64_t now = system_now_ns();
  const bool control = is_control_ && is_control_(m.topic);
  const bool oversize = m.payload.size() > config_.max_payload_bytes;
  // Control requests are never journaled (replaying them would repeat them); oversize payloads are
  // rejected anyway.
  const bool durable = journal_ != nullptr && state_.durable() && !control && !oversize;
  if (durable && track_redeliveries_ && m.qos > 0 && m.dup &&
      deliveries_->is_redelivery(m.packet_id, storage::DeliveryLog::digest(m.topic, m.payload))) {
    // The broker did not see our PUBACK (a crash or a lost connection) and sent the message again:
    // it is already journaled, so it has been (or will be) counted once.
    metrics_.redeliveries_skipped.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (!intake_open_.load(std::memory_order_acquire)) {
    // Stopping: acknowledged QoS >= 1 input is journaled for the next start; the rest is dropped.
    if (durable && m.qos > 0 && journal_now(m.topic, m.payload, now, m, next_seq_ + 1)) ++next_seq_;
    metrics_.dropped_stopping.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  const bool keep_head = !config_.dead_letter_topic.empty();
  if (oversize && !keep_head) {
    metrics_.dropped_too_large.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  const bool full = ring_.full();
  if (durable && config_.ring_full_policy == RingFullPolicy::Spill && (spilling_ || full)) {
    const std::int64_t seq = next_seq_ + 1;
    if (journal_now(m.topic, m.payload, now, m, seq)) {
      next_seq_ = seq;
      if (spilling_ && !full && worker_position_.load(std::memory_order_acquire) == seq - 1) {
        // The worker has read every spilled row: back to the ring (it never sees `seq` twice:
        // spill_tail_ stays below it).
        spilling_ = false;
        ring_.try_push(m.topic, m.payload, now, m.qos, m.retained, keep_head, seq, false);
        wake_worker();
        return true;
      }
      if (!spilling_) {
        spilling_ = true;
        spill_head_.store(seq, std::memory_order_relaxed);
      }
      spill_tail_.store(seq, std::memory_order_release);
      metrics_.spilled.fetch_add(1, std::memory_order_relaxed);
      wake_.ready.notify();
      return true;
    }
    // The journal failed (now in memory): handled below like any message without a state db.
  }
  std::int64_t seq = 0;
  bool pending = false;
  if (full) {
    if (config_.ring_full_policy == RingFullPolicy::Block ||
        (config_.ring_full_policy == RingFullPolicy::Spill && m.qos > 0)) {
      // Paho keeps the message and offers it again on a later cycle: nothing is lost and this
      // thread never waits for the worker (which may itself be waiting for Paho).
      metrics_.producer_blocked.fetch_add(1, std::memory_order_relaxed);
      wake_.ready.notify();
      return false;
    }
    metrics_.dropped_ring_full.fetch_add(1, std::memory_order_relaxed);
    log_ring_full();
    return true;
  }
  if (durable && state_.durable()) {
    seq = next_seq_ + 1;
    if (m.qos == 0) {
      // Nothing acknowledges a QoS 0 message: the worker journals it with its group.
      pending = true;
      next_seq_ = seq;
    } else if (journal_now(m.topic, m.payload, now, m, seq)) {
      // Journaled before the callback returns: a crash from here on cannot lose it.
      next_seq_ = seq;
    } else {
      seq = 0;
    }
  }
  if (ring_.try_push(m.topic, m.payload, now, m.qos, m.retained, keep_head, seq, pending) == PushResult::Oversize) {
    metrics_.dropped_too_large.fetch_add(1, std::memory_order_relaxed);  // queued as a head for the dead letter
  }
  wake_worker();
  return true;
}

// ---- main thread ------------------------------------------------------------------------------

std::int64_t MqttSource::replay_after(std::int64_t position, const SourceMessageFn& handle) {
  std::int64_t after = position;
  if (worker_journal_ != nullptr && state_.durable()) {
    const std::int64_t until = next_seq_;
    try {
      while (after < until) {
        const auto page = worker_journal_->read_after(after, kReplayPage);
        if (page.empty()) break;
        for (const auto& e : page) {
          if (e.seq > until) break;
          after = e.seq;
          metrics_.replayed.fetch_add(1, std::memory_order_relaxed);
          handle({e.message.topic, e.message.payload, e.message.received_at, e.seq});
        }
        if (page.back().seq > until) break;
      }
    } catch (const std::exception& ex) {
      state_.on_error(ex, "journal replay");
    }
    if (next_seq_ < after) next_seq_ = after;
  }
  position_ = after;
  worker_position_.store(after, std::memory_order_release);
  return after;
}

void MqttSource::start() {
  intake_open_.store(true, std::memory_order_release);
  if (client_ != nullptr) client_->start();
}

void MqttSource::close_intake() { intake_open_.store(false, std::memory_order_release); }

void MqttSource::stop(std::chrono::milliseconds timeout) {
  if (client_ != nullptr) client_->stop(timeout);
}

// ---- worker thread ----------------------------------------------------------------------------

void MqttSource::taken(const MessageSlot& slot) {
  if (slot.journal_seq > position_) position_ = slot.journal_seq;
  if (slot.journal_pending) stage(slot);
  worker_position_.store(position_, std::memory_order_release);
}

void MqttSource::stage(const MessageSlot& slot) {
  if (worker_journal_ == nullptr || !state_.durable()) return;
  const std::size_t size = slot.topic_len + slot.payload_len;
  if (staged_.size() >= kJournalGroup || staged_bytes_.size() + size > kJournalGroupBytes) flush_staged();
  if (staged_.empty()) staged_since_ns_ = steady_now_ns();
  staged_.push_back({slot.journal_seq, slot.received_ns, staged_bytes_.size(), slot.topic_len, slot.payload_len});
  staged_bytes_.append(slot.topic, slot.topic_len);
  staged_bytes_.append(slot.payload, slot.payload_len);
}

void MqttSource::flush_staged() {
  if (staged_.empty()) return;
  if (state_.durable()) {
    try {
      storage::Transaction tx(state_.worker_db());
      for (const StagedMessage& m : staged_) {
        const std::string_view bytes(staged_bytes_.data() + m.offset, m.topic_len + m.payload_len);
        worker_journal_->append_at(m.seq, bytes.substr(0, m.topic_len), bytes.substr(m.topic_len), m.received_at);
      }
      tx.commit();
      metrics_.journaled.fetch_add(staged_.size(), std::memory_order_relaxed);
    } catch (const std::exception& ex) {
      state_.on_error(ex, "input journal");
    }
  }
  staged_.clear();
  staged_bytes_.clear();
}

bool MqttSource::spill_pending() const { return spill_tail_.load(std::memory_order_acquire) > position_; }

std::size_t MqttSource::take_spilled(const SourceMessageFn& handle, std::size_t max) {
  const std::int64_t tail = spill_tail_.load(std::memory_order_acquire);
  if (tail <= position_ || worker_journal_ == nullptr) return 0;
  // Everything that went through the ring before the spill comes first.
  if (position_ + 1 < spill_head_.load(std::memory_order_relaxed)) return 0;
  std::size_t n = 0;
  try {
    const auto page = worker_journal_->read_after(position_, std::min(max, kSpillPage));
    for (const auto& e : page) {
      if (e.seq > tail) break;
      handle({e.message.topic, e.message.payload, e.message.received_at, e.seq});
      position_ = e.seq;
      worker_position_.store(position_, std::memory_order_release);
      ++n;
    }
    if (page.empty()) {
      // Rows that were journaled cannot be missing unless the journal was discarded after disk
      // trouble: skip them rather than wait forever.
      metrics_.dropped_ring_full.fetch_add(static_cast<std::uint64_t>(tail - position_), std::memory_order_relaxed);
      position_ = tail;
      worker_position_.store(position_, std::memory_order_release);
    }
  } catch (const std::exception& ex) {
    state_.on_error(ex, "spilled input");
    metrics_.dropped_ring_full.fetch_add(static_cast<std::uint64_t>(tail - position_), std::memory_order_relaxed);
    spdlog::error("spilled input {}..{} could not be read back from the journal: counted as dropped", position_ + 1,
                  tail);
    position_ = tail;
    worker_position_.store(position_, std::memory_order_release);
  }
  return n;
}

std::int64_t MqttSource::sync() {
  flush_staged();
  return position_;
}

std::int64_t MqttSource::sync_due_ns() const { return staged_.empty() ? 0 : staged_since_ns_ + kJournalDelayNs; }

// ---- publisher thread -------------------------------------------------------------------------

void MqttSource::covered(std::int64_t position) {
  if (truncator_ == nullptr || position <= 0 || !state_.durable()) return;
  try {
    truncator_->truncate_through(position);
  } catch (const std::exception& ex) {
    state_.on_error(ex, "input journal");
  }
}

void MqttSource::discard_journal() {
  if (truncator_ != nullptr) truncator_->truncate_through(std::numeric_limits<std::int64_t>::max());
}

}  // namespace streamgate::gateway
