// The offline commands and startup errors of the real binary: replay, check-rules, --help,
// --version, and bad configuration exiting with code 2 and one line on stderr.
#include <gtest/gtest.h>

#include <regex>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"

using namespace streamgate::test;
using nlohmann::json;

namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) out.push_back(l);
  }
  return out;
}

const std::string kInput =
    R"({"device_id":"device_001","status":"online","battery":85,"signal":-70,"timestamp":"2024-01-15T10:00:00Z"})" "\n"
    R"({"device_id":"device_002","status":"offline","battery":20,"signal":-90,"timestamp":"2024-01-15T10:05:00Z"})" "\n"
    "\n"
    "this is not json\n"
    R"({"device_id":"device_003","status":"online","battery":9,"signal":-60,"timestamp":"2024-01-15T10:10:00Z"})" "\n";

}  // namespace

TEST(Cli, ReplayPrintsOneJsonLinePerEmission) {
  TempDir dir;
  write_file(dir / "rule.sql", device_filter_rules());
  write_file(dir / "input.jsonl", kInput);
  const RunResult r = run_command({kBinary, "replay", "--rules", (dir / "rule.sql").string(), "--input",
                                   (dir / "input.jsonl").string()},
                                  dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = lines(r.out);
  ASSERT_EQ(out.size(), 2u) << r.out;
  const std::vector<std::string> devices{"device_002", "device_003"};
  for (std::size_t i = 0; i < out.size(); ++i) {
    // Exactly these keys, in this order, payload embedded as an object.
    EXPECT_EQ(out[i].rfind("{\"rule\":\"low_battery\",\"topic\":\"alerts/low_battery\",\"emission\":", 0), 0u)
        << out[i];
    const json j = json::parse(out[i]);
    EXPECT_EQ(j["kind"], "result");
    EXPECT_TRUE(j["emission"].is_number_unsigned());
    ASSERT_TRUE(j["payload"].is_object()) << out[i];
    EXPECT_EQ(j["payload"]["device_id"], devices[i]);
  }
  // The bad line is reported with its number (line 4; the blank line 3 is skipped silently).
  EXPECT_NE(r.err.find("input.jsonl:4:"), std::string::npos) << r.err;
}

TEST(Cli, ReplayReadsStdinAndDirectories) {
  TempDir dir;
  fs::create_directories(dir / "rules");
  write_file(dir / "rules" / "00-device-filter.sql", device_filter_rules());
  write_file(dir / "input.jsonl", kInput);
  const RunResult r = run_command(
      {"/bin/sh", "-c", "'" + kBinary + "' replay --rules '" + (dir / "rules").string() + "' < '" +
                            (dir / "input.jsonl").string() + "'"},
      dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out).size(), 2u) << r.out;
  EXPECT_NE(r.err.find("<stdin>:4:"), std::string::npos) << r.err;
}

TEST(Cli, ReplayTopicThatMatchesNoStreamIsAnError) {
  TempDir dir;
  write_file(dir / "rule.sql", device_filter_rules());
  const RunResult r = run_command({kBinary, "replay", "--rules", (dir / "rule.sql").string(), "--input",
                                   "/dev/null", "--topic", "other/topic"},
                                  dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("other/topic"), std::string::npos) << r.err;
}

TEST(Cli, ReplayWithBrokenRulesExitsOneWithFileLineCol) {
  TempDir dir;
  write_file(dir / "bad.sql", "CREATE STREAM s WITH (TOPIC='a/b');\nCREATE RULE r AS SELEC x FROM s;\n");
  const RunResult r = run_command({kBinary, "replay", "--rules", (dir / "bad.sql").string(), "--input",
                                   "/dev/null"},
                                  dir.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(bad\.sql:\d+:\d+: )"))) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(Cli, CheckRulesAcceptsTheShippedRules) {
  TempDir dir;
  const RunResult r = run_command({kBinary, "check-rules", (kSourceDir / "etc" / "rules.d").string()}, dir.path());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const RunResult one = run_command(
      {kBinary, "check-rules", (kSourceDir / "etc" / "rules.d" / "00-device-filter.sql").string()}, dir.path());
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;
}

// Cluster mode's view of the shipped rules (docs/scaling-out.md, "The shipped rules in cluster
// mode"): what runs in two phases, what at the merge stage, and what is refused and where.
TEST(Cli, CheckRulesForClusterModeSaysWhereEachShippedRuleRuns) {
  TempDir dir;
  const RunResult r = run_command(
      {kBinary, "check-rules", "--partition-field", "device", (kSourceDir / "etc" / "rules.d").string()}, dir.path());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  for (const char* line :
       {"10-sales.sql: ok (2 rules; fleet-wide in two phases: sales_indicators; at the merge stage: sales_peak)\n",
        "30-system-performance.sql: ok (2 rules; fleet-wide in two phases: system_performance; at the merge stage: "
        "performance_alerts)\n",
        "50-iot-devices.sql: ok (2 rules; fleet-wide in two phases: device_window_state; at the merge stage: "
        "device_status)\n"}) {
    EXPECT_NE(r.out.find(line), std::string::npos) << line << "\n" << r.out;
  }
  EXPECT_EQ(r.out.find("20-user-behavior.sql"), std::string::npos) << r.out;
  // Refused, each with its reason: first_seen per event (in a FILTER), a session per user.
  EXPECT_NE(r.err.find("20-user-behavior.sql:24:46: rule 'user_behavior': first_seen() needs OVER (PARTITION BY "
                       "device) (it is evaluated per event, on the partitions"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("20-user-behavior.sql:48:19: rule 'user_sessions': GROUP BY does not include the partition "
                       "key 'device' and the rule cannot run in two phases (SessionWindow"),
            std::string::npos)
      << r.err;
  std::size_t errors = 0;
  for (auto pos = r.err.find(": rule '"); pos != std::string::npos; pos = r.err.find(": rule '", pos + 1)) ++errors;
  EXPECT_EQ(errors, 2u) << r.err;
}

TEST(Cli, CheckRulesReportsFileLineColAndExitsOne) {
  TempDir dir;
  write_file(dir / "good.sql", device_filter_rules());
  write_file(dir / "bad.sql", "-- a comment line\nCREATE STREAM s WITH (TOPIC='a/+');\n\nCREATE RULE r AS SELECT FROM s WHERE;\n");
  const RunResult r = run_command({kBinary, "check-rules", (dir / "good.sql").string(), (dir / "bad.sql").string()},
                                  dir.path());
  EXPECT_EQ(r.exit_code, 1);
  const std::regex where(R"(bad\.sql:(\d+):(\d+): \S)");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, where)) << r.err;
  EXPECT_EQ(m[1].str(), "4") << r.err;  // the error is on the rule's line
  EXPECT_EQ(r.err.find("good.sql:"), std::string::npos) << r.err;
  // A missing file is an error too.
  const RunResult missing = run_command({kBinary, "check-rules", (dir / "nope.sql").string()}, dir.path());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.sql"), std::string::npos);
  // No path at all is a usage error.
  EXPECT_EQ(run_command({kBinary, "check-rules"}, dir.path()).exit_code, 2);
}

TEST(Cli, HelpAndVersion) {
  TempDir dir;
  const RunResult help = run_command({kBinary, "--help"}, dir.path());
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--broker"), std::string::npos);
  EXPECT_NE(help.out.find("replay"), std::string::npos);
  const RunResult version = run_command({kBinary, "--version"}, dir.path());
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out.rfind("streamgate ", 0), 0u) << version.out;
}

TEST(Cli, BadConfigurationExitsTwoWithOneLine) {
  TempDir dir;
  write_file(dir / "bad.conf", "broker = tcp://127.0.0.1:1883\nthis-option-does-not-exist = 1\n");
  const std::vector<std::vector<std::string>> cases = {
      {kBinary, "--no-such-option"},
      {kBinary, "--qos=7"},
      {kBinary, "--broker=http://example.com"},
      {kBinary, "--ring-capacity=1000"},
      {kBinary, "--ring-full-policy=sometimes"},
      {kBinary, "run", "--log-level=loud"},
      {kBinary, "--config", (dir / "bad.conf").string()},
      {kBinary, "--config", (dir / "missing.conf").string()},
      {kBinary, "--rules-dir", (dir / "no-such-dir").string()},
  };
  for (const auto& argv : cases) {
    const RunResult r = run_command(argv, dir.path());
    EXPECT_EQ(r.exit_code, 2) << argv.back() << "\n" << r.err;
    const auto err_lines = lines(r.err);
    ASSERT_EQ(err_lines.size(), 1u) << argv.back() << "\n" << r.err;
    EXPECT_EQ(err_lines[0].rfind("streamgate: error: ", 0), 0u) << r.err;
  }
}

TEST(Cli, PasswordIsNeverLogged) {
  TempDir dir;
  write_file(dir / "pw", "hunter2-secret\n");
  fs::create_directories(dir / "rules");
  write_file(dir / "rules" / "r.sql", device_filter_rules());
  // A broker that refuses: nothing listens on this port; the gateway logs connection attempts.
  const int port = pick_free_port();
  Process gw({kBinary, "--broker=tcp://127.0.0.1:" + std::to_string(port), "--username=alice",
              "--password-file=" + (dir / "pw").string(), "--rules-dir=" + (dir / "rules").string(),
              "--log-level=trace", "--reconnect-min=50ms", "--reconnect-max=100ms"},
             dir / "gw");
  ASSERT_TRUE(wait_until([&] { return gw.err_count("cannot connect") >= 2; })) << gw.logs();
  gw.signal(SIGTERM);
  EXPECT_EQ(gw.wait_exit(), 0) << gw.logs();
  EXPECT_EQ(gw.logs().find("hunter2"), std::string::npos);
}
