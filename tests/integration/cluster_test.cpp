// Cluster mode (issue 14): a real 3-node nats-server cluster (nats_cluster_fixture.h) and 1-3
// real `streamgate` instances. The rules include a per-key window, a per-key pattern and a
// fleet-wide aggregate (two phases: partials per partition, the leased merge stage). Every test compares the results stream with what a single-box
// `streamgate replay` of the same input gives, as a multiset of (topic, payload), and checks that
// every result id is stored once. Input: 20 devices x 60 events in event-time order on
// devices/<id>/telemetry, then one trailing event per device an hour later that closes every
// window (replay's end-of-input flush also fires the trailing windows; those are left out).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <functional>
#include <iterator>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "gateway/cluster/nats_client.h"
#include "mqtt_test_client.h"
#include "nats_cluster_fixture.h"
#include "process.h"

namespace streamgate::test {
namespace {

namespace cl = streamgate::gateway::cluster;

constexpr int kDevices = 20;
constexpr int kEventsPerDevice = 60;
constexpr std::int64_t kBase = 1'700'000'000'000;  // ms

const char* kRules = R"sql(
CREATE STREAM telemetry WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE per_device WITH (TOPIC = 'out/per_device') AS
SELECT device, window_start() AS ws, count(*) AS n, sum(v) AS total, max(v) AS top
FROM telemetry GROUP BY device, TumblingWindow('10s');

-- Fleet-wide: GROUP BY without the partition key runs in two phases (partials + merge stage).
CREATE RULE fleet WITH (TOPIC = 'out/fleet') AS
SELECT window_start() AS ws, count(*) AS n, sum(v) AS total, round(avg(v), 9) AS mean,
       round(stddev(v), 9) AS sd, min(v) AS lo, max(v) AS hi, count(DISTINCT device) AS devices
FROM telemetry GROUP BY TumblingWindow('10s');

CREATE RULE hot_3x WITH (TOPIC = 'out/hot') AS
SELECT device, first_hot, last_hot, times
FROM telemetry
MATCH_RECOGNIZE (
  PARTITION BY device
  ORDER BY ts
  MEASURES FIRST(H.ts) AS first_hot, LAST(H.ts) AS last_hot, COUNT(H.*) AS times
  ONE ROW PER MATCH
  AFTER MATCH SKIP PAST LAST ROW
  PATTERN (H{3})
  WITHIN '1m'
  DEFINE H AS v > 60
);
)sql";

struct Event {
  std::string device;
  std::string payload;
};

std::vector<Event> make_input() {
  std::vector<Event> events;
  std::uint32_t x = 12345;
  for (int i = 0; i < kEventsPerDevice; ++i) {
    for (int d = 0; d < kDevices; ++d) {
      x = x * 1103515245u + 12345u;
      const int v = 1 + static_cast<int>((x >> 16) % 100);
      const std::string dev = "d" + std::to_string(d);
      events.push_back({dev, "{\"device\":\"" + dev + "\",\"v\":" + std::to_string(v) +
                                 ",\"ts\":" + std::to_string(kBase + i * 1000 + d * 10) + "}"});
    }
  }
  // v = 0 marks the trailing events: they close every window and start one of their own.
  for (int d = 0; d < kDevices; ++d) {
    const std::string dev = "d" + std::to_string(d);
    events.push_back({dev, "{\"device\":\"" + dev + "\",\"v\":0,\"ts\":" +
                               std::to_string(kBase + 3'600'000 + d * 10) + "}"});
  }
  return events;
}

using ResultSet = std::multiset<std::pair<std::string, std::string>>;  // (topic, payload)

bool trailing(const std::string& payload) {
  const auto j = nlohmann::json::parse(payload);
  return j.contains("total") && j["total"] == 0;
}

class ClusterTest : public ::testing::Test {
 protected:
  explicit ClusterTest(bool mqtt = false) : nats_(8, mqtt) {}

  void SetUp() override {
    fs::create_directories(dir_ / "rules");
    write_file(dir_ / "rules" / "10-cluster.sql", kRules);
    input_ = make_input();
    replay_expected();
    ASSERT_GT(expected_.size(), static_cast<std::size_t>(kDevices * 5));
    cl::ConnectOptions o;
    o.urls = nats_.urls();
    o.name = "test";
    try {
      client_ = std::make_unique<cl::JetStream>(o);
    } catch (const std::exception& e) {
      FAIL() << e.what() << "\n" << nats_.logs();
    }
  }

  //! expected_: what a single-box `streamgate replay` of input_ gives (trailing windows left out).
  void replay_expected() {
    expected_.clear();
    std::string jsonl;
    for (const auto& e : input_) jsonl += e.payload + "\n";
    write_file(dir_ / "input.jsonl", jsonl);
    auto r = run_command({STREAMGATE_BINARY, "replay", "--rules", (dir_ / "rules").string(), "--input",
                          (dir_ / "input.jsonl").string(), "--topic", replay_topic_},
                         dir_.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::string line;
    while (std::getline(lines, line)) {
      const auto j = nlohmann::json::parse(line);
      const std::string payload = j["payload"].dump();
      if (trailing(payload) || opened_by_trailing(j["payload"])) continue;
      expected_.insert({j["topic"].get<std::string>(), payload});
    }
  }

  std::unique_ptr<Process> start_instance(const std::string& id) {
    return std::make_unique<Process>(
        std::vector<std::string>{STREAMGATE_BINARY, "run", "--rules-dir", (dir_ / "rules").string(),
                                 "--state-db", "", "--watch-rules", "false", "--cluster-url", nats_.urls(),
                                 "--cluster-partitions", std::to_string(nats_.partitions()),
                                 "--cluster-lease-ttl", "3s", "--cluster-instance-id", id,
                                 "--checkpoint-interval", "200ms"},
        dir_ / (id + "-" + std::to_string(++starts_)));
  }

  //! Publishes input_[from, to) with a message id per event, so a retry after a node loss is
  //! stored once.
  void publish(std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      const auto& e = input_[i];
      bool done = false;
      for (int attempt = 0; attempt < 100 && !done; ++attempt) {
        try {
          client_->publish(subject_[0] + "." + e.device + "." + subject_[1], e.payload, "in-" + std::to_string(i));
          done = true;
        } catch (const cl::NatsError&) {
          std::this_thread::sleep_for(100ms);
        }
      }
      ASSERT_TRUE(done) << "cannot publish event " << i << "\n" << nats_.logs(3000);
    }
  }

  std::vector<cl::JetStream::StoredMessage> results() {
    try {
      return client_->read_all("STREAMGATE_RESULTS");
    } catch (const cl::NatsError&) {
      return {};
    }
  }

  //! Waits until the results stream holds as many results as the replay gave, then compares.
  //! `logs_hint` is called on a failure only, so it shows the logs as they are then.
  void expect_results_match_replay(const std::function<std::string()>& logs_hint) {
    std::vector<cl::JetStream::StoredMessage> got;
    const bool complete = wait_until(
        [&] {
          got = results();
          return got.size() >= expected_.size();
        },
        90s);
    ResultSet actual;
    std::set<std::string> ids;
    for (const auto& m : got) {
      // Key order differs between the replay line (re-serialised) and the engine's text.
      actual.insert({cl::subject_to_topic(m.subject), nlohmann::json::parse(m.data).dump()});
      EXPECT_FALSE(m.msg_id.empty()) << m.data;
      EXPECT_TRUE(ids.insert(m.msg_id).second) << "result id stored twice: " << m.msg_id;
    }
    EXPECT_TRUE(complete) << got.size() << " of " << expected_.size() << " results\n" << (complete ? "" : logs_hint());
    std::vector<std::pair<std::string, std::string>> missing, extra;
    std::set_difference(expected_.begin(), expected_.end(), actual.begin(), actual.end(), std::back_inserter(missing));
    std::set_difference(actual.begin(), actual.end(), expected_.begin(), expected_.end(), std::back_inserter(extra));
    std::string diff;
    diff += std::to_string(missing.size()) + " missing, " + std::to_string(extra.size()) + " extra\n";
    for (std::size_t i = 0; i < extra.size() && i < 20; ++i) diff += "extra   " + extra[i].first + " " + extra[i].second + "\n";
    for (std::size_t i = 0; i < missing.size() && i < 20; ++i) diff += "missing " + missing[i].first + " " + missing[i].second + "\n";
    const bool same = missing.empty() && extra.empty();
    EXPECT_TRUE(same) << diff.substr(0, 6000) << (same || !complete ? "" : logs_hint());
  }

  static std::string logs_of(const std::vector<std::unique_ptr<Process>*>& procs) {
    std::string s;
    for (auto* p : procs) {
      if (*p) s += (*p)->logs();
    }
    return s.size() > 20000 ? s.substr(s.size() - 20000) : s;
  }

  //! Waits until one of `procs` holds the merge stage and `min_results` results on `subject` are
  //! stored, kills that owner (-9), publishes input_ from `from` on, and expects the replay's
  //! result set from the survivors, one of which took the merge stage over.
  void kill_merge_stage_owner_then_publish_the_rest(std::vector<std::unique_ptr<Process>>& procs,
                                                    const std::string& subject, std::size_t min_results,
                                                    std::size_t from) {
    Process* owner = nullptr;
    std::vector<std::unique_ptr<Process>*> all;
    for (auto& p : procs) all.push_back(&p);
    ASSERT_TRUE(wait_until(
        [&] {
          for (auto& p : procs)
            if (p->err_count("took the merge stage") >= 1) owner = p.get();
          if (owner == nullptr) return false;
          std::size_t n = 0;
          for (const auto& m : results()) n += m.subject == subject ? 1 : 0;
          return n >= min_results;
        },
        60s))
        << logs_of(all);
    owner->signal(SIGKILL);
    owner->wait_exit(10s);
    publish(from, input_.size());
    std::vector<std::unique_ptr<Process>*> survivors;
    for (auto& p : procs)
      if (p.get() != owner) survivors.push_back(&p);
    expect_results_match_replay([&] { return logs_of(survivors); });
    std::size_t takers = 0;
    for (auto* p : survivors) takers += (*p)->err_count("took the merge stage");
    EXPECT_GE(takers, 1u) << logs_of(survivors);
  }

  //! A window (window_start / day_start) from trailing_from_ on: opened by trailing events.
  bool opened_by_trailing(const nlohmann::json& payload) const {
    if (trailing_from_.empty()) return false;
    for (const char* k : {"window_start", "day_start"})
      if (payload.contains(k) && payload[k].get<std::string>() >= trailing_from_) return true;
    return false;
  }

  TempDir dir_;
  std::string replay_topic_ = "devices/replay/telemetry";
  std::array<std::string, 2> subject_{"devices", "telemetry"};  //!< input subject: [0].<device>.[1]
  std::string trailing_from_;  //!< RFC 3339; empty: only the telemetry's trailing rule applies
  NatsCluster nats_;
  std::vector<Event> input_;
  ResultSet expected_;
  std::unique_ptr<cl::JetStream> client_;
  int starts_ = 0;
};

TEST_F(ClusterTest, ThreeInstancesGiveTheReplayResultSet) {
  auto a = start_instance("a");
  auto b = start_instance("b");
  auto c = start_instance("c");
  publish(0, input_.size());
  expect_results_match_replay([&] { return logs_of({&a, &b, &c}); });
  // Every partition was owned by some instance.
  for (auto* p : {&a, &b, &c}) EXPECT_TRUE((*p)->running()) << (*p)->logs();
}

TEST_F(ClusterTest, KillNineOfAnInstanceIsTakenOverWithoutLossOrRepeats) {
  auto a = start_instance("a");
  auto b = start_instance("b");
  auto c = start_instance("c");
  const std::size_t half = input_.size() / 2;
  publish(0, half);
  // Windows are open (the second half is not in), some results are out, b owns partitions.
  ASSERT_TRUE(wait_until([&] { return !results().empty() && b->err_count("took partition") >= 2; }, 60s))
      << logs_of({&a, &b, &c});
  b->signal(SIGKILL);
  b->wait_exit(10s);
  const std::size_t before = a->err_count("took partition") + c->err_count("took partition");
  publish(half, input_.size());
  expect_results_match_replay([&] { return logs_of({&a, &c}); });
  // The survivors own all 8 partitions: b's were taken over.
  EXPECT_GE(a->err_count("took partition") + c->err_count("took partition"), 8u)
      << "the survivors took over b's partitions\n" << logs_of({&a, &c});
  EXPECT_GT(a->err_count("took partition") + c->err_count("took partition"), before);
}

// An instance frozen (SIGSTOP) past its lease ttl loses its partitions to the others while it
// still believes it owns them; thawed, it must notice (renewal refused) and drop them without
// adding a wrong or repeated result.
TEST_F(ClusterTest, AFrozenOwnerThawedAfterATakeoverAddsNothing) {
  auto a = start_instance("a");
  auto b = start_instance("b");
  auto c = start_instance("c");
  const std::size_t half = input_.size() / 2;
  publish(0, half);
  ASSERT_TRUE(wait_until([&] { return !results().empty() && b->err_count("took partition") >= 2; }, 60s))
      << logs_of({&a, &b, &c});
  b->signal(SIGSTOP);
  // The partitions b believes it holds now (its log), each of which a or c must take after b
  // took it, before b thaws. Compared by the log lines' times, not by what a and c log after the
  // freeze: on a loaded machine b can stall past its lease before the freeze, and a or c then
  // takes a partition earlier (counting any "took partition" of a and c would also count a
  // rebalance still running between them).
  const std::regex line_re("(\\S+) info cluster: (took|released) partition ([0-9]+)");
  std::map<std::string, std::string> b_parts;  // partition -> time b took it
  {
    const std::string log = b->err();
    for (auto it = std::sregex_iterator(log.begin(), log.end(), line_re); it != std::sregex_iterator(); ++it) {
      if ((*it)[2] == "took") {
        b_parts[(*it)[3]] = (*it)[1];
      } else {
        b_parts.erase((*it)[3]);
      }
    }
  }
  ASSERT_FALSE(b_parts.empty()) << b->logs();
  auto taken_from_b = [&] {
    std::map<std::string, std::string> last_taken;  // partition -> latest time a or c took it
    const std::string log = a->err() + c->err();
    for (auto it = std::sregex_iterator(log.begin(), log.end(), line_re); it != std::sregex_iterator(); ++it) {
      if ((*it)[2] == "took" && (*it)[1].str() > last_taken[(*it)[3]]) last_taken[(*it)[3]] = (*it)[1];
    }
    return std::all_of(b_parts.begin(), b_parts.end(),
                       [&](const auto& bp) { return last_taken[bp.first] > bp.second; });
  };
  ASSERT_TRUE(wait_until(taken_from_b, 60s)) << logs_of({&a, &b, &c});
  publish(half, input_.size() - kDevices);
  b->signal(SIGCONT);
  ASSERT_TRUE(wait_until([&] { return b->err_count("dropping it") >= 1; }, 30s)) << logs_of({&a, &b, &c});
  publish(input_.size() - kDevices, input_.size());
  expect_results_match_replay([&] { return logs_of({&a, &b, &c}); });
  EXPECT_TRUE(b->running()) << b->logs();
}

// An owner whose consumer is deleted under it (an instance frozen while taking the partition
// thaws and, from the checkpoint, deletes "the previous owner's" consumer, which is the live
// owner's) must notice: a pull from a deleted consumer times out like an empty one, so the
// partition looked idle for ever and its later input was never read (4 of 172 results missing
// in a TSan run, session 8). The merge stage's consumer likewise. Here the test deletes every
// partition's consumer and the merge stage's itself.
TEST_F(ClusterTest, AnOwnerWhoseConsumerIsDeletedReadsOnFromItsCheckpoint) {
  auto a = start_instance("a");
  const std::size_t half = input_.size() / 2;
  publish(0, half);
  auto state = client_->key_value("streamgate_state", 1, 0);
  std::set<std::string> consumers;
  auto consumer_in = [&](const std::string& key) {  // of the checkpoint under `key`
    const auto entry = state->get(key);
    if (!entry) return false;
    consumers.insert(nlohmann::json::from_cbor(entry->value).at("consumer").get<std::string>());
    return true;
  };
  ASSERT_TRUE(wait_until(
      [&] {
        consumers.clear();
        try {
          for (int p = 0; p < nats_.partitions(); ++p) {
            if (!consumer_in("p." + std::to_string(p))) return false;
          }
          if (!consumer_in("global")) return false;  // the merge stage's
        } catch (const cl::NatsError&) {
          return false;  // a slow server: ask again
        }
        return !results().empty();
      },
      60s))
      << a->logs();
  std::this_thread::sleep_for(300ms);  // no fetch waiting: most deletions go unannounced
  for (const auto& c : consumers) {
    client_->delete_consumer(c.find("-merge-") != std::string::npos ? "STREAMGATE_IN_PARTIALS" : "STREAMGATE_IN", c);
  }
  std::this_thread::sleep_for(300ms);
  publish(half, input_.size());
  expect_results_match_replay([&] { return a->logs(); });
  // Each deletion is noticed, by the consumer-info check or (a fetch was waiting) by the error.
  EXPECT_GE(a->err_count("is gone (deleted by an instance taking the partition)"), 1u) << a->logs();
  EXPECT_GE(a->err_count("took the merge stage"), 2u) << a->logs();
  EXPECT_TRUE(a->running()) << a->logs();
}

TEST_F(ClusterTest, KillNineOfANatsNodeLosesAndRepeatsNothing) {
  auto a = start_instance("a");
  auto b = start_instance("b");
  const std::size_t half = input_.size() / 2;
  publish(0, half / 2);
  nats_.kill(1);
  publish(half / 2, half);
  nats_.start(1);
  publish(half, input_.size());
  expect_results_match_replay([&] { return logs_of({&a, &b}) + nats_.logs().substr(0, 4000); });
}

TEST_F(ClusterTest, InstanceAddedWhileTrafficFlowsTakesItsShare) {
  auto a = start_instance("a");
  const std::size_t half = input_.size() / 2;
  publish(0, half);
  ASSERT_TRUE(wait_until([&] { return !results().empty() && a->err_count("took partition") == 8; }, 60s))
      << a->logs();
  // b joins with windows open and input still to come: a gives up part of its share.
  auto b = start_instance("b");
  ASSERT_TRUE(wait_until([&] { return b->err_count("took partition") >= 1; }, 60s)) << logs_of({&a, &b});
  EXPECT_GE(a->err_count("released partition"), 1u) << logs_of({&a, &b});
  publish(half, input_.size());
  expect_results_match_replay([&] { return logs_of({&a, &b}); });
  EXPECT_TRUE(wait_until([&] { return b->err_count("took partition") >= 4; }, 30s)) << logs_of({&a, &b});
}

TEST_F(ClusterTest, AllInstancesRestartedResumeFromTheirCheckpoints) {
  auto a = start_instance("a");
  auto b = start_instance("b");
  const std::size_t half = input_.size() / 2;
  publish(0, half);
  ASSERT_TRUE(wait_until([&] { return !results().empty(); }, 60s)) << logs_of({&a, &b});
  // A checkpoint covers some input: the restart has state to resume from.
  auto state = client_->key_value("streamgate_state", 1, 0);
  // (A partition's: the merge stage writes its own keys, "global" and "fleet", too.)
  ASSERT_TRUE(wait_until(
      [&] {
        const auto keys = state->keys();
        return std::any_of(keys.begin(), keys.end(), [](const std::string& k) { return k.rfind("p.", 0) == 0; });
      },
      30s))
      << logs_of({&a, &b});
  a->signal(SIGKILL);
  b->signal(SIGKILL);
  a->wait_exit(10s);
  b->wait_exit(10s);
  a = start_instance("a");
  b = start_instance("b");
  publish(half, input_.size());
  expect_results_match_replay([&] { return logs_of({&a, &b}); });
  EXPECT_GE(a->err_count("took partition") + b->err_count("took partition"), 8u);
  // At least one partition resumed after the start of the stream, i.e. from a checkpoint.
  const std::string logs = a->err() + b->err();
  EXPECT_NE(logs.find("at stream sequence"), std::string::npos);
  bool resumed = false;
  for (auto pos = logs.find("at stream sequence "); pos != std::string::npos;
       pos = logs.find("at stream sequence ", pos + 1)) {
    resumed = resumed || std::stoull(logs.substr(pos + 19)) > 1;
  }
  EXPECT_TRUE(resumed) << logs;
}

// The instance holding the merge stage of the fleet-wide rule is killed while windows are open:
// another takes the stage over from its checkpoint; every fleet result is still stored once,
// with the replay's values.
TEST_F(ClusterTest, KillNineOfTheMergeStageOwnerKeepsFleetResultsExactlyOnce) {
  std::vector<std::unique_ptr<Process>> procs;
  for (const char* id : {"a", "b", "c"}) procs.push_back(start_instance(id));
  const std::size_t half = input_.size() / 2;
  publish(0, half);
  kill_merge_stage_owner_then_publish_the_rest(procs, "out.fleet", 1, half);
}

// The shipped etc/rules.d/10-sales.sql: sales_indicators (fleet-wide, lag over its aggregates:
// evaluated at the merge stage) and sales_peak (FROM sales_indicators: runs at the merge stage)
// give the replay's result set, and still do when the merge stage's owner is killed with
// windows open: the lag state and sales_peak's open day continue from the stage's checkpoint.
TEST_F(ClusterTest, ShippedSalesRulesGiveTheReplayResultSetAcrossAKillOfTheMergeStageOwner) {
  fs::remove(dir_ / "rules" / "10-cluster.sql");
  fs::copy_file(fs::path(STREAMGATE_SOURCE_DIR) / "etc" / "rules.d" / "10-sales.sql", dir_ / "rules" / "10-sales.sql");
  // 12 shops (shop/<id>/events) over two and a half days, in event-time order; amounts are
  // multiples of 0.25, so every sum is exact and the floats compare as text.
  input_.clear();
  std::uint32_t x = 4242;
  std::int64_t t = kBase;
  for (int i = 0; i < 1200; ++i) {
    x = x * 1103515245u + 12345u;
    t += 60'000 + (x >> 16) % 240'000;  // now and then a 30-minute window without an order
    const std::string shop = "s" + std::to_string((x >> 8) % 12);
    input_.push_back({shop,
                      R"({"event_id":"e)" + std::to_string(i) + R"(","event_type":")" +
                          ((x >> 4) % 5 != 0 ? "purchase" : "view") + R"(","amount":)" +
                          std::to_string(((x >> 12) % 2000) * 0.25) + R"(,"timestamp":)" + std::to_string(t) + "}"});
  }
  // Two days later, one order per shop closes every window; what those open is left out.
  const std::int64_t trailing_day = (t / 86'400'000 + 2) * 86'400'000;
  for (int s = 0; s < 12; ++s) {
    const std::string shop = "s" + std::to_string(s);
    input_.push_back({shop,
                      R"({"event_id":"t)" + std::to_string(s) + R"(","event_type":"purchase","amount":1,"timestamp":)" +
                          std::to_string(trailing_day + s) + "}"});
  }
  const std::time_t day_s = static_cast<std::time_t>(trailing_day / 1000);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&day_s));
  trailing_from_ = buf;
  replay_topic_ = "shop/replay/events";
  subject_ = {"shop", "events"};
  replay_expected();
  std::size_t peaks = 0, trends = 0;
  for (const auto& [topic, payload] : expected_) {
    peaks += topic == "analytics/sales/peak" ? 1 : 0;
    trends += payload.find("\"sales_trend\":\"down\"") != std::string::npos ? 1 : 0;
  }
  ASSERT_GE(peaks, 2u);
  ASSERT_GE(trends, 10u);

  std::vector<std::unique_ptr<Process>> procs;
  for (const char* id : {"a", "b", "c"}) procs.push_back(start_instance(id));
  ASSERT_TRUE(wait_until([&] { return procs[0]->err_count("took partition") >= 1; }, 60s)) << procs[0]->logs();
  ASSERT_EQ(procs[0]->err().find("skipped"), std::string::npos) << procs[0]->logs();
  const std::size_t half = input_.size() / 2;
  publish(0, half);
  // At least 10 windows fired before the kill: lag has state to carry over.
  kill_merge_stage_owner_then_publish_the_rest(procs, "analytics.sales", 10, half);
}

// Only two devices publish: most partitions never get data. They must not hold the fleet-wide
// windows back: idle for a second, each journals a marker that moves its event time on to the
// fleet's watermark, as one box's watermark is the latest event time of all devices.
TEST_F(ClusterTest, IdlePartitionsDoNotHoldFleetWideWindowsBack) {
  std::vector<Event> two;
  for (const auto& e : input_)
    if (e.device == "d0" || e.device == "d1") two.push_back(e);
  input_ = std::move(two);
  replay_expected();
  std::size_t fleet = 0;
  for (const auto& [topic, payload] : expected_) fleet += topic == "out/fleet" ? 1 : 0;
  ASSERT_GE(fleet, 5u);
  auto a = start_instance("a");
  auto b = start_instance("b");
  publish(0, input_.size());
  expect_results_match_replay([&] { return logs_of({&a, &b}); });
}

// Processing time in cluster mode is the input's stream timestamp, so a partition that gets no
// more messages would never close a processing-time window: a quiet partition journals clock
// markers that tick its engine. The windows of a stream without TIMESTAMP fire with no message
// after them, and a kill -9 of the owner (the taker replays the partition, markers included)
// stores none of them twice.
TEST_F(ClusterTest, QuietPartitionsCloseProcessingTimeWindowsOnce) {
  write_file(dir_ / "rules" / "30-clock.sql",
             "CREATE STREAM arrivals WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json');\n"
             "CREATE RULE arrivals_per_device WITH (TOPIC = 'out/arrivals') AS\n"
             "SELECT device, count(*) AS n FROM arrivals GROUP BY device, TumblingWindow('2s');\n"
             // Event time, but after 1 s without events it moves on with processing time.
             "CREATE STREAM quiet WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'ts',\n"
             "  IDLETIMEOUT = '1s');\n"
             "CREATE RULE quiet_per_device WITH (TOPIC = 'out/quiet') AS\n"
             "SELECT device, count(*) AS n FROM quiet GROUP BY device, TumblingWindow('10s');\n");
  auto a = start_instance("a");
  ASSERT_TRUE(wait_until([&] { return a->err_count("took partition") >= 8; }, 60s)) << a->logs();
  // 5 events of d0 and 3 of d1, then nothing on any partition.
  std::vector<Event> few;
  std::map<std::string, int> sent;
  for (const auto& e : input_) {
    if ((e.device == "d0" && sent[e.device] < 5) || (e.device == "d1" && sent[e.device] < 3)) {
      few.push_back(e);
      ++sent[e.device];
    }
  }
  input_ = std::move(few);
  publish(0, input_.size());
  auto counted_on = [&](const std::string& subject) {
    std::map<std::string, int> counted;
    std::set<std::string> ids;
    for (const auto& m : results()) {
      if (m.subject != subject) continue;
      EXPECT_TRUE(ids.insert(m.msg_id).second) << "result id stored twice: " << m.msg_id;
      const auto j = nlohmann::json::parse(m.data);
      counted[j["device"].get<std::string>()] += j["n"].get<int>();
    }
    return counted;
  };
  const std::map<std::string, int> all{{"d0", 5}, {"d1", 3}};
  ASSERT_TRUE(wait_until([&] { return counted_on("out.arrivals") == all; }, 30s))
      << "processing-time windows of quiet partitions did not close\n" << a->logs();
  // The events span 4 s of event time: IDLETIMEOUT closes [0, 10 s) after ~1 + 6 s of quiet.
  ASSERT_TRUE(wait_until([&] { return counted_on("out.quiet") == all; }, 30s))
      << "IDLETIMEOUT did not move a quiet partition's event time on\n" << a->logs();
  const std::size_t stored = results().size();
  a->signal(SIGKILL);
  a->wait_exit(10s);
  auto b = start_instance("b");
  ASSERT_TRUE(wait_until([&] { return b->err_count("took partition") >= 8; }, 60s)) << b->logs();
  std::this_thread::sleep_for(3s);  // the replayed partitions tick again: nothing new may be stored
  EXPECT_EQ(counted_on("out.arrivals"), all) << b->logs();
  EXPECT_EQ(counted_on("out.quiet"), all) << b->logs();
  EXPECT_EQ(results().size(), stored) << b->logs();
}

// first_value / last_value, a bare column and SELECT * in fleet-wide rules run in two phases:
// the partitions' states carry the event time of the row that set them and the merge stage keeps
// the earliest / latest. Each device's events are in event-time order with distinct times, so
// three instances give what the single-box replay gives (ids and payloads).
TEST_F(ClusterTest, FleetWideFirstLastValuesAndTheLastEventGiveTheReplayResultSet) {
  write_file(dir_ / "rules" / "20-edges.sql",
             "CREATE RULE fleet_edges WITH (TOPIC = 'out/fleet_edges') AS\n"
             "SELECT window_start() AS ws, first_value(v) AS first_v, last_value(v) AS last_v,\n"
             "       first_value(device) AS first_device, device AS last_device, sum(v) AS total\n"
             "FROM telemetry GROUP BY TumblingWindow('10s');\n"
             "CREATE RULE fleet_whole WITH (TOPIC = 'out/fleet_whole') AS\n"
             "SELECT *, sum(v) AS total FROM telemetry GROUP BY HoppingWindow('10s', '5s');\n");
  const auto check = run_command({STREAMGATE_BINARY, "check-rules", "--partition-field", "device",
                                  (dir_ / "rules").string()},
                                 dir_.path());
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("ok (2 rules; fleet-wide in two phases: fleet_edges, fleet_whole)"), std::string::npos)
      << check.out << check.err;
  replay_expected();
  std::size_t edges = 0, whole = 0;
  for (const auto& [topic, payload] : expected_) {
    edges += topic == "out/fleet_edges" ? 1 : 0;
    whole += topic == "out/fleet_whole" ? 1 : 0;
  }
  ASSERT_GE(edges, 5u);
  ASSERT_GE(whole, 10u);
  auto a = start_instance("a");
  auto b = start_instance("b");
  auto c = start_instance("c");
  publish(0, input_.size());
  expect_results_match_replay([&] { return logs_of({&a, &b, &c}); });
}

// A rule whose per-key state is not keyed by the partition field, and that cannot run in two
// phases either, is refused in cluster mode with its position; the other files run (the results
// still match the replay of those).
TEST_F(ClusterTest, RuleNotKeyedByThePartitionFieldIsRefusedWithItsPosition) {
  write_file(dir_ / "rules" / "20-fleet.sql",
             "CREATE RULE sessions WITH (TOPIC = 'out/sessions') AS\n"
             "SELECT count(*) AS n FROM telemetry GROUP BY SessionWindow('10s');\n");
  auto a = start_instance("a");
  ASSERT_TRUE(wait_until([&] { return a->err_count("took partition") >= 1; }, 60s)) << a->logs();
  EXPECT_NE(a->err().find("20-fleet.sql:2:46: rule 'sessions': GROUP BY does not include the partition key "
                          "'device' and the rule cannot run in two phases (SessionWindow: fleet-wide aggregates"),
            std::string::npos)
      << a->logs();
  publish(0, input_.size());
  expect_results_match_replay([&] { return a->logs(); });
}

class ClusterMqttTest : public ClusterTest {
 protected:
  ClusterMqttTest() : ClusterTest(/*mqtt=*/true) {}
};

// Devices keep speaking MQTT (to nats-server's MQTT listener; its subject mapping partitions
// them), and MQTT subscribers receive the results from the results stream's subjects.
TEST_F(ClusterMqttTest, DevicesAndSubscribersSpeakMqtt) {
  auto a = start_instance("a");
  const std::string url = "tcp://127.0.0.1:" + std::to_string(nats_.mqtt_port());
  MqttTestClient subscriber(url, "results-reader");
  subscriber.subscribe("out/#", 1);
  MqttTestClient devices(url, "devices");
  for (const auto& e : input_) devices.publish("devices/" + e.device + "/telemetry", e.payload, 1);
  expect_results_match_replay([&] { return a->logs(); });
  std::map<std::string, std::size_t> per_topic;
  for (const auto& [topic, payload] : expected_) ++per_topic[topic];
  for (const auto& [topic, n] : per_topic)
    EXPECT_TRUE(subscriber.wait_for(topic, n, 60s)) << topic << ": " << subscriber.on_topic(topic).size() << " of " << n;
}

}  // namespace
}  // namespace streamgate::test
