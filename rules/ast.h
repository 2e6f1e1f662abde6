// AST of rule files: what the parser produces and the planner consumes. Plain data, no behaviour.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rules/value.h"

namespace streamgate::rules::ast {

struct SourcePos {
  int line = 1;    //!< 1-based
  int column = 1;  //!< 1-based, in bytes
};

enum class ExprKind : std::uint8_t {
  Literal,    //!< literal
  Column,     //!< name (a top-level field of the input row, or a SELECT alias in HAVING/ORDER BY)
  Member,     //!< children[0].name            (a.b)
  Index,      //!< children[0][children[1]]    (arr[0], m['k'])
  Unary,      //!< op children[0]              (-x, NOT x)
  Binary,     //!< children[0] op children[1]
  Between,    //!< children[0] [NOT] BETWEEN children[1] AND children[2]
  In,         //!< children[0] [NOT] IN (children[1..])
  Like,       //!< children[0] [NOT] LIKE children[1]
  IsNull,     //!< children[0] IS [NOT] NULL
  Case,       //!< CASE [operand] WHEN .. THEN .. [ELSE ..] END, see case_has_operand
  Call,       //!< name(children...) [FILTER (WHERE filter)] [OVER (PARTITION BY partition_by)]
  Star,       //!< `*` as a SELECT item or count(*) argument; in MATCH_RECOGNIZE also `B.*`
              //!< (name = "B") as in COUNT(B.*)
};

enum class Op : std::uint8_t {
  None,
  Neg, Not,                                   // unary
  Add, Sub, Mul, Div, Mod,                    // arithmetic
  Concat,                                     // ||
  Eq, Ne, Lt, Le, Gt, Ge,                     // comparison
  And, Or,                                    // logic
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind = ExprKind::Literal;
  SourcePos pos;
  Op op = Op::None;
  Value literal;              //!< Literal
  std::string name;           //!< Column / Member field / Call function name (as written)
  std::vector<ExprPtr> children;
  bool negated = false;       //!< NOT BETWEEN / NOT IN / NOT LIKE / IS NOT NULL
  bool distinct = false;      //!< Call: f(DISTINCT x)
  bool case_has_operand = false;  //!< Case: children = [operand] (when, then)* [else]
  bool case_has_else = false;
  ExprPtr filter;             //!< Call: FILTER (WHERE ...)
  std::vector<ExprPtr> partition_by;  //!< Call: OVER (PARTITION BY ...)
};

//! `WITH (KEY = value, ...)` on CREATE STREAM / RULE / ALERT; keys upper-cased by the parser.
struct Option {
  std::string key;
  Value value;
  SourcePos pos;
};

struct SelectItem {
  ExprPtr expr;        //!< Star for `*`
  std::string alias;   //!< empty when none given
  SourcePos pos;
};

struct OrderItem {
  ExprPtr expr;
  bool descending = false;
};

// ---- MATCH_RECOGNIZE (SQL:2016 row pattern recognition) ----

enum class PatternKind : std::uint8_t {
  Var,          //!< a pattern variable: `name`
  Sequence,     //!< children in order (A B C)
  Alternation,  //!< one of children, preferred in order (A | B)
};

//! A node of PATTERN (...). Every node carries its quantifier: `A` is {1,1}, `A+` {1,-1},
//! `A*` {0,-1}, `A?` {0,1}, `A{n}` {n,n}, `A{n,}` {n,-1}, `A{n,m}` {n,m}, `A{,m}` {0,m}.
struct PatternNode {
  PatternKind kind = PatternKind::Var;
  SourcePos pos;
  std::string var;                    //!< Var: the variable as written
  std::vector<PatternNode> children;  //!< Sequence / Alternation
  int min = 1;
  int max = 1;  //!< -1: unbounded
};

struct MeasureItem {
  ExprPtr expr;
  std::string alias;  //!< required (MEASURES expr AS name)
  SourcePos pos;
};

struct DefineItem {
  std::string var;  //!< as written
  ExprPtr cond;
  SourcePos pos;
};

enum class AfterMatchSkip : std::uint8_t {
  PastLastRow,  //!< default: the next match starts after the last row of this one
  ToNextRow,    //!< the next match may start at the row after this match's first row
};

//! `FROM s MATCH_RECOGNIZE (...) [[AS] alias]`. Navigation inside DEFINE / MEASURES is plain
//! expression syntax: `A.x` is Member(Column A, x); PREV(x [, n]), FIRST(B.x), LAST(B.x),
//! COUNT(B.*) / COUNT(*), CLASSIFIER(), MATCH_NUMBER() are Calls; the planner gives them meaning.
struct MatchRecognize {
  SourcePos pos;
  std::vector<ExprPtr> partition_by;
  std::vector<OrderItem> order_by;  //!< must be the event time; the planner checks
  std::vector<MeasureItem> measures;
  bool all_rows_per_match = false;  //!< `ALL ROWS PER MATCH` (parsed; the planner may reject)
  AfterMatchSkip after_match = AfterMatchSkip::PastLastRow;
  PatternNode pattern;  //!< root: a Sequence or Alternation
  std::string within;   //!< WITHIN '10m' as written (empty: none); the planner parses it
  SourcePos within_pos;
  std::vector<DefineItem> defines;
  std::string alias;    //!< optional name after the closing ')'
};

//! `[LEFT [OUTER] | INNER] JOIN name [[AS] alias] ON cond` after FROM: a table (CREATE TABLE),
//! or a second stream for an interval join; the planner tells which.
struct Join {
  SourcePos pos;       //!< the JOIN keyword (or LEFT)
  bool left = false;   //!< LEFT JOIN: the stream row is kept (table columns NULL) on no match
  std::string name;    //!< table (or stream) joined
  SourcePos name_pos;
  std::string alias;   //!< empty when none given
  ExprPtr on;
};

struct Select {
  SourcePos pos;
  bool distinct = false;
  std::vector<SelectItem> items;
  std::string from;
  SourcePos from_pos;
  std::string from_alias;  //!< `FROM s [AS] a`; empty when none given
  std::vector<Join> joins;
  ExprPtr where;
  //! GROUP BY items in order. The window, if any, is one of them: a Call named TumblingWindow,
  //! SlidingWindow, HoppingWindow, SessionWindow or CountingWindow; the planner picks it out.
  std::vector<ExprPtr> group_by;
  ExprPtr having;
  std::vector<OrderItem> order_by;
  std::optional<std::int64_t> limit;
  //! `FROM from MATCH_RECOGNIZE (...)`: the SELECT then reads the matches (one row each, with
  //! the partition columns and MEASURES as fields) instead of the stream's rows.
  std::unique_ptr<MatchRecognize> match_recognize;
};

enum class StatementKind : std::uint8_t { CreateStream, CreateRule, CreateAlert, CreateFunction, CreateTable };

//! A column of CREATE TABLE name (col [type], ...); type upper-cased, empty when none given.
struct ColumnDef {
  std::string name;
  std::string type;
  SourcePos pos;
};

struct Statement {
  StatementKind kind = StatementKind::CreateRule;
  SourcePos pos;
  std::string name;
  SourcePos name_pos;
  std::vector<Option> options;
  std::optional<Select> select;  //!< CreateRule / CreateAlert
  //! CreateFunction (an SQL macro): `CREATE FUNCTION name(params) AS body`.
  std::vector<std::string> params;
  std::vector<SourcePos> param_pos;
  ExprPtr body;
  std::vector<ColumnDef> columns;  //!< CreateTable
  std::string text;              //!< the statement's exact source text (hashing, listing)
};

struct ParseError {
  SourcePos pos;
  std::string message;
};

struct ParseResult {
  std::vector<Statement> statements;
  std::vector<ParseError> errors;  //!< empty on success
  //! Names of CREATE statements that failed to parse (those whose name was read).
  std::vector<std::string> unparsed_names;
};

//! Parses a whole rule file (several `;`-terminated statements, `--` and `/* */` comments).
//! Recovers at the next `;` after an error so one run reports every broken statement.
ParseResult parse(std::string_view text);

}  // namespace streamgate::rules::ast
