// TYPE='sqlite' tables: the gateway's loader over a real SQLite file in a temp dir, through the
// Engine (join, reload on change, a broken source keeps the rows).
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gateway/sqlite_table_loader.h"
#include "rules/engine.h"
#include "storage/database.h"

namespace streamgate::gateway {
namespace {

namespace fs = std::filesystem;
using rules::Emission;
using rules::TimeNs;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("sg-sqlite-table-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

TEST(SqliteTable, JoinsReloadsAndKeepsRowsOnError) {
  TempDir dir;
  const std::string db_path = (dir.path / "assets.db").string();
  {
    storage::Database db(db_path);
    db.exec("CREATE TABLE assets (tag TEXT PRIMARY KEY, zone TEXT, weight REAL, extra BLOB)");
    db.exec("INSERT INTO assets VALUES ('t1', 'dock', 2.5, NULL), ('t2', 'yard', 7, NULL)");
  }
  rules::EngineOptions o;
  o.sqlite_loader = sqlite_table_loader();
  std::vector<std::pair<std::string, bool>> events;
  o.on_table_event = [&](const std::string& m, bool failed) { events.emplace_back(m, failed); };
  rules::Engine eng(o);
  const auto errors = eng.load_file(
      (dir.path / "rules.sql").string(),
      "CREATE STREAM s WITH (TOPIC='tags');"
      "CREATE TABLE assets (tag, zone, weight FLOAT) WITH (TYPE='sqlite', PATH='assets.db', "
      "TABLE='assets', KEY='tag', RELOAD_INTERVAL='1s');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT tag, zone, weight FROM s JOIN assets a ON s.tag = a.tag;");
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].second) << events[0].first;

  std::vector<nlohmann::json> out;
  rules::EmitFn sink = [&](Emission&& e) { out.push_back(nlohmann::json::parse(e.payload)); };
  TimeNs now = 1'700'000'000LL * 1'000'000'000LL;
  eng.on_message("tags", R"({"tag":"t2"})", now, sink);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["zone"], "yard");
  EXPECT_EQ(out[0]["weight"], 7.0);

  {
    storage::Database db(db_path);
    db.exec("UPDATE assets SET zone = 'gate' WHERE tag = 't2'");
    db.exec("INSERT INTO assets VALUES ('t3', 'roof', 1, NULL)");
  }
  now += 2'000'000'000LL;
  eng.on_tick(now, sink);
  eng.on_message("tags", R"({"tag":"t2"})", now, sink);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1]["zone"], "gate");
  EXPECT_EQ(eng.table_metrics().at(0).rows, 3u);

  // The table disappears from the file: the load fails, the rows stay.
  {
    storage::Database db(db_path);
    db.exec("ALTER TABLE assets RENAME TO old_assets");
  }
  now += 2'000'000'000LL;
  eng.on_tick(now, sink);
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.back().second);
  EXPECT_NE(events.back().first.find("assets"), std::string::npos) << events.back().first;
  EXPECT_EQ(eng.table_metrics().at(0).load_errors, 1u);
  eng.on_message("tags", R"({"tag":"t3"})", now, sink);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2]["zone"], "roof");
}

}  // namespace
}  // namespace streamgate::gateway
