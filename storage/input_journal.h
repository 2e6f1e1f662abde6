// InputJournal: input messages made durable before the broker is told they arrived, so a crash
// between two checkpoints loses none of them: restart = restore the checkpoint, replay the
// journal after the checkpoint's seq, carry on. Duplicate results the replay re-emits are
// suppressed by the outbox's published ids.
//
// Protocol (the gateway owns the threads and the order):
//   1. on arrival: append() the message (its seq is returned);
//   2. at a checkpoint: CheckpointStore::save(state, {{"journal_seq", last seq the state
//      includes}}), and only after it committed, truncate_through(that seq);
//   3. on start: restore the checkpoint, then replay read_after(journal_seq, n) in pages.
// Paho acknowledges a QoS 1 message when its arrival callback returns; appending inside the
// callback is what makes "acknowledged" imply "durable". It costs one small transaction per
// message (or per batch, if the gateway batches before acknowledging).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/database.h"

namespace streamgate::storage {

//! One message as it arrived.
struct InputMessage {
  std::string topic;
  std::string payload;
  std::int64_t received_at = 0;  //!< processing time (ns since the epoch) the engine was given
};

//! A journaled message and its position.
struct JournalEntry {
  std::int64_t seq = 0;  //!< increasing in arrival order, never reused
  InputMessage message;
};

//! Not thread-safe: one InputJournal per connection, used by one thread.
class InputJournal {
 public:
  //! `db` must be migrated (open_database) and outlive the journal.
  explicit InputJournal(Database& db);

  //! Appends one message in its own transaction; returns its seq.
  std::int64_t append(std::string_view topic, std::string_view payload, std::int64_t received_at);
  //! Appends a batch in one transaction; returns the seq of the last one (last_seq() if empty).
  std::int64_t append(std::span<const InputMessage> batch);
  //! Appends one message under a seq the caller assigned (above last_seq(), increasing): lets
  //! two threads with their own connections journal in arrival order. No transaction of its
  //! own: alone it autocommits; wrap a group in a Transaction to commit it once.
  void append_at(std::int64_t seq, std::string_view topic, std::string_view payload, std::int64_t received_at);

  //! Up to `max` entries with seq > `after_seq`, in arrival order.
  std::vector<JournalEntry> read_after(std::int64_t after_seq, std::size_t max);

  //! Deletes entries with seq <= `seq` (a checkpoint now covers them). Returns how many.
  std::size_t truncate_through(std::int64_t seq);

  //! The highest seq ever handed out (0 when none), even if truncated since.
  std::int64_t last_seq();
  //! Entries currently held (a COUNT: for metrics).
  std::size_t size();

 private:
  Database& db_;
};

}  // namespace streamgate::storage
