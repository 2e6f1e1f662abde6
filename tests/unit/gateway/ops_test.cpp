// Control-topic HMAC check, Prometheus/JSON formatting, bounded topic counters, HOST:PORT parsing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gateway/control.h"
#include "gateway/http_server.h"
#include "gateway/metrics.h"
#include "gateway/rule_files.h"
#include "gateway/rule_watcher.h"

using namespace streamgate::gateway;

TEST(ControlHmac, MatchesRfc4231TestCase2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(ControlHmac, VerifyAcceptsEitherCaseAndRejectsTampering) {
  const std::string payload = R"({"op":"list"})";
  const std::string mac = hmac_sha256_hex("s3cret", payload);
  EXPECT_TRUE(verify_hmac("s3cret", payload, mac));
  std::string upper = mac;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(verify_hmac("s3cret", payload, upper));
  EXPECT_FALSE(verify_hmac("other", payload, mac));
  EXPECT_FALSE(verify_hmac("s3cret", R"({"op":"remove"})", mac));
  EXPECT_FALSE(verify_hmac("s3cret", payload, mac.substr(0, 63)));
  EXPECT_FALSE(verify_hmac("s3cret", payload, ""));
}

TEST(ControlHandler, RefusesUnsignedAndBadlySignedRequestsWhenASecretIsSet) {
  ControlStats stats;
  ControlHandler h("gw/control", "k", "/nonexistent", "/nonexistent", stats);
  streamgate::rules::Engine engine;
  auto no_reload = [](const ControlHandler::Files&) { return std::vector<streamgate::rules::RuleError>{}; };
  auto r = h.handle(R"({"op":"list"})", engine, no_reload);
  EXPECT_EQ(r.topic, "gw/control/reply");
  EXPECT_FALSE(nlohmann::json::parse(r.payload)["ok"].get<bool>());
  const std::string payload = R"({"op":"list","id":7,"reply_to":"me/replies"})";
  nlohmann::json bad{{"payload", payload}, {"hmac", hmac_sha256_hex("wrong", payload)}};
  r = h.handle(bad.dump(), engine, no_reload);
  EXPECT_EQ(nlohmann::json::parse(r.payload)["error"], "bad hmac");
  EXPECT_EQ(r.topic, "gw/control/reply");  // an unauthenticated reply_to is not honoured
  nlohmann::json good{{"payload", payload}, {"hmac", hmac_sha256_hex("k", payload)}};
  r = h.handle(good.dump(), engine, no_reload);
  const auto j = nlohmann::json::parse(r.payload);
  EXPECT_TRUE(j["ok"].get<bool>()) << r.payload;
  EXPECT_EQ(j["id"], 7);
  EXPECT_EQ(r.topic, "me/replies");
  EXPECT_EQ(stats.denied.load(), 2u);
  EXPECT_EQ(stats.ok.load(), 1u);
}

// Under the systemd unit /etc is read-only (ProtectSystem=strict): rules added over the control
// topic live in the state directory and are loaded after the operator's rules directory.
TEST(ControlHandler, AddedRulesGoToTheControlRulesDirAndAreReadBackAfterTheRulesDir) {
  namespace fs = std::filesystem;
  const fs::path base = fs::temp_directory_path() / ("sg-control-" + std::to_string(::getpid()));
  fs::remove_all(base);
  fs::create_directories(base / "rules.d");
  std::ofstream(base / "rules.d" / "00-streams.sql")
      << "CREATE STREAM devices WITH (TOPIC = 'dev/+');\n"
         "CREATE RULE all_devices WITH (TOPIC = 'out/all') AS SELECT * FROM devices;\n";
  const std::string rules_dir = (base / "rules.d").string();
  // Named so that it sorts before rules.d: the load order must not depend on the path names.
  const std::string control_dir = (base / "a-state" / "control-rules").string();

  streamgate::rules::Engine engine;
  std::vector<RuleFile> initial;
  std::vector<std::string> problems;
  read_gateway_rule_files(rules_dir, control_dir, initial, problems);
  ASSERT_TRUE(problems.empty()) << problems.front();  // a control dir not made yet is no problem
  ASSERT_EQ(initial.size(), 1u);
  ASSERT_TRUE(engine.load_file(initial[0].path, initial[0].text).empty());
  auto reload = [&](const ControlHandler::Files& files) { return engine.reload(files); };

  ControlStats stats;
  ControlHandler h("gw/control", "", rules_dir, control_dir, stats);
  const nlohmann::json add{{"op", "add"}, {"rule", "hot"},
                           {"sql", "CREATE RULE hot WITH (TOPIC = 'out/hot') AS SELECT * FROM devices WHERE t > 50"}};
  auto r = nlohmann::json::parse(h.handle(add.dump(), engine, reload).payload);
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  const fs::path added = fs::path(control_dir) / "90-control-hot.sql";
  EXPECT_EQ(r["file"], added.string());
  EXPECT_TRUE(fs::exists(added));
  EXPECT_FALSE(fs::exists(base / "rules.d" / "90-control-hot.sql"));

  // What a restart or SIGHUP reads: the operator's files first (streams), then the added rule.
  std::vector<RuleFile> after;
  read_gateway_rule_files(rules_dir, control_dir, after, problems);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1].path, added.string());
  streamgate::rules::Engine restarted;
  for (const auto& f : after) EXPECT_TRUE(restarted.load_file(f.path, f.text).empty()) << f.path;
  EXPECT_EQ(restarted.rules().size(), 2u);

  r = nlohmann::json::parse(h.handle(R"({"op":"remove","rule":"hot"})", engine, reload).payload);
  ASSERT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_FALSE(fs::exists(added));
  EXPECT_EQ(engine.rules().size(), 1u);
  fs::remove_all(base);
}

TEST(ControlHandler, RuleNamesAreSafeFileNames) {
  EXPECT_TRUE(valid_control_rule_name("low_battery_2"));
  EXPECT_FALSE(valid_control_rule_name(""));
  EXPECT_FALSE(valid_control_rule_name("../etc"));
  EXPECT_FALSE(valid_control_rule_name("a b"));
  EXPECT_FALSE(valid_control_rule_name(std::string(65, 'a')));
}

TEST(Prometheus, FormatsHelpTypeLabelsAndEscapes) {
  std::vector<MetricFamily> f;
  f.push_back({"streamgate_messages_received_total", "messages in", "counter", {{{}, 42}}});
  f.push_back({"streamgate_rule_eval_seconds_total", "eval time", "counter",
               {{{{"rule", "a\"b\\c\nd"}}, 0.25}, {{{"rule", "x"}}, 3}}});
  f.push_back({"streamgate_ring_occupancy", "waiting", "gauge",
               {{{{"ring", "ingress"}}, 0}, {{{"ring", "egress"}}, 1}}});
  const std::string text = format_prometheus(f);
  EXPECT_EQ(text,
            "# HELP streamgate_messages_received_total messages in\n"
            "# TYPE streamgate_messages_received_total counter\n"
            "streamgate_messages_received_total 42\n"
            "# HELP streamgate_rule_eval_seconds_total eval time\n"
            "# TYPE streamgate_rule_eval_seconds_total counter\n"
            "streamgate_rule_eval_seconds_total{rule=\"a\\\"b\\\\c\\nd\"} 0.25\n"
            "streamgate_rule_eval_seconds_total{rule=\"x\"} 3\n"
            "# HELP streamgate_ring_occupancy waiting\n"
            "# TYPE streamgate_ring_occupancy gauge\n"
            "streamgate_ring_occupancy{ring=\"ingress\"} 0\n"
            "streamgate_ring_occupancy{ring=\"egress\"} 1\n");
}

TEST(Prometheus, JsonFormHasPlainValuesAndLabelledArrays) {
  std::vector<MetricFamily> f;
  f.push_back({"streamgate_uptime_seconds", "up", "gauge", {{{}, 1.5}}});
  f.push_back({"streamgate_drops_total", "drops", "counter", {{{{"reason", "ring_full"}}, 2}}});
  const auto j = nlohmann::json::parse(format_metrics_json(f, 0));
  EXPECT_EQ(j["streamgate_uptime_seconds"], 1.5);
  EXPECT_EQ(j["streamgate_drops_total"][0]["reason"], "ring_full");
  EXPECT_EQ(j["streamgate_drops_total"][0]["value"], 2);
  EXPECT_TRUE(j.contains("timestamp"));
}

TEST(Prometheus, CollectedFamiliesCarryTheDocumentedNames) {
  MetricsInputs in;
  streamgate::rules::RuleMetrics m;
  m.name = "r1";
  m.events_in = 5;
  m.dropped_keys = 1;
  m.dropped_windows = 2;
  m.dropped_rows = 3;
  m.dropped_values = 4;
  in.rules.push_back(m);
  DurabilityGauges d;
  in.durability = &d;
  const std::string text = format_prometheus(collect_metric_families(in));
  for (const char* name : {"streamgate_rule_events_in_total{rule=\"r1\"} 5", "streamgate_outbox_depth -1",
                           "streamgate_rule_drops_total{rule=\"r1\",reason=\"keys\"} 1",
                           "streamgate_rule_drops_total{rule=\"r1\",reason=\"windows\"} 2",
                           "streamgate_rule_drops_total{rule=\"r1\",reason=\"rows\"} 3",
                           "streamgate_rule_drops_total{rule=\"r1\",reason=\"distinct_values\"} 4",
                           "streamgate_checkpoint_duration_seconds", "streamgate_ring_occupancy{ring=\"ingress\"}",
                           "streamgate_resident_memory_bytes", "streamgate_late_events_total"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << "\n" << text;
  }
}

TEST(Metrics, TablesAreListedWithRowsLoadsAndRefusals) {
  MetricsInputs in;
  streamgate::rules::TableMetrics t;
  t.name = "devices";
  t.rows = 12;
  t.loads = 3;
  t.load_errors = 1;
  t.refused_rows = 4;
  t.bad_messages = 2;
  in.tables.push_back(t);
  const std::string text = format_prometheus(collect_metric_families(in));
  for (const char* line : {"streamgate_table_rows{table=\"devices\"} 12", "streamgate_table_loads_total{table=\"devices\"} 3",
                           "streamgate_table_load_errors_total{table=\"devices\"} 1",
                           "streamgate_table_refused_rows_total{table=\"devices\"} 4",
                           "streamgate_table_bad_messages_total{table=\"devices\"} 2",
                           "# TYPE streamgate_table_rows gauge", "# TYPE streamgate_table_loads_total counter"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // No tables, no table families (nothing to list, and no empty HELP blocks).
  EXPECT_EQ(format_prometheus(collect_metric_families(MetricsInputs{})).find("streamgate_table_"), std::string::npos);
}

TEST(TopicCounter, KeepsTheBusiestAndFoldsTheRestIntoOther) {
  TopicCounter c(3);
  for (int i = 0; i < 5; ++i) c.add("a");
  for (int i = 0; i < 3; ++i) c.add("b");
  c.add("c");
  c.add("d");  // over the bound: counted as other
  c.add("d");
  auto top = c.top(2);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0], (std::pair<std::string, std::uint64_t>{"a", 5}));
  EXPECT_EQ(top[1], (std::pair<std::string, std::uint64_t>{"b", 3}));
  EXPECT_EQ(top[2], (std::pair<std::string, std::uint64_t>{"other", 3}));
}

TEST(HttpServer, SplitsHostAndPort) {
  std::string host;
  int port = 0;
  EXPECT_TRUE(split_host_port("127.0.0.1:9108", host, port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9108);
  EXPECT_TRUE(split_host_port("[::1]:80", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(split_host_port("9108", host, port));
  EXPECT_FALSE(split_host_port("h:70000", host, port));
}

TEST(RuleWatcher, ReactsOnlyToVisibleSqlFiles) {
  EXPECT_TRUE(is_rule_file_name("10-sales.sql"));
  EXPECT_FALSE(is_rule_file_name(".10-sales.sql.tmp"));
  EXPECT_FALSE(is_rule_file_name(".#10-sales.sql"));
  EXPECT_FALSE(is_rule_file_name("10-sales.sql~"));
  EXPECT_FALSE(is_rule_file_name("4913"));
}
