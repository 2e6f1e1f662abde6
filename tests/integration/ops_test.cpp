// Operations end to end: started as a notify service (fake $NOTIFY_SOCKET), hot reload of rule
// files with state kept and nothing lost, a broken file rejected, control over MQTT with and
// without HMAC, the Prometheus endpoint and /health, metrics on a topic.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/socket.h>

#include <cstring>
#include <regex>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "metrics_client.h"
#include "mosquitto_fixture.h"
#include "mqtt_test_client.h"
#include "notify_listener.h"

using namespace streamgate::test;
using nlohmann::json;

namespace {

const char* const kStream =
    "CREATE STREAM devices WITH (TOPIC='devices/+/telemetry', FORMAT='json', TIMESTAMP='timestamp', "
    "MAXOUTOFORDERNESS='5s');\n"
    "CREATE RULE low_battery WITH (TOPIC='alerts/low_battery', QOS=1) AS\n"
    "SELECT device_id, battery FROM devices WHERE battery < 30;\n";
const char* const kCounts =
    "CREATE RULE counts WITH (TOPIC='out/counts', QOS=1) AS\n"
    "SELECT count(*) AS n FROM devices GROUP BY TumblingWindow('1m');\n";

std::string event(const std::string& device, int battery, int second) {
  char ts[64];
  std::snprintf(ts, sizeof ts, "2024-01-15T10:%02d:%02dZ", second / 60 % 60, second % 60);
  return json{{"device_id", device}, {"battery", battery}, {"timestamp", ts}}.dump();
}


std::string hmac_hex(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  std::string out;
  char b[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", mac[i]);
    out += b;
  }
  return out;
}

}  // namespace

// The "Done when" test of issue 6.
TEST(Ops, NotifyServiceHotReloadKeepsStateLosesNothingAndRejectsBrokenFiles) {
  MosquittoBroker broker;
  NotifyListener notify;
  GatewayProcess gw(broker.url(), {{"00-devices.sql", kStream}, {"10-counts.sql", kCounts}}, {},
                    {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "400000"}});
  ASSERT_TRUE(notify.wait_for("READY=1")) << gw.logs();
  ASSERT_TRUE(notify.wait_for("WATCHDOG=1", 2)) << gw.logs();
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient sub(broker.url(), "ops-sub");
  sub.subscribe("alerts/#");
  sub.subscribe("out/#");
  MqttTestClient pub(broker.url(), "ops-pub");

  // Ten events in the window [10:00, 10:01) before the reload.
  for (int s = 0; s < 10; ++s) pub.publish("devices/d1/telemetry", event("d1", 95, s));

  // A new rule file (editor style: temp file + rename) and, right after, ten more events that
  // are in flight while the reload happens.
  const fs::path rules = gw.dir() / "rules.d";
  write_file(rules / ".20-hot.sql.swp",
             "CREATE RULE hot WITH (TOPIC='out/hot', QOS=1) AS SELECT device_id, battery FROM devices WHERE battery > 90;\n");
  fs::rename(rules / ".20-hot.sql.swp", rules / "20-hot.sql");
  for (int s = 10; s < 20; ++s) pub.publish("devices/d1/telemetry", event("d1", 95, s));
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("rules reloaded") >= 1; })) << gw.logs();
  pub.publish("devices/d2/telemetry", event("d2", 99, 21));
  ASSERT_TRUE(sub.wait_for("out/hot", 1)) << gw.logs();
  EXPECT_EQ(json::parse(sub.on_topic("out/hot").back().payload)["device_id"], "d2");

  // A broken file is rejected with file:line:col; the previous rules keep running.
  write_file(rules / "30-bad.sql", "CREATE RULE bad WITH (TOPIC='out/bad') AS\nSELEKT nothing FROM;\n");
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("reload failed") >= 1; })) << gw.logs();
  EXPECT_TRUE(std::regex_search(gw.logs(), std::regex("reload rejected: [^\\n]*30-bad\\.sql:2:[0-9]+"))) << gw.logs();
  pub.publish("devices/d3/telemetry", event("d3", 10, 22));
  ASSERT_TRUE(sub.wait_for("alerts/low_battery", 1)) << gw.logs();
  fs::remove(rules / "30-bad.sql");
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("rules reloaded") >= 2; })) << gw.logs();

  // Close the window: the unchanged `counts` rule kept its state across both reloads, so the
  // window holds the events from before and after them (10 + 10 + d2 + d3), none lost.
  pub.publish("devices/d1/telemetry", event("d1", 50, 90));
  ASSERT_TRUE(sub.wait_for("out/counts", 1)) << gw.logs();
  EXPECT_EQ(json::parse(sub.on_topic("out/counts").front().payload)["n"], 22) << sub.on_topic("out/counts").front().payload;

  // Watchdog pings kept coming through all of it.
  const auto pings = notify.count("WATCHDOG=1");
  ASSERT_TRUE(notify.wait_for("WATCHDOG=1", pings + 2)) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

TEST(Ops, ReloadSubscribesToANewStreamTopicAndSighupReloads) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"00-devices.sql", kStream}}, {"--watch-rules=false"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient sub(broker.url(), "ops-sub2");
  sub.subscribe("out/#");
  MqttTestClient pub(broker.url(), "ops-pub2");
  write_file(gw.dir() / "rules.d" / "10-room.sql",
             "CREATE STREAM rooms WITH (TOPIC='rooms/+/temp', FORMAT='json');\n"
             "CREATE RULE warm WITH (TOPIC='out/warm', QOS=1) AS SELECT room FROM rooms WHERE t > 25;\n");
  gw.process().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("subscribing to 'rooms/+/temp'") >= 1; })) << gw.logs();
  // The SUBACK is asynchronous: publish until the first result arrives.
  ASSERT_TRUE(wait_until([&] {
    pub.publish("rooms/r1/temp", R"({"room":"r1","t":30})");
    return sub.wait_for("out/warm", 1, 300ms);
  })) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

TEST(Ops, ControlTopicAddsListsAndRemovesRules) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"00-devices.sql", kStream}}, {"--control-topic=sg/it/control"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient c(broker.url(), "ops-ctl");
  c.subscribe("sg/it/control/reply");
  c.subscribe("out/#");
  const std::string reply = "sg/it/control/reply";

  c.publish("sg/it/control", json{{"op", "add"}, {"rule", "ctl_rule"}, {"id", "a1"},
                                  {"sql", "CREATE RULE ctl_rule WITH (TOPIC='out/ctl', QOS=1) AS SELECT device_id FROM devices"}}.dump());
  ASSERT_TRUE(c.wait_for(reply, 1)) << gw.logs();
  auto r = json::parse(c.on_topic(reply)[0].payload);
  EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_EQ(r["id"], "a1");
  EXPECT_TRUE(fs::exists(gw.dir() / "control-rules" / "90-control-ctl_rule.sql"));
  c.publish("devices/d9/telemetry", event("d9", 50, 1));
  ASSERT_TRUE(c.wait_for("out/ctl", 1)) << gw.logs();

  c.publish("sg/it/control", R"({"op":"list","id":"l1"})");
  ASSERT_TRUE(c.wait_for(reply, 2)) << gw.logs();
  r = json::parse(c.on_topic(reply)[1].payload);
  std::set<std::string> names;
  for (const auto& x : r["rules"]) names.insert(x["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"low_battery", "ctl_rule"})) << r.dump();

  // A broken SQL is refused with file:line:col and nothing is written.
  c.publish("sg/it/control", R"({"op":"add","rule":"broken","sql":"CREATE RULE broken AS SELEKT"})");
  ASSERT_TRUE(c.wait_for(reply, 3)) << gw.logs();
  r = json::parse(c.on_topic(reply)[2].payload);
  EXPECT_FALSE(r["ok"].get<bool>());
  EXPECT_FALSE(r["errors"].empty()) << r.dump();
  EXPECT_FALSE(fs::exists(gw.dir() / "control-rules" / "90-control-broken.sql"));

  c.publish("sg/it/control", R"({"op":"remove","rule":"ctl_rule"})");
  ASSERT_TRUE(c.wait_for(reply, 4)) << gw.logs();
  r = json::parse(c.on_topic(reply)[3].payload);
  EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
  EXPECT_FALSE(fs::exists(gw.dir() / "control-rules" / "90-control-ctl_rule.sql"));

  c.publish("sg/it/control", R"({"op":"pause","rule":"low_battery"})");
  ASSERT_TRUE(c.wait_for(reply, 5)) << gw.logs();
  EXPECT_TRUE(json::parse(c.on_topic(reply)[4].payload)["ok"].get<bool>());
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

TEST(Ops, ControlTopicWithSecretRefusesUnsignedAndBadHmac) {
  MosquittoBroker broker;
  TempDir secret_dir;
  write_file(secret_dir / "secret", "t0p-secret\n");
  GatewayProcess gw(broker.url(), {{"00-devices.sql", kStream}},
                    {"--control-topic=sg/it/control", "--control-secret-file=" + (secret_dir / "secret").string()});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient c(broker.url(), "ops-ctl2");
  const std::string reply = "sg/it/control/reply";
  c.subscribe(reply);
  const std::string add = json{{"op", "add"}, {"rule", "signed_rule"},
                               {"sql", "CREATE RULE signed_rule WITH (TOPIC='out/s') AS SELECT device_id FROM devices"}}.dump();
  c.publish("sg/it/control", add);  // unsigned
  c.publish("sg/it/control", json{{"payload", add}, {"hmac", hmac_hex("wrong", add)}}.dump());
  ASSERT_TRUE(c.wait_for(reply, 2)) << gw.logs();
  for (const auto& m : c.on_topic(reply)) EXPECT_FALSE(json::parse(m.payload)["ok"].get<bool>()) << m.payload;
  EXPECT_EQ(json::parse(c.on_topic(reply)[1].payload)["error"], "bad hmac");
  EXPECT_FALSE(fs::exists(gw.dir() / "control-rules" / "90-control-signed_rule.sql"));
  c.publish("sg/it/control", json{{"payload", add}, {"hmac", hmac_hex("t0p-secret", add)}}.dump());
  ASSERT_TRUE(c.wait_for(reply, 3)) << gw.logs();
  EXPECT_TRUE(json::parse(c.on_topic(reply)[2].payload)["ok"].get<bool>()) << c.on_topic(reply)[2].payload;
  EXPECT_TRUE(fs::exists(gw.dir() / "control-rules" / "90-control-signed_rule.sql"));
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

TEST(Ops, PrometheusEndpointHealthAndMetricsTopic) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"00-devices.sql", kStream}},
                    {"--metrics-listen=127.0.0.1:0", "--metrics-topic=sg/it/metrics", "--metrics-interval=500ms"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  const int port = metrics_port(gw);
  ASSERT_NE(port, 0) << gw.logs();
  MqttTestClient c(broker.url(), "ops-metrics");
  c.subscribe("sg/it/metrics");
  c.publish("devices/d1/telemetry", event("d1", 10, 1));
  std::string metrics;
  ASSERT_TRUE(wait_until([&] {
    metrics = http_get(port, "/metrics");
    return metrics.find("streamgate_rule_events_in_total{rule=\"low_battery\"} 1") != std::string::npos;
  })) << metrics << gw.logs();
  EXPECT_EQ(metrics.substr(0, 4), "200\n");
  for (const char* name :
       {"# TYPE streamgate_messages_received_total counter", "streamgate_topic_messages_in_total{topic=\"devices/d1/telemetry\"} 1",
        "streamgate_topic_messages_out_total{topic=\"alerts/low_battery\"}", "streamgate_rule_results_out_total{rule=\"low_battery\"} 1",
        "streamgate_rule_eval_seconds_total", "streamgate_late_events_total", "streamgate_drops_total{reason=\"ring_full\"} 0",
        "streamgate_ring_occupancy{ring=\"ingress\"}", "streamgate_outbox_depth", "streamgate_checkpoint_duration_seconds",
        "streamgate_mqtt_reconnects_total", "streamgate_mqtt_connected{connection=\"mqtt\"} 1", "streamgate_resident_memory_bytes"}) {
    EXPECT_NE(metrics.find(name), std::string::npos) << name;
  }
  EXPECT_EQ(http_get(port, "/health"), "200\nok\n");
  EXPECT_EQ(http_get(port, "/nope").substr(0, 3), "404");
  ASSERT_TRUE(c.wait_for("sg/it/metrics", 1)) << gw.logs();
  const auto j = json::parse(c.on_topic("sg/it/metrics").back().payload);
  EXPECT_TRUE(j.contains("streamgate_messages_received_total")) << j.dump();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

// A payload over max-payload-bytes has one name everywhere: the drop counter, the dead letter
// and the engine's own rejections all say `too_large` (the drop counter used to say `oversize`).
// A topic over the 1 KiB limit (kMaxTopicBytes) is dropped and counted as well.
TEST(Ops, OversizeMessagesAndLongTopicsAreCountedUnderOneName) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"00-devices.sql", kStream}},
                    {"--metrics-listen=127.0.0.1:0", "--max-payload-bytes=1024", "--dead-letter-topic=sg/dead"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  const int port = metrics_port(gw);
  ASSERT_NE(port, 0) << gw.logs();
  MqttTestClient c(broker.url(), "ops-oversize");
  c.subscribe("sg/dead", 1);
  c.subscribe("alerts/low_battery", 1);
  json big = json::parse(event("d1", 10, 1));
  big["pad"] = std::string(2000, 'x');
  c.publish("devices/d1/telemetry", big.dump());
  c.publish("devices/" + std::string(1100, 'd') + "/telemetry", event("d2", 10, 2));
  c.publish("devices/d3/telemetry", event("d3", 10, 3));
  ASSERT_TRUE(c.wait_for("alerts/low_battery", 1)) << gw.logs();
  ASSERT_TRUE(c.wait_for("sg/dead", 1)) << gw.logs();
  EXPECT_EQ(json::parse(c.on_topic("sg/dead").front().payload).at("reason"), "too_large");
  std::string metrics;
  EXPECT_TRUE(wait_until([&] {
    metrics = http_get(port, "/metrics");
    return metrics.find("streamgate_drops_total{reason=\"too_large\"} 1") != std::string::npos &&
           metrics.find("streamgate_drops_total{reason=\"topic_too_long\"} 1") != std::string::npos;
  })) << metrics;
  EXPECT_EQ(metrics.find("oversize"), std::string::npos) << metrics;
  EXPECT_EQ(c.on_topic("alerts/low_battery").size(), 1u) << c.on_topic("alerts/low_battery").back().payload << gw.logs();  // d3's only: the others never reached a rule
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}
