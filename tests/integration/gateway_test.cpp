// End to end with a real Mosquitto and the real binary: events in over MQTT, results out over
// MQTT; broker killed and restarted mid-stream; clean exit on SIGTERM/SIGINT; dead letters;
// a separate output broker; systemd notify over a fake $NOTIFY_SOCKET.
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "mosquitto_fixture.h"
#include "mqtt_test_client.h"
#include "notify_listener.h"

using namespace streamgate::test;
using nlohmann::json;

namespace {

std::string telemetry(const std::string& device, int battery, const std::string& status = "online",
                      int second = 0) {
  char ts[64];
  std::snprintf(ts, sizeof ts, "2024-01-15T10:%02d:%02dZ", second / 60 % 60, second % 60);
  return json{{"device_id", device}, {"status", status}, {"battery", battery}, {"signal", -70},
              {"timestamp", ts}}
      .dump();
}

std::set<std::string> devices_in(const std::vector<Received>& msgs) {
  std::set<std::string> out;
  for (const auto& m : msgs) out.insert(json::parse(m.payload).value("device_id", ""));
  return out;
}

}  // namespace

TEST(Gateway, FilterRulePublishesProjectedResultsAndExitsCleanlyOnSigterm) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"00-device-filter.sql", device_filter_rules()}});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient sub(broker.url(), "it-sub");
  sub.subscribe("alerts/#");
  MqttTestClient pub(broker.url(), "it-pub");

  const std::vector<std::pair<std::string, int>> events = {
      {"device_001", 85}, {"device_002", 20}, {"device_003", 95}, {"device_004", 29},
      {"device_005", 30}, {"device_006", 5},  {"device_007", 60}, {"device_008", 12}};
  int second = 0;
  for (const auto& [dev, battery] : events) {
    pub.publish("devices/" + dev + "/telemetry", telemetry(dev, battery, "online", second++));
  }
  ASSERT_TRUE(sub.wait_for("alerts/low_battery", 4)) << gw.logs();
  const auto results = sub.on_topic("alerts/low_battery");
  EXPECT_EQ(devices_in(results), (std::set<std::string>{"device_002", "device_004", "device_006", "device_008"}));
  for (const auto& r : results) {
    const json p = json::parse(r.payload);
    // Projection: exactly the selected fields.
    EXPECT_EQ(p.size(), 3u) << r.payload;
    EXPECT_TRUE(p.contains("device_id") && p.contains("battery") && p.contains("status")) << r.payload;
    EXPECT_LT(p["battery"].get<double>(), 30);
    EXPECT_EQ(r.qos, 1);
  }
  EXPECT_EQ(gw.terminate(SIGTERM), 0) << gw.logs();
  EXPECT_NE(gw.logs().find("stopped:"), std::string::npos);
  // Nothing more than the four: no duplicates.
  EXPECT_EQ(sub.on_topic("alerts/low_battery").size(), 4u);
}

TEST(Gateway, SigintAlsoExitsZero) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"00-device-filter.sql", device_filter_rules()}});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  EXPECT_EQ(gw.terminate(SIGINT), 0) << gw.logs();
}

TEST(Gateway, ReconnectsAndResubscribesAfterBrokerRestart) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"00-device-filter.sql", device_filter_rules()}});
  ASSERT_TRUE(gw.wait_subscribed(1)) << gw.logs();
  {
    MqttTestClient sub(broker.url(), "it-sub-1");
    sub.subscribe("alerts/#");
    MqttTestClient pub(broker.url(), "it-pub-1");
    pub.publish("devices/d1/telemetry", telemetry("before_restart", 10));
    ASSERT_TRUE(sub.wait_for("alerts/low_battery", 1)) << gw.logs();
    // The broker dies mid-stream (no persistence: every subscription is gone with it).
    broker.kill();
  }
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("disconnected from") >= 1; }))
      << gw.logs();
  broker.start();  // same port
  ASSERT_TRUE(gw.wait_subscribed(2, 60s)) << gw.logs() << broker.logs();

  MqttTestClient sub(broker.url(), "it-sub-2");
  sub.subscribe("alerts/#");
  MqttTestClient pub(broker.url(), "it-pub-2");
  pub.publish("devices/d2/telemetry", telemetry("after_restart", 15, "online", 30));
  ASSERT_TRUE(sub.wait_for("alerts/low_battery", 1)) << gw.logs();
  EXPECT_EQ(devices_in(sub.on_topic("alerts/low_battery")), (std::set<std::string>{"after_restart"}));
  EXPECT_TRUE(gw.process().running());
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

TEST(Gateway, StartsBeforeTheBrokerAndConnectsWhenItAppears) {
  auto broker = std::make_unique<MosquittoBroker>();
  broker->stop();
  GatewayProcess gw(broker->url(), {{"00-device-filter.sql", device_filter_rules()}});
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("cannot connect") >= 1; })) << gw.logs();
  broker->start();
  ASSERT_TRUE(gw.wait_subscribed(1, 60s)) << gw.logs();
  MqttTestClient sub(broker->url(), "it-sub");
  sub.subscribe("alerts/#");
  MqttTestClient pub(broker->url(), "it-pub");
  pub.publish("devices/x/telemetry", telemetry("late_broker", 1));
  ASSERT_TRUE(sub.wait_for("alerts/low_battery", 1)) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

TEST(Gateway, BadMessagesGoToTheDeadLetterTopicAndGoodOnesStillFlow) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"00-device-filter.sql", device_filter_rules()}},
                    {"--dead-letter-topic=streamgate/dead", "--max-payload-bytes=1024"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient sub(broker.url(), "it-sub");
  sub.subscribe("alerts/#");
  sub.subscribe("streamgate/dead");
  MqttTestClient pub(broker.url(), "it-pub");
  pub.publish("devices/a/telemetry", "{not json");
  pub.publish("devices/b/telemetry", telemetry("good_one", 3));
  pub.publish("devices/c/telemetry", std::string(5000, ' ') + telemetry("too_big", 3));
  ASSERT_TRUE(sub.wait_for("streamgate/dead", 2)) << gw.logs();
  ASSERT_TRUE(sub.wait_for("alerts/low_battery", 1)) << gw.logs();
  std::set<std::string> reasons;
  for (const auto& m : sub.on_topic("streamgate/dead")) {
    const json j = json::parse(m.payload);
    reasons.insert(j.value("reason", ""));
    EXPECT_TRUE(j.contains("topic") && j.contains("payload")) << m.payload;
  }
  EXPECT_TRUE(reasons.count("too_large")) << gw.logs();
  EXPECT_EQ(reasons.size(), 2u);
  EXPECT_EQ(devices_in(sub.on_topic("alerts/low_battery")), (std::set<std::string>{"good_one"}));
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

TEST(Gateway, PublishesToASeparateOutputBroker) {
  MosquittoBroker input;
  MosquittoBroker upstream;
  GatewayProcess gw(input.url(), {{"00-device-filter.sql", device_filter_rules()}},
                    {"--output-broker=" + upstream.url()});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("output: connected") >= 1; })) << gw.logs();
  MqttTestClient up_sub(upstream.url(), "it-up-sub");
  up_sub.subscribe("alerts/#");
  MqttTestClient in_sub(input.url(), "it-in-sub");
  in_sub.subscribe("alerts/#");
  MqttTestClient pub(input.url(), "it-pub");
  pub.publish("devices/z/telemetry", telemetry("upstream_dev", 7));
  ASSERT_TRUE(up_sub.wait_for("alerts/low_battery", 1)) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
  EXPECT_TRUE(in_sub.on_topic("alerts/low_battery").empty());
}


TEST(Gateway, NotifiesSystemdReadyWatchdogAndStopping) {
  MosquittoBroker broker;
  NotifyListener notify;
  GatewayProcess gw(broker.url(), {{"00-device-filter.sql", device_filter_rules()}}, {},
                    {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "200000"}});
  ASSERT_TRUE(notify.wait_for("READY=1")) << gw.logs();
  // Pings keep coming while the (idle) worker is healthy.
  ASSERT_TRUE(notify.wait_for("WATCHDOG=1", 3)) << gw.logs();
  gw.process().signal(SIGTERM);
  EXPECT_TRUE(notify.wait_for("STOPPING=1")) << gw.logs();
  EXPECT_EQ(gw.process().wait_exit(), 0) << gw.logs();
}
