// Two-phase fleet-wide aggregates (cluster mode): partition engines emit partial states, a merge
// engine combines them; the result rows (ids and payloads) must be those of one engine that saw
// every event. No NATS here: the routing and the merge stage's calls are done by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

//! What one engine that sees every event gives: result id -> payload.
Results one_box(const std::string& file, const std::string& rules,
                const std::function<void(Engine&, const EmitFn&)>& feed) {
  Engine single;
  EXPECT_TRUE(single.load_file(file, rules).empty());
  Results expected;
  const EmitFn collect = [&expected](Emission&& e) { expected[e.result_id] = e.payload; };
  feed(single, collect);
  single.flush(collect);
  return expected;
}

//! `n` partition engines over `rules` (the two-phase rules emit partials) and what they emit:
//! partials (and, at the merge stage, rows too) through `route`.
struct Partitions {
  Partitions(int n, const std::vector<std::string>& two_phase, const std::string& file, const std::string& rules) {
    EngineOptions o;
    o.partial_rules = two_phase;
    for (int p = 0; p < n; ++p) {
      engines.push_back(std::make_unique<Engine>(o));
      EXPECT_TRUE(engines.back()->load_file(file, rules).empty());
    }
  }
  Partitions(const Partitions&) = delete;
  Partitions& operator=(const Partitions&) = delete;

  std::vector<std::unique_ptr<Engine>> engines;
  Results got;
  std::vector<std::string> partials;
  const EmitFn route = [this](Emission&& e) {
    if (e.kind == EmissionKind::Partial) partials.push_back(std::move(e.payload));
    else got[e.result_id] = e.payload;
  };
};

//! Every result id missing from `got`, differing or extra, one per line.
std::string diff_results(const Results& expected, const Results& got) {
  std::string diff;
  for (const auto& [id, payload] : expected) {
    auto it = got.find(id);
    if (it == got.end()) diff += "missing " + id + " " + payload + "\n";
    else if (it->second != payload) diff += "differs " + id + " " + it->second + " != " + payload + "\n";
  }
  for (const auto& [id, payload] : got)
    if (!expected.count(id)) diff += "extra " + id + " " + payload + "\n";
  return diff;
}

TEST(TwoPhase, PartialsMergedOverPartitionsGiveTheSingleEngineResults) {
  const auto plan = plan_partitions("r.sql", kRules, "device");
  ASSERT_TRUE(plan.errors.empty()) << plan.errors[0].to_string();
  ASSERT_EQ(plan.two_phase, (std::vector<std::string>{"fleet", "per_site"}));
  const auto events = make_events();

  const Results expected = one_box("r.sql", kRules, [&](Engine& single, const EmitFn& collect) {
    for (const auto& e : events) single.on_message("devices/" + e.device + "/telemetry", e.payload, kNow, collect);
  });

  for (int parts : {1, 3, 8}) {
    Partitions ps(parts, plan.two_phase, "r.sql", kRules);
    auto& [engines, got, partials, route] = ps;
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
    const std::string diff = diff_results(expected, got);
    EXPECT_TRUE(diff.empty()) << parts << " partitions:\n" << diff.substr(0, 3000);
    // A partial arriving after its window fired is late, not a second result.
    ASSERT_FALSE(partials.empty());
    EXPECT_EQ(merge.merge_partial(partials.front()), Engine::MergeStatus::Late);
    EXPECT_EQ(merge.merge_partial("not cbor"), Engine::MergeStatus::Malformed);
  }
  EXPECT_GT(expected.size(), 100u);
}

// The shipped etc/rules.d/10-sales.sql: sales_indicators compares each window with the previous
// one (lag over its aggregates), sales_peak reads FROM it. In cluster mode the partitions emit
// sales_indicators' partials only; the merge stage fires its windows in order, evaluates lag
// there and feeds the merged rows to sales_peak. Halfway, the merge stage is taken over (its
// state saved and restored into a new engine): lag and sales_peak continue.
TEST(TwoPhase, LagOverAggregatesAndAChainedRuleRunAtTheMergeStageAsOnOneBox) {
  std::ifstream in(std::string(STREAMGATE_SOURCE_DIR) + "/etc/rules.d/10-sales.sql");
  const std::string rules((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(rules.empty());
  const auto plan = plan_partitions("10-sales.sql", rules, "device");
  ASSERT_TRUE(plan.errors.empty()) << plan.errors[0].to_string();
  ASSERT_EQ(plan.two_phase, (std::vector<std::string>{"sales_indicators"}));
  ASSERT_EQ(plan.merge_stage, (std::vector<std::string>{"sales_peak"}));
  // 12 shops over three days; amounts are multiples of 0.25, so every sum is exact.
  struct Order {
    int shop;
    std::string payload;
  };
  std::vector<Order> orders;
  std::uint32_t x = 7;
  std::int64_t t = 1'700'000'000'000;
  for (int i = 0; i < 3000; ++i) {
    x = x * 1103515245u + 12345u;
    t += 20'000 + (x >> 16) % 100'000;  // a 30-minute window now and then has no order
    const int shop = static_cast<int>((x >> 8) % 12);
    const bool purchase = (x >> 4) % 5 != 0;
    orders.push_back({shop, R"({"event_id":"e)" + std::to_string(i) + R"(","event_type":")" +
                                (purchase ? "purchase" : "view") + R"(","amount":)" +
                                std::to_string(((x >> 12) % 2000) * 0.25) + R"(,"timestamp":)" + std::to_string(t) +
                                "}"});
  }
  auto topic = [](int shop) { return "shop/s" + std::to_string(shop) + "/events"; };

  const Results expected = one_box("10-sales.sql", rules, [&](Engine& single, const EmitFn& collect) {
    for (const auto& o : orders) single.on_message(topic(o.shop), o.payload, kNow, collect);
  });

  for (int parts : {1, 4}) {
    Partitions ps(parts, plan.two_phase, "10-sales.sql", rules);
    auto& [engines, got, partials, route] = ps;
    auto merge = std::make_unique<Engine>();
    ASSERT_TRUE(merge->load_file("10-sales.sql", rules).empty());
    // The merge stage: the partials so far, then every partition's watermark has passed `low`.
    auto merge_round = [&](TimeNs low) {
      for (const auto& p : partials) ASSERT_EQ(merge->merge_partial(p), Engine::MergeStatus::Merged);
      partials.clear();
      merge->advance_rule("sales_indicators", low, kNow, route);
    };
    for (std::size_t i = 0; i < orders.size(); ++i) {
      engines[static_cast<std::size_t>(orders[i].shop % parts)]->on_message(topic(orders[i].shop), orders[i].payload,
                                                                           kNow, route);
      if (i % 100 != 99) continue;
      TimeNs low = kTimeMax;
      for (auto& eng : engines) {
        for (const auto& m : eng->metrics())
          if (m.name == "sales_indicators") low = std::min(low, m.watermark);
      }
      merge_round(low);
      if (i == orders.size() / 2) {
        // Takeover: a new engine from the checkpoint of the old one.
        const auto saved = merge->save_state();
        merge = std::make_unique<Engine>();
        ASSERT_TRUE(merge->load_file("10-sales.sql", rules).empty());
        merge->restore_state(saved);
      }
    }
    for (auto& eng : engines) eng->flush(route);
    merge_round(kTimeMax);
    const std::string diff = diff_results(expected, got);
    EXPECT_TRUE(diff.empty()) << parts << " partitions:\n" << diff.substr(0, 3000);
  }
  std::size_t peaks = 0, changes = 0;
  for (const auto& [id, payload] : expected) {
    peaks += id.rfind("sales_peak/", 0) == 0 ? 1 : 0;
    changes += payload.find("\"sales_trend\":\"up\"") != std::string::npos ? 1 : 0;
  }
  EXPECT_GE(peaks, 3u);
  EXPECT_GE(changes, 10u);
}

// Joins of two streams keyed by the partition field pair rows within each partition; a
// fleet-wide aggregate over them (a window join, an interval join feeding a window) merges
// like any other, and so does one over a per-partition rule's rows (a chain partition ->
// fleet-wide: each partition's engine feeds its own rows to it).
TEST(TwoPhase, FleetWideAggregatesOverJoinsAndPerPartitionRulesMerge) {
  const char* rules = R"sql(
CREATE STREAM t WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts');
CREATE STREAM u WITH (TOPIC = 'devices/+/status', FORMAT = 'json', TIMESTAMP = 'ts');
CREATE RULE wj WITH (TOPIC = 'out/wj') AS
SELECT window_start() AS ws, count(*) AS pairs, sum(t.v) AS tv, max(u.v) AS uv
FROM t JOIN u ON t.device = u.device GROUP BY TumblingWindow('10s');
CREATE RULE ij WITH (TOPIC = 'out/ij') AS
SELECT window_start() AS ws, count(*) AS pairs, sum(u.v) AS uv
FROM t JOIN u ON t.device = u.device AND u.ts BETWEEN t.ts - INTERVAL '2' SECOND AND t.ts
GROUP BY TumblingWindow('10s');
CREATE RULE hot WITH (TOPIC = 'out/hot') AS SELECT device, v FROM t WHERE v > 20;
CREATE RULE hot_count WITH (TOPIC = 'out/hot_count') AS
SELECT window_end() AS we, count(*) AS n, count(DISTINCT device) AS devices FROM hot GROUP BY TumblingWindow('10s');
)sql";
  const auto plan = plan_partitions("r.sql", rules, "device");
  ASSERT_TRUE(plan.errors.empty()) << plan.errors[0].to_string();
  ASSERT_EQ(plan.two_phase, (std::vector<std::string>{"wj", "ij", "hot_count"}));
  std::vector<std::pair<std::string, std::string>> events;  // (topic, payload)
  std::uint32_t x = 5;
  for (int i = 0; i < 600; ++i) {
    x = x * 1103515245u + 12345u;
    const std::string dev = "d" + std::to_string((x >> 8) % 7);
    events.push_back({"devices/" + dev + ((x >> 4) % 2 ? "/telemetry" : "/status"),
                      R"({"device":")" + dev + R"(","v":)" + std::to_string((x >> 16) % 50) + R"(,"ts":)" +
                          std::to_string(1'700'000'000'000 + i * 300) + "}"});
  }
  const Results expected = one_box("r.sql", rules, [&](Engine& single, const EmitFn& collect) {
    for (const auto& [topic, payload] : events) single.on_message(topic, payload, kNow, collect);
  });
  Partitions ps(3, plan.two_phase, "r.sql", rules);
  auto& [engines, got, partials, route] = ps;
  for (const auto& [topic, payload] : events)
    engines[std::hash<std::string>{}(topic.substr(8, topic.find('/', 8) - 8)) % 3]->on_message(topic, payload, kNow,
                                                                                               route);
  for (auto& eng : engines) eng->flush(route);
  Engine merge;
  ASSERT_TRUE(merge.load_file("r.sql", rules).empty());
  for (const auto& p : partials) ASSERT_EQ(merge.merge_partial(p), Engine::MergeStatus::Merged);
  for (const auto& r : plan.two_phase) merge.advance_rule(r, kTimeMax, kNow, route);
  EXPECT_GT(expected.size(), 20u);
  EXPECT_EQ(diff_results(expected, got), "");
}

// ---- first_value / last_value and the group's last event (bare columns, SELECT *) ---------

const char* kEdgeRules = R"sql(
CREATE STREAM t WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts');
CREATE RULE edges WITH (TOPIC = 'out/edges') AS
SELECT site, window_start() AS ws, first_value(v) AS first_v, last_value(v) AS last_v,
       first_value(device, false) AS first_device, device AS last_device, upper(device) AS shout,
       count(*) AS n
FROM t GROUP BY site, HoppingWindow('10s', '5s') HAVING v >= 0;
CREATE RULE whole WITH (TOPIC = 'out/whole') AS
SELECT *, count(*) AS n, last_value(ts) AS last_ts FROM t GROUP BY TumblingWindow('10s');
)sql";

//! Feeds `events` to one engine (one_box's `feed`).
std::function<void(Engine&, const EmitFn&)> feed(const std::vector<Event>& events) {
  return [&events](Engine& engine, const EmitFn& emit) {
    for (const auto& e : events) engine.on_message("devices/" + e.device + "/telemetry", e.payload, kNow, emit);
  };
}

//! What `parts` partition engines (device -> partition by `partition_of`) and a merge engine
//! give; the merge engine takes the partials in emission order, or reversed.
Results merged_results(const char* rules, const std::vector<Event>& events, int parts,
                       const std::function<std::size_t(const std::string&)>& partition_of, bool reversed) {
  const auto plan = plan_partitions("r.sql", rules, "device");
  EXPECT_TRUE(plan.errors.empty()) << (plan.errors.empty() ? "" : plan.errors[0].to_string());
  Partitions ps(parts, plan.two_phase, "r.sql", rules);
  for (const auto& e : events)
    ps.engines[partition_of(e.device) % static_cast<std::size_t>(parts)]->on_message(
        "devices/" + e.device + "/telemetry", e.payload, kNow, ps.route);
  for (auto& eng : ps.engines) eng->flush(ps.route);
  if (reversed) std::reverse(ps.partials.begin(), ps.partials.end());
  Engine merge;
  EXPECT_TRUE(merge.load_file("r.sql", rules).empty());
  for (const auto& p : ps.partials) EXPECT_EQ(merge.merge_partial(p), Engine::MergeStatus::Merged);
  for (const auto& r : plan.two_phase) merge.advance_rule(r, kTimeMax, kNow, ps.route);
  return ps.got;
}

// Each group's events arrive in event-time order (make_events): partitions merged by event time
// give one engine's first_value, last_value, bare columns and SELECT * exactly.
TEST(TwoPhase, FirstLastValuesAndTheLastEventMergeByEventTime) {
  const auto plan = plan_partitions("r.sql", kEdgeRules, "device");
  ASSERT_TRUE(plan.errors.empty()) << plan.errors[0].to_string();
  ASSERT_EQ(plan.two_phase, (std::vector<std::string>{"edges", "whole"}));
  const auto events = make_events();
  const Results expected = one_box("r.sql", kEdgeRules, feed(events));
  EXPECT_GT(expected.size(), 70u);
  const auto by_hash = [](const std::string& device) { return std::hash<std::string>{}(device); };
  for (int parts : {1, 3, 8}) {
    for (bool reversed : {false, true}) {
      EXPECT_EQ(diff_results(expected, merged_results(kEdgeRules, events, parts, by_hash, reversed)), "")
          << parts << " partitions" << (reversed ? ", partials reversed" : "");
    }
  }
}

// Two devices in two partitions send events with the same event time into one group: the
// answer does not depend on which partition's partial comes first, nor on which partition a
// device is in. first_value takes the smaller value, last_value and the last event the greater.
TEST(TwoPhase, ATieOnEventTimeMergesTheSameWhateverTheOrder) {
  std::vector<Event> events;
  for (int i = 0; i < 3; ++i) {
    const std::string ts = std::to_string(1'700'000'000'000 + i * 1000);
    events.push_back({"d1", R"({"device":"d1","site":"s","v":)" + std::to_string(10 + i) + R"(,"ts":)" + ts + "}"});
    events.push_back({"d2", R"({"device":"d2","site":"s","v":)" + std::to_string(20 + i) + R"(,"ts":)" + ts + "}"});
  }
  std::set<std::string> answers;
  for (bool swap : {false, true}) {
    const auto partition_of = [swap](const std::string& d) -> std::size_t { return (d == "d1") != swap ? 0 : 1; };
    for (bool reversed : {false, true}) {
      const Results got = merged_results(kEdgeRules, events, 2, partition_of, reversed);
      std::string all;
      for (const auto& [id, payload] : got) all += id + " " + payload + "\n";
      answers.insert(all);
    }
  }
  ASSERT_EQ(answers.size(), 1u) << *answers.begin() << "\n---\n" << *answers.rbegin();
  const std::string& all = *answers.begin();
  EXPECT_NE(all.find(R"("first_v":10,"last_v":22,"first_device":"d1","last_device":"d2","shout":"D2","n":6)"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find(R"("device":"d2","site":"s","v":22)"), std::string::npos) << all;
}

//! Applies `f` to every group of every window in a checkpoint (group frames decoded, rewritten).
void rewrite_groups(nlohmann::json& j, const std::function<void(nlohmann::json&)>& f) {
  if (j.is_object()) {
    if (auto it = j.find("group_frames"); it != j.end() && it->is_binary()) {
      const auto bytes = it->get_binary();
      std::vector<std::uint8_t> out;
      for (std::size_t at = 0; at + 4 <= bytes.size();) {
        const std::size_t n = bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 |
                              static_cast<std::size_t>(bytes[at + 3]) << 24;
        auto g = nlohmann::json::from_cbor(bytes.begin() + static_cast<std::ptrdiff_t>(at + 4),
                                           bytes.begin() + static_cast<std::ptrdiff_t>(at + 4 + n));
        f(g);
        const auto cbor = nlohmann::json::to_cbor(g);
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(cbor.size() >> (8 * i)));
        out.insert(out.end(), cbor.begin(), cbor.end());
        at += 4 + n;
      }
      *it = nlohmann::json::binary(std::move(out));
    }
    for (auto& [k, v] : j.items()) rewrite_groups(v, f);
  } else if (j.is_array()) {
    for (auto& v : j) rewrite_groups(v, f);
  }
}

// A checkpoint written before states carried event times (no "t" in first_value / last_value
// states, no "last_t" in a group, the last event as a CBOR map "whole") still loads, and the run
// continues as if never interrupted (the map's keys come back sorted: compared as JSON).
TEST(TwoPhase, ACheckpointWithoutEventTimesStillLoads) {
  const auto events = make_events();
  const Results expected = one_box("r.sql", kEdgeRules, feed(events));
  Engine before;
  ASSERT_TRUE(before.load_file("r.sql", kEdgeRules).empty());
  Results got;
  const EmitFn collect = [&got](Emission&& e) { got[e.result_id] = e.payload; };
  const std::size_t half = events.size() / 2 + 7;
  for (std::size_t i = 0; i < half; ++i)
    before.on_message("devices/" + events[i].device + "/telemetry", events[i].payload, kNow, collect);
  auto saved = nlohmann::json::from_cbor(nlohmann::json::to_cbor(before.save_state()));
  std::size_t stripped_times = 0, stripped_last = 0;
  rewrite_groups(saved, [&](nlohmann::json& g) {
    stripped_last += g.erase("last_t");
    if (g.contains("whole_json")) {
      g["whole"] = nlohmann::json::parse(g["whole_json"].get<std::string>());
      g.erase("whole_json");
    }
    for (auto& a : g.at("aggs"))
      if (a.is_object() && a.contains("v")) stripped_times += a.erase("t");
  });
  ASSERT_GT(stripped_last, 0u);
  ASSERT_GT(stripped_times, 0u);
  Engine after;
  ASSERT_TRUE(after.load_file("r.sql", kEdgeRules).empty());
  after.restore_state(saved);
  for (std::size_t i = half; i < events.size(); ++i)
    after.on_message("devices/" + events[i].device + "/telemetry", events[i].payload, kNow, collect);
  after.flush(collect);
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [id, payload] : expected) {
    ASSERT_TRUE(got.count(id)) << id;
    EXPECT_EQ(nlohmann::json::parse(got[id]), nlohmann::json::parse(payload)) << id;
  }
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
  refused_at("CREATE RULE f WITH (TOPIC = 'o') AS SELECT first_value(DISTINCT v) AS x FROM t\nGROUP BY TumblingWindow('10s');",
             "r.sql:2:44: rule 'f': GROUP BY does not include the partition key 'device' and the rule cannot run",
             "first_value(DISTINCT ...): a DISTINCT set keeps no event times to merge by");
  refused_at("CREATE RULE f WITH (TOPIC = 'o') AS SELECT * FROM t\nGROUP BY TumblingWindow('10s');",
             "r.sql:3:10: rule 'f'", "a window without aggregates or GROUP BY keys emits its rows");
  refused_at("CREATE RULE f WITH (TOPIC = 'o') AS SELECT count(*) AS n FROM t\nGROUP BY SessionWindow('10s');",
             "r.sql:3:10: rule 'f'", "SessionWindow: fleet-wide aggregates run in two phases over TumblingWindow");
  refused_at("CREATE RULE f WITH (TOPIC = 'o') AS SELECT count(*) AS n FROM t;", "r.sql:2:",
             "an aggregate without GROUP BY and the rule cannot run in two phases (a fleet-wide aggregate without a "
             "time window)");
}

}  // namespace
}  // namespace streamgate::rules
