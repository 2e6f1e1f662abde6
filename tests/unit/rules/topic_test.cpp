// topic() / topic_part(n) over messages from several topics, and output topic templates: parsing,
// filling, and the guarantee that a value fills exactly one level.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engine.h"
#include "rules/time_util.h"
#include "rules/topic.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;

struct EngineRun {
  Engine eng;
  std::vector<Emission> out;
  EmitFn sink = [this](Emission&& e) { out.push_back(std::move(e)); };
  TimeNs now = *parse_rfc3339("2024-01-16T00:00:00Z");
  void load(const std::string& text) {
    for (const auto& e : eng.load_file("t.sql", text)) ADD_FAILURE() << e.to_string();
  }
  void send(const std::string& topic, const std::string& payload) {
    EXPECT_EQ(eng.on_message(topic, payload, now, sink), IngestStatus::Ok) << payload;
  }
};

TEST(TopicAccess, EachRowSeesItsOwnTopic) {
  EngineRun r;
  r.load(
      "CREATE STREAM s WITH (TOPIC='devices/+/telemetry', TIMESTAMP='ts');\n"
      "CREATE RULE per_event WITH (TOPIC='out/{device}') AS SELECT topic_part(2) AS device, v FROM s "
      "WHERE topic_part(2) <> 'd3';\n"
      "CREATE RULE per_device WITH (TOPIC='sum/{device}') AS SELECT topic_part(2) AS device, sum(v) AS total "
      "FROM s GROUP BY topic_part(2), TumblingWindow('1m') ORDER BY device;\n");
  r.send("devices/d1/telemetry", R"({"ts":"2024-01-15T10:00:01Z","v":1})");
  r.send("devices/d2/telemetry", R"({"ts":"2024-01-15T10:00:02Z","v":10})");
  r.send("devices/d1/telemetry", R"({"ts":"2024-01-15T10:00:03Z","v":2})");
  r.send("devices/d3/telemetry", R"({"ts":"2024-01-15T10:00:04Z","v":100})");
  r.eng.flush(r.sink);
  std::vector<std::string> topics;
  std::vector<json> payloads;
  for (const auto& e : r.out) {
    topics.push_back(e.topic);
    payloads.push_back(json::parse(e.payload));
  }
  const std::vector<std::string> want_topics = {"out/d1", "out/d2", "out/d1", "sum/d1", "sum/d2", "sum/d3"};
  EXPECT_EQ(topics, want_topics);
  ASSERT_EQ(payloads.size(), 6u);
  EXPECT_EQ(payloads[1], json::parse(R"({"device":"d2","v":10})"));
  EXPECT_EQ(payloads[3], json::parse(R"({"device":"d1","total":3})"));
  EXPECT_EQ(payloads[5], json::parse(R"({"device":"d3","total":100})"));
}

TEST(TopicAccess, MisuseIsRejectedWithPosition) {
  const char* stream = "CREATE STREAM s WITH (TOPIC='a/+');\n";
  auto first_error = [&](const std::string& rule) {
    auto errors = Engine::check("t.sql", std::string(stream) + rule);
    return errors.empty() ? std::string("accepted") : errors.front().to_string();
  };
  EXPECT_NE(first_error("CREATE RULE r AS SELECT topic(1) AS t FROM s;").find("t.sql:2:25: function topic() expects 0"),
            std::string::npos);
  EXPECT_NE(first_error("CREATE RULE r AS SELECT topic_part() AS t FROM s;").find("topic_part() expects 1"),
            std::string::npos);
  EXPECT_NE(first_error("CREATE RULE r WITH (TOPIC='x/{t') AS SELECT topic() AS t FROM s;").find("unclosed '{'"),
            std::string::npos);
  EXPECT_NE(first_error("CREATE RULE r WITH (TOPIC='x/t}') AS SELECT topic() AS t FROM s;").find("unmatched '}'"),
            std::string::npos);
  EXPECT_NE(first_error("CREATE RULE r WITH (TOPIC='x/#') AS SELECT v FROM s;").find("wildcard '#'"),
            std::string::npos);
  EXPECT_NE(first_error("CREATE ALERT a WITH (TOPIC='x/{v}') AS SELECT v FROM s WHERE v > 1;")
                .find("an alert's topic cannot hold placeholders"),
            std::string::npos);
  EXPECT_EQ(first_error("CREATE RULE r WITH (TOPIC='x/{{v}}/{v}') AS SELECT v FROM s WHERE topic() = 'a/b';"),
            "accepted");
}

TEST(TopicTemplate, ValuesFillExactlyOneLevel) {
  TopicTemplate t;
  ASSERT_FALSE(t.parse("a/{x}/b", {"x"}));
  EXPECT_TRUE(t.has_placeholders());
  std::string topic;
  auto fill = [&](Value v) {
    t.fill(&v, topic);
    return topic;
  };
  EXPECT_EQ(fill(Value("k1")), "a/k1/b");
  EXPECT_EQ(fill(Value("x/y/+/#")), "a/x_y____/b");
  EXPECT_EQ(fill(Value(std::string("n\0ul", 4))), "a/n_ul/b");
  EXPECT_EQ(fill(Value()), "a/_/b");
  EXPECT_EQ(fill(Value("")), "a/_/b");
  EXPECT_EQ(fill(Value(2.5)), "a/2.5/b");
  EXPECT_EQ(fill(Value(Array{Value("s"), Value(1)})), "a/s_1/b");
  // Long values are cut at 256 bytes, never inside a UTF-8 character.
  std::string long_text = "x";
  for (int i = 0; i < 200; ++i) long_text += "é";  // 2 bytes each: byte 256 is mid-character
  const std::string filled = fill(Value(long_text));
  const std::string level = filled.substr(2, filled.size() - 4);
  EXPECT_EQ(level.size(), 255u);
  EXPECT_EQ(level, long_text.substr(0, 255));
  ASSERT_FALSE(t.parse("{x}/b", {"x"}));
  EXPECT_EQ(fill(Value("$SYS")), "_SYS/b");
  ASSERT_FALSE(t.parse("plain/topic", {"x"}));
  EXPECT_FALSE(t.has_placeholders());
}

}  // namespace
}  // namespace streamgate::rules
