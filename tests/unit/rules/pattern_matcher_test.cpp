// Tests for the row-pattern automaton and matcher (rules/pattern/): pattern shapes, greedy and
// preference semantics, skip modes, WITHIN, bounds, out-of-order refusal and checkpointing.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/ast.h"
#include "rules/pattern/automaton.h"
#include "rules/pattern/matcher.h"

namespace streamgate::rules::pattern {
namespace {

constexpr TimeNs kMin = 60 * kNsPerSec;

Automaton compile_text(const std::string& pattern) {
  const auto r = ast::parse("CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (" +
                            pattern + ") DEFINE Z AS true)");
  EXPECT_TRUE(r.errors.empty()) << (r.errors.empty() ? "" : r.errors[0].message);
  std::string error;
  auto a = compile(r.statements.at(0).select->match_recognize->pattern, &error);
  EXPECT_TRUE(a.has_value()) << error;
  return a ? *a : Automaton{};
}

// Row slots: [0] event/status string, [1] number, [2] extra string.
using Cond = std::function<bool(const MatchView&)>;

const StoredRow& cur(const MatchView& m) { return m.row(m.size() - 1); }
std::string ev(const StoredRow& r) { return r.slots[0].as_string(); }
double num(const StoredRow& r) { return r.slots[1].as_number(); }

struct Harness {
  Matcher matcher;
  std::map<std::string, Cond> defines;  // undefined variables are always true
  std::vector<std::string> out;         // "key:first-last:VARS"

  Harness(const std::string& pattern, MatcherOptions o = {})
      : matcher(compile_text(pattern), o) {}

  Predicate pred() {
    return [this](std::uint16_t var, const MatchView& m) {
      auto it = defines.find(matcher.automaton().vars[var]);
      return it == defines.end() || it->second(m);
    };
  }
  OnMatch on_match() {
    return [this](const MatchView& m) {
      std::string vars;
      for (std::size_t i = 0; i < m.size(); ++i) vars += matcher.automaton().vars[m.var(i)];
      out.push_back(m.partition_key().to_text() + ":" +
                    std::to_string(static_cast<long long>(m.row(0).time / kNsPerSec)) + "-" +
                    std::to_string(static_cast<long long>(m.row(m.size() - 1).time / kNsPerSec)) +
                    ":" + vars + "#" + std::to_string(m.match_number()));
    };
  }
  Matcher::RowStatus row(const std::string& key, TimeNs t_sec, const std::string& e, double v = 0,
                         const std::string& extra = "") {
    return matcher.on_row(Value(key), t_sec * kNsPerSec, {Value(e), Value(v), Value(extra)},
                          pred(), on_match());
  }
  void advance(TimeNs t_sec) { matcher.advance(t_sec * kNsPerSec, on_match()); }
  void flush() { matcher.flush(on_match()); }
};

TEST(PatternAutomaton, SequenceAndQuantifierShapes) {
  const Automaton a = compile_text("A B+ C");
  ASSERT_EQ(a.states(), 4u);
  EXPECT_EQ(a.vars, (std::vector<std::string>{"A", "B", "C"}));
  EXPECT_EQ(a.next[0], (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(a.next[1], (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(a.next[2], (std::vector<std::uint32_t>{2, 3}));  // repeat preferred (greedy)
  EXPECT_TRUE(a.next[3].empty());
  EXPECT_TRUE(a.accepting[3]);
  EXPECT_FALSE(a.accepting[2]);
  EXPECT_FALSE(a.nullable);

  const Automaton b = compile_text("a D{2,3} E*");  // A, D, D, D?, E loop
  EXPECT_EQ(b.states(), 6u);
  EXPECT_EQ(b.vars, (std::vector<std::string>{"A", "D", "E"}));
  EXPECT_TRUE(b.accepting[3]);   // after two Ds
  EXPECT_TRUE(b.accepting[4]);   // after three Ds
  EXPECT_TRUE(b.accepting[5]);   // after an E
  EXPECT_EQ(b.next[3], (std::vector<std::uint32_t>{4, 5}));

  EXPECT_TRUE(compile_text("A*").nullable);
  EXPECT_TRUE(compile_text("A? B?").nullable);
  EXPECT_EQ(compile_text("(A | B) C").next[0], (std::vector<std::uint32_t>{1, 2}));
}

TEST(PatternAutomaton, TooLargeAfterUnrolling) {
  const auto r = ast::parse(
      "CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A{3000}) DEFINE A AS true)");
  ASSERT_TRUE(r.errors.empty());
  std::string error;
  EXPECT_FALSE(compile(r.statements[0].select->match_recognize->pattern, &error).has_value());
  EXPECT_NE(error.find("pattern too large"), std::string::npos) << error;
}

TEST(PatternMatcher, OfflineThreeTimesInARowWithinFiveMinutes) {
  MatcherOptions o;
  o.within = 5 * kMin;
  Harness h("OFF{3}", o);
  h.defines["OFF"] = [](const MatchView& m) { return ev(cur(m)) == "offline"; };
  h.row("d1", 0, "offline");
  h.row("d1", 60, "offline");
  h.row("d1", 120, "online");  // breaks the run
  h.row("d1", 180, "offline");
  h.row("d1", 240, "offline");
  EXPECT_TRUE(h.out.empty());
  h.row("d1", 300, "offline");
  EXPECT_EQ(h.out, (std::vector<std::string>{"d1:180-300:OFFOFFOFF#1"}));
  // Three more offline, but spread over more than 5 minutes: no match.
  h.out.clear();
  h.row("d2", 0, "offline");
  h.row("d2", 200, "offline");
  h.row("d2", 400, "offline");
  EXPECT_TRUE(h.out.empty());
  // ...the last two plus one more within 5 minutes of the second do match.
  h.row("d2", 480, "offline");
  EXPECT_EQ(h.out, (std::vector<std::string>{"d2:200-480:OFFOFFOFF#1"}));
}

TEST(PatternMatcher, LoginThenPurchaseWithRowsInBetween) {
  MatcherOptions o;
  o.within = 30 * kMin;
  Harness h("L X* P", o);
  h.defines["L"] = [](const MatchView& m) { return ev(cur(m)) == "login"; };
  h.defines["X"] = [](const MatchView& m) { return ev(cur(m)) != "purchase"; };
  h.defines["P"] = [](const MatchView& m) { return ev(cur(m)) == "purchase"; };
  h.row("u1", 0, "login");
  h.row("u1", 60, "view");
  h.row("u1", 120, "cart");
  h.row("u1", 600, "purchase");
  EXPECT_EQ(h.out, (std::vector<std::string>{"u1:0-600:LXXP#1"}));
  // A purchase 31 minutes after the login does not count.
  h.row("u2", 0, "login");
  h.row("u2", 60, "view");
  h.row("u2", 31 * 60, "purchase");
  EXPECT_EQ(h.out.size(), 1u);
  // A purchase without a login does not either.
  h.row("u3", 0, "purchase");
  h.flush();
  EXPECT_EQ(h.out.size(), 1u);
}

TEST(PatternMatcher, TransactionOverLimitAfterLocationChange) {
  MatcherOptions o;
  o.within = 10 * kMin;
  Harness h("C X* T", o);
  h.defines["C"] = [](const MatchView& m) {
    const StoredRow* p = m.prev(m.size() - 1, 1);
    return p != nullptr && p->slots[2] != cur(m).slots[2];
  };
  h.defines["X"] = [](const MatchView& m) { return num(cur(m)) <= 1000; };
  h.defines["T"] = [](const MatchView& m) { return num(cur(m)) > 1000; };
  h.row("acc", 0, "tx", 50, "Paris");
  h.row("acc", 60, "tx", 2000, "Paris");  // big, but no location change before it
  EXPECT_TRUE(h.out.empty());
  h.row("acc", 120, "tx", 20, "Lagos");  // change (PREV reaches the row before the match)
  h.row("acc", 180, "tx", 30, "Lagos");
  h.row("acc", 240, "tx", 1500, "Lagos");
  EXPECT_EQ(h.out, (std::vector<std::string>{"acc:120-240:CXT#1"}));
}

TEST(PatternMatcher, RisingOnFiveConsecutiveReadings) {
  Harness h("R{5}");
  h.defines["R"] = [](const MatchView& m) {
    const StoredRow* p = m.prev(m.size() - 1, 1);
    return p != nullptr && num(cur(m)) > num(*p);
  };
  const double temps[] = {20, 21, 22, 21, 22, 23, 24, 25, 26, 27, 28};
  for (int i = 0; i < 11; ++i) h.row("s", i, "t", temps[i]);
  // 21 -> 22..26: the rises at t=4..8; the next run starts after it (SKIP PAST LAST ROW) and
  // has only two more rises.
  EXPECT_EQ(h.out, (std::vector<std::string>{"s:4-8:RRRRR#1"}));
}

TEST(PatternMatcher, GreedyTailWaitsForTheEndOfTheRun) {
  Harness h("A B+");
  h.defines["A"] = [](const MatchView& m) { return ev(cur(m)) == "a"; };
  h.defines["B"] = [](const MatchView& m) { return ev(cur(m)) == "b"; };
  h.row("k", 1, "a");
  h.row("k", 2, "b");
  h.row("k", 3, "b");
  EXPECT_TRUE(h.out.empty());  // another b could still come
  h.row("k", 4, "c");
  EXPECT_EQ(h.out, (std::vector<std::string>{"k:1-3:ABB#1"}));
  h.row("k", 5, "a");
  h.row("k", 6, "b");
  h.flush();  // end of input completes it
  EXPECT_EQ(h.out.back(), "k:5-6:AB#2");
}

TEST(PatternMatcher, AlternationPrefersTheLeftBranch) {
  Harness h("(A | B) C");
  h.defines["A"] = [](const MatchView& m) { return num(cur(m)) > 0; };
  h.defines["B"] = [](const MatchView& m) { return num(cur(m)) > -10; };
  h.defines["C"] = [](const MatchView& m) { return ev(cur(m)) == "c"; };
  h.row("k", 1, "x", 5);  // both A and B hold: A wins
  h.row("k", 2, "c");
  h.row("k", 3, "x", -5);  // only B
  h.row("k", 4, "c");
  EXPECT_EQ(h.out, (std::vector<std::string>{"k:1-2:AC#1", "k:3-4:BC#2"}));
}

TEST(PatternMatcher, SkipModes) {
  auto run = [](SkipMode mode) {
    MatcherOptions o;
    o.skip = mode;
    Harness h("A A", o);
    h.defines["A"] = [](const MatchView& m) { return ev(cur(m)) == "a"; };
    for (int t = 1; t <= 4; ++t) h.row("k", t, "a");
    return h.out;
  };
  EXPECT_EQ(run(SkipMode::PastLastRow), (std::vector<std::string>{"k:1-2:AA#1", "k:3-4:AA#2"}));
  EXPECT_EQ(run(SkipMode::ToNextRow),
            (std::vector<std::string>{"k:1-2:AA#1", "k:2-3:AA#2", "k:3-4:AA#3"}));
}

TEST(PatternMatcher, EarlierStartWinsEvenIfALaterOneFinishesFirst) {
  // Attempt at t=1 (A B B C) is still growing when the attempt at t=2 could end; SQL reports
  // matches in start order, and SKIP PAST LAST ROW then drops the overlapping later one.
  Harness h("A B* C | B C");
  h.defines["A"] = [](const MatchView& m) { return ev(cur(m)) == "a"; };
  h.defines["B"] = [](const MatchView& m) { return ev(cur(m)) == "b"; };
  h.defines["C"] = [](const MatchView& m) { return ev(cur(m)) == "c"; };
  h.row("k", 1, "a");
  h.row("k", 2, "b");
  h.row("k", 3, "c");
  EXPECT_EQ(h.out, (std::vector<std::string>{"k:1-3:ABC#1"}));
}

TEST(PatternMatcher, WithinExpiryOnWatermarkReportsTheBestMatch) {
  MatcherOptions o;
  o.within = 10 * kNsPerSec;
  Harness h("A B+", o);
  h.defines["A"] = [](const MatchView& m) { return ev(cur(m)) == "a"; };
  h.defines["B"] = [](const MatchView& m) { return ev(cur(m)) == "b"; };
  h.row("k", 100, "a");
  h.row("k", 105, "b");
  h.advance(110);  // a row at exactly 110 could still extend it
  EXPECT_TRUE(h.out.empty());
  h.advance(111);
  EXPECT_EQ(h.out, (std::vector<std::string>{"k:100-105:AB#1"}));
  // A row past WITHIN ends the partial match too.
  h.row("k", 200, "a");
  h.row("k", 201, "b");
  h.row("k", 215, "b");
  EXPECT_EQ(h.out.back(), "k:200-201:AB#2");
}

TEST(PatternMatcher, SingleEventPartitionNeverMatchesAMultiRowPattern) {
  Harness h("A B");
  h.row("lonely", 1, "a");
  h.flush();
  EXPECT_TRUE(h.out.empty());
  Harness one("A");
  one.row("lonely", 1, "a");
  EXPECT_EQ(one.out, (std::vector<std::string>{"lonely:1-1:A#1"}));
}

TEST(PatternMatcher, PartitionsAreIndependent) {
  Harness h("A B");
  h.defines["A"] = [](const MatchView& m) { return ev(cur(m)) == "a"; };
  h.defines["B"] = [](const MatchView& m) { return ev(cur(m)) == "b"; };
  h.row("x", 1, "a");
  h.row("y", 2, "b");  // no A before it in y
  h.row("y", 3, "a");
  h.row("x", 4, "b");
  h.row("y", 5, "b");
  EXPECT_EQ(h.out, (std::vector<std::string>{"x:1-4:AB#1", "y:3-5:AB#1"}));
}

TEST(PatternMatcher, OutOfOrderRowsAreRefused) {
  Harness h("A B");
  EXPECT_EQ(h.row("k", 10, "a"), Matcher::RowStatus::Ok);
  EXPECT_EQ(h.row("k", 9, "b"), Matcher::RowStatus::OutOfOrder);
  EXPECT_EQ(h.row("k", 10, "b"), Matcher::RowStatus::Ok);  // ties are in order
  EXPECT_EQ(h.out.size(), 1u);
  EXPECT_EQ(h.matcher.stats().out_of_order, 1u);
}

TEST(PatternMatcher, BoundsOnPartitionsRunsAndMatchLength) {
  MatcherOptions o;
  o.max_partitions = 2;
  Harness h("A B", o);
  EXPECT_EQ(h.row("p1", 1, "a"), Matcher::RowStatus::Ok);
  EXPECT_EQ(h.row("p2", 1, "a"), Matcher::RowStatus::Ok);
  EXPECT_EQ(h.row("p3", 1, "a"), Matcher::RowStatus::TooManyPartitions);
  EXPECT_EQ(h.matcher.stats().dropped_partitions, 1u);

  // Every row starts an attempt of `A X* B` (X always true): runs grow with the rows, capped.
  MatcherOptions small;
  small.max_runs = 5;
  Harness r("A X* B", small);
  r.defines["A"] = [](const MatchView&) { return true; };
  r.defines["B"] = [](const MatchView& m) { return ev(cur(m)) == "b"; };
  for (int t = 0; t < 50; ++t) r.row("k", t, "x");
  EXPECT_LE(r.matcher.stats().runs, 5u);
  EXPECT_GT(r.matcher.stats().dropped_attempts, 0u);
  r.row("k", 50, "b");
  EXPECT_TRUE(r.out.empty());  // greedy X*: a later b would give a longer match
  r.flush();
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out[0].substr(0, 7), "k:0-50:");  // the oldest attempt survived

  MatcherOptions len;
  len.max_match_rows = 3;
  Harness l("A B+", len);
  l.defines["A"] = [](const MatchView& m) { return ev(cur(m)) == "a"; };
  l.defines["B"] = [](const MatchView& m) { return ev(cur(m)) == "b"; };
  l.row("k", 1, "a");
  for (int t = 2; t < 10; ++t) l.row("k", t, "b");
  EXPECT_EQ(l.out, (std::vector<std::string>{"k:1-3:ABB#1"}));
}

TEST(PatternMatcher, IdlePartitionsAreDropped) {
  MatcherOptions o;
  o.idle_ttl = 60 * kNsPerSec;
  Harness h("A B", o);
  h.defines["A"] = [](const MatchView& m) { return ev(cur(m)) == "a"; };
  h.row("old", 0, "x");
  h.row("live", 0, "a");  // partial match: kept however old
  h.advance(1);
  EXPECT_EQ(h.matcher.stats().partitions, 2u);
  h.advance(1000);
  EXPECT_EQ(h.matcher.stats().partitions, 1u);
}

TEST(PatternMatcher, SaveRestoreMidMatchContinuesIdentically) {
  MatcherOptions o;
  o.within = 100 * kNsPerSec;
  auto define = [](Harness& h) {
    h.defines["A"] = [](const MatchView& m) { return ev(cur(m)) == "a"; };
    h.defines["B"] = [](const MatchView& m) {
      const StoredRow* p = m.prev(m.size() - 1, 1);
      return p != nullptr && num(cur(m)) > num(*p);
    };
  };
  Harness whole("A B{2,} C?", o);
  define(whole);
  Harness first("A B{2,} C?", o);
  define(first);
  auto feed = [](Harness& h, int from, int to) {
    // q: a B B B | B C a B B (saved after the first four of q);  p: a B B interleaved.
    const char* keys[] = {"q", "q", "p", "q", "q", "p", "q", "q", "p", "q", "q", "q"};
    const char* evs[] = {"a", "x", "a", "x", "x", "x", "x", "c", "x", "a", "x", "x"};
    const double vs[] = {1, 2, 5, 3, 4, 6, 5, 0, 7, 1, 2, 3};
    for (int i = from; i < to; ++i) h.row(keys[i], i, evs[i], vs[i]);
  };
  feed(whole, 0, 12);
  whole.flush();
  // flush reports partitions in order of creation
  EXPECT_EQ(whole.out, (std::vector<std::string>{"q:0-7:ABBBBC#1", "q:9-11:ABB#2", "p:2-8:ABB#1"}));
  feed(first, 0, 5);
  const nlohmann::json saved = first.matcher.save();
  Harness second("A B{2,} C?", o);
  define(second);
  second.matcher.restore(nlohmann::json::parse(saved.dump()));
  second.out = first.out;
  feed(second, 5, 12);
  second.flush();
  EXPECT_EQ(second.out, whole.out);
  EXPECT_FALSE(whole.out.empty());

  Harness other("A", o);  // a save of another pattern is refused, not trusted
  EXPECT_ANY_THROW(other.matcher.restore(saved));
}

}  // namespace
}  // namespace streamgate::rules::pattern
