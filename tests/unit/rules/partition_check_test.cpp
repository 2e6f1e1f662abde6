// Cluster mode's partition-key check: per-key state must be keyed by the partition field.
#include <gtest/gtest.h>

#include "rules/cluster/partition_check.h"

namespace streamgate::rules {
namespace {

const std::string kStream =
    "CREATE STREAM t WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts');\n";

std::vector<RuleError> check(const std::string& rule) {
  return check_partition_key("r.sql", kStream + rule, "device");
}

TEST(PartitionCheck, RulesKeyedByThePartitionFieldPass) {
  EXPECT_TRUE(check("CREATE RULE a WITH (TOPIC = 'o') AS SELECT device, count(*) AS n FROM t "
                    "GROUP BY device, TumblingWindow('10s');").empty());
  EXPECT_TRUE(check("CREATE RULE f WITH (TOPIC = 'o') AS SELECT device, v FROM t WHERE v > 3;").empty());
  EXPECT_TRUE(check("CREATE RULE l WITH (TOPIC = 'o') AS SELECT device, lag(v) OVER (PARTITION BY device) AS p "
                    "FROM t;").empty());
  EXPECT_TRUE(check("CREATE RULE m WITH (TOPIC = 'o') AS SELECT device, n FROM t MATCH_RECOGNIZE ("
                    "PARTITION BY device ORDER BY ts MEASURES COUNT(A.*) AS n ONE ROW PER MATCH "
                    "PATTERN (A{2}) DEFINE A AS v > 1);").empty());
}

TEST(PartitionCheck, GroupByWithoutThePartitionFieldThatCannotMergeIsAnErrorWithItsPosition) {
  // A session's bounds depend on one key's order: no merge across partitions.
  const auto errors = check("CREATE RULE site WITH (TOPIC = 'o') AS SELECT site, device, count(*) AS n FROM t\n"
                            "GROUP BY site, SessionWindow('10s');");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "r.sql");
  EXPECT_EQ(errors[0].line, 3);
  EXPECT_EQ(errors[0].column, 16);
  EXPECT_NE(errors[0].message.find("rule 'site': GROUP BY does not include the partition key 'device'"),
            std::string::npos)
      << errors[0].to_string();
}

TEST(PartitionCheck, FleetWideWindowedAggregatesRunInTwoPhases) {
  const auto plan = plan_partitions("r.sql", kStream +
                                                 "CREATE RULE all WITH (TOPIC = 'o') AS SELECT count(*) AS n FROM t "
                                                 "GROUP BY TumblingWindow('10s');\n"
                                                 "CREATE RULE site WITH (TOPIC = 'o') AS SELECT site, avg(v) AS a FROM t "
                                                 "GROUP BY site, HoppingWindow('10s', '5s') HAVING count(*) > 2;",
                                    "device");
  EXPECT_TRUE(plan.errors.empty());
  EXPECT_EQ(plan.two_phase, (std::vector<std::string>{"all", "site"}));
}

// first_value / last_value and the group's last event (bare columns, SELECT *) merge by event
// time: such rules run in two phases too.
TEST(PartitionCheck, FirstLastValuesBareColumnsAndSelectStarRunInTwoPhases) {
  const auto plan = plan_partitions(
      "r.sql", kStream +
                   "CREATE RULE edges WITH (TOPIC = 'o') AS SELECT site, first_value(v) AS f, last_value(v, false) AS l, "
                   "device, upper(device) AS d FROM t GROUP BY site, TumblingWindow('10s') HAVING v > 1 ORDER BY device;\n"
                   "CREATE RULE star WITH (TOPIC = 'o') AS SELECT *, count(*) AS n FROM t GROUP BY TumblingWindow('10s');",
      "device");
  EXPECT_TRUE(plan.errors.empty()) << plan.errors[0].to_string();
  EXPECT_EQ(plan.two_phase, (std::vector<std::string>{"edges", "star"}));
}

TEST(PartitionCheck, PatternsAndLagWithoutTheKeyAreErrors) {
  EXPECT_EQ(check("CREATE RULE m WITH (TOPIC = 'o') AS SELECT site, n FROM t MATCH_RECOGNIZE ("
                  "PARTITION BY site ORDER BY ts MEASURES COUNT(A.*) AS n ONE ROW PER MATCH "
                  "PATTERN (A{2}) DEFINE A AS v > 1);").size(), 1u);
  EXPECT_EQ(check("CREATE RULE l WITH (TOPIC = 'o') AS SELECT device, lag(v) AS p FROM t;").size(), 1u);
}

// Analytic functions over a fleet-wide rule's aggregates are evaluated per fired group row, at
// the merge stage, where windows fire in order as on one box: the rule runs in two phases.
TEST(PartitionCheck, AnalyticFunctionsOverFleetWideAggregatesRunAtTheMergeStage) {
  const auto plan = plan_partitions(
      "r.sql",
      kStream + "CREATE RULE trend WITH (TOPIC = 'o') AS SELECT sum(v) AS total, sum(v) - lag(sum(v)) AS change,\n"
                "  cardinality(array_except(lag(collect(DISTINCT site)), collect(DISTINCT site))) AS gone\n"
                "FROM t GROUP BY TumblingWindow('10s') HAVING lag(count(*)) IS NULL OR count(*) > lag(count(*));\n"
                "CREATE RULE per_site WITH (TOPIC = 'o') AS SELECT site, count(*) - lag(count(*)) AS d FROM t\n"
                "GROUP BY site, TumblingWindow('10s') ORDER BY lag(count(*)) OVER (PARTITION BY site);\n"
                // Per event, but keyed by the partition field: right on each partition.
                "CREATE RULE steps WITH (TOPIC = 'o') AS SELECT sum(v - lag(v) OVER (PARTITION BY device)) AS s\n"
                "FROM t GROUP BY TumblingWindow('10s');",
      "device");
  EXPECT_TRUE(plan.errors.empty()) << plan.errors[0].to_string();
  EXPECT_EQ(plan.two_phase, (std::vector<std::string>{"trend", "per_site", "steps"}));
}

// Analytic functions evaluated per event (WHERE, an aggregate's argument or FILTER, a GROUP BY
// key) run on the partitions: without the partition key their state would be split.
TEST(PartitionCheck, PerEventAnalyticsInAFleetWideRuleAreRefusedWithTheirPosition) {
  auto first_error = [](const std::string& rule) {
    const auto plan = plan_partitions("r.sql", kStream + rule, "device");
    return plan.errors.empty() ? std::string("none") : plan.errors[0].to_string();
  };
  EXPECT_EQ(first_error("CREATE RULE u WITH (TOPIC = 'o') AS SELECT count(DISTINCT user)\n"
                        "  FILTER (WHERE first_seen(user, '30d')) AS fresh FROM t GROUP BY TumblingWindow('10s');"),
            "r.sql:3:17: rule 'u': first_seen() needs OVER (PARTITION BY device) (it is evaluated per event, on the "
            "partitions; an analytic function over a fleet-wide rule's aggregates runs at the merge stage): in "
            "cluster mode one key's events would be split over several partitions");
  EXPECT_EQ(first_error("CREATE RULE u WITH (TOPIC = 'o') AS SELECT sum(v - lag(v)) AS s FROM t\n"
                        "GROUP BY TumblingWindow('10s');")
                .rfind("r.sql:2:52: rule 'u': lag() needs OVER (PARTITION BY device)", 0),
            0u);
  EXPECT_EQ(first_error("CREATE RULE u WITH (TOPIC = 'o') AS SELECT count(*) AS n FROM t WHERE v > lag(v)\n"
                        "GROUP BY TumblingWindow('10s');")
                .rfind("r.sql:2:75: rule 'u': lag() needs OVER", 0),
            0u);
  // Without aggregates the window emits its rows: nothing to merge.
  EXPECT_NE(first_error("CREATE RULE u WITH (TOPIC = 'o') AS SELECT lag(v) AS p FROM t GROUP BY TumblingWindow('10s');")
                .find("a window without aggregates or GROUP BY keys emits its rows"),
            std::string::npos);
  EXPECT_NE(first_error("CREATE RULE u WITH (TOPIC = 'o') AS SELECT lag(sum(v)) OVER (PARTITION BY site) AS p FROM t\n"
                        "GROUP BY TumblingWindow('10s');")
                .find("r.sql:2:75: rule 'u': 'site' in the PARTITION BY of an analytic function over fleet-wide"),
            std::string::npos);
}

// A rule reading FROM a fleet-wide rule gets its rows only at the merge stage: it runs there,
// whatever its keys, and so does a rule reading it in turn, in this file or a later one.
TEST(PartitionCheck, RulesReadingAFleetWideRuleRunAtTheMergeStage) {
  PartitionContext context;
  const auto first = plan_partitions(
      "a.sql",
      kStream + "CREATE RULE fleet WITH (TOPIC = 'o') AS SELECT window_start() AS ws, sum(v) AS total FROM t\n"
                "GROUP BY TumblingWindow('10s');\n"
                "CREATE RULE peak WITH (TOPIC = 'o') AS SELECT max_by(ws, total) AS at, first_value(total) AS f\n"
                "FROM fleet GROUP BY TumblingWindow('1m');\n"
                "CREATE RULE hot WITH (TOPIC = 'o') AS SELECT ws, total - lag(total) AS d FROM fleet WHERE total > 10;",
      "device", &context);
  EXPECT_TRUE(first.errors.empty()) << first.errors[0].to_string();
  EXPECT_EQ(first.two_phase, (std::vector<std::string>{"fleet"}));
  EXPECT_EQ(first.merge_stage, (std::vector<std::string>{"peak", "hot"}));
  const auto second = plan_partitions(
      "b.sql",
      "CREATE RULE daily WITH (TOPIC = 'o') AS SELECT count(*) AS n FROM peak GROUP BY SessionWindow('1h');\n"
      "CREATE RULE mixed WITH (TOPIC = 'o') AS SELECT f.ws AS ws FROM fleet f JOIN t ON f.ws = t.ts\n"
      "GROUP BY TumblingWindow('1m');",
      "device", &context);
  EXPECT_EQ(second.merge_stage, (std::vector<std::string>{"daily"}));
  ASSERT_EQ(second.errors.size(), 1u);
  EXPECT_EQ(second.errors[0].to_string(),
            "b.sql:2:77: rule 'mixed': joins the rows of a fleet-wide rule (they exist only at the merge stage) with "
            "stream t (its rows are on the partitions): in cluster mode one key's events would be split over several "
            "partitions");
  // A fleet-wide rule over a per-partition rule's rows is an ordinary two-phase rule.
  const auto chain = plan_partitions(
      "c.sql",
      kStream + "CREATE RULE hot WITH (TOPIC = 'o') AS SELECT device, v FROM t WHERE v > 10;\n"
                "CREATE RULE hot_count WITH (TOPIC = 'o') AS SELECT count(*) AS n FROM hot GROUP BY TumblingWindow('10s');",
      "device");
  EXPECT_TRUE(chain.errors.empty());
  EXPECT_EQ(chain.two_phase, (std::vector<std::string>{"hot_count"}));
  EXPECT_TRUE(chain.merge_stage.empty());
}

// A join of two streams pairs rows by key: in cluster mode both rows are in one partition only
// when ON equates the partition field of both streams. Tables are loaded on every instance.
TEST(PartitionCheck, JoinsOfTwoStreamsMustEquateThePartitionField) {
  const std::string streams = kStream + "CREATE STREAM u WITH (TOPIC = 'devices/+/other', FORMAT = 'json', TIMESTAMP = 'ts');\n";
  auto errors = [&](const std::string& rule, PartitionContext* context = nullptr) {
    return plan_partitions("r.sql", streams + rule, "device", context).errors;
  };
  const auto interval = errors("CREATE RULE j WITH (TOPIC = 'o') AS SELECT t.v AS a, x.v AS b\n"
                               "FROM t JOIN u AS x ON t.site = x.site AND x.ts BETWEEN t.ts - INTERVAL '5' SECOND AND t.ts;");
  ASSERT_EQ(interval.size(), 1u);
  EXPECT_EQ(interval[0].to_string(),
            "r.sql:4:8: rule 'j': a join of two streams whose ON does not include t.device = x.device: in cluster "
            "mode one key's events would be split over several partitions");
  const auto window = errors("CREATE RULE w WITH (TOPIC = 'o') AS SELECT t.site AS s, count(*) AS n\n"
                             "FROM t LEFT JOIN u ON t.site = u.site GROUP BY t.site, TumblingWindow('10s');");
  ASSERT_GE(window.size(), 1u);
  EXPECT_EQ(window[0].to_string().rfind("r.sql:4:8: rule 'w': a join of two streams whose ON does not include "
                                        "t.device = u.device", 0),
            0u);
  EXPECT_TRUE(errors("CREATE RULE j WITH (TOPIC = 'o') AS SELECT t.v AS a, x.v AS b\n"
                     "FROM t JOIN u AS x ON x.device = device AND x.ts BETWEEN t.ts - INTERVAL '5' SECOND AND t.ts;")
                  .empty());
  EXPECT_TRUE(errors("CREATE RULE w WITH (TOPIC = 'o') AS SELECT device, count(*) AS n\n"
                     "FROM t JOIN u ON t.device = u.device AND t.site = u.site GROUP BY device, TumblingWindow('10s');")
                  .empty());
  // Stream-table joins, the table declared in this file or an earlier one.
  EXPECT_TRUE(errors("CREATE TABLE sites (site, name) WITH (TYPE = 'file', PATH = 's.csv', KEY = 'site');\n"
                     "CREATE RULE n WITH (TOPIC = 'o') AS SELECT device, s.name AS name FROM t JOIN sites s ON t.site = s.site;")
                  .empty());
  PartitionContext context;
  context.tables = {"sites"};
  EXPECT_TRUE(errors("CREATE RULE n WITH (TOPIC = 'o') AS SELECT device, s.name AS name FROM t JOIN sites s ON t.site = s.site;",
                     &context)
                  .empty());
}

TEST(PartitionCheck, AFileThatDoesNotParseIsLeftToTheLoader) {
  EXPECT_TRUE(check("CREATE RULE broken AS SELEKT;").empty());
}

}  // namespace
}  // namespace streamgate::rules
