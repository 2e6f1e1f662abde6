// Compiled expressions: the planner turns AST expressions into Node trees whose column
// references are already resolved to slot indexes, so evaluation never looks a name up.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rules/ast.h"
#include "rules/function_registry.h"
#include "rules/time_util.h"
#include "rules/value.h"

namespace streamgate::rules::expr {

enum class NodeKind : std::uint8_t {
  Const,
  Slot,         //!< ctx.slots[index] (input field, or a group's remembered last-event field)
  Member,       //!< children[0].name
  Index,        //!< children[0][children[1]]
  Neg,
  Not,
  Arith,        //!< op in Add/Sub/Mul/Div/Mod
  Concat,
  Compare,      //!< op in Eq..Ge
  And,
  Or,
  Between,
  In,
  Like,
  IsNull,
  Case,
  Scalar,       //!< registry scalar function
  AggRef,       //!< ctx.aggs[index]: result of the index-th aggregate of the current group
  KeyRef,       //!< ctx.keys[index]: the index-th GROUP BY key of the current group
  OutRef,       //!< ctx.outs[index]: an already computed SELECT item (alias in HAVING/ORDER BY)
  Stateful,     //!< per-partition stateful function, call site `index`
  WindowStart,
  WindowEnd,
  EventTime,
  Now,
  Navigate,     //!< MATCH_RECOGNIZE navigation (A.x, PREV, FIRST, LAST, COUNT, aggregates over a
                //!< variable); `nav` says which, `index` the variable (-1: any row); ctx.nav
};

//! What a Navigate node does; children[0] (or every child for Aggregate) is evaluated on the
//! row(s) it picks.
enum class Nav : std::uint8_t {
  Last,         //!< last row mapped to the variable so far (A.x, LAST(A.x)); current row if -1
  First,        //!< first row mapped to the variable (FIRST(A.x)); first row of the match if -1
  Prev,         //!< `offset` rows before the Last row (PREV(x [, offset]))
  Count,        //!< rows mapped to the variable (COUNT(A.*)), all rows if -1 (COUNT(*))
  Aggregate,    //!< `aggregate` over the rows mapped to the variable: sum(B.amount)
  Classifier,   //!< variable of the current row
  MatchNumber,  //!< 1-based number of the match in its partition
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

struct Node {
  NodeKind kind = NodeKind::Const;
  ast::Op op = ast::Op::None;
  bool negated = false;
  bool case_has_operand = false;
  bool case_has_else = false;
  int index = -1;
  Value constant;
  std::string name;
  std::vector<NodePtr> children;
  const ScalarFunction* scalar = nullptr;
  Nav nav = Nav::Last;                         //!< Navigate
  std::int64_t offset = 0;                     //!< Navigate Prev
  const AggregateFunction* aggregate = nullptr;  //!< Navigate Aggregate
};

struct Ctx;

//! Evaluates Navigate nodes over the current (partial) match (implemented by the runtime's
//! MATCH_RECOGNIZE stage).
class NavHost {
 public:
  virtual ~NavHost() = default;
  virtual Value navigate(const Node& n, Ctx& ctx) = 0;
};

//! Resolves stateful call sites to their per-partition state (implemented by the runtime).
class StatefulHost {
 public:
  virtual ~StatefulHost() = default;
  virtual Value call_stateful(int site, Args args, Ctx& ctx) = 0;
};

//! Everything an expression may read while it is evaluated.
struct Ctx {
  const Value* slots = nullptr;
  const Value* aggs = nullptr;
  const Value* keys = nullptr;
  const Value* outs = nullptr;
  TimeNs event_time = 0;
  TimeNs window_start = 0;
  TimeNs window_end = 0;
  TimeNs now = 0;
  bool has_window = false;
  StatefulHost* stateful = nullptr;
  //! Default partition for stateful calls without OVER (PARTITION BY): the group key.
  const Value* partition_key = nullptr;
  std::uint64_t* eval_errors = nullptr;
  //! Results of this row's stateful calls, indexed by call site, computed up front by the
  //! runtime (see prime): a Stateful node reads its slot instead of calling, so a call inside a
  //! branch that is not taken (CASE, AND/OR, coalesce) still sees every row.
  const Value* stateful_cache = nullptr;
  NavHost* nav = nullptr;  //!< MATCH_RECOGNIZE DEFINE / MEASURES only
};

//! Evaluates n. The result is either a reference into the context/plan (no copy) or `tmp`.
const Value& eval(const Node& n, Ctx& c, Value& tmp);

inline Value eval_value(const Node& n, Ctx& c) {
  Value tmp;
  const Value& r = eval(n, c, tmp);
  if (&r == &tmp) return tmp;
  return r;
}

//! Calls stateful site n (a NodeKind::Stateful node) now, with its arguments evaluated in c.
Value call_stateful_site(const Node& n, Ctx& c);

//! Appends a structural signature of n (kind, operator, slots, constants, callee, children):
//! two expressions with equal signatures compute the same value from the same row.
void append_signature(const Node& n, std::string& out);

//! Adds to `sites` (post-order: inner calls before the calls whose arguments hold them) every
//! stateful call site reachable from n, once.
void collect_stateful_sites(const Node& n, std::vector<int>& sites, std::vector<const Node*>& nodes);

//! SQL LIKE with % and _ (case-sensitive, no escape character).
bool like_match(std::string_view text, std::string_view pattern);

//! Three-valued SQL equality: NULL when either side is NULL or types are incomparable.
//! Sets *mismatch when the types were incomparable.
Value sql_compare(ast::Op op, const Value& a, const Value& b, bool* mismatch);

}  // namespace streamgate::rules::expr
