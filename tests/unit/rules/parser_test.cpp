// Tests for the rule-file lexer and parser: every construct, precedence, errors and recovery.
#include <gtest/gtest.h>

#include <string>

#include "rules/ast.h"
#include "rules/parser/lexer.h"

namespace streamgate::rules::ast {
namespace {

const char* op_name(Op op) {
  switch (op) {
    case Op::None:
      return "?";
    case Op::Neg:
      return "neg";
    case Op::Not:
      return "not";
    case Op::Add:
      return "+";
    case Op::Sub:
      return "-";
    case Op::Mul:
      return "*";
    case Op::Div:
      return "/";
    case Op::Mod:
      return "%";
    case Op::Concat:
      return "||";
    case Op::Eq:
      return "=";
    case Op::Ne:
      return "!=";
    case Op::Lt:
      return "<";
    case Op::Le:
      return "<=";
    case Op::Gt:
      return ">";
    case Op::Ge:
      return ">=";
    case Op::And:
      return "and";
    case Op::Or:
      return "or";
  }
  return "?";
}

// Renders an expression as an S-expression so tests can state tree shapes in one line.
std::string sx(const Expr& e) {
  auto kids = [&](std::size_t from = 0) {
    std::string s;
    for (std::size_t i = from; i < e.children.size(); ++i) s += " " + sx(*e.children[i]);
    return s;
  };
  switch (e.kind) {
    case ExprKind::Literal:
      return e.literal.to_json();
    case ExprKind::Column:
      return e.name;
    case ExprKind::Star:
      return "*";
    case ExprKind::Member:
      return "(. " + sx(*e.children[0]) + " " + e.name + ")";
    case ExprKind::Index:
      return "([]" + kids() + ")";
    case ExprKind::Unary:
    case ExprKind::Binary:
      return std::string("(") + op_name(e.op) + kids() + ")";
    case ExprKind::Between:
      return std::string(e.negated ? "(notbetween" : "(between") + kids() + ")";
    case ExprKind::In:
      return std::string(e.negated ? "(notin" : "(in") + kids() + ")";
    case ExprKind::Like:
      return std::string(e.negated ? "(notlike" : "(like") + kids() + ")";
    case ExprKind::IsNull:
      return std::string(e.negated ? "(isnotnull" : "(isnull") + kids() + ")";
    case ExprKind::Case:
      return std::string("(case") + (e.case_has_operand ? "/op" : "") +
             (e.case_has_else ? "/else" : "") + kids() + ")";
    case ExprKind::Call: {
      std::string s = "(" + e.name + (e.distinct ? " distinct" : "") + kids();
      if (e.filter) s += " filter " + sx(*e.filter);
      if (!e.partition_by.empty()) {
        s += " over";
        for (const auto& p : e.partition_by) s += " " + sx(*p);
      }
      return s + ")";
    }
  }
  return "?";
}

std::string errors_of(const ParseResult& r) {
  std::string s;
  for (const auto& e : r.errors)
    s += std::to_string(e.pos.line) + ":" + std::to_string(e.pos.column) + ": " + e.message + "\n";
  return s;
}

// Parses `SELECT <text> FROM s` and returns the first select item as an S-expression.
std::string expr_sx(const std::string& text) {
  const ParseResult r = parse("CREATE RULE r AS SELECT " + text + " FROM s;");
  if (!r.errors.empty()) return "ERROR " + errors_of(r);
  if (r.statements.size() != 1) return "ERROR no statement";
  return sx(*r.statements[0].select->items[0].expr);
}

// The single error message (with position) of a one-statement file.
std::string error_of(const std::string& text) {
  const ParseResult r = parse(text);
  return errors_of(r);
}

const Select& only_select(const ParseResult& r) {
  EXPECT_TRUE(r.errors.empty()) << errors_of(r);
  EXPECT_EQ(r.statements.size(), 1u);
  return *r.statements.at(0).select;
}

TEST(Lexer, TokensPositionsAndEscapes) {
  const auto toks = tokenize("a\n  'it''s' \"q\"\"x\" `b` 1 2.5 .5 1e3 <> != == || <= >=");
  ASSERT_EQ(toks.size(), 15u);
  EXPECT_EQ(toks[0].kind, TokenKind::Identifier);
  EXPECT_EQ(toks[1].kind, TokenKind::String);
  EXPECT_EQ(toks[1].text, "it's");
  EXPECT_EQ(toks[1].pos.line, 2);
  EXPECT_EQ(toks[1].pos.column, 3);
  EXPECT_EQ(toks[2].kind, TokenKind::QuotedIdentifier);
  EXPECT_EQ(toks[2].text, "q\"x");
  EXPECT_EQ(toks[3].text, "b");
  EXPECT_EQ(toks[4].kind, TokenKind::Integer);
  EXPECT_EQ(toks[5].kind, TokenKind::Float);
  EXPECT_EQ(toks[6].kind, TokenKind::Float);
  EXPECT_EQ(toks[7].kind, TokenKind::Float);
  EXPECT_EQ(toks[8].kind, TokenKind::Ne);
  EXPECT_EQ(toks[9].kind, TokenKind::Ne);
  EXPECT_EQ(toks[10].kind, TokenKind::Eq);
  EXPECT_EQ(toks[11].kind, TokenKind::Concat);
  EXPECT_EQ(toks[12].kind, TokenKind::Le);
  EXPECT_EQ(toks[13].kind, TokenKind::Ge);
  EXPECT_EQ(toks[14].kind, TokenKind::End);
}

TEST(Lexer, DotAfterNameIsMemberAccessNotNumber) {
  const auto toks = tokenize("a.5");
  ASSERT_EQ(toks.size(), 4u);
  EXPECT_EQ(toks[1].kind, TokenKind::Dot);
  EXPECT_EQ(toks[2].kind, TokenKind::Integer);
}

// eKuiper writes arrays as [a, b]: the parser reads the literal as array_create(a, b).
TEST(Parser, ArrayLiteralIsArrayCreate) {
  EXPECT_EQ(expr_sx("[1, 'a', x + 1]"), expr_sx("array_create(1, 'a', x + 1)"));
  EXPECT_EQ(expr_sx("[]"), expr_sx("array_create()"));
  EXPECT_EQ(expr_sx("[[1], [2, 3]][0]"), expr_sx("array_create(array_create(1), array_create(2, 3))[0]"));
  EXPECT_EQ(expr_sx("array_contains([-1, 2], v)"), expr_sx("array_contains(array_create(-1, 2), v)"));
  EXPECT_NE(error_of("CREATE RULE r AS SELECT [1, 2 FROM s;").find("1:31: expected ',' or ']' in the array"),
            std::string::npos)
      << error_of("CREATE RULE r AS SELECT [1, 2 FROM s;");
}

TEST(Parser, CreateStreamWithOptions) {
  const ParseResult r = parse(
      "CREATE STREAM shop WITH (TOPIC = 'shop/+/events', format = 'json', Qos = 1, "
      "MaxOutOfOrderness = '5s', durable = true, ratio = -0.5, mode = fast, \"x y\" = 'z');");
  ASSERT_TRUE(r.errors.empty()) << errors_of(r);
  ASSERT_EQ(r.statements.size(), 1u);
  const Statement& st = r.statements[0];
  EXPECT_EQ(st.kind, StatementKind::CreateStream);
  EXPECT_EQ(st.name, "shop");
  EXPECT_EQ(st.name_pos.column, 15);
  EXPECT_FALSE(st.select);
  ASSERT_EQ(st.options.size(), 8u);
  EXPECT_EQ(st.options[0].key, "TOPIC");
  EXPECT_EQ(st.options[0].value.as_string(), "shop/+/events");
  EXPECT_EQ(st.options[1].key, "FORMAT");
  EXPECT_EQ(st.options[2].key, "QOS");
  EXPECT_EQ(st.options[2].value.as_int(), 1);
  EXPECT_EQ(st.options[3].key, "MAXOUTOFORDERNESS");
  EXPECT_TRUE(st.options[4].value.as_bool());
  EXPECT_DOUBLE_EQ(st.options[5].value.as_double_exact(), -0.5);
  EXPECT_EQ(st.options[6].value.as_string(), "fast");  // bare name stored as string
  EXPECT_EQ(st.options[7].key, "X Y");
}

TEST(Parser, CreateRuleFullSelect) {
  const std::string src =
      "CREATE RULE sales_indicators WITH (TOPIC = 'analytics/sales', QOS = 1) AS\n"
      "SELECT DISTINCT window_start() AS window_start, round(sum(amount), 2) total_sales,\n"
      "       count(*) AS order_count\n"
      "FROM shop\n"
      "WHERE event_type = 'purchase'\n"
      "GROUP BY TumblingWindow('30m'), region\n"
      "HAVING count(*) > 1\n"
      "ORDER BY total_sales DESC, region ASC, order_count\n"
      "LIMIT 10;";
  const ParseResult r = parse(src);
  const Select& s = only_select(r);
  const Statement& st = r.statements[0];
  EXPECT_EQ(st.kind, StatementKind::CreateRule);
  EXPECT_EQ(st.name, "sales_indicators");
  EXPECT_EQ(st.options.size(), 2u);
  EXPECT_EQ(st.text, src.substr(0, src.size() - 1));  // everything before the `;`
  EXPECT_TRUE(s.distinct);
  ASSERT_EQ(s.items.size(), 3u);
  EXPECT_EQ(sx(*s.items[0].expr), "(window_start)");
  EXPECT_EQ(s.items[0].alias, "window_start");
  EXPECT_EQ(sx(*s.items[1].expr), "(round (sum amount) 2)");
  EXPECT_EQ(s.items[1].alias, "total_sales");
  EXPECT_EQ(sx(*s.items[2].expr), "(count *)");
  EXPECT_EQ(s.from, "shop");
  EXPECT_EQ(s.from_pos.line, 4);
  EXPECT_EQ(s.from_pos.column, 6);
  EXPECT_EQ(sx(*s.where), "(= event_type \"purchase\")");
  ASSERT_EQ(s.group_by.size(), 2u);
  EXPECT_EQ(sx(*s.group_by[0]), "(TumblingWindow \"30m\")");
  EXPECT_EQ(sx(*s.having), "(> (count *) 1)");
  ASSERT_EQ(s.order_by.size(), 3u);
  EXPECT_TRUE(s.order_by[0].descending);
  EXPECT_FALSE(s.order_by[1].descending);
  EXPECT_FALSE(s.order_by[2].descending);
  EXPECT_EQ(s.limit, 10);
}

TEST(Parser, CreateAlertAndStarAndNoOptions) {
  const ParseResult r = parse("create alert hot as select * from temps where t > 30");
  const Select& s = only_select(r);
  EXPECT_EQ(r.statements[0].kind, StatementKind::CreateAlert);
  EXPECT_TRUE(r.statements[0].options.empty());
  ASSERT_EQ(s.items.size(), 1u);
  EXPECT_EQ(s.items[0].expr->kind, ExprKind::Star);
  EXPECT_FALSE(s.limit);
  EXPECT_EQ(r.statements[0].text, "create alert hot as select * from temps where t > 30");
}

TEST(Parser, SeveralStatementsCommentsAndOptionalLastSemicolon) {
  const ParseResult r = parse(
      "-- streams\n"
      "CREATE STREAM a WITH (TOPIC = 'a/#'); /* block\n comment; with semicolon */\n"
      ";;\n"
      "CREATE RULE r1 AS SELECT x -- trailing comment\n FROM a;\n"
      "CREATE RULE r2 AS SELECT /* inline */ y FROM r1  ");
  ASSERT_TRUE(r.errors.empty()) << errors_of(r);
  ASSERT_EQ(r.statements.size(), 3u);
  EXPECT_EQ(r.statements[1].name, "r1");
  EXPECT_EQ(r.statements[1].pos.line, 5);
  EXPECT_EQ(r.statements[1].text, "CREATE RULE r1 AS SELECT x -- trailing comment\n FROM a");
  EXPECT_EQ(r.statements[2].select->from, "r1");
  EXPECT_EQ(r.statements[2].text, "CREATE RULE r2 AS SELECT /* inline */ y FROM r1");
}

TEST(Parser, Precedence) {
  EXPECT_EQ(expr_sx("1 + 2 * 3"), "(+ 1 (* 2 3))");
  EXPECT_EQ(expr_sx("1 - 2 - 3"), "(- (- 1 2) 3)");
  EXPECT_EQ(expr_sx("a / b % c * d"), "(* (% (/ a b) c) d)");
  EXPECT_EQ(expr_sx("(1 + 2) * 3"), "(* (+ 1 2) 3)");
  EXPECT_EQ(expr_sx("a || b + c"), "(|| a (+ b c))");
  EXPECT_EQ(expr_sx("a || b = c || d"), "(= (|| a b) (|| c d))");
  EXPECT_EQ(expr_sx("a = 1 OR b = 2 AND c = 3"), "(or (= a 1) (and (= b 2) (= c 3)))");
  EXPECT_EQ(expr_sx("NOT a = 1 AND b"), "(and (not (= a 1)) b)");
  EXPECT_EQ(expr_sx("NOT NOT a"), "(not (not a))");
  EXPECT_EQ(expr_sx("-a * b"), "(* (neg a) b)");
  EXPECT_EQ(expr_sx("-a.b"), "(neg (. a b))");
  EXPECT_EQ(expr_sx("- -a"), "(neg (neg a))");
  EXPECT_EQ(expr_sx("+a"), "a");
  EXPECT_EQ(expr_sx("sum(a) / count(*)"), "(/ (sum a) (count *))");
  EXPECT_EQ(expr_sx("a <> b"), "(!= a b)");
  EXPECT_EQ(expr_sx("a == b"), "(= a b)");
  EXPECT_EQ(expr_sx("a >= b + 1"), "(>= a (+ b 1))");
}

TEST(Parser, Literals) {
  EXPECT_EQ(expr_sx("42"), "42");
  EXPECT_EQ(expr_sx("-42"), "-42");  // folded into the literal
  EXPECT_EQ(expr_sx("2.5"), "2.5");
  EXPECT_EQ(expr_sx("-.5"), "-0.5");
  EXPECT_EQ(expr_sx("1e3"), "1000.0");
  EXPECT_EQ(expr_sx("'it''s'"), "\"it's\"");
  EXPECT_EQ(expr_sx("TRUE"), "true");
  EXPECT_EQ(expr_sx("false"), "false");
  EXPECT_EQ(expr_sx("Null"), "null");
  EXPECT_EQ(expr_sx("9223372036854775807"), "9223372036854775807");
  EXPECT_EQ(expr_sx("-9223372036854775808"), "-9223372036854775808");
  EXPECT_EQ(expr_sx("- - 9223372036854775808"), "(neg -9223372036854775808)");
  EXPECT_EQ(expr_sx("18446744073709551616"), "18446744073709551616.0");
}

TEST(Parser, ComparisonForms) {
  EXPECT_EQ(expr_sx("x BETWEEN 1 AND 2 + 3"), "(between x 1 (+ 2 3))");
  EXPECT_EQ(expr_sx("x NOT BETWEEN a AND b AND c"), "(and (notbetween x a b) c)");
  EXPECT_EQ(expr_sx("x IN (1, 'a', y)"), "(in x 1 \"a\" y)");
  EXPECT_EQ(expr_sx("x not in (1)"), "(notin x 1)");
  EXPECT_EQ(expr_sx("name LIKE 'a%'"), "(like name \"a%\")");
  EXPECT_EQ(expr_sx("name NOT LIKE 'a%'"), "(notlike name \"a%\")");
  EXPECT_EQ(expr_sx("x IS NULL"), "(isnull x)");
  EXPECT_EQ(expr_sx("x IS NOT NULL OR y"), "(or (isnotnull x) y)");
  EXPECT_EQ(expr_sx("NOT x IN (1, 2)"), "(not (in x 1 2))");
}

TEST(Parser, PathsAndIndexes) {
  EXPECT_EQ(expr_sx("a.b.c"), "(. (. a b) c)");
  EXPECT_EQ(expr_sx("arr[0]"), "([] arr 0)");
  EXPECT_EQ(expr_sx("m['k']"), "([] m \"k\")");
  EXPECT_EQ(expr_sx("a.b[1].c['x y']"), "([] (. ([] (. a b) 1) c) \"x y\")");
  EXPECT_EQ(expr_sx("a[i + 1]"), "([] a (+ i 1))");
  EXPECT_EQ(expr_sx("\"my field\".`sub field`"), "(. my field sub field)");
  EXPECT_EQ(expr_sx("a.count.timestamp"), "(. (. a count) timestamp)");
  EXPECT_EQ(expr_sx("f(x).y"), "(. (f x) y)");
}

TEST(Parser, QuotedIdentifiers) {
  const ParseResult r =
      parse("CREATE RULE \"my rule\" AS SELECT \"a b\" AS `c d`, \"x\"\"y\" FROM `in put`;");
  const Select& s = only_select(r);
  EXPECT_EQ(r.statements[0].name, "my rule");
  EXPECT_EQ(sx(*s.items[0].expr), "a b");
  EXPECT_EQ(s.items[0].alias, "c d");
  EXPECT_EQ(sx(*s.items[1].expr), "x\"y");
  EXPECT_EQ(s.from, "in put");
  // A quoted reserved word is an ordinary field.
  EXPECT_EQ(expr_sx("\"from\" + \"select\""), "(+ from select)");
}

TEST(Parser, KeywordNamedFields) {
  EXPECT_EQ(expr_sx("timestamp"), "timestamp");
  EXPECT_EQ(expr_sx("count + value"), "(+ count value)");
  EXPECT_EQ(expr_sx("status = 'ok' AND key = window"), "(and (= status \"ok\") (= key window))");
  EXPECT_EQ(expr_sx("end - start"), "(- end start)");
  EXPECT_EQ(expr_sx("limit"), "limit");
  EXPECT_EQ(expr_sx("order + group"), "(+ order group)");
  EXPECT_EQ(expr_sx("case"), "case");
  EXPECT_EQ(expr_sx("filter"), "filter");
  EXPECT_EQ(expr_sx("f(distinct)"), "(f distinct)");
  const ParseResult r = parse(
      "CREATE RULE r AS SELECT timestamp, count, count(*) AS count, value value, distinct "
      "FROM s WHERE timestamp > 0 GROUP BY key ORDER BY timestamp DESC LIMIT 3;");
  const Select& s = only_select(r);
  ASSERT_EQ(s.items.size(), 5u);
  EXPECT_FALSE(s.distinct);
  EXPECT_EQ(s.items[2].alias, "count");
  EXPECT_EQ(s.items[3].alias, "value");
  EXPECT_EQ(sx(*s.items[4].expr), "distinct");
  EXPECT_EQ(sx(*s.group_by[0]), "key");
  EXPECT_EQ(sx(*s.order_by[0].expr), "timestamp");
}

TEST(Parser, Calls) {
  EXPECT_EQ(expr_sx("now()"), "(now)");
  EXPECT_EQ(expr_sx("count(DISTINCT user_id)"), "(count distinct user_id)");
  EXPECT_EQ(expr_sx("percentile(x, 0.95)"), "(percentile x 0.95)");
  EXPECT_EQ(expr_sx("count(*) FILTER (WHERE status = 'error')"),
            "(count * filter (= status \"error\"))");
  EXPECT_EQ(expr_sx("lag(temp) OVER (PARTITION BY device, site)"), "(lag temp over device site)");
  EXPECT_EQ(expr_sx("sum(x) FILTER (WHERE x > 0) OVER (PARTITION BY k)"),
            "(sum x filter (> x 0) over k)");
  EXPECT_EQ(expr_sx("latest(x) OVER ()"), "(latest x)");
  EXPECT_EQ(expr_sx("SlidingWindow('1m', '10s')"), "(SlidingWindow \"1m\" \"10s\")");
  EXPECT_EQ(expr_sx("\"count\"(x)"), "(count x)");
  // `filter` after a call without '(' is an alias, not a FILTER clause.
  const ParseResult r = parse("CREATE RULE r AS SELECT count(*) filter FROM s;");
  EXPECT_EQ(only_select(r).items[0].alias, "filter");
}

TEST(Parser, Case) {
  EXPECT_EQ(expr_sx("CASE WHEN x > 1 THEN 'a' WHEN x > 0 THEN 'b' ELSE 'c' END"),
            "(case/else (> x 1) \"a\" (> x 0) \"b\" \"c\")");
  EXPECT_EQ(expr_sx("case status when 'ok' then 1 end"), "(case/op status \"ok\" 1)");
  EXPECT_EQ(expr_sx("CASE WHEN a THEN end END"), "(case a end)");
  EXPECT_EQ(expr_sx("CASE WHEN a THEN 1 END + 1"), "(+ (case a 1) 1)");
}

TEST(Parser, ExpressionPositions) {
  const ParseResult r = parse("CREATE RULE r AS\nSELECT a + b.c FROM s;");
  const Select& s = only_select(r);
  const Expr& plus = *s.items[0].expr;
  EXPECT_EQ(s.pos.line, 2);
  EXPECT_EQ(s.pos.column, 1);
  EXPECT_EQ(s.items[0].pos.column, 8);
  EXPECT_EQ(plus.pos.column, 10);  // binary operators point at the operator
  EXPECT_EQ(plus.children[0]->pos.column, 8);
  EXPECT_EQ(plus.children[1]->pos.column, 14);  // member points at the field name
}

TEST(ParserErrors, MessagesAndPositions) {
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT count(x FROM s;"),
            "1:33: expected ')' after function arguments, found 'FROM'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT 'abc FROM s;"),
            "1:25: unterminated string literal\n");
  EXPECT_EQ(error_of("CREATE RULE r AS\n  SELECT a # b FROM s;"),
            "2:12: unexpected character '#'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a FROM s /* x"),
            "1:34: unterminated block comment\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT \"a FROM s"),
            "1:25: unterminated quoted identifier\n");
  EXPECT_EQ(error_of("CREATE VIEW v AS SELECT 1 FROM s"),
            "1:8: expected STREAM, TABLE, RULE, ALERT or FUNCTION after CREATE, found 'VIEW'\n");
  EXPECT_EQ(error_of("SELECT 1 FROM s;"),
            "1:1: expected CREATE at the start of a statement, found 'SELECT'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a FROM;"),
            "1:31: expected a stream or rule name after FROM, found ';'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a, FROM s"),
            "1:28: expected an expression, found 'FROM'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a FROM s WHERE x = ;"),
            "1:44: expected an expression, found ';'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a FROM s WHERE a < b < c;"),
            "1:46: comparisons cannot be chained; combine them with AND or use parentheses\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a FROM s LIMIT -1;"),
            "1:40: expected a non-negative integer after LIMIT, found '-'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a FROM s LIMIT 99999999999999999999;"),
            "1:40: LIMIT 99999999999999999999 is too large\n");
  EXPECT_EQ(error_of("CREATE STREAM s (TOPIC = 'a');"),
            "1:17: expected WITH (...) after the stream name, found '('\n");
  EXPECT_EQ(error_of("CREATE STREAM s WITH (TOPIC = 'a', topic = 'b');"),
            "1:36: duplicate option 'TOPIC'\n");
  EXPECT_EQ(error_of("CREATE STREAM s WITH (TOPIC 'a');"),
            "1:29: expected '=' after option 'TOPIC', found string 'a'\n");
  EXPECT_EQ(error_of("CREATE STREAM s WITH (TOPIC = );"),
            "1:31: expected a value for option 'TOPIC' (a string, number, boolean or name), "
            "found ')'\n");
  // `FROM s x` names the stream x (an alias); a second name is one too many.
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a FROM s x y"),
            "1:36: expected ';' at the end of the statement, found 'y'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a FROM s JOIN t"),
            "1:40: expected ON and the join condition after the joined name, found end of input\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT CASE WHEN a THEN 1 FROM s"),
            "1:44: expected WHEN, ELSE or END in CASE expression, found 'FROM'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a.* FROM s"),
            "1:27: expected a field name after '.', found '*'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT a * FROM s"),
            "1:29: expected an expression, found 'FROM'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT sum(*) + * FROM s"),
            "1:34: '*' is only allowed as a select item or in count(*)\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT 12abc FROM s"), "1:25: invalid number '12abc'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT 1e999 FROM s"), "1:25: number out of range: 1e999\n");
  EXPECT_EQ(
      error_of("CREATE RULE r AS SELECT " + std::string(400, '9') + ".5 FROM s").substr(0, 27),
      "1:25: number out of range: ");
  EXPECT_EQ(expr_sx("1e-999"), "0.0");
  EXPECT_EQ(expr_sx("0." + std::string(400, '0') + "1"), "0.0");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT x IS 1 FROM s"),
            "1:30: expected NULL or NOT after IS, found '1'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT x FROM s GROUP x"),
            "1:40: expected BY after GROUP, found 'x'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT f(a) OVER (ORDER BY a) FROM s"),
            "1:36: expected PARTITION BY or ')' in OVER clause, found 'ORDER'\n");
  EXPECT_EQ(error_of("CREATE RULE r SELECT 1 FROM s"),
            "1:15: expected AS after the rule name, found 'SELECT'\n");
  EXPECT_EQ(error_of("CREATE ALERT r WITH (A = 1) SELECT 1 FROM s"),
            "1:29: expected AS after WITH (...), found 'SELECT'\n");
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT \x01 FROM s"), "1:25: unexpected character 0x01\n");
}

TEST(ParserErrors, RecoveryReportsEveryBrokenStatement) {
  const ParseResult r = parse(
      "CREATE STREAM s WITH (TOPIC = 'x');\n"
      "CREATE RULE bad1 AS SELECT count(x FROM s;\n"
      "CREATE RULE good AS SELECT a FROM s;\n"
      "CREATE RULE bad2 AS SELECT a FROM s WHERE;\n"
      "CREATE RULE good2 AS SELECT b FROM s");
  EXPECT_EQ(errors_of(r),
            "2:36: expected ')' after function arguments, found 'FROM'\n"
            "4:42: expected an expression, found ';'\n");
  ASSERT_EQ(r.statements.size(), 3u);
  EXPECT_EQ(r.statements[0].name, "s");
  EXPECT_EQ(r.statements[1].name, "good");
  EXPECT_EQ(r.statements[2].name, "good2");
}

TEST(ParserErrors, ForgottenSemicolonDoesNotSwallowTheNextStatement) {
  const ParseResult r = parse(
      "CREATE RULE a AS SELECT x FROM s WHERE\n"
      "CREATE RULE b AS SELECT y FROM s;");
  EXPECT_EQ(errors_of(r), "2:1: expected an expression, found 'CREATE'\n");
  ASSERT_EQ(r.statements.size(), 1u);
  EXPECT_EQ(r.statements[0].name, "b");
}

TEST(ParserErrors, UnterminatedStringWhileSkippingIsStillReported) {
  const ParseResult r = parse("CREATE RULE a AS SELECT x FROM s WHERE ) 'oops;\nCREATE RULE b ...");
  EXPECT_EQ(errors_of(r),
            "1:40: expected an expression, found ')'\n"
            "1:42: unterminated string literal\n");
}

TEST(ParserErrors, NestingIsCapped) {
  const std::string deep_parens = std::string(10000, '(') + "1" + std::string(10000, ')');
  EXPECT_NE(
      error_of("CREATE RULE r AS SELECT " + deep_parens + " FROM s").find("nested too deeply"),
      std::string::npos);
  std::string minus_chain;  // "- - -": "--" would start a comment
  for (int i = 0; i < 10000; ++i) minus_chain += "- ";
  EXPECT_NE(
      error_of("CREATE RULE r AS SELECT " + minus_chain + "1 FROM s").find("nested too deeply"),
      std::string::npos);
  std::string long_chain = "a";
  for (int i = 0; i < 10000; ++i) long_chain += " + a";
  EXPECT_NE(error_of("CREATE RULE r AS SELECT " + long_chain + " FROM s").find("nested too deeply"),
            std::string::npos);
  std::string nots;
  for (int i = 0; i < 10000; ++i) nots += "NOT ";
  EXPECT_NE(error_of("CREATE RULE r AS SELECT " + nots + "a FROM s").find("nested too deeply"),
            std::string::npos);
  std::string idx = "a";
  for (int i = 0; i < 10000; ++i) idx += "[0]";
  EXPECT_NE(error_of("CREATE RULE r AS SELECT " + idx + " FROM s").find("nested too deeply"),
            std::string::npos);
  // Moderate nesting is fine.
  EXPECT_EQ(error_of("CREATE RULE r AS SELECT " + std::string(100, '(') + "1" +
                     std::string(100, ')') + " FROM s"),
            "");
}

TEST(ParserErrors, EmptyAndGarbageInputs) {
  EXPECT_TRUE(parse("").errors.empty());
  EXPECT_TRUE(parse("  -- only a comment\n;;").errors.empty());
  EXPECT_EQ(parse("CREATE").errors.size(), 1u);
  EXPECT_EQ(parse(std::string("\0\0\0", 3)).errors.size(), 1u);
  EXPECT_EQ(errors_of(parse("CREATE RULE")), "1:12: expected a rule name, found end of input\n");
}

}  // namespace
}  // namespace streamgate::rules::ast
