// CheckpointStore: durable snapshots of the engine's rule state (Engine::save_state()) and of
// the gateway's input-side progress, one row per rule, written in one transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>

#include "storage/database.h"

namespace streamgate::storage {

//! What one save() did; cheap to log at debug level.
struct CheckpointSaveStats {
  std::size_t entries = 0;    //!< rows the snapshot maps to
  std::size_t written = 0;    //!< rows whose state changed and were rewritten
  std::size_t unchanged = 0;  //!< rows skipped because their encoded state was identical
  std::size_t removed = 0;    //!< rows of rules no longer in the snapshot
  std::size_t bytes = 0;      //!< encoded size of the whole snapshot
};

//! The last checkpoint's bookkeeping (checkpoint_info table).
struct CheckpointInfo {
  std::int64_t saved_at = 0;  //!< ns since the epoch, `now` of the last save()
  std::int64_t sequence = 0;  //!< number of save() calls that committed in this file
  std::int64_t entries = 0;
  std::int64_t bytes = 0;
};

//! Row layout: when the snapshot is a JSON object, each top-level key (the engine keys it by
//! rule) is one row, so an idle rule costs no write and a removed rule's row is deleted. Any
//! other JSON value is stored as a single "whole" row. load() rebuilds the exact same document.
//! From each per-rule object the store also copies, for inspection only, "rule"/"name",
//! "text_hash"/"hash" and an integer "watermark" into their own columns.
//!
//! Ordering for exactly-once: save a snapshot only after every emission the engine produced
//! before taking it is in the outbox (e.g. pass the snapshot through the egress ring and let
//! the publisher call Outbox::enqueue, then save). A crash in between then leaves an older
//! checkpoint whose replay re-emits ids the outbox already holds, never a state whose results
//! were lost.
//!
//! Not thread-safe: one CheckpointStore per connection, used by one thread.
class CheckpointStore {
 public:
  //! `db` must be migrated (open_database) and outlive the store.
  explicit CheckpointStore(Database& db);

  //! Replaces the stored checkpoint with `state` in one transaction, and upserts each top-level
  //! key of `progress` (an object, or null for none) in the same transaction so rule state and
  //! input progress never disagree after a crash. Rows whose encoded state did not change
  //! since the last save/load through this store are not rewritten. Throws StorageError.
  CheckpointSaveStats save(const nlohmann::json& state, const nlohmann::json& progress = nullptr,
                           std::int64_t now_ns = wall_clock_ns());

  //! The last saved state, merged back into one document for Engine::restore_state; nullopt
  //! when no checkpoint was ever saved. A row that cannot be decoded throws
  //! StorageError{Corrupt} naming the row.
  std::optional<nlohmann::json> load();

  //! Every progress key saved so far, as one object ({} when none).
  nlohmann::json load_progress();

  //! Bookkeeping of the last save; nullopt when none.
  std::optional<CheckpointInfo> info();

  //! Forgets all rule state and progress (e.g. `--fresh-state`).
  void clear();

 private:
  Database& db_;
  // Fingerprint (hash, size) of the blob each row holds, as last written or read by this store:
  // lets save() skip rewriting rules whose state did not move since the previous checkpoint.
  struct Fingerprint {
    std::size_t hash = 0;
    std::size_t size = 0;
    bool operator==(const Fingerprint&) const = default;
  };
  std::unordered_map<std::string, Fingerprint> known_;
};

}  // namespace streamgate::storage
