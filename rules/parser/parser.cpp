// Parser for rule files: recursive descent over statements, precedence climbing for expressions.
// Produces the AST in rules/ast.h. Errors are user errors: each is recorded with the position of
// the offending token, the broken statement is skipped up to its `;`, and parsing goes on.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "rules/ast.h"
#include "rules/parser/lexer.h"

namespace streamgate::rules::ast {
namespace {

// Bounds both the parser's recursion (parentheses, unary chains) and the depth of the tree it
// builds (long `a + b + ...` chains), so neither the parser nor anything walking the AST
// recursively (planner, destructors) can exhaust the stack.
constexpr int kMaxDepth = 256;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

std::string describe(const Token& t, std::string_view source) {
  switch (t.kind) {
    case TokenKind::End:
      return "end of input";
    case TokenKind::String: {
      std::string s = t.text.size() > 24 ? t.text.substr(0, 24) + "..." : t.text;
      return "string '" + s + "'";
    }
    default: {
      std::string s(source.substr(t.offset, t.length));
      if (s.size() > 24) s = s.substr(0, 24) + "...";
      return "'" + s + "'";
    }
  }
}

class Parser {
 public:
  explicit Parser(std::string_view source) : src_(source), toks_(tokenize(source)) {}

  ParseResult run() {
    while (!at(TokenKind::End)) {
      if (accept(TokenKind::Semicolon)) continue;
      const std::size_t start = i_;
      depth_ = 0;
      depths_.clear();
      try {
        result_.statements.push_back(statement());
      } catch (const Failure&) {
        // The broken statement's name, when it got that far: the planner then knows why a
        // later FROM cannot find it and does not report a knock-on error.
        auto kw = [&](std::size_t j, std::string_view w) {
          return toks_[j].kind == TokenKind::Identifier && iequals(toks_[j].text, w);
        };
        if (start + 2 < toks_.size() && kw(start, "CREATE") &&
            (kw(start + 1, "STREAM") || kw(start + 1, "RULE") || kw(start + 1, "ALERT") ||
             kw(start + 1, "FUNCTION") || kw(start + 1, "TABLE")) &&
            toks_[start + 2].kind == TokenKind::Identifier)
          result_.unparsed_names.push_back(toks_[start + 2].text);
        recover(start);
      }
    }
    return std::move(result_);
  }

 private:
  // Thrown after the error is recorded; unwinds to the statement loop.
  struct Failure {};

  // ---- token access ----

  const Token& peek(std::size_t ahead = 0) const {
    const std::size_t j = i_ + ahead;
    return j < toks_.size() ? toks_[j] : toks_.back();
  }
  bool at(TokenKind k, std::size_t ahead = 0) const { return peek(ahead).kind == k; }
  bool at_kw(std::string_view kw, std::size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.kind == TokenKind::Identifier && iequals(t.text, kw);
  }
  const Token& advance() {
    const Token& t = toks_[i_];
    if (t.kind != TokenKind::End) {
      prev_end_ = t.offset + t.length;
      ++i_;
    }
    return t;
  }
  bool accept(TokenKind k) {
    if (!at(k)) return false;
    advance();
    return true;
  }
  bool accept_kw(std::string_view kw) {
    if (!at_kw(kw)) return false;
    advance();
    return true;
  }

  // ---- errors ----

  [[noreturn]] void fail(const Token& t, std::string message) {
    // A lexical error explains itself better than "expected X, found <garbage>".
    if (t.kind == TokenKind::Error) message = t.text;
    result_.errors.push_back(ParseError{t.pos, std::move(message)});
    failed_at_ = static_cast<std::size_t>(&t - toks_.data());
    throw Failure{};
  }
  [[noreturn]] void fail_expected(std::string_view expectation) {
    const Token& t = peek();
    fail(t, std::string(expectation) + ", found " + describe(t, src_));
  }
  const Token& expect(TokenKind k, std::string_view expectation) {
    if (!at(k)) fail_expected(expectation);
    return advance();
  }
  void expect_kw(std::string_view kw, std::string_view expectation) {
    if (!accept_kw(kw)) fail_expected(expectation);
  }

  // `CREATE STREAM|RULE|ALERT` starts a statement wherever it appears: a forgotten `;` or a
  // missing operand must not make it a field name.
  bool at_create(std::size_t ahead = 0) const {
    return at_kw("CREATE", ahead) &&
           (at_kw("STREAM", ahead + 1) || at_kw("RULE", ahead + 1) || at_kw("ALERT", ahead + 1) ||
            at_kw("FUNCTION", ahead + 1) || at_kw("TABLE", ahead + 1));
  }

  // Skips to the end of the broken statement: the next `;`, or the next `CREATE STREAM|RULE|
  // ALERT` so a forgotten `;` does not swallow the following statement too.
  void recover(std::size_t statement_start) {
    if (i_ == statement_start) advance();  // always make progress
    while (!at(TokenKind::End) && !at(TokenKind::Semicolon)) {
      if (at_create()) return;
      const Token& t = peek();
      if (t.kind == TokenKind::Error && t.to_end && i_ != failed_at_)
        result_.errors.push_back(ParseError{t.pos, t.text});
      advance();
    }
    accept(TokenKind::Semicolon);
  }

  // ---- depth bookkeeping ----

  struct DepthGuard {
    Parser& p;
    DepthGuard(Parser& parser, const Token& t) : p(parser) {
      if (++p.depth_ > kMaxDepth) {
        --p.depth_;
        p.fail(t, "expression nested too deeply (limit " + std::to_string(kMaxDepth) + ")");
      }
    }
    ~DepthGuard() { --p.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
  };

  ExprPtr make(ExprKind kind, SourcePos pos) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    depths_[e.get()] = 1;  // overwrites any entry left by a freed node at the same address
    return e;
  }

  int depth_of(const ExprPtr& e) const {
    if (!e) return 0;
    auto it = depths_.find(e.get());
    return it == depths_.end() ? 1 : it->second;
  }

  // Call once a node's children are attached: records its depth and enforces the limit.
  ExprPtr seal(ExprPtr e, const Token& at_token) {
    int d = depth_of(e->filter);
    for (const auto& c : e->children) d = std::max(d, depth_of(c));
    for (const auto& c : e->partition_by) d = std::max(d, depth_of(c));
    if (d + 1 > kMaxDepth)
      fail(at_token, "expression nested too deeply (limit " + std::to_string(kMaxDepth) + ")");
    depths_[e.get()] = d + 1;
    return e;
  }

  // ---- keyword classification (keywords are not reserved, context decides) ----

  // Words that cannot be a bare field name where an expression starts: they begin or join
  // clauses, and treating them as fields would turn a missing operand into a baffling error.
  bool is_reserved_in_expr(std::size_t ahead = 0) const {
    if (at_create(ahead)) return true;
    if (at_kw("SELECT", ahead) || at_kw("FROM", ahead) || at_kw("WHERE", ahead) ||
        at_kw("HAVING", ahead) || at_kw("AND", ahead) || at_kw("OR", ahead))
      return true;
    return (at_kw("GROUP", ahead) || at_kw("ORDER", ahead)) && at_kw("BY", ahead + 1);
  }

  // Whether the token can start an operand; used to tell `CASE x WHEN` from a field named
  // `case`, and `count(DISTINCT x)` from a field named `distinct`.
  bool starts_operand(std::size_t ahead) const {
    const Token& t = peek(ahead);
    switch (t.kind) {
      case TokenKind::Integer:
      case TokenKind::Float:
      case TokenKind::String:
      case TokenKind::QuotedIdentifier:
      case TokenKind::LParen:
      case TokenKind::Minus:
      case TokenKind::Plus:
        return true;
      case TokenKind::Identifier: {
        if (is_reserved_in_expr(ahead)) return false;
        static constexpr std::string_view kNot[] = {"AS",  "IS",   "IN",    "LIKE",   "BETWEEN",
                                                    "NOT", "ASC",  "DESC",  "THEN",   "ELSE",
                                                    "END", "WHEN", "LIMIT", "FILTER", "OVER"};
        for (auto kw : kNot)
          if (iequals(t.text, kw)) return false;
        return true;
      }
      default:
        return false;
    }
  }

  // ---- statements ----

  Statement statement() {
    const Token& create = peek();
    expect_kw("CREATE", "expected CREATE at the start of a statement");
    Statement st;
    st.pos = create.pos;
    if (accept_kw("STREAM")) {
      st.kind = StatementKind::CreateStream;
    } else if (accept_kw("RULE")) {
      st.kind = StatementKind::CreateRule;
    } else if (accept_kw("ALERT")) {
      st.kind = StatementKind::CreateAlert;
    } else if (accept_kw("FUNCTION")) {
      st.kind = StatementKind::CreateFunction;
    } else if (accept_kw("TABLE")) {
      st.kind = StatementKind::CreateTable;
    } else {
      fail_expected("expected STREAM, TABLE, RULE, ALERT or FUNCTION after CREATE");
    }
    const char* what = st.kind == StatementKind::CreateStream   ? "stream"
                       : st.kind == StatementKind::CreateRule   ? "rule"
                       : st.kind == StatementKind::CreateAlert  ? "alert"
                       : st.kind == StatementKind::CreateTable  ? "table"
                                                                : "function";
    const Token& name = peek();
    if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
      fail_expected(std::string("expected a ") + what + " name");
    advance();
    st.name = name.text;
    st.name_pos = name.pos;

    if (st.kind == StatementKind::CreateStream) {
      expect_kw("WITH", "expected WITH (...) after the stream name");
      st.options = options();
    } else if (st.kind == StatementKind::CreateTable) {
      // CREATE TABLE name (col [type], ...) WITH (TYPE=..., KEY=..., ...)
      expect(TokenKind::LParen, "expected '(' and the columns after the table name");
      do {
        const Token& col = peek();
        if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
          fail_expected("expected a column name");
        advance();
        ColumnDef c;
        c.name = col.text;
        c.pos = col.pos;
        if (at(TokenKind::Identifier)) c.type = to_upper(advance().text);
        st.columns.push_back(std::move(c));
      } while (accept(TokenKind::Comma));
      expect(TokenKind::RParen, "expected ',' or ')' after a column");
      expect_kw("WITH", "expected WITH (...) after the table's columns");
      st.options = options();
    } else if (st.kind == StatementKind::CreateFunction) {
      // CREATE FUNCTION name(a, b) AS expression: an SQL macro, expanded where it is called.
      expect(TokenKind::LParen, "expected '(' and the parameters after the function name");
      if (!at(TokenKind::RParen)) {
        do {
          const Token& param = peek();
          if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
            fail_expected("expected a parameter name");
          advance();
          st.params.push_back(param.text);
          st.param_pos.push_back(param.pos);
        } while (accept(TokenKind::Comma));
      }
      expect(TokenKind::RParen, "expected ',' or ')' after a parameter");
      expect_kw("AS", "expected AS and an expression after the parameters");
      st.body = expr();
    } else {
      const bool with = accept_kw("WITH");
      if (with) st.options = options();
      expect_kw("AS", with ? std::string("expected AS after WITH (...)")
                           : std::string("expected AS after the ") + what + " name");
      st.select = select();
    }
    if (!at(TokenKind::Semicolon) && !at(TokenKind::End))
      fail_expected("expected ';' at the end of the statement");
    st.text = std::string(src_.substr(create.offset, prev_end_ - create.offset));
    accept(TokenKind::Semicolon);
    return st;
  }

  std::vector<Option> options() {
    expect(TokenKind::LParen, "expected '(' after WITH");
    std::vector<Option> opts;
    do {
      const Token& key = peek();
      if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
        fail_expected("expected an option name");
      advance();
      Option opt;
      opt.key = to_upper(key.text);
      opt.pos = key.pos;
      for (const auto& o : opts)
        if (o.key == opt.key) fail(key, "duplicate option '" + opt.key + "'");
      expect(TokenKind::Eq, "expected '=' after option '" + opt.key + "'");
      opt.value = option_value(opt.key);
      opts.push_back(std::move(opt));
    } while (accept(TokenKind::Comma));
    expect(TokenKind::RParen, "expected ',' or ')' after an option");
    return opts;
  }

  Value option_value(const std::string& key) {
    const std::string expectation =
        "expected a value for option '" + key + "' (a string, number, boolean or name)";
    bool negative = false;
    if (at(TokenKind::Minus) || at(TokenKind::Plus)) {
      if (!at(TokenKind::Integer, 1) && !at(TokenKind::Float, 1)) {
        advance();
        fail_expected(expectation);
      }
      negative = advance().kind == TokenKind::Minus;
    }
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::Integer:
      case TokenKind::Float:
        return number(advance(), negative);
      case TokenKind::String:
      case TokenKind::QuotedIdentifier:
        return Value(advance().text);
      case TokenKind::Identifier:
        advance();
        if (iequals(t.text, "TRUE")) return Value(true);
        if (iequals(t.text, "FALSE")) return Value(false);
        if (iequals(t.text, "NULL")) return Value();
        return Value(t.text);
      default:
        fail_expected(expectation);
    }
  }

  // Integers beyond int64 become doubles; `-9223372036854775808` stays an exact int64.
  Value number(const Token& t, bool negative) {
    const char* first = t.text.data();
    const char* last = first + t.text.size();
    if (t.kind == TokenKind::Integer) {
      std::uint64_t u = 0;
      auto [p, ec] = std::from_chars(first, last, u);
      if (ec == std::errc() && p == last) {
        constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (u <= kMax) {
          const auto v = static_cast<std::int64_t>(u);
          return Value(negative ? -v : v);
        }
        if (negative && u == kMax + 1) return Value(std::numeric_limits<std::int64_t>::min());
      }
    }
    double d = 0;
    auto [p, ec] = std::from_chars(first, last, d);
    if (ec == std::errc::result_out_of_range && !overflows(t.text)) {
      d = 0;  // underflow: 1e-400 is zero for our purposes
    } else if (ec != std::errc() || p != last || !std::isfinite(d)) {
      fail(t, "number out of range: " + t.text);
    }
    return Value(negative ? -d : d);
  }

  // from_chars reports overflow and underflow alike; tell them apart by the decimal magnitude.
  static bool overflows(std::string_view text) {
    const std::size_t e = text.find_first_of("eE");
    const std::string_view mantissa = text.substr(0, e);
    std::int64_t exponent = 0;
    if (e != std::string_view::npos) {
      std::size_t j = e + 1;
      const bool neg = j < text.size() && text[j] == '-';
      if (j < text.size() && (text[j] == '-' || text[j] == '+')) ++j;
      for (; j < text.size(); ++j)
        exponent = std::min<std::int64_t>(exponent * 10 + (text[j] - '0'), 1'000'000);
      if (neg) exponent = -exponent;
    }
    const std::size_t dot = std::min(mantissa.find('.'), mantissa.size());
    const std::size_t first_digit = mantissa.find_first_of("123456789");
    if (first_digit == std::string_view::npos) return false;  // zero
    const auto magnitude = static_cast<std::int64_t>(dot) - static_cast<std::int64_t>(first_digit) -
                           (first_digit > dot ? 0 : 1);
    return magnitude + exponent > 0;
  }

  // ---- SELECT ----

  Select select() {
    Select s;
    s.pos = peek().pos;
    expect_kw("SELECT", "expected SELECT after AS");
    if (at_kw("DISTINCT") && (starts_operand(1) || at(TokenKind::Star, 1))) {
      advance();
      s.distinct = true;
    }
    do s.items.push_back(select_item());
    while (accept(TokenKind::Comma));

    expect_kw("FROM", "expected ',' or FROM after the select list");
    const Token& from = peek();
    if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
      fail_expected("expected a stream or rule name after FROM");
    advance();
    s.from = from.text;
    s.from_pos = from.pos;
    if (at_kw("MATCH_RECOGNIZE") && at(TokenKind::LParen, 1)) s.match_recognize = match_recognize();
    s.from_alias = source_alias();
    while (at_join()) s.joins.push_back(join());

    if (accept_kw("WHERE")) s.where = expr();
    if (at_kw("GROUP")) {
      advance();
      expect_kw("BY", "expected BY after GROUP");
      do s.group_by.push_back(expr());
      while (accept(TokenKind::Comma));
    }
    if (accept_kw("HAVING")) s.having = expr();
    if (at_kw("ORDER")) {
      advance();
      expect_kw("BY", "expected BY after ORDER");
      do {
        OrderItem item;
        item.expr = expr();
        if (accept_kw("DESC"))
          item.descending = true;
        else
          accept_kw("ASC");
        s.order_by.push_back(std::move(item));
      } while (accept(TokenKind::Comma));
    }
    if (accept_kw("LIMIT")) {
      const Token& t = peek();
      if (!at(TokenKind::Integer)) fail_expected("expected a non-negative integer after LIMIT");
      advance();
      const Value v = number(t, false);
      if (!v.is_int()) fail(t, "LIMIT " + t.text + " is too large");
      s.limit = v.as_int();
    }
    return s;
  }

  // `FROM s [AS] a`: an alias is any name that does not start the next clause.
  std::string source_alias() {
    if (accept_kw("AS")) {
      if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
        fail_expected("expected an alias after AS");
      return advance().text;
    }
    if (at(TokenKind::QuotedIdentifier)) return advance().text;
    if (!at(TokenKind::Identifier) || at_create() || at_join() || at_kw("ON")) return {};
    static constexpr std::string_view kClause[] = {"WHERE", "GROUP", "HAVING", "ORDER", "LIMIT",
                                                   "MATCH_RECOGNIZE"};
    for (auto kw : kClause)
      if (at_kw(kw)) return {};
    return advance().text;
  }

  bool at_join() const {
    return at_kw("JOIN") || ((at_kw("LEFT") || at_kw("INNER")) &&
                             (at_kw("JOIN", 1) || (at_kw("OUTER", 1) && at_kw("JOIN", 2))));
  }

  Join join() {
    Join j;
    j.pos = peek().pos;
    if (accept_kw("LEFT")) {
      j.left = true;
      accept_kw("OUTER");
    } else {
      accept_kw("INNER");
    }
    expect_kw("JOIN", "expected JOIN");
    const Token& name = peek();
    if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
      fail_expected("expected a table or stream name after JOIN");
    advance();
    j.name = name.text;
    j.name_pos = name.pos;
    j.alias = source_alias();
    expect_kw("ON", "expected ON and the join condition after the joined name");
    j.on = expr();
    return j;
  }

  SelectItem select_item() {
    SelectItem item;
    item.pos = peek().pos;
    if (at(TokenKind::Star)) {
      item.expr = make(ExprKind::Star, advance().pos);
      return item;
    }
    item.expr = expr();
    if (accept_kw("AS")) {
      if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
        fail_expected("expected an alias after AS");
      item.alias = advance().text;
    } else if (at(TokenKind::QuotedIdentifier) ||
               (at(TokenKind::Identifier) && !at_create() && !at_kw("FROM") && !at_kw("WHERE") &&
                !at_kw("GROUP") && !at_kw("HAVING") && !at_kw("ORDER") && !at_kw("LIMIT"))) {
      item.alias = advance().text;  // `expr alias` without AS
    }
    return item;
  }

  // ---- expressions, lowest precedence first ----

  ExprPtr expr() {
    DepthGuard guard(*this, peek());
    return or_expr();
  }

  ExprPtr binary(Op op, const Token& op_token, ExprPtr lhs, ExprPtr rhs) {
    ExprPtr e = make(ExprKind::Binary, op_token.pos);
    e->op = op;
    e->children.push_back(std::move(lhs));
    e->children.push_back(std::move(rhs));
    return seal(std::move(e), op_token);
  }

  ExprPtr or_expr() {
    ExprPtr lhs = and_expr();
    while (at_kw("OR")) {
      const Token& op = advance();
      lhs = binary(Op::Or, op, std::move(lhs), and_expr());
    }
    return lhs;
  }

  ExprPtr and_expr() {
    ExprPtr lhs = not_expr();
    while (at_kw("AND")) {
      const Token& op = advance();
      lhs = binary(Op::And, op, std::move(lhs), not_expr());
    }
    return lhs;
  }

  ExprPtr not_expr() {
    if (!at_kw("NOT")) return comparison();
    const Token& op = peek();
    DepthGuard guard(*this, op);
    advance();
    ExprPtr e = make(ExprKind::Unary, op.pos);
    e->op = Op::Not;
    e->children.push_back(not_expr());
    return seal(std::move(e), op);
  }

  static Op comparison_op(TokenKind k) {
    switch (k) {
      case TokenKind::Eq:
        return Op::Eq;
      case TokenKind::Ne:
        return Op::Ne;
      case TokenKind::Lt:
        return Op::Lt;
      case TokenKind::Le:
        return Op::Le;
      case TokenKind::Gt:
        return Op::Gt;
      case TokenKind::Ge:
        return Op::Ge;
      default:
        return Op::None;
    }
  }

  bool at_comparison() const {
    if (comparison_op(peek().kind) != Op::None) return true;
    if (at_kw("BETWEEN") || at_kw("IN") || at_kw("LIKE") || at_kw("IS")) return true;
    return at_kw("NOT") && (at_kw("BETWEEN", 1) || at_kw("IN", 1) || at_kw("LIKE", 1));
  }

  // One comparison at most: `a < b < c` is almost certainly a mistake, so it is an error.
  ExprPtr comparison() {
    ExprPtr lhs = arith(1);
    if (!at_comparison()) return lhs;
    const Token& op = peek();
    ExprPtr e;
    if (const Op cmp = comparison_op(op.kind); cmp != Op::None) {
      advance();
      e = binary(cmp, op, std::move(lhs), arith(1));
    } else if (accept_kw("IS")) {
      e = make(ExprKind::IsNull, op.pos);
      e->negated = accept_kw("NOT");
      expect_kw("NULL",
                e->negated ? "expected NULL after IS NOT" : "expected NULL or NOT after IS");
      e->children.push_back(std::move(lhs));
      e = seal(std::move(e), op);
    } else {
      const bool negated = accept_kw("NOT");
      if (accept_kw("BETWEEN")) {
        e = make(ExprKind::Between, op.pos);
        e->children.push_back(std::move(lhs));
        e->children.push_back(arith(1));  // above AND, so BETWEEN's own AND is not a logical AND
        expect_kw("AND", "expected AND in BETWEEN");
        e->children.push_back(arith(1));
      } else if (accept_kw("IN")) {
        e = make(ExprKind::In, op.pos);
        e->children.push_back(std::move(lhs));
        expect(TokenKind::LParen, "expected '(' after IN");
        do e->children.push_back(expr());
        while (accept(TokenKind::Comma));
        expect(TokenKind::RParen, "expected ',' or ')' in IN list");
      } else {
        expect_kw("LIKE", "expected BETWEEN, IN or LIKE after NOT");
        e = make(ExprKind::Like, op.pos);
        e->children.push_back(std::move(lhs));
        e->children.push_back(arith(1));
      }
      e->negated = negated;
      e = seal(std::move(e), op);
    }
    if (at_comparison())
      fail(peek(), "comparisons cannot be chained; combine them with AND or use parentheses");
    return e;
  }

  static int arith_prec(TokenKind k, Op& op) {
    switch (k) {
      case TokenKind::Concat:
        op = Op::Concat;
        return 1;
      case TokenKind::Plus:
        op = Op::Add;
        return 2;
      case TokenKind::Minus:
        op = Op::Sub;
        return 2;
      case TokenKind::Star:
        op = Op::Mul;
        return 3;
      case TokenKind::Slash:
        op = Op::Div;
        return 3;
      case TokenKind::Percent:
        op = Op::Mod;
        return 3;
      default:
        return 0;
    }
  }

  // Precedence climbing over || (1), + - (2), * / % (3); all left-associative. Recursion here is
  // bounded by the number of levels; nesting goes through expr() and its guard.
  ExprPtr arith(int min_prec) {
    ExprPtr lhs = unary();
    for (;;) {
      Op op = Op::None;
      const int prec = arith_prec(peek().kind, op);
      if (prec == 0 || prec < min_prec) return lhs;
      const Token& op_token = advance();
      ExprPtr rhs = arith(prec + 1);
      lhs = binary(op, op_token, std::move(lhs), std::move(rhs));
    }
  }

  ExprPtr unary() {
    if (!at(TokenKind::Minus) && !at(TokenKind::Plus)) return postfix(primary());
    const Token& op = peek();
    DepthGuard guard(*this, op);
    advance();
    const bool minus = op.kind == TokenKind::Minus;
    // `-9223372036854775808` is the one int64 whose magnitude is not an int64 itself.
    if (minus && at(TokenKind::Integer) && peek().text == "9223372036854775808" &&
        !at(TokenKind::Dot, 1) && !at(TokenKind::LBracket, 1)) {
      ExprPtr lit = make(ExprKind::Literal, op.pos);
      lit->literal = number(advance(), true);
      return lit;
    }
    ExprPtr operand = unary();
    if (!minus) return operand;
    // Fold `-5` into a literal so the planner sees constants (window sizes, percentiles) as such.
    if (operand->kind == ExprKind::Literal) {
      const Value& v = operand->literal;
      if (v.is_int() && v.as_int() != std::numeric_limits<std::int64_t>::min()) {
        operand->literal = Value(-v.as_int());
        operand->pos = op.pos;
        return operand;
      }
      if (v.is_double()) {
        operand->literal = Value(-v.as_double_exact());
        operand->pos = op.pos;
        return operand;
      }
    }
    ExprPtr e = make(ExprKind::Unary, op.pos);
    e->op = Op::Neg;
    e->children.push_back(std::move(operand));
    return seal(std::move(e), op);
  }

  ExprPtr postfix(ExprPtr e) {
    for (;;) {
      if (at(TokenKind::Dot) && at(TokenKind::Star, 1) && in_match_recognize_ &&
          e->kind == ExprKind::Column) {
        // `B.*`: every row mapped to pattern variable B, as in COUNT(B.*).
        advance();
        ExprPtr star = make(ExprKind::Star, e->pos);
        star->name = e->name;
        advance();
        return star;
      }
      if (at(TokenKind::Dot) || at(TokenKind::Arrow)) {
        const bool arrow = at(TokenKind::Arrow);
        const Token& op = advance();
        const Token& field = peek();
        if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
          fail_expected(arrow ? "expected a field name after '->'" : "expected a field name after '.'");
        advance();
        if (arrow) {
          // eKuiper's `a->b` is a['b']: always a member of the JSON value a, never a stream
          // qualifier (`demo->x` reads the field demo even in a rule FROM demo).
          ExprPtr ix = make(ExprKind::Index, op.pos);
          ix->children.push_back(std::move(e));
          ExprPtr key = make(ExprKind::Literal, field.pos);
          key->literal = Value(field.text);
          ix->children.push_back(std::move(key));
          e = seal(std::move(ix), op);
        } else {
          ExprPtr m = make(ExprKind::Member, field.pos);
          m->name = field.text;
          m->children.push_back(std::move(e));
          e = seal(std::move(m), op);
        }
      } else if (at(TokenKind::LBracket)) {
        const Token& open = advance();
        ExprPtr ix = make(ExprKind::Index, open.pos);
        ix->children.push_back(std::move(e));
        ix->children.push_back(expr());
        expect(TokenKind::RBracket, "expected ']' after index");
        e = seal(std::move(ix), open);
      } else {
        return e;
      }
    }
  }

  // INTERVAL '5' MINUTE (SQL's interval literal, as Flink writes interval joins): a call named
  // INTERVAL of the length in nanoseconds; the planner accepts it where a duration is meant.
  ExprPtr interval() {
    const Token& kw = advance();
    const Token& n = advance();
    const Token& unit = peek();
    if (!at(TokenKind::Identifier)) fail_expected("expected a unit after INTERVAL '" + n.text + "' (SECOND, MINUTE, HOUR, DAY)");
    std::string u = to_upper(advance().text);
    if (u.size() > 1 && u.back() == 'S') u.pop_back();
    static const std::pair<const char*, std::int64_t> kUnits[] = {
        {"MILLISECOND", 1'000'000LL}, {"SECOND", 1'000'000'000LL}, {"MINUTE", 60'000'000'000LL},
        {"HOUR", 3'600'000'000'000LL}, {"DAY", 86'400'000'000'000LL}};
    std::int64_t mult = 0;
    for (const auto& [name, m] : kUnits)
      if (u == name) mult = m;
    if (mult == 0) fail(unit, "unknown INTERVAL unit '" + unit.text + "' (SECOND, MINUTE, HOUR, DAY)");
    std::int64_t count = 0;
    const auto [p, ec] = std::from_chars(n.text.data(), n.text.data() + n.text.size(), count);
    if (ec != std::errc() || p != n.text.data() + n.text.size() || count < 0 ||
        count > std::numeric_limits<std::int64_t>::max() / mult)
      fail(n, "INTERVAL '" + n.text + "' needs a whole number within range");
    ExprPtr e = make(ExprKind::Call, kw.pos);
    e->name = "INTERVAL";
    ExprPtr len = make(ExprKind::Literal, n.pos);
    len->literal = Value(count * mult);
    e->children.push_back(std::move(len));
    return e;
  }

  ExprPtr primary() {
    const Token& t = peek();
    switch (t.kind) {
      case TokenKind::Integer:
      case TokenKind::Float: {
        ExprPtr e = make(ExprKind::Literal, t.pos);
        e->literal = number(advance(), false);
        return e;
      }
      case TokenKind::String: {
        ExprPtr e = make(ExprKind::Literal, t.pos);
        e->literal = Value(advance().text);
        return e;
      }
      case TokenKind::LParen: {
        advance();
        ExprPtr e = expr();
        expect(TokenKind::RParen, "expected ')' to close '('");
        return e;
      }
      case TokenKind::LBracket: {
        // [a, b, ...]: an array literal as eKuiper writes one; the call array_create(a, b, ...).
        const Token& open = advance();
        ExprPtr e = make(ExprKind::Call, open.pos);
        e->name = "array_create";
        if (!at(TokenKind::RBracket)) {
          do e->children.push_back(expr());
          while (accept(TokenKind::Comma));
        }
        expect(TokenKind::RBracket, "expected ',' or ']' in the array [...]");
        return seal(std::move(e), open);
      }
      case TokenKind::QuotedIdentifier:
        advance();
        if (at(TokenKind::LParen)) return call(t);
        return column(t);
      case TokenKind::Identifier:
        break;
      case TokenKind::Star:
        fail(t, "'*' is only allowed as a select item or in count(*)");
      default:
        fail_expected("expected an expression");
    }
    if (is_reserved_in_expr()) fail_expected("expected an expression");
    if (at_kw("INTERVAL") && at(TokenKind::String, 1)) return interval();
    if (at_kw("TRUE") || at_kw("FALSE") || at_kw("NULL")) {
      ExprPtr e = make(ExprKind::Literal, t.pos);
      if (at_kw("TRUE"))
        e->literal = Value(true);
      else if (at_kw("FALSE"))
        e->literal = Value(false);
      advance();
      return e;
    }
    if (at_kw("CASE") && (at_kw("WHEN", 1) || starts_operand(1))) return case_expr();
    advance();
    if (at(TokenKind::LParen)) return call(t);
    return column(t);
  }

  ExprPtr column(const Token& t) {
    ExprPtr e = make(ExprKind::Column, t.pos);
    e->name = t.text;
    return e;
  }

  ExprPtr call(const Token& name) {
    ExprPtr e = make(ExprKind::Call, name.pos);
    e->name = name.text;
    expect(TokenKind::LParen, "expected '('");
    // A leading '*' is count(*)'s: take it here, so `count(* AS n` reports the missing ')' at
    // AS rather than a misplaced '*'.
    if (at(TokenKind::Star)) {
      e->children.push_back(make(ExprKind::Star, advance().pos));
    } else if (!at(TokenKind::RParen)) {
      if (at_kw("DISTINCT") && starts_operand(1)) {
        advance();
        e->distinct = true;
      }
      do e->children.push_back(expr());
      while (accept(TokenKind::Comma));
    }
    expect(TokenKind::RParen, "expected ')' after function arguments");
    // FILTER/OVER only when followed by '(' so `count(*) filter` can still alias a column.
    if (at_kw("FILTER") && at(TokenKind::LParen, 1)) {
      advance();
      advance();
      expect_kw("WHERE", "expected WHERE after FILTER (");
      e->filter = expr();
      expect(TokenKind::RParen, "expected ')' after FILTER condition");
    }
    if (at_kw("OVER") && at(TokenKind::LParen, 1)) {
      advance();
      advance();
      if (accept_kw("PARTITION")) {
        expect_kw("BY", "expected BY after PARTITION");
        do e->partition_by.push_back(expr());
        while (accept(TokenKind::Comma));
      }
      expect(TokenKind::RParen, "expected PARTITION BY or ')' in OVER clause");
    }
    return seal(std::move(e), name);
  }

  ExprPtr case_expr() {
    const Token& kw = advance();
    ExprPtr e = make(ExprKind::Case, kw.pos);
    if (!at_kw("WHEN")) {
      e->case_has_operand = true;
      e->children.push_back(expr());
    }
    if (!at_kw("WHEN")) fail_expected("expected WHEN in CASE expression");
    while (accept_kw("WHEN")) {
      e->children.push_back(expr());
      expect_kw("THEN", "expected THEN after WHEN condition");
      e->children.push_back(expr());
    }
    if (accept_kw("ELSE")) {
      e->case_has_else = true;
      e->children.push_back(expr());
    }
    expect_kw("END", "expected WHEN, ELSE or END in CASE expression");
    return seal(std::move(e), kw);
  }


  // ---- MATCH_RECOGNIZE ----

  // Clause words of MATCH_RECOGNIZE: an item list ends where one of them starts.
  bool at_mr_clause() const {
    return at_kw("MEASURES") || at_kw("ONE") || at_kw("ALL") || at_kw("AFTER") ||
           at_kw("PATTERN") || at_kw("DEFINE") || at_kw("WITHIN") ||
           ((at_kw("PARTITION") || at_kw("ORDER")) && at_kw("BY", 1));
  }

  struct MatchRecognizeScope {
    Parser& p;
    bool saved;
    explicit MatchRecognizeScope(Parser& parser) : p(parser), saved(parser.in_match_recognize_) {
      p.in_match_recognize_ = true;
    }
    ~MatchRecognizeScope() { p.in_match_recognize_ = saved; }
    MatchRecognizeScope(const MatchRecognizeScope&) = delete;
    MatchRecognizeScope& operator=(const MatchRecognizeScope&) = delete;
  };

  // MATCH_RECOGNIZE ( [PARTITION BY e, ...] [ORDER BY e [ASC|DESC], ...]
  //   [MEASURES e AS name, ...] [ONE ROW PER MATCH | ALL ROWS PER MATCH]
  //   [AFTER MATCH SKIP PAST LAST ROW | AFTER MATCH SKIP TO NEXT ROW]
  //   PATTERN ( pattern ) [WITHIN 'duration'] DEFINE var AS cond, ... ) [[AS] alias]
  std::unique_ptr<MatchRecognize> match_recognize() {
    MatchRecognizeScope scope(*this);
    auto mr = std::make_unique<MatchRecognize>();
    mr->pos = advance().pos;  // MATCH_RECOGNIZE
    advance();                // (
    if (at_kw("PARTITION") && at_kw("BY", 1)) {
      advance();
      advance();
      do mr->partition_by.push_back(expr());
      while (accept(TokenKind::Comma));
    }
    if (at_kw("ORDER") && at_kw("BY", 1)) {
      advance();
      advance();
      do {
        OrderItem item;
        item.expr = expr();
        if (accept_kw("DESC"))
          item.descending = true;
        else
          accept_kw("ASC");
        mr->order_by.push_back(std::move(item));
      } while (accept(TokenKind::Comma));
    }
    if (accept_kw("MEASURES")) {
      do {
        MeasureItem m;
        m.pos = peek().pos;
        m.expr = expr();
        expect_kw("AS", "expected AS and a name after a MEASURES expression");
        if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
          fail_expected("expected a measure name after AS");
        m.alias = advance().text;
        for (const auto& other : mr->measures)
          if (iequals(other.alias, m.alias)) fail(toks_[i_ - 1], "duplicate measure '" + m.alias + "'");
        mr->measures.push_back(std::move(m));
      } while (accept(TokenKind::Comma));
    }
    if (at_kw("ONE") || at_kw("ALL")) {
      mr->all_rows_per_match = at_kw("ALL");
      advance();
      if (mr->all_rows_per_match)
        expect_kw("ROWS", "expected ROWS after ALL");
      else
        expect_kw("ROW", "expected ROW after ONE");
      expect_kw("PER", "expected PER in ROWS PER MATCH");
      expect_kw("MATCH", "expected MATCH in ROWS PER MATCH");
    }
    if (accept_kw("AFTER")) {
      expect_kw("MATCH", "expected MATCH after AFTER");
      expect_kw("SKIP", "expected SKIP after AFTER MATCH");
      if (accept_kw("PAST")) {
        expect_kw("LAST", "expected LAST after SKIP PAST");
        expect_kw("ROW", "expected ROW after SKIP PAST LAST");
        mr->after_match = AfterMatchSkip::PastLastRow;
      } else if (accept_kw("TO")) {
        if (!accept_kw("NEXT"))
          fail_expected("expected NEXT ROW after SKIP TO (SKIP TO FIRST/LAST is not supported)");
        expect_kw("ROW", "expected ROW after SKIP TO NEXT");
        mr->after_match = AfterMatchSkip::ToNextRow;
      } else {
        fail_expected("expected PAST LAST ROW or TO NEXT ROW after AFTER MATCH SKIP");
      }
    }
    if (!at_kw("PATTERN"))
      fail_expected(mr->measures.empty() && mr->order_by.empty() && mr->partition_by.empty()
                        ? "expected PARTITION BY, ORDER BY, MEASURES or PATTERN in MATCH_RECOGNIZE"
                        : "expected PATTERN in MATCH_RECOGNIZE");
    advance();
    const Token& open = peek();
    expect(TokenKind::LParen, "expected '(' after PATTERN");
    if (at(TokenKind::RParen)) fail(open, "empty PATTERN");
    pattern_depth_ = 0;
    mr->pattern = pattern_alternation();
    expect(TokenKind::RParen, "expected a pattern variable, '|', a quantifier or ')' in PATTERN");
    if (accept_kw("WITHIN")) {
      mr->within_pos = peek().pos;
      if (!at(TokenKind::String)) fail_expected("expected a duration string after WITHIN, e.g. '10m'");
      mr->within = advance().text;
    }
    expect_kw("DEFINE", "expected DEFINE after PATTERN (...)");
    do {
      DefineItem d;
      d.pos = peek().pos;
      if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
        fail_expected("expected a pattern variable in DEFINE");
      d.var = advance().text;
      for (const auto& other : mr->defines)
        if (iequals(other.var, d.var))
          fail(toks_[i_ - 1], "pattern variable '" + d.var + "' is defined twice");
      expect_kw("AS", "expected AS after the pattern variable in DEFINE");
      d.cond = expr();
      mr->defines.push_back(std::move(d));
    } while (accept(TokenKind::Comma));
    expect(TokenKind::RParen, "expected ',' or ')' after a DEFINE condition");
    if (accept_kw("AS")) {
      if (!at(TokenKind::Identifier) && !at(TokenKind::QuotedIdentifier))
        fail_expected("expected an alias after AS");
      mr->alias = advance().text;
    } else if (at(TokenKind::QuotedIdentifier) ||
               (at(TokenKind::Identifier) && !at_create() && !at_kw("WHERE") && !at_kw("GROUP") &&
                !at_kw("HAVING") && !at_kw("ORDER") && !at_kw("LIMIT"))) {
      mr->alias = advance().text;
    }
    return mr;
  }

  // pattern := seq ('|' seq)*
  PatternNode pattern_alternation() {
    PatternNode first = pattern_sequence();
    if (!at(TokenKind::Pipe)) return first;
    PatternNode alt;
    alt.kind = PatternKind::Alternation;
    alt.pos = first.pos;
    alt.children.push_back(std::move(first));
    while (accept(TokenKind::Pipe)) alt.children.push_back(pattern_sequence());
    return alt;
  }

  bool at_pattern_term() const {
    // DEFINE and WITHIN end a PATTERN whose ')' was forgotten rather than becoming variables.
    if (at(TokenKind::Identifier)) return !at_kw("DEFINE") && !at_kw("WITHIN");
    return at(TokenKind::QuotedIdentifier) || at(TokenKind::LParen);
  }

  // seq := term+
  PatternNode pattern_sequence() {
    if (!at_pattern_term()) fail_expected("expected a pattern variable or '(' in PATTERN");
    PatternNode first = pattern_term();
    if (!at_pattern_term()) return first;
    PatternNode seq;
    seq.kind = PatternKind::Sequence;
    seq.pos = first.pos;
    seq.children.push_back(std::move(first));
    while (at_pattern_term()) seq.children.push_back(pattern_term());
    return seq;
  }

  // term := (var | '(' pattern ')') [quantifier]
  PatternNode pattern_term() {
    const Token& t = peek();
    PatternNode node;
    if (accept(TokenKind::LParen)) {
      if (++pattern_depth_ > 32) fail(t, "PATTERN nested too deeply (limit 32)");
      if (at(TokenKind::RParen)) fail(t, "empty group in PATTERN");
      node = pattern_alternation();
      expect(TokenKind::RParen, "expected ')' to close '(' in PATTERN");
      --pattern_depth_;
      node.pos = t.pos;
    } else {
      advance();
      node.kind = PatternKind::Var;
      node.var = t.text;
      node.pos = t.pos;
    }
    int min = 1, max = 1;
    const Token& q = peek();
    if (accept(TokenKind::Star)) {
      min = 0;
      max = -1;
    } else if (accept(TokenKind::Plus)) {
      max = -1;
    } else if (accept(TokenKind::Question)) {
      min = 0;
    } else if (accept(TokenKind::LBrace)) {
      bool have_min = false;
      if (at(TokenKind::Integer)) {
        min = bound(advance());
        have_min = true;
      } else {
        min = 0;
      }
      if (accept(TokenKind::Comma)) {
        max = at(TokenKind::Integer) ? bound(advance()) : -1;
        if (!have_min && max == -1) fail(q, "'{,}' needs a lower or an upper bound");
      } else {
        if (!have_min) fail_expected("expected a number in '{...}'");
        max = min;
      }
      expect(TokenKind::RBrace, "expected '}' after a repetition bound");
      if (max != -1 && max < min) fail(q, "repetition {" + std::to_string(min) + "," +
                                           std::to_string(max) + "}: the upper bound is below the lower");
      if (max == 0) fail(q, "repetition {0} matches nothing");
    } else {
      return node;
    }
    if (at(TokenKind::Question))
      fail(peek(), "reluctant quantifiers (such as 'B+?') are not supported; quantifiers are greedy");
    if (node.min != 1 || node.max != 1) {
      // (A+)* : the inner quantifier stays on its own node.
      PatternNode wrap;
      wrap.kind = PatternKind::Sequence;
      wrap.pos = node.pos;
      wrap.children.push_back(std::move(node));
      node = std::move(wrap);
    }
    node.min = min;
    node.max = max;
    return node;
  }

  int bound(const Token& t) {
    const Value v = number(t, false);
    if (!v.is_int() || v.as_int() > 10000) fail(t, "repetition bound " + t.text + " is too large (limit 10000)");
    return static_cast<int>(v.as_int());
  }

  std::string_view src_;
  std::vector<Token> toks_;
  std::size_t i_ = 0;
  std::size_t prev_end_ = 0;
  std::size_t failed_at_ = static_cast<std::size_t>(-1);
  int depth_ = 0;
  int pattern_depth_ = 0;
  bool in_match_recognize_ = false;
  std::unordered_map<const Expr*, int> depths_;
  ParseResult result_;
};

}  // namespace

ParseResult parse(std::string_view text) {
  return Parser(text).run();
}

}  // namespace streamgate::rules::ast
