// Engine end-to-end unit tests: rule text in, messages in, emissions out.
#include "rules/engine.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include <nlohmann/json.hpp>

#include "rules/time_util.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;

TimeNs T(const char* s) { return *parse_rfc3339(s); }

struct Harness {
  explicit Harness(EngineOptions o = {}) : eng(o) {}
  Engine eng;
  std::vector<Emission> out;
  EmitFn sink = [this](Emission&& e) { out.push_back(std::move(e)); };
  TimeNs now = T("2024-01-16T00:00:00Z");

  void load(const std::string& text) {
    auto errs = eng.load_file("test.sql", text);
    for (const auto& e : errs) ADD_FAILURE() << e.to_string();
  }
  IngestStatus send(const std::string& topic, const std::string& payload) {
    return eng.on_message(topic, payload, now, sink);
  }
  IngestStatus send(const std::string& payload) { return send("shop/1/events", payload); }
  void flush() { eng.flush(sink); }
  std::vector<json> results(EmissionKind k = EmissionKind::Result) const {
    std::vector<json> r;
    for (const auto& e : out)
      if (e.kind == k) r.push_back(json::parse(e.payload));
    return r;
  }
  const RuleMetrics metric(const std::string& rule) const {
    for (const auto& m : eng.metrics())
      if (m.name == rule) return m;
    return {};
  }
};

const char* kStream =
    "CREATE STREAM shop WITH (TOPIC='shop/+/events', FORMAT='json', TIMESTAMP='timestamp');\n";

TEST(Engine, FilterAndProject) {
  Harness h;
  h.load(std::string(kStream) +
         "CREATE RULE big WITH (TOPIC='out/big', QOS=1, RETAIN=true) AS\n"
         "SELECT user_id, amount * 2 AS double_amount, meta.site, tags[1], m['k'], count "
         "FROM shop WHERE amount > 100 AND event_type = 'purchase';");
  EXPECT_EQ(h.send(R"({"user_id":"u1","amount":150,"event_type":"purchase","timestamp":"2024-01-15T10:00:00Z",
      "meta":{"site":"eu"},"tags":["a","b"],"m":{"k":7},"count":3})"),
            IngestStatus::Ok);
  EXPECT_EQ(h.send(R"({"user_id":"u2","amount":50,"event_type":"purchase","timestamp":"2024-01-15T10:00:01Z"})"),
            IngestStatus::Ok);
  EXPECT_EQ(h.send(R"({"user_id":"u3","amount":500,"event_type":"view","timestamp":"2024-01-15T10:00:02Z"})"),
            IngestStatus::Ok);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].topic, "out/big");
  EXPECT_EQ(h.out[0].qos, 1);
  EXPECT_TRUE(h.out[0].retain);
  EXPECT_EQ(h.out[0].rule, "big");
  EXPECT_EQ(h.out[0].payload,
            R"({"user_id":"u1","double_amount":300,"site":"eu","col_4":"b","k":7,"count":3})");
  EXPECT_EQ(h.out[0].emission_index, 0u);
  auto m = h.metric("big");
  EXPECT_EQ(m.events_in, 3u);
  EXPECT_EQ(m.events_filtered, 2u);
  EXPECT_EQ(m.results_out, 1u);
}

TEST(Engine, StarAndArrayPayload) {
  Harness h;
  h.load(std::string(kStream) + "CREATE RULE all_ WITH (TOPIC='o') AS SELECT * FROM shop WHERE a >= 2;");
  EXPECT_EQ(h.send(R"([{"a":1,"timestamp":1705312800},{"a":2,"b":"x","timestamp":1705312801}])"),
            IngestStatus::Ok);
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.out[0].payload, R"({"a":2,"b":"x","timestamp":1705312801})");
}

TEST(Engine, IngestStatuses) {
  EngineOptions o;
  o.max_payload_bytes = 200;
  o.max_depth = 4;
  Harness h(o);
  h.load(std::string(kStream) + "CREATE RULE r WITH (TOPIC='o') AS SELECT a FROM shop;");
  EXPECT_EQ(h.send("other/topic", "{}"), IngestStatus::NoStream);
  EXPECT_EQ(h.send("{\"a\":"), IngestStatus::MalformedJson);
  EXPECT_EQ(h.send("{\"a\":\"\xff\xfe\"}"), IngestStatus::MalformedJson);
  EXPECT_EQ(h.send("42"), IngestStatus::NotAnObject);
  EXPECT_EQ(h.send("[1,2]"), IngestStatus::NotAnObject);
  EXPECT_EQ(h.send(std::string(300, ' ') + "{}"), IngestStatus::TooLarge);
  EXPECT_EQ(h.send(R"({"a":{"b":{"c":{"d":{"e":{"f":1}}}}},"timestamp":1})"), IngestStatus::TooDeep);
  EXPECT_EQ(h.send(R"({"a":1})"), IngestStatus::MissingTimestamp);
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":null})"), IngestStatus::MissingTimestamp);
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":"yesterday"})"), IngestStatus::BadTimestamp);
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":"2030-01-01T00:00:00Z"})"), IngestStatus::BadTimestamp);
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":true})"), IngestStatus::BadTimestamp);
  // Near the int64 limits window arithmetic would overflow (found by ingest_fuzz): refused.
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":-9223372036854636746})"), IngestStatus::BadTimestamp);
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":"1800-01-01T00:00:00Z"})"), IngestStatus::BadTimestamp);
  // An epoch number sent as a string beyond int64 is the message's fault, not the engine's: it
  // used to throw std::out_of_range out of on_message (one worker error per message).
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":"9999999999999999999"})"), IngestStatus::BadTimestamp);
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":"99999999999999999999"})"), IngestStatus::BadTimestamp);
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":"1705312800123"})"), IngestStatus::Ok);
  EXPECT_EQ(h.out.size(), 1u);
  h.out.clear();
  EXPECT_EQ(h.send(R"({"a":1,"timestamp":1705312800123})"), IngestStatus::Ok);
  EXPECT_EQ(h.out.size(), 1u);
}

TEST(Engine, DedupIdsAreBoundedOldestForgottenFirst) {
  EngineOptions o;
  o.max_dedup_ids = 3;
  Harness h(o);
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts', EVENT_ID='id', DEDUP_HORIZON='10m');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT id FROM s;");
  auto event = [](const char* id, int second) {
    return std::string(R"({"id":")") + id + R"(","ts":"2024-01-15T10:00:0)" + std::to_string(second) + R"(Z"})";
  };
  EXPECT_EQ(h.send("t", event("a", 0)), IngestStatus::Ok);
  EXPECT_EQ(h.send("t", event("b", 1)), IngestStatus::Ok);
  EXPECT_EQ(h.send("t", event("c", 2)), IngestStatus::Ok);
  EXPECT_EQ(h.send("t", event("a", 3)), IngestStatus::Duplicate);  // 3 ids held: a still known
  EXPECT_EQ(h.send("t", event("d", 4)), IngestStatus::Ok);         // the bound forgets a
  EXPECT_EQ(h.send("t", event("a", 5)), IngestStatus::Ok);
  EXPECT_EQ(h.send("t", event("d", 6)), IngestStatus::Duplicate);
}

TEST(Engine, Dedup) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts', EVENT_ID='id', DEDUP_HORIZON='10m');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT id FROM s;");
  EXPECT_EQ(h.send("t", R"({"id":"e1","ts":"2024-01-15T10:00:00Z"})"), IngestStatus::Ok);
  EXPECT_EQ(h.send("t", R"({"id":"e1","ts":"2024-01-15T10:00:01Z"})"), IngestStatus::Duplicate);
  EXPECT_EQ(h.send("t", R"({"id":"e2","ts":"2024-01-15T10:20:00Z"})"), IngestStatus::Ok);
  // e1 is now outside the 10 minute horizon: accepted again.
  EXPECT_EQ(h.send("t", R"({"id":"e1","ts":"2024-01-15T10:20:01Z"})"), IngestStatus::Ok);
  EXPECT_EQ(h.out.size(), 3u);
}

const char* kSales =
    "CREATE STREAM shop WITH (TOPIC = 'shop/+/events', FORMAT = 'json', TIMESTAMP = 'timestamp');\n"
    "CREATE RULE sales WITH (TOPIC = 'analytics/sales', QOS = 1) AS\n"
    "SELECT window_start() AS window_start, window_end() AS window_end,\n"
    "       round(sum(amount), 2) AS total_sales, count(*) AS order_count,\n"
    "       round(avg(amount), 2) AS average_order_value\n"
    "FROM shop WHERE event_type = 'purchase' GROUP BY TumblingWindow('30m');\n";

TEST(Engine, TumblingWindowFlush) {
  Harness h;
  h.load(kSales);
  h.send(R"({"event_type":"purchase","amount":99.99,"timestamp":"2024-01-15T10:00:00Z"})");
  h.send(R"({"event_type":"purchase","amount":149.99,"timestamp":"2024-01-15T10:15:00Z"})");
  h.send(R"({"event_type":"purchase","amount":79.99,"timestamp":"2024-01-15T10:30:00Z"})");
  // 10:30:00 belongs to [10:30, 11:00) and moves the watermark to 10:30: the first window fires.
  auto r = h.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["window_start"], "2024-01-15T10:00:00Z");
  EXPECT_EQ(r[0]["window_end"], "2024-01-15T10:30:00Z");
  EXPECT_DOUBLE_EQ(r[0]["total_sales"].get<double>(), 249.98);
  EXPECT_EQ(r[0]["order_count"], 2);
  EXPECT_DOUBLE_EQ(r[0]["average_order_value"].get<double>(), 124.99);
  EXPECT_EQ(h.out[0].payload.substr(0, 15), "{\"window_start\"");
  h.flush();
  r = h.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1]["window_start"], "2024-01-15T10:30:00Z");
  EXPECT_EQ(r[1]["order_count"], 1);
  EXPECT_EQ(h.out[1].emission_index, 1u);
  EXPECT_EQ(h.out[0].result_id.rfind("sales/", 0), 0u);
  EXPECT_NE(h.out[0].result_id, h.out[1].result_id);
}

TEST(Engine, GroupKeysFirstAppearanceAndLastValue) {
  Harness h;
  h.load(std::string(kStream) +
         "CREATE RULE r WITH (TOPIC='o') AS SELECT category, count(*) AS n, max(amount) AS mx, "
         "user_id AS last_user FROM shop GROUP BY category, TumblingWindow('1h');");
  h.send(R"({"category":"b","amount":1,"user_id":"u1","timestamp":"2024-01-15T10:00:00Z"})");
  h.send(R"({"category":"a","amount":5,"user_id":"u2","timestamp":"2024-01-15T10:01:00Z"})");
  h.send(R"({"category":"b","amount":3,"user_id":"u3","timestamp":"2024-01-15T10:02:00Z"})");
  h.flush();
  auto r = h.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], json::parse(R"({"category":"b","n":2,"mx":3,"last_user":"u3"})"));
  EXPECT_EQ(r[1], json::parse(R"({"category":"a","n":1,"mx":5,"last_user":"u2"})"));
  EXPECT_EQ(h.out[0].emission_index, h.out[1].emission_index);
}

TEST(Engine, WatermarkOutOfOrderAndLate) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts', MAXOUTOFORDERNESS='5s');"
      "CREATE RULE r WITH (TOPIC='o/r') AS SELECT count(*) AS n, sum(v) AS s FROM s "
      "GROUP BY TumblingWindow('10s');");
  h.send("t", R"({"v":1,"ts":"2024-01-15T10:00:01Z"})");
  h.send("t", R"({"v":2,"ts":"2024-01-15T10:00:12Z"})");  // wm 10:00:07: nothing fires
  EXPECT_TRUE(h.out.empty());
  h.send("t", R"({"v":4,"ts":"2024-01-15T10:00:08Z"})");  // out of order but window open
  EXPECT_TRUE(h.out.empty());
  h.send("t", R"({"v":8,"ts":"2024-01-15T10:00:15Z"})");  // wm 10:00:10: [0,10) fires
  auto r = h.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["n"], 2);
  EXPECT_EQ(r[0]["s"], 5);
  // Below the watermark and its window is gone: late.
  h.send("t", R"({"v":16,"ts":"2024-01-15T10:00:03Z"})");
  auto late = h.results(EmissionKind::Late);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0]["reason"], "late");
  EXPECT_EQ(late[0]["rule"], "r");
  EXPECT_EQ(late[0]["event_time"], "2024-01-15T10:00:03Z");
  EXPECT_EQ(late[0]["watermark"], "2024-01-15T10:00:10Z");
  EXPECT_EQ(late[0]["event"], json::parse(R"({"v":16,"ts":"2024-01-15T10:00:03Z"})"));
  EXPECT_EQ(h.out.back().topic, "o/r/late");
  EXPECT_EQ(h.metric("r").late_events, 1u);
  h.flush();
  r = h.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1]["n"], 2);
  EXPECT_EQ(r[1]["s"], 10);
}

TEST(Engine, AllowedLatenessReemits) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts', ALLOWEDLATENESS='10s');"
      "CREATE RULE r WITH (TOPIC='o', LATE_TOPIC='o/late') AS SELECT count(*) AS n FROM s "
      "GROUP BY TumblingWindow('10s');");
  h.send("t", R"({"ts":"2024-01-15T10:00:01Z"})");
  h.send("t", R"({"ts":"2024-01-15T10:00:10Z"})");  // fires [0,10)
  ASSERT_EQ(h.results().size(), 1u);
  h.send("t", R"({"ts":"2024-01-15T10:00:05Z"})");  // within lateness: re-emit with revision
  auto r = h.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[1]["n"], 2);
  EXPECT_EQ(h.out[1].result_id, h.out[0].result_id + "/r1");
  h.send("t", R"({"ts":"2024-01-15T10:00:21Z"})");  // wm 21 >= 10 + 10: [0,10) dropped, [10,20) fires
  h.send("t", R"({"ts":"2024-01-15T10:00:06Z"})");  // late now
  auto late = h.results(EmissionKind::Late);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(h.out.back().topic, "o/late");
}

TEST(Engine, SlidingWindow) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT window_start() AS ws, count(*) AS n FROM s "
      "GROUP BY HoppingWindow('10s', '5s');");
  h.send("t", R"({"ts":"2024-01-15T10:00:03Z"})");
  h.send("t", R"({"ts":"2024-01-15T10:00:07Z"})");
  h.flush();
  auto r = h.results();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], json::parse(R"({"ws":"2024-01-15T09:59:55Z","n":1})"));
  EXPECT_EQ(r[1], json::parse(R"({"ws":"2024-01-15T10:00:00Z","n":2})"));
  EXPECT_EQ(r[2], json::parse(R"({"ws":"2024-01-15T10:00:05Z","n":1})"));
}

TEST(Engine, SessionWindowPerKey) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT user, window_start() AS ws, window_end() AS we, "
      "count(*) AS n FROM s GROUP BY user, SessionWindow('5m');");
  h.send("t", R"({"user":"a","ts":"2024-01-15T10:00:00Z"})");
  h.send("t", R"({"user":"b","ts":"2024-01-15T10:01:00Z"})");
  h.send("t", R"({"user":"a","ts":"2024-01-15T10:03:00Z"})");
  h.send("t", R"({"user":"a","ts":"2024-01-15T10:20:00Z"})");  // a's first session and b's close
  auto r = h.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], json::parse(R"({"user":"b","ws":"2024-01-15T10:01:00Z","we":"2024-01-15T10:06:00Z","n":1})"));
  EXPECT_EQ(r[1], json::parse(R"({"user":"a","ws":"2024-01-15T10:00:00Z","we":"2024-01-15T10:08:00Z","n":2})"));
  h.flush();
  r = h.results();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[2]["n"], 1);
  EXPECT_EQ(r[2]["ws"], "2024-01-15T10:20:00Z");
}

TEST(Engine, SessionMaxDuration) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT window_start() AS ws, window_end() AS we, count(*) AS n "
      "FROM s GROUP BY SessionWindow('5m', '10m');");
  for (int m : {0, 4, 8, 12}) {
    char buf[80];
    std::snprintf(buf, sizeof buf, R"({"ts":"2024-01-15T10:%02d:00Z"})", m);
    h.send("t", buf);
  }
  h.flush();
  auto r = h.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], json::parse(R"({"ws":"2024-01-15T10:00:00Z","we":"2024-01-15T10:10:00Z","n":3})"));
  EXPECT_EQ(r[1], json::parse(R"({"ws":"2024-01-15T10:12:00Z","we":"2024-01-15T10:17:00Z","n":1})"));
}

TEST(Engine, CountingWindow) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT sum(v) AS s FROM s GROUP BY CountingWindow(3);"
      "CREATE RULE r2 WITH (TOPIC='o2') AS SELECT sum(v) AS s FROM s GROUP BY CountingWindow(3, 2);");
  for (int i = 1; i <= 7; ++i)
    h.send("t", R"({"v":)" + std::to_string(i) + R"(,"ts":"2024-01-15T10:00:0)" + std::to_string(i) + "Z\"}");
  h.flush();
  std::vector<int> r1, r2;
  for (const auto& e : h.out) {
    auto j = json::parse(e.payload);
    (e.rule == "r" ? r1 : r2).push_back(j["s"].get<int>());
  }
  EXPECT_EQ(r1, (std::vector<int>{6, 15}));
  // Event 2 is on the schedule but only 2 < 3 events have arrived: no partial window (eKuiper).
  EXPECT_EQ(r2, (std::vector<int>{9, 15}));  // {2,3,4}, {4,5,6}
}

TEST(Engine, WindowedRowsWithoutAggregates) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts', MAXOUTOFORDERNESS='10s');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT temp FROM s GROUP BY TumblingWindow('1m');");
  h.send("t", R"({"temp":2,"ts":"2024-01-15T10:00:20Z"})");
  h.send("t", R"({"temp":1,"ts":"2024-01-15T10:00:10Z"})");
  h.send("t", R"({"temp":3,"ts":"2024-01-15T10:00:20Z"})");
  h.flush();
  auto r = h.results();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]["temp"], 1);
  EXPECT_EQ(r[1]["temp"], 2);
  EXPECT_EQ(r[2]["temp"], 3);
  EXPECT_NE(h.out[1].result_id, h.out[2].result_id);
}

TEST(Engine, HavingOrderLimitDistinct) {
  Harness h;
  h.load(std::string(kStream) +
         "CREATE RULE r WITH (TOPIC='o') AS SELECT category, sum(amount) AS total FROM shop "
         "GROUP BY category, TumblingWindow('1h') HAVING total > 5 AND count(*) >= 1 "
         "ORDER BY total DESC LIMIT 2;"
         "CREATE RULE d WITH (TOPIC='o2') AS SELECT DISTINCT category FROM shop "
         "GROUP BY TumblingWindow('1h') ORDER BY category;");
  const char* cats[] = {"a", "b", "c", "d", "a", "b"};
  const int amounts[] = {1, 10, 20, 30, 10, 1};
  for (int i = 0; i < 6; ++i)
    h.send(json{{"category", cats[i]}, {"amount", amounts[i]}, {"timestamp", "2024-01-15T10:00:00Z"}}.dump());
  h.flush();
  std::vector<json> r, d;
  for (const auto& e : h.out) (e.rule == "r" ? r : d).push_back(json::parse(e.payload));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0], json::parse(R"({"category":"d","total":30})"));
  EXPECT_EQ(r[1], json::parse(R"({"category":"c","total":20})"));
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0]["category"], "a");
  EXPECT_EQ(d[3]["category"], "d");
}

TEST(Engine, FilterClauseAndCountDistinct) {
  Harness h;
  h.load(std::string(kStream) +
         "CREATE RULE r WITH (TOPIC='o') AS SELECT count(DISTINCT user_id) AS users, "
         "count(*) FILTER (WHERE event_type = 'purchase') AS purchases, "
         "sum(DISTINCT amount) AS distinct_amounts, "
         "round(count(*) FILTER (WHERE event_type = 'purchase') / count(*), 2) AS conversion "
         "FROM shop GROUP BY TumblingWindow('1h');");
  h.send(R"({"user_id":"u1","event_type":"login","amount":1,"timestamp":"2024-01-15T10:00:00Z"})");
  h.send(R"({"user_id":"u1","event_type":"purchase","amount":1,"timestamp":"2024-01-15T10:01:00Z"})");
  h.send(R"({"user_id":"u2","event_type":"login","amount":2,"timestamp":"2024-01-15T10:02:00Z"})");
  h.send(R"({"user_id":null,"event_type":"login","amount":2,"timestamp":"2024-01-15T10:03:00Z"})");
  h.flush();
  auto r = h.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["users"], 2);
  EXPECT_EQ(r[0]["purchases"], 1);
  EXPECT_EQ(r[0]["distinct_amounts"], 3);
  EXPECT_DOUBLE_EQ(r[0]["conversion"].get<double>(), 0.25);
}

TEST(Engine, ExpressionSemanticsAndTypeMismatch) {
  Harness h;
  h.load(std::string(kStream) +
         "CREATE RULE r WITH (TOPIC='o') AS SELECT a + 1 AS x, a / 2 AS half, a / 0 AS z, "
         "s || '!' AS c, s LIKE 'ab%' AS l, a BETWEEN 1 AND 5 AS b, a IN (1, 2) AS i, "
         "missing IS NULL AS n, CASE WHEN a > 2 THEN 'big' ELSE 'small' END AS k, "
         "CASE s WHEN 'abc' THEN 1 END AS k2, 9223372036854775807 + a AS ov, "
         "NOT (a = 1) OR missing = 1 AS tv FROM shop;");
  h.send(R"({"a":1,"s":"abc","timestamp":1705312800})");
  EXPECT_EQ(h.metric("r").eval_errors, 0u);
  h.send(R"({"a":"abc","s":5,"timestamp":1705312800})");
  auto r = h.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["x"], 2);
  EXPECT_DOUBLE_EQ(r[0]["half"].get<double>(), 0.5);
  EXPECT_TRUE(r[0]["z"].is_null());
  EXPECT_EQ(r[0]["c"], "abc!");
  EXPECT_EQ(r[0]["l"], true);
  EXPECT_EQ(r[0]["b"], true);
  EXPECT_EQ(r[0]["i"], true);
  EXPECT_EQ(r[0]["n"], true);
  EXPECT_EQ(r[0]["k"], "small");
  EXPECT_EQ(r[0]["k2"], 1);
  EXPECT_TRUE(r[0]["ov"].is_number_float());
  EXPECT_TRUE(r[0]["tv"].is_null());  // false OR NULL
  // Second row: 'abc' + 1 and friends are NULL, counted, and the row still goes out.
  EXPECT_TRUE(r[1]["x"].is_null());
  EXPECT_TRUE(r[1]["l"].is_null());
  EXPECT_EQ(r[1]["c"], "5!");
  // x, half, z, l, b, k, ov, tv: each a number/string mismatch.
  EXPECT_EQ(h.metric("r").eval_errors, 8u);
}

TEST(Engine, ChainingRuleOutputs) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts');"
      "CREATE RULE per_min WITH (TOPIC='o/min') AS SELECT device, avg(temp) AS avg_temp FROM s "
      "GROUP BY device, TumblingWindow('1m');"
      "CREATE RULE hot WITH (TOPIC='o/hot') AS SELECT device, avg_temp FROM per_min WHERE avg_temp > 30;"
      "CREATE RULE per_5 WITH (TOPIC='o/5') AS SELECT count(*) AS windows, max(avg_temp) AS peak "
      "FROM per_min GROUP BY TumblingWindow('5m');");
  h.send("t", R"({"device":"d1","temp":40,"ts":"2024-01-15T10:00:00Z"})");
  h.send("t", R"({"device":"d2","temp":20,"ts":"2024-01-15T10:00:30Z"})");
  h.send("t", R"({"device":"d1","temp":10,"ts":"2024-01-15T10:01:00Z"})");
  h.send("t", R"({"device":"d1","temp":50,"ts":"2024-01-15T10:05:10Z"})");
  h.flush();
  std::vector<json> mins, hot, five;
  for (const auto& e : h.out) {
    auto j = json::parse(e.payload);
    if (e.rule == "per_min") mins.push_back(j);
    if (e.rule == "hot") hot.push_back(j);
    if (e.rule == "per_5") five.push_back(j);
  }
  EXPECT_EQ(mins.size(), 4u);
  ASSERT_EQ(hot.size(), 2u);
  EXPECT_EQ(hot[0], json::parse(R"({"device":"d1","avg_temp":40.0})"));
  ASSERT_EQ(five.size(), 2u);
  EXPECT_EQ(five[0]["windows"], 3);
  EXPECT_EQ(five[0]["peak"], 40.0);
  EXPECT_EQ(five[1]["windows"], 1);
}

TEST(Engine, StatefulLagOverWindowsAndFirstSeen) {
  Harness h;
  h.load(std::string(kStream) +
         "CREATE RULE r WITH (TOPIC='o') AS SELECT sum(amount) AS total, "
         "lag(sum(amount)) AS prev_total, "
         "count(DISTINCT user_id) FILTER (WHERE first_seen(user_id)) AS new_users "
         "FROM shop GROUP BY TumblingWindow('1h');");
  h.send(R"({"user_id":"u1","amount":1,"timestamp":"2024-01-15T10:00:00Z"})");
  h.send(R"({"user_id":"u2","amount":2,"timestamp":"2024-01-15T10:10:00Z"})");
  h.send(R"({"user_id":"u1","amount":4,"timestamp":"2024-01-15T11:00:00Z"})");
  h.send(R"({"user_id":"u3","amount":8,"timestamp":"2024-01-15T11:10:00Z"})");
  h.flush();
  auto r = h.results();
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0]["total"], 3);
  EXPECT_TRUE(r[0]["prev_total"].is_null());
  EXPECT_EQ(r[0]["new_users"], 2);
  EXPECT_EQ(r[1]["total"], 12);
  EXPECT_EQ(r[1]["prev_total"], 3);
  EXPECT_EQ(r[1]["new_users"], 1);
}

TEST(Engine, StatefulPerEventPartitioned) {
  Harness h;
  h.load(std::string(kStream) +
         "CREATE RULE r WITH (TOPIC='o') AS SELECT device, status FROM shop "
         "WHERE had_changed(true, status) OVER (PARTITION BY device);");
  h.send(R"({"device":"a","status":"on","timestamp":1705312800})");
  h.send(R"({"device":"b","status":"on","timestamp":1705312801})");
  h.send(R"({"device":"a","status":"on","timestamp":1705312802})");
  h.send(R"({"device":"a","status":"off","timestamp":1705312803})");
  auto r = h.results();
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[2], json::parse(R"({"device":"a","status":"off"})"));
}

TEST(Engine, BoundsAreCounted) {
  EngineOptions o;
  o.max_group_keys = 3;
  o.max_open_windows = 2;
  o.max_rows_per_window = 2;
  Harness h(o);
  h.load(
      "CREATE STREAM shop WITH (TOPIC='shop/+/events', TIMESTAMP='timestamp', MAXOUTOFORDERNESS='1h');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT k, count(*) AS n FROM shop GROUP BY k, TumblingWindow('1h');"
      "CREATE RULE w WITH (TOPIC='o2') AS SELECT k FROM shop GROUP BY TumblingWindow('1s');");
  for (int i = 0; i < 5; ++i)
    h.send(json{{"k", i}, {"timestamp", "2024-01-15T10:00:00Z"}}.dump());
  // Two more windows for rule w: one allowed (2 open), the next refused.
  h.send(json{{"k", 0}, {"timestamp", "2024-01-15T10:00:05Z"}}.dump());
  h.send(json{{"k", 0}, {"timestamp", "2024-01-15T10:00:09Z"}}.dump());
  auto m = h.metric("r");
  EXPECT_EQ(m.dropped_keys, 2u);
  EXPECT_EQ(m.group_keys, 3u);
  auto mw = h.metric("w");
  EXPECT_EQ(mw.dropped_rows, 3u);
  EXPECT_EQ(mw.dropped_windows, 1u);
  EXPECT_EQ(mw.open_windows, 2u);
  h.flush();
}

TEST(Engine, ProcessingTimeAndTick) {
  Harness h;
  h.load(
      "CREATE STREAM p WITH (TOPIC='p');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT count(*) AS n FROM p GROUP BY TumblingWindow('10s');");
  h.now = T("2024-01-15T10:00:01Z");
  h.send("p", R"({"a":1})");
  h.now = T("2024-01-15T10:00:02Z");
  h.send("p", R"({"a":1})");
  EXPECT_TRUE(h.out.empty());
  h.eng.on_tick(T("2024-01-15T10:00:10Z"), h.sink);
  auto r = h.results();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["n"], 2);
}

TEST(Engine, IdleTimeoutAdvancesWatermark) {
  Harness h;
  h.load(
      "CREATE STREAM s WITH (TOPIC='t', TIMESTAMP='ts', IDLETIMEOUT='30s');"
      "CREATE RULE r WITH (TOPIC='o') AS SELECT count(*) AS n FROM s GROUP BY TumblingWindow('1m');");
  h.now = T("2024-01-15T12:00:00Z");
  h.send("t", R"({"ts":"2024-01-15T10:00:10Z"})");
  h.eng.on_tick(T("2024-01-15T12:00:20Z"), h.sink);  // not idle long enough
  EXPECT_TRUE(h.out.empty());
  h.eng.on_tick(T("2024-01-15T12:00:55Z"), h.sink);  // wm = 10:00:10 + 55s >= 10:01
  EXPECT_EQ(h.results().size(), 1u);
}

// Cluster mode journals clock ticks for a quiet partition only while one can fire something.
TEST(Engine, WaitsOnTheClockOnlyWhileAClockDrivenWindowIsOpen) {
  Harness h;
  h.load(
      "CREATE STREAM p WITH (TOPIC='p');"
      "CREATE STREAM e WITH (TOPIC='e', TIMESTAMP='ts');"
      "CREATE STREAM q WITH (TOPIC='q', TIMESTAMP='ts', IDLETIMEOUT='30s');"
      "CREATE RULE by_clock WITH (TOPIC='o1') AS SELECT count(*) AS n FROM p GROUP BY TumblingWindow('10s');"
      "CREATE RULE by_event WITH (TOPIC='o2') AS SELECT count(*) AS n FROM e GROUP BY TumblingWindow('10s');"
      "CREATE RULE idle_src WITH (TOPIC='o3') AS SELECT ts, v FROM q;"
      "CREATE RULE chained WITH (TOPIC='o4') AS SELECT sum(v) AS s FROM idle_src GROUP BY TumblingWindow('1m');");
  EXPECT_FALSE(h.eng.waits_on_clock());
  h.now = T("2024-01-15T10:00:01Z");
  h.send("e", R"({"ts":"2024-01-15T10:00:01Z"})");
  EXPECT_FALSE(h.eng.waits_on_clock()) << "an event-time window without IDLETIMEOUT never waits on the clock";
  h.send("p", R"({"a":1})");
  EXPECT_TRUE(h.eng.waits_on_clock());
  h.eng.on_tick(T("2024-01-15T10:00:10Z"), h.sink);
  EXPECT_FALSE(h.eng.waits_on_clock()) << "the processing-time window closed";
  h.send("q", R"({"ts":"2024-01-15T10:00:05Z","v":2})");
  EXPECT_TRUE(h.eng.waits_on_clock()) << "a rule chained on an IDLETIMEOUT stream has an open window";
  h.eng.on_tick(T("2024-01-15T10:02:00Z"), h.sink);
  EXPECT_FALSE(h.eng.waits_on_clock());
}

TEST(Engine, Errors) {
  auto errs = Engine::check("rules.sql",
                            "CREATE STREAM s WITH (TOPIC='t', FOO=1, MAXOUTOFORDERNESS='5x');\n"
                            "CREATE RULE r AS SELECT nosuch(a) FROM s;\n"
                            "CREATE RULE r2 AS SELECT a FROM nowhere;\n"
                            "CREATE RULE r3 AS SELECT a FROM s WHERE count(*) > 1 GROUP BY TumblingWindow('1m');\n"
                            "CREATE RULE r4 AS SELECT count(*) FROM s GROUP BY TumblingWindow('1m'), SessionWindow('1m');\n"
                            "CREATE RULE r5 AS SELECT TumblingWindow('1m') FROM s;\n"
                            "CREATE RULE r6 AS SELECT round(1, 2, 3, 4) FROM s;\n"
                            "CREATE RULE r7 AS SELECT sum(a) FROM s;\n");
  std::vector<std::string> texts;
  for (const auto& e : errs) texts.push_back(e.to_string());
  auto has = [&](const std::string& prefix, const std::string& word) {
    for (const auto& t : texts)
      if (t.rfind(prefix, 0) == 0 && t.find(word) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("rules.sql:1:34:", "FOO")) << ::testing::PrintToString(texts);
  EXPECT_TRUE(has("rules.sql:1:41:", "duration")) << ::testing::PrintToString(texts);
  EXPECT_TRUE(has("rules.sql:2:25:", "nosuch")) << ::testing::PrintToString(texts);
  EXPECT_TRUE(has("rules.sql:3:33:", "nowhere")) << ::testing::PrintToString(texts);
  EXPECT_TRUE(has("rules.sql:4:41:", "WHERE")) << ::testing::PrintToString(texts);
  EXPECT_TRUE(has("rules.sql:5:73:", "one window")) << ::testing::PrintToString(texts);
  EXPECT_TRUE(has("rules.sql:6:26:", "GROUP BY")) << ::testing::PrintToString(texts);
  EXPECT_TRUE(has("rules.sql:7:26:", "argument")) << ::testing::PrintToString(texts);
  EXPECT_TRUE(has("rules.sql:8:26:", "window")) << ::testing::PrintToString(texts);

  auto alert = Engine::check("a.sql", "CREATE STREAM s WITH (TOPIC='t');\n"
                                      "CREATE ALERT a WITH (TOPIC='x') AS SELECT a FROM s WHERE a > 1;");
  // CREATE ALERT is part of the language (issue 5): a well-formed alert checks clean.
  EXPECT_TRUE(alert.empty()) << ::testing::PrintToString(alert.size());

  // A file with errors adds nothing; the engine keeps running without it.
  Engine eng;
  EXPECT_FALSE(eng.load_file("bad.sql", "CREATE STREAM s WITH (TOPIC='t'); CREATE RULE r AS SELECT x( FROM s;").empty());
  EXPECT_TRUE(eng.streams().empty());
}

TEST(Engine, ParseErrorsDoNotHidePlanningErrors) {
  // One run reports both (issue 16); a rule reading a statement that did not parse gets no
  // knock-on "unknown stream" on top of that statement's own error.
  auto errs = Engine::check("rules.sql",
                            "CREATE STREAM broken WITH (TOPIC='b' FORMAT='json');\n"
                            "CREATE STREAM s WITH (TOPIC='t');\n"
                            "CREATE RULE r AS SELECT nosuch(a) FROM s;\n"
                            "CREATE RULE r2 AS SELECT a FROM broken;\n"
                            "CREATE RULE r3 AS SELECT a FROM s WHERE a >;\n");
  std::vector<std::string> texts;
  for (const auto& e : errs) texts.push_back(e.to_string());
  ASSERT_EQ(texts.size(), 3u) << ::testing::PrintToString(texts);
  EXPECT_EQ(texts[0].rfind("rules.sql:1:38:", 0), 0u) << texts[0];
  EXPECT_EQ(texts[1].rfind("rules.sql:5:", 0), 0u) << texts[1];
  EXPECT_EQ(texts[2].rfind("rules.sql:3:25:", 0), 0u) << texts[2];
}

//! Rules with every kind of window state (groups with DISTINCT sets and analytic state,
//! sessions, a counting window) and 40 events that leave all of them open halfway.
std::string mid_window_rules() {
  return std::string(kStream) +
         "CREATE RULE r WITH (TOPIC='o') AS SELECT category, count(*) AS n, "
         "sum(amount) AS s, avg(amount) AS a, min(amount) AS mn, max(amount) AS mx, "
         "count(DISTINCT user_id) AS u, lag(sum(amount)) AS prev "
         "FROM shop GROUP BY category, TumblingWindow('10m');"
         "CREATE RULE sess WITH (TOPIC='o2') AS SELECT user_id, count(*) AS n FROM shop "
         "GROUP BY user_id, SessionWindow('3m');"
         "CREATE RULE cnt WITH (TOPIC='o3') AS SELECT sum(amount) AS s FROM shop "
         "GROUP BY CountingWindow(4);";
}

std::vector<std::string> mid_window_events() {
  std::vector<std::string> events;
  for (int i = 0; i < 40; ++i) {
    events.push_back(json{{"category", i % 3 == 0 ? "x" : "y"},
                          {"user_id", "u" + std::to_string(i % 5)},
                          {"amount", i * 1.5},
                          {"timestamp", 1705312800 + i * 37}}
                         .dump());
  }
  return events;
}

//! Runs the mid-window events straight through, and again with a checkpoint taken after event 21,
//! CBOR-encoded as the gateway stores it, passed through `rewrite`, and restored into a fresh
//! engine: both runs must give the same results. Returns the checkpoint as restored.
json expect_resume_after_checkpoint_matches(const std::function<void(json&)>& rewrite) {
  const std::string rules = mid_window_rules();
  const std::vector<std::string> events = mid_window_events();
  Harness a;
  a.load(rules);
  for (const auto& e : events) a.send(e);
  a.flush();

  Harness b;
  b.load(rules);
  for (int i = 0; i < 21; ++i) b.send(events[static_cast<std::size_t>(i)]);
  json saved = json::from_cbor(json::to_cbor(b.eng.save_state()));
  rewrite(saved);
  Harness c;
  c.out = b.out;
  c.load(rules);
  c.eng.restore_state(saved);
  for (std::size_t i = 21; i < events.size(); ++i) c.send(events[i]);
  c.flush();
  EXPECT_EQ(a.out.size(), c.out.size());
  for (std::size_t i = 0; i < a.out.size() && i < c.out.size(); ++i) {
    EXPECT_EQ(a.out[i].payload, c.out[i].payload) << i;
    EXPECT_EQ(a.out[i].result_id, c.out[i].result_id) << i;
    EXPECT_EQ(a.out[i].emission_index, c.out[i].emission_index) << i;
  }
  return saved;
}

TEST(Engine, SaveRestoreMidWindow) {
  const json saved = expect_resume_after_checkpoint_matches([](json&) {});
  // State of a rule whose text changed is ignored.
  Harness d;
  d.load(std::string(kStream) + "CREATE RULE r WITH (TOPIC='o') AS SELECT count(*) AS n FROM shop "
                                "GROUP BY TumblingWindow('10m');");
  d.eng.restore_state(saved);
  d.flush();
  EXPECT_TRUE(d.out.empty());
}

//! Cuts the first window's group frames short, as a torn write would. Returns false if none.
bool truncate_first_group_frames(json& j) {
  if (j.is_object()) {
    if (auto f = j.find("group_frames"); f != j.end() && f->is_binary() && f->get_binary().size() > 3) {
      auto bytes = f->get_binary();
      bytes.resize(3);
      *f = json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
      return true;
    }
    for (auto& [k, v] : j.items())
      if (truncate_first_group_frames(v)) return true;
  } else if (j.is_array()) {
    for (auto& v : j)
      if (truncate_first_group_frames(v)) return true;
  }
  return false;
}

// A damaged checkpoint names the stream or rule and what is wrong, without the JSON library's
// exception text (which used to reach the log as "[json.exception.type_error.302] ...").
TEST(Engine, DamagedCheckpointNamesTheStreamOrRule) {
  Harness b;
  b.load(mid_window_rules());
  const std::vector<std::string> events = mid_window_events();
  for (int i = 0; i < 21; ++i) b.send(events[static_cast<std::size_t>(i)]);
  const json saved = json::from_cbor(json::to_cbor(b.eng.save_state()));
  auto restore_error = [](const json& state) -> std::string {
    Harness c;
    c.load(mid_window_rules());
    try {
      c.eng.restore_state(state);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "restored without an error";
  };

  json bad_stream = saved;
  ASSERT_TRUE(bad_stream["streams"].is_object() && !bad_stream["streams"].empty()) << saved.dump();
  const std::string stream = bad_stream["streams"].begin().key();
  bad_stream["streams"][stream]["watermark"] = "soon";
  const std::string stream_error = restore_error(bad_stream);
  EXPECT_EQ(stream_error.rfind("the checkpoint of stream '" + stream + "' is damaged: ", 0), 0u) << stream_error;
  EXPECT_EQ(stream_error.find("json.exception"), std::string::npos) << stream_error;

  json bad_rule = saved;
  ASSERT_TRUE(truncate_first_group_frames(bad_rule["rules"])) << saved.dump();
  const std::string rule_error = restore_error(bad_rule);
  EXPECT_EQ(rule_error.rfind("the checkpoint of rule '", 0), 0u) << rule_error;
  EXPECT_NE(rule_error.find("' is damaged: checkpoint: truncated group frame"), std::string::npos) << rule_error;
}

//! Rewrites every window's group frames as the JSON array checkpoints held before frames.
void frames_to_group_arrays(json& j) {
  if (j.is_object()) {
    if (auto f = j.find("group_frames"); f != j.end() && f->is_binary()) {
      const auto bytes = f->get_binary();
      json groups = json::array();
      for (std::size_t at = 0; at < bytes.size();) {
        const std::size_t n = bytes[at] | bytes[at + 1] << 8 | bytes[at + 2] << 16 |
                              static_cast<std::size_t>(bytes[at + 3]) << 24;
        groups.push_back(json::from_cbor(bytes.begin() + static_cast<std::ptrdiff_t>(at + 4),
                                         bytes.begin() + static_cast<std::ptrdiff_t>(at + 4 + n)));
        at += 4 + n;
      }
      j.erase("group_frames");
      j["groups"] = std::move(groups);
    }
    for (auto& [k, v] : j.items()) frames_to_group_arrays(v);
  } else if (j.is_array()) {
    for (auto& v : j) frames_to_group_arrays(v);
  }
}

TEST(Engine, RestoresCheckpointsWrittenBeforeGroupFrames) {
  const json restored = expect_resume_after_checkpoint_matches(frames_to_group_arrays);
  EXPECT_EQ(restored.dump().find("group_frames"), std::string::npos);
  EXPECT_NE(restored.dump().find("\"groups\""), std::string::npos);
}

TEST(Engine, ATruncatedGroupFrameIsReportedAsAnError) {
  Harness b;
  b.load(mid_window_rules());
  const std::vector<std::string> events = mid_window_events();
  for (int i = 0; i < 21; ++i) b.send(events[static_cast<std::size_t>(i)]);
  json saved = json::from_cbor(json::to_cbor(b.eng.save_state()));
  auto& frames = saved["rules"]["r"]["windows"][0]["group_frames"].get_binary();
  ASSERT_GT(frames.size(), 8u);
  frames.resize(frames.size() - 3);
  Harness c;
  c.load(mid_window_rules());
  EXPECT_THROW(c.eng.restore_state(saved), std::runtime_error);
}

TEST(Engine, ReloadKeepsStateOfUnchangedRules) {
  Harness h;
  const std::string keep = "CREATE RULE keep WITH (TOPIC='o') AS SELECT count(*) AS n FROM shop GROUP BY TumblingWindow('1h');";
  ASSERT_TRUE(h.eng.reload({{"a.sql", std::string(kStream) + keep +
                                           "CREATE RULE change WITH (TOPIC='o2') AS SELECT count(*) AS n FROM shop "
                                           "GROUP BY TumblingWindow('1h');"}})
                  .empty());
  h.send(R"({"timestamp":"2024-01-15T10:00:00Z"})");
  h.send(R"({"timestamp":"2024-01-15T10:01:00Z"})");
  // A broken reload keeps the old set.
  EXPECT_FALSE(h.eng.reload({{"a.sql", "CREATE RULE broken AS SELECT FROM;"}}).empty());
  EXPECT_EQ(h.eng.rules().size(), 2u);
  ASSERT_TRUE(h.eng.reload({{"a.sql", std::string(kStream) + keep +
                                           "CREATE RULE change WITH (TOPIC='o2') AS SELECT count(*) AS total FROM shop "
                                           "GROUP BY TumblingWindow('1h');"}})
                  .empty());
  h.send(R"({"timestamp":"2024-01-15T10:02:00Z"})");
  h.flush();
  std::map<std::string, json> by_rule;
  for (const auto& e : h.out) by_rule[e.rule] = json::parse(e.payload);
  EXPECT_EQ(by_rule["keep"]["n"], 3);
  EXPECT_EQ(by_rule["change"]["total"], 1);
}

TEST(Engine, StreamsAndRulesListing) {
  Engine eng;
  ASSERT_TRUE(eng.load_file("a.sql", "CREATE STREAM s WITH (TOPIC='a/#', QOS=1);"
                                     "CREATE STREAM s2 WITH (TOPIC='a/#', QOS=2);").empty());
  ASSERT_TRUE(eng.load_file("b.sql", "CREATE RULE r WITH (TOPIC='o') AS SELECT x FROM s;").empty());
  auto st = eng.streams();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].qos, 2);
  auto rs = eng.rules();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].from, "s");
  EXPECT_EQ(rs[0].file, "b.sql");
  EXPECT_EQ(rs[0].text_hash.size(), 16u);
  EXPECT_TRUE(eng.set_paused("r", true));
  EXPECT_FALSE(eng.set_paused("nope", true));
}

}  // namespace
}  // namespace streamgate::rules

TEST(TimeUtil, AlignDownIsEpochAlignedForNegativeTimesAndSaturatesAtTheInt64Limit) {
  using streamgate::rules::align_down;
  constexpr std::int64_t kMinute = 60'000'000'000;
  EXPECT_EQ(align_down(90'000'000'000, kMinute), kMinute);
  EXPECT_EQ(align_down(-1, kMinute), -kMinute);  // 1969-12-31T23:59:00Z, not 1970
  const std::int64_t lowest = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(align_down(lowest + 5, 1000), lowest);  // the aligned start is below int64
  EXPECT_EQ(align_down(lowest + 5, kMinute, 30'000'000'000), lowest);
}
