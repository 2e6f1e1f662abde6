// FieldExtractor: the one pass over an event's fields that fills the rules' slots. Its lookup is
// a filter table plus length buckets; these tests hold it to the plain definition (a field's
// slots get its value, the first of repeated keys wins, absent fields read NULL) on names made to
// collide in the filter and on random objects checked against a linear search.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "rules/ingest/ingest.h"

namespace streamgate::rules::ingest {
namespace {

struct Parsed {
  simdjson::dom::parser parser;
  simdjson::dom::object obj;
  explicit Parsed(const std::string& json) { EXPECT_FALSE(parser.parse(json).get_object().get(obj)) << json; }
};

std::vector<Value> extract(const FieldExtractor& ex, const std::string& json, std::size_t n_slots) {
  Parsed p(json);
  std::vector<Value> slots(n_slots, Value("stale"));
  ex.extract(p.obj, slots.data());
  return slots;
}

TEST(FieldExtractor, NamesSharingLengthFirstAndLastByteAreTold) {
  // Same length, first and last byte: one filter bucket, so the length scan decides.
  FieldExtractor ex;
  ex.build({"tXmp", "tYmp", "temp"});
  const auto s = extract(ex, R"({"tYmp":2,"temp":3,"tZmp":9,"tXmp":1})", 3);
  EXPECT_EQ(s[0], Value(1));
  EXPECT_EQ(s[1], Value(2));
  EXPECT_EQ(s[2], Value(3));
}

TEST(FieldExtractor, AKeyInTheBucketOfOneNameButNotThatNameIsSkipped) {
  FieldExtractor ex;
  ex.build({"temp"});
  // "tZmp" lands in the bucket of "temp" (same length, first, last byte) and must not match it.
  const auto s = extract(ex, R"({"tZmp":9,"t":1,"":2,"tempX":3})", 1);
  EXPECT_TRUE(s[0].is_null());
}

TEST(FieldExtractor, EmptyAndLongNames) {
  const std::string long_a(40, 'a'), long_b = std::string(39, 'a') + "b";
  FieldExtractor ex;
  ex.build({"", long_a, long_b});
  const auto s = extract(ex, "{\"" + long_b + "\":2,\"\":\"empty\",\"" + long_a + "\":1}", 3);
  EXPECT_EQ(s[0], Value("empty"));
  EXPECT_EQ(s[1], Value(1));
  EXPECT_EQ(s[2], Value(2));
}

TEST(FieldExtractor, SlotsOfOneNameAllGetTheValueAndTheFirstRepeatWins) {
  FieldExtractor ex;
  ex.build({"a", "b", "a"});
  const auto s = extract(ex, R"({"a":"one","a":2,"b":null})", 3);
  EXPECT_EQ(s[0], Value("one"));
  EXPECT_TRUE(s[1].is_null());
  EXPECT_EQ(s[2], Value("one"));
}

TEST(FieldExtractor, RowsFromAnotherRuleKeepTheFirstOfARepeatedColumn) {
  FieldExtractor ex;
  ex.build({"a", "b"});
  const Object row{{"a", Value(1)}, {"b", Value(2)}, {"a", Value(3)}};
  std::vector<Value> slots(2);
  ex.extract(row, slots.data());
  EXPECT_EQ(slots[0], Value(1));
  EXPECT_EQ(slots[1], Value(2));
}

TEST(FieldExtractor, TimestampAndIdAreLocatedInTheSamePass) {
  FieldExtractor ex;
  ex.build({"ts", "v"}, "ts", "id");
  Parsed p(R"({"id":"m-1","v":5,"ts":1705312800})");
  std::vector<Value> slots(2);
  simdjson::dom::element ts, id;
  bool has_ts = false, has_id = false;
  ex.extract(p.obj, slots.data(), &ts, &has_ts, &id, &has_id);
  ASSERT_TRUE(has_ts);
  ASSERT_TRUE(has_id);
  EXPECT_EQ(ts.get_int64().value(), 1705312800);
  EXPECT_EQ(id.get_string().value(), "m-1");
  EXPECT_EQ(slots[0], Value(std::int64_t{1705312800}));
  EXPECT_EQ(slots[1], Value(5));
}

TEST(FieldExtractor, RandomObjectsMatchALinearSearch) {
  std::mt19937 rng(7);
  // A small alphabet and short names make filter-bucket and length collisions frequent.
  auto random_name = [&] {
    std::string s(rng() % 5, 'a');
    for (char& c : s) c = static_cast<char>('a' + rng() % 3);
    return s;
  };
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> wanted(1 + rng() % 6);
    for (auto& w : wanted) w = random_name();
    FieldExtractor ex;
    ex.build(wanted);
    std::string json = "{";
    std::map<std::string, int> first;  // reference: the first value of each key
    const int fields = static_cast<int>(rng() % 10);
    for (int f = 0; f < fields; ++f) {
      const std::string k = random_name();
      const int v = static_cast<int>(rng() % 1000);
      if (f) json += ',';
      json += "\"" + k + "\":" + std::to_string(v);
      first.emplace(k, v);
    }
    json += "}";
    const auto s = extract(ex, json, wanted.size());
    for (std::size_t i = 0; i < wanted.size(); ++i) {
      auto it = first.find(wanted[i]);
      if (it == first.end()) EXPECT_TRUE(s[i].is_null()) << json << " slot " << wanted[i];
      else EXPECT_EQ(s[i], Value(it->second)) << json << " slot " << wanted[i];
    }
  }
}

TEST(WidenBigIntegers, OnlyIntegersBeyond64BitsOutsideStringsChange) {
  std::string out;
  EXPECT_FALSE(widen_big_integers(R"({"a": 18446744073709551615, "b": -9223372036854775808})", out));
  ASSERT_TRUE(widen_big_integers(R"({"a": 18446744073709551616, "b": 1.5e300, "c": [-9223372036854775809]})", out));
  EXPECT_EQ(out, R"({"a": 18446744073709551616.0, "b": 1.5e300, "c": [-9223372036854775809.0]})");
  ASSERT_TRUE(widen_big_integers(R"({"s": "123456789012345678901234 \" 99999999999999999999", "n": 99999999999999999999})", out));
  EXPECT_EQ(out, R"({"s": "123456789012345678901234 \" 99999999999999999999", "n": 99999999999999999999.0})");
  EXPECT_FALSE(widen_big_integers(R"({"x": 123456789012345678901.5})", out));
}

TEST(JsonParser, IntegersBeyond64BitsAreReadAsDoubles) {
  EngineOptions o;
  JsonParser p(o);
  simdjson::dom::element root;
  ASSERT_EQ(p.parse(R"({"id": 12345678901234567890123, "v": 1})", root), IngestStatus::Ok);
  EXPECT_DOUBLE_EQ(to_value(root["id"].value()).as_number(), 1.2345678901234568e22);
  EXPECT_EQ(p.parse(R"({"id": 12345678901234567890123, "v": })", root), IngestStatus::MalformedJson);
}

TEST(ToValue, RepeatedKeysKeepTheFirst) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  ASSERT_FALSE(parser.parse(std::string(R"({"a": 1, "b": {"x": 1, "x": 2}, "a": 2})")).get(e));
  Value v = to_value(e);
  EXPECT_EQ(v.to_json(), R"({"a":1,"b":{"x":1}})");
}

}  // namespace
}  // namespace streamgate::rules::ingest
