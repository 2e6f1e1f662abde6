// Tests for the alert state machine (rules/alert/): raise once, no re-send while true, clear
// after CLEAR_AFTER, cooldown hold-back, silent clear, message fields, topics, save/restore.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/alert/alert.h"

namespace streamgate::rules::alert {
namespace {

constexpr TimeNs kSec = kNsPerSec;
constexpr TimeNs kT0 = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z

struct Harness {
  AlertMachine m;
  std::vector<AlertMessage> out;
  explicit Harness(AlertOptions o) : m(std::move(o)) {}
  AlertSink sink() {
    return [this](AlertMessage&& msg) { out.push_back(std::move(msg)); };
  }
  void obs(const char* key, bool cond, TimeNs sec, double v = 0) {
    m.observe(Value(key), cond, Value(Object{{"v", Value(v)}}), kT0 + sec * kSec, sink());
  }
  void adv(TimeNs sec) { m.advance(kT0 + sec * kSec, sink()); }
  // "raised@sec" / "cleared@sec" per message
  std::vector<std::string> log() const {
    std::vector<std::string> s;
    for (const auto& msg : out)
      s.push_back(msg.key.to_text() + (msg.state == AlertState::Raised ? ":raised@" : ":cleared@") +
                  std::to_string((msg.time - kT0) / kSec));
    return s;
  }
};

AlertOptions opts(TimeNs cooldown_s = 0, TimeNs clear_after_s = 0) {
  AlertOptions o;
  o.name = "hot";
  o.topic = "alerts/hot";
  o.severity = "critical";
  o.cooldown = cooldown_s * kSec;
  o.clear_after = clear_after_s * kSec;
  return o;
}

TEST(AlertMachine, RaisedOnceWhileTrueThenClearedWhenFalse) {
  Harness h(opts());
  h.obs("d1", false, 0);
  h.obs("d1", true, 10, 81);
  h.obs("d1", true, 20, 85);
  h.obs("d1", true, 30, 90);
  h.obs("d1", false, 40, 70);
  EXPECT_EQ(h.log(), (std::vector<std::string>{"d1:raised@10", "d1:cleared@40"}));

  const auto raised = nlohmann::json::parse(h.out[0].payload);
  EXPECT_EQ(raised["alert"], "hot");
  EXPECT_EQ(raised["key"], "d1");
  EXPECT_EQ(raised["severity"], "critical");
  EXPECT_EQ(raised["state"], "raised");
  EXPECT_EQ(raised["values"], nlohmann::json({{"v", 81}}));
  EXPECT_EQ(raised["first_seen"], "2023-11-14T22:13:30Z");
  EXPECT_EQ(raised["last_seen"], "2023-11-14T22:13:30Z");
  EXPECT_EQ(raised["time"], "2023-11-14T22:13:30Z");
  const auto cleared = nlohmann::json::parse(h.out[1].payload);
  EXPECT_EQ(cleared["state"], "cleared");
  EXPECT_EQ(cleared["values"], nlohmann::json({{"v", 90}}));  // the last true values
  EXPECT_EQ(cleared["first_seen"], "2023-11-14T22:13:30Z");
  EXPECT_EQ(cleared["last_seen"], "2023-11-14T22:13:50Z");
  EXPECT_EQ(cleared["time"], "2023-11-14T22:14:00Z");
  // The id is stable (alert + key + first_seen): a raise and its clear share it.
  EXPECT_EQ(raised["id"], cleared["id"]);
  EXPECT_EQ(raised["id"].get<std::string>().size(), 16u);

  EXPECT_EQ(h.out[0].topic, "alerts/hot");
  EXPECT_EQ(h.out[0].state_topic, "alerts/hot/d1");
  EXPECT_EQ(h.m.stats().active, 0u);
}

TEST(AlertMachine, KeysAreIndependent) {
  Harness h(opts());
  h.obs("a", true, 1);
  h.obs("b", true, 2);
  h.obs("a", false, 3);
  h.obs("b", true, 4);
  EXPECT_EQ(h.log(), (std::vector<std::string>{"a:raised@1", "b:raised@2", "a:cleared@3"}));
  EXPECT_TRUE(h.m.is_active(Value("b")));
  EXPECT_FALSE(h.m.is_active(Value("a")));
}

TEST(AlertMachine, ClearAfterNeedsTheConditionFalseThatLong) {
  Harness h(opts(0, 60));
  h.obs("k", true, 0);
  h.obs("k", false, 10);
  h.obs("k", false, 50);
  h.obs("k", true, 60);  // back before 60 s of false: the clear is cancelled
  h.obs("k", false, 100);
  h.obs("k", false, 150);
  EXPECT_EQ(h.log(), (std::vector<std::string>{"k:raised@0"}));
  h.obs("k", false, 170);  // 70 s false: cleared as of 100 + 60
  EXPECT_EQ(h.log(), (std::vector<std::string>{"k:raised@0", "k:cleared@160"}));
}

TEST(AlertMachine, ClearAfterFiresOnWatermarkWithoutFurtherEvents) {
  Harness h(opts(0, 60));
  h.obs("k", true, 0);
  h.obs("k", false, 10);
  h.adv(69);
  EXPECT_EQ(h.out.size(), 1u);
  h.adv(500);  // the transition carries its due time, not the watermark's
  EXPECT_EQ(h.log(), (std::vector<std::string>{"k:raised@0", "k:cleared@70"}));
}

TEST(AlertMachine, CooldownHoldsBackAFlappingCondition) {
  Harness h(opts(600, 0));  // COOLDOWN 10m
  h.obs("k", true, 0);
  h.obs("k", false, 10);
  h.obs("k", true, 20);   // within cooldown: held back...
  h.obs("k", false, 30);  // ...and dropped: it went away before the cooldown ended
  h.obs("k", true, 40);   // held back again
  EXPECT_EQ(h.log(), (std::vector<std::string>{"k:raised@0", "k:cleared@10"}));
  h.adv(599);
  EXPECT_EQ(h.out.size(), 2u);
  h.adv(700);  // still true when the cooldown ended at 600: raised then, first_seen 40
  EXPECT_EQ(h.log(), (std::vector<std::string>{"k:raised@0", "k:cleared@10", "k:raised@600"}));
  const auto j = nlohmann::json::parse(h.out[2].payload);
  EXPECT_EQ(j["first_seen"], "2023-11-14T22:14:00Z");
  EXPECT_NE(j["id"], nlohmann::json::parse(h.out[0].payload)["id"]);
  EXPECT_EQ(h.m.stats().held_back, 2u);
}

TEST(AlertMachine, AfterCooldownARaiseIsImmediate) {
  Harness h(opts(60, 0));
  h.obs("k", true, 0);
  h.obs("k", false, 10);
  h.obs("k", true, 61);
  EXPECT_EQ(h.log(), (std::vector<std::string>{"k:raised@0", "k:cleared@10", "k:raised@61"}));
}

TEST(AlertMachine, HeldBackRaiseIsSentBeforeALaterEvaluation) {
  Harness h(opts(60, 0));
  h.obs("k", true, 0);
  h.obs("k", false, 1);
  h.obs("k", true, 2);    // held back until 60
  h.obs("k", false, 90);  // no advance() in between: the raise at 60 still comes first
  EXPECT_EQ(h.log(), (std::vector<std::string>{"k:raised@0", "k:cleared@1", "k:raised@60",
                                               "k:cleared@90"}));
}

TEST(AlertMachine, SilentConditionsClearWhenTrueStopsComing) {
  AlertOptions o = opts(0, 0);
  o.silence = 300 * kSec;
  Harness h(o);
  h.obs("dev", true, 0);    // e.g. a pattern match
  h.obs("dev", true, 200);  // another match while raised: nothing sent
  h.adv(499);
  EXPECT_EQ(h.out.size(), 1u);
  h.adv(501);
  EXPECT_EQ(h.log(), (std::vector<std::string>{"dev:raised@0", "dev:cleared@500"}));
}

TEST(AlertMachine, TopicSegmentIsOneSafeLevel) {
  EXPECT_EQ(AlertMachine::topic_segment(Value("site/a+b#")), "site_a_b_");
  EXPECT_EQ(AlertMachine::topic_segment(Value(42)), "42");
  EXPECT_EQ(AlertMachine::topic_segment(Value()), "_");
  EXPECT_EQ(AlertMachine::topic_segment(Value(Array{Value("s1"), Value(7)})), "s1_7");
}

TEST(AlertMachine, KeyStateIsBoundedAndForgotten) {
  AlertOptions o = opts(10, 0);
  o.max_keys = 2;
  Harness h(o);
  h.obs("a", true, 0);
  h.obs("b", true, 0);
  h.obs("c", true, 0);
  EXPECT_EQ(h.m.stats().dropped_keys, 1u);
  EXPECT_EQ(h.m.stats().keys, 2u);
  h.obs("a", false, 1);
  h.obs("b", false, 1);
  EXPECT_EQ(h.m.stats().keys, 2u);  // remembered for the cooldown
  h.adv(11);
  EXPECT_EQ(h.m.stats().keys, 0u);
  h.obs("never", false, 12);  // false for an unknown key keeps no state
  EXPECT_EQ(h.m.stats().keys, 0u);
}

TEST(AlertMachine, SaveRestoreKeepsActiveAlertsAcrossARestart) {
  Harness before(opts(600, 60));
  before.obs("a", true, 0, 90);
  before.obs("b", true, 5);
  before.obs("b", false, 6);
  const std::string saved = before.m.save().dump();

  Harness after(opts(600, 60));
  after.m.restore(nlohmann::json::parse(saved));
  EXPECT_TRUE(after.m.is_active(Value("a")));
  after.obs("a", true, 100);  // still raised after the restart: not re-sent
  EXPECT_TRUE(after.out.empty());
  after.adv(66);  // b's pending clear survived too
  EXPECT_EQ(after.log(), (std::vector<std::string>{"b:cleared@66"}));
  after.obs("a", false, 200);
  after.adv(260);
  ASSERT_EQ(after.out.size(), 2u);
  const auto j = nlohmann::json::parse(after.out[1].payload);
  EXPECT_EQ(j["state"], "cleared");
  EXPECT_EQ(j["id"], nlohmann::json::parse(before.out[0].payload)["id"]);
  EXPECT_EQ(after.m.save().dump(), after.m.save().dump());
  EXPECT_ANY_THROW(after.m.restore(nlohmann::json::parse(R"({"keys":[{"key":1}]})")));
}

// Keys come and go (raise, clear, forget) in random order: the key filter must never hide a key
// with state, and a key in a recycled node must carry its own key, topic and id.
TEST(AlertMachine, KeyChurnKeepsFilterAndRecycledStateRight) {
  Harness h(opts(0, 0));  // no cooldown: a key has state exactly while it is raised
  std::mt19937 rng(3);
  std::map<std::string, std::string> open_id;  // key -> id of its current raise
  std::size_t seen = 0;
  for (int i = 0; i < 20'000; ++i) {
    const std::string key = "k" + std::to_string(rng() % 500);
    const bool cond = rng() % 3 == 0;
    const bool had = h.m.is_active(Value(key));
    ASSERT_EQ(h.m.wants(Value(key), false), had) << key;
    h.m.observe(Value(key), cond, Value(Object{{"i", Value(i)}}), kT0 + i * kSec, h.sink());
    ASSERT_EQ(h.m.is_active(Value(key)), cond);
    ASSERT_EQ(h.m.wants(Value(key), false), cond) << key;
    for (; seen < h.out.size(); ++seen) {
      const AlertMessage& msg = h.out[seen];
      const auto j = nlohmann::json::parse(msg.payload);
      ASSERT_EQ(j["key"], key);
      ASSERT_EQ(msg.state_topic, "alerts/hot/" + key);
      ASSERT_EQ(j["id"], msg.id);
      if (msg.state == AlertState::Raised) {
        ASSERT_FALSE(had);
        ASSERT_EQ(j["values"]["i"], i);
        ASSERT_EQ(j["first_seen"], format_rfc3339(kT0 + i * kSec));
        ASSERT_EQ(open_id.count(key), 0u);
        open_id[key] = msg.id;
      } else {
        ASSERT_TRUE(had);
        ASSERT_EQ(open_id.at(key), msg.id);  // a clear shares its raise's id
        open_id.erase(key);
      }
    }
  }
  EXPECT_EQ(h.m.stats().keys, open_id.size());
  EXPECT_GT(h.m.stats().raised, 1000u);
  // Ids depend on key and first_seen only: the same episode in a fresh machine, same id.
  Harness fresh(opts(0, 0));
  const auto& last = h.out.back();
  fresh.m.observe(last.key, true, Value(Object{}), last.first_seen, fresh.sink());
  ASSERT_EQ(fresh.out.size(), 1u);
  EXPECT_EQ(fresh.out[0].id, last.id);
}

}  // namespace
}  // namespace streamgate::rules::alert
