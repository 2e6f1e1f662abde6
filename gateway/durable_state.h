// The state database as the pipeline's threads share it: one SQLite connection per thread that
// writes (receive thread: journal of QoS >= 1 input; worker: journal groups of QoS 0 input and
// spilled input; publisher: checkpoints, outbox, truncation), one flag saying whether the state is
// durable right now, and the one place disk trouble is handled.
//
// Degraded mode (disk full, read-only, I/O errors): processing goes on in memory, the error is
// logged every 5 s (`STATE NOT DURABLE`) and counted, and every 5 s the publisher probes the
// database. When a probe succeeds, the old lineage (checkpoint + a journal with a hole in it) is
// discarded, the journal restarts, and the worker's next checkpoint makes the state durable again.
// A marker file next to the database (space allocated at start, so it can be written on a full
// disk) records that the lineage is broken, so a crash while degraded does not restore a checkpoint
// and replay a journal with a hole (which would re-emit windows with partial totals under their
// usual ids): the next start begins with empty state instead, and says so.
//
// Threads: durable() is read by all; on_error() may be called from any thread; open(), the
// connections' creation and the marker belong to the main thread before the pipeline starts; probe()
// and the recovery steps run on the publisher.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>

#include "gateway/config.h"
#include "storage/database.h"

namespace streamgate::gateway {

struct PipelineMetrics;

class DurableState {
 public:
  DurableState(const Config& config, PipelineMetrics& metrics);
  ~DurableState();
  DurableState(const DurableState&) = delete;
  DurableState& operator=(const DurableState&) = delete;

  //! Main thread, before the threads start: opens the connections. False without a state-db (or
  //! when it is unusable and state-required is off: then degraded from the start). Throws when
  //! state-required is set and the database cannot be used.
  bool open();
  //! True when the last run ended with the lineage broken (see above): start from empty state.
  bool lineage_broken_at_start() const { return lineage_broken_at_start_; }

  bool enabled() const { return receive_db_ != nullptr; }
  bool durable() const { return durable_.load(std::memory_order_acquire); }
  bool failed() const { return failed_.load(std::memory_order_acquire); }

  //! Disk trouble seen by any thread: switch to memory (or stop with state-required).
  void on_error(const std::exception& ex, const char* where);
  //! Worker, about once a second: repeats the STATE NOT DURABLE line every 5 s while degraded.
  void remind();

  //! Publisher, while degraded, at most every 5 s: runs `reset` (which discards the broken
  //! lineage: checkpoint and journal; outbox rows stay) in one transaction; true when it committed,
  //! i.e. the database takes writes again. The caller then calls set_durable_again() and gets a
  //! fresh checkpoint saved before lineage_restored().
  bool probe(const std::function<void()>& reset);
  //! Publisher: the fresh checkpoint is saved; the marker says the lineage is whole again.
  void lineage_restored();
  //! Publisher: from now on the journal is written again (before the fresh checkpoint is taken).
  void set_durable_again();

  storage::Database& receive_db() { return *receive_db_; }
  storage::Database& worker_db() { return *worker_db_; }
  storage::Database& publisher_db() { return *publisher_db_; }
  const std::string& path() const { return config_.state_db; }

 private:
  void write_marker(bool broken);

  const Config& config_;
  PipelineMetrics& metrics_;
  std::unique_ptr<storage::Database> receive_db_;
  std::unique_ptr<storage::Database> worker_db_;
  std::unique_ptr<storage::Database> publisher_db_;
  std::atomic<bool> durable_{false};
  std::atomic<bool> failed_{false};
  std::atomic<std::int64_t> last_log_ns_{0};
  std::atomic<std::int64_t> degraded_since_ns_{0};
  std::atomic<const char*> last_where_{""};  //!< static strings only: safe to read from any thread
  std::atomic<int> last_kind_{0};           //!< storage::StorageErrorKind of the last error
  int marker_fd_ = -1;
  bool lineage_broken_at_start_ = false;
};

}  // namespace streamgate::gateway
