// Engine-level tests of MATCH_RECOGNIZE and CREATE ALERT: planning errors, emissions (kinds,
// topics, retain flags) and restart: pattern and alert state survive save_state/restore_state.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engine.h"

namespace streamgate::rules {
namespace {

constexpr TimeNs kNow = 1'800'000'000LL * kNsPerSec;

struct Out {
  std::vector<Emission> all;
  EmitFn fn() {
    return [this](Emission&& e) { all.push_back(std::move(e)); };
  }
  std::vector<nlohmann::json> payloads(EmissionKind kind) const {
    std::vector<nlohmann::json> v;
    for (const auto& e : all)
      if (e.kind == kind) v.push_back(nlohmann::json::parse(e.payload));
    return v;
  }
};

std::string errors(const std::vector<RuleError>& errs) {
  std::string s;
  for (const auto& e : errs) s += e.to_string() + "\n";
  return s;
}

const char* kStream =
    "CREATE STREAM s WITH (TOPIC = 'in/+', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');\n";

std::string ev(const std::string& k, const std::string& e, int sec, double v = 0) {
  return R"({"k":")" + k + R"(","e":")" + e + R"(","v":)" + std::to_string(v) +
         R"(,"ts":)" + std::to_string(1705312800 + sec) + "}";
}

TEST(CepEngine, PlanningErrorsAreUserErrors) {
  auto check = [](const std::string& rule) { return errors(Engine::check("r.sql", std::string(kStream) + rule)); };
  EXPECT_NE(check("CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A*) DEFINE A AS v > 1);")
                .find("r.sql:2:"), std::string::npos);
  EXPECT_NE(check("CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A) DEFINE Z AS v > 1);")
                .find("not a variable of PATTERN"), std::string::npos);
  EXPECT_NE(check("CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (ORDER BY v PATTERN (A) DEFINE A AS v > 1);")
                .find("TIMESTAMP field 'ts'"), std::string::npos);
  EXPECT_NE(check("CREATE RULE r AS SELECT nope FROM s MATCH_RECOGNIZE (MEASURES A.v AS v PATTERN (A) DEFINE A AS v > 1);")
                .find("unknown column 'nope'"), std::string::npos);
  EXPECT_NE(check("CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A B) DEFINE B AS NEXT(v) > 1);")
                .find("NEXT() is not supported"), std::string::npos);
  EXPECT_NE(check("CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A) WITHIN 'soon' DEFINE A AS v > 1);")
                .find("WITHIN"), std::string::npos);
  EXPECT_NE(check("CREATE ALERT a WITH (TOPIC = 'x', KEY = 'nope') AS SELECT k, v FROM s WHERE v > 1;")
                .find("KEY"), std::string::npos);
  EXPECT_NE(check("CREATE ALERT a WITH (TOPIC = 'x', COOLDOWN = 'later') AS SELECT k FROM s WHERE v > 1;")
                .find("COOLDOWN"), std::string::npos);
  EXPECT_EQ(check("CREATE ALERT a WITH (TOPIC = 'x', KEY = 'k') AS SELECT k, v FROM s WHERE v > 1;"), "");
}

TEST(CepEngine, AlertEmissionsGoToTheTopicAndRetainedToTheKeyTopic) {
  Engine eng;
  ASSERT_EQ(errors(eng.load_file("r.sql", std::string(kStream) +
                                              "CREATE ALERT hot WITH (TOPIC = 'alerts/hot', QOS = 1, KEY = 'k') AS "
                                              "SELECT k, v FROM s WHERE v > 80;")),
            "");
  Out out;
  eng.on_message("in/x", ev("m/1", "t", 0, 90), kNow, out.fn());
  ASSERT_EQ(out.all.size(), 2u);
  EXPECT_EQ(out.all[0].kind, EmissionKind::Alert);
  EXPECT_EQ(out.all[0].topic, "alerts/hot");
  EXPECT_FALSE(out.all[0].retain);
  EXPECT_EQ(out.all[0].qos, 1);
  EXPECT_EQ(out.all[1].topic, "alerts/hot/m_1");
  EXPECT_TRUE(out.all[1].retain);
  EXPECT_EQ(out.all[0].payload, out.all[1].payload);
  EXPECT_NE(out.all[0].result_id, out.all[1].result_id);
  eng.on_message("in/x", ev("m/1", "t", 1, 95), kNow, out.fn());
  EXPECT_EQ(out.all.size(), 2u);  // still raised: nothing re-sent
  eng.on_message("in/x", ev("m/1", "t", 2, 10), kNow, out.fn());
  ASSERT_EQ(out.all.size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(out.all[3].payload)["state"], "cleared");
  EXPECT_TRUE(out.all[3].retain);
}

TEST(CepEngine, RestartWithAnActiveAlertKeepsItRaised) {
  const std::string rules = std::string(kStream) +
                            "CREATE ALERT hot WITH (TOPIC = 'alerts/hot', KEY = 'k', CLEAR_AFTER = '30s') AS "
                            "SELECT k, v FROM s WHERE v > 80;";
  nlohmann::json saved;
  {
    Engine eng;
    ASSERT_EQ(errors(eng.load_file("r.sql", rules)), "");
    Out out;
    eng.on_message("in/x", ev("a", "t", 0, 90), kNow, out.fn());
    eng.on_message("in/x", ev("a", "t", 10, 20), kNow, out.fn());  // clear pending (30 s)
    ASSERT_EQ(out.payloads(EmissionKind::Alert).size(), 2u);
    saved = nlohmann::json::from_cbor(nlohmann::json::to_cbor(eng.save_state()));
  }
  Engine eng;
  ASSERT_EQ(errors(eng.load_file("r.sql", rules)), "");
  eng.restore_state(saved);
  Out out;
  eng.on_message("in/x", ev("a", "t", 20, 95), kNow, out.fn());  // true again: no new raise
  EXPECT_TRUE(out.all.empty());
  eng.on_message("in/x", ev("a", "t", 30, 10), kNow, out.fn());
  eng.on_message("in/x", ev("b", "t", 61, 10), kNow, out.fn());  // watermark passes 30 + 30 s
  const auto alerts = out.payloads(EmissionKind::Alert);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0]["state"], "cleared");
  EXPECT_EQ(alerts[0]["key"], "a");
  EXPECT_EQ(alerts[0]["first_seen"], "2024-01-15T10:00:00Z");
  EXPECT_EQ(alerts[0]["time"], "2024-01-15T10:01:00Z");
}

TEST(CepEngine, PatternStateSurvivesARestartMidMatch) {
  const std::string rules = std::string(kStream) +
                            "CREATE RULE abc WITH (TOPIC = 'out/abc') AS SELECT k, n, total FROM s "
                            "MATCH_RECOGNIZE (PARTITION BY k ORDER BY ts MEASURES COUNT(*) AS n, "
                            "sum(B.v) AS total PATTERN (A B+ C) WITHIN '1m' "
                            "DEFINE A AS e = 'a', B AS e = 'b' AND v > PREV(v), C AS e = 'c');";
  nlohmann::json saved;
  {
    Engine eng;
    ASSERT_EQ(errors(eng.load_file("r.sql", rules)), "");
    Out out;
    eng.on_message("in/x", ev("k1", "a", 0, 1), kNow, out.fn());
    eng.on_message("in/x", ev("k1", "b", 1, 2), kNow, out.fn());
    saved = nlohmann::json::from_cbor(nlohmann::json::to_cbor(eng.save_state()));
  }
  Engine eng;
  ASSERT_EQ(errors(eng.load_file("r.sql", rules)), "");
  eng.restore_state(saved);
  Out out;
  eng.on_message("in/x", ev("k1", "b", 2, 3), kNow, out.fn());
  eng.on_message("in/x", ev("k1", "c", 3, 0), kNow, out.fn());
  const auto rows = out.payloads(EmissionKind::Result);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], nlohmann::json({{"k", "k1"}, {"n", 4}, {"total", 5.0}}));
}

TEST(CepEngine, OutOfOrderRowsAreBufferedUntilTheWatermark) {
  Engine eng;
  ASSERT_EQ(errors(eng.load_file(
                "r.sql",
                "CREATE STREAM s WITH (TOPIC = 'in/+', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '10s');"
                "CREATE RULE ab WITH (TOPIC = 'out/ab') AS SELECT * FROM s MATCH_RECOGNIZE ("
                "PARTITION BY k ORDER BY ts MEASURES A.v AS a, B.v AS b PATTERN (A B) "
                "DEFINE A AS e = 'a', B AS e = 'b');")),
            "");
  Out out;
  eng.on_message("in/x", ev("k", "b", 5, 2), kNow, out.fn());
  eng.on_message("in/x", ev("k", "a", 1, 1), kNow, out.fn());  // earlier, within 10 s
  EXPECT_TRUE(out.all.empty());                                 // watermark is at -5 s
  eng.on_message("in/x", ev("z", "x", 16, 0), kNow, out.fn());  // watermark 6 s: both released
  const auto rows = out.payloads(EmissionKind::Result);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0], nlohmann::json({{"k", "k"}, {"a", 1.0}, {"b", 2.0}}));
  eng.on_message("in/x", ev("k", "a", 2, 1), kNow, out.fn());  // behind the watermark: late
  ASSERT_EQ(out.payloads(EmissionKind::Late).size(), 1u);
}

}  // namespace
}  // namespace streamgate::rules
