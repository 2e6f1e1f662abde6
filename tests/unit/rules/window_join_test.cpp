// Window joins of two streams (rules/join/window_join.h) at their bounds: held rows at
// max_pending_events, windows waiting to fire at max_open_windows, a window's joined rows at
// max_rows_per_window; each refusal counted in the rule's metrics and reported.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engine.h"
#include "rules/time_util.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;

const char* kRules =
    "CREATE STREAM a WITH (TOPIC='in/a', TIMESTAMP='ts', MAXOUTOFORDERNESS='0s');"
    "CREATE STREAM b WITH (TOPIC='in/b', TIMESTAMP='ts', MAXOUTOFORDERNESS='0s');"
    "CREATE RULE r WITH (TOPIC='o') AS SELECT a.k AS k, count(*) AS n FROM a JOIN b ON a.k = b.k "
    "GROUP BY a.k, TumblingWindow('10s');";

struct Bench {
  explicit Bench(EngineOptions o) : eng(std::move(o)) {
    for (const auto& e : eng.load_file("test.sql", kRules)) ADD_FAILURE() << e.to_string();
  }
  Engine eng;
  std::vector<Emission> out;
  EmitFn sink = [this](Emission&& e) { out.push_back(std::move(e)); };
  TimeNs now = *parse_rfc3339("2024-01-16T00:00:00Z");

  void send(const char* topic, const std::string& k, int ts) {
    const std::string p = R"({"k":")" + k + R"(","ts":)" + std::to_string(1700000000 + ts) + "}";
    EXPECT_EQ(eng.on_message(topic, p, now, sink), IngestStatus::Ok) << p;
  }
  std::vector<json> results() const {
    std::vector<json> r;
    for (const auto& e : out)
      if (e.kind == EmissionKind::Result) r.push_back(json::parse(e.payload));
    return r;
  }
  RuleMetrics metric() const { return eng.metrics().at(0); }
};

TEST(WindowJoin, HeldRowsBoundedByMaxPendingEvents) {
  EngineOptions o;
  o.max_pending_events = 3;
  std::vector<std::string> reports;
  o.on_limit = [&](const std::string& m) { reports.push_back(m); };
  Bench b(o);
  b.send("in/a", "x", 1);
  b.send("in/a", "x", 2);
  b.send("in/b", "x", 3);
  b.send("in/b", "x", 4);  // the fourth held row: refused
  EXPECT_EQ(b.metric().dropped_rows, 1u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("max_pending_events=3"), std::string::npos) << reports[0];
  b.eng.flush(b.sink);
  const auto r = b.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["n"], 2) << "two a rows x the one b row kept";
}

TEST(WindowJoin, RowsAreGivenBackWhenTheirWindowFires) {
  EngineOptions o;
  o.max_pending_events = 4;
  Bench b(o);
  // Each window holds two rows; a window fires once a row of each stream is past its end (four
  // rows held then), and gives its two back: ten rows go through a bound of four.
  for (int w = 0; w < 5; ++w) {
    b.send("in/a", "x", w * 10 + 1);
    b.send("in/b", "x", w * 10 + 2);
  }
  b.eng.flush(b.sink);
  EXPECT_EQ(b.metric().dropped_rows, 0u);
  EXPECT_EQ(b.results().size(), 5u);
}

TEST(WindowJoin, WaitingWindowsBoundedByMaxOpenWindows) {
  EngineOptions o;
  o.max_open_windows = 2;
  Bench b(o);
  // Stream b never moves: a's windows wait. The third is refused; its row is still held (an
  // earlier window could not use it), and counted.
  b.send("in/a", "x", 1);
  b.send("in/a", "x", 11);
  b.send("in/a", "x", 21);
  EXPECT_EQ(b.metric().dropped_windows, 1u);
  EXPECT_EQ(b.metric().open_windows, 2u);
  b.send("in/b", "x", 22);
  b.eng.flush(b.sink);
  EXPECT_TRUE(b.results().empty()) << "the window of the only pair was refused";
}

TEST(WindowJoin, JoinedRowsOfOneWindowBoundedByMaxRowsPerWindow) {
  EngineOptions o;
  o.max_rows_per_window = 4;
  std::vector<std::string> reports;
  o.on_limit = [&](const std::string& m) { reports.push_back(m); };
  Bench b(o);
  for (int i = 0; i < 3; ++i) b.send("in/a", "x", 1 + i);
  for (int i = 0; i < 3; ++i) b.send("in/b", "x", 5 + i);
  b.eng.flush(b.sink);
  const auto r = b.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["n"], 4) << "9 pairs, 4 joined";
  EXPECT_EQ(b.metric().dropped_rows, 5u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("max_rows_per_window=4"), std::string::npos) << reports[0];
}

TEST(WindowJoin, LateRowOfEitherStreamGoesToLateOutput) {
  Bench b(EngineOptions{});
  b.send("in/a", "x", 1);
  b.send("in/b", "x", 2);
  b.send("in/a", "x", 15);
  b.send("in/b", "x", 16);  // both past 10: window [0, 10) fires
  ASSERT_EQ(b.results().size(), 1u);
  b.send("in/a", "x", 3);
  b.send("in/b", "y", 4);
  std::vector<json> late;
  for (const auto& e : b.out)
    if (e.kind == EmissionKind::Late) late.push_back(json::parse(e.payload));
  ASSERT_EQ(late.size(), 2u);
  EXPECT_EQ(late[0]["event"]["k"], "x");
  EXPECT_EQ(late[1]["event"]["k"], "y");
  EXPECT_EQ(b.metric().late_events, 2u);
}

}  // namespace
}  // namespace streamgate::rules
