// Function plugins with the real daemon: `plugins-dir` holding a plugin built for another ABI
// version (refused in one line, the gateway keeps running) and, after SIGHUP, the example plugin
// (loaded before the rules are reloaded, so a rule file that failed on its unknown function now
// loads and publishes results over MQTT).
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "mosquitto_fixture.h"
#include "mqtt_test_client.h"

using namespace streamgate::test;
using nlohmann::json;

namespace {

const char* const kStream =
    "CREATE STREAM rooms WITH (TOPIC='rooms/+/climate', FORMAT='json');\n"
    "CREATE RULE raw WITH (TOPIC='out/raw', QOS=1) AS SELECT room FROM rooms;\n";
const char* const kDew =
    "CREATE RULE dew WITH (TOPIC='out/dew', QOS=1) AS\n"
    "SELECT room, dew_point(temp, rh) AS dp FROM rooms;\n";

}  // namespace

TEST(Plugins, WrongAbiRefusedAndPluginAddedBySighupServesRules) {
  MosquittoBroker broker;
  TempDir plugins;
  fs::copy_file(STREAMGATE_WRONG_ABI_PLUGIN, plugins.path() / "libsg_test_wrong_abi.so");
  GatewayProcess gw(broker.url(), {{"00-rooms.sql", kStream}, {"10-dew.sql", kDew}},
                    {"--watch-rules=false", "--plugins-dir=" + plugins.path().string()});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  // One line for the refused library; the rule calling a function nobody registered is skipped.
  EXPECT_EQ(gw.process().err_count("built for plugin ABI version 99, this streamgate speaks version 1"), 1u)
      << gw.logs();
  EXPECT_GE(gw.process().err_count("unknown function 'dew_point'"), 1u) << gw.logs();
  EXPECT_GE(gw.process().err_count("skipped"), 1u) << gw.logs();

  MqttTestClient sub(broker.url(), "plugins-sub");
  sub.subscribe("out/#");
  MqttTestClient pub(broker.url(), "plugins-pub");

  fs::copy_file(STREAMGATE_EXAMPLE_PLUGIN, plugins.path() / "libsg_iot_functions.so");
  gw.process().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("rules reloaded") >= 1; })) << gw.logs();
  EXPECT_EQ(gw.process().err_count("plugin iot_functions 1.0 from"), 1u) << gw.logs();
  // The refused library is refused again (it is still there), never loaded.
  EXPECT_EQ(gw.process().err_count("built for plugin ABI version 99"), 2u) << gw.logs();

  pub.publish("rooms/r1/climate", R"({"room":"r1","temp":20,"rh":50})");
  ASSERT_TRUE(sub.wait_for("out/dew", 1)) << gw.logs();
  const auto rows = sub.on_topic("out/dew");
  const json row = json::parse(rows.front().payload);
  EXPECT_EQ(row["room"], "r1");
  const double a = 17.62, b = 243.12, g = std::log(0.5) + a * 20 / (b + 20);
  EXPECT_NEAR(row["dp"].get<double>(), b * g / (a - g), 1e-9);

  // A second SIGHUP loads nothing again and keeps the rule running.
  gw.process().signal(SIGHUP);
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("rules reloaded") >= 2; })) << gw.logs();
  EXPECT_EQ(gw.process().err_count("plugin iot_functions 1.0 from"), 1u) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}
