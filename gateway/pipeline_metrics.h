// Counters of the running pipeline: written by the thread that owns each figure (relaxed atomics),
// read by the metrics snapshot, the summary line and the tests. Also the vocabulary the worker, the
// source and the sink share: a result's delivery level and what travels in the egress ring.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include <nlohmann/json.hpp>

#include "rules/engine.h"

namespace streamgate::gateway {

//! Per-rule DELIVERY option (see docs/guarantees.md); the engine's vocabulary.
using rules::Delivery;

//! A rule-state snapshot on its way from the worker to the sink, behind the results the engine
//! emitted before it: the sink saves it once all of those are delivered or stored.
struct PendingCheckpoint {
  nlohmann::json state;
  std::int64_t position = 0;  //!< source position the state includes (journal seq)
};

//! One item of the egress ring: a result to publish, or a checkpoint to save.
struct EgressItem {
  rules::Emission emission;
  Delivery delivery = Delivery::AtMostOnce;
  std::unique_ptr<PendingCheckpoint> checkpoint;
};

struct PipelineMetrics {
  static constexpr std::size_t kStatuses = 9;  //!< number of rules::IngestStatus values
  // Intake (Paho receive thread).
  std::atomic<std::uint64_t> received{0};          //!< messages that reached the receive callback
  std::atomic<std::uint64_t> dropped_ring_full{0};  //!< QoS 0 (or no state db) with the ingress ring full
  std::atomic<std::uint64_t> dropped_too_large{0};   //!< over max-payload-bytes (dead-lettered, head only, when dead-letter-topic is set)
  std::atomic<std::uint64_t> dropped_topic_too_long{0};
  std::atomic<std::uint64_t> dropped_stopping{0};   //!< arrived after intake closed
  std::atomic<std::uint64_t> producer_blocked{0};   //!< block policy: messages left with Paho for later
  std::atomic<std::uint64_t> spilled{0};            //!< ring full: journaled, read back by the worker later
  std::atomic<std::uint64_t> redeliveries_skipped{0};  //!< broker redeliveries of messages already journaled
  // Worker.
  std::atomic<std::uint64_t> processed{0};          //!< handed to the engine
  std::array<std::atomic<std::uint64_t>, kStatuses> by_status{};  //!< indexed by IngestStatus
  std::atomic<std::uint64_t> emissions{0};
  std::atomic<std::uint64_t> dead_letters{0};
  std::atomic<std::uint64_t> worker_errors{0};      //!< exceptions caught in the worker
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> reload_failures{0};
  // Publishing (worker for at-most-once, publisher for the rest).
  std::atomic<std::uint64_t> published{0};
  std::atomic<std::uint64_t> publish_retries{0};   //!< Paho refused (offline buffer full): retried
  std::atomic<std::uint64_t> dropped_egress{0};     //!< results lost at a shutdown deadline
  std::atomic<std::uint64_t> dropped_refused{0};    //!< results the MQTT client can never send (topic too long, …)
  // Durable state.
  std::atomic<std::uint64_t> journaled{0};            //!< input messages appended to the journal
  std::atomic<std::uint64_t> replayed{0};             //!< journal entries replayed at start
  std::atomic<std::uint64_t> checkpoints{0};          //!< checkpoints committed
  std::atomic<std::uint64_t> outbox_enqueued{0};
  std::atomic<std::uint64_t> outbox_acked{0};
  std::atomic<std::uint64_t> outbox_dropped{0};       //!< oldest results dropped by the outbox bound
  std::atomic<std::uint64_t> duplicates_suppressed{0};  //!< exactly-once: ids already published
  std::atomic<std::uint64_t> storage_errors{0};       //!< disk trouble: running in memory
  std::atomic<std::uint64_t> storage_recoveries{0};   //!< the database took writes again after trouble
};

}  // namespace streamgate::gateway
