// The dashboard (issue 15) against the real binary and a real Mosquitto: the page and its
// security headers, /metrics and /health on the same server, the loopback rule at start,
// request bounds, live updates over SSE, the rule editor (check, try, deploy with and without
// a token), and a client that stops reading being dropped while another keeps receiving.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <regex>
#include <set>
#include <sstream>

#include "dashboard_fixture.h"

using namespace streamgate::test;
using nlohmann::json;

namespace {

std::string telemetry(const std::string& device, int battery) {
  return json{{"device_id", device}, {"status", "online"}, {"battery", battery}, {"signal", -70},
              {"timestamp", "2024-01-15T10:00:00Z"}}
      .dump();
}

std::string sha256_hex(const std::string& s) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), md, &len, EVP_sha256(), nullptr);
  std::string out;
  static const char* const kHex = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

json post_json(httplib::Client& c, const std::string& path, const json& body, const httplib::Headers& h = {}) {
  auto r = c.Post(path, h, body.dump(), "application/json");
  if (!r) return json{{"_status", -1}};
  json j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) j = json::object();
  j["_status"] = r->status;
  return j;
}

const std::map<std::string, std::string> kRules{{"00-device-filter.sql", device_filter_rules()}};

}  // namespace

TEST(Dashboard, NonLoopbackWithoutAuthFileFailsAtStartWithOneLine) {
  TempDir dir;
  fs::create_directories(dir / "rules.d");
  const auto r = run_command({kBinary, "--rules-dir", (dir / "rules.d").string(), "--state-db", "",
                              "--dashboard-listen", "0.0.0.0:" + std::to_string(pick_free_port())},
                             dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("dashboard-listen"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("loopback"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Dashboard, AMalformedAuthFileFailsAtStartNamingItsLine) {
  TempDir dir;
  fs::create_directories(dir / "rules.d");
  write_file(dir / "auth", "# tokens\ntoken " + std::string(64, 'a') + "\ntoken not-a-hash\n");
  const auto r = run_command({kBinary, "--rules-dir", (dir / "rules.d").string(), "--state-db", "",
                              "--dashboard-listen", "0.0.0.0:" + std::to_string(pick_free_port()),
                              "--dashboard-auth-file", (dir / "auth").string()},
                             dir.path());
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find((dir / "auth").string() + ":3:"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Dashboard, ServesThePageMetricsAndHealthWithinBounds) {
  MosquittoBroker broker;
  DashboardGateway d(broker.url(), kRules);
  ASSERT_TRUE(d.ready()) << d.gateway().logs();
  auto c = d.client();

  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_EQ(page->body.find("<script>"), std::string::npos) << "no inline script";
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  for (const char* asset : {"/app.js", "/app.css", "/vendor/uPlot.iife.min.js", "/vendor/uPlot.min.css", "/vendor/LICENSE"}) {
    auto r = c.Get(asset);
    ASSERT_TRUE(r) << asset;
    EXPECT_EQ(r->status, 200) << asset;
    EXPECT_GT(r->body.size(), 100u) << asset;
  }
  ASSERT_TRUE(wait_until([&] {
    auto m = c.Get("/metrics");
    return m && m->status == 200 && m->body.find("streamgate_messages_received_total") != std::string::npos;
  }));
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  // A body over the bound is refused before any handler runs.
  auto big = c.Post("/api/check", json{{"sql", std::string(200 * 1024, 'x')}}.dump(), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  // Not JSON: a clear 400, the gateway runs on.
  auto bad = c.Post("/api/check", "{not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  // Without dashboard-auth-file the dashboard is read-only.
  const json refused = post_json(c, "/api/deploy", {{"sql", "CREATE RULE x WITH (TOPIC='x') AS SELECT * FROM devices;"}});
  EXPECT_EQ(refused["_status"], 403) << refused;
  EXPECT_EQ(post_json(c, "/api/pause", {{"rule", "low_battery"}})["_status"], 403);

  // The request rate per client address is bounded.
  int limited = 0;
  for (int i = 0; i < 300 && limited == 0; ++i) {
    auto r = c.Get("/health");
    if (r && r->status == 429) ++limited;
  }
  EXPECT_GT(limited, 0);
  EXPECT_TRUE(d.gateway().process().running());
}

TEST(Dashboard, LiveUpdatesCarryRulesMetricsAndResults) {
  MosquittoBroker broker;
  DashboardGateway d(broker.url(), kRules);
  ASSERT_TRUE(d.ready()) << d.gateway().logs();
  SseReader sse(d.port());
  ASSERT_TRUE(wait_until([&] { return sse.count("state") == 1 && sse.count("metrics") >= 1; })) << d.gateway().logs();
  MqttTestClient pub(broker.url(), "dash-live-pub");
  pub.publish("devices/d7/telemetry", telemetry("d7", 12));
  auto has_result = [&] {
    for (const auto& [name, data] : sse.events()) {
      if (name != "tap") continue;
      for (const auto& item : json::parse(data)) {
        if (item["k"] == "result" && item["rule"] == "low_battery" && item["p"]["device_id"] == "d7") return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(wait_until(has_result)) << d.gateway().logs();
  // The rule list with its SQL rides on the metrics events.
  bool named = false;
  for (const auto& [name, data] : sse.events()) {
    if (name != "metrics") continue;
    const json event = json::parse(data);
    for (const auto& r : event["rules"]) named = named || (r["name"] == "low_battery" && r["sql"].get<std::string>().find("battery < 30") != std::string::npos);
  }
  EXPECT_TRUE(named);
}

TEST(Dashboard, EditorChecksTriesAndDeploysOnlyWithAToken) {
  MosquittoBroker broker;
  TempDir secrets;
  const std::string token = "s3cret-token-for-tests";
  write_file(secrets / "auth", "# dashboard tokens\ntoken " + sha256_hex(token) + "\n");
  DashboardGateway d(broker.url(), kRules, {"--dashboard-auth-file", (secrets / "auth").string()});
  ASSERT_TRUE(d.ready()) << d.gateway().logs();
  auto c = d.client();

  // A broken rule: the error is on line 3 of the edited text (the unknown stream).
  const std::string broken = "CREATE RULE low_or_mid WITH (TOPIC = 'analytics/low_or_mid') AS\n"
                             "SELECT device_id, battery\n"
                             "FROM devicez\n"
                             "WHERE battery < 50;";
  const json check = post_json(c, "/api/check", {{"sql", broken}});
  ASSERT_EQ(check["_status"], 200) << check;
  ASSERT_EQ(check["errors"].size(), 1u) << check;
  EXPECT_EQ(check["errors"][0]["line"], 3) << check;
  EXPECT_EQ(check["errors"][0]["column"], 6) << check;

  // Known recent events; the fixed rule's trial shows exactly the rows it would emit.
  MqttTestClient pub(broker.url(), "dash-editor-pub");
  pub.publish("devices/e1/telemetry", telemetry("e1", 10));
  pub.publish("devices/e2/telemetry", telemetry("e2", 45));
  pub.publish("devices/e3/telemetry", telemetry("e3", 80));
  std::string fixed = broken;
  fixed.replace(fixed.find("devicez"), 7, "devices");
  json trial;
  ASSERT_TRUE(wait_until([&] {
    trial = post_json(c, "/api/try", {{"sql", fixed}, {"events", 3}});
    return trial["_status"] == 200 && trial["events"] == 3;
  })) << trial;
  EXPECT_TRUE(trial["errors"].empty()) << trial;
  ASSERT_EQ(trial["rows"].size(), 2u) << trial;
  EXPECT_EQ(trial["rows"][0]["row"], (json{{"device_id", "e1"}, {"battery", 10}})) << trial;
  EXPECT_EQ(trial["rows"][1]["row"], (json{{"device_id", "e2"}, {"battery", 45}})) << trial;
  EXPECT_EQ(trial["rows"][0]["topic"], "analytics/low_or_mid");

  // Deploy: refused without a token and with a wrong one; nothing is written.
  EXPECT_EQ(post_json(c, "/api/deploy", {{"sql", fixed}})["_status"], 401);
  EXPECT_EQ(post_json(c, "/api/deploy", {{"sql", fixed}}, bearer("wrong"))["_status"], 401);
  EXPECT_EQ(post_json(c, "/api/deploy", {{"sql", broken}}, bearer(token))["_status"], 422);
  // With the token: through the control path, saved under control-rules/, live on MQTT.
  MqttTestClient sub(broker.url(), "dash-editor-sub");
  sub.subscribe("analytics/low_or_mid");
  const json deployed = post_json(c, "/api/deploy", {{"sql", fixed}}, bearer(token));
  ASSERT_EQ(deployed["_status"], 200) << deployed << d.gateway().logs();
  EXPECT_EQ(deployed["ok"], true);
  const std::string file = deployed.value("file", "");
  EXPECT_NE(file.find("control-rules"), std::string::npos) << deployed;
  EXPECT_TRUE(fs::exists(file)) << file;
  pub.publish("devices/e4/telemetry", telemetry("e4", 33));
  ASSERT_TRUE(sub.wait_for("analytics/low_or_mid", 1)) << d.gateway().logs();
  EXPECT_EQ(json::parse(sub.on_topic("analytics/low_or_mid")[0].payload)["device_id"], "e4");

  // Pause and resume go through the same path.
  EXPECT_EQ(post_json(c, "/api/pause", {{"rule", "low_or_mid"}})["_status"], 401);
  EXPECT_EQ(post_json(c, "/api/pause", {{"rule", "low_or_mid"}}, bearer(token))["_status"], 200);
  EXPECT_EQ(post_json(c, "/api/resume", {{"rule", "low_or_mid"}}, bearer(token))["_status"], 200);
  EXPECT_EQ(post_json(c, "/api/pause", {{"rule", "no_such_rule"}}, bearer(token))["_status"], 422);
}

TEST(Dashboard, AClientThatStopsReadingIsDroppedOthersKeepReceiving) {
  MosquittoBroker broker;
  DashboardGateway d(broker.url(), kRules, {"--dashboard-client-queue", "4", "--dead-letter-topic", "dead"});
  ASSERT_TRUE(d.ready()) << d.gateway().logs();
  SseReader good(d.port());
  ASSERT_TRUE(wait_until([&] { return good.count("metrics") >= 1; }));

  // The stalled client: a small receive buffer, a request, and never a read.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int small = 2048;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(d.port()));
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  ASSERT_EQ(::send(fd, req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));

  // Dead letters carry their payload to the page: a few KiB each fills the stalled socket.
  MqttTestClient pub(broker.url(), "dash-slow-pub");
  const std::string junk(4000, 'z');
  auto dropped = [&] {
    for (const auto& [name, data] : good.events()) {
      if (name == "metrics" && json::parse(data)["dashboard"]["clients_dropped"].get<int>() >= 1) return true;
    }
    return false;
  };
  for (int round = 0; round < 60 && !dropped(); ++round) {
    for (int i = 0; i < 20; ++i) pub.publish("devices/slow/telemetry", junk, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(wait_until(dropped)) << d.gateway().logs();
  EXPECT_GE(d.gateway().process().err_count("stopped reading; dropped"), 1u);
  // The reading client goes on receiving after the drop.
  const std::size_t before = good.count("metrics");
  EXPECT_TRUE(wait_until([&] { return good.count("metrics") >= before + 2; })) << d.gateway().logs();
  EXPECT_FALSE(good.done());
  ::close(fd);
}

// contrib/grafana/streamgate.json: every streamgate_* metric its queries use is one the running
// gateway exports on /metrics (a renamed metric would leave a silently empty panel).
TEST(Grafana, DashboardReferencesOnlyExportedMetrics) {
  const json board = json::parse(read_file(kSourceDir / "contrib" / "grafana" / "streamgate.json"), nullptr, false);
  ASSERT_TRUE(board.is_object());
  ASSERT_TRUE(board.contains("panels") && !board["panels"].empty());
  std::set<std::string> used;
  const std::regex name("streamgate_[a-z_]+");
  for (const auto& panel : board["panels"]) {
    for (const auto& t : panel.value("targets", json::array())) {
      const std::string expr = t.value("expr", "");
      for (std::sregex_iterator it(expr.begin(), expr.end(), name), end; it != end; ++it) used.insert(it->str());
    }
  }
  const std::string templ = board["templating"].dump();
  for (std::sregex_iterator it(templ.begin(), templ.end(), name), end; it != end; ++it) used.insert(it->str());
  ASSERT_GE(used.size(), 10u);

  MosquittoBroker broker;
  DashboardGateway d(broker.url(), kRules, {"--dead-letter-topic", "dead", "--control-topic", "ctl"});
  ASSERT_TRUE(d.ready()) << d.gateway().logs();
  auto c = d.client();
  std::string metrics;
  ASSERT_TRUE(wait_until([&] {
    auto r = c.Get("/metrics");
    if (r && r->status == 200) metrics = r->body;
    return !metrics.empty();
  }));
  std::set<std::string> exported;
  std::istringstream lines(metrics);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# TYPE ", 0) == 0) exported.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  for (const auto& m : used) EXPECT_TRUE(exported.count(m) == 1) << m << " is not exported by /metrics";
}
