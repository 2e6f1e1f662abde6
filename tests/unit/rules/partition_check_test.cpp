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
  // `device` outside an aggregate is the group's last event: no merge across partitions.
  const auto errors = check("CREATE RULE site WITH (TOPIC = 'o') AS SELECT site, device, count(*) AS n FROM t\n"
                            "GROUP BY site, TumblingWindow('10s');");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, "r.sql");
  EXPECT_EQ(errors[0].line, 2);
  EXPECT_EQ(errors[0].column, 53);
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

TEST(PartitionCheck, PatternsAndLagWithoutTheKeyAreErrors) {
  EXPECT_EQ(check("CREATE RULE m WITH (TOPIC = 'o') AS SELECT site, n FROM t MATCH_RECOGNIZE ("
                  "PARTITION BY site ORDER BY ts MEASURES COUNT(A.*) AS n ONE ROW PER MATCH "
                  "PATTERN (A{2}) DEFINE A AS v > 1);").size(), 1u);
  EXPECT_EQ(check("CREATE RULE l WITH (TOPIC = 'o') AS SELECT device, lag(v) AS p FROM t;").size(), 1u);
}

TEST(PartitionCheck, AFileThatDoesNotParseIsLeftToTheLoader) {
  EXPECT_TRUE(check("CREATE RULE broken AS SELEKT;").empty());
}

}  // namespace
}  // namespace streamgate::rules
