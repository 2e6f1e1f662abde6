// CheckpointStore: round trips of engine-shaped state through a real file, row bookkeeping.
#include "storage/checkpoint_store.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "storage/migrations.h"
#include "temp_dir.h"

namespace streamgate::storage {
namespace {

using nlohmann::json;
using testing::cpu_seconds;
using testing::TempDir;

// Shaped like Engine::save_state(): one object per rule, keyed by name, carrying its text hash.
json engine_like_state() {
  return json{
      {"avg_temp",
       {{"text_hash", "9f2c"},
        {"watermark", 1'700'000'000'123'456'789},
        {"windows", json::array({{{"start", 1'700'000'000'000'000'000},
                                  {"key", "dev-1"},
                                  {"sum", 41.5},
                                  {"count", 3}}})}}},
      {"door_alerts", {{"text_hash", "77aa"}, {"open", json::array({"door-3"})}}},
      {"dedup", {{"text_hash", "01"}, {"seen", json::array({"e1", "e2", "e3"})}}},
  };
}

TEST(CheckpointStore, NothingSavedLoadsNullopt) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  EXPECT_FALSE(store.load().has_value());
  EXPECT_FALSE(store.info().has_value());
  EXPECT_EQ(store.load_progress(), json::object());
}

TEST(CheckpointStore, RoundTripThroughAReopenedFile) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  const json state = engine_like_state();
  {
    Database db = open_database(path);
    CheckpointStore store(db);
    const CheckpointSaveStats stats = store.save(state, nullptr, 1000);
    EXPECT_EQ(stats.entries, 3u);
    EXPECT_EQ(stats.written, 3u);
    EXPECT_GT(stats.bytes, 0u);
  }
  Database db = open_database(path);
  CheckpointStore store(db);
  const auto loaded = store.load();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(*loaded, state);
  const auto info = store.info();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->saved_at, 1000);
  EXPECT_EQ(info->sequence, 1);
  EXPECT_EQ(info->entries, 3);

  // The per-rule columns are filled for people inspecting the file with sqlite3.
  auto row = db.cached(
      "SELECT rule, text_hash, watermark, whole FROM rule_state "
      "WHERE state_key = 'avg_temp'");
  ASSERT_TRUE(row->step());
  EXPECT_EQ(row->column_text(0), "avg_temp");
  EXPECT_EQ(row->column_text(1), "9f2c");
  EXPECT_EQ(row->column_int64(2), 1'700'000'000'123'456'789);
  EXPECT_EQ(row->column_int64(3), 0);
}

TEST(CheckpointStore, UnchangedRulesAreNotRewrittenAndRemovedRulesGo) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  json state = engine_like_state();
  store.save(state, nullptr, 1);

  state["avg_temp"]["windows"][0]["count"] = 4;
  state.erase("door_alerts");
  const CheckpointSaveStats stats = store.save(state, nullptr, 2);
  EXPECT_EQ(stats.entries, 2u);
  EXPECT_EQ(stats.written, 1u);
  EXPECT_EQ(stats.unchanged, 1u);
  EXPECT_EQ(stats.removed, 1u);
  EXPECT_EQ(db.query_int64("SELECT updated_at FROM rule_state WHERE state_key = 'dedup'"), 1);
  EXPECT_EQ(db.query_int64("SELECT updated_at FROM rule_state WHERE state_key = 'avg_temp'"), 2);
  EXPECT_EQ(store.info()->sequence, 2);

  CheckpointStore fresh(db);  // a new store (after restart) knows nothing: load, then skip
  EXPECT_EQ(*fresh.load(), state);
  EXPECT_EQ(fresh.save(state, nullptr, 3).unchanged, 2u);
}

TEST(CheckpointStore, RowsClearedBehindTheStoresBackAreRewritten) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  Database db = open_database(path);
  CheckpointStore store(db);
  const json state = engine_like_state();
  store.save(state);
  Database other = open_database(path);
  CheckpointStore(other).clear();
  EXPECT_EQ(store.save(state).written, 3u);
  EXPECT_EQ(*store.load(), state);
}

TEST(CheckpointStore, NonObjectStateIsOneWholeRowAndLayoutsSwitchCleanly) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  const json as_array = json::array({1, "two", {{"three", 3}}});
  store.save(as_array);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM rule_state WHERE whole = 1"), 1);
  EXPECT_EQ(*store.load(), as_array);

  const json as_object = engine_like_state();
  store.save(as_object);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM rule_state WHERE whole = 1"), 0);
  EXPECT_EQ(*store.load(), as_object);

  store.save(json(nullptr));
  EXPECT_EQ(*store.load(), json(nullptr));
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM rule_state"), 1);

  store.save(json::object());  // every rule removed: an empty checkpoint, not "none"
  ASSERT_TRUE(store.load().has_value());
  EXPECT_EQ(*store.load(), json::object());
}

TEST(CheckpointStore, KeepsValuesJsonTextWouldLose) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  json state = {{"r",
                 {{"nan", std::numeric_limits<double>::quiet_NaN()},
                  {"inf", std::numeric_limits<double>::infinity()},
                  {"min", std::numeric_limits<std::int64_t>::min()},
                  {"u64", std::numeric_limits<std::uint64_t>::max()},
                  {"third", 1.0 / 3.0},
                  {"utf8", "température ✓"}}}};
  store.save(state);
  const json back = *store.load();
  EXPECT_TRUE(std::isnan(back["r"]["nan"].get<double>()));
  EXPECT_EQ(back["r"]["inf"].get<double>(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(back["r"]["min"].get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(back["r"]["u64"].get<std::uint64_t>(), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(back["r"]["third"].get<double>(), 1.0 / 3.0);
  EXPECT_EQ(back["r"]["utf8"], "température ✓");
}

TEST(CheckpointStore, LargeStateRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  // ~200k open windows over 50 rules: tens of MB of state, well past SQLite's page size.
  json state = json::object();
  for (int r = 0; r < 50; ++r) {
    json windows = json::array();
    for (int w = 0; w < 4000; ++w) {
      windows.push_back({{"key", "device-" + std::to_string(w)},
                         {"start", 1'700'000'000'000'000'000 + w},
                         {"sum", w * 0.5},
                         {"count", w}});
    }
    state["rule_" + std::to_string(r)] = {{"text_hash", std::to_string(r)},
                                          {"windows", std::move(windows)}};
  }
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t bytes = 0;
  {
    Database db = open_database(path);
    bytes = CheckpointStore(db).save(state).bytes;
  }
  const auto t1 = std::chrono::steady_clock::now();
  const double c1 = cpu_seconds();
  Database db = open_database(path);
  const json back = *CheckpointStore(db).load();
  const auto t2 = std::chrono::steady_clock::now();
  const double c2 = cpu_seconds();
  EXPECT_EQ(back, state);
  using ms = std::chrono::duration<double, std::milli>;
  std::printf(
      "[ measure  ] checkpoint of %zu bytes (CBOR, 50 rules, 200k windows): save %.1f ms "
      "wall / %.1f ms CPU, load %.1f ms wall / %.1f ms CPU\n",
      bytes, ms(t1 - t0).count(), (c1 - c0) * 1e3, ms(t2 - t1).count(), (c2 - c1) * 1e3);
}

TEST(CheckpointStore, ProgressIsSavedWithTheStateAndMerged) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  store.save(engine_like_state(), {{"messages_in", 120}, {"last_event_ns", 55}});
  store.save(engine_like_state(), {{"messages_in", 130}});
  EXPECT_EQ(store.load_progress(), (json{{"last_event_ns", 55}, {"messages_in", 130}}));
}

TEST(CheckpointStore, FailedSaveLeavesThePreviousCheckpoint) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  const json before = engine_like_state();
  store.save(before, nullptr, 1);

  json big = before;
  big["avg_temp"]["padding"] = std::string(2 * 1024 * 1024, 'x');
  db.exec("PRAGMA max_page_count = " + std::to_string(db.query_int64("PRAGMA page_count") + 4));
  try {
    store.save(big, nullptr, 2);
    FAIL() << "save past max_page_count succeeded";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::Full) << e.what();
  }
  db.exec("PRAGMA max_page_count = 1073741823");
  EXPECT_EQ(*store.load(), before);
  EXPECT_EQ(store.info()->saved_at, 1);
  // The failure must not make the store believe `big` was written.
  EXPECT_EQ(store.save(big, nullptr, 3).written, 1u);
  EXPECT_EQ(*store.load(), big);
}

TEST(CheckpointStore, UndecodableRowIsCorruptAndNamed) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  store.save(engine_like_state());
  db.exec("UPDATE rule_state SET state = x'ff' WHERE state_key = 'dedup'");
  try {
    store.load();
    FAIL() << "garbage row decoded";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::Corrupt);
    EXPECT_NE(std::string(e.what()).find("dedup"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.file("a.db")), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("is damaged: its CBOR state (1 byte) holds an invalid byte"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find("json.exception"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(db.in_transaction());
}

// A row cut short (a torn copy of the file) says so, in words, naming the file and the rule.
TEST(CheckpointStore, TruncatedRowIsNamedAsTruncated) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  store.save(engine_like_state());
  db.exec("UPDATE rule_state SET state = substr(state, 1, length(state) - 3) WHERE state_key = 'avg_temp'");
  try {
    store.load();
    FAIL() << "truncated row decoded";
  } catch (const StorageError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.kind(), StorageErrorKind::Corrupt);
    EXPECT_EQ(what.rfind(dir.file("a.db") + ": the checkpoint of 'avg_temp' (table rule_state) is damaged: "
                         "its CBOR state (", 0),
              0u)
        << what;
    EXPECT_NE(what.find("ends early"), std::string::npos) << what;
    EXPECT_EQ(what.find("json.exception"), std::string::npos) << what;
  }
}

TEST(CheckpointStore, DamagedProgressRowIsNamed) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  store.save(engine_like_state(), {{"journal_seq", 42}});
  db.exec("UPDATE progress SET value = '{\"a\":' WHERE key = 'journal_seq'");
  try {
    store.load_progress();
    FAIL() << "damaged progress row parsed";
  } catch (const StorageError& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.kind(), StorageErrorKind::Corrupt);
    EXPECT_NE(what.find(dir.file("a.db")), std::string::npos) << what;
    EXPECT_NE(what.find("the input position 'journal_seq' (table progress) is damaged"), std::string::npos) << what;
    EXPECT_EQ(what.find("json.exception"), std::string::npos) << what;
  }
}

TEST(CheckpointStore, ClearForgetsEverything) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  CheckpointStore store(db);
  store.save(engine_like_state(), {{"k", 1}});
  store.clear();
  EXPECT_FALSE(store.load().has_value());
  EXPECT_EQ(store.load_progress(), json::object());
  EXPECT_EQ(store.save(engine_like_state()).written, 3u);
}

}  // namespace
}  // namespace streamgate::storage
