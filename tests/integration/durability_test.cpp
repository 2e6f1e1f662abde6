// Durability with the real binary and real Mosquitto: kill -9 in the middle of open windows and
// restart on the same state db (no window lost, none double-counted, repeats bounded and carrying
// the same result id, over MQTT 3.1.1 with the id field and MQTT 5 with the user property); an
// output broker that goes away and comes back (every result arrives, in order); thousands of bad
// messages of every kind mixed with good ones (exact results, every bad one counted by reason).
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <ostream>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "mqtt_test_client.h"

namespace streamgate::test {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;  // ms, on a 1 s boundary

const char* const kCountRules =
    // EVENT_ID: a message journaled just before kill -9 whose PUBACK never left is redelivered
    // by the broker; the id (checkpointed with the rule state) is what drops the second copy.
    "CREATE STREAM cs WITH (TOPIC = 'dur/in', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s', EVENT_ID = 'i');\n"
    "CREATE RULE counts WITH (TOPIC = 'dur/out', QOS = 1, DELIVERY = 'exactly_once') AS\n"
    "SELECT key, count(*) AS n, sum(v) AS s, min(i) AS lo FROM cs GROUP BY key, TumblingWindow('1s');\n";

// Event i: 10 per second of event time, keys k0..k2.
std::string event(int i) {
  return nlohmann::json{{"i", i}, {"key", "k" + std::to_string(i % 3)}, {"v", i}, {"ts", kT0 + i * 100LL}}.dump();
}

using WindowKey = std::pair<int, std::string>;  // (window index, key)
struct Totals {
  int n = 0;
  long long s = 0;
  bool operator==(const Totals&) const = default;
};

// The results an uninterrupted run must give for events [0, count) once every window closed.
std::map<WindowKey, Totals> expected_totals(int count) {
  std::map<WindowKey, Totals> out;
  for (int i = 0; i < count; ++i) {
    auto& t = out[{i / 10, "k" + std::to_string(i % 3)}];
    ++t.n;
    t.s += i;
  }
  return out;
}

// Parses the results; a (window, key) seen twice is a double count (or a duplicate result).
// `duplicates` counts exact repeats of a (window, key) result; `conflicts` counts a second,
// different result for the same (window, key), which would mean double counting.
std::map<WindowKey, Totals> actual_totals(const std::vector<Received>& msgs, int& duplicates,
                                          int* conflicts = nullptr) {
  std::map<WindowKey, Totals> out;
  duplicates = 0;
  if (conflicts) *conflicts = 0;
  for (const auto& m : msgs) {
    const auto j = nlohmann::json::parse(m.payload);
    const std::string key = j.at("key").get<std::string>();
    if (key == "flush") continue;
    const WindowKey wk{j.at("lo").get<int>() / 10, key};
    const Totals t{j.at("n").get<int>(), j.at("s").get<long long>()};
    if (auto it = out.find(wk); it != out.end()) {
      ++duplicates;
      if (conflicts && (it->second.n != t.n || it->second.s != t.s)) ++*conflicts;
    }
    out[wk] = t;
  }
  return out;
}

std::string flush_event(int i) {
  return nlohmann::json{{"i", i}, {"key", "flush"}, {"v", 0}, {"ts", kT0 + i * 100LL + 3'600'000}}.dump();
}

// A result as a consumer sees it: the payload and the deterministic id it carries.
struct IdResult {
  std::string payload;
  std::string id;  //!< empty: the result carried no id
};

// An MQTT 5 subscriber that keeps the `result_id` user property of every message.
class Mqtt5Subscriber {
 public:
  Mqtt5Subscriber(const std::string& url, const std::string& client_id, const std::string& filter)
      : client_(url, client_id, mqtt::create_options(MQTTVERSION_5)) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      IdResult r{m->get_payload_str(), {}};
      const auto& props = m->get_properties();
      for (std::size_t i = 0; i < props.count(mqtt::property::USER_PROPERTY); ++i) {
        const auto kv = mqtt::get<mqtt::string_pair>(props, mqtt::property::USER_PROPERTY, i);
        if (std::get<0>(kv) == "result_id") r.id = std::get<1>(kv);
      }
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back(std::move(r));
    });
    mqtt::connect_options opts;
    opts.set_mqtt_version(MQTTVERSION_5);
    opts.set_clean_start(true);
    opts.set_connect_timeout(10);
    client_.connect(opts)->wait_for(std::chrono::seconds(20));
    if (!client_.is_connected()) throw std::runtime_error("MQTT 5 test client cannot connect to " + url);
    client_.subscribe(filter, 1)->wait_for(std::chrono::seconds(20));
  }
  ~Mqtt5Subscriber() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(std::chrono::seconds(5));
    } catch (...) {
    }
  }
  std::vector<IdResult> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  mqtt::async_client client_;
  std::mutex mu_;
  std::vector<IdResult> received_;
};

// The output connection's protocol decides how the result id travels.
enum class IdCarrier { PayloadField, Mqtt5Property };

void PrintTo(IdCarrier c, std::ostream* os) {
  *os << (c == IdCarrier::PayloadField ? "payload-field" : "mqtt5-property");
}

class DurabilityCrash : public ::testing::TestWithParam<IdCarrier> {};

constexpr int kInflight = 16;  // --outbox-inflight: the most results a crash may repeat

TEST_P(DurabilityCrash, KillDashNineInOpenWindowsThenRestartGivesTheUninterruptedResults) {
  const bool v5 = GetParam() == IdCarrier::Mqtt5Property;
  MosquittoBroker broker;
  TempDir state;
  const std::string db = (state.path() / "state.db").string();
  std::vector<std::string> args{"--state-db=" + db,
                                std::string("--client-id=sg-crash-test-") + (v5 ? "5" : "3"),
                                "--clean-session=false",
                                "--checkpoint-interval=200ms",
                                "--qos=1",
                                "--outbox-inflight=" + std::to_string(kInflight)};
  if (v5) {
    args.push_back("--mqtt-version=5");
  } else {
    args.push_back("--result-id-field=_result_id");
  }
  std::optional<MqttTestClient> sub3;
  std::optional<Mqtt5Subscriber> sub5;
  if (v5) {
    sub5.emplace(broker.url(), "crash-sub5", "dur/out");
  } else {
    sub3.emplace(broker.url(), "crash-sub");
    sub3->subscribe("dur/out", 1);
  }
  auto results = [&] {
    std::vector<IdResult> out;
    if (v5) return sub5->received();
    for (const auto& m : sub3->on_topic("dur/out")) {
      const auto j = nlohmann::json::parse(m.payload);
      out.push_back({m.payload, j.is_object() && j.contains("_result_id") ? j["_result_id"].get<std::string>() : ""});
    }
    return out;
  };
  MqttTestClient pub(broker.url(), "crash-pub");
  constexpr int kTotal = 1000;
  {
    GatewayProcess gw(broker.url(), {{"counts.sql", kCountRules}}, args);
    ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
    for (int i = 0; i < 455; ++i) pub.publish("dur/in", event(i));
    // Windows 0..44 closed (their results are out), window 45 is open; let a checkpoint pass,
    // then more events that only the input journal holds.
    ASSERT_TRUE(wait_until([&] { return results().size() >= 45 * 3; })) << gw.logs();
    std::this_thread::sleep_for(500ms);
    for (int i = 455; i < 603; ++i) pub.publish("dur/in", event(i));
    // Kill right away: the last events are in the journal, not yet in a checkpoint, and the
    // results of windows 45..59 are on their way out (some sent, their PUBACKs not recorded).
    gw.process().signal(SIGKILL);
    ASSERT_TRUE(gw.process().wait_exit(10s));
  }
  // While the gateway is dead the broker queues these for its persistent session.
  for (int i = 603; i < 800; ++i) pub.publish("dur/in", event(i));
  const auto expected = expected_totals(kTotal);
  {
    GatewayProcess gw(broker.url(), {{"counts.sql", kCountRules}}, args);
    ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
    for (int i = 800; i < kTotal; ++i) pub.publish("dur/in", event(i));
    pub.publish("dur/in", flush_event(kTotal));
    ASSERT_TRUE(wait_until([&] {
      std::set<std::string> ids;
      for (const auto& r : results()) ids.insert(r.id);
      return ids.size() >= expected.size();
    })) << gw.logs();
    std::this_thread::sleep_for(500ms);  // anything extra (a duplicate) would arrive by now
    EXPECT_EQ(gw.terminate(), 0) << gw.logs();
    EXPECT_NE(gw.logs().find("restored the last checkpoint"), std::string::npos) << gw.logs();
  }
  const auto got = results();
  // Every result carries its id; a repeated id is the very same result (same payload).
  std::map<std::string, std::string> by_id;
  int repeats = 0;
  std::string repeated;  // which results came twice, for the failure message
  for (const auto& r : got) {
    ASSERT_FALSE(r.id.empty()) << r.payload;
    auto [it, fresh] = by_id.emplace(r.id, r.payload);
    if (!fresh) {
      ++repeats;
      repeated += r.payload + "\n";
      EXPECT_EQ(it->second, r.payload) << "id " << r.id << " carried two different results";
    }
  }
  // Repeats come from results in flight at the kill (sent, PUBACK not yet recorded): at most
  // --outbox-inflight of them; replayed windows are suppressed by the published ids. (Until
  // 2026-12-02 about one run in ten of the MQTT 5 variant saw up to 27: the output connection came
  // up between the sink's connection check and its outbox pump, so the rows sent then were resent
  // once more by the next check. MqttSink::output_ready() closes that window.)
  EXPECT_LE(repeats, kInflight) << repeated;
  if (repeats > kInflight) std::printf("over the bound, repeated:\n%s", repeated.c_str());
  std::printf("results received: %zu, distinct ids: %zu, repeats after kill -9: %d (bound %d)\n", got.size(),
              by_id.size(), repeats, kInflight);
  // A consumer that drops repeated ids sees exactly the uninterrupted run: one result per
  // (window, key), none lost, none double-counted, and one id per (window, key).
  std::vector<Received> deduplicated;
  std::map<WindowKey, std::string> id_of;
  for (const auto& [id, payload] : by_id) {
    deduplicated.push_back({"dur/out", payload});
    const auto j = nlohmann::json::parse(payload);
    const WindowKey wk{j.at("lo").get<int>() / 10, j.at("key").get<std::string>()};
    auto [it, fresh] = id_of.emplace(wk, id);
    EXPECT_TRUE(fresh) << "window " << wk.first << " key " << wk.second << " has two ids: " << it->second
                       << " and " << id;
  }
  int duplicates = 0;
  const auto actual = actual_totals(deduplicated, duplicates);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(by_id.size(), expected.size());
  EXPECT_EQ(actual.size(), expected.size());
  for (const auto& [wk, t] : expected) {
    auto it = actual.find(wk);
    ASSERT_NE(it, actual.end()) << "window " << wk.first << " key " << wk.second << " lost";
    EXPECT_EQ(it->second, t) << "window " << wk.first << " key " << wk.second << ": n=" << it->second.n
                             << " s=" << it->second.s << ", want n=" << t.n << " s=" << t.s;
  }
}

INSTANTIATE_TEST_SUITE_P(IdCarriers, DurabilityCrash,
                         ::testing::Values(IdCarrier::PayloadField, IdCarrier::Mqtt5Property),
                         [](const auto& info) {
                           return std::string(info.param == IdCarrier::PayloadField ? "Mqtt311PayloadField"
                                                                                    : "Mqtt5UserProperty");
                         });

TEST(Durability, OutputBrokerOutageResultsWaitInTheOutboxAndArriveInOrder) {
  MosquittoBroker in_broker;
  MosquittoBroker out_broker;
  TempDir state;
  const char* rules =
      "CREATE STREAM ob WITH (TOPIC = 'ob/in');\n"
      "CREATE RULE fwd WITH (TOPIC = 'ob/out', QOS = 1, DELIVERY = 'at_least_once') AS SELECT i FROM ob;\n";
  GatewayProcess gw(in_broker.url(), {{"fwd.sql", rules}},
                    {"--state-db=" + (state.path() / "state.db").string(), "--output-broker=" + out_broker.url(),
                     "--result-id-field=_rid"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient pub(in_broker.url(), "ob-pub");
  std::vector<Received> got;
  {
    MqttTestClient sub(out_broker.url(), "ob-sub-1");
    sub.subscribe("ob/out", 1);
    for (int i = 0; i < 100; ++i) pub.publish("ob/in", nlohmann::json{{"i", i}}.dump());
    ASSERT_TRUE(sub.wait_for("ob/out", 100)) << gw.logs();
    got = sub.on_topic("ob/out");
  }
  out_broker.stop();
  for (int i = 100; i < 600; ++i) pub.publish("ob/in", nlohmann::json{{"i", i}}.dump());
  std::this_thread::sleep_for(1s);
  out_broker.start();
  MqttTestClient sub(out_broker.url(), "ob-sub-2");
  sub.subscribe("ob/out", 1);
  // The gateway reconnects within reconnect-max (1 s); results published before our
  // subscription was in place would be missed, so the outbox must still hold most of them.
  for (int i = 600; i < 700; ++i) pub.publish("ob/in", nlohmann::json{{"i", i}}.dump());
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& m : sub.on_topic("ob/out")) {
          if (nlohmann::json::parse(m.payload).at("i") == 699) return true;
        }
        return false;
      },
      60s))
      << gw.logs();
  for (auto& m : sub.on_topic("ob/out")) got.push_back(m);
  // In order, first occurrences only (a reconnect may resend what was in flight: the same
  // result with the same id, which at-least-once results carry too).
  std::set<int> seen;
  std::map<std::string, int> id_to_i;
  int last = -1;
  for (const auto& m : got) {
    const auto j = nlohmann::json::parse(m.payload);
    const int i = j.at("i").get<int>();
    ASSERT_TRUE(j.contains("_rid") && j["_rid"].is_string()) << m.payload;
    const auto [it, fresh] = id_to_i.emplace(j["_rid"].get<std::string>(), i);
    EXPECT_EQ(it->second, i) << "one id, two results";
    if (!seen.insert(i).second) {
      EXPECT_FALSE(fresh) << "a repeated result came with a new id: " << m.payload;
      continue;
    }
    EXPECT_GT(i, last) << "out of order";
    last = i;
  }
  // Every result from the outage (100..599) arrived: none can have been published before the
  // second subscriber existed, because the broker was down until just before it subscribed...
  // except the few the gateway sent between out_broker.start() and sub.subscribe(); allow those
  // only if contiguous right after 99.
  int first_missing = -1;
  for (int i = 100; i < 700; ++i) {
    if (seen.count(i) == 0) {
      first_missing = i;
      break;
    }
  }
  EXPECT_EQ(first_missing, -1) << gw.logs();
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
}

TEST(Durability, ThousandsOfBadMessagesAreCountedByReasonAndGoodOnesGiveExactResults) {
  MosquittoBroker broker;
  const char* rules =
      "CREATE STREAM bi WITH (TOPIC = 'bi/in', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');\n"
      "CREATE RULE bcounts WITH (TOPIC = 'bi/out', QOS = 1) AS\n"
      "SELECT key, count(*) AS n, sum(v) AS s, min(i) AS lo FROM bi GROUP BY key, TumblingWindow('1s');\n";
  TempDir state;
  GatewayProcess gw(broker.url(), {{"bi.sql", rules}},
                    {"--state-db=" + (state.path() / "state.db").string(), "--max-payload-bytes=4096",
                     "--dead-letter-topic=bi/dead", "--ring-full-policy=block"});
  ASSERT_TRUE(gw.wait_subscribed()) << gw.logs();
  MqttTestClient sub(broker.url(), "bi-sub");
  sub.subscribe("bi/out", 1);
  sub.subscribe("bi/dead", 1);
  MqttTestClient pub(broker.url(), "bi-pub");
  const std::string deep = std::string(300, '[') + std::string(300, ']');
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"malformed_json", "{\"i\": 1, \"v\": "},
      {"malformed_json", "not json at all"},
      {"not_an_object", "[1,2,3]"},
      {"missing_timestamp", "{\"i\": 1, \"key\": \"k0\", \"v\": 1}"},
      {"bad_timestamp", "{\"i\": 1, \"key\": \"k0\", \"v\": 1, \"ts\": \"yesterday\"}"},
      {"bad_timestamp", "{\"i\": 1, \"key\": \"k0\", \"v\": 1, \"ts\": 99999999999999999}"},
      // An epoch string beyond int64 used to throw out of the engine (a worker error, no dead letter).
      {"bad_timestamp", "{\"i\": 1, \"key\": \"k0\", \"v\": 1, \"ts\": \"9999999999999999999\"}"},
      {"too_large", "{\"pad\": \"" + std::string(8000, 'x') + "\"}"},
      {"too_deep", "{\"a\": " + deep + "}"},
      {"malformed_json", std::string("{\"key\": \"\xff\xfe\", \"ts\": 1}")},
      {"malformed_json", "{\"i\": NaN, \"ts\": 1700000000000}"},
      {"malformed_json", "{\"i\": Infinity, \"ts\": 1700000000000}"},
  };
  constexpr int kGood = 300;
  std::map<std::string, int> sent_bad;
  int bad_total = 0;
  for (int i = 0; i < kGood; ++i) {
    pub.publish("bi/in", event(i));
    for (int r = 0; r < 7; ++r) {
      const auto& b = bad[static_cast<std::size_t>((i * 7 + r) % bad.size())];
      pub.publish("bi/in", b.second);
      ++sent_bad[b.first];
      ++bad_total;
    }
  }
  pub.publish("bi/in", flush_event(kGood));
  const auto expected = expected_totals(kGood);
  ASSERT_TRUE(sub.wait_for("bi/out", expected.size(), 60s)) << gw.logs();
  ASSERT_TRUE(sub.wait_for("bi/dead", static_cast<std::size_t>(bad_total), 60s))
      << sub.on_topic("bi/dead").size() << " of " << bad_total << "\n" << gw.logs();
  std::map<std::string, int> dead_by_reason;
  for (const auto& m : sub.on_topic("bi/dead")) ++dead_by_reason[nlohmann::json::parse(m.payload).at("reason")];
  EXPECT_EQ(dead_by_reason, sent_bad);
  int duplicates = 0;
  const auto actual = actual_totals(sub.on_topic("bi/out"), duplicates);
  EXPECT_EQ(duplicates, 0);
  EXPECT_EQ(actual.size(), expected.size());
  for (const auto& [wk, t] : expected) {
    auto it = actual.find(wk);
    ASSERT_NE(it, actual.end()) << "window " << wk.first << " key " << wk.second << " lost";
    EXPECT_EQ(it->second, t);
  }
  EXPECT_EQ(gw.terminate(), 0) << gw.logs();
  // The shutdown summary counts the same reasons.
  const std::string logs = gw.logs();
  for (const auto& [reason, n] : sent_bad) {
    if (reason == "too_large") continue;  // rejected before the engine: counted as dead letters
    EXPECT_NE(logs.find(" " + reason + "=" + std::to_string(n)), std::string::npos) << reason << "\n" << logs;
  }
}

}  // namespace
}  // namespace streamgate::test
