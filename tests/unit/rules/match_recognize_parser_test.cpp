// Tests for parsing MATCH_RECOGNIZE (row pattern recognition) and CREATE ALERT options.
#include <gtest/gtest.h>

#include <string>

#include "rules/ast.h"

namespace streamgate::rules::ast {
namespace {

std::string errors_of(const ParseResult& r) {
  std::string s;
  for (const auto& e : r.errors)
    s += std::to_string(e.pos.line) + ":" + std::to_string(e.pos.column) + ": " + e.message + "\n";
  return s;
}

std::string quant(const PatternNode& n) {
  if (n.min == 1 && n.max == 1) return "";
  if (n.min == 0 && n.max == -1) return "*";
  if (n.min == 1 && n.max == -1) return "+";
  if (n.min == 0 && n.max == 1) return "?";
  return "{" + std::to_string(n.min) + "," + (n.max < 0 ? std::string() : std::to_string(n.max)) +
         "}";
}

// Pattern as a compact string: sequences as (seq ...), alternations as (alt ...).
std::string px(const PatternNode& n) {
  std::string s;
  switch (n.kind) {
    case PatternKind::Var:
      s = n.var;
      break;
    case PatternKind::Sequence:
    case PatternKind::Alternation:
      s = n.kind == PatternKind::Sequence ? "(seq" : "(alt";
      for (const auto& c : n.children) s += " " + px(c);
      s += ")";
      break;
  }
  return s + quant(n);
}

std::string ex(const Expr& e) {
  switch (e.kind) {
    case ExprKind::Literal:
      return e.literal.to_json();
    case ExprKind::Column:
      return e.name;
    case ExprKind::Star:
      return e.name.empty() ? "*" : e.name + ".*";
    case ExprKind::Member:
      return ex(*e.children[0]) + "." + e.name;
    case ExprKind::Call: {
      std::string s = e.name + "(";
      for (std::size_t i = 0; i < e.children.size(); ++i) s += (i ? ", " : "") + ex(*e.children[i]);
      return s + ")";
    }
    case ExprKind::Binary: {
      const char* op = e.op == Op::Gt ? ">" : e.op == Op::Eq ? "=" : e.op == Op::And ? "AND"
                       : e.op == Op::Lt ? "<" : e.op == Op::Sub ? "-" : "?";
      return "(" + ex(*e.children[0]) + " " + op + " " + ex(*e.children[1]) + ")";
    }
    default:
      return "<expr>";
  }
}

const MatchRecognize& mr_of(const ParseResult& r) {
  EXPECT_TRUE(r.errors.empty()) << errors_of(r);
  EXPECT_EQ(r.statements.size(), 1u);
  const auto& sel = *r.statements.at(0).select;
  EXPECT_TRUE(sel.match_recognize != nullptr);
  return *sel.match_recognize;
}

std::string pattern_of(const std::string& pattern) {
  const ParseResult r = parse("CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (" +
                              pattern + ") DEFINE A AS x > 1);");
  if (!r.errors.empty()) return "ERROR " + errors_of(r);
  return px(r.statements.at(0).select->match_recognize->pattern);
}

std::string error_of(const std::string& text) { return errors_of(parse(text)); }

TEST(MatchRecognizeParser, FullClause) {
  const ParseResult r = parse(R"sql(
CREATE RULE offline3 WITH (TOPIC = 'alerts/offline') AS
SELECT device, first_ts, n FROM status
MATCH_RECOGNIZE (
  PARTITION BY device, site
  ORDER BY ts
  MEASURES FIRST(A.ts) AS first_ts, COUNT(A.*) AS n, LAST(C.temp) - A.temp AS delta
  ONE ROW PER MATCH
  AFTER MATCH SKIP TO NEXT ROW
  PATTERN (A B+ C? D{2,3} E*)
  WITHIN '5m'
  DEFINE A AS state = 'offline',
         B AS B.temp > PREV(temp),
         C AS temp > PREV(temp, 2) AND count(*) < 10
) AS m
WHERE n > 2;
)sql");
  const MatchRecognize& mr = mr_of(r);
  ASSERT_EQ(mr.partition_by.size(), 2u);
  EXPECT_EQ(ex(*mr.partition_by[0]), "device");
  EXPECT_EQ(ex(*mr.partition_by[1]), "site");
  ASSERT_EQ(mr.order_by.size(), 1u);
  EXPECT_EQ(ex(*mr.order_by[0].expr), "ts");
  ASSERT_EQ(mr.measures.size(), 3u);
  EXPECT_EQ(ex(*mr.measures[0].expr), "FIRST(A.ts)");
  EXPECT_EQ(mr.measures[0].alias, "first_ts");
  EXPECT_EQ(ex(*mr.measures[1].expr), "COUNT(A.*)");
  EXPECT_EQ(ex(*mr.measures[2].expr), "(LAST(C.temp) - A.temp)");
  EXPECT_EQ(mr.measures[2].alias, "delta");
  EXPECT_FALSE(mr.all_rows_per_match);
  EXPECT_EQ(mr.after_match, AfterMatchSkip::ToNextRow);
  EXPECT_EQ(px(mr.pattern), "(seq A B+ C? D{2,3} E*)");
  EXPECT_EQ(mr.within, "5m");
  EXPECT_EQ(mr.within_pos.line, 11);
  ASSERT_EQ(mr.defines.size(), 3u);
  EXPECT_EQ(mr.defines[0].var, "A");
  EXPECT_EQ(ex(*mr.defines[0].cond), "(state = \"offline\")");
  EXPECT_EQ(ex(*mr.defines[1].cond), "(B.temp > PREV(temp))");
  EXPECT_EQ(ex(*mr.defines[2].cond), "((temp > PREV(temp, 2)) AND (count(*) < 10))");
  EXPECT_EQ(mr.alias, "m");
  EXPECT_EQ(mr.pos.line, 4);
  const Select& sel = *r.statements[0].select;
  EXPECT_EQ(sel.from, "status");
  ASSERT_TRUE(sel.where);
  EXPECT_EQ(ex(*sel.where), "(n > 2)");
}

TEST(MatchRecognizeParser, MinimalClauseAndDefaults) {
  const ParseResult r =
      parse("CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A) DEFINE A AS x > 1)");
  const MatchRecognize& mr = mr_of(r);
  EXPECT_TRUE(mr.partition_by.empty());
  EXPECT_TRUE(mr.order_by.empty());
  EXPECT_TRUE(mr.measures.empty());
  EXPECT_EQ(mr.after_match, AfterMatchSkip::PastLastRow);
  EXPECT_TRUE(mr.within.empty());
  EXPECT_TRUE(mr.alias.empty());
  EXPECT_EQ(px(mr.pattern), "A");
}

TEST(MatchRecognizeParser, AliasWithoutAsAndClausesAfter) {
  const ParseResult r = parse(
      "CREATE RULE r AS SELECT k, count(*) AS n FROM s MATCH_RECOGNIZE (PARTITION BY k "
      "MEASURES A.v AS v PATTERN (A B) DEFINE A AS v > 0) mm GROUP BY k, TumblingWindow('1m')");
  const MatchRecognize& mr = mr_of(r);
  EXPECT_EQ(mr.alias, "mm");
  EXPECT_EQ(r.statements[0].select->group_by.size(), 2u);

  const ParseResult r2 = parse(
      "CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A) DEFINE A AS v > 0) WHERE v > 1");
  EXPECT_TRUE(mr_of(r2).alias.empty());
  EXPECT_TRUE(r2.statements[0].select->where);
}

TEST(MatchRecognizeParser, AllRowsPerMatchAndSkipPastLastRow) {
  const ParseResult r = parse(
      "CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (ALL ROWS PER MATCH AFTER MATCH SKIP PAST "
      "LAST ROW PATTERN (A) DEFINE A AS v > 0)");
  const MatchRecognize& mr = mr_of(r);
  EXPECT_TRUE(mr.all_rows_per_match);
  EXPECT_EQ(mr.after_match, AfterMatchSkip::PastLastRow);
}

TEST(MatchRecognizeParser, Quantifiers) {
  EXPECT_EQ(pattern_of("A B+ C? D{2,3} E*"), "(seq A B+ C? D{2,3} E*)");
  EXPECT_EQ(pattern_of("A{3}"), "A{3,3}");
  EXPECT_EQ(pattern_of("A{2,}"), "A{2,}");
  EXPECT_EQ(pattern_of("A{,4}"), "A{0,4}");
  EXPECT_EQ(pattern_of("a b"), "(seq a b)");  // variables as written; the planner folds case
}

TEST(MatchRecognizeParser, GroupsAndAlternation) {
  EXPECT_EQ(pattern_of("A | B C"), "(alt A (seq B C))");
  EXPECT_EQ(pattern_of("(A | B)+ C"), "(seq (alt A B)+ C)");
  EXPECT_EQ(pattern_of("(A B){2} C"), "(seq (seq A B){2,2} C)");
  EXPECT_EQ(pattern_of("(A)"), "A");
  EXPECT_EQ(pattern_of("(A)+"), "A+");
  // A quantified group of a quantified term keeps both quantifiers.
  EXPECT_EQ(pattern_of("(A+)*"), "(seq A+)*");
  EXPECT_EQ(pattern_of("((A B) | C)? D"), "(seq (alt (seq A B) C)? D)");
}

TEST(MatchRecognizeParser, StarOfVariableOnlyInsideMatchRecognize) {
  const ParseResult r = parse(
      "CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (MEASURES count(*) AS all_rows, "
      "count(B.*) AS bs PATTERN (A B*) DEFINE B AS count(B.*) < 3)");
  const MatchRecognize& mr = mr_of(r);
  EXPECT_EQ(ex(*mr.measures[0].expr), "count(*)");
  EXPECT_EQ(ex(*mr.measures[1].expr), "count(B.*)");
  EXPECT_EQ(ex(*mr.defines[0].cond), "(count(B.*) < 3)");

  EXPECT_EQ(error_of("CREATE RULE r AS SELECT count(B.*) FROM s"),
            "1:33: expected a field name after '.', found '*'\n");
}

TEST(MatchRecognizeParser, NotAClauseWithoutParenthesis) {
  // `match_recognize` not followed by '(' is not the clause (keywords are not reserved).
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT * FROM s match_recognize"),
            "1:34: expected ';' at the end of the statement, found 'match_recognize'\n");
}

TEST(MatchRecognizeParser, Errors) {
  const std::string head = "CREATE RULE r AS SELECT * FROM s MATCH_RECOGNIZE (";
  EXPECT_EQ(error_of(head + "DEFINE A AS x > 1)"),
            "1:51: expected PARTITION BY, ORDER BY, MEASURES or PATTERN in MATCH_RECOGNIZE, "
            "found 'DEFINE'\n");
  EXPECT_EQ(error_of(head + "PARTITION BY k DEFINE A AS x > 1)"),
            "1:66: expected PATTERN in MATCH_RECOGNIZE, found 'DEFINE'\n");
  EXPECT_EQ(error_of(head + "PATTERN () DEFINE A AS x)"), "1:59: empty PATTERN\n");
  EXPECT_EQ(error_of(head + "PATTERN (A) )"), "1:63: expected DEFINE after PATTERN (...), found ')'\n");
  EXPECT_EQ(error_of(head + "PATTERN (A B+?) DEFINE A AS x)"),
            "1:64: reluctant quantifiers (such as 'B+?') are not supported; quantifiers are greedy\n");
  EXPECT_EQ(error_of(head + "PATTERN (A{3,2}) DEFINE A AS x)"),
            "1:61: repetition {3,2}: the upper bound is below the lower\n");
  EXPECT_EQ(error_of(head + "PATTERN (A{0}) DEFINE A AS x)"), "1:61: repetition {0} matches nothing\n");
  EXPECT_EQ(error_of(head + "PATTERN (A{,}) DEFINE A AS x)"),
            "1:61: '{,}' needs a lower or an upper bound\n");
  EXPECT_EQ(error_of(head + "PATTERN (A{99999}) DEFINE A AS x)"),
            "1:62: repetition bound 99999 is too large (limit 10000)\n");
  EXPECT_EQ(error_of(head + "PATTERN (A |) DEFINE A AS x)"),
            "1:63: expected a pattern variable or '(' in PATTERN, found ')'\n");
  EXPECT_EQ(error_of(head + "PATTERN ((A B) DEFINE A AS x)"),
            "1:66: expected a pattern variable, '|', a quantifier or ')' in PATTERN, found 'DEFINE'\n");
  EXPECT_EQ(error_of(head + "PATTERN (A (B C DEFINE A AS x)"),
            "1:67: expected ')' to close '(' in PATTERN, found 'DEFINE'\n");
  EXPECT_EQ(error_of(head + "PATTERN (A) WITHIN 10 DEFINE A AS x)"),
            "1:70: expected a duration string after WITHIN, e.g. '10m', found '10'\n");
  EXPECT_EQ(error_of(head + "PATTERN (A) DEFINE A AS x, A AS y)"),
            "1:78: pattern variable 'A' is defined twice\n");
  EXPECT_EQ(error_of(head + "PATTERN (A) DEFINE A x)"),
            "1:72: expected AS after the pattern variable in DEFINE, found 'x'\n");
  EXPECT_EQ(error_of(head + "MEASURES A.x PATTERN (A) DEFINE A AS x)"),
            "1:64: expected AS and a name after a MEASURES expression, found 'PATTERN'\n");
  EXPECT_EQ(error_of(head + "MEASURES A.x AS v, A.y AS v PATTERN (A) DEFINE A AS x)"),
            "1:77: duplicate measure 'v'\n");
  EXPECT_EQ(error_of(head + "AFTER MATCH SKIP TO FIRST A PATTERN (A) DEFINE A AS x)"),
            "1:71: expected NEXT ROW after SKIP TO (SKIP TO FIRST/LAST is not supported), found "
            "'FIRST'\n");
  EXPECT_EQ(error_of(head + "ONE ROWS PER MATCH PATTERN (A) DEFINE A AS x)"),
            "1:55: expected ROW after ONE, found 'ROWS'\n");
  EXPECT_EQ(error_of(head + "PATTERN (A) DEFINE A AS x"),
            "1:76: expected ',' or ')' after a DEFINE condition, found end of input\n");
}

TEST(MatchRecognizeParser, ErrorRecoveryContinuesWithNextStatement) {
  const ParseResult r = parse(
      "CREATE RULE bad AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A{) DEFINE A AS x);\n"
      "CREATE RULE good AS SELECT * FROM s MATCH_RECOGNIZE (PATTERN (A B*) DEFINE A AS x > 1);\n");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].pos.line, 1);
  ASSERT_EQ(r.statements.size(), 1u);
  EXPECT_EQ(r.statements[0].name, "good");
  EXPECT_EQ(px(r.statements[0].select->match_recognize->pattern), "(seq A B*)");
}

TEST(MatchRecognizeParser, PipeAndBracesOutsidePatternsAreErrorsNotCrashes) {
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a | b FROM s"),
            "1:27: expected ',' or FROM after the select list, found '|'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT {a} FROM s"),
            "1:25: expected an expression, found '{'\n");
  // `||` is still concatenation.
  EXPECT_TRUE(parse("CREATE RULE r AS SELECT a || b FROM s").errors.empty());
}

TEST(CreateAlertParser, OptionsKeyExpressionAndCondition) {
  const ParseResult r = parse(R"sql(
CREATE ALERT hot WITH (TOPIC = 'alerts/hot', SEVERITY = 'warning', COOLDOWN = '10m',
                       CLEAR_AFTER = '1m', KEY = device)
AS SELECT device, temp FROM readings WHERE temp > 80;
)sql");
  ASSERT_TRUE(r.errors.empty()) << errors_of(r);
  ASSERT_EQ(r.statements.size(), 1u);
  const Statement& st = r.statements[0];
  EXPECT_EQ(st.kind, StatementKind::CreateAlert);
  EXPECT_EQ(st.name, "hot");
  ASSERT_EQ(st.options.size(), 5u);
  EXPECT_EQ(st.options[0].key, "TOPIC");
  EXPECT_EQ(st.options[1].value.as_string(), "warning");
  EXPECT_EQ(st.options[2].value.as_string(), "10m");
  EXPECT_EQ(st.options[3].key, "CLEAR_AFTER");
  EXPECT_EQ(st.options[4].key, "KEY");
  EXPECT_EQ(st.options[4].value.as_string(), "device");  // a bare name
  ASSERT_TRUE(st.select->where);
  EXPECT_EQ(ex(*st.select->where), "(temp > 80)");
}

TEST(CreateAlertParser, AlertOverMatchRecognize) {
  const ParseResult r = parse(
      "CREATE ALERT risky WITH (TOPIC = 'alerts/risk', KEY = 'account') AS SELECT * FROM tx "
      "MATCH_RECOGNIZE (PARTITION BY account ORDER BY ts MEASURES B.amount AS amount "
      "PATTERN (A X* B) WITHIN '10m' DEFINE A AS location != PREV(location), B AS amount > 1000)");
  ASSERT_TRUE(r.errors.empty()) << errors_of(r);
  EXPECT_EQ(r.statements[0].kind, StatementKind::CreateAlert);
  EXPECT_EQ(px(r.statements[0].select->match_recognize->pattern), "(seq A X* B)");
}

}  // namespace
}  // namespace streamgate::rules::ast
