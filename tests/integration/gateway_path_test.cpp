// The gateway's path under the conditions its guarantees name (docs/guarantees.md), with the real
// binary and a real Mosquitto: kill -9 with a persistent session and no EVENT_ID (the broker's
// redeliveries are not counted twice), a full ingress ring with a backlog (nothing stalls or is
// lost, /metrics keeps answering), a disk-full period and a crash after it (totals stay right), a
// TLS handshake with a foreign certificate (an error line, not a crash), and the durability figures.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "metrics_client.h"
#include "mqtt_test_client.h"
#include "notify_listener.h"

namespace streamgate::test {
namespace {

using json = nlohmann::json;

constexpr std::int64_t kT0 = 1'700'000'000'000;  // ms, on a 1 s boundary

// Ten events per second of event time: window w holds events 10w..10w+9.
std::string event(int i) { return json{{"i", i}, {"ts", kT0 + i * 100LL}}.dump(); }
std::string flush_event(int i) { return json{{"i", -1}, {"ts", kT0 + i * 100LL + 3'600'000}}.dump(); }

// No EVENT_ID: nothing in the rule can recognise a repeated event; only the gateway can.
std::string count_rules(const std::string& in, const std::string& out) {
  return "CREATE STREAM s WITH (TOPIC = '" + in + "', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');\n"
         "CREATE RULE counts WITH (TOPIC = '" + out + "', QOS = 1, DELIVERY = 'exactly_once') AS\n"
         "SELECT count(*) AS n, min(i) AS lo, max(i) AS hi FROM s WHERE i >= 0 GROUP BY TumblingWindow('1s');\n";
}

struct WindowCheck {
  std::size_t windows = 0;       //!< distinct windows seen
  std::vector<std::string> bad;  //!< windows whose count is not 10, or that came twice differently
};

// Every window of ten events must say n = 10, once (repeats must be byte-identical).
WindowCheck check_windows(const std::vector<Received>& got) {
  WindowCheck c;
  std::map<int, std::string> by_window;
  for (const auto& m : got) {
    const auto j = json::parse(m.payload);
    const int w = j.at("lo").get<int>() / 10;
    auto [it, fresh] = by_window.emplace(w, m.payload);
    if (!fresh && it->second != m.payload) c.bad.push_back("window " + std::to_string(w) + " twice: " + it->second + " / " + m.payload);
    if (j.at("n").get<int>() != 10) c.bad.push_back("window " + std::to_string(w) + ": " + m.payload);
  }
  c.windows = by_window.size();
  return c;
}

std::size_t windows_seen(MqttTestClient& sub, const std::string& topic) {
  std::set<int> w;
  for (const auto& m : sub.on_topic(topic)) w.insert(json::parse(m.payload).at("lo").get<int>() / 10);
  return w.size();
}

TEST(GatewayPath, KillDashNineWithAPersistentSessionCountsEveryInputOnceWithoutEventId) {
  MosquittoBroker broker;
  TempDir state;
  const std::vector<std::string> args{"--state-db=" + (state.path() / "state.db").string(),
                                      "--client-id=sg-redelivery-test", "--clean-session=false",
                                      "--qos=1", "--checkpoint-interval=100ms"};
  const auto rules = count_rules("rd/in", "rd/out");
  MqttTestClient sub(broker.url(), "rd-sub");
  sub.subscribe("rd/out", 1);
  constexpr int kEvents = 8000;
  std::atomic<int> published{0};
  std::string logs;
  {
    // The first start creates the persistent session, so nothing published later is missed.
    GatewayProcess gw(broker.url(), {{"counts.sql", rules}}, args);
    ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
    std::thread publisher([&] {
      MqttTestClient pub(broker.url(), "rd-pub");
      for (int i = 0; i < kEvents; ++i) {
        pub.publish("rd/in", event(i));
        published.store(i + 1);
      }
    });
    // Kill -9 while input streams in at full speed: messages journaled whose PUBACK had not left
    // yet are redelivered by the broker (DUP) to the next run.
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    gw.process().signal(SIGKILL);
    gw.process().wait_exit(10s);
    for (int kill = 0; kill < 4; ++kill) {
      GatewayProcess again(broker.url(), {{"counts.sql", rules}}, args);
      ASSERT_TRUE(again.wait_subscribed()) << again.logs();
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      again.process().signal(SIGKILL);
      again.process().wait_exit(10s);
      logs += again.logs();
    }
    publisher.join();
  }
  GatewayProcess gw(broker.url(), {{"counts.sql", rules}}, args);
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient pub(broker.url(), "rd-pub-2");
  pub.publish("rd/in", flush_event(kEvents));
  ASSERT_TRUE(wait_until([&] { return windows_seen(sub, "rd/out") >= kEvents / 10; }, 60s))
      << windows_seen(sub, "rd/out") << " windows\n" << gw.logs();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
  const auto c = check_windows(sub.on_topic("rd/out"));
  EXPECT_EQ(c.windows, static_cast<std::size_t>(kEvents / 10));
  EXPECT_TRUE(c.bad.empty()) << c.bad.size() << " windows wrong, first: " << (c.bad.empty() ? "" : c.bad.front())
                             << "\n" << logs << gw.logs();
}

// A tiny ring and a backlog the broker kept for the persistent session: the receive thread never
// waits for the worker (which may wait for the publisher, which needs Paho), so nothing deadlocks,
// /metrics keeps answering and every message is processed.
class FullRing : public ::testing::TestWithParam<std::string> {};

TEST_P(FullRing, ABacklogThroughATinyRingNeitherStallsNorLosesInput) {
  MosquittoBroker broker;
  TempDir state;
  const std::vector<std::string> args{"--state-db=" + (state.path() / "state.db").string(),
                                      "--client-id=sg-fullring-" + GetParam(), "--clean-session=false", "--qos=1",
                                      "--ring-capacity=8", "--ring-full-policy=" + GetParam(),
                                      "--metrics-listen=127.0.0.1:0"};
  const char* rules =
      "CREATE STREAM s WITH (TOPIC = 'fr/in');\n"
      "CREATE RULE echo WITH (TOPIC = 'fr/out', QOS = 1) AS SELECT i FROM s;\n";
  MqttTestClient sub(broker.url(), "fr-sub");
  sub.subscribe("fr/out", 1);
  {
    GatewayProcess gw(broker.url(), {{"echo.sql", rules}}, args);  // creates the session
    ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
    EXPECT_EQ(gw.terminate(), 0) << gw.logs();
  }
  constexpr int kBacklog = 3000;
  {
    MqttTestClient pub(broker.url(), "fr-pub");
    for (int i = 0; i < kBacklog; ++i) pub.publish("fr/in", json{{"i", i}}.dump());
  }
  GatewayProcess gw(broker.url(), {{"echo.sql", rules}}, args);
  const int port = metrics_port(gw);
  ASSERT_NE(port, 0) << gw.logs();
  bool metrics_answered = true;
  ASSERT_TRUE(wait_until(
      [&] {
        metrics_answered = metrics_answered && metric_value(port, "streamgate_messages_received_total") >= 0;
        return sub.on_topic("fr/out").size() >= static_cast<std::size_t>(kBacklog);
      },
      90s))
      << sub.on_topic("fr/out").size() << " of " << kBacklog << "\n" << gw.logs();
  EXPECT_TRUE(metrics_answered);
  std::set<int> seen;
  for (const auto& m : sub.on_topic("fr/out")) seen.insert(json::parse(m.payload).at("i").get<int>());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kBacklog));
  // The metrics snapshot is rebuilt about once a second.
  EXPECT_TRUE(wait_until([&] { return metric_value(port, "streamgate_messages_processed_total") >= kBacklog; }));
  EXPECT_EQ(metric_value(port, "streamgate_drops_total{reason=\"ring_full\"}"), 0);
  // The ring was full (it holds 8): the policy was used, not bypassed.
  const double used = GetParam() == "spill" ? metric_value(port, "streamgate_ingress_spilled_total")
                                            : metric_value(port, "streamgate_ingress_blocked_total");
  EXPECT_GT(used, 0) << http_get(port, "/metrics");
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

INSTANTIATE_TEST_SUITE_P(Policies, FullRing, ::testing::Values("spill", "block"),
                         [](const auto& info) { return info.param; });

void set_file_size_limit(pid_t pid, rlim_t soft) {
  rlimit now{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, nullptr, &now), 0);
  rlimit want{soft, now.rlim_max};
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &want, nullptr), 0);
}

// The state db stops taking writes (a file-size limit, which SQLite sees as a full disk) while
// windows are open, comes back, and then the gateway is killed: the restart must give every
// window its full count (before, it restored the checkpoint from before the disk filled and
// replayed a journal with a hole, and re-emitted windows with partial counts under their ids).
TEST(GatewayPath, ADiskFullPeriodThenACrashKeepsEveryWindowsTotal) {
  MosquittoBroker broker;
  TempDir state;
  const std::vector<std::string> args{"--state-db=" + (state.path() / "state.db").string(),
                                      "--client-id=sg-diskfull-test", "--clean-session=false", "--qos=1",
                                      "--checkpoint-interval=100ms", "--metrics-listen=127.0.0.1:0"};
  const auto rules = count_rules("df/in", "df/out");
  MqttTestClient sub(broker.url(), "df-sub");
  sub.subscribe("df/out", 1);
  MqttTestClient pub(broker.url(), "df-pub");
  {
    GatewayProcess gw(broker.url(), {{"counts.sql", rules}}, args);
    ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
    const int port = metrics_port(gw);
    ASSERT_NE(port, 0) << gw.logs();
    for (int i = 0; i < 205; ++i) pub.publish("df/in", event(i));
    ASSERT_TRUE(wait_until([&] { return windows_seen(sub, "df/out") >= 20; })) << gw.logs();
    ASSERT_TRUE(wait_until([&] { return metric_value(port, "streamgate_checkpoints_total") >= 1; }));
    set_file_size_limit(gw.process().pid(), 4096);  // the "disk" is full from here
    for (int i = 205; i < 405; ++i) pub.publish("df/in", event(i));
    ASSERT_TRUE(wait_until([&] { return metric_value(port, "streamgate_storage_errors_total") >= 1; }))
        << http_get(port, "/metrics");
    ASSERT_TRUE(wait_until([&] { return windows_seen(sub, "df/out") >= 40; })) << windows_seen(sub, "df/out");
    set_file_size_limit(gw.process().pid(), RLIM_INFINITY);  // space again
    ASSERT_TRUE(wait_until([&] { return metric_value(port, "streamgate_storage_recoveries_total") >= 1; }, 30s))
        << http_get(port, "/metrics") << gw.logs();
    for (int i = 405; i < 605; ++i) pub.publish("df/in", event(i));
    ASSERT_TRUE(wait_until([&] { return windows_seen(sub, "df/out") >= 60; })) << gw.logs();
    gw.process().signal(SIGKILL);  // window 60 is open: its five events live in the journal
    gw.process().wait_exit(10s);
  }
  GatewayProcess gw(broker.url(), {{"counts.sql", rules}}, args);
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  for (int i = 605; i < 800; ++i) pub.publish("df/in", event(i));
  pub.publish("df/in", flush_event(800));
  ASSERT_TRUE(wait_until([&] { return windows_seen(sub, "df/out") >= 80; })) << gw.logs();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
  const auto c = check_windows(sub.on_topic("df/out"));
  EXPECT_EQ(c.windows, 80u);
  EXPECT_TRUE(c.bad.empty()) << c.bad.size() << " windows wrong, first: " << (c.bad.empty() ? "" : c.bad.front())
                             << "\n" << gw.logs();
}

// A broker (or a man in the middle) presenting a certificate the gateway does not trust: one
// error line naming the TLS failure, reconnect attempts counted, and the process stays up.
TEST(GatewayPath, ATlsHandshakeWithAForeignCertificateIsAnErrorLineNotACrash) {
  TempDir certs;
  const auto make_cert = [&](const std::string& name) {
    const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -keyout " +
                            (certs.path() / (name + ".key")).string() + " -out " +
                            (certs.path() / (name + ".pem")).string() + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  };
  if (!make_cert("server") || !make_cert("foreign")) GTEST_SKIP() << "openssl command not available";
  // Run as root, Mosquitto drops to its own user before it reads the certificate.
  fs::permissions(certs.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
  for (const char* f : {"server.pem", "server.key"}) {
    fs::permissions(certs.path() / f, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                          fs::perms::others_read);
  }
  MosquittoBroker broker("certfile " + (certs.path() / "server.pem").string() + "\nkeyfile " +
                         (certs.path() / "server.key").string() + "\n");
  const std::string url = "ssl://127.0.0.1:" + std::to_string(broker.port());
  GatewayProcess gw(url, {{"00-devices.sql", device_filter_rules()}},
                    {"--tls-ca-file=" + (certs.path() / "foreign.pem").string(), "--metrics-listen=127.0.0.1:0",
                    });
  const int port = metrics_port(gw);
  ASSERT_NE(port, 0) << gw.logs();
  ASSERT_TRUE(wait_until([&] {
    return metric_value(port, "streamgate_mqtt_connect_failures_total{connection=\"mqtt\"}") >= 3;
  }, 30s)) << gw.logs();
  EXPECT_TRUE(gw.process().running()) << gw.logs();
  EXPECT_NE(gw.logs().find("cannot connect to " + url), std::string::npos) << gw.logs();
  EXPECT_NE(gw.logs().find("TLS"), std::string::npos) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

// The durability figures an operator watches are written: checkpoints (count, duration, time),
// and the outbox depth, which grows while the output broker is away and drains when it is back.
TEST(GatewayPath, DurabilityFiguresFollowCheckpointsAndAnOutputOutage) {
  MosquittoBroker in_broker;
  MosquittoBroker out_broker;
  const char* rules =
      "CREATE STREAM s WITH (TOPIC = 'dm/in');\n"
      "CREATE RULE fwd WITH (TOPIC = 'dm/out', QOS = 1) AS SELECT i FROM s;\n";
  GatewayProcess gw(in_broker.url(), {{"fwd.sql", rules}},
                    {"--output-broker=" + out_broker.url(), "--checkpoint-interval=100ms",
                     "--metrics-listen=127.0.0.1:0"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  const int port = metrics_port(gw);
  ASSERT_NE(port, 0) << gw.logs();
  ASSERT_TRUE(wait_until([&] { return metric_value(port, "streamgate_checkpoints_total") >= 2; })) << gw.logs();
  EXPECT_GT(metric_value(port, "streamgate_last_checkpoint_timestamp_seconds"), 1.7e9);
  EXPECT_GE(metric_value(port, "streamgate_checkpoint_duration_seconds"), 0);
  EXPECT_EQ(metric_value(port, "streamgate_outbox_depth"), 0);
  out_broker.stop();
  MqttTestClient pub(in_broker.url(), "dm-pub");
  for (int i = 0; i < 50; ++i) pub.publish("dm/in", json{{"i", i}}.dump());
  ASSERT_TRUE(wait_until([&] { return metric_value(port, "streamgate_outbox_depth") == 50; }))
      << http_get(port, "/metrics");
  out_broker.start();
  ASSERT_TRUE(wait_until([&] { return metric_value(port, "streamgate_outbox_depth") == 0; }, 30s))
      << http_get(port, "/metrics");
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

// A result whose topic the MQTT client can never send (five template levels of 256 bytes each
// make a topic longer than MQTT's limit here) is dropped, counted and logged; it must not block
// the results after it — before, the worker retried it forever (QoS 0), or it stayed at the head
// of the outbox and every later result queued behind it (QoS 1).
class RefusedTopic : public ::testing::TestWithParam<std::string> {};

TEST_P(RefusedTopic, IsDroppedAndTheResultsAfterItStillFlow) {
  MosquittoBroker broker;
  const std::string rules =
      "CREATE STREAM s WITH (TOPIC = 'rt/in');\n"
      "CREATE RULE r WITH (TOPIC = 'rt/out/{a}/{b}/{c}/{d}/{e}', " + GetParam() + ") AS\n"
      "SELECT n, a, b, c, d, e FROM s;\n";
  GatewayProcess gw(broker.url(), {{"r.sql", rules}}, {"--metrics-listen=127.0.0.1:0"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  const int port = metrics_port(gw);
  ASSERT_NE(port, 0) << gw.logs();
  MqttTestClient sub(broker.url(), "rt-sub");
  sub.subscribe("rt/out/#");
  MqttTestClient pub(broker.url(), "rt-pub");
  const std::string level(300, 'x');
  pub.publish("rt/in", json{{"n", 1}, {"a", level}, {"b", level}, {"c", level}, {"d", level}, {"e", level}}.dump());
  for (int n = 2; n <= 4; ++n) {
    pub.publish("rt/in", json{{"n", n}, {"a", "a"}, {"b", "b"}, {"c", "c"}, {"d", "d"}, {"e", "e"}}.dump());
  }
  ASSERT_TRUE(sub.wait_for("rt/out/a/b/c/d/e", 3, 20s)) << gw.logs();
  ASSERT_TRUE(wait_until([&] {
    return metric_value(port, "streamgate_drops_total{reason=\"refused_by_client\"}") == 1;
  })) << http_get(port, "/metrics");
  EXPECT_EQ(sub.messages().size(), 3u);
  EXPECT_EQ(gw.process().err_count("refused by the MQTT client"), 1u) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

INSTANTIATE_TEST_SUITE_P(Delivery, RefusedTopic,
                         ::testing::Values("QOS = 0", "QOS = 1", "QOS = 1, DELIVERY = 'exactly_once'",
                                           "QOS = 1, DELIVERY = 'at_most_once'"));

[[maybe_unused]] long rss_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  }
  return -1;
}

// An output broker that keeps the connection but stops reading (SIGSTOP: a hung broker, a stalled
// link). Paho bounds its queue only while disconnected, so before this the results piled up in
// memory without end (20,000 results of 16 kB: 430 MB) and the watchdog kept pinging. Now the
// client holds at most output-buffer results, the worker waits without beating, the watchdog
// stops pinging; once the broker reads again everything arrives and the pings come back.
TEST(GatewayPath, AnOutputBrokerThatStopsReadingFillsABoundedBufferAndStopsTheWatchdog) {
  MosquittoBroker in_broker;
  MosquittoBroker out_broker;
  NotifyListener notify;
  const char* rules =
      "CREATE STREAM s WITH (TOPIC = 'fz/in');\n"
      "CREATE RULE fwd WITH (TOPIC = 'fz/out', QOS = 0) AS SELECT n, pad FROM s;\n";
  GatewayProcess gw(in_broker.url(), {{"fwd.sql", rules}},
                    {"--output-broker=" + out_broker.url(), "--output-buffer=300", "--ring-capacity=256",
                     "--keepalive=300s", "--metrics-listen=127.0.0.1:0"},
                    {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "1000000"}});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("output: connected") >= 1; })) << gw.logs();
  const int port = metrics_port(gw);
  ASSERT_NE(port, 0) << gw.logs();
  MqttTestClient sub(out_broker.url(), "fz-sub");
  sub.subscribe("fz/out", 0);
  ASSERT_TRUE(notify.wait_for("WATCHDOG=1", 2)) << gw.logs();

  out_broker.freeze();
  MqttTestClient pub(in_broker.url(), "fz-pub");
  constexpr int kEvents = 5000;
  const std::string pad(16 * 1024, 'p');
  for (int n = 0; n < kEvents; ++n) pub.publish("fz/in", json{{"n", n}, {"pad", pad}}.dump());
  // The buffer fills: the worker waits for room (and stops taking metrics snapshots: they age).
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("output buffer full") >= 1; }, 30s)) << gw.logs();
  // Stuck on a connected broker is stuck: no ping for two watchdog intervals (one may be on its way).
  ASSERT_TRUE(wait_until([&] { return gw.process().err_count("made no progress") >= 1; }, 10s)) << gw.logs();
  const std::size_t pings = notify.count("WATCHDOG=1");
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  EXPECT_LE(notify.count("WATCHDOG=1"), pings + 1);
  EXPECT_GT(metric_value(port, "streamgate_metrics_age_seconds"), 1.0) << http_get(port, "/metrics");
  // What is held is bounded: ~300 results of 16 kB, not 5,000 (the process before: +20 kB each).
  // Not under a sanitizer: its shadow memory and allocator alone take more than the bound (TSan:
  // 137 MB here); the Release run of this test checks it.
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(rss_bytes(gw.process().pid()), 60L * 1024 * 1024);
#endif

  out_broker.thaw();
  ASSERT_TRUE(sub.wait_for("fz/out", kEvents, 60s)) << "got " << sub.messages().size() << "\n" << gw.logs();
  std::set<int> seen;
  for (const auto& m : sub.on_topic("fz/out")) seen.insert(json::parse(m.payload).at("n").get<int>());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kEvents));
  const std::size_t after = notify.count("WATCHDOG=1");
  EXPECT_TRUE(notify.wait_for("WATCHDOG=1", after + 2, 10s)) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

}  // namespace
}  // namespace streamgate::test
