// Outbox: store-and-forward of results and alerts. Every result is written here before it goes
// to the broker, drains in insertion order, and once delivered leaves its result_id behind in
// published_ids so a re-emission after a restart is suppressed (exactly-once results).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rules/vocabulary.h"
#include "storage/database.h"

namespace streamgate::storage {

//! One message to publish.
struct OutboxMessage {
  std::string result_id;  //!< deterministic id, carried to consumers; empty = none
  std::string topic;
  int qos = 0;
  bool retain = false;
  std::string payload;
  //! true (exactly-once): result_id is suppressed when already queued or published.
  //! false (at-least-once): result_id is only carried along; repeats are queued again.
  bool dedup = true;

  //! Moves the publishable parts out of an engine emission.
  static OutboxMessage from_emission(rules::Emission&& emission);
};

//! A queued message with its position in the queue.
struct OutboxEntry {
  std::int64_t id = 0;  //!< increasing in insertion order, never reused; pass to ack()
  OutboxMessage message;
  std::int64_t enqueued_at = 0;  //!< ns since the epoch
};

//! Size bound of the queue; 0 means no bound on that axis. When either is exceeded after an
//! enqueue, the oldest rows are dropped (counted, never silently).
struct OutboxLimits {
  std::size_t max_rows = 1'000'000;
  std::uint64_t max_bytes = 256u * 1024 * 1024;  //!< topic + payload bytes
};

//! What one enqueue() did. The caller logs `dropped` (a loud line: data was lost).
struct EnqueueResult {
  std::size_t enqueued = 0;    //!< new rows
  std::size_t duplicates = 0;  //!< result_id already queued or already published: ignored
  std::size_t dropped = 0;     //!< oldest rows deleted to respect the size bound
};

//! Single owner: the publisher thread creates one Outbox on its own connection. depth() and
//! bytes() are kept in memory (initialised from the file) so the bound costs no table scan;
//! a second Outbox writing the same file would make them drift.
class Outbox {
 public:
  //! `db` must be migrated (open_database) and outlive the outbox.
  explicit Outbox(Database& db, OutboxLimits limits = {});

  //! Appends a batch in one transaction. A `dedup` message whose result_id is already queued or
  //! in published_ids is skipped (INSERT OR IGNORE + a published_ids check), then the oldest rows
  //! are dropped while the queue is over its limits. Throws StorageError (nothing was written).
  EnqueueResult enqueue(std::span<const OutboxMessage> batch,
                        std::int64_t now_ns = wall_clock_ns());

  //! Up to `max` oldest messages with id > `after_id`, in insertion order. Passing the last
  //! id seen lets a publisher keep several messages in flight before acking.
  std::vector<OutboxEntry> peek(std::size_t max, std::int64_t after_id = 0);

  //! Marks every message with id <= `up_to_id` delivered: deletes them and records the
  //! result_ids of the `dedup` ones in published_ids, in one transaction. Returns the number of
  //! rows removed.
  std::size_t ack(std::int64_t up_to_id, std::int64_t now_ns = wall_clock_ns());

  //! True when `result_id` was delivered (and not yet pruned from the dedup horizon).
  bool already_published(std::string_view result_id);

  //! Records ids delivered without going through the queue (e.g. an at-most-once rule
  //! published directly), so later re-emissions are suppressed too. One transaction.
  void record_published(std::span<const std::string> result_ids,
                        std::int64_t now_ns = wall_clock_ns());

  //! Bounds the dedup horizon: deletes published ids recorded before `older_than_ns`, then the
  //! oldest beyond `keep_at_most`. Returns the number deleted. Call it now and then (e.g. once
  //! a minute), not per message.
  std::size_t prune_published(std::int64_t older_than_ns,
                              std::size_t keep_at_most = std::numeric_limits<std::size_t>::max());

  std::size_t depth() const noexcept { return depth_; }    //!< queued messages
  std::uint64_t bytes() const noexcept { return bytes_; }  //!< queued topic + payload bytes
  //! Messages dropped by the size bound over the file's whole life (persisted).
  std::uint64_t dropped_total() const noexcept { return dropped_total_; }
  //! Rows in published_ids (a COUNT: for metrics, not for hot paths).
  std::size_t published_count();

  const OutboxLimits& limits() const noexcept { return limits_; }
  //! New bound, applied at the next enqueue (config reload).
  void set_limits(OutboxLimits limits) noexcept { limits_ = limits; }

 private:
  // Deletes oldest rows while over the limits; returns (rows, bytes) deleted. In a transaction.
  std::pair<std::size_t, std::uint64_t> trim(std::size_t depth, std::uint64_t bytes);

  Database& db_;
  OutboxLimits limits_;
  std::size_t depth_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t dropped_total_ = 0;
};

}  // namespace streamgate::storage
