// Migrations: streamgate's schema history and the code that applies it.
#include "storage/migrations.h"

#include <filesystem>
#include <string>
#include <system_error>

namespace streamgate::storage {
namespace {

// Version 1: checkpoints of rule state, input-side progress, the outbox, published ids and the
// input journal.
// Times are int64 nanoseconds since the Unix epoch (UTC), like everywhere in streamgate.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE rule_state (
  state_key  TEXT PRIMARY KEY,           -- top-level key of Engine::save_state()
  rule       TEXT NOT NULL,              -- rule name, for people inspecting the file
  text_hash  TEXT NOT NULL DEFAULT '',   -- hash of the rule text the state belongs to
  encoding   TEXT NOT NULL,              -- 'cbor' (keeps NaN/Inf and arbitrary bytes)
  state      BLOB NOT NULL,
  watermark  INTEGER,                    -- the state's watermark when it has one
  updated_at INTEGER NOT NULL,           -- when this row's state last changed
  whole      INTEGER NOT NULL DEFAULT 0  -- 1: the row holds the whole save_state() document
);
CREATE TABLE checkpoint_info (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  saved_at INTEGER NOT NULL,
  sequence INTEGER NOT NULL,  -- number of checkpoints written to this file
  entries  INTEGER NOT NULL,
  bytes    INTEGER NOT NULL
);
CREATE TABLE progress (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,  -- JSON
  updated_at INTEGER NOT NULL
);
-- AUTOINCREMENT: ids never come back after the outbox drains, so "acked up to id N" can
-- never match a newer row.
CREATE TABLE outbox (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  result_id   TEXT UNIQUE,  -- NULL for results without a deterministic id
  topic       TEXT NOT NULL,
  qos         INTEGER NOT NULL,
  retain      INTEGER NOT NULL,
  payload     BLOB NOT NULL,
  bytes       INTEGER NOT NULL,  -- topic + payload, what the size bound counts
  enqueued_at INTEGER NOT NULL
);
CREATE TABLE published_ids (
  seq          INTEGER PRIMARY KEY,  -- publication order, for pruning the oldest first
  result_id    TEXT NOT NULL UNIQUE,
  published_at INTEGER NOT NULL
);
CREATE INDEX published_ids_by_time ON published_ids(published_at);
-- Input messages accepted from the broker but not yet covered by a checkpoint: replayed after a
-- crash, truncated once a checkpoint includes them. AUTOINCREMENT: a checkpoint refers to a seq,
-- which must never name a newer message after truncation.
CREATE TABLE input_journal (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  topic       TEXT NOT NULL,
  payload     BLOB NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
)sql";

// Version 2: at-least-once results carry their deterministic id to consumers too (MQTT 5 user
// property, optional payload field) without taking part in the outbox's dedup, so it lives
// outside the UNIQUE result_id column.
constexpr const char* kSchemaV2 = R"sql(
ALTER TABLE outbox ADD COLUMN carried_id TEXT;  -- id sent along, never deduplicated
)sql";

// Version 3: the last QoS >= 1 message seen under each MQTT packet id (content digest and arrival
// number), so a broker's redelivery of a message already journaled is recognised after a crash.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE mqtt_deliveries (
  packet_id INTEGER PRIMARY KEY,
  digest    INTEGER NOT NULL,
  arrival   INTEGER NOT NULL
);
)sql";

const Migration kMigrations[] = {
    {1, "checkpoints, progress, outbox, published ids, input journal", kSchemaV1, nullptr},
    {2, "outbox: carried ids of at-least-once results", kSchemaV2, nullptr},
    {3, "MQTT packet ids of journaled messages (redelivery recognition)", kSchemaV3, nullptr},
};

}  // namespace

std::span<const Migration> schema_migrations() {
  return kMigrations;
}

int latest_schema_version() {
  return schema_migrations().back().version;
}

int schema_version(Database& db) {
  return static_cast<int>(db.query_int64("PRAGMA user_version"));
}

int migrate(Database& db, std::span<const Migration> steps) {
  const int latest = steps.empty() ? 0 : steps.back().version;
  int current = schema_version(db);
  if (current > latest) {
    throw StorageError(StorageErrorKind::SchemaTooNew, db.path(),
                       "schema version " + std::to_string(current) +
                           " was written by a newer streamgate; this build knows up to " +
                           std::to_string(latest) + " (refusing to touch it)");
  }
  // Check the whole list before touching the file: a bad list is a bug, not half a migration.
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].version != static_cast<int>(i) + 1) {
      throw StorageError(StorageErrorKind::Generic, db.path(),
                         "migration list is not numbered 1..N at step " + std::to_string(i));
    }
  }
  for (const Migration& step : steps) {
    if (step.version <= current) continue;
    Transaction tx(db);
    // Another connection may have migrated while we waited for the write lock.
    current = schema_version(db);
    if (step.version <= current) continue;
    try {
      if (step.sql != nullptr) db.exec(step.sql);
      if (step.apply) step.apply(db);
      // user_version lives in the file header, which is written inside this transaction: the
      // step and its version number land together or not at all.
      db.exec("PRAGMA user_version = " + std::to_string(step.version));
    } catch (const StorageError& e) {
      throw StorageError(e.kind(), db.path(),
                         "migration " + std::to_string(step.version) + " (" + step.description +
                             "): " + e.detail(),
                         e.sqlite_code());
    }
    tx.commit();
    current = step.version;
  }
  return current;
}

namespace {

// SQLite takes an empty file for a new database. A state file that exists with 0 bytes (and no
// write-ahead log holding its pages) is not new: it was truncated, or a copy or restore went
// wrong. Taking it as new would start from empty state without a word, so refuse it by name.
void refuse_empty_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return;  // missing (created below), ":memory:", a device
  const auto size = fs::file_size(path, ec);
  if (ec || size != 0) return;
  const auto wal_size = fs::file_size(path + "-wal", ec);
  if (!ec && wal_size != 0) return;  // its pages are still in the log: another connection's new file
  throw StorageError(StorageErrorKind::Corrupt, path,
                     "open: the file is empty (0 bytes), so it holds no streamgate state; it was "
                     "truncated or badly copied. Restore it from a backup, or delete it to start "
                     "with empty state");
}

}  // namespace

Database open_database(const std::string& path, const OpenOptions& options) {
  refuse_empty_file(path);
  Database db(path, options);
  if (options.read_only) {
    const int version = schema_version(db);
    if (version > latest_schema_version()) {
      throw StorageError(
          StorageErrorKind::SchemaTooNew, path,
          "schema version " + std::to_string(version) + " was written by a newer streamgate");
    }
    if (version < latest_schema_version()) {
      throw StorageError(StorageErrorKind::ReadOnly, path,
                         "schema version " + std::to_string(version) +
                             " needs migrating, which a read-only open cannot do");
    }
    return db;
  }
  migrate(db, schema_migrations());
  return db;
}

}  // namespace streamgate::storage
