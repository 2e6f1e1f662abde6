// Tables and stream-table joins through the Engine API: MQTT-fed tables (latest row per key),
// file tables reloaded when the file changes (a broken file keeps the old rows), row bounds.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "rules/engine.h"
#include "rules/time_util.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct Bench {
  explicit Bench(EngineOptions o = {}) : eng(std::move(o)) {}
  Engine eng;
  std::vector<Emission> out;
  EmitFn sink = [this](Emission&& e) { out.push_back(std::move(e)); };
  TimeNs now = *parse_rfc3339("2024-01-16T00:00:00Z");

  void load(const std::string& file, const std::string& text) {
    for (const auto& e : eng.load_file(file, text)) ADD_FAILURE() << e.to_string();
  }
  IngestStatus send(const std::string& topic, const std::string& payload) {
    return eng.on_message(topic, payload, now, sink);
  }
  std::vector<json> results() {
    std::vector<json> r;
    for (const auto& e : out)
      if (e.kind == EmissionKind::Result) r.push_back(json::parse(e.payload));
    out.clear();
    return r;
  }
};

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("sg-table-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  void write(const std::string& name, const std::string& text) const {
    const fs::path tmp = path / (name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, path / name);  // as the docs advise: never a half-written file
  }
};

constexpr const char* kMqttRules =
    "CREATE STREAM s WITH (TOPIC='data/+');"
    "CREATE TABLE meta (device, site, max_temp FLOAT) WITH (TYPE='mqtt', TOPIC='meta/+', KEY='device', MAXROWS=2);"
    "CREATE RULE r WITH (TOPIC='o') AS SELECT device, site, temp > max_temp AS hot "
    "FROM s LEFT JOIN meta ON s.device = meta.device;";

TEST(TableJoin, MqttTableKeepsLatestRowPerKey) {
  Bench b;
  b.load("rules.sql", kMqttRules);
  // The table's topic is subscribed like a stream's.
  bool subscribed = false;
  for (const auto& s : b.eng.streams()) subscribed = subscribed || s.topic_filter == "meta/+";
  EXPECT_TRUE(subscribed);

  b.send("data/a", R"({"device":"a","temp":50})");
  EXPECT_EQ(b.send("meta/a", R"({"device":"a","site":"north","max_temp":40})"), IngestStatus::Ok);
  b.send("data/a", R"({"device":"a","temp":50})");
  b.send("meta/a", R"({"device":"a","site":"south","max_temp":"60"})");  // replaces the row
  b.send("data/a", R"({"device":"a","temp":50})");
  auto r = b.results();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_TRUE(r[0]["site"].is_null());  // no row yet: LEFT JOIN keeps the event
  EXPECT_EQ(r[1]["site"], "north");
  EXPECT_EQ(r[1]["hot"], true);
  EXPECT_EQ(r[2]["site"], "south");
  EXPECT_EQ(r[2]["hot"], false);
  const auto tm = b.eng.table_metrics().at(0);
  EXPECT_EQ(tm.rows, 1u);
  EXPECT_EQ(tm.bad_messages, 0u);
}

TEST(TableJoin, MqttTableRowBoundIsCountedAndReported) {
  EngineOptions o;
  std::vector<std::string> reports;
  o.on_limit = [&](const std::string& m) { reports.push_back(m); };
  Bench b(o);
  b.load("rules.sql", kMqttRules);
  b.send("meta/a", R"({"device":"a","site":"1"})");
  b.send("meta/b", R"({"device":"b","site":"2"})");
  b.send("meta/c", R"({"device":"c","site":"3"})");  // refused: MAXROWS=2
  b.send("meta/d", R"({"device":"d","site":"4"})");  // refused, not reported again yet
  b.send("meta/a", R"({"device":"a","site":"1b"})");  // a known key still updates
  b.send("meta/x", R"({"site":"no key"})");           // counted as a bad message
  const auto tm = b.eng.table_metrics().at(0);
  EXPECT_EQ(tm.rows, 2u);
  EXPECT_EQ(tm.refused_rows, 2u);
  EXPECT_EQ(tm.bad_messages, 1u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("table meta"), std::string::npos);
  b.send("data/c", R"({"device":"c","temp":1})");
  b.send("data/a", R"({"device":"a","temp":1})");
  auto r = b.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_TRUE(r[0]["site"].is_null());
  EXPECT_EQ(r[1]["site"], "1b");
}

TEST(TableJoin, FileTableReloadsWhenChangedAndKeepsRowsWhenBroken) {
  TempDir dir;
  dir.write("t.csv", "id,label\n1,one\n2,two\n");
  EngineOptions o;
  std::vector<std::pair<std::string, bool>> events;
  o.on_table_event = [&](const std::string& m, bool failed) { events.emplace_back(m, failed); };
  Bench b(o);
  b.load((dir.path / "rules.sql").string(),
         "CREATE STREAM s WITH (TOPIC='data');"
         "CREATE TABLE t (id BIGINT, label) WITH (PATH='t.csv', KEY='id', RELOAD_INTERVAL='1s');"
         "CREATE RULE r WITH (TOPIC='o') AS SELECT id, label FROM s JOIN t ON s.id = t.id;");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].second);
  b.send("data", R"({"id":2})");
  auto r = b.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["label"], "two");

  // Changed (another size): read again at the next check.
  dir.write("t.csv", "id,label\n2,TWO\n3,three\n");
  b.now += 2 * kNsPerSec;
  b.eng.on_tick(b.now, b.sink);
  b.send("data", R"({"id":2})");
  b.send("data", R"({"id":1})");
  r = b.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["label"], "TWO");

  // Broken: the old rows stay, one line says why, the failure is counted.
  dir.write("t.csv", "id,label\n2,\"unclosed\n");
  b.now += 2 * kNsPerSec;
  b.eng.on_tick(b.now, b.sink);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[2].second);
  EXPECT_NE(events[2].first.find("t.csv"), std::string::npos) << events[2].first;
  EXPECT_NE(events[2].first.find("line 2"), std::string::npos) << events[2].first;
  b.send("data", R"({"id":3})");
  r = b.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["label"], "three");
  auto tm = b.eng.table_metrics().at(0);
  EXPECT_EQ(tm.loads, 2u);
  EXPECT_EQ(tm.load_errors, 1u);

  // A value that does not fit the column's type is a broken file too.
  dir.write("t.csv", "id,label\nseven,7\n");
  b.now += 2 * kNsPerSec;
  b.eng.on_tick(b.now, b.sink);
  EXPECT_EQ(b.eng.table_metrics().at(0).load_errors, 2u);
  EXPECT_NE(events.back().first.find("column 'id'"), std::string::npos) << events.back().first;

  // Unchanged file: not read again.
  dir.write("t.csv", "id,label\n5,five\n");
  b.now += 2 * kNsPerSec;
  b.eng.on_tick(b.now, b.sink);
  const auto loads = b.eng.table_metrics().at(0).loads;
  b.now += 2 * kNsPerSec;
  b.eng.on_tick(b.now, b.sink);
  EXPECT_EQ(b.eng.table_metrics().at(0).loads, loads);
}

TEST(TableJoin, FileRowBoundRefusesTheRest) {
  TempDir dir;
  dir.write("t.json", "[{\"id\":1},{\"id\":2},{\"id\":3},{\"id\":1}]");
  EngineOptions o;
  o.max_table_rows = 2;
  std::vector<std::string> events;
  o.on_table_event = [&](const std::string& m, bool) { events.push_back(m); };
  Bench b(o);
  b.load((dir.path / "rules.sql").string(),
         "CREATE STREAM s WITH (TOPIC='data');"
         "CREATE TABLE t (id) WITH (PATH='t.json', KEY='id', MAXROWS=10);"
         "CREATE RULE r WITH (TOPIC='o') AS SELECT id FROM s JOIN t ON s.id = t.id;");
  const auto tm = b.eng.table_metrics().at(0);
  EXPECT_EQ(tm.rows, 2u);
  EXPECT_GE(tm.refused_rows, 1u);
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events[0].find("refused"), std::string::npos) << events[0];
}

TEST(TableJoin, RuleReloadKeepsAnUnchangedTable) {
  Bench b;
  b.load("rules.sql", kMqttRules);
  b.send("meta/a", R"({"device":"a","site":"north"})");
  // Another rule file joining the same table by another column: the table stays, indexed anew.
  b.load("more.sql",
         "CREATE RULE by_site WITH (TOPIC='o2') AS SELECT site, device FROM s JOIN meta m ON s.place = m.site;");
  b.send("data/a", R"({"device":"z","place":"north"})");
  auto r = b.results();
  ASSERT_EQ(r.size(), 2u);  // r (LEFT JOIN, no device z) and by_site
  EXPECT_EQ(b.eng.table_metrics().at(0).rows, 1u);
  bool found = false;
  for (const auto& row : r) found = found || (row.contains("device") && row["device"] == "a");
  EXPECT_TRUE(found);
}

TEST(TableJoin, SeveralMatchesAndTwoTables) {
  Bench b;
  b.load("rules.sql",
         "CREATE STREAM s WITH (TOPIC='data');"
         "CREATE TABLE members (id, team) WITH (TYPE='mqtt', TOPIC='m', KEY='id');"
         "CREATE TABLE teams (team, lead) WITH (TYPE='mqtt', TOPIC='t', KEY='team');"
         "CREATE RULE r WITH (TOPIC='o') AS SELECT x, m.id, lead FROM s "
         "JOIN members m ON s.team = m.team JOIN teams ON teams.team = m.team;");
  b.send("m", R"([{"id":1,"team":"red"},{"id":2,"team":"red"},{"id":3,"team":"blue"}])");
  b.send("t", R"({"team":"red","lead":"ann"})");
  b.send("data", R"({"team":"red","x":9})");
  b.send("data", R"({"team":"blue","x":8})");  // blue has no lead: inner join drops it
  auto r = b.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["id"], 1);
  EXPECT_EQ(r[1]["id"], 2);
  EXPECT_EQ(r[1]["lead"], "ann");
  const auto m = b.eng.metrics().at(0);
  EXPECT_EQ(m.events_filtered, 1u);
}

}  // namespace
}  // namespace streamgate::rules
