// The window registry is open the way the function registry is: a kind added from outside
// rules/ (here a test) is found by name by the planner, reads and checks its own arguments, and
// runs through the runtime's window services, with no change to the planner or the runtime.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engine.h"
#include "rules/runtime/rule_runtime.h"
#include "rules/window/window_type.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;

//! EachEventWindow(): every row is a window of its own, emitted at once.
class EachEvent final : public window::WindowOperator {
 public:
  explicit EachEvent(runtime::RuleRuntime& rt) : rt_(rt) {}
  void on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs, TimeNs now,
              runtime::Output& out) override {
    runtime::WindowState w;
    w.start = row.event_time;
    w.end = row.event_time + 1;
    if (rt_.add_to_window(w, row, key, hash))
      rt_.emit_window(w, w.start, w.end, rt_.result_id_prefix() + "e" + std::to_string(row.event_time) + "/",
                      now, out);
    rt_.destroy_window(w);
  }
  void advance(TimeNs, TimeNs, runtime::Output&) override {}
  std::size_t open_windows() const override { return 0; }
  void save(json&) const override {}
  void restore(const json&) override {}
  void clear() override {}

 private:
  runtime::RuleRuntime& rt_;
};

class EachEventType final : public window::WindowType {
 public:
  std::vector<std::string> names() const override { return {"eacheventwindow"}; }
  bool plan(window::WindowArgs& args, plan::WindowSpec&) const override { return !args.too_many(0); }
  std::unique_ptr<window::WindowOperator> create(runtime::RuleRuntime& rt) const override {
    return std::make_unique<EachEvent>(rt);
  }
};

void add_each_event_window() {
  static const bool added = [] {
    window::WindowRegistry::global().add(std::make_unique<EachEventType>());
    return true;
  }();
  (void)added;
}

constexpr const char* kStream =
    "CREATE STREAM s WITH (TOPIC = 'in', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');\n";

TEST(WindowRegistry, AKindAddedFromOutsideIsPlannedAndRunByName) {
  add_each_event_window();
  Engine eng;
  ASSERT_TRUE(eng.load_file("w.sql", std::string(kStream) +
                                         "CREATE RULE r WITH (TOPIC = 'out') AS SELECT k, count(*) AS n, "
                                         "sum(v) AS total FROM s GROUP BY k, EachEventWindow();")
                  .empty());
  std::vector<json> rows;
  const EmitFn sink = [&](Emission&& e) { rows.push_back(json::parse(e.payload)); };
  const TimeNs now = 1'700'000'100 * kNsPerSec;
  eng.on_message("in", R"({"k": "a", "v": 2, "ts": 1700000001})", now, sink);
  eng.on_message("in", R"({"k": "a", "v": 5, "ts": 1700000002})", now, sink);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], json::parse(R"({"k": "a", "n": 1, "total": 2})"));
  EXPECT_EQ(rows[1], json::parse(R"({"k": "a", "n": 1, "total": 5})"));
}

TEST(WindowRegistry, AKindChecksItsOwnArgumentsWithTheirPosition) {
  add_each_event_window();
  const auto errors = Engine::check(
      "w.sql", std::string(kStream) + "CREATE RULE r AS SELECT count(*) AS n FROM s GROUP BY EachEventWindow(3);");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(), "w.sql:2:71: eacheventwindow: too many arguments");
}

TEST(WindowRegistry, SlidingWindowIsPerEventInEKuipersUnitFormAndHoppingOtherwise) {
  // Both kinds answer to SlidingWindow; the per-event kind claims the unit form.
  Engine eng;
  ASSERT_TRUE(eng.load_file("w.sql", std::string(kStream) +
                                         "CREATE RULE hop WITH (TOPIC = 'o1') AS SELECT count(*) AS n FROM s "
                                         "GROUP BY SlidingWindow('2s', '1s');\n"
                                         "CREATE RULE per WITH (TOPIC = 'o2') AS SELECT count(*) AS n FROM s "
                                         "GROUP BY SlidingWindow(ss, 2);")
                  .empty());
  std::map<std::string, int> windows;
  const EmitFn sink = [&](Emission&& e) { ++windows[e.rule]; };
  const TimeNs now = 1'700'000'100 * kNsPerSec;
  eng.on_message("in", R"({"ts": 1700000001})", now, sink);
  eng.on_message("in", R"({"ts": 1700000005})", now, sink);
  eng.flush(sink);
  EXPECT_EQ(windows["hop"], 4);  // each event in two 2 s windows hopping by 1 s
  EXPECT_EQ(windows["per"], 2);  // one window per event
}

//! Feeds `lines` to a fresh engine with `rules`, restarting from its saved state (as the
//! gateway's checkpoints do) after the first `restart_after`, and returns the result payloads.
std::vector<json> run_with_restart(const std::string& rules, const std::vector<std::string>& lines,
                                   std::size_t restart_after) {
  std::vector<json> rows;
  const EmitFn sink = [&](Emission&& e) { rows.push_back(json::parse(e.payload)); };
  const TimeNs now = 1'700'000'100 * kNsPerSec;
  auto engine = std::make_unique<Engine>();
  EXPECT_TRUE(engine->load_file("w.sql", rules).empty());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i == restart_after) {
      const json state = engine->save_state();
      std::vector<std::uint8_t> bytes;
      json::to_cbor(state, bytes);
      engine = std::make_unique<Engine>();
      EXPECT_TRUE(engine->load_file("w.sql", rules).empty());
      engine->restore_state(json::from_cbor(bytes));
    }
    engine->on_message("in", lines[i], now, sink);
  }
  engine->flush(sink);
  return rows;
}

TEST(WindowRegistry, StateWindowsOfSeveralKeysSurviveARestart) {
  const std::string rules = std::string(kStream) +
                            "CREATE RULE r WITH (TOPIC = 'out') AS SELECT k, sum(v) AS total FROM s "
                            "GROUP BY k, STATEWINDOW(v > 10, v < 5);";
  const std::vector<std::string> lines = {
      R"({"k": "a", "v": 12, "ts": 1700000002})", R"({"k": "b", "v": 20, "ts": 1700000003})",
      R"({"k": "a", "v": 8, "ts": 1700000004})",  R"({"k": "b", "v": 3, "ts": 1700000006})",
      R"({"k": "a", "v": 2, "ts": 1700000007})",  R"({"k": "a", "v": 40, "ts": 1700000008})"};
  const auto straight = run_with_restart(rules, lines, lines.size());
  ASSERT_EQ(straight.size(), 2u);
  EXPECT_EQ(straight[0], json::parse(R"({"k": "b", "total": 23})"));
  EXPECT_EQ(straight[1], json::parse(R"({"k": "a", "total": 22})"));
  for (std::size_t at = 1; at < lines.size(); ++at) EXPECT_EQ(run_with_restart(rules, lines, at), straight) << at;
}

TEST(WindowRegistry, PerEventWindowsSurviveARestart) {
  const std::string rules =
      "CREATE STREAM s WITH (TOPIC = 'in', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '2s');\n"
      "CREATE RULE r WITH (TOPIC = 'out') AS SELECT count(*) AS n, sum(v) AS total FROM s "
      "GROUP BY PerEventSlidingWindow('3s');";
  const std::vector<std::string> lines = {R"({"v": 1, "ts": 1700000001})", R"({"v": 2, "ts": 1700000002})",
                                          R"({"v": 4, "ts": 1700000004})", R"({"v": 5, "ts": 1700000005})",
                                          R"({"v": 6, "ts": 1700000006})", R"({"v": 9, "ts": 1700000009})"};
  const auto straight = run_with_restart(rules, lines, lines.size());
  ASSERT_EQ(straight.size(), 6u);
  EXPECT_EQ(straight[2], json::parse(R"({"n": 3, "total": 7})"));
  for (std::size_t at = 1; at < lines.size(); ++at) EXPECT_EQ(run_with_restart(rules, lines, at), straight) << at;
}

}  // namespace
}  // namespace streamgate::rules
