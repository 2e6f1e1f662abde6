// The dashboard in a real browser (issue 15): headless Chromium, driven over WebDriver by
// chromedriver (Debian's chromium and chromium-driver), opens the page of the real gateway fed
// by a real Mosquitto, and asserts on what the page shows after live updates: the rule names,
// a counter that grows between two looks, an alert raised and then cleared, an editor error at
// its line. Screenshots (PNG) are kept in <build>/dashboard-screenshots/ as test artefacts.
#include <gtest/gtest.h>

#include <netdb.h>

#include <openssl/evp.h>

#include "dashboard_fixture.h"

#ifndef STREAMGATE_ARTIFACT_DIR
#error "STREAMGATE_ARTIFACT_DIR must be defined by CMake"
#endif

using namespace streamgate::test;
using nlohmann::json;

namespace {

const char* find_binary(std::initializer_list<const char*> candidates) {
  for (const char* p : candidates) {
    if (::access(p, X_OK) == 0) return p;
  }
  return nullptr;
}

//! chromedriver on a free port and one headless Chromium session, both ended by the destructor.
class Browser {
 public:
  Browser(const char* driver, const char* chromium) : port_(pick_free_port()), http_("127.0.0.1", port_) {
    http_.set_read_timeout(60, 0);
    driver_ = std::make_unique<Process>(std::vector<std::string>{driver, "--port=" + std::to_string(port_)},
                                        dir_ / "chromedriver");
    if (!wait_until([&] { return port_accepts(port_); }, 30s)) throw std::runtime_error("chromedriver did not start");
    const json caps = {{"capabilities",
                        {{"alwaysMatch",
                          {{"browserName", "chrome"},
                           {"goog:chromeOptions",
                            {{"binary", chromium},
                             {"args", {"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                                       "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                       "--disable-dev-shm-usage", "--window-size=1280,900",
                                       "--user-data-dir=" + (dir_ / "profile").string()}}}}}}}}};
    const json r = call("POST", "/session", caps);
    session_ = r["value"].value("sessionId", "");
    if (session_.empty()) throw std::runtime_error("no WebDriver session: " + r.dump());
  }
  ~Browser() {
    if (!session_.empty()) call("DELETE", "/session/" + session_, nullptr);
  }

  void open(const std::string& url) { call("POST", path("/url"), {{"url", url}}); }
  //! Runs `script` (a function body) in the page and returns its value.
  json eval(const std::string& script) {
    return call("POST", path("/execute/sync"), {{"script", script}, {"args", json::array()}})["value"];
  }
  //! Polls `script` until it returns true (deadline as a safety net).
  bool until(const std::string& script, std::chrono::milliseconds timeout = 30s) {
    return wait_until([&] { return eval(script) == true; }, timeout);
  }
  void screenshot(const std::string& name) {
    const std::string b64 = call("GET", path("/screenshot"), nullptr)["value"].get<std::string>();
    std::string png(b64.size() / 4 * 3 + 3, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(png.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    ASSERT_GT(n, 0);
    std::size_t pad = 0;
    while (pad < b64.size() && b64[b64.size() - 1 - pad] == '=') ++pad;
    png.resize(static_cast<std::size_t>(n) - pad);
    const fs::path dir = STREAMGATE_ARTIFACT_DIR;
    fs::create_directories(dir);
    write_file(dir / (name + ".png"), png);
  }

 private:
  std::string path(const std::string& p) const { return "/session/" + session_ + p; }
  json call(const std::string& method, const std::string& p, const json& body) {
    httplib::Result r = method == "GET"      ? http_.Get(p)
                        : method == "DELETE" ? http_.Delete(p)
                                             : http_.Post(p, body.dump(), "application/json");
    if (!r) throw std::runtime_error("WebDriver " + method + " " + p + ": no answer");
    json j = json::parse(r->body, nullptr, false);
    if (r->status != 200) throw std::runtime_error("WebDriver " + method + " " + p + ": " + r->body.substr(0, 500));
    return j;
  }

  TempDir dir_;
  int port_;
  httplib::Client http_;
  std::unique_ptr<Process> driver_;
  std::string session_;
};

std::string telemetry(const std::string& device, int battery) {
  return json{{"device_id", device}, {"status", "online"}, {"battery", battery}, {"signal", -70},
              {"timestamp", "2024-01-15T10:00:00Z"}}
      .dump();
}
std::string reading(const std::string& sensor, int temp, const std::string& hhmmss) {
  return json{{"sensor", sensor}, {"temp", temp}, {"ts", "2024-01-15T" + hhmmss + "Z"}}.dump();
}

bool localhost_resolves() {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo("localhost", nullptr, &hints, &found) != 0) return false;
  ::freeaddrinfo(found);
  return true;
}

}  // namespace

TEST(DashboardBrowser, ShowsRulesLiveCountersAlertsAndEditorErrors) {
  const char* driver = find_binary({"/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"});
  const char* chromium = find_binary({"/usr/bin/chromium", "/usr/lib/chromium/chromium"});
  if (driver == nullptr || chromium == nullptr) GTEST_SKIP() << "chromium and chromium-driver are not installed";
  // chromedriver opens Chromium's DevTools WebSocket by the name "localhost": a root without
  // /etc/hosts (a bare chroot such as ../shared/tools/fresh_machine.sh makes) cannot run it.
  if (!localhost_resolves()) GTEST_SKIP() << "'localhost' does not resolve on this machine (no /etc/hosts entry)";

  MosquittoBroker broker;
  DashboardGateway d(broker.url(), {{"00-device-filter.sql", device_filter_rules()},
                                    {"10-alert.sql", read_file(kSourceDir / "etc" / "examples" / "alert_raise_cooldown_clear.sql")}});
  ASSERT_TRUE(d.ready()) << d.gateway().logs();
  MqttTestClient pub(broker.url(), "dash-browser-pub");
  for (int i = 0; i < 5; ++i) pub.publish("devices/b" + std::to_string(i) + "/telemetry", telemetry("b" + std::to_string(i), 10 + i * 20));

  Browser b(driver, chromium);
  b.open(d.url() + "/#rules");
  // The rule names, from the live metrics.
  ASSERT_TRUE(b.until("return document.querySelectorAll('#rules-table tbody tr').length >= 2")) << d.gateway().logs();
  const json names = b.eval("return [...document.querySelectorAll('#rules-table tbody tr[data-rule]')].map(r => r.dataset.rule).sort()");
  EXPECT_EQ(names, (json{"low_battery", "overheat"}));

  // A counter that grows between two looks: low_battery's events in.
  const std::string in_cell = "document.querySelector('#rules-table tr[data-rule=\"low_battery\"] .rule-in').textContent";
  ASSERT_TRUE(b.until("return Number(" + in_cell + ") >= 5"));
  const int first = std::stoi(b.eval("return " + in_cell).get<std::string>());
  for (int i = 0; i < 7; ++i) pub.publish("devices/c" + std::to_string(i) + "/telemetry", telemetry("c" + std::to_string(i), 15));
  ASSERT_TRUE(b.until("return Number(" + in_cell + ") >= " + std::to_string(first + 7)));
  // A rule file that fails to load (hot reload refuses it, the running rules stay) is listed.
  write_file(d.gateway().dir() / "rules.d" / "20-broken.sql", "CREATE RULE broken WITH (TOPIC = 'x') AS\nSELECT nope(\nFROM devices;\n");
  ASSERT_TRUE(b.until("const r = document.querySelector('#rules-table tr.failed'); "
                      "return !!r && r.textContent.includes('20-broken.sql:3:1: expected an expression')"))
      << d.gateway().logs();
  EXPECT_EQ(b.eval("return document.querySelectorAll('#rules-table tr[data-rule]').length"), 2);
  b.eval("document.querySelector('#rules-table tr[data-rule=\"low_battery\"]').click(); return true");
  ASSERT_TRUE(b.until("return document.querySelectorAll('#rd-results tbody tr').length >= 1"));
  b.screenshot("dashboard-rules");

  b.open(d.url() + "/#overview");
  ASSERT_TRUE(b.until("return document.getElementById('c-received').textContent !== '–'"));
  ASSERT_TRUE(b.until("return document.querySelectorAll('#topics-in tbody tr').length >= 1"));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a few chart points for the picture
  b.screenshot("dashboard-overview");

  // An alert raised, then cleared, in the alerts view.
  b.open(d.url() + "/#alerts");
  ASSERT_TRUE(b.until("return document.getElementById('alerts-none').hidden === false"));
  pub.publish("machines/s1/temp", reading("s1", 75, "10:00:00"));
  pub.publish("machines/s1/temp", reading("s1", 85, "10:01:00"));
  ASSERT_TRUE(b.until("return !!document.querySelector('#alerts-active tr[data-rule=\"overheat\"][data-key=\"s1\"]')"))
      << d.gateway().logs();
  EXPECT_EQ(b.eval("return document.querySelector('#alerts-active tr[data-key=\"s1\"] td.sev-critical').textContent"),
            "critical");
  b.screenshot("dashboard-alert-raised");
  pub.publish("machines/s1/temp", reading("s1", 70, "10:03:00"));
  pub.publish("machines/s1/temp", reading("s1", 72, "10:04:00"));
  ASSERT_TRUE(b.until("return !document.querySelector('#alerts-active tr[data-key=\"s1\"]') && "
                      "[...document.querySelectorAll('#alerts-transitions td.st-cleared')].length >= 1"))
      << d.gateway().logs();
  EXPECT_EQ(b.eval("return document.getElementById('alerts-none').hidden"), false);
  b.screenshot("dashboard-alert-cleared");

  // The editor: an error shown at its line as one types.
  b.open(d.url() + "/#editor");
  b.eval("const t = document.getElementById('ed-sql');"
         "t.value = \"CREATE RULE x WITH (TOPIC = 'x') AS\\nSELECT device_id\\nFROM devicez;\";"
         "t.dispatchEvent(new Event('input')); return true");
  ASSERT_TRUE(b.until("return !!document.querySelector('#ed-errors li[data-line=\"3\"]')"));
  EXPECT_NE(b.eval("return document.querySelector('#ed-errors li').textContent").get<std::string>().find("devicez"),
            std::string::npos);
  b.screenshot("dashboard-editor");
}
