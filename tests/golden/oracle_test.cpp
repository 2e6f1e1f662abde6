// Oracle test: seeded random out-of-order streams (thousands of keys, hundreds of thousands of
// events) go through the Engine API with tumbling and sliding windows, joined with a random
// table (JOIN and LEFT JOIN, grouped by a table column), and split over two streams joined with
// each other (interval and window joins, JOIN and LEFT JOIN); every (window, key) row must equal
// the same aggregation (and join) computed by SQLite over the same events.
//
// Disorder is bounded below MAXOUTOFORDERNESS, so no event is late and every event must be counted
// in every window that covers it. Values are multiples of 0.25 in [-1000, 1000], so sums are exact
// in doubles and any difference is a real error, not rounding.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engine.h"
#include "rules/time_util.h"

namespace {

using streamgate::rules::Emission;
using streamgate::rules::EmissionKind;
using streamgate::rules::Engine;
using streamgate::rules::EngineOptions;
using streamgate::rules::IngestStatus;
using streamgate::rules::kNsPerMs;

struct Event {
  int key;
  std::int64_t ts_ms;
  std::int64_t quarters;  // value * 4
  bool side;              // the interval join's right stream (else its left)
};

struct Agg {
  std::int64_t n = 0;
  double sum = 0, min = 0, max = 0, avg = 0;
};

// (window start ms, key) -> aggregate
using Table = std::map<std::pair<std::int64_t, std::string>, Agg>;

constexpr std::int64_t kBaseMs = 1'700'000'000'000;  // 2023-11-14T22:13:20Z
constexpr std::int64_t kStepMs = 10;                 // nominal spacing of events
constexpr std::int64_t kMaxDisorderMs = 9'000;       // < MAXOUTOFORDERNESS = 10 s

std::vector<Event> make_events(std::uint64_t seed, int n_events, int n_keys) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> key(0, n_keys - 1);
  std::uniform_int_distribution<std::int64_t> jitter(0, kMaxDisorderMs);
  std::uniform_int_distribution<std::int64_t> value(-4000, 4000);
  std::vector<Event> ev;
  ev.reserve(static_cast<std::size_t>(n_events));
  // Event i arrives i-th; its time is at most kMaxDisorderMs before the nominal time i*kStepMs,
  // which bounds it below max-seen-so-far by less than the out-of-orderness allowed.
  std::bernoulli_distribution side(0.5);
  for (int i = 0; i < n_events; ++i) {
    const int k = key(rng);
    const std::int64_t ts = kBaseMs + i * kStepMs - jitter(rng);
    const std::int64_t v = value(rng);
    ev.push_back({k, ts, v, side(rng)});
  }
  return ev;
}

std::string value_json(std::int64_t quarters) {
  if (quarters % 4 == 0) return std::to_string(quarters / 4);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(quarters) / 4.0);
  return buf;
}

std::int64_t parse_ws_ms(const std::string& s) {
  auto t = streamgate::rules::parse_rfc3339(s);
  EXPECT_TRUE(t.has_value()) << "bad window_start " << s;
  return t ? *t / kNsPerMs : 0;
}

// Runs the rules over the events; returns rule name -> table of its result rows.
struct DimRow {
  int key;
  int group;
  std::int64_t halves;  // weight * 2
};

// A table row for a random ~2/3 of the keys: key -> (group, weight); weights are multiples of
// 0.5, so v * w stays a multiple of 0.125 and sums stay exact.
std::vector<DimRow> make_dim(std::uint64_t seed, int n_keys) {
  std::mt19937_64 rng(seed ^ 0x5eed);
  std::uniform_int_distribution<int> pick(0, 2), group(0, 6);
  std::uniform_int_distribution<std::int64_t> halves(-8, 8);
  std::vector<DimRow> rows;
  for (int k = 0; k < n_keys; ++k)
    if (pick(rng) != 0) rows.push_back({k, group(rng), halves(rng)});
  return rows;
}

std::map<std::string, Table> run_engine(const std::vector<Event>& events, const std::vector<DimRow>& dim,
                                        const std::string& sql,
                                        std::map<std::string, std::uint64_t>& late_count) {
  EngineOptions opt;
  opt.max_open_windows = 10'000'000;
  opt.max_group_keys = 10'000'000;
  Engine engine(opt);
  auto errors = engine.load_file("oracle.sql", sql);
  for (const auto& e : errors) ADD_FAILURE() << e.to_string();
  std::map<std::string, Table> out;
  std::map<std::string, std::uint64_t> duplicates;
  auto emit = [&](Emission&& e) {
    if (e.kind == EmissionKind::Late) {
      ++late_count[e.rule];
      return;
    }
    if (e.kind != EmissionKind::Result) return;
    auto j = nlohmann::json::parse(e.payload);
    Agg a;
    a.n = j.at("n").get<std::int64_t>();
    a.sum = j.at("total").get<double>();
    a.min = j.at("lo").get<double>();
    a.max = j.at("hi").get<double>();
    a.avg = j.at("mean").get<double>();
    auto key = std::make_pair(parse_ws_ms(j.at("ws").get<std::string>()), j.at("k").get<std::string>());
    auto [it, inserted] = out[e.rule].emplace(key, a);
    if (!inserted) ++duplicates[e.rule];
  };
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::string payload;
  for (const auto& d : dim) {
    payload = "{\"k\":\"k" + std::to_string(d.key) + "\",\"grp\":\"g" + std::to_string(d.group) +
              "\",\"w\":" + std::to_string(static_cast<double>(d.halves) / 2.0) + "}";
    if (engine.on_message("oracle/dim", payload, now, emit) != IngestStatus::Ok)
      ADD_FAILURE() << "table row refused: " << payload;
  }
  for (const auto& ev : events) {
    payload = "{\"k\":\"k" + std::to_string(ev.key) + "\",\"ts\":" + std::to_string(ev.ts_ms) +
              ",\"v\":" + value_json(ev.quarters) + "}";
    auto st = engine.on_message("oracle/in", payload, now, emit);
    // Every event also goes to one of two streams joined by the interval-join rule.
    if (st == IngestStatus::Ok)
      st = engine.on_message(ev.side ? "oracle/right" : "oracle/left", payload, now, emit);
    if (st != IngestStatus::Ok) {
      ADD_FAILURE() << "on_message: " << streamgate::rules::to_string(st) << " for " << payload;
      break;
    }
  }
  engine.flush(emit);
  for (const auto& [rule, d] : duplicates) ADD_FAILURE() << rule << ": " << d << " (window, key) rows emitted twice";
  return out;
}

struct Db {
  sqlite3* db = nullptr;
  Db() { sqlite3_open(":memory:", &db); }
  ~Db() { sqlite3_close(db); }
  void exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      ADD_FAILURE() << "sqlite: " << (msg ? msg : "?") << " in " << sql;
      sqlite3_free(msg);
    }
  }
};

Table run_sqlite(Db& db, const char* query) {
  Table t;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db.db, query, -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(db.db);
    return t;
  }
  while (sqlite3_step(st) == SQLITE_ROW) {
    Agg a;
    std::string k = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    std::int64_t ws = sqlite3_column_int64(st, 1);
    a.n = sqlite3_column_int64(st, 2);
    a.sum = sqlite3_column_double(st, 3);
    a.min = sqlite3_column_double(st, 4);
    a.max = sqlite3_column_double(st, 5);
    a.avg = sqlite3_column_double(st, 6);
    t[{ws, k}] = a;
  }
  sqlite3_finalize(st);
  return t;
}

void load_events(Db& db, const std::vector<Event>& events) {
  db.exec("CREATE TABLE ev(k TEXT NOT NULL, ts INTEGER NOT NULL, v REAL NOT NULL, side INTEGER NOT NULL)");
  db.exec("BEGIN");
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db.db, "INSERT INTO ev VALUES (?1, ?2, ?3, ?4)", -1, &ins, nullptr);
  for (const auto& e : events) {
    std::string k = "k" + std::to_string(e.key);
    sqlite3_bind_text(ins, 1, k.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 2, e.ts_ms);
    sqlite3_bind_double(ins, 3, static_cast<double>(e.quarters) / 4.0);
    sqlite3_bind_int(ins, 4, e.side ? 1 : 0);
    sqlite3_step(ins);
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  db.exec("COMMIT");
}

void load_dim(Db& db, const std::vector<DimRow>& dim) {
  db.exec("CREATE TABLE dim(k TEXT PRIMARY KEY, grp TEXT NOT NULL, w REAL NOT NULL)");
  db.exec("BEGIN");
  sqlite3_stmt* ins = nullptr;
  sqlite3_prepare_v2(db.db, "INSERT INTO dim VALUES (?1, ?2, ?3)", -1, &ins, nullptr);
  for (const auto& d : dim) {
    std::string k = "k" + std::to_string(d.key), g = "g" + std::to_string(d.group);
    sqlite3_bind_text(ins, 1, k.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, g.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(ins, 3, static_cast<double>(d.halves) / 2.0);
    sqlite3_step(ins);
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  db.exec("COMMIT");
}

bool near(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max({1.0, std::fabs(a), std::fabs(b)}); }

void compare(const std::string& rule, const Table& engine, const Table& oracle) {
  EXPECT_EQ(engine.size(), oracle.size()) << rule << ": number of (window, key) rows";
  int reported = 0;
  for (const auto& [key, want] : oracle) {
    auto it = engine.find(key);
    if (it == engine.end()) {
      if (reported++ < 10)
        ADD_FAILURE() << rule << ": missing row window_start="
                      << streamgate::rules::format_rfc3339(key.first * kNsPerMs) << " k=" << key.second
                      << " (SQLite n=" << want.n << ")";
      continue;
    }
    const Agg& got = it->second;
    if (got.n != want.n || !near(got.sum, want.sum) || !near(got.min, want.min) ||
        !near(got.max, want.max) || !near(got.avg, want.avg)) {
      if (reported++ < 10)
        ADD_FAILURE() << rule << ": window_start="
                      << streamgate::rules::format_rfc3339(key.first * kNsPerMs) << " k=" << key.second
                      << "\n  engine n=" << got.n << " sum=" << got.sum << " min=" << got.min
                      << " max=" << got.max << " avg=" << got.avg << "\n  sqlite n=" << want.n
                      << " sum=" << want.sum << " min=" << want.min << " max=" << want.max
                      << " avg=" << want.avg;
    }
  }
  for (const auto& [key, _] : engine)
    if (!oracle.count(key) && reported++ < 10)
      ADD_FAILURE() << rule << ": extra row window_start="
                    << streamgate::rules::format_rfc3339(key.first * kNsPerMs) << " k=" << key.second;
  if (reported > 10) ADD_FAILURE() << rule << ": " << reported << " differences in total";
}

const char* kRules = R"sql(
CREATE STREAM o WITH (TOPIC = 'oracle/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '10s');

CREATE RULE tumbling WITH (TOPIC = 'oracle/tumbling') AS
SELECT k, window_start() AS ws, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, avg(v) AS mean
FROM o GROUP BY k, TumblingWindow('60s');

CREATE RULE sliding WITH (TOPIC = 'oracle/sliding') AS
SELECT k, window_start() AS ws, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, avg(v) AS mean
FROM o GROUP BY k, SlidingWindow('60s', '20s');

CREATE RULE hopping_gaps WITH (TOPIC = 'oracle/hopping') AS
SELECT k, window_start() AS ws, count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi, avg(v) AS mean
FROM o GROUP BY k, SlidingWindow('15s', '40s');

CREATE TABLE dim (k STRING, grp, w FLOAT) WITH (TYPE = 'mqtt', TOPIC = 'oracle/dim', KEY = 'k');

CREATE RULE table_join WITH (TOPIC = 'oracle/table_join') AS
SELECT d.grp AS k, window_start() AS ws, count(*) AS n, sum(v * w) AS total, min(v) AS lo, max(v * w) AS hi, avg(v) AS mean
FROM o JOIN dim d ON o.k = d.k GROUP BY d.grp, TumblingWindow('60s');

CREATE RULE table_left_join WITH (TOPIC = 'oracle/table_left_join') AS
SELECT coalesce(grp, 'none') AS k, window_start() AS ws, count(*) AS n, sum(v * coalesce(w, 1)) AS total,
       min(v) AS lo, max(v) AS hi, avg(v) AS mean
FROM o LEFT JOIN dim ON o.k = dim.k GROUP BY coalesce(grp, 'none'), TumblingWindow('60s');

CREATE STREAM l WITH (TOPIC = 'oracle/left', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '10s');
CREATE STREAM r WITH (TOPIC = 'oracle/right', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '10s');

CREATE RULE interval_join WITH (TOPIC = 'oracle/interval_join') AS
SELECT l.k, window_start() AS ws, count(*) AS n, sum(l.v * r.v) AS total, min(r.v) AS lo, max(l.v - r.v) AS hi,
       avg(r.v) AS mean
FROM l JOIN r ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '5' SECOND AND l.ts + INTERVAL '2' SECOND
GROUP BY l.k, TumblingWindow('60s');

CREATE RULE interval_left_join WITH (TOPIC = 'oracle/interval_left_join') AS
SELECT l.k, window_start() AS ws, count(*) AS n, sum(l.v * coalesce(r.v, 1)) AS total, min(l.v) AS lo,
       max(coalesce(r.v, 0)) AS hi, avg(l.v) AS mean
FROM l LEFT JOIN r ON l.k = r.k AND r.ts BETWEEN l.ts - INTERVAL '5' SECOND AND l.ts + INTERVAL '2' SECOND
GROUP BY l.k, TumblingWindow('60s');

CREATE RULE window_join WITH (TOPIC = 'oracle/window_join') AS
SELECT l.k, window_start() AS ws, count(*) AS n, sum(l.v * r.v) AS total, min(r.v) AS lo, max(l.v - r.v) AS hi,
       avg(r.v) AS mean
FROM l JOIN r ON l.k = r.k GROUP BY l.k, TumblingWindow('5s');

CREATE RULE window_join_hopping WITH (TOPIC = 'oracle/window_join_hopping') AS
SELECT l.k, window_start() AS ws, count(*) AS n, sum(l.v * r.v) AS total, min(r.v) AS lo, max(l.v - r.v) AS hi,
       avg(r.v) AS mean
FROM l JOIN r ON l.k = r.k GROUP BY l.k, HoppingWindow('10s', '5s');

CREATE RULE window_left_join WITH (TOPIC = 'oracle/window_left_join') AS
SELECT l.k, window_start() AS ws, count(*) AS n, sum(l.v * coalesce(r.v, 1)) AS total, min(l.v) AS lo,
       max(coalesce(r.v, 0)) AS hi, avg(l.v) AS mean
FROM l LEFT JOIN r ON l.k = r.k GROUP BY l.k, TumblingWindow('5s');
)sql";

// Pairs of a left and a right event of one key with right.ts - left.ts in [-5 s, 2 s], by the
// left event's window.
const char* kIntervalJoinSql =
    "SELECT a.k, (a.ts / 60000) * 60000 AS ws, count(*), sum(a.v * b.v), min(b.v), max(a.v - b.v), avg(b.v) "
    "FROM ev a JOIN ev b ON a.k = b.k AND a.side = 0 AND b.side = 1 "
    "AND b.ts BETWEEN a.ts - 5000 AND a.ts + 2000 GROUP BY a.k, ws";

// LEFT JOIN: every left event once per partner in its interval, or once with NULLs.
const char* kIntervalLeftJoinSql =
    "SELECT a.k, (a.ts / 60000) * 60000 AS ws, count(*), sum(a.v * coalesce(b.v, 1)), min(a.v), "
    "max(coalesce(b.v, 0)), avg(a.v) "
    "FROM ev a LEFT JOIN ev b ON a.k = b.k AND b.side = 1 AND b.ts BETWEEN a.ts - 5000 AND a.ts + 2000 "
    "WHERE a.side = 0 GROUP BY a.k, ws";
// Window joins: pairs of a left and a right event of one key in the same window (a range on
// b.ts, so SQLite walks the (k, side, ts) index).
const char* kWindowJoinSql =
    "SELECT a.k, (a.ts / 5000) * 5000 AS ws, count(*), sum(a.v * b.v), min(b.v), max(a.v - b.v), avg(b.v) "
    "FROM ev a JOIN ev b ON a.k = b.k AND a.side = 0 AND b.side = 1 "
    "AND b.ts >= (a.ts / 5000) * 5000 AND b.ts < (a.ts / 5000) * 5000 + 5000 GROUP BY a.k, ws";
// Size 10 s, hop 5 s: the windows holding a.ts start at floor(a.ts/5s)*5s - j*5s, j = 0..1;
// a pair belongs to each of them that also holds b.ts.
const char* kWindowJoinHoppingSql =
    "WITH offs(j) AS (VALUES (0), (1)), "
    "lw AS (SELECT k, v, (ts / 5000) * 5000 - j * 5000 AS ws FROM ev, offs WHERE side = 0) "
    "SELECT a.k, a.ws, count(*), sum(a.v * b.v), min(b.v), max(a.v - b.v), avg(b.v) "
    "FROM lw a JOIN ev b ON a.k = b.k AND b.side = 1 AND b.ts >= a.ws AND b.ts < a.ws + 10000 "
    "GROUP BY a.k, a.ws";
const char* kWindowLeftJoinSql =
    "SELECT a.k, (a.ts / 5000) * 5000 AS ws, count(*), sum(a.v * coalesce(b.v, 1)), min(a.v), "
    "max(coalesce(b.v, 0)), avg(a.v) "
    "FROM ev a LEFT JOIN ev b ON a.k = b.k AND b.side = 1 "
    "AND b.ts >= (a.ts / 5000) * 5000 AND b.ts < (a.ts / 5000) * 5000 + 5000 "
    "WHERE a.side = 0 GROUP BY a.k, ws";

const char* kTableJoinSql =
    "SELECT d.grp, (ts / 60000) * 60000 AS ws, count(*), sum(v * w), min(v), max(v * w), avg(v) "
    "FROM ev JOIN dim d ON ev.k = d.k GROUP BY d.grp, ws";
const char* kTableLeftJoinSql =
    "SELECT coalesce(d.grp, 'none') AS g, (ts / 60000) * 60000 AS ws, count(*), sum(v * coalesce(w, 1)), "
    "min(v), max(v), avg(v) FROM ev LEFT JOIN dim d ON ev.k = d.k GROUP BY g, ws";

// Window starts are computed with integer arithmetic (ts >= 0, so / is floor division).
const char* kTumblingSql =
    "SELECT k, (ts / 60000) * 60000 AS ws, count(*), sum(v), min(v), max(v), avg(v) "
    "FROM ev GROUP BY k, ws";
// Size 60 s, slide 20 s: the windows holding ts start at floor(ts/20s)*20s - j*20s, j = 0..2.
const char* kSlidingSql =
    "WITH offs(j) AS (VALUES (0), (1), (2)) "
    "SELECT k, (ts / 20000) * 20000 - j * 20000 AS ws, count(*), sum(v), min(v), max(v), avg(v) "
    "FROM ev, offs GROUP BY k, ws";
// Size 15 s, slide 40 s (hop > size): windows [k*40 s, k*40 s + 15 s), starts aligned to the hop
// (Flink's convention, rules/window/sliding.cpp); an event more than 15 s after the last multiple
// of 40 s is in a gap, in no window.
const char* kHoppingSql =
    "SELECT k, (ts / 40000) * 40000 AS ws, count(*), sum(v), min(v), max(v), avg(v) "
    "FROM ev WHERE ts - (ts / 40000) * 40000 < 15000 GROUP BY k, ws";

struct Dataset {
  std::map<std::string, Table> engine;           // rule -> rows
  std::map<std::string, std::uint64_t> late;     // rule -> late outputs
  std::map<std::string, Table> oracle;           // rule -> SQLite rows
};

// Runs the engine and SQLite once per (seed, size) and keeps the results for the tests below.
const Dataset& dataset(std::uint64_t seed, int n_events, int n_keys) {
  static std::map<std::tuple<std::uint64_t, int, int>, Dataset> cache;
  auto key = std::make_tuple(seed, n_events, n_keys);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  Dataset d;
  auto events = make_events(seed, n_events, n_keys);
  auto dim = make_dim(seed, n_keys);
  d.engine = run_engine(events, dim, kRules, d.late);
  Db db;
  load_events(db, events);
  load_dim(db, dim);
  d.oracle["table_join"] = run_sqlite(db, kTableJoinSql);
  d.oracle["table_left_join"] = run_sqlite(db, kTableLeftJoinSql);
  db.exec("CREATE INDEX ev_k ON ev(k, side, ts)");
  d.oracle["interval_join"] = run_sqlite(db, kIntervalJoinSql);
  d.oracle["interval_left_join"] = run_sqlite(db, kIntervalLeftJoinSql);
  d.oracle["window_join"] = run_sqlite(db, kWindowJoinSql);
  d.oracle["window_join_hopping"] = run_sqlite(db, kWindowJoinHoppingSql);
  d.oracle["window_left_join"] = run_sqlite(db, kWindowLeftJoinSql);
  d.oracle["tumbling"] = run_sqlite(db, kTumblingSql);
  d.oracle["sliding"] = run_sqlite(db, kSlidingSql);
  d.oracle["hopping_gaps"] = run_sqlite(db, kHoppingSql);
  return cache.emplace(key, std::move(d)).first->second;
}

void check_rule(const Dataset& d, const std::string& rule) {
  auto late = d.late.find(rule);
  if (late != d.late.end())
    ADD_FAILURE() << rule << ": " << late->second << " events reported late, but disorder is below "
                  << "MAXOUTOFORDERNESS: nothing may be late";
  auto got = d.engine.find(rule);
  // A rule SQLite finds no rows for would pass without testing anything (e.g. a join that matches nothing).
  EXPECT_FALSE(d.oracle.at(rule).empty()) << rule << ": the oracle has no rows";
  std::uint64_t rows = 0;
  for (const auto& [key, agg] : d.oracle.at(rule)) rows += static_cast<std::uint64_t>(agg.n);
  testing::Test::RecordProperty(rule + "_input_rows", std::to_string(rows));
  compare(rule, got == d.engine.end() ? Table{} : got->second, d.oracle.at(rule));
}

std::uint64_t seed_from_env(std::uint64_t dflt) {
  const char* s = std::getenv("STREAMGATE_ORACLE_SEED");
  return s ? std::strtoull(s, nullptr, 10) : dflt;
}

// 200,000 events over 2,500 keys (a few events per window and key).
const Dataset& big() { return dataset(seed_from_env(20240115), 200'000, 2'500); }
// 100,000 events over 20 keys (hundreds of events per window and key).
const Dataset& few_keys() { return dataset(seed_from_env(7) + 1, 100'000, 20); }

TEST(Oracle, Tumbling60s_200kEvents_2500Keys) { check_rule(big(), "tumbling"); }
TEST(Oracle, Sliding60s20s_200kEvents_2500Keys) { check_rule(big(), "sliding"); }
TEST(Oracle, Hopping15s40sWithGaps_200kEvents_2500Keys) { check_rule(big(), "hopping_gaps"); }
TEST(Oracle, Tumbling60s_100kEvents_20Keys) { check_rule(few_keys(), "tumbling"); }
TEST(Oracle, Sliding60s20s_100kEvents_20Keys) { check_rule(few_keys(), "sliding"); }
TEST(Oracle, Hopping15s40sWithGaps_100kEvents_20Keys) { check_rule(few_keys(), "hopping_gaps"); }
TEST(Oracle, TableJoinTumbling60s_200kEvents_2500Keys) { check_rule(big(), "table_join"); }
TEST(Oracle, TableLeftJoinTumbling60s_200kEvents_2500Keys) { check_rule(big(), "table_left_join"); }
TEST(Oracle, TableJoinTumbling60s_100kEvents_20Keys) { check_rule(few_keys(), "table_join"); }
TEST(Oracle, IntervalJoinTumbling60s_200kEvents_2500Keys) { check_rule(big(), "interval_join"); }
TEST(Oracle, IntervalJoinTumbling60s_100kEvents_20Keys) { check_rule(few_keys(), "interval_join"); }
TEST(Oracle, IntervalLeftJoinTumbling60s_200kEvents_2500Keys) { check_rule(big(), "interval_left_join"); }
TEST(Oracle, IntervalLeftJoinTumbling60s_100kEvents_20Keys) { check_rule(few_keys(), "interval_left_join"); }
TEST(Oracle, WindowJoinTumbling5s_200kEvents_2500Keys) { check_rule(big(), "window_join"); }
TEST(Oracle, WindowJoinTumbling5s_100kEvents_20Keys) { check_rule(few_keys(), "window_join"); }
TEST(Oracle, WindowJoinHopping10s5s_200kEvents_2500Keys) { check_rule(big(), "window_join_hopping"); }
TEST(Oracle, WindowJoinHopping10s5s_100kEvents_20Keys) { check_rule(few_keys(), "window_join_hopping"); }
TEST(Oracle, WindowLeftJoinTumbling5s_200kEvents_2500Keys) { check_rule(big(), "window_left_join"); }
TEST(Oracle, WindowLeftJoinTumbling5s_100kEvents_20Keys) { check_rule(few_keys(), "window_left_join"); }

}  // namespace
