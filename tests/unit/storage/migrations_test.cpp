// Schema migrations: fresh files, idempotent re-opens, newer files refused, failed steps undone.
#include "storage/migrations.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "temp_dir.h"

namespace streamgate::storage {
namespace {

using testing::TempDir;

bool has_table(Database& db, const std::string& name) {
  auto q = db.cached("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1");
  q->bind(1, name);
  return q->step() && q->column_int64(0) == 1;
}

TEST(Migrations, FreshFileReachesLatestVersion) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  EXPECT_EQ(schema_version(db), latest_schema_version());
  EXPECT_GE(latest_schema_version(), 1);
  for (const char* table : {"rule_state", "checkpoint_info", "progress", "outbox", "published_ids",
                            "input_journal", "counters"}) {
    EXPECT_TRUE(has_table(db, table)) << table;
  }
}

TEST(Migrations, ReopenIsIdempotentAndKeepsData) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  {
    Database db = open_database(path);
    db.exec("INSERT INTO counters(name, value) VALUES ('kept', 42)");
  }
  for (int i = 0; i < 3; ++i) {
    Database db = open_database(path);
    EXPECT_EQ(schema_version(db), latest_schema_version());
    EXPECT_EQ(db.query_int64("SELECT value FROM counters WHERE name = 'kept'"), 42);
    EXPECT_EQ(migrate(db, schema_migrations()), latest_schema_version());
  }
}

TEST(Migrations, VersionOneFileIsUpgradedKeepingQueuedResults) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  {
    Database db(path);
    EXPECT_EQ(migrate(db, schema_migrations().first(1)), 1);
    db.exec("INSERT INTO outbox(result_id, topic, qos, retain, payload, bytes, enqueued_at) "
            "VALUES ('r1', 't', 1, 0, '{}', 3, 5)");
  }
  Database db = open_database(path);
  EXPECT_EQ(schema_version(db), latest_schema_version());
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM outbox WHERE result_id = 'r1' AND carried_id IS NULL"), 1);
}

TEST(Migrations, NewerFileIsRefusedAndLeftUntouched) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  const int newer = latest_schema_version() + 1;
  {
    Database db = open_database(path);
    db.exec("PRAGMA user_version = " + std::to_string(newer));
  }
  try {
    open_database(path);
    FAIL() << "newer schema accepted";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::SchemaTooNew);
    EXPECT_FALSE(e.disk_trouble());
    EXPECT_NE(std::string(e.what()).find("newer streamgate"), std::string::npos) << e.what();
  }
  OpenOptions ro;
  ro.read_only = true;
  EXPECT_THROW(open_database(path, ro), StorageError);
  Database db(path);
  EXPECT_EQ(schema_version(db), newer);
}

TEST(Migrations, StepsApplyInOrderAndOnlyOnce) {
  TempDir dir;
  Database db(dir.file("a.db"));
  std::vector<int> ran;
  const std::vector<Migration> steps = {
      {1, "create", "CREATE TABLE log(step INTEGER)", [&](Database&) { ran.push_back(1); }},
      {2, "insert", "INSERT INTO log VALUES (2)", [&](Database&) { ran.push_back(2); }},
  };
  EXPECT_EQ(migrate(db, std::span(steps).first(1)), 1);
  EXPECT_EQ(migrate(db, steps), 2);
  EXPECT_EQ(migrate(db, steps), 2);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM log"), 1);
}

TEST(Migrations, FailedStepRollsBackAndKeepsVersion) {
  TempDir dir;
  Database db(dir.file("a.db"));
  const std::vector<Migration> steps = {
      {1, "good", "CREATE TABLE a(x INTEGER)", nullptr},
      {2, "bad", "CREATE TABLE b(x INTEGER); INSERT INTO nowhere VALUES (1);", nullptr},
  };
  try {
    migrate(db, steps);
    FAIL() << "bad step succeeded";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("migration 2 (bad)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(schema_version(db), 1);
  EXPECT_TRUE(has_table(db, "a"));
  EXPECT_FALSE(has_table(db, "b"));  // the half-applied step left nothing behind
}

TEST(Migrations, GapsInTheListAreRejected) {
  TempDir dir;
  Database db(dir.file("a.db"));
  const std::vector<Migration> steps = {{1, "one", "SELECT 1", nullptr},
                                        {3, "three", "SELECT 1", nullptr}};
  EXPECT_THROW(migrate(db, steps), StorageError);
  EXPECT_EQ(schema_version(db), 0);  // checked before any step ran
}

TEST(Migrations, ReadOnlyOpenOfAnUnmigratedFileIsRefused) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  { Database db(path); }
  OpenOptions ro;
  ro.read_only = true;
  try {
    open_database(path, ro);
    FAIL() << "read-only open of an unmigrated file accepted";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::ReadOnly) << e.what();
  }
}

// A 0-byte state file is damage (truncated, a failed copy), not a new database: SQLite would
// take it as empty and the gateway would start from nothing without a word.
TEST(Migrations, EmptyExistingFileIsRefusedByName) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  { std::ofstream touch(path); }
  try {
    open_database(path);
    FAIL() << "a 0-byte file was opened as a new database";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::Corrupt);
    EXPECT_TRUE(e.disk_trouble());
    EXPECT_EQ(std::string(e.what()).rfind(path + ": open: the file is empty (0 bytes)", 0), 0u) << e.what();
  }
  EXPECT_EQ(std::filesystem::file_size(path), 0u);  // left as it was
}

// The gateway opens several connections to a new file while the first still holds it: the
// file may still be short while its pages sit in the write-ahead log.
TEST(Migrations, NewFileOpenedAgainWhileTheFirstConnectionIsOpen) {
  TempDir dir;
  const std::string path = dir.file("state.db");
  Database a = open_database(path);
  Database b = open_database(path);
  Database c = open_database(path);
  EXPECT_EQ(schema_version(c), latest_schema_version());
}

TEST(Migrations, TwoConnectionsMigratingTheSameFileBothSucceed) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  Database a(path);
  Database b(path);
  EXPECT_EQ(migrate(a, schema_migrations()), latest_schema_version());
  EXPECT_EQ(migrate(b, schema_migrations()), latest_schema_version());
}

}  // namespace
}  // namespace streamgate::storage
