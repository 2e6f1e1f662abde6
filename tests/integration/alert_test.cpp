// CREATE ALERT end to end (issue 5): the shipped example alert rule in the real binary, events in
// over MQTT from a real Mosquitto, the alert raised then cleared on its topic, the current state
// of the key retained on `<topic>/<key>` for a subscriber that connects later, and an active
// alert carried over a restart of the gateway (checkpointed state) to its clear.
#include <gtest/gtest.h>

#include <regex>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "mosquitto_fixture.h"
#include "mqtt_test_client.h"

using namespace streamgate::test;
using nlohmann::json;

namespace {

// etc/examples/alert_raise_cooldown_clear.sql: `overheat` over machines/+/temp, raised when
// temp > 80, cleared once it has been <= 80 for CLEAR_AFTER = 1m, KEY = sensor.
const std::string kAlertTopic = "alerts/overheat";

std::string example_rules() {
  return read_file(kSourceDir / "etc" / "examples" / "alert_raise_cooldown_clear.sql");
}

std::string reading(const std::string& sensor, int temp, const std::string& hhmmss) {
  return json{{"sensor", sensor}, {"temp", temp}, {"ts", "2024-01-15T" + hhmmss + "Z"}}.dump();
}

//! Messages on `topic` whose payload has state `state`.
std::vector<json> in_state(MqttTestClient& c, const std::string& topic, const std::string& state) {
  std::vector<json> out;
  for (const auto& m : c.on_topic(topic)) {
    json p = json::parse(m.payload, nullptr, false);
    if (p.is_object() && p.value("state", "") == state) out.push_back(std::move(p));
  }
  return out;
}

bool wait_state(MqttTestClient& c, const std::string& topic, const std::string& state) {
  return wait_until([&] { return !in_state(c, topic, state).empty(); }, 30s);
}

//! What a dashboard connecting now sees on the key's state topic: exactly one retained message.
Received retained_state(const std::string& url, const std::string& client_id, const std::string& topic) {
  MqttTestClient late(url, client_id);
  late.subscribe(kAlertTopic + "/#");
  EXPECT_TRUE(late.wait_for(topic, 1, 20s)) << "no retained state on " << topic;
  const auto msgs = late.on_topic(topic);
  return msgs.empty() ? Received{} : msgs.back();
}

void expect_alert_fields(const json& p, const std::string& state) {
  EXPECT_EQ(p.value("alert", ""), "overheat") << p;  // the rule (CREATE ALERT name)
  EXPECT_EQ(p.value("key", ""), "s1") << p;
  EXPECT_EQ(p.value("severity", ""), "critical") << p;
  EXPECT_EQ(p.value("state", ""), state) << p;
  EXPECT_TRUE(p.contains("values") && p["values"].is_object()) << p;
  EXPECT_TRUE(std::regex_match(p.value("id", ""), std::regex("[0-9a-f]{16}"))) << p;
  for (const char* f : {"first_seen", "last_seen", "time"})
    EXPECT_TRUE(std::regex_match(p.value(f, ""), std::regex(R"(2024-01-15T10:\d\d:\d\dZ)"))) << f << ": " << p;
}

}  // namespace

TEST(Alert, RaisedThenClearedOverMqttWithRetainedKeyState) {
  MosquittoBroker broker;
  GatewayProcess gw(broker.url(), {{"alert.sql", example_rules()}});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient sub(broker.url(), "it-alert-sub");
  sub.subscribe(kAlertTopic);
  sub.subscribe(kAlertTopic + "/#");
  MqttTestClient pub(broker.url(), "it-alert-pub");

  pub.publish("machines/s1/temp", reading("s1", 75, "10:00:00"));  // below: nothing
  pub.publish("machines/s1/temp", reading("s1", 85, "10:01:00"));  // raises
  pub.publish("machines/s1/temp", reading("s1", 90, "10:02:00"));  // still true: not re-sent
  ASSERT_TRUE(wait_state(sub, kAlertTopic, "raised")) << gw.logs();
  ASSERT_TRUE(wait_state(sub, kAlertTopic + "/s1", "raised")) << gw.logs();

  const json raised = in_state(sub, kAlertTopic, "raised").front();
  expect_alert_fields(raised, "raised");
  EXPECT_EQ(raised["values"], (json{{"sensor", "s1"}, {"temp", 85}}));
  EXPECT_EQ(raised["first_seen"], "2024-01-15T10:01:00Z");
  EXPECT_EQ(raised["last_seen"], "2024-01-15T10:01:00Z");
  EXPECT_EQ(raised["time"], "2024-01-15T10:01:00Z");
  // The id is hash(alert, key, first_seen): the same on every run and platform (it is also the
  // id in tests/golden/alert_raise_cooldown_clear).
  EXPECT_EQ(raised["id"], "495042c2885b5f6c");
  EXPECT_EQ(in_state(sub, kAlertTopic + "/s1", "raised").front(), raised);

  // A dashboard connecting now sees the raised state, retained.
  {
    const Received r = retained_state(broker.url(), "it-alert-late-1", kAlertTopic + "/s1");
    EXPECT_TRUE(r.retained);
    EXPECT_EQ(json::parse(r.payload), raised);
  }

  pub.publish("machines/s1/temp", reading("s1", 70, "10:03:00"));  // false from 10:03
  pub.publish("machines/s1/temp", reading("s1", 72, "10:04:00"));  // false for 1m: clears
  ASSERT_TRUE(wait_state(sub, kAlertTopic, "cleared")) << gw.logs();
  ASSERT_TRUE(wait_state(sub, kAlertTopic + "/s1", "cleared")) << gw.logs();
  const json cleared = in_state(sub, kAlertTopic, "cleared").front();
  expect_alert_fields(cleared, "cleared");
  EXPECT_EQ(cleared["id"], raised["id"]);  // a clear carries its raise's id
  EXPECT_EQ(cleared["first_seen"], "2024-01-15T10:01:00Z");
  EXPECT_EQ(cleared["last_seen"], "2024-01-15T10:02:00Z");
  EXPECT_EQ(cleared["values"], (json{{"sensor", "s1"}, {"temp", 90}}));  // the latest true values
  EXPECT_EQ(cleared["time"], "2024-01-15T10:04:00Z");

  // Now the retained state is the clear.
  {
    const Received r = retained_state(broker.url(), "it-alert-late-2", kAlertTopic + "/s1");
    EXPECT_TRUE(r.retained);
    EXPECT_EQ(json::parse(r.payload), cleared);
  }
  // Exactly one raise and one clear, on each topic: nothing re-sent while the condition held.
  EXPECT_EQ(sub.on_topic(kAlertTopic).size(), 2u);
  EXPECT_EQ(sub.on_topic(kAlertTopic + "/s1").size(), 2u);
  EXPECT_EQ(gw.terminate(SIGTERM), 0) << gw.logs();
}

TEST(Alert, AnActiveAlertSurvivesAGatewayRestartAndClearsAfterIt) {
  MosquittoBroker broker;
  TempDir state;
  const std::vector<std::string> args{"--state-db=" + (state.path() / "state.db").string()};
  MqttTestClient sub(broker.url(), "it-alert-restart-sub");
  sub.subscribe(kAlertTopic);
  MqttTestClient pub(broker.url(), "it-alert-restart-pub");
  json raised;
  {
    GatewayProcess gw(broker.url(), {{"alert.sql", example_rules()}}, args);
    ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
    pub.publish("machines/s1/temp", reading("s1", 85, "10:01:00"));
    ASSERT_TRUE(wait_state(sub, kAlertTopic, "raised")) << gw.logs();
    raised = in_state(sub, kAlertTopic, "raised").front();
    EXPECT_EQ(gw.terminate(SIGTERM), 0) << gw.logs();  // final checkpoint holds the raised key
  }
  GatewayProcess gw(broker.url(), {{"alert.sql", example_rules()}}, args);
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  pub.publish("machines/s1/temp", reading("s1", 88, "10:02:00"));  // still raised: not re-sent
  pub.publish("machines/s1/temp", reading("s1", 60, "10:03:00"));
  pub.publish("machines/s1/temp", reading("s1", 61, "10:04:00"));
  ASSERT_TRUE(wait_state(sub, kAlertTopic, "cleared")) << gw.logs();
  const json cleared = in_state(sub, kAlertTopic, "cleared").front();
  EXPECT_EQ(cleared["id"], raised["id"]);
  EXPECT_EQ(cleared["first_seen"], "2024-01-15T10:01:00Z");
  EXPECT_EQ(cleared["last_seen"], "2024-01-15T10:02:00Z");
  EXPECT_EQ(in_state(sub, kAlertTopic, "raised").size(), 1u) << gw.logs();  // the restart raised nothing again
  EXPECT_EQ(gw.terminate(SIGTERM), 0) << gw.logs();
}
