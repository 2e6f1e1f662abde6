// Config: defaults, INI file + command-line precedence, password sources, and every error path
// that main turns into exit code 2 (one clear line each).
#include "gateway/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace sg = streamgate::gateway;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::map<std::string, std::string> g_env;

sg::ParseOutcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), "streamgate");
  return sg::parse_config(args, [](const char* name) -> const char* {
    auto it = g_env.find(name);
    return it == g_env.end() ? nullptr : it->second.c_str();
  });
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("sg-config-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

std::string error_of(std::vector<std::string> args) {
  auto r = parse(std::move(args));
  EXPECT_FALSE(r.config.has_value());
  EXPECT_EQ(r.error.find('\n'), std::string::npos) << "error must be one line: " << r.error;
  return r.error;
}

}  // namespace

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { g_env.clear(); }
};

TEST_F(ConfigTest, Defaults) {
  auto r = parse({});
  ASSERT_TRUE(r.config) << r.error;
  const sg::Config& c = *r.config;
  EXPECT_EQ(c.input.url, "tcp://127.0.0.1:1883");
  EXPECT_EQ(c.input.client_id.rfind("streamgate", 0), 0u);
  EXPECT_EQ(c.input.version, sg::MqttVersion::V311);
  EXPECT_TRUE(c.input.clean_session);
  EXPECT_EQ(c.input.keepalive, 30s);
  EXPECT_EQ(c.qos, 1);
  EXPECT_EQ(c.ring_capacity, 4096u);
  EXPECT_EQ(c.ring_full_policy, sg::RingFullPolicy::Spill);
  EXPECT_EQ(c.max_payload_bytes, 65536u);
  EXPECT_EQ(c.tick_interval, 100ms);
  EXPECT_EQ(c.batch_delay, 500us);
  EXPECT_FALSE(c.separate_output);
  EXPECT_EQ(c.output.url, c.input.url);
  EXPECT_TRUE(c.dead_letter_topic.empty());
  EXPECT_EQ(c.log_level, "info");
}

TEST_F(ConfigTest, CommandLineOptions) {
  auto r = parse({"--broker=ssl://broker.example:8883", "--client-id", "edge-1", "--username=u",
                  "--qos=2", "--mqtt-version=5", "--clean-session=false", "--keepalive=10s",
                  "--reconnect-min=100ms", "--reconnect-max=1m", "--rules-dir=/r",
                  "--state-db=/s.db", "--log-level=debug", "--ring-capacity=1024",
                  "--ring-full-policy=block", "--max-payload-bytes=256KiB",
                  "--dead-letter-topic=dlq/x", "--output-broker=tcp://up:1884",
                  "--tick-interval=250ms", "--subscribe=a/#", "--subscribe=b/+"});
  ASSERT_TRUE(r.config) << r.error;
  const sg::Config& c = *r.config;
  EXPECT_EQ(c.input.url, "ssl://broker.example:8883");
  EXPECT_EQ(c.input.client_id, "edge-1");
  EXPECT_EQ(c.input.username, "u");
  EXPECT_EQ(c.qos, 2);
  EXPECT_EQ(c.input.version, sg::MqttVersion::V5);
  EXPECT_FALSE(c.input.clean_session);
  EXPECT_EQ(c.input.keepalive, 10s);
  EXPECT_EQ(c.input.reconnect_min, 100ms);
  EXPECT_EQ(c.input.reconnect_max, 60s);
  EXPECT_EQ(c.rules_dir, "/r");
  EXPECT_EQ(c.state_db, "/s.db");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.ring_capacity, 1024u);
  EXPECT_EQ(c.ring_full_policy, sg::RingFullPolicy::Block);
  EXPECT_EQ(c.max_payload_bytes, 256u * 1024u);
  EXPECT_EQ(c.dead_letter_topic, "dlq/x");
  EXPECT_TRUE(c.separate_output);
  EXPECT_EQ(c.output.url, "tcp://up:1884");
  EXPECT_EQ(c.output.client_id, "edge-1-out");
  EXPECT_EQ(c.tick_interval, 250ms);
  EXPECT_EQ(c.extra_subscriptions, (std::vector<std::string>{"a/#", "b/+"}));
}

TEST_F(ConfigTest, IniFileWithCommandLineWinning) {
  TempDir dir;
  const std::string conf = dir.write("gw.conf",
                                     "# comment\n"
                                     "broker = tcp://10.0.0.1:1883\n"
                                     "client-id = from-file\n"
                                     "log-level = warn\n"
                                     "subscribe = x/#\n"
                                     "ring-capacity = 256\n");
  auto r = parse({"--config", conf, "--log-level=error", "--subscribe=y/#"});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_EQ(r.config->input.url, "tcp://10.0.0.1:1883");
  EXPECT_EQ(r.config->input.client_id, "from-file");
  EXPECT_EQ(r.config->log_level, "error");
  EXPECT_EQ(r.config->ring_capacity, 256u);
  // Repeatable options compose across file and command line.
  EXPECT_EQ(r.config->extra_subscriptions.size(), 2u);
  EXPECT_EQ(r.config->config_file, conf);
}

TEST_F(ConfigTest, PasswordFromFileOrEnvironment) {
  TempDir dir;
  g_env["STREAMGATE_PASSWORD"] = "from-env";
  auto r = parse({});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->input.password, "from-env");
  EXPECT_EQ(r.config->output.password, "from-env");
  const std::string pw = dir.write("pw", "s3cret\n");
  r = parse({"--password-file", pw});
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->input.password, "s3cret");  // the file wins, trailing newline stripped
  EXPECT_NE(error_of({"--password-file", (dir.path / "missing").string()}).find("password-file"),
            std::string::npos);
}

TEST_F(ConfigTest, HelpAndVersionArePrinted) {
  auto r = parse({"--help"});
  EXPECT_FALSE(r.config);
  EXPECT_TRUE(r.error.empty());
  EXPECT_NE(r.print.find("--broker"), std::string::npos);
  EXPECT_NE(r.print.find("ring-full-policy"), std::string::npos);
  r = parse({"--version"});
  EXPECT_EQ(r.print.rfind("streamgate ", 0), 0u);
}

TEST_F(ConfigTest, ErrorsAreOneClearLine) {
  EXPECT_NE(error_of({"--no-such-option"}).find("no-such-option"), std::string::npos);
  EXPECT_NE(error_of({"--broker=http://x:1"}).find("broker"), std::string::npos);
  EXPECT_NE(error_of({"--broker=tcp://x:99999"}).find("port"), std::string::npos);
  EXPECT_NE(error_of({"--qos=3"}).find("qos"), std::string::npos);
  EXPECT_NE(error_of({"--mqtt-version=4.5"}).find("mqtt-version"), std::string::npos);
  EXPECT_NE(error_of({"--clean-session=maybe"}).find("clean-session"), std::string::npos);
  EXPECT_NE(error_of({"--keepalive=soon"}).find("keepalive"), std::string::npos);
  EXPECT_NE(error_of({"--reconnect-min=10s", "--reconnect-max=1s"}).find("reconnect-max"),
            std::string::npos);
  EXPECT_NE(error_of({"--ring-capacity=1000"}).find("power of two"), std::string::npos);
  EXPECT_NE(error_of({"--ring-full-policy=drop-oldest"}).find("ring-full-policy"), std::string::npos);
  EXPECT_NE(error_of({"--max-payload-bytes=0"}).find("max-payload-bytes"), std::string::npos);
  EXPECT_NE(error_of({"--max-payload-bytes=lots"}).find("max-payload-bytes"), std::string::npos);
  EXPECT_NE(error_of({"--log-level=verbose"}).find("log-level"), std::string::npos);
  EXPECT_NE(error_of({"--dead-letter-topic=dl/#"}).find("dead-letter-topic"), std::string::npos);
  EXPECT_NE(error_of({"--tick-interval=0ms"}).find("tick-interval"), std::string::npos);
  EXPECT_NE(error_of({"--output-client-id=x"}).find("output-broker"), std::string::npos);
  EXPECT_NE(error_of({"--ring-capacity=1048576", "--max-payload-bytes=64MiB"}).find("1 GiB"),
            std::string::npos);
  EXPECT_NE(error_of({"--qos"}).find("qos"), std::string::npos);  // missing value
  EXPECT_NE(error_of({"--config=/nonexistent/streamgate.conf"}).find("cannot read"), std::string::npos);
}

TEST_F(ConfigTest, BatchDelayTakesMicrosecondsMillisecondsOrZero) {
  auto delay = [](const std::string& v) {
    auto r = parse({"--batch-delay=" + v});
    EXPECT_TRUE(r.config) << r.error;
    return r.config ? r.config->batch_delay : std::chrono::microseconds(-1);
  };
  EXPECT_EQ(delay("250us"), 250us);
  EXPECT_EQ(delay("2ms"), 2ms);
  EXPECT_EQ(delay("0"), 0us);
  EXPECT_EQ(delay("100ms"), 100ms);
  for (const char* bad : {"101ms", "1s", "-5us", "5 us", "us", "fast", "99999999999us"}) {
    EXPECT_NE(error_of({std::string("--batch-delay=") + bad}).find("batch-delay"), std::string::npos) << bad;
  }
}

TEST_F(ConfigTest, OutputBufferIsBoundedAndAboveTheInflightWindow) {
  auto r = parse({"--output-buffer=500"});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_EQ(r.config->output_buffer, 500u);
  EXPECT_EQ(parse({}).config->output_buffer, 10000u);
  for (const char* bad : {"99", "1000001", "0", "lots", "-5"}) {
    EXPECT_NE(error_of({std::string("--output-buffer=") + bad}).find("output-buffer"), std::string::npos) << bad;
  }
  // The window of results awaiting their PUBACK lives in the same buffer: it must leave room.
  EXPECT_NE(error_of({"--output-buffer=200", "--outbox-inflight=300"}).find("outbox-inflight"), std::string::npos);
}

TEST_F(ConfigTest, RuleStateBoundsAreConfigurableAndChecked) {
  auto r = parse({"--max-group-keys=5000", "--max-open-windows=64", "--max-rows-per-window=10",
                  "--max-pending-events=20", "--max-distinct-values=30", "--max-dedup-ids=40"});
  ASSERT_TRUE(r.config) << r.error;
  EXPECT_EQ(r.config->rule_bounds.max_group_keys, 5000u);
  EXPECT_EQ(r.config->rule_bounds.max_open_windows, 64u);
  EXPECT_EQ(r.config->rule_bounds.max_rows_per_window, 10u);
  EXPECT_EQ(r.config->rule_bounds.max_pending_events, 20u);
  EXPECT_EQ(r.config->rule_bounds.max_distinct_values, 30u);
  EXPECT_EQ(r.config->rule_bounds.max_dedup_ids, 40u);
  auto defaults = parse({});
  ASSERT_TRUE(defaults.config) << defaults.error;
  EXPECT_EQ(defaults.config->rule_bounds.max_group_keys, 100000u);
  EXPECT_EQ(defaults.config->rule_bounds.max_dedup_ids, 1000000u);
  for (const char* name : {"max-group-keys", "max-open-windows", "max-rows-per-window", "max-pending-events",
                           "max-distinct-values", "max-dedup-ids"}) {
    for (const char* bad : {"0", "-1", "many", "100000001"}) {
      const std::string err = error_of({std::string("--") + name + "=" + bad});
      EXPECT_NE(err.find(name), std::string::npos) << name << "=" << bad << ": " << err;
    }
  }
}

TEST_F(ConfigTest, UnknownOptionInFileNamesTheFile) {
  TempDir dir;
  const std::string conf = dir.write("bad.conf", "brokr = tcp://x:1\n");
  const std::string err = error_of({"--config", conf});
  EXPECT_NE(err.find(conf), std::string::npos);
  EXPECT_NE(err.find("brokr"), std::string::npos);
}

TEST_F(ConfigTest, Durations) {
  EXPECT_EQ(sg::parse_duration_ms("500ms"), 500ms);
  EXPECT_EQ(sg::parse_duration_ms("5s"), 5s);
  EXPECT_EQ(sg::parse_duration_ms("2m"), 120s);
  EXPECT_EQ(sg::parse_duration_ms("1h30m"), 5400s);
  EXPECT_EQ(sg::parse_duration_ms("3"), 3s);
  EXPECT_EQ(sg::parse_duration_ms("1.5s"), 1500ms);
  EXPECT_EQ(sg::parse_duration_ms(""), std::nullopt);
  EXPECT_EQ(sg::parse_duration_ms("5x"), std::nullopt);
  EXPECT_EQ(sg::parse_duration_ms("s"), std::nullopt);
  EXPECT_EQ(sg::parse_duration_ms("1m5"), std::nullopt);
}
