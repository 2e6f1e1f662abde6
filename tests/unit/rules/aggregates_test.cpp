// Built-in aggregates through the type-erased entry the engine uses: results, NULL and wrong
// types, empty groups, merge == sequential add, checkpoint round trips, and merges over many
// partitions as cluster mode's two-phase aggregates do them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/function_registry.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;
using Row = std::vector<Value>;

//! One aggregate state in its own aligned buffer, the way a group arena holds it.
class Agg {
 public:
  explicit Agg(std::string_view name) : f_(FunctionRegistry::global().aggregate(name)) {
    if (f_ == nullptr) throw std::runtime_error("unknown aggregate " + std::string(name));
    state_ = ::operator new(f_->state_size, std::align_val_t(f_->state_align));
    f_->construct(state_);
  }
  ~Agg() {
    f_->destroy(state_);
    ::operator delete(state_, std::align_val_t(f_->state_align));
  }
  Agg(const Agg&) = delete;
  Agg& operator=(const Agg&) = delete;

  Agg& add(Row args) {
    f_->add(state_, Args{args.data(), args.size()});
    return *this;
  }
  Agg& add_all(const std::vector<Row>& rows) {
    for (const auto& r : rows) add(r);
    return *this;
  }
  //! add() with the row's event time, as the engine calls it.
  Agg& add_at(Row args, std::int64_t event_time) {
    if (f_->add_at) f_->add_at(state_, Args{args.data(), args.size()}, event_time);
    else f_->add(state_, Args{args.data(), args.size()});
    return *this;
  }
  Value result() const { return f_->result(state_); }
  std::string j() const { return result().to_json(); }
  void merge(const Agg& other) { f_->merge(state_, other.state_); }
  void merge_partition(const Agg& other) { f_->merge_partition(state_, other.state_); }
  json save() const { return f_->save(state_); }
  std::vector<std::uint8_t> save_cbor() const {
    std::vector<std::uint8_t> out;
    f_->save_cbor(state_, out);
    return out;
  }
  void restore(const json& saved) { f_->restore(state_, saved); }
  std::size_t heap_bytes() const { return f_->heap_bytes(state_); }
  const AggregateFunction& fn() const { return *f_; }

 private:
  const AggregateFunction* f_;
  void* state_;
};

std::vector<Row> column(std::vector<Value> values) {
  std::vector<Row> rows;
  for (auto& v : values) rows.push_back({std::move(v)});
  return rows;
}

//! Numbers agree to 1e-9 relative; everything else exactly (type included).
void expect_same(const Value& a, const Value& b, const std::string& what) {
  if (a.is_double() && b.is_double()) {
    EXPECT_NEAR(a.as_number(), b.as_number(), 1e-9 * std::max(1.0, std::fabs(a.as_number())))
        << what;
  } else {
    EXPECT_EQ(a.to_json(), b.to_json()) << what;
  }
}

//! merge(first part, second part) gives what adding every row in order gives, for every split.
void expect_merge_matches(std::string_view name, const std::vector<Row>& rows) {
  Agg whole(name);
  whole.add_all(rows);
  for (std::size_t split = 0; split <= rows.size(); ++split) {
    Agg a(name), b(name);
    for (std::size_t i = 0; i < rows.size(); ++i) (i < split ? a : b).add(rows[i]);
    a.merge(b);
    expect_same(a.result(), whole.result(), std::string(name) + " split " + std::to_string(split));
  }
}

//! A state saved to text and restored gives the same result, and keeps aggregating the same.
void expect_round_trip(std::string_view name, const std::vector<Row>& rows,
                       const std::vector<Row>& more = {}) {
  Agg original(name);
  original.add_all(rows);
  Agg copy(name);
  copy.restore(json::parse(original.save().dump()));
  expect_same(copy.result(), original.result(), std::string(name) + " restored");
  original.add_all(more);
  copy.add_all(more);
  expect_same(copy.result(), original.result(), std::string(name) + " continued");
  // An empty state round-trips too.
  Agg empty(name), empty_copy(name);
  empty_copy.restore(json::parse(empty.save().dump()));
  expect_same(empty_copy.result(), empty.result(), std::string(name) + " empty");
}

TEST(Aggregates, HotStatesAreSmallAndHeapFree) {
  for (const char* n : {"count", "sum", "avg", "min", "max"}) {
    Agg a(n);
    EXPECT_LE(a.fn().state_size, 24u) << n;
    a.add_all(column({1, 2.5, 3}));
    EXPECT_EQ(a.heap_bytes(), 0u) << n;
  }
}

TEST(Aggregates, EmptyGroups) {
  EXPECT_EQ(Agg("count").j(), "0");
  EXPECT_EQ(Agg("count_distinct").j(), "0");
  for (const char* n : {"sum", "avg", "min", "max", "stddev", "stddev_pop", "var", "var_pop",
                        "median", "first_value", "last_value", "mode", "slope", "trend",
                        "max_by", "min_by"})
    EXPECT_EQ(Agg(n).j(), "null") << n;
  EXPECT_EQ(Agg("percentile").j(), "null");
  EXPECT_EQ(Agg("collect").j(), "[]");
  EXPECT_EQ(Agg("deduplicate").j(), "[]");
  EXPECT_EQ(Agg("count_by").j(), "{}");
}

TEST(Aggregates, Count) {
  Agg rows("count");
  rows.add({}).add({}).add({});  // count(*): zero arguments, every row
  EXPECT_EQ(rows.j(), "3");
  Agg col("count");
  col.add_all(column({1, nullptr, "x", nullptr, false}));
  EXPECT_EQ(col.j(), "3");
  expect_merge_matches("count", column({1, nullptr, 2}));
  expect_round_trip("count", column({1, 2}), column({3}));
}

TEST(Aggregates, SumKeepsIntsExactUntilOverflow) {
  EXPECT_EQ(Agg("sum").add_all(column({1, 2, 3})).j(), "6");
  EXPECT_EQ(Agg("sum").add_all(column({1, 2.5, 3})).j(), "6.5");
  EXPECT_EQ(Agg("sum").add_all(column({nullptr, "7", true, 4})).j(), "4");  // wrong types skipped
  EXPECT_EQ(Agg("sum").add_all(column({nullptr, "x"})).j(), "null");
  EXPECT_EQ(Agg("sum").add_all(column({INT64_MAX, 1})).j(), "9223372036854775808.0");
  EXPECT_EQ(Agg("sum").add_all(column({INT64_MAX, 1, -1})).j(), "9223372036854775808.0");
  // Compensated: ten thousand cents sum to exactly 100.
  Agg cents("sum");
  for (int i = 0; i < 10'000; ++i) cents.add({0.01});
  EXPECT_EQ(cents.j(), "100.0");
  expect_merge_matches("sum", column({1, 2, 0.5, nullptr, 7}));
  expect_merge_matches("sum", column({INT64_MAX, 5, 3}));
  expect_round_trip("sum", column({1, 2}), column({3}));
  expect_round_trip("sum", column({1, 2.25}), column({3}));
}

TEST(Aggregates, Avg) {
  EXPECT_EQ(Agg("avg").add_all(column({1, 2})).j(), "1.5");
  EXPECT_EQ(Agg("avg").add_all(column({2, 4, nullptr, "x"})).j(), "3.0");
  EXPECT_EQ(Agg("mean").add_all(column({5})).j(), "5.0");
  expect_merge_matches("avg", column({1, 2.5, 4, nullptr}));
  expect_round_trip("avg", column({1, 2.5}), column({9}));
}

TEST(Aggregates, MinMax) {
  EXPECT_EQ(Agg("min").add_all(column({3, 1.5, nullptr, 2})).j(), "1.5");
  EXPECT_EQ(Agg("max").add_all(column({3, 1.5, nullptr, 2})).j(), "3");
  EXPECT_EQ(Agg("max").add_all(column({INT64_MAX - 1, INT64_MAX})).j(), std::to_string(INT64_MAX));
  EXPECT_EQ(Agg("min").add_all(column({"pear", "apple", "zoo"})).j(), "\"apple\"");
  EXPECT_EQ(Agg("max").add_all(column({"2024-01-15T10:00:00Z", "2024-01-15T11:00:00Z"})).j(),
            "\"2024-01-15T11:00:00Z\"");
  // Mixed types follow the total order: numbers < strings.
  EXPECT_EQ(Agg("max").add_all(column({5, "a", 7})).j(), "\"a\"");
  EXPECT_EQ(Agg("min").add_all(column({"a", 5, true})).j(), "true");
  EXPECT_EQ(Agg("max").add_all(column({NAN, 1})).j(), "1");
  expect_merge_matches("min", column({3, "b", 1.5, nullptr, 2}));
  expect_merge_matches("max", column({3, 9.5, 1, "a", 2}));
  expect_round_trip("max", column({3, 9.5}), column({10}));
  expect_round_trip("min", column({"b", "c"}), column({"a"}));
  expect_round_trip("min", column({2, 1}), column({1.5}));
}

TEST(Aggregates, VarianceAndStddev) {
  const auto data = column({2, 4, 4, 4, 5, 5, 7, 9, nullptr, "x"});
  EXPECT_EQ(Agg("var_pop").add_all(data).j(), "4.0");
  EXPECT_EQ(Agg("stddev_pop").add_all(data).j(), "2.0");
  EXPECT_NEAR(Agg("var").add_all(data).result().as_number(), 32.0 / 7, 1e-12);
  EXPECT_NEAR(Agg("stddev_samp").add_all(data).result().as_number(), std::sqrt(32.0 / 7), 1e-12);
  EXPECT_NEAR(Agg("variance").add_all(data).result().as_number(), 32.0 / 7, 1e-12);
  EXPECT_EQ(Agg("stddev").add({5}).j(), "null");  // sample with one value
  EXPECT_EQ(Agg("stddev_pop").add({5}).j(), "0.0");
  // Large offsets do not cancel away the spread.
  EXPECT_NEAR(Agg("var_pop").add_all(column({1e9 + 1, 1e9 + 2, 1e9 + 3})).result().as_number(),
              2.0 / 3, 1e-6);
  for (const char* n : {"stddev", "stddev_pop", "var", "var_pop"}) {
    expect_merge_matches(n, data);
    expect_round_trip(n, data, column({11, 3}));
  }
}

TEST(Aggregates, MedianAndPercentiles) {
  EXPECT_EQ(Agg("median").add_all(column({5, 1, 3})).j(), "3.0");
  EXPECT_EQ(Agg("median").add_all(column({4, 1, 3, 2, nullptr})).j(), "2.5");
  auto with_p = [](std::vector<Value> xs, Value p) {
    std::vector<Row> rows;
    for (auto& x : xs) rows.push_back({x, p});
    return rows;
  };
  const auto ten = with_p({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9);
  EXPECT_NEAR(Agg("percentile").add_all(ten).result().as_number(), 9.1, 1e-12);
  EXPECT_EQ(Agg("percentile_disc").add_all(ten).j(), "9");
  EXPECT_EQ(Agg("percentile_cont").add_all(with_p({1, 2}, 0)).j(), "1.0");
  EXPECT_EQ(Agg("percentile_cont").add_all(with_p({1, 2}, 1)).j(), "2.0");
  EXPECT_EQ(Agg("percentile").add_all(with_p({1, 2}, 1.5)).j(), "null");
  EXPECT_EQ(Agg("percentile").add_all(with_p({1, 2}, "x")).j(), "null");
  EXPECT_EQ(Agg("percentile").add_all(with_p({"a", nullptr}, 0.5)).j(), "null");
  EXPECT_EQ(Agg("percentile_disc").add_all(with_p({1.5, 2.5}, 0.5)).j(), "1.5");
  expect_merge_matches("median", column({9, 1, 5, 3, nullptr, 7}));
  expect_merge_matches("percentile", ten);
  expect_merge_matches("percentile_disc", ten);
  expect_round_trip("median", column({9, 1, 5}), column({3}));
  expect_round_trip("percentile", ten, with_p({100}, 0.9));
  expect_round_trip("percentile_disc", ten, with_p({100}, 0.9));
}

TEST(Aggregates, MedianIsBoundedAndStillClose) {
  Agg m("median");
  for (std::int64_t i = 0; i < 300'000; ++i) m.add({(i * 7919) % 300'000});
  EXPECT_LE(m.heap_bytes(), 100'000 * sizeof(double) * 2);
  EXPECT_NEAR(m.result().as_number(), 150'000, 3'000);  // sampled beyond the bound
}

TEST(Aggregates, FirstLastValue) {
  const auto data = column({nullptr, "a", "b", nullptr, "c", nullptr});
  EXPECT_EQ(Agg("first_value").add_all(data).j(), "\"a\"");
  EXPECT_EQ(Agg("last_value").add_all(data).j(), "\"c\"");
  std::vector<Row> keep_nulls = {{nullptr, false}, {"a", false}, {nullptr, false}};
  EXPECT_EQ(Agg("first_value").add_all(keep_nulls).j(), "null");
  EXPECT_EQ(Agg("last_value").add_all(keep_nulls).j(), "null");
  EXPECT_EQ(Agg("last_value").add({"a", false}).add({nullptr, true}).j(), "\"a\"");
  expect_round_trip("last_value", keep_nulls, {{nullptr, false}});
  expect_merge_matches("first_value", data);
  expect_merge_matches("last_value", data);
  expect_round_trip("first_value", data, column({"z"}));
  expect_round_trip("last_value", data, column({"z"}));
}

TEST(Aggregates, CollectAndDeduplicate) {
  const auto data = column({"b", 1, nullptr, "b", 1.0, Array{Value(1)}, "a"});
  EXPECT_EQ(Agg("collect").add_all(data).j(), R"(["b",1,"b",1.0,[1],"a"])");
  EXPECT_EQ(Agg("deduplicate").add_all(data).j(), R"(["b",1,[1],"a"])");
  EXPECT_EQ(Agg("collect_distinct").add_all(data).j(), R"(["b",1,[1],"a"])");
  EXPECT_EQ(Agg("count_distinct").add_all(data).j(), "4");
  for (const char* n : {"collect", "deduplicate", "count_distinct"}) {
    expect_merge_matches(n, data);
    expect_round_trip(n, data, column({"new", "b"}));
  }
}

TEST(Aggregates, ModeTopKCountBy) {
  const auto cats = column({"books", "electronics", nullptr, "toys", "electronics", "books",
                            "electronics"});
  EXPECT_EQ(Agg("mode").add_all(cats).j(), "\"electronics\"");
  EXPECT_EQ(Agg("mode").add_all(column({"b", "a", "b", "a"})).j(), "\"a\"");  // tie: smallest
  EXPECT_EQ(Agg("count_by").add_all(column({"US", "CN", "US", nullptr})).j(), R"({"US":2,"CN":1})");
  EXPECT_EQ(Agg("histogram").add_all(column({1, "1", 2})).j(), R"({"1":2,"2":1})");
  std::vector<Row> top;
  for (auto& r : cats) top.push_back({r[0], 2});
  EXPECT_EQ(Agg("top_k").add_all(top).j(), R"(["electronics","books"])");
  std::vector<Row> top0 = {{"a", 0}, {"b", 0}};
  EXPECT_EQ(Agg("top_k").add_all(top0).j(), "[]");
  std::vector<Row> bad_k = {{"a", "two"}};
  EXPECT_EQ(Agg("top_k").add_all(bad_k).j(), "null");
  for (const char* n : {"mode", "count_by"}) {
    expect_merge_matches(n, cats);
    expect_round_trip(n, cats, column({"toys", "toys", "toys"}));
  }
  expect_merge_matches("top_k", top);
  expect_round_trip("top_k", top, {{"toys", 2}, {"toys", 2}, {"toys", 2}});
}

TEST(Aggregates, SlopeAndTrend) {
  std::vector<Row> line;
  for (int i = 0; i < 10; ++i) line.push_back({3.0 * i + 1, i});
  EXPECT_NEAR(Agg("slope").add_all(line).result().as_number(), 3.0, 1e-12);
  EXPECT_EQ(Agg("slope").add({1, 5}).j(), "null");
  EXPECT_EQ(Agg("slope").add({1, 5}).add({2, 5}).j(), "null");  // vertical: undefined
  EXPECT_EQ(Agg("slope").add({nullptr, 1}).add({"x", 2}).add({1, nullptr}).j(), "null");
  // trend: per second of event time, whether epoch ms or RFC 3339 text.
  std::vector<Row> ms = {{10, 1705314600000}, {20, 1705314605000}, {30, 1705314610000}};
  EXPECT_NEAR(Agg("trend").add_all(ms).result().as_number(), 2.0, 1e-9);
  std::vector<Row> text = {{10, "2024-01-15T10:30:00Z"}, {16, "2024-01-15T10:31:00Z"}};
  EXPECT_NEAR(Agg("trend").add_all(text).result().as_number(), 0.1, 1e-9);
  // Epoch-sized x keeps its precision.
  std::vector<Row> big;
  for (int i = 0; i < 100; ++i) big.push_back({0.5 * i, 1.7e12 + i});
  EXPECT_NEAR(Agg("slope").add_all(big).result().as_number(), 0.5, 1e-9);
  expect_merge_matches("slope", line);
  expect_merge_matches("trend", ms);
  expect_round_trip("slope", line, {{100, 20}});
  expect_round_trip("trend", ms, {{0, 1705314620000}});
}

TEST(Aggregates, MaxByMinBy) {
  std::vector<Row> sales = {{"10:00", 5}, {"10:30", 9}, {"11:00", nullptr}, {"11:30", 9},
                            {"12:00", 2}};
  EXPECT_EQ(Agg("max_by").add_all(sales).j(), "\"10:30\"");  // ties: earliest row
  EXPECT_EQ(Agg("min_by").add_all(sales).j(), "\"12:00\"");
  EXPECT_EQ(Agg("max_by").add({nullptr, 3}).j(), "null");
  expect_merge_matches("max_by", sales);
  expect_merge_matches("min_by", sales);
  expect_round_trip("max_by", sales, {{"13:00", 10}});
  expect_round_trip("min_by", sales, {{"13:00", 1}});
}

TEST(Aggregates, NoneThrowsOnOddInputOrDamagedCheckpoint) {
  std::vector<Value> odd = {nullptr, true, 0, INT64_MIN, INT64_MAX, NAN, INFINITY, -INFINITY,
                            "", "x", Array{}, Object{{"k", 1}}};
  const auto& reg = FunctionRegistry::global();
  for (const auto& name : reg.names()) {
    if (reg.aggregate(name) == nullptr) continue;
    Agg a(name);
    const int n = std::max(a.fn().min_args, 1);
    for (std::size_t i = 0; i < odd.size(); ++i) {
      Row args;
      for (int k = 0; k < n; ++k) args.push_back(odd[(i + static_cast<std::size_t>(k) * 5) % odd.size()]);
      EXPECT_NO_THROW(a.add(args)) << name;
    }
    EXPECT_NO_THROW(a.result()) << name;
    EXPECT_NO_THROW(json::parse(a.save().dump())) << name;
    for (const char* text : {"null", "{}", "[]", "7", R"({"n":"x","values":3,"entries":[[1]],"v":[1]})"}) {
      Agg b(name);
      EXPECT_NO_THROW(b.restore(json::parse(text))) << name << " " << text;
      EXPECT_NO_THROW(b.result()) << name;
    }
  }
}

TEST(Aggregates, SaveCborDecodesToWhatSaveReturns) {
  // Checkpoints write aggregate states with save_cbor(); restore() reads them back as the JSON
  // that save() returns. Compared as re-encoded CBOR so that NaN inside a state compares equal.
  const std::vector<std::vector<Value>> inputs = {
      {},
      {1, 2, 3},
      {1.5, -2.25, 1e300, 3},
      {INT64_MAX, INT64_MIN, 0, -1},
      {NAN, INFINITY, -INFINITY, 2.5},
      {"b", "a", nullptr, true, Array{1, "x"}, Object{{"k", 1.5}}},
  };
  const auto& reg = FunctionRegistry::global();
  for (const auto& name : reg.names()) {
    if (reg.aggregate(name) == nullptr) continue;
    for (const auto& values : inputs) {
      Agg a(name);
      const int n = std::max(a.fn().min_args, 1);
      for (const auto& v : values) {
        Row args(static_cast<std::size_t>(n), v);
        a.add(args);
      }
      const auto bytes = a.save_cbor();
      const json decoded = json::from_cbor(bytes);
      EXPECT_EQ(json::to_cbor(decoded), json::to_cbor(a.save())) << name << " " << decoded.dump();
      Agg b(name);
      b.restore(decoded);
      EXPECT_EQ(b.result().to_json(), a.result().to_json()) << name;
    }
  }
}


TEST(Aggregates, MergeAggLaterValuesWinInFirstSeenKeyOrder) {
  Agg a("merge_agg");
  EXPECT_EQ(a.j(), "null");  // no object seen
  a.add({Object{{"b", 1}, {"a", 2}}}).add({Value()}).add({5}).add({Object{{"c", 3}, {"b", "x"}}});
  EXPECT_EQ(a.j(), R"({"b":"x","a":2,"c":3})");
  // A checkpoint keeps the order (pairs, not a JSON object whose keys would come back sorted).
  Agg b("merge_agg");
  b.restore(json::from_cbor(a.save_cbor()));
  EXPECT_EQ(b.j(), R"({"b":"x","a":2,"c":3})");
  // merge(): the other state is the later part of the stream.
  Agg later("merge_agg");
  later.add({Object{{"a", 9}, {"d", 4}}});
  b.merge(later);
  EXPECT_EQ(b.j(), R"({"b":"x","a":9,"c":3,"d":4})");
  Agg empty_objects("merge_agg");
  empty_objects.add({Object{}});
  EXPECT_EQ(empty_objects.j(), "{}");
  EXPECT_GT(b.heap_bytes(), 0u);
}

TEST(Aggregates, EKuiperSpreadNamesAreTheSampleAndPopulationVersions) {
  const std::vector<Row> spread = {{2}, {4}, {4}, {4}, {5}, {5}, {7}, {9}};
  EXPECT_DOUBLE_EQ(Agg("stddevp").add_all(spread).result().as_number(), 2.0);
  EXPECT_DOUBLE_EQ(Agg("varp").add_all(spread).result().as_number(), 4.0);
  EXPECT_DOUBLE_EQ(Agg("vars").add_all(spread).result().as_number(), 32.0 / 7);
  EXPECT_DOUBLE_EQ(Agg("stddevs").add_all(spread).result().as_number(), std::sqrt(32.0 / 7));
  EXPECT_EQ(Agg("stddevs").add({1}).j(), "null");  // a sample of one has no spread
}

// ---- merges across partitions (cluster mode's two-phase aggregates) -----------------------

//! Rows dealt at random to `parts` states (row i at event time 1000 + 10 i: each partition
//! sees its rows in event-time order), each shipped as a partial (CBOR of save(), restored
//! into a fresh state, as the merge stage receives it), merged in a random order with
//! merge_partition, as the merge stage merges.
Value merged_over_partitions(std::string_view name, const std::vector<Row>& rows, int parts, std::uint32_t seed) {
  std::vector<std::unique_ptr<Agg>> states;
  for (int i = 0; i < parts; ++i) states.push_back(std::make_unique<Agg>(name));
  std::uint32_t x = seed;
  auto next = [&x] {
    x = x * 1103515245u + 12345u;
    return x >> 8;
  };
  for (std::size_t i = 0; i < rows.size(); ++i)
    states[next() % static_cast<std::uint32_t>(parts)]->add_at(rows[i], 1000 + 10 * static_cast<std::int64_t>(i));
  std::vector<int> order(static_cast<std::size_t>(parts));
  for (int i = 0; i < parts; ++i) order[static_cast<std::size_t>(i)] = i;
  for (int i = parts - 1; i > 0; --i) std::swap(order[static_cast<std::size_t>(i)], order[next() % (i + 1)]);
  Agg total(name);
  for (int i : order) {
    Agg partial(name);
    partial.restore(json::from_cbor(states[static_cast<std::size_t>(i)]->save_cbor()));
    total.merge_partition(partial);
  }
  return total.result();
}

std::vector<Row> random_numbers(std::size_t n, std::uint32_t seed, bool ints) {
  std::vector<Row> rows;
  std::uint32_t x = seed;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    const int v = static_cast<int>(x >> 20) - 2048;
    rows.push_back({ints ? Value(std::int64_t{v}) : Value(v / 8.0 + 1000.0)});
    if (i % 17 == 0) rows.push_back({Value()});  // NULLs are skipped by every aggregate
  }
  return rows;
}

TEST(AggregateMerge, EveryMergeableAggregateMatchesTheSinglePassOverRandomPartitions) {
  for (std::uint32_t seed : {1u, 7u, 42u}) {
    for (int parts : {1, 2, 3, 8, 64}) {
      for (bool ints : {true, false}) {
        const auto rows = random_numbers(500, seed, ints);
        for (const char* name : {"count", "sum", "avg", "min", "max", "var", "var_pop", "stddev", "stddev_pop",
                                 "stddevs", "stddevp", "vars", "varp", "median", "count_distinct", "mode"}) {
          Agg single(name);
          single.add_all(rows);
          expect_same(merged_over_partitions(name, rows, parts, seed), single.result(),
                      std::string(name) + " over " + std::to_string(parts) + " partitions, seed " + std::to_string(seed));
        }
        std::vector<Row> pairs;
        for (std::size_t i = 0; i < rows.size(); ++i) pairs.push_back({rows[i][0], Value(static_cast<std::int64_t>(i))});
        for (const char* name : {"slope", "max_by", "min_by"}) {
          Agg single(name);
          single.add_all(pairs);
          expect_same(merged_over_partitions(name, pairs, parts, seed), single.result(), name);
        }
        // The stream is in event-time order: the earliest and latest rows are one box's first
        // and last; with ignore_null = false the NULLs count too.
        std::vector<Row> keep_nulls;
        for (const auto& r : rows) keep_nulls.push_back({r[0], Value(false)});
        const std::vector<Row>* inputs[] = {&rows, &keep_nulls};
        for (const char* name : {"first_value", "last_value"}) {
          for (const auto* input : inputs) {
            Agg single(name);
            single.add_all(*input);
            expect_same(merged_over_partitions(name, *input, parts, seed), single.result(),
                        std::string(name) + " over " + std::to_string(parts) + " partitions, seed " + std::to_string(seed));
          }
        }
        std::vector<Row> with_p;
        for (const auto& r : rows) with_p.push_back({r[0], Value(0.9)});
        for (const char* name : {"percentile_cont", "percentile_disc"}) {
          Agg single(name);
          single.add_all(with_p);
          expect_same(merged_over_partitions(name, with_p, parts, seed), single.result(), name);
        }
      }
    }
  }
}

TEST(AggregateMerge, ClosedFormsOverPartitions) {
  // 1..n: count n, sum n(n+1)/2, avg (n+1)/2, population variance (n^2-1)/12 (parallel Welford).
  const std::int64_t n = 10'001;
  std::vector<Row> rows;
  for (std::int64_t i = 1; i <= n; ++i) rows.push_back({i});
  EXPECT_EQ(merged_over_partitions("count", rows, 7, 3).as_int(), n);
  EXPECT_EQ(merged_over_partitions("sum", rows, 7, 3).as_int(), n * (n + 1) / 2);
  EXPECT_DOUBLE_EQ(merged_over_partitions("avg", rows, 7, 3).as_number(), (n + 1) / 2.0);
  EXPECT_NEAR(merged_over_partitions("var_pop", rows, 7, 3).as_number(), (static_cast<double>(n) * n - 1) / 12.0, 1e-6);
  EXPECT_NEAR(merged_over_partitions("stddev", rows, 7, 3).as_number(),
              std::sqrt(static_cast<double>(n) * (n + 1) / 12.0), 1e-9);
  EXPECT_EQ(merged_over_partitions("min", rows, 7, 3).as_int(), 1);
  EXPECT_EQ(merged_over_partitions("max", rows, 7, 3).as_int(), n);
  EXPECT_EQ(merged_over_partitions("median", rows, 7, 3).as_number(), (n + 1) / 2.0);
}

// Across partitions first_value / last_value go by the event time each state carries; on one
// box (add, and merge of a session that bridges) arrival order stays the rule.
TEST(AggregateMerge, FirstLastValueMergeByEventTimeAndBreakTiesByValue) {
  auto merged = [](const char* name, const std::vector<std::pair<Value, std::int64_t>>& parts) {
    std::vector<std::string> results;
    for (bool reversed : {false, true}) {
      Agg total(name);
      for (std::size_t i = 0; i < parts.size(); ++i) {
        const auto& [v, t] = parts[reversed ? parts.size() - 1 - i : i];
        Agg p(name);
        p.add_at({v}, t);
        Agg shipped(name);
        shipped.restore(json::from_cbor(p.save_cbor()));
        total.merge_partition(shipped);
      }
      results.push_back(total.j());
    }
    EXPECT_EQ(results[0], results[1]) << name << ": the merge order changed the answer";
    return results[0];
  };
  // The earlier event wins for first_value, the later for last_value, whatever the values.
  EXPECT_EQ(merged("first_value", {{"z", 50}, {"a", 100}}), "\"z\"");
  EXPECT_EQ(merged("last_value", {{"z", 50}, {"a", 100}}), "\"a\"");
  // A tie on event time: the smaller value is first, the greater last (ORDER BY's order).
  EXPECT_EQ(merged("first_value", {{"b", 100}, {"a", 100}, {"c", 100}}), "\"a\"");
  EXPECT_EQ(merged("last_value", {{"b", 100}, {"a", 100}, {"c", 100}}), "\"c\"");
  EXPECT_EQ(merged("first_value", {{2, 7}, {nullptr, 9}, {1.5, 7}}), "1.5");
  // One box keeps arrival order: an out-of-order row does not displace the first one...
  EXPECT_EQ(Agg("first_value").add_at({"b"}, 200).add_at({"a"}, 100).j(), "\"b\"");
  EXPECT_EQ(Agg("last_value").add_at({"b"}, 200).add_at({"a"}, 100).j(), "\"a\"");
  // ... nor does merge() (the later part of one stream), whatever the times.
  Agg early("first_value"), late("first_value");
  early.add_at({"b"}, 200);
  late.add_at({"a"}, 100);
  early.merge(late);
  EXPECT_EQ(early.j(), "\"b\"");
}

// A state saved before states carried their event time ({"v"} only) still loads, keeps
// aggregating, and merges as an unknown (earliest) time.
TEST(AggregateMerge, FirstLastValueStatesWithoutEventTimeStillLoad) {
  Agg first("first_value"), last("last_value");
  first.restore(json{{"v", "old"}});
  last.restore(json{{"v", "old"}});
  EXPECT_EQ(first.j(), "\"old\"");
  EXPECT_EQ(last.j(), "\"old\"");
  first.add_at({"new"}, 5);
  last.add_at({"new"}, 5);
  EXPECT_EQ(first.j(), "\"old\"");
  EXPECT_EQ(last.j(), "\"new\"");
  EXPECT_EQ(first.save(), (json{{"v", "old"}, {"t", INT64_MIN}}));
  EXPECT_EQ(last.save(), (json{{"v", "new"}, {"t", 5}}));
  Agg old_first("first_value"), timed("first_value");
  old_first.restore(json{{"v", "old"}});
  timed.add_at({"timed"}, 1);
  timed.merge_partition(old_first);
  EXPECT_EQ(timed.j(), "\"old\"");
}

TEST(AggregateMerge, SetsAndCollectionsHoldTheSameElements) {
  const auto rows = column({"a", "b", "a", "c", nullptr, "b", "d", "a"});
  for (int parts : {2, 3, 5}) {
    auto sorted = [](Value v) {
      Array a = v.as_array();
      std::sort(a.begin(), a.end(), [](const Value& l, const Value& r) { return compare(l, r) < 0; });
      return Value(std::move(a)).to_json();
    };
    // Element order follows the merge order (partition by partition), not one box's arrival.
    EXPECT_EQ(sorted(merged_over_partitions("collect", rows, parts, 9)), R"(["a","a","a","b","b","c","d"])");
    EXPECT_EQ(sorted(merged_over_partitions("deduplicate", rows, parts, 9)), R"(["a","b","c","d"])");
    EXPECT_EQ(merged_over_partitions("count_distinct", rows, parts, 9).as_int(), 4);
    EXPECT_EQ(merged_over_partitions("mode", rows, parts, 9).to_json(), R"("a")");
    const Value by = merged_over_partitions("count_by", rows, parts, 9);
    std::map<std::string, std::int64_t> counts;
    for (const auto& [k, v] : by.as_object()) counts[k] = v.as_int();
    EXPECT_EQ(counts, (std::map<std::string, std::int64_t>{{"a", 3}, {"b", 2}, {"c", 1}, {"d", 1}}));
  }
  std::vector<Row> topk;
  for (const auto& r : rows) topk.push_back({r[0], 2});
  EXPECT_EQ(merged_over_partitions("top_k", topk, 4, 5).to_json(), R"(["a","b"])");
}

// merge_agg over partitions: keys that only one row carries (or that every row gives the same
// value) come out the same whatever the merge order; which of two different values wins follows
// the merge order, as the later part of the stream wins on one box.
TEST(AggregateMerge, MergeAggHoldsTheSameKeys) {
  std::vector<Row> rows;
  for (int i = 0; i < 300; ++i) {
    Object o{{"k" + std::to_string(i), i}, {"site", "north"}};
    if (i % 7 == 0) rows.push_back({Value()});
    rows.push_back({Value(std::move(o))});
  }
  Agg single("merge_agg");
  single.add_all(rows);
  auto as_map = [](const Value& v) {
    std::map<std::string, std::string> m;
    for (const auto& [k, x] : v.as_object()) m[k] = x.to_json();
    return m;
  };
  ASSERT_TRUE(single.result().is_object());
  EXPECT_EQ(single.result().as_object().size(), 301u);
  for (int parts : {1, 2, 3, 8, 64}) {
    for (std::uint32_t seed : {1u, 7u, 42u}) {
      EXPECT_EQ(as_map(merged_over_partitions("merge_agg", rows, parts, seed)), as_map(single.result()))
          << parts << " partitions, seed " << seed;
    }
  }
}

// Percentiles stay exact while a group's values in a window total at most 100,000 (the bound
// of one state); beyond, each merge that compacts misplaces a rank by at most N / 100,000
// (docs/scaling-out.md states it). 4 exact partials of 60,000 values: 3 compacting merges.
TEST(AggregateMerge, PercentileBeyondTheBoundIsWithinTheStatedRankError) {
  const std::int64_t n = 240'000;
  std::vector<Row> rows;
  for (std::int64_t i = 0; i < n; ++i) rows.push_back({(i * 7919) % n, 0.0});
  for (double p : {0.01, 0.1, 0.5, 0.9, 0.99}) {
    for (auto& r : rows) r[1] = Value(p);
    std::vector<std::unique_ptr<Agg>> parts;
    for (int k = 0; k < 4; ++k) parts.push_back(std::make_unique<Agg>("percentile_cont"));
    for (std::size_t i = 0; i < rows.size(); ++i) parts[i % 4]->add(rows[i]);
    Agg total("percentile_cont");
    for (auto& part : parts) total.merge(*part);
    // The values are 0..n-1: a value is its rank.
    const double rank_error = std::fabs(total.result().as_number() - p * static_cast<double>(n - 1));
    EXPECT_LE(rank_error, 3.0 * n / 100'000 + 1) << "p = " << p;
  }
}

}  // namespace
}  // namespace streamgate::rules
