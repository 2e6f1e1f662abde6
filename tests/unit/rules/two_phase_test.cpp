// Two-phase fleet-wide aggregates (cluster mode): partition engines emit partial states, a merge
// engine combines them; the result rows (ids and payloads) must be those of one engine that saw
// every event. No NATS here: the routing and the merge stage's calls are done by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "rules/cluster/partition_check.h"
#include "rules/engine.h"

namespace streamgate::rules {
namespace {

const char* kRules = R"sql(
CREATE STREAM t WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts');
CREATE RULE fleet WITH (TOPIC = 'out/fleet') AS
SELECT window_start() AS ws, count(*) AS n, sum(v) AS total, round(avg(v), 9) AS mean,
       round(stddev(v), 9) AS sd, min(v) AS lo, max(v) AS hi, count(DISTINCT device) AS devices,
       median(v) AS med
FROM t GROUP BY TumblingWindow('10s');
CREATE RULE per_site WITH (TOPIC = 'out/site') AS
SELECT site, window_end() AS we, count(*) AS n, max_by(device, ts) AS latest
FROM t WHERE v > 10 GROUP BY site, HoppingWindow('10s', '5s') HAVING count(*) > 3;
CREATE RULE per_device WITH (TOPIC = 'out/device') AS
SELECT device, count(*) AS n FROM t GROUP BY device, TumblingWindow('10s');
)sql";

using Results = std::map<std::string, std::string>;  // result id -> payload
constexpr TimeNs kNow = 1'800'000'000 * kNsPerSec;  // processing time: after every event

struct Event {
  std::string device;
  std::string payload;
};

std::vector<Event> make_events() {
  std::vector<Event> out;
  std::uint32_t x = 99;
  for (int i = 0; i < 400; ++i) {
    for (int d = 0; d < 13; ++d) {
      x = x * 1103515245u + 12345u;
      const std::string dev = "d" + std::to_string(d);
      out.push_back({dev, R"({"device":")" + dev + R"(","site":"s)" + std::to_string(d % 3) + R"(","v":)" +
                              std::to_string((x >> 16) % 100) + R"(,"ts":)" +
                              std::to_string(1'700'000'000'000 + i * 250 + d) + "}"});
    }
  }
  return out;
}

TEST(TwoPhase, PartialsMergedOverPartitionsGiveTheSingleEngineResults) {
  const auto plan = plan_partitions("r.sql", kRules, "device");
  ASSERT_TRUE(plan.errors.empty()) << plan.errors[0].to_string();
  ASSERT_EQ(plan.two_phase, (std::vector<std::string>{"fleet", "per_site"}));
  const auto events = make_events();

  Engine single;
  ASSERT_TRUE(single.load_file("r.sql", kRules).empty());
  Results expected;
  const EmitFn collect = [&expected](Emission&& e) { expected[e.result_id] = e.payload; };
  for (const auto& e : events) single.on_message("devices/" + e.device + "/telemetry", e.payload, kNow, collect);
  single.flush(collect);

  for (int parts : {1, 3, 8}) {
    EngineOptions o;
    o.partial_rules = plan.two_phase;
    std::vector<std::unique_ptr<Engine>> engines;
    for (int p = 0; p < parts; ++p) {
      engines.push_back(std::make_unique<Engine>(o));
      ASSERT_TRUE(engines.back()->load_file("r.sql", kRules).empty());
    }
    Results got;
    std::vector<std::string> partials;
    const EmitFn route = [&](Emission&& e) {
      if (e.kind == EmissionKind::Partial) partials.push_back(std::move(e.payload));
      else got[e.result_id] = e.payload;
    };
    for (const auto& e : events) {
      const auto p = std::hash<std::string>{}(e.device) % static_cast<std::size_t>(parts);
      engines[p]->on_message("devices/" + e.device + "/telemetry", e.payload, kNow, route);
    }
    for (auto& eng : engines) eng->flush(route);
    // The merge stage sees the partitions' partials interleaved in any order.
    std::reverse(partials.begin(), partials.end());
    Engine merge;
    ASSERT_TRUE(merge.load_file("r.sql", kRules).empty());
    for (const auto& p : partials) ASSERT_EQ(merge.merge_partial(p), Engine::MergeStatus::Merged);
    for (const auto& r : plan.two_phase) merge.advance_rule(r, kTimeMax, kNow, route);
    std::string diff;
    for (const auto& [id, payload] : expected) {
      auto it = got.find(id);
      if (it == got.end()) diff += "missing " + id + " " + payload + "\n";
      else if (it->second != payload) diff += "differs " + id + " " + it->second + " != " + payload + "\n";
    }
    for (const auto& [id, payload] : got)
      if (!expected.count(id)) diff += "extra " + id + " " + payload + "\n";
    EXPECT_TRUE(diff.empty()) << parts << " partitions:\n" << diff.substr(0, 3000);
    // A partial arriving after its window fired is late, not a second result.
    ASSERT_FALSE(partials.empty());
    EXPECT_EQ(merge.merge_partial(partials.front()), Engine::MergeStatus::Late);
    EXPECT_EQ(merge.merge_partial("not cbor"), Engine::MergeStatus::Malformed);
  }
  EXPECT_GT(expected.size(), 100u);
}

TEST(TwoPhase, RulesThatCannotMergeAreRefusedWithTheirPosition) {
  const std::string stream =
      "CREATE STREAM t WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts');\n";
  auto refusal = [&](const std::string& rule) {
    const auto plan = plan_partitions("r.sql", stream + rule, "device");
    EXPECT_TRUE(plan.two_phase.empty()) << rule;
    return plan.errors.empty() ? std::string("none") : plan.errors[0].to_string();
  };
  auto refused_at = [&](const std::string& rule, const std::string& where, const std::string& why) {
    const std::string e = refusal(rule);
    EXPECT_EQ(e.rfind(where, 0), 0u) << e;
    EXPECT_NE(e.find(why), std::string::npos) << e;
  };
  refused_at("CREATE RULE f WITH (TOPIC = 'o') AS SELECT first_value(v) AS x FROM t\nGROUP BY TumblingWindow('10s');",
             "r.sql:2:44: rule 'f': GROUP BY does not include the partition key 'device' and the rule cannot run",
             "first_value() has no merge across partitions");
  refused_at("CREATE RULE f WITH (TOPIC = 'o') AS SELECT device, count(*) AS n FROM t\nGROUP BY TumblingWindow('10s');",
             "r.sql:2:44: rule 'f'", "'device' outside an aggregate is a group's last event");
  refused_at("CREATE RULE f WITH (TOPIC = 'o') AS SELECT count(*) AS n FROM t\nGROUP BY SessionWindow('10s');",
             "r.sql:3:10: rule 'f'", "SessionWindow: fleet-wide aggregates run in two phases over TumblingWindow");
  refused_at("CREATE RULE f WITH (TOPIC = 'o') AS SELECT count(*) AS n FROM t;", "r.sql:2:",
             "an aggregate without GROUP BY and the rule cannot run in two phases (a fleet-wide aggregate without a "
             "time window)");
}

}  // namespace
}  // namespace streamgate::rules
