// Planner: AST -> Plan. Resolves FROM, options, windows, functions and field references, and
// reports every user error as file:line:col at the offending token.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <unordered_map>
#include <unordered_set>

#include "rules/ascii_lower.h"
#include "rules/ast.h"
#include "rules/functions/json_path.h"
#include "rules/planner/function_class.h"
#include "rules/planner/plan.h"
#include "rules/planner/stream_qualifier.h"
#include "rules/topic.h"
#include "rules/window/window_type.h"

namespace streamgate::rules::plan {

using expr::Node;
using expr::NodeKind;
using expr::NodePtr;

std::uint64_t fnv1a(std::string_view s, std::uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, 16);
}

int Plan::find_stream(std::string_view name) const {
  for (std::size_t i = 0; i < streams.size(); ++i)
    if (streams[i].name == name) return static_cast<int>(i);
  return -1;
}

int Plan::find_table(std::string_view name) const {
  for (std::size_t i = 0; i < tables.size(); ++i)
    if (tables[i].name == name) return static_cast<int>(i);
  return -1;
}

int Plan::find_rule(std::string_view name) const {
  for (std::size_t i = 0; i < rules.size(); ++i)
    if (rules[i].name == name) return static_cast<int>(i);
  return -1;
}

namespace {

//! Canonical text of an expression: structural equality (GROUP BY key vs SELECT item).
void canon(const ast::Expr& e, std::string& out) {
  out += std::to_string(static_cast<int>(e.kind));
  out += ':';
  out += std::to_string(static_cast<int>(e.op));
  out += e.negated ? "!" : "";
  out += e.distinct ? "D" : "";
  out += e.kind == ast::ExprKind::Call ? ascii_lower(e.name) : e.name;
  if (e.kind == ast::ExprKind::Literal) e.literal.append_json(out);
  out += '(';
  for (const auto& c : e.children) {
    canon(*c, out);
    out += ',';
  }
  if (e.filter) {
    out += "F";
    canon(*e.filter, out);
  }
  for (const auto& p : e.partition_by) {
    out += "P";
    canon(*p, out);
  }
  out += ')';
}

std::string canon(const ast::Expr& e) {
  std::string s;
  canon(e, s);
  return s;
}

//! CREATE FUNCTION name(params) AS body: an SQL macro, expanded at each call.
struct Macro {
  std::vector<std::string> params;
  ast::ExprPtr body;
};

struct Ctx {
  std::string file;
  std::vector<RuleError>* errors;
  //! Statements that did not parse (their errors are reported): a FROM naming one is a
  //! knock-on, not a second error.
  const std::unordered_set<std::string>* unparsed = nullptr;
  //! Macros defined so far (earlier statements and files), by lower-case name.
  const std::unordered_map<std::string, Macro>* macros = nullptr;
  void error(ast::SourcePos p, std::string msg) {
    errors->push_back(RuleError{file, p.line, p.column, std::move(msg)});
  }
};

std::optional<TimeNs> duration_value(const Value& v) {
  if (v.is_string()) return parse_duration(v.as_string());
  if (v.is_int()) {
    if (v.as_int() < 0) return std::nullopt;
    return v.as_int() * kNsPerSec;
  }
  if (v.is_double()) {
    if (!(v.as_double_exact() >= 0)) return std::nullopt;
    return static_cast<TimeNs>(v.as_double_exact() * 1e9);
  }
  return std::nullopt;
}

bool contains_aggregate(const FunctionRegistry& reg, const ast::Expr& e, bool windowed = true) {
  if (e.kind == ast::ExprKind::Call && classify_call(reg, e, windowed) == FnClass::Aggregate) return true;
  for (const auto& c : e.children)
    if (c && contains_aggregate(reg, *c, windowed)) return true;
  return false;
}

//! Nanoseconds of an eKuiper time unit written as a bare name: TumblingWindow(ss, 10).
std::optional<TimeNs> unit_ns(const std::string& name) {
  static const std::pair<const char*, TimeNs> kUnits[] = {
      {"ms", kNsPerMs}, {"ss", kNsPerSec}, {"mi", 60 * kNsPerSec}, {"hh", 3600 * kNsPerSec},
      {"dd", 86400 * kNsPerSec}};
  const std::string u = ascii_lower(name);
  for (const auto& [n, mult] : kUnits)
    if (u == n) return mult;
  return std::nullopt;
}

bool is_unit_arg(const ast::Expr& a) { return a.kind == ast::ExprKind::Column && unit_ns(a.name); }

struct Mode {
  bool output = false;       //!< aggregate-mode output context
  bool allow_agg = false;
  bool allow_alias = false;
  const char* clause = "SELECT";
};

class RuleBuilder {
 public:
  RuleBuilder(RulePlan& rp, Ctx& ctx, const FunctionRegistry& reg) : rp_(rp), ctx_(ctx), reg_(reg) {}

  void build(const ast::Select& sel);
  //! FROM s [AS a] JOIN table ...: resolves the joined tables and compiles each ON into a lookup.
  void build_joins(Plan& plan, const ast::Select& sel);
  //! The TIMESTAMP field of the stream read (MATCH_RECOGNIZE's ORDER BY must name it).
  void set_timestamp_field(std::string f) { timestamp_field_ = std::move(f); }

 private:
  RulePlan& rp_;
  Ctx& ctx_;
  const FunctionRegistry& reg_;
  std::unordered_map<std::string, int> field_index_;
  std::vector<std::string> key_canon_;
  std::unordered_map<std::string, int> aliases_;     //!< alias -> item index
  std::unordered_map<std::string, int> item_canon_;  //!< canonical item expr -> item index
  std::unordered_map<int, int> last_row_index_;      //!< local field -> last-row position
  // MATCH_RECOGNIZE
  std::string timestamp_field_;
  const pattern::Automaton* nav_ = nullptr;  //!< compiling DEFINE / MEASURES
  int* strip_var_ = nullptr;  //!< inside a navigation argument: A.x is a plain field of A's row
  std::int64_t max_prev_ = 1;
  const std::vector<std::string>* match_cols_ = nullptr;  //!< the SELECT reads match rows

  // Joins: the names the stream is known by, and each joined table. A column of a table is a
  // rule-local field named kJoinField + join number + '.' + column, filled by the join stage.
  struct JoinedTable {
    std::string name, alias;
    const TableDef* def = nullptr;
    //! Columns equated in ON with a stream field of the same name: an unqualified name reads
    //! the stream's (equal when the row matched, and still there when a LEFT JOIN did not).
    std::unordered_set<std::string> shared;
  };
  bool scoped_ = false;  //!< the rule names its stream (alias or joins): `s.x` is the field x
  std::string stream_name_, stream_alias_;
  std::vector<JoinedTable> joined_;
  int compiling_on_ = -1;  //!< compiling the ON of this join: its table is the lookup side
  // Interval join of two streams: the right stream's names; its fields are rule-local fields
  // named kJoinField + "r." + field.
  bool interval_ = false;
  std::string right_name_, right_alias_;
  std::unordered_map<std::string, int> right_index_;  //!< right field -> right-local slot
  int right_field(const std::string& name);
  //! Which stream an expression reads: 1 left, 2 right, 3 both, 0 neither.
  int sides(const ast::Expr& e) const;
  bool time_ref(const ast::Expr& e, int& side, TimeNs& offset, const Plan& plan) const;
  void build_interval_join(Plan& plan, const ast::Select& sel);
  //! A join of two streams without a time bound is a window join: once the window is known,
  //! refuses it unless the window is tumbling or hopping (message and place kept from the ON).
  void check_window_join(const ast::Expr* window_call);
  std::string window_join_error_;
  ast::SourcePos window_join_pos_;
  //! Compiles a qualified (`t.c`, `s.x`) or joined (`c` of a table) reference; false when `e`
  //! is neither, so it compiles as before.
  bool compile_join_ref(const ast::Expr& e, const Mode& m, NodePtr& out);
  int table_field(int join, int column);

  int field(const std::string& name) {
    auto it = field_index_.find(name);
    if (it != field_index_.end()) return it->second;
    const int i = static_cast<int>(rp_.fields.size());
    rp_.fields.push_back(name);
    field_index_.emplace(name, i);
    return i;
  }

  int last_row_field(int local) {
    auto it = last_row_index_.find(local);
    if (it != last_row_index_.end()) return it->second;
    const int i = static_cast<int>(rp_.last_row_fields.size());
    rp_.last_row_fields.push_back(local);
    last_row_index_.emplace(local, i);
    return i;
  }

  NodePtr make(NodeKind k) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    return n;
  }

  NodePtr compile(const ast::Expr& e, const Mode& m);
  NodePtr compile_call(const ast::Expr& e, const Mode& m);
  NodePtr compile_topic_call(const ast::Expr& e, const Mode& m);
  NodePtr expand_macro(const ast::Expr& call, const Macro& macro, const Mode& m);
  int macro_depth_ = 0;
  class WindowCall;
  void parse_window(const ast::Expr& e);
  void build_match(const ast::MatchRecognize& mr);
  bool compile_nav_call(const ast::Expr& e, const Mode& m, NodePtr& out);
  NodePtr compile_var_member(const ast::Expr& e, int var);
};

//! A GROUP BY window call as its kind reads it (window::WindowArgs), errors at the argument.
class RuleBuilder::WindowCall final : public window::WindowArgs {
 public:
  WindowCall(RuleBuilder& b, const ast::Expr& call) : b_(b), call_(call), name_(ascii_lower(call.name)) {}
  const ast::Expr& call() const override { return call_; }
  const std::string& name() const override { return name_; }
  std::optional<TimeNs> unit(std::size_t i) const override {
    return i < size() && is_unit_arg(arg(i)) ? unit_ns(arg(i).name) : std::nullopt;
  }
  void error(const ast::SourcePos& pos, std::string message) override { b_.ctx_.error(pos, std::move(message)); }

  std::optional<TimeNs> duration(std::size_t& i, const char* what) override {
    if (!present(i, what)) return std::nullopt;
    const ast::Expr& a = arg(i);
    // eKuiper style: TumblingWindow(ss, 10) -- a time unit then a count.
    if (const auto mult = unit(i)) {
      const std::string u = ascii_lower(a.name);
      if (i + 1 >= size() || !positive_int_literal(arg(i + 1))) {
        error(a.pos, name_ + ": expected a positive integer after unit " + u);
        return std::nullopt;
      }
      const TimeNs d = arg(i + 1).literal.as_int() * *mult;
      i += 2;
      return d;
    }
    if (a.kind != ast::ExprKind::Literal) {
      error(a.pos, name_ + ": " + what + " must be a duration literal like '5m'");
      return std::nullopt;
    }
    auto d = duration_value(a.literal);
    if (!d || *d <= 0) {
      error(a.pos, name_ + ": invalid " + std::string(what) + " " + a.literal.to_json());
      return std::nullopt;
    }
    ++i;
    return d;
  }

  std::optional<std::int64_t> positive_int(std::size_t& i, const char* what) override {
    if (!present(i, what)) return std::nullopt;
    const auto& a = arg(i);
    if (!positive_int_literal(a)) {
      error(a.pos, name_ + ": " + what + " must be a positive integer");
      return std::nullopt;
    }
    ++i;
    return a.literal.as_int();
  }

  NodePtr condition(std::size_t i, const char* what) override {
    if (!present(i, what)) return nullptr;
    const std::size_t before = b_.ctx_.errors->size();
    const std::string clause = name_ + " " + what;
    Mode m;
    m.clause = clause.c_str();
    NodePtr n = b_.compile(arg(i), m);
    if (b_.ctx_.errors->size() != before) return nullptr;
    // Stateful calls keep per-partition state fed in the rule body's phases (keys, WHERE,
    // aggregate inputs, SELECT); a window condition is none of them.
    std::function<bool(const Node&)> stateful = [&](const Node& x) {
      if (x.kind == NodeKind::Stateful) return true;
      for (const auto& c : x.children)
        if (c && stateful(*c)) return true;
      return false;
    };
    if (n && stateful(*n)) {
      error(arg(i).pos, name_ + ": " + what + " cannot call an analytic (stateful) function");
      return nullptr;
    }
    return n;
  }

 private:
  //! Argument i exists; else "missing <what>" at the call.
  bool present(std::size_t i, const char* what) {
    if (i < size()) return true;
    error(call_.pos, name_ + ": missing " + what);
    return false;
  }
  static bool positive_int_literal(const ast::Expr& a) {
    return a.kind == ast::ExprKind::Literal && a.literal.is_int() && a.literal.as_int() > 0;
  }

  RuleBuilder& b_;
  const ast::Expr& call_;
  std::string name_;
};

void RuleBuilder::parse_window(const ast::Expr& e) {
  WindowCall call(*this, e);
  const window::WindowType* type = window::WindowRegistry::global().find(e.name, call);
  if (!type) {  // is_window_name() said it is one: only a kind that claims nothing gets here
    ctx_.error(e.pos, call.name() + ": no window kind takes these arguments");
    return;
  }
  const std::size_t before = ctx_.errors->size();
  if (type->plan(call, rp_.window)) rp_.window.type = type;
  else if (ctx_.errors->size() == before) ctx_.error(e.pos, call.name() + ": invalid arguments");
}

//! A copy of a macro body with its parameters replaced by the call's arguments; the body's own
//! nodes take the call's position, so an error inside points at the call.
ast::ExprPtr substitute(const ast::Expr& e, const Macro& macro, const ast::Expr& call, bool in_body) {
  if (in_body && e.kind == ast::ExprKind::Column) {
    for (std::size_t i = 0; i < macro.params.size(); ++i)
      if (macro.params[i] == e.name) return substitute(*call.children[i], macro, call, false);
  }
  auto out = std::make_unique<ast::Expr>();
  out->kind = e.kind;
  out->pos = in_body ? call.pos : e.pos;
  out->op = e.op;
  out->literal = e.literal;
  out->name = e.name;
  out->negated = e.negated;
  out->distinct = e.distinct;
  out->case_has_operand = e.case_has_operand;
  out->case_has_else = e.case_has_else;
  for (const auto& c : e.children) out->children.push_back(c ? substitute(*c, macro, call, in_body) : nullptr);
  if (e.filter) out->filter = substitute(*e.filter, macro, call, in_body);
  for (const auto& p : e.partition_by) out->partition_by.push_back(substitute(*p, macro, call, in_body));
  return out;
}

NodePtr RuleBuilder::expand_macro(const ast::Expr& call, const Macro& macro, const Mode& m) {
  const std::string l = ascii_lower(call.name);
  if (call.children.size() != macro.params.size()) {
    ctx_.error(call.pos, "function " + l + "() expects " + std::to_string(macro.params.size()) +
                             " argument" + (macro.params.size() == 1 ? "" : "s") + ", got " +
                             std::to_string(call.children.size()));
    return nullptr;
  }
  if (call.filter || call.distinct || !call.partition_by.empty()) {
    ctx_.error(call.pos, "DISTINCT, FILTER and OVER do not apply to " + l + "() (a CREATE FUNCTION)");
    return nullptr;
  }
  constexpr int kMaxMacroDepth = 16;
  if (macro_depth_ >= kMaxMacroDepth) {
    ctx_.error(call.pos, "functions nest more than " + std::to_string(kMaxMacroDepth) +
                             " deep at " + l + "() (does a CREATE FUNCTION call itself?)");
    return nullptr;
  }
  for (const auto& c : call.children)
    if (!c) return nullptr;
  const ast::ExprPtr expanded = substitute(*macro.body, macro, call, true);
  ++macro_depth_;
  NodePtr n = compile(*expanded, m);
  --macro_depth_;
  return n;
}

//! topic(), meta(topic) (eKuiper's spelling) and topic_part(n): the arrival topic is a
//! pseudo-field of the row (kTopicField), so it is remembered for windows like any field.
NodePtr RuleBuilder::compile_topic_call(const ast::Expr& e, const Mode& m) {
  const std::string l = ascii_lower(e.name);
  const std::size_t argc = e.children.size();
  if (l == "meta" && (argc != 1 || e.children[0]->kind != ast::ExprKind::Column ||
                      ascii_lower(e.children[0]->name) != "topic")) {
    ctx_.error(e.pos, "meta() supports only meta(topic)");
    return nullptr;
  }
  if (l == "topic" && argc != 0) {
    ctx_.error(e.pos, "function topic() expects 0 arguments, got " + std::to_string(argc));
    return nullptr;
  }
  if (l == "topic_part" && argc != 1) {
    ctx_.error(e.pos, "function topic_part() expects 1 argument (the 1-based level), got " +
                          std::to_string(argc));
    return nullptr;
  }
  if (match_cols_) {
    ctx_.error(e.pos, l + "() is not available on the rows of MATCH_RECOGNIZE");
    return nullptr;
  }
  auto slot = make(NodeKind::Slot);
  const int f = field(std::string(kTopicField));
  slot->index = m.output ? last_row_field(f) : f;
  if (l != "topic_part") return slot;
  auto level = compile(*e.children[0], m);
  if (!level) return nullptr;
  auto n = make(NodeKind::Scalar);
  n->scalar = reg_.scalar("split_part");
  auto sep = make(NodeKind::Const);
  sep->constant = Value("/");
  n->children.push_back(std::move(slot));
  n->children.push_back(std::move(sep));
  n->children.push_back(std::move(level));
  return n;
}

NodePtr RuleBuilder::compile_call(const ast::Expr& e, const Mode& m) {
  if (nav_) {
    NodePtr nav;
    if (compile_nav_call(e, m, nav)) return nav;
  }
  const std::string l = ascii_lower(e.name);
  if (ctx_.macros) {
    if (auto it = ctx_.macros->find(l); it != ctx_.macros->end()) return expand_macro(e, it->second, m);
  }
  const FnClass cls = classify_call(reg_, e, rp_.windowed());
  const int argc = static_cast<int>(e.children.size());
  auto check_arity = [&](int lo, int hi) {
    if (argc < lo || (hi >= 0 && argc > hi)) {
      std::string expect = hi < 0 ? "at least " + std::to_string(lo)
                           : lo == hi ? std::to_string(lo)
                                      : std::to_string(lo) + " to " + std::to_string(hi);
      ctx_.error(e.pos, "function " + l + "() expects " + expect + " argument" +
                            (hi == 1 && lo == 1 ? "" : "s") + ", got " + std::to_string(argc));
      return false;
    }
    return true;
  };
  if (cls != FnClass::Aggregate) {
    if (e.filter) {
      ctx_.error(e.filter->pos, "FILTER (WHERE ...) is only allowed on aggregate functions");
      return nullptr;
    }
    if (e.distinct) {
      ctx_.error(e.pos, "DISTINCT is only allowed in aggregate functions");
      return nullptr;
    }
  }
  if (cls != FnClass::Stateful && !e.partition_by.empty()) {
    ctx_.error(e.partition_by.front()->pos, "OVER (PARTITION BY ...) is only allowed on analytic functions");
    return nullptr;
  }
  switch (cls) {
    case FnClass::Unknown: ctx_.error(e.pos, "unknown function '" + e.name + "'"); return nullptr;
    case FnClass::Window:
      ctx_.error(e.pos, "window function " + e.name + "() is only allowed in GROUP BY");
      return nullptr;
    case FnClass::Engine: {
      if (l == "topic" || l == "topic_part" || l == "meta") return compile_topic_call(e, m);
      if (!check_arity(0, 0)) return nullptr;
      if (l == "window_start" || l == "window_end") {
        if (!rp_.windowed()) {
          ctx_.error(e.pos, l + "() needs a window in GROUP BY");
          return nullptr;
        }
        return make(l == "window_start" ? NodeKind::WindowStart : NodeKind::WindowEnd);
      }
      if (l == "now") return make(NodeKind::Now);
      return make(NodeKind::EventTime);
    }
    case FnClass::Aggregate: {
      if (!m.allow_agg) {
        ctx_.error(e.pos, "aggregate " + l + "() is not allowed in " + m.clause);
        return nullptr;
      }
      if (!rp_.windowed()) {
        ctx_.error(e.pos, "aggregate " + l + "() needs a window in GROUP BY");
        return nullptr;
      }
      const auto* fn = reg_.aggregate(l);
      AggSpec spec;
      spec.fn = fn;
      spec.name = l;
      spec.distinct = e.distinct;
      const bool star = argc == 1 && e.children[0]->kind == ast::ExprKind::Star;
      if (star) {
        if (l != "count") {
          ctx_.error(e.children[0]->pos, "only count(*) accepts *");
          return nullptr;
        }
        spec.star = true;
      } else {
        if (!check_arity(fn->min_args, fn->max_args)) return nullptr;
        Mode am;
        am.clause = "an aggregate argument";
        for (const auto& c : e.children) {
          auto n = compile(*c, am);
          if (!n) return nullptr;
          spec.args.push_back(std::move(n));
        }
        if (fn->event_time_arg) {
          auto t = make(NodeKind::EventTime);
          t->index = 1;  // epoch ns, not text
          spec.args.push_back(std::move(t));
        }
      }
      if (e.filter) {
        Mode fm;
        fm.clause = "FILTER (WHERE ...)";
        spec.filter = compile(*e.filter, fm);
        if (!spec.filter) return nullptr;
      }
      if (spec.distinct) spec.distinct_index = rp_.distinct_sets++;
      const int idx = static_cast<int>(rp_.aggs.size());
      rp_.aggs.push_back(std::move(spec));
      auto n = make(NodeKind::AggRef);
      n->index = idx;
      return n;
    }
    case FnClass::Stateful: {
      const auto* fn = reg_.stateful(l);
      if (!check_arity(fn->min_args, fn->max_args)) return nullptr;
      StatefulSpec spec;
      spec.fn = fn;
      spec.name = l;
      spec.output_context = m.output;
      auto n = make(NodeKind::Stateful);
      for (const auto& c : e.children) {
        auto ch = compile(*c, m);
        if (!ch) return nullptr;
        n->children.push_back(std::move(ch));
      }
      Mode pm = m;
      pm.allow_agg = m.output;
      pm.clause = "PARTITION BY";
      for (const auto& p : e.partition_by) {
        auto ch = compile(*p, pm);
        if (!ch) return nullptr;
        spec.partition.push_back(std::move(ch));
      }
      // Identical calls in the same phase share one site (and so one state and one result per
      // row): `lag(sum(v))` written twice means the same value. WHERE/GROUP BY calls see every
      // row, the others only rows that pass WHERE, so the phase is part of the identity.
      const bool pre = std::string_view(m.clause) == "WHERE" || std::string_view(m.clause) == "GROUP BY";
      spec.signature = m.output ? "out:" : pre ? "pre:" : "row:";
      spec.signature += l;
      expr::append_signature(*n, spec.signature);
      for (const auto& p : spec.partition) {
        spec.signature += "|";
        expr::append_signature(*p, spec.signature);
      }
      for (std::size_t i = 0; i < rp_.statefuls.size(); ++i) {
        if (rp_.statefuls[i].signature == spec.signature) {
          n->index = static_cast<int>(i);
          return n;
        }
      }
      n->index = static_cast<int>(rp_.statefuls.size());
      rp_.statefuls.push_back(std::move(spec));
      return n;
    }
    case FnClass::Scalar: {
      const auto* fn = reg_.scalar(l);
      if (!check_arity(fn->min_args, fn->max_args)) return nullptr;
      // A literal JSON path outside the subset would give NULL for every event: refused here.
      if (is_json_path_function(l) && e.children[1]->kind == ast::ExprKind::Literal &&
          e.children[1]->literal.is_string()) {
        if (auto err = json_path_error(e.children[1]->literal.as_string())) {
          ctx_.error(e.children[1]->pos, l + "(): path " + e.children[1]->literal.to_json() + ": " + *err);
          return nullptr;
        }
      }
      auto n = make(NodeKind::Scalar);
      n->scalar = fn;
      for (const auto& c : e.children) {
        auto ch = compile(*c, m);
        if (!ch) return nullptr;
        n->children.push_back(std::move(ch));
      }
      // Fold calls over constants once (deterministic functions only are registered as scalar).
      return n;
    }
  }
  return nullptr;
}

NodePtr RuleBuilder::compile(const ast::Expr& e, const Mode& m) {
  if (m.output && e.kind != ast::ExprKind::Literal) {
    const std::string c = canon(e);
    for (std::size_t i = 0; i < key_canon_.size(); ++i) {
      if (key_canon_[i] == c) {
        auto n = make(NodeKind::KeyRef);
        n->index = static_cast<int>(i);
        return n;
      }
    }
  }
  if (m.allow_alias && e.kind != ast::ExprKind::Literal) {
    if (e.kind == ast::ExprKind::Column) {
      auto it = aliases_.find(e.name);
      if (it != aliases_.end()) {
        auto n = make(NodeKind::OutRef);
        n->index = it->second;
        return n;
      }
    }
    auto it = item_canon_.find(canon(e));
    if (it != item_canon_.end()) {
      auto n = make(NodeKind::OutRef);
      n->index = it->second;
      return n;
    }
  }
  if (scoped_ && !nav_ && (e.kind == ast::ExprKind::Column || e.kind == ast::ExprKind::Member)) {
    NodePtr ref;
    if (compile_join_ref(e, m, ref)) return ref;
  }
  if (nav_) {
    if (e.kind == ast::ExprKind::Member && e.children.size() == 1 &&
        e.children[0]->kind == ast::ExprKind::Column) {
      const int v = nav_->var_index(e.children[0]->name);
      if (v >= 0) return compile_var_member(e, v);
    }
    if (e.kind == ast::ExprKind::Column && nav_->var_index(e.name) >= 0) {
      ctx_.error(e.pos, "pattern variable '" + e.name + "' needs a field, e.g. " + e.name + ".x");
      return nullptr;
    }
    if (e.kind == ast::ExprKind::Star && !e.name.empty()) {
      ctx_.error(e.pos, e.name + ".* is only allowed in COUNT(" + e.name + ".*)");
      return nullptr;
    }
  }
  switch (e.kind) {
    case ast::ExprKind::Literal: {
      auto n = make(NodeKind::Const);
      n->constant = e.literal;
      return n;
    }
    case ast::ExprKind::Column: {
      auto n = make(NodeKind::Slot);
      int f = 0;
      if (match_cols_) {
        const auto it = std::find(match_cols_->begin(), match_cols_->end(), e.name);
        if (it == match_cols_->end()) {
          std::string cols;
          for (const auto& c : *match_cols_) cols += (cols.empty() ? "" : ", ") + c;
          ctx_.error(e.pos, "unknown column '" + e.name + "': the rows of MATCH_RECOGNIZE have " +
                                (cols.empty() ? std::string("no columns") : cols));
          return nullptr;
        }
        f = static_cast<int>(it - match_cols_->begin());
      } else {
        f = field(e.name);
      }
      n->index = m.output ? last_row_field(f) : f;
      return n;
    }
    case ast::ExprKind::Star:
      ctx_.error(e.pos, "* is only allowed as a SELECT item or in count(*)");
      return nullptr;
    case ast::ExprKind::Call: return compile_call(e, m);
    default: break;
  }
  auto n = make(NodeKind::Const);
  switch (e.kind) {
    case ast::ExprKind::Member: n->kind = NodeKind::Member; n->name = e.name; break;
    case ast::ExprKind::Index: n->kind = NodeKind::Index; break;
    case ast::ExprKind::Unary: n->kind = e.op == ast::Op::Not ? NodeKind::Not : NodeKind::Neg; break;
    case ast::ExprKind::Binary:
      switch (e.op) {
        case ast::Op::Add: case ast::Op::Sub: case ast::Op::Mul: case ast::Op::Div:
        case ast::Op::Mod: n->kind = NodeKind::Arith; break;
        case ast::Op::Concat: n->kind = NodeKind::Concat; break;
        case ast::Op::And: n->kind = NodeKind::And; break;
        case ast::Op::Or: n->kind = NodeKind::Or; break;
        default: n->kind = NodeKind::Compare; break;
      }
      break;
    case ast::ExprKind::Between: n->kind = NodeKind::Between; break;
    case ast::ExprKind::In: n->kind = NodeKind::In; break;
    case ast::ExprKind::Like: n->kind = NodeKind::Like; break;
    case ast::ExprKind::IsNull: n->kind = NodeKind::IsNull; break;
    case ast::ExprKind::Case: n->kind = NodeKind::Case; break;
    default: break;
  }
  n->op = e.op;
  n->negated = e.negated;
  n->case_has_operand = e.case_has_operand;
  n->case_has_else = e.case_has_else;
  for (const auto& c : e.children) {
    if (!c) return nullptr;
    auto ch = compile(*c, m);
    if (!ch) return nullptr;
    n->children.push_back(std::move(ch));
  }
  // Constant folding of pure operator trees keeps per-event work down ('1m' style literals).
  bool all_const = !n->children.empty();
  for (const auto& c : n->children) all_const = all_const && c->kind == NodeKind::Const;
  if (all_const && n->kind != NodeKind::Const) {
    expr::Ctx c;
    Value v = expr::eval_value(*n, c);
    auto k = make(NodeKind::Const);
    k->constant = std::move(v);
    return k;
  }
  return n;
}

std::string output_name(const ast::SelectItem& item, std::size_t i) {
  if (!item.alias.empty()) return item.alias;
  const ast::Expr& e = *item.expr;
  switch (e.kind) {
    case ast::ExprKind::Column:
    case ast::ExprKind::Member: return e.name;
    case ast::ExprKind::Index:
      if (e.children.size() == 2 && e.children[1]->kind == ast::ExprKind::Literal &&
          e.children[1]->literal.is_string())
        return e.children[1]->literal.as_string();
      break;
    case ast::ExprKind::Call: return ascii_lower(e.name);
    default: break;
  }
  return "col_" + std::to_string(i + 1);
}

void RuleBuilder::build(const ast::Select& sel) {
  const std::size_t errors_before = ctx_.errors->size();
  if (sel.match_recognize) {
    build_match(*sel.match_recognize);
    if (ctx_.errors->size() != errors_before) return;
  }
  // Windows and keys first: they decide how everything else compiles.
  const ast::Expr* window_call = nullptr;
  for (const auto& g : sel.group_by) {
    if (g->kind == ast::ExprKind::Call && is_window_name(ascii_lower(g->name))) {
      if (rp_.windowed()) {
        ctx_.error(g->pos, "only one window is allowed in GROUP BY");
        continue;
      }
      parse_window(*g);
      window_call = g.get();
    }
  }
  // Everything below compiles against the window; when the window itself is wrong, further
  // errors (e.g. "aggregate needs a window") would only be knock-ons of that one.
  if (ctx_.errors->size() != errors_before) return;
  check_window_join(window_call);
  bool has_agg = false;
  for (const auto& it : sel.items)
    if (it.expr && contains_aggregate(reg_, *it.expr, rp_.windowed())) has_agg = true;
  if (sel.having && contains_aggregate(reg_, *sel.having, rp_.windowed())) has_agg = true;
  for (const auto& o : sel.order_by)
    if (o.expr && contains_aggregate(reg_, *o.expr, rp_.windowed())) has_agg = true;

  Mode row;
  row.clause = "GROUP BY";
  for (const auto& g : sel.group_by) {
    if (g->kind == ast::ExprKind::Call && is_window_name(ascii_lower(g->name))) continue;
    if (contains_aggregate(reg_, *g)) {
      ctx_.error(g->pos, "aggregate functions are not allowed in GROUP BY");
      continue;
    }
    auto n = compile(*g, row);
    if (n) {
      rp_.group_keys.push_back(std::move(n));
      key_canon_.push_back(canon(*g));
    }
  }
  if (has_agg && !rp_.windowed()) {
    // Report at the first aggregate call.
    std::function<const ast::Expr*(const ast::Expr&)> find = [&](const ast::Expr& e) -> const ast::Expr* {
      if (e.kind == ast::ExprKind::Call && classify_call(reg_, e) == FnClass::Aggregate) return &e;
      for (const auto& c : e.children)
        if (c)
          if (auto* r = find(*c)) return r;
      return nullptr;
    };
    const ast::Expr* first = nullptr;
    for (const auto& it : sel.items)
      if (!first && it.expr) first = find(*it.expr);
    if (!first && sel.having) first = find(*sel.having);
    ctx_.error(first ? first->pos : sel.pos,
               "aggregate " + (first ? ascii_lower(first->name) + "() " : std::string()) +
                   "needs a window in GROUP BY");
    return;
  }
  rp_.aggregate_mode = rp_.windowed() && (has_agg || !rp_.group_keys.empty());

  if (sel.where) {
    Mode wm;
    wm.clause = "WHERE";
    rp_.where = compile(*sel.where, wm);
  }
  // A window's FILTER (WHERE c) (eKuiper's COUNTWINDOW(3) FILTER (WHERE x > 1)): only matching
  // events enter the window. WHERE already runs before the window, so the two are one condition;
  // for a counting window that means non-matching events are not counted.
  if (window_call && window_call->filter) {
    Mode fm;
    fm.clause = "window FILTER (WHERE ...)";
    NodePtr f = compile(*window_call->filter, fm);
    if (f && rp_.where) {
      NodePtr both = make(NodeKind::And);
      both->op = ast::Op::And;
      both->children.push_back(std::move(rp_.where));
      both->children.push_back(std::move(f));
      rp_.where = std::move(both);
    } else if (f) {
      rp_.where = std::move(f);
    }
  }

  Mode out;
  out.output = rp_.aggregate_mode;
  out.allow_agg = rp_.aggregate_mode;
  out.clause = "SELECT";
  for (std::size_t i = 0; i < sel.items.size(); ++i) {
    const auto& it = sel.items[i];
    OutputItem oi;
    if ((!it.expr || it.expr->kind == ast::ExprKind::Star) && match_cols_) {
      // SELECT * over matches: every match-row column, by name.
      for (std::size_t c = 0; c < match_cols_->size(); ++c) {
        OutputItem col;
        col.name = (*match_cols_)[c];
        col.expr = make(NodeKind::Slot);
        col.expr->index = rp_.aggregate_mode ? last_row_field(static_cast<int>(c)) : static_cast<int>(c);
        rp_.items.push_back(std::move(col));
      }
      continue;
    } else if (!it.expr || it.expr->kind == ast::ExprKind::Star) {
      oi.star = true;
      rp_.need_whole = true;
      if (rp_.aggregate_mode) rp_.last_row_whole = true;
    } else {
      oi.name = output_name(it, i);
      oi.expr = compile(*it.expr, out);
      item_canon_.emplace(canon(*it.expr), static_cast<int>(rp_.items.size()));
    }
    if (!it.alias.empty()) aliases_.emplace(it.alias, static_cast<int>(rp_.items.size()));
    rp_.items.push_back(std::move(oi));
  }
  Mode post = out;
  post.allow_alias = true;
  if (sel.having) {
    post.clause = "HAVING";
    rp_.having = compile(*sel.having, post);
  }
  for (const auto& o : sel.order_by) {
    post.clause = "ORDER BY";
    OrderSpec os;
    os.descending = o.descending;
    if (o.expr->kind == ast::ExprKind::Literal && o.expr->literal.is_int()) {
      const auto k = o.expr->literal.as_int();
      if (k < 1 || k > static_cast<std::int64_t>(rp_.items.size())) {
        ctx_.error(o.expr->pos, "ORDER BY position " + std::to_string(k) + " is out of range");
        continue;
      }
      os.expr = make(NodeKind::OutRef);
      os.expr->index = static_cast<int>(k - 1);
    } else {
      os.expr = compile(*o.expr, post);
    }
    rp_.order_by.push_back(std::move(os));
  }
  if (sel.limit) {
    if (*sel.limit < 0) ctx_.error(sel.pos, "LIMIT must not be negative");
    rp_.limit = sel.limit;
  }
  rp_.distinct = sel.distinct;
  if (ctx_.errors->size() != errors_before) return;
  if (interval_ && rp_.need_whole) {
    ctx_.error(sel.pos, "SELECT * is not supported in an interval join: name the columns (a.x, b.y)");
    return;
  }
  // SELECT * over a join carries every column of the joined tables.
  if (rp_.need_whole)
    for (std::size_t j = 0; j < joined_.size(); ++j)
      for (std::size_t c = 0; c < joined_[j].def->columns.size(); ++c)
        table_field(static_cast<int>(j), static_cast<int>(c));

  // Arena layout of the aggregate states of one group.
  std::size_t off = 0, align = 1;
  for (auto& a : rp_.aggs) {
    const std::size_t al = std::max<std::size_t>(a.fn->state_align, 1);
    off = (off + al - 1) / al * al;
    a.offset = off;
    off += a.fn->state_size;
    align = std::max(align, al);
  }
  rp_.arena_size = (off + align - 1) / align * align;
  rp_.arena_align = align;
}

// ---- Joins (inserted into RuleBuilder) ----

//! The terms of `x AND y AND ...` (an ON condition), in order.
void conjuncts(const ast::Expr& e, std::vector<const ast::Expr*>& out) {
  if (e.kind == ast::ExprKind::Binary && e.op == ast::Op::And) {
    for (const auto& c : e.children) conjuncts(*c, out);
  } else {
    out.push_back(&e);
  }
}

int RuleBuilder::table_field(int join, int column) {
  const JoinedTable& jt = joined_[static_cast<std::size_t>(join)];
  std::string name(kJoinField);
  name += std::to_string(join) + "." + jt.def->columns[static_cast<std::size_t>(column)];
  const bool fresh = field_index_.find(name) == field_index_.end();
  const int f = field(name);
  if (fresh) rp_.joins[static_cast<std::size_t>(join)].fields.emplace_back(f, column);
  return f;
}

bool RuleBuilder::compile_join_ref(const ast::Expr& e, const Mode& m, NodePtr& out) {
  auto slot = [&](int f) {
    out = make(NodeKind::Slot);
    out->index = m.output ? last_row_field(f) : f;
    return true;
  };
  auto column_of = [&](std::size_t j, const std::string& c) {
    const auto& cols = joined_[j].def->columns;
    const auto it = std::find(cols.begin(), cols.end(), c);
    return it == cols.end() ? -1 : static_cast<int>(it - cols.begin());
  };
  // Only the joins declared so far are visible (a later table's columns do not exist yet when
  // an earlier ON is evaluated).
  const std::size_t visible = compiling_on_ >= 0 ? static_cast<std::size_t>(compiling_on_) : joined_.size();
  if (interval_ && e.kind == ast::ExprKind::Member && e.children.size() == 1 && e.children[0] &&
      e.children[0]->kind == ast::ExprKind::Column) {
    const std::string& q = e.children[0]->name;
    if (q == right_alias_ || (right_alias_.empty() && q == right_name_)) return slot(right_field(e.name));
  }
  if (e.kind == ast::ExprKind::Member && e.children.size() == 1 && e.children[0] &&
      e.children[0]->kind == ast::ExprKind::Column) {
    const std::string& q = e.children[0]->name;
    if (q == stream_alias_ || (stream_alias_.empty() && q == stream_name_)) return slot(field(e.name));
    for (std::size_t j = 0; j < joined_.size(); ++j) {
      const JoinedTable& jt = joined_[j];
      if (q != jt.alias && !(jt.alias.empty() && q == jt.name)) continue;
      if (j >= visible) {
        ctx_.error(e.pos, "table '" + q + "' is joined later; an ON can read only the stream and "
                          "the tables joined before it");
        return true;
      }
      const int c = column_of(j, e.name);
      if (c < 0) {
        std::string cols;
        for (const auto& n : jt.def->columns) cols += (cols.empty() ? "" : ", ") + n;
        ctx_.error(e.pos, "unknown column '" + e.name + "' of table " + jt.name + " (columns: " + cols + ")");
        return true;
      }
      return slot(table_field(static_cast<int>(j), c));
    }
    return false;
  }
  if (e.kind != ast::ExprKind::Column) return false;
  int found = -1, col = -1;
  for (std::size_t j = 0; j < visible; ++j) {
    const int c = column_of(j, e.name);
    if (c < 0 || joined_[j].shared.count(e.name)) continue;
    if (found >= 0) {
      ctx_.error(e.pos, "column '" + e.name + "' is in tables " + joined_[static_cast<std::size_t>(found)].name +
                            " and " + joined_[j].name + ": qualify it (t." + e.name + ")");
      return true;
    }
    found = static_cast<int>(j);
    col = c;
  }
  if (found < 0) return false;
  return slot(table_field(found, col));
}

int RuleBuilder::right_field(const std::string& name) {
  auto& ip = *rp_.interval;
  auto it = right_index_.find(name);
  const int f = field(std::string(kJoinField) + "r." + name);
  if (it == right_index_.end()) {
    const int r = static_cast<int>(ip.right_fields.size());
    ip.right_fields.push_back(name);
    right_index_.emplace(name, r);
    ip.fields.emplace_back(f, r);
  }
  return f;
}

int RuleBuilder::sides(const ast::Expr& e) const {
  if (e.kind == ast::ExprKind::Member && e.children.size() == 1 && e.children[0] &&
      e.children[0]->kind == ast::ExprKind::Column) {
    const std::string& q = e.children[0]->name;
    if (q == right_alias_ || (right_alias_.empty() && q == right_name_)) return 2;
    return 1;
  }
  if (e.kind == ast::ExprKind::Column) return 1;
  int s = 0;
  for (const auto& c : e.children)
    if (c) s |= sides(*c);
  return s;
}

//! `x.ts`, `x.ts + INTERVAL ...`, `x.ts - INTERVAL ...` where ts is stream x's TIMESTAMP field.
bool RuleBuilder::time_ref(const ast::Expr& e, int& side, TimeNs& offset, const Plan& plan) const {
  if (e.kind == ast::ExprKind::Binary && (e.op == ast::Op::Add || e.op == ast::Op::Sub) &&
      e.children.size() == 2) {
    const ast::Expr& iv = *e.children[1];
    if (iv.kind != ast::ExprKind::Call || iv.name != "INTERVAL" || iv.children.size() != 1) return false;
    if (!time_ref(*e.children[0], side, offset, plan)) return false;
    const TimeNs d = iv.children[0]->literal.as_int();
    // Absurd sums of INTERVALs are not a bound (and must not overflow).
    return !(e.op == ast::Op::Add ? __builtin_add_overflow(offset, d, &offset)
                                  : __builtin_sub_overflow(offset, d, &offset));
  }
  if (e.kind != ast::ExprKind::Member || e.children.size() != 1 || !e.children[0] ||
      e.children[0]->kind != ast::ExprKind::Column)
    return false;
  side = sides(e);
  const int s = side == 2 ? rp_.interval->stream : rp_.stream;
  if (s < 0 || e.name != plan.streams[static_cast<std::size_t>(s)].timestamp_field) return false;
  offset = 0;
  return true;
}

void RuleBuilder::build_interval_join(Plan& plan, const ast::Select& sel) {
  const ast::Join& j = sel.joins[0];
  const int si = plan.find_stream(j.name);
  if (sel.joins.size() > 1) {
    ctx_.error(sel.joins[1].pos, "an interval join of two streams cannot join anything else");
    return;
  }
  if (si == rp_.stream) {
    ctx_.error(j.name_pos, "an interval join needs two different streams");
    return;
  }
  if (rp_.stream < 0) return;
  for (int s : {rp_.stream, si}) {
    const StreamDef& d = plan.streams[static_cast<std::size_t>(s)];
    if (d.timestamp_field.empty() || d.timestamp_field.find('.') != std::string::npos) {
      ctx_.error(s == si ? j.name_pos : sel.from_pos,
                 "an interval join needs event time: stream " + d.name + " has no top-level TIMESTAMP");
      return;
    }
  }
  interval_ = true;
  right_name_ = j.name;
  right_alias_ = j.alias;
  rp_.interval = std::make_unique<IntervalJoinPlan>();
  rp_.interval->stream = si;
  rp_.interval->left = j.left;
  std::vector<const ast::Expr*> conj;
  conjuncts(*j.on, conj);
  const std::string example = "e.g. " + (stream_alias_.empty() ? stream_name_ : stream_alias_) + ".k = " +
                              (right_alias_.empty() ? right_name_ : right_alias_) + ".k";
  bool bounded = false;
  for (const ast::Expr* c : conj) {
    if (c->kind == ast::ExprKind::Between && !c->negated) {
      int sx = 0, s1 = 0, s2 = 0;
      TimeNs ox = 0, o1 = 0, o2 = 0;
      if (bounded || !time_ref(*c->children[0], sx, ox, plan) || !time_ref(*c->children[1], s1, o1, plan) ||
          !time_ref(*c->children[2], s2, o2, plan) || s1 != s2 || sx == s1 || (sx | s1) != 3) {
        ctx_.error(c->pos, bounded ? "an interval join takes one BETWEEN on the event times"
                                   : "the time bound of an interval join compares the two streams' TIMESTAMP "
                                     "fields: b.ts BETWEEN a.ts - INTERVAL '5' MINUTE AND a.ts");
        return;
      }
      // x.t + ox in [y.t + o1, y.t + o2]: b.t - a.t in [o1 - ox, o2 - ox] when x is b, and in
      // [ox - o2, ox - o1] when x is a.
      TimeNs lower = 0, upper = 0;
      const bool overflow = sx == 2 ? __builtin_sub_overflow(o1, ox, &lower) || __builtin_sub_overflow(o2, ox, &upper)
                                    : __builtin_sub_overflow(ox, o2, &lower) || __builtin_sub_overflow(ox, o1, &upper);
      if (overflow) {
        ctx_.error(c->pos, "the time bound of the interval join is out of range");
        return;
      }
      if (lower > upper) {
        ctx_.error(c->pos, "the time bound of the interval join is empty (lower bound above the upper)");
        return;
      }
      rp_.interval->lower = lower;
      rp_.interval->upper = upper;
      bounded = true;
      continue;
    }
    if (c->kind != ast::ExprKind::Binary || c->op != ast::Op::Eq) {
      ctx_.error(c->pos, "the ON of an interval join takes key equalities (" + example +
                             ") and one BETWEEN on the event times, joined by AND");
      return;
    }
    const int a = sides(*c->children[0]), b = sides(*c->children[1]);
    if (!((a == 1 && b == 2) || (a == 2 && b == 1))) {
      ctx_.error(c->pos, "each equality of an interval join compares an expression over one stream with one "
                         "over the other (" + example + ")");
      return;
    }
    Mode on;
    on.clause = "ON";
    NodePtr l = compile(*c->children[a == 1 ? 0 : 1], on);
    NodePtr r = compile(*c->children[a == 1 ? 1 : 0], on);
    if (!l || !r) return;
    rp_.interval->left_keys.push_back(std::move(l));
    rp_.interval->right_keys.push_back(std::move(r));
  }
  if (!bounded) {
    // A window join, if GROUP BY has a window that suits it (check_window_join, once known).
    rp_.interval->in_window = true;
    window_join_pos_ = j.pos;
    window_join_error_ = "a join of two streams needs a time bound: ON ... AND " +
                         (right_alias_.empty() ? right_name_ : right_alias_) + "." +
                         plan.streams[static_cast<std::size_t>(si)].timestamp_field + " BETWEEN " +
                         (stream_alias_.empty() ? stream_name_ : stream_alias_) + "." +
                         plan.streams[static_cast<std::size_t>(rp_.stream)].timestamp_field +
                         " - INTERVAL '5' MINUTE AND ..., or a window in GROUP BY (a window join: "
                         "TumblingWindow or HoppingWindow)";
    // A window join fires each window once; re-emitting a fired window for a late row of either
    // stream would need every row of both kept as long again.
    for (int s : {rp_.stream, si}) {
      const StreamDef& d = plan.streams[static_cast<std::size_t>(s)];
      if (d.allowed_lateness > 0)
        ctx_.error(s == si ? j.name_pos : sel.from_pos,
                   "a window join does not take ALLOWEDLATENESS: stream " + d.name +
                       " has it (late rows of a window join go to the late output)");
    }
  }
  if (rp_.interval->left_keys.empty())
    ctx_.error(j.pos, "an interval join needs at least one key equality (" + example + ")");
}

void RuleBuilder::check_window_join(const ast::Expr* window_call) {
  if (!rp_.interval || !rp_.interval->in_window) return;
  if (!rp_.windowed()) {
    ctx_.error(window_join_pos_, window_join_error_);
    return;
  }
  const std::string kind = rp_.window.type->names().front();
  if (kind != "tumblingwindow" && kind != "hoppingwindow")
    ctx_.error(window_join_pos_, "a window join of two streams takes a TumblingWindow or HoppingWindow in "
                                 "GROUP BY (not " + window_call->name + "), or give the join a time bound: "
                                 "ON ... AND b.ts BETWEEN a.ts - INTERVAL '5' MINUTE AND a.ts");
}

void RuleBuilder::build_joins(Plan& plan, const ast::Select& sel) {
  scoped_ = !sel.joins.empty() || !sel.from_alias.empty();
  stream_name_ = sel.from;
  stream_alias_ = sel.from_alias;
  if (sel.joins.empty()) return;
  if (sel.match_recognize) {
    ctx_.error(sel.joins[0].pos, "JOIN cannot be combined with MATCH_RECOGNIZE");
    return;
  }
  if (plan.find_table(sel.joins[0].name) < 0 && plan.find_stream(sel.joins[0].name) >= 0) {
    build_interval_join(plan, sel);
    return;
  }
  for (const auto& j : sel.joins) {
    const int t = plan.find_table(j.name);
    if (t < 0) {
      if (ctx_.unparsed && ctx_.unparsed->count(j.name)) return;
      ctx_.error(j.name_pos, plan.find_stream(j.name) >= 0
                                 ? "'" + j.name + "' is a stream: a join of two streams must be the only JOIN"
                                 : "unknown table or stream '" + j.name + "' in JOIN");
      return;
    }
    JoinedTable jt;
    jt.name = j.name;
    jt.alias = j.alias;
    jt.def = &plan.tables[static_cast<std::size_t>(t)];
    joined_.push_back(std::move(jt));
    TableJoin tj;
    tj.table = t;
    tj.left = j.left;
    rp_.joins.push_back(std::move(tj));
  }
  for (std::size_t ji = 0; ji < sel.joins.size(); ++ji) {
    const ast::Join& j = sel.joins[ji];
    JoinedTable& jt = joined_[ji];
    TableDef& def = plan.tables[static_cast<std::size_t>(rp_.joins[ji].table)];
    // ON: equalities `stream expression = table column` joined by AND.
    std::vector<const ast::Expr*> conj;
    conjuncts(*j.on, conj);
    // Which side of an equality is a column of this table (by name as written).
    auto table_column = [&](const ast::Expr& e) -> int {
      const auto& cols = def.columns;
      std::string name;
      if (e.kind == ast::ExprKind::Member && e.children.size() == 1 &&
          e.children[0]->kind == ast::ExprKind::Column &&
          (e.children[0]->name == jt.alias || (jt.alias.empty() && e.children[0]->name == jt.name)))
        name = e.name;
      else
        return -1;
      const auto it = std::find(cols.begin(), cols.end(), name);
      return it == cols.end() ? -2 : static_cast<int>(it - cols.begin());
    };
    std::function<bool(const ast::Expr&)> mentions_table = [&](const ast::Expr& e) {
      if (table_column(e) != -1) return true;
      for (const auto& c : e.children)
        if (c && mentions_table(*c)) return true;
      return false;
    };
    std::vector<int> cols;
    std::vector<NodePtr> probe;
    bool ok = true;
    for (const ast::Expr* c : conj) {
      if (c->kind != ast::ExprKind::Binary || c->op != ast::Op::Eq) {
        ctx_.error(c->pos, "the ON of a table join takes equalities (stream expression = " +
                               (jt.alias.empty() ? jt.name : jt.alias) +
                               ".column) joined by AND");
        ok = false;
        continue;
      }
      int side = -1, col = -1;
      for (int s = 0; s < 2; ++s) {
        const int tc = table_column(*c->children[static_cast<std::size_t>(s)]);
        if (tc == -2) {
          const ast::Expr& m = *c->children[static_cast<std::size_t>(s)];
          std::string names;
          for (const auto& n : def.columns) names += (names.empty() ? "" : ", ") + n;
          ctx_.error(m.pos, "unknown column '" + m.name + "' of table " + jt.name + " (columns: " + names + ")");
          ok = false;
          side = -2;
          break;
        }
        if (tc >= 0 && side < 0) {
          side = s;
          col = tc;
        }
      }
      if (side == -2) continue;
      if (side < 0 || mentions_table(*c->children[static_cast<std::size_t>(1 - side)])) {
        ctx_.error(c->pos, "each equality of the ON must compare a column of " + jt.name +
                               " (written " + (jt.alias.empty() ? jt.name : jt.alias) +
                               ".column) with an expression over the stream");
        ok = false;
        continue;
      }
      const ast::Expr& other = *c->children[static_cast<std::size_t>(1 - side)];
      compiling_on_ = static_cast<int>(ji);
      Mode on;
      on.clause = "ON";
      NodePtr p = compile(other, on);
      compiling_on_ = -1;
      if (!p) {
        ok = false;
        continue;
      }
      std::function<bool(const Node&)> stateful = [&](const Node& n) {
        if (n.kind == NodeKind::Stateful || n.kind == NodeKind::AggRef) return true;
        for (const auto& c : n.children)
          if (c && stateful(*c)) return true;
        return false;
      };
      if (stateful(*p)) {
        ctx_.error(other.pos, "aggregate and stateful functions are not allowed in ON");
        ok = false;
        continue;
      }
      const std::string& cname = def.columns[static_cast<std::size_t>(col)];
      const bool plain_same_name =
          (other.kind == ast::ExprKind::Column && other.name == cname) ||
          (other.kind == ast::ExprKind::Member && other.name == cname && other.children[0]->kind == ast::ExprKind::Column &&
           (other.children[0]->name == stream_alias_ || (stream_alias_.empty() && other.children[0]->name == stream_name_)));
      if (plain_same_name) jt.shared.insert(cname);
      cols.push_back(col);
      probe.push_back(std::move(p));
    }
    if (!ok) return;
    // One hash index per distinct column set (in ON order, deduplicated).
    auto it = std::find(def.indexes.begin(), def.indexes.end(), cols);
    if (it == def.indexes.end()) {
      def.indexes.push_back(cols);
      it = def.indexes.end() - 1;
    }
    rp_.joins[ji].index = static_cast<int>(it - def.indexes.begin());
    rp_.joins[ji].probe = std::move(probe);
  }
}

// ---- MATCH_RECOGNIZE (inserted into RuleBuilder) ----

// Navigation calls of DEFINE / MEASURES: PREV, FIRST, LAST, COUNT(*) / COUNT(A.*), CLASSIFIER,
// MATCH_NUMBER and aggregates over the rows of a variable. Returns false when `e` is not one.
bool RuleBuilder::compile_nav_call(const ast::Expr& e, const Mode& m, NodePtr& out) {
  const std::string l = ascii_lower(e.name);
  const int argc = static_cast<int>(e.children.size());
  auto nav_node = [&](expr::Nav kind, int var) {
    auto n = make(NodeKind::Navigate);
    n->nav = kind;
    n->index = var;
    return n;
  };
  // Compiles a navigation argument: `A.x` inside it is the field x of the row navigation picks,
  // and the variable A is what it navigates over (at most one variable per argument).
  auto nav_arg = [&](const ast::Expr& a, int& var) -> NodePtr {
    int* saved = strip_var_;
    var = -1;
    strip_var_ = &var;
    NodePtr n = compile(a, m);
    strip_var_ = saved;
    return n;
  };
  if (l == "next") {
    ctx_.error(e.pos, "NEXT() is not supported: a streaming match cannot look at rows that have not arrived");
    out = nullptr;
    return true;
  }
  if (l == "prev" || l == "first" || l == "last") {
    const int max_args = l == "prev" ? 2 : 1;
    if (argc < 1 || argc > max_args) {
      ctx_.error(e.pos, l + "() expects " + (max_args == 2 ? "1 or 2 arguments" : "1 argument"));
      out = nullptr;
      return true;
    }
    int var = -1;
    NodePtr child = nav_arg(*e.children[0], var);
    if (!child) {
      out = nullptr;
      return true;
    }
    auto n = nav_node(l == "prev" ? expr::Nav::Prev : l == "first" ? expr::Nav::First : expr::Nav::Last, var);
    n->offset = l == "prev" ? 1 : 0;
    if (argc == 2) {
      const ast::Expr& off = *e.children[1];
      if (off.kind != ast::ExprKind::Literal || !off.literal.is_int() || off.literal.as_int() < 0 ||
          off.literal.as_int() > 100) {
        ctx_.error(off.pos, "prev(): the offset must be an integer from 0 to 100");
        out = nullptr;
        return true;
      }
      n->offset = off.literal.as_int();
    }
    if (l == "prev") max_prev_ = std::max<std::int64_t>(max_prev_, n->offset);
    n->children.push_back(std::move(child));
    out = std::move(n);
    return true;
  }
  if (l == "classifier" || l == "match_number") {
    if (argc != 0) {
      ctx_.error(e.pos, l + "() takes no arguments");
      out = nullptr;
      return true;
    }
    out = nav_node(l == "classifier" ? expr::Nav::Classifier : expr::Nav::MatchNumber, -1);
    return true;
  }
  if (l == "count" && argc == 1 && e.children[0]->kind == ast::ExprKind::Star) {
    int var = -1;
    if (!e.children[0]->name.empty()) {
      var = nav_->var_index(e.children[0]->name);
      if (var < 0) {
        ctx_.error(e.children[0]->pos, "'" + e.children[0]->name + "' is not a pattern variable");
        out = nullptr;
        return true;
      }
    }
    if (e.distinct || e.filter) {
      ctx_.error(e.pos, "count(*) in MATCH_RECOGNIZE takes no DISTINCT or FILTER");
      out = nullptr;
      return true;
    }
    out = nav_node(expr::Nav::Count, var);
    return true;
  }
  const FnClass cls = classify_call(reg_, e);
  if (cls == FnClass::Stateful || cls == FnClass::Window ||
      (cls == FnClass::Engine && (l == "window_start" || l == "window_end"))) {
    ctx_.error(e.pos, l + "() is not allowed in MATCH_RECOGNIZE");
    out = nullptr;
    return true;
  }
  if (cls != FnClass::Aggregate) return false;
  if (reg_.aggregate(l)->event_time_arg) {
    ctx_.error(e.pos, l + "() is not allowed in MATCH_RECOGNIZE");
    out = nullptr;
    return true;
  }
  // An aggregate over the rows of one variable (or of the whole match): sum(B.amount).
  if (e.distinct || e.filter) {
    ctx_.error(e.pos, "DISTINCT and FILTER are not supported in MATCH_RECOGNIZE aggregates");
    out = nullptr;
    return true;
  }
  const auto* fn = reg_.aggregate(l);
  if (argc < fn->min_args || (fn->max_args >= 0 && argc > fn->max_args)) {
    ctx_.error(e.pos, "function " + l + "() expects " + std::to_string(fn->min_args) +
                          (fn->max_args == fn->min_args ? "" : " or more") + " arguments");
    out = nullptr;
    return true;
  }
  int var = -1;
  auto n = nav_node(expr::Nav::Aggregate, -1);
  n->aggregate = fn;
  for (const auto& c : e.children) {
    int v = -1;
    NodePtr a = nav_arg(*c, v);
    if (!a) {
      out = nullptr;
      return true;
    }
    if (v >= 0) {
      if (var >= 0 && var != v) {
        ctx_.error(c->pos, l + "(): arguments refer to two pattern variables");
        out = nullptr;
        return true;
      }
      var = v;
    }
    n->children.push_back(std::move(a));
  }
  n->index = var;
  out = std::move(n);
  return true;
}

// `A.x` (Member of a pattern variable) in DEFINE / MEASURES: the last row mapped to A (running
// in DEFINE, final in MEASURES), or just the field inside a navigation argument.
NodePtr RuleBuilder::compile_var_member(const ast::Expr& e, int var) {
  auto slot = make(NodeKind::Slot);
  slot->index = field(e.name);
  if (strip_var_) {
    if (*strip_var_ >= 0 && *strip_var_ != var) {
      ctx_.error(e.pos, "a navigation argument may refer to one pattern variable only");
      return nullptr;
    }
    *strip_var_ = var;
    return slot;
  }
  auto n = make(NodeKind::Navigate);
  n->nav = expr::Nav::Last;
  n->index = var;
  n->children.push_back(std::move(slot));
  return n;
}

std::string match_column_name(const ast::Expr& e, std::size_t i) {
  if (e.kind == ast::ExprKind::Column || e.kind == ast::ExprKind::Member) return e.name;
  return "partition_" + std::to_string(i + 1);
}

void RuleBuilder::build_match(const ast::MatchRecognize& mr) {
  auto mp = std::make_unique<MatchPlan>();
  std::string err;
  auto automaton = pattern::compile(mr.pattern, &err);
  if (!automaton) {
    ctx_.error(mr.pattern.pos, err);
    return;
  }
  if (automaton->nullable) {
    ctx_.error(mr.pattern.pos, "PATTERN can match zero rows; make at least one term mandatory");
    return;
  }
  mp->automaton = std::move(*automaton);
  if (mr.all_rows_per_match)
    ctx_.error(mr.pos, "ALL ROWS PER MATCH is not supported; use ONE ROW PER MATCH");
  if (mr.order_by.size() > 1 || (mr.order_by.size() == 1 && mr.order_by[0].descending)) {
    ctx_.error(mr.order_by[0].expr->pos, "MATCH_RECOGNIZE rows are in event-time order: ORDER BY takes one ascending time");
  } else if (mr.order_by.size() == 1) {
    const ast::Expr& o = *mr.order_by[0].expr;
    const bool is_event_time = o.kind == ast::ExprKind::Call && ascii_lower(o.name) == "event_time";
    const bool is_ts_field = o.kind == ast::ExprKind::Column && !timestamp_field_.empty() && o.name == timestamp_field_;
    if (!is_event_time && !is_ts_field)
      ctx_.error(o.pos, "MATCH_RECOGNIZE rows are in event-time order: ORDER BY must be " +
                            (timestamp_field_.empty() ? std::string("event_time()")
                                                      : "the stream's TIMESTAMP field '" + timestamp_field_ + "'"));
  }
  if (!mr.within.empty()) {
    auto d = parse_duration(mr.within);
    if (!d || *d <= 0) {
      ctx_.error(mr.within_pos, "WITHIN: invalid duration '" + mr.within + "'");
    } else {
      mp->options.within = *d;
    }
  }
  mp->options.skip = mr.after_match == ast::AfterMatchSkip::ToNextRow ? pattern::SkipMode::ToNextRow
                                                                       : pattern::SkipMode::PastLastRow;
  Mode im;
  im.clause = "PARTITION BY";
  for (std::size_t i = 0; i < mr.partition_by.size(); ++i) {
    const ast::Expr& p = *mr.partition_by[i];
    auto n = compile(p, im);
    if (!n) continue;
    mp->partition.push_back(std::move(n));
    mp->columns.push_back(match_column_name(p, i));
  }
  nav_ = &mp->automaton;
  mp->defines.resize(mp->automaton.vars.size());
  im.clause = "DEFINE";
  for (const auto& d : mr.defines) {
    const int v = mp->automaton.var_index(d.var);
    if (v < 0) {
      ctx_.error(d.pos, "DEFINE of '" + d.var + "', which is not a variable of PATTERN");
      continue;
    }
    mp->defines[static_cast<std::size_t>(v)] = compile(*d.cond, im);
  }
  im.clause = "MEASURES";
  for (const auto& me : mr.measures) {
    for (const auto& c : mp->columns)
      if (c == me.alias) ctx_.error(me.pos, "measure '" + me.alias + "' repeats a PARTITION BY column");
    mp->measures.push_back(compile(*me.expr, im));
    mp->columns.push_back(me.alias);
  }
  nav_ = nullptr;
  mp->options.history = static_cast<std::size_t>(std::max<std::int64_t>(1, max_prev_));
  mp->input_width = static_cast<int>(rp_.fields.size());
  rp_.match = std::move(mp);
  match_cols_ = &rp_.match->columns;
}

bool opt_string(Ctx& ctx, const ast::Option& o, std::string& out) {
  if (!o.value.is_string()) {
    ctx.error(o.pos, "option " + o.key + " expects a string");
    return false;
  }
  out = o.value.as_string();
  return true;
}

bool opt_duration(Ctx& ctx, const ast::Option& o, TimeNs& out) {
  auto d = duration_value(o.value);
  if (!d) {
    ctx.error(o.pos, "option " + o.key + ": invalid duration " + o.value.to_json());
    return false;
  }
  out = *d;
  return true;
}

bool opt_qos(Ctx& ctx, const ast::Option& o, int& out) {
  if (!o.value.is_int() || o.value.as_int() < 0 || o.value.as_int() > 2) {
    ctx.error(o.pos, "option QOS expects 0, 1 or 2");
    return false;
  }
  out = static_cast<int>(o.value.as_int());
  return true;
}

bool opt_bool(Ctx& ctx, const ast::Option& o, bool& out) {
  if (o.value.is_bool()) {
    out = o.value.as_bool();
    return true;
  }
  if (o.value.is_string()) {
    const std::string l = ascii_lower(o.value.as_string());
    if (l == "true" || l == "false") {
      out = l == "true";
      return true;
    }
  }
  if (o.value.is_int()) {
    out = o.value.as_int() != 0;
    return true;
  }
  ctx.error(o.pos, "option " + o.key + " expects true or false");
  return false;
}

void plan_stream(Plan& plan, const ast::Statement& st, Ctx& ctx) {
  StreamDef s;
  s.name = st.name;
  s.file = ctx.file;
  s.text = st.text;
  s.text_hash = hex64(fnv1a(st.text));
  bool have_topic = false;
  for (const auto& o : st.options) {
    if (o.key == "TOPIC" || o.key == "DATASOURCE") {
      have_topic = opt_string(ctx, o, s.topic_filter);
      if (have_topic && s.topic_filter.empty()) ctx.error(o.pos, "option TOPIC must not be empty");
    } else if (o.key == "FORMAT") {
      std::string f;
      if (opt_string(ctx, o, f) && ascii_lower(f) != "json")
        ctx.error(o.pos, "FORMAT '" + f + "' is not supported (only 'json')");
    } else if (o.key == "TIMESTAMP") {
      opt_string(ctx, o, s.timestamp_field);
    } else if (o.key == "MAXOUTOFORDERNESS") {
      opt_duration(ctx, o, s.max_out_of_order);
    } else if (o.key == "ALLOWEDLATENESS") {
      opt_duration(ctx, o, s.allowed_lateness);
    } else if (o.key == "MAXAHEAD") {
      opt_duration(ctx, o, s.max_ahead);
    } else if (o.key == "IDLETIMEOUT") {
      opt_duration(ctx, o, s.idle_timeout);
    } else if (o.key == "QOS") {
      opt_qos(ctx, o, s.qos);
    } else if (o.key == "EVENT_ID") {
      opt_string(ctx, o, s.event_id_field);
    } else if (o.key == "DEDUP_HORIZON") {
      opt_duration(ctx, o, s.dedup_horizon);
    } else {
      ctx.error(o.pos, "unknown stream option '" + o.key + "'");
    }
  }
  if (!have_topic) ctx.error(st.name_pos, "stream " + st.name + " needs a TOPIC option");
  if (plan.find_stream(st.name) >= 0 || plan.find_table(st.name) >= 0) {
    ctx.error(st.name_pos, "'" + st.name + "' is already defined");
    return;
  }
  plan.streams.push_back(std::move(s));
}

//! Splits "a, b" (KEY lists) into trimmed names.
std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string name = list.substr(start, comma - start);
    while (!name.empty() && name.front() == ' ') name.erase(name.begin());
    while (!name.empty() && name.back() == ' ') name.pop_back();
    out.push_back(std::move(name));
    start = comma + 1;
  }
  return out;
}

void plan_table(Plan& plan, const ast::Statement& st, Ctx& ctx) {
  TableDef t;
  t.name = st.name;
  t.file = ctx.file;
  t.text = st.text;
  t.text_hash = hex64(fnv1a(st.text));
  for (const auto& c : st.columns) {
    if (std::find(t.columns.begin(), t.columns.end(), c.name) != t.columns.end()) {
      ctx.error(c.pos, "column '" + c.name + "' appears twice");
      continue;
    }
    ColumnType type = ColumnType::Any;
    const std::string& ty = c.type;
    if (ty.empty()) type = ColumnType::Any;
    else if (ty == "STRING" || ty == "TEXT" || ty == "VARCHAR") type = ColumnType::String;
    else if (ty == "BIGINT" || ty == "INT" || ty == "INTEGER") type = ColumnType::Int;
    else if (ty == "FLOAT" || ty == "DOUBLE" || ty == "REAL") type = ColumnType::Double;
    else if (ty == "BOOLEAN" || ty == "BOOL") type = ColumnType::Bool;
    else ctx.error(c.pos, "unknown column type '" + ty + "' (STRING, BIGINT, FLOAT or BOOLEAN)");
    t.columns.push_back(c.name);
    t.types.push_back(type);
  }
  const ast::Option* type_opt = nullptr;
  const ast::Option* key_opt = nullptr;
  const ast::Option* path_opt = nullptr;
  const ast::Option* table_opt = nullptr;
  const ast::Option* topic_opt = nullptr;
  std::string type = "file", format;
  for (const auto& o : st.options) {
    if (o.key == "TYPE") {
      if (opt_string(ctx, o, type)) type_opt = &o;
      type = ascii_lower(type);
    } else if (o.key == "PATH") {
      if (opt_string(ctx, o, t.path)) path_opt = &o;
    } else if (o.key == "KEY") {
      std::string k;
      if (opt_string(ctx, o, k)) key_opt = &o;
    } else if (o.key == "FORMAT") {
      if (opt_string(ctx, o, format)) format = ascii_lower(format);
      if (format != "csv" && format != "json") ctx.error(o.pos, "FORMAT expects 'csv' or 'json'");
    } else if (o.key == "TABLE") {
      if (opt_string(ctx, o, t.sqlite_table)) table_opt = &o;
    } else if (o.key == "TOPIC" || o.key == "DATASOURCE") {
      if (opt_string(ctx, o, t.topic_filter)) topic_opt = &o;
    } else if (o.key == "QOS") {
      opt_qos(ctx, o, t.qos);
    } else if (o.key == "RELOAD_INTERVAL") {
      if (opt_duration(ctx, o, t.reload_interval) && t.reload_interval < kNsPerSec)
        ctx.error(o.pos, "RELOAD_INTERVAL must be at least 1s (the file is looked at that often)");
    } else if (o.key == "MAXROWS") {
      if (!o.value.is_int() || o.value.as_int() < 1)
        ctx.error(o.pos, "option MAXROWS expects a positive integer");
      else
        t.max_rows = static_cast<std::size_t>(o.value.as_int());
    } else {
      ctx.error(o.pos, "unknown table option '" + o.key + "'");
    }
  }
  if (type == "file") {
    t.source = TableDef::Source::File;
  } else if (type == "mqtt") {
    t.source = TableDef::Source::Mqtt;
  } else if (type == "sqlite") {
    t.source = TableDef::Source::Sqlite;
  } else {
    ctx.error(type_opt->pos, "unknown table TYPE '" + type + "' ('file', 'mqtt' or 'sqlite')");
  }
  const ast::SourcePos at = type_opt ? type_opt->pos : st.name_pos;
  if (t.source != TableDef::Source::Mqtt) {
    if (!path_opt) ctx.error(at, "table " + st.name + " needs a PATH option");
    if (topic_opt) ctx.error(topic_opt->pos, "TOPIC is for TYPE='mqtt' tables");
    // A relative PATH is relative to the rule file's folder, not to the daemon's directory.
    if (path_opt && !t.path.empty() && t.path.front() != '/') {
      const std::size_t slash = ctx.file.rfind('/');
      if (slash != std::string::npos) t.path = ctx.file.substr(0, slash + 1) + t.path;
    }
  } else {
    if (!topic_opt || t.topic_filter.empty()) ctx.error(at, "table " + st.name + " needs a TOPIC option");
    if (path_opt) ctx.error(path_opt->pos, "PATH is for TYPE='file' and TYPE='sqlite' tables");
  }
  if (t.source == TableDef::Source::File) {
    if (format.empty()) {
      const std::string l = ascii_lower(t.path);
      const auto ends = [&](std::string_view e) {
        return l.size() >= e.size() && l.compare(l.size() - e.size(), e.size(), e) == 0;
      };
      if (ends(".json") || ends(".jsonl") || ends(".ndjson")) format = "json";
      else if (ends(".csv")) format = "csv";
      else if (path_opt) ctx.error(path_opt->pos, "cannot tell the format of '" + t.path + "': give FORMAT='csv' or 'json'");
    }
    t.json = format == "json";
  }
  if (t.source == TableDef::Source::Sqlite && !table_opt)
    ctx.error(at, "table " + st.name + " needs a TABLE option (the SQLite table to read)");
  if (t.source != TableDef::Source::Sqlite && table_opt)
    ctx.error(table_opt->pos, "TABLE is for TYPE='sqlite' tables");
  if (!key_opt) {
    ctx.error(st.name_pos, "table " + st.name + " needs a KEY option (the column(s) naming a row)");
  } else {
    for (const auto& k : split_names(key_opt->value.as_string())) {
      const auto it = std::find(t.columns.begin(), t.columns.end(), k);
      if (it == t.columns.end())
        ctx.error(key_opt->pos, "KEY '" + k + "' is not a column of table " + st.name);
      else
        t.key.push_back(static_cast<int>(it - t.columns.begin()));
    }
  }
  if (plan.find_stream(st.name) >= 0 || plan.find_table(st.name) >= 0) {
    ctx.error(st.name_pos, "'" + st.name + "' is already defined");
    return;
  }
  plan.tables.push_back(std::move(t));
}

void plan_rule(Plan& plan, ast::Statement& st, Ctx& ctx, const FunctionRegistry& reg) {
  RulePlan rp;
  rp.name = st.name;
  rp.file = ctx.file;
  rp.text = st.text;
  rp.text_hash = hex64(fnv1a(st.text));
  bool have_topic = false;
  const bool is_alert = st.kind == ast::StatementKind::CreateAlert;
  std::unique_ptr<AlertPlan> ap;
  const ast::Option* key_opt = nullptr;
  const ast::Option* expire_opt = nullptr;
  const ast::Option* topic_opt = nullptr;
  bool late_topic_given = false;
  if (is_alert) {
    ap = std::make_unique<AlertPlan>();
    ap->options.name = st.name;
  }
  for (const auto& o : st.options) {
    if (is_alert && o.key == "SEVERITY") {
      if (opt_string(ctx, o, ap->options.severity) && ap->options.severity.empty())
        ctx.error(o.pos, "option SEVERITY must not be empty");
    } else if (is_alert && o.key == "COOLDOWN") {
      opt_duration(ctx, o, ap->options.cooldown);
    } else if (is_alert && o.key == "CLEAR_AFTER") {
      opt_duration(ctx, o, ap->options.clear_after);
    } else if (is_alert && o.key == "EXPIRE_AFTER") {
      if (opt_duration(ctx, o, ap->options.silence)) expire_opt = &o;
    } else if (is_alert && o.key == "KEY") {
      std::string k;
      if (opt_string(ctx, o, k)) key_opt = &o;
    } else if (is_alert && o.key == "RETAIN") {
      ctx.error(o.pos, "an alert publishes its per-key state retained by itself; RETAIN is not an alert option");
    } else if (o.key == "TOPIC") {
      have_topic = opt_string(ctx, o, rp.topic);
      if (have_topic) topic_opt = &o;
    } else if (o.key == "QOS") {
      opt_qos(ctx, o, rp.qos);
    } else if (o.key == "RETAIN") {
      opt_bool(ctx, o, rp.retain);
    } else if (o.key == "LATE_TOPIC") {
      late_topic_given = opt_string(ctx, o, rp.late_topic);
    } else if (o.key == "STATE_TTL") {
      opt_duration(ctx, o, rp.state_ttl);
    } else if (o.key == "DELIVERY") {
      std::string d;
      if (opt_string(ctx, o, d)) {
        if (const auto delivery = parse_delivery(d)) {
          rp.delivery = *delivery;
        } else {
          ctx.error(o.pos, "option DELIVERY expects 'at_most_once', 'at_least_once' or 'exactly_once'");
        }
      }
    } else {
      ctx.error(o.pos, std::string(is_alert ? "unknown alert option '" : "unknown rule option '") +
                           o.key + "'");
    }
  }
  // A rule without TOPIC still feeds rules reading FROM it; its rows go to a default topic.
  if (!have_topic) rp.topic = (is_alert ? "alerts/" : "streamgate/rules/") + st.name;
  if (rp.late_topic.empty()) rp.late_topic = rp.topic + "/late";
  // `demo.age` in a rule FROM demo is the field age, before anything compiles (stream_qualifier.h).
  std::vector<QualifierError> qualifier_errors;
  strip_stream_qualifier(
      *st.select,
      [&](std::string_view q) { return plan.find_stream(q) >= 0 || plan.find_table(q) >= 0; },
      qualifier_errors);
  for (auto& e : qualifier_errors) ctx.error(e.pos, std::move(e.message));
  const ast::Select& sel = *st.select;
  rp.from = sel.from;
  rp.stream = plan.find_stream(sel.from);
  if (rp.stream < 0 && ctx.unparsed && ctx.unparsed->count(sel.from)) return;
  if (rp.stream < 0 && plan.find_table(sel.from) >= 0)
    ctx.error(sel.from_pos, "'" + sel.from + "' is a table: read a stream FROM and JOIN the table");
  else if (rp.stream < 0)
    ctx.error(sel.from_pos, "unknown stream or rule '" + sel.from + "' in FROM");
  if (plan.find_stream(st.name) >= 0 || plan.find_table(st.name) >= 0) {
    ctx.error(st.name_pos, "'" + st.name + "' is already defined");
    return;
  }
  RuleBuilder b(rp, ctx, reg);
  b.build_joins(plan, sel);
  if (rp.stream >= 0) b.set_timestamp_field(plan.streams[static_cast<std::size_t>(rp.stream)].timestamp_field);
  const std::size_t errors_before = ctx.errors->size();
  b.build(sel);
  if (topic_opt && ctx.errors->size() == errors_before) {
    std::vector<std::string> columns;
    for (const auto& item : rp.items) columns.push_back(item.star ? std::string("\0*", 2) : item.name);
    if (auto err = rp.topic_template.parse(rp.topic, columns)) {
      ctx.error(topic_opt->pos, "option TOPIC: " + *err);
    } else if (rp.topic_template.has_placeholders()) {
      if (is_alert)
        ctx.error(topic_opt->pos, "option TOPIC: an alert's topic cannot hold placeholders; its "
                                  "per-key state is already published on <topic>/<key>");
      // Late rows are input events, not output rows: they have nothing to fill a template with.
      if (!late_topic_given) rp.late_topic = "streamgate/rules/" + st.name + "/late";
    }
  }
  if (is_alert && ctx.errors->size() == errors_before) {
    // The condition decides raise / clear instead of filtering: WHERE of a per-event rule,
    // HAVING of a windowed one (whose WHERE still filters the events).
    if (!rp.windowed()) {
      ap->condition = std::move(rp.where);
    } else {
      ap->condition = std::move(rp.having);
    }
    ap->options.topic = rp.topic;
    if (key_opt) {
      for (const std::string& name : split_names(key_opt->value.as_string())) {
        int found = -1;
        for (std::size_t i = 0; i < rp.items.size(); ++i)
          if (!rp.items[i].star && rp.items[i].name == name) found = static_cast<int>(i);
        if (found < 0)
          ctx.error(key_opt->pos, "KEY '" + name + "' is not a column of the alert's SELECT");
        else
          ap->key_items.push_back(found);
      }
    } else if (rp.match && !rp.aggregate_mode) {
      ap->key_slots = static_cast<int>(rp.match->partition.size());
    }
    if (rp.match && !expire_opt) {
      // Matches are only ever "true": the alert clears when no match came for a while.
      ap->options.silence = ap->options.clear_after > 0 ? ap->options.clear_after
                                                        : rp.match->options.within;
      if (ap->options.silence <= 0)
        ctx.error(st.name_pos, "an alert over MATCH_RECOGNIZE clears when no match came for a while: "
                               "give CLEAR_AFTER (or EXPIRE_AFTER, or WITHIN in the pattern)");
    }
    rp.alert = std::move(ap);
  }
  if (rp.stream < 0) return;
  const int idx = static_cast<int>(plan.rules.size());
  if (rp.interval) plan.streams[static_cast<std::size_t>(rp.interval->stream)].join_readers.push_back(idx);
  StreamDef out;
  out.name = rp.name;
  out.file = rp.file;
  out.text = rp.text;
  out.text_hash = rp.text_hash;
  out.source_rule = idx;
  out.allowed_lateness = plan.streams[static_cast<std::size_t>(rp.stream)].allowed_lateness;
  rp.out_stream = static_cast<int>(plan.streams.size());
  plan.streams[static_cast<std::size_t>(rp.stream)].readers.push_back(idx);
  plan.streams.push_back(std::move(out));
  plan.rules.push_back(std::move(rp));
}

}  // namespace

namespace {

//! Names in a macro body must be its parameters (a macro reads nothing else of the row).
void check_macro_names(const ast::Expr& e, const ast::Statement& st, Ctx& ctx) {
  if (e.kind == ast::ExprKind::Column &&
      std::find(st.params.begin(), st.params.end(), e.name) == st.params.end()) {
    std::string params;
    for (const auto& p : st.params) params += (params.empty() ? "" : ", ") + p;
    ctx.error(e.pos, "'" + e.name + "' is not a parameter of function " + st.name + " (parameters: " +
                         (params.empty() ? "none" : params) + ")");
  }
  for (const auto& c : e.children)
    if (c) check_macro_names(*c, st, ctx);
  if (e.filter) check_macro_names(*e.filter, st, ctx);
  for (const auto& p : e.partition_by) check_macro_names(*p, st, ctx);
}

void plan_macro(ast::Statement& st, Ctx& ctx, const FunctionRegistry& reg,
                std::unordered_map<std::string, Macro>& macros) {
  const std::string l = ascii_lower(st.name);
  if (reg.scalar(l) || reg.aggregate(l) || reg.stateful(l) || is_engine_function(l) || is_window_name(l)) {
    ctx.error(st.name_pos, "function " + l + "() is a built-in; give CREATE FUNCTION another name");
    return;
  }
  if (macros.count(l)) {
    ctx.error(st.name_pos, "function " + l + "() is already defined");
    return;
  }
  for (std::size_t i = 0; i < st.params.size(); ++i)
    for (std::size_t k = 0; k < i; ++k)
      if (st.params[k] == st.params[i]) {
        ctx.error(st.param_pos[i], "parameter '" + st.params[i] + "' appears twice");
        return;
      }
  if (!st.body) return;
  const std::size_t before = ctx.errors->size();
  check_macro_names(*st.body, st, ctx);
  if (contains_aggregate(reg, *st.body)) {
    ctx.error(st.body->pos, "a CREATE FUNCTION body cannot hold an aggregate; call the aggregate "
                            "around the function instead");
  }
  if (ctx.errors->size() != before) return;
  macros.emplace(l, Macro{st.params, std::move(st.body)});
}

}  // namespace

std::unique_ptr<Plan> plan_files(const std::vector<SourceFile>& files,
                                 std::vector<RuleError>& errors) {
  auto plan = std::make_unique<Plan>();
  const FunctionRegistry& reg = FunctionRegistry::global();
  std::unordered_set<std::string> unparsed;
  std::unordered_map<std::string, Macro> macros;
  for (const auto& f : files) {
    Ctx ctx{f.name, &errors, &unparsed, &macros};
    ast::ParseResult pr = ast::parse(f.text);
    for (const auto& e : pr.errors) ctx.error(e.pos, e.message);
    // The statements that parsed are planned even when others did not: one run of
    // check-rules reports every error it can find (issue 16).
    unparsed.insert(pr.unparsed_names.begin(), pr.unparsed_names.end());
    for (auto& st : pr.statements) {
      switch (st.kind) {
        case ast::StatementKind::CreateFunction: plan_macro(st, ctx, reg, macros); break;
        case ast::StatementKind::CreateStream: plan_stream(*plan, st, ctx); break;
        case ast::StatementKind::CreateTable: plan_table(*plan, st, ctx); break;
        case ast::StatementKind::CreateRule:
          if (!st.select) {
            ctx.error(st.pos, "CREATE RULE needs AS SELECT ...");
            break;
          }
          plan_rule(*plan, st, ctx, reg);
          break;
        case ast::StatementKind::CreateAlert:
          if (!st.select) {
            ctx.error(st.pos, "CREATE ALERT needs AS SELECT ...");
            break;
          }
          plan_rule(*plan, st, ctx, reg);
          break;
      }
    }
  }
  // Row layout: each reader gets its own contiguous slot range.
  for (auto& s : plan->streams) {
    for (int r : s.readers) {
      auto& rp = plan->rules[static_cast<std::size_t>(r)];
      rp.slot_offset = static_cast<int>(s.slot_fields.size());
      rp.slot_count = static_cast<int>(rp.fields.size());
      for (const auto& f : rp.fields) s.slot_fields.push_back(f);
      // The body of a MATCH_RECOGNIZE rule sees match rows, not input rows.
      if (rp.match) rp.slot_count = static_cast<int>(rp.match->columns.size());
      s.need_whole = s.need_whole || rp.need_whole;
    }
    for (int r : s.join_readers) {
      auto& ip = *plan->rules[static_cast<std::size_t>(r)].interval;
      ip.right_slot_offset = static_cast<int>(s.slot_fields.size());
      for (const auto& f : ip.right_fields) s.slot_fields.push_back(f);
    }
  }
  return plan;
}

}  // namespace streamgate::rules::plan
