// Evaluation of compiled expressions: SQL three-valued logic, int64 arithmetic that widens to
// double on overflow, NULL (plus an eval_errors count) for type mismatches.
#include "rules/expr/expr.h"

#include <cmath>

#include "rules/time_util.h"

namespace streamgate::rules::expr {

namespace {

const Value kNull;
const Value kTrue(true);
const Value kFalse(false);

inline void count_error(Ctx& c) {
  if (c.eval_errors) ++*c.eval_errors;
}

inline const Value& set(Value& tmp, Value v) {
  tmp = std::move(v);
  return tmp;
}

const Value& arith(ast::Op op, const Value& a, const Value& b, Ctx& c, Value& tmp) {
  if (a.is_null() || b.is_null()) return kNull;
  if (!a.is_number() || !b.is_number()) {
    count_error(c);
    return kNull;
  }
  if (a.is_int() && b.is_int() && op != ast::Op::Div) {
    const std::int64_t x = a.as_int(), y = b.as_int();
    std::int64_t r = 0;
    switch (op) {
      case ast::Op::Add:
        if (!__builtin_add_overflow(x, y, &r)) return set(tmp, Value(r));
        return set(tmp, Value(static_cast<double>(x) + static_cast<double>(y)));
      case ast::Op::Sub:
        if (!__builtin_sub_overflow(x, y, &r)) return set(tmp, Value(r));
        return set(tmp, Value(static_cast<double>(x) - static_cast<double>(y)));
      case ast::Op::Mul:
        if (!__builtin_mul_overflow(x, y, &r)) return set(tmp, Value(r));
        return set(tmp, Value(static_cast<double>(x) * static_cast<double>(y)));
      case ast::Op::Mod:
        if (y == 0) return kNull;
        if (y == -1) return set(tmp, Value(std::int64_t{0}));
        return set(tmp, Value(x % y));
      default: break;
    }
  }
  const double x = a.as_number(), y = b.as_number();
  switch (op) {
    case ast::Op::Add: return set(tmp, Value(x + y));
    case ast::Op::Sub: return set(tmp, Value(x - y));
    case ast::Op::Mul: return set(tmp, Value(x * y));
    case ast::Op::Div:
      if (y == 0) return kNull;
      return set(tmp, Value(x / y));
    case ast::Op::Mod:
      if (y == 0) return kNull;
      return set(tmp, Value(std::fmod(x, y)));
    default: return kNull;
  }
}

bool comparable(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return true;
  return a.type() == b.type();
}

//! Three-way comparison of the pairs WHERE clauses compare most (numbers with numbers, strings
//! with strings) without the calls of comparable() / compare(); the same order they give.
//! False for any other pair.
inline bool compare_common(const Value& a, const Value& b, int& r) {
  using T = Value::Type;
  const T ta = a.type(), tb = b.type();
  if (ta == T::Int && tb == T::Int) {
    r = (a.as_int() > b.as_int()) - (a.as_int() < b.as_int());
    return true;
  }
  if ((ta == T::Int || ta == T::Double) && (tb == T::Int || tb == T::Double)) {
    const double x = ta == T::Int ? static_cast<double>(a.as_int()) : a.as_double_exact();
    const double y = tb == T::Int ? static_cast<double>(b.as_int()) : b.as_double_exact();
    r = (x > y) - (x < y);
    return true;
  }
  if (ta == T::String && tb == T::String) {
    const int d = a.as_string().compare(b.as_string());
    r = (d > 0) - (d < 0);
    return true;
  }
  return false;
}

//! A comparison operator applied to a three-way result.
inline bool compare_result(ast::Op op, int r) {
  switch (op) {
    case ast::Op::Eq: return r == 0;
    case ast::Op::Ne: return r != 0;
    case ast::Op::Lt: return r < 0;
    case ast::Op::Le: return r <= 0;
    case ast::Op::Gt: return r > 0;
    case ast::Op::Ge: return r >= 0;
    default: return false;
  }
}

const Value& logic_and(const Node& n, Ctx& c, Value& tmp) {
  Value t1;
  const Value& a = eval(*n.children[0], c, t1);
  if (a.is_bool() && !a.as_bool()) return kFalse;
  Value t2;
  const Value& b = eval(*n.children[1], c, t2);
  if (b.is_bool() && !b.as_bool()) return kFalse;
  if (a.is_true() && b.is_true()) return kTrue;
  (void)tmp;
  return kNull;
}

const Value& logic_or(const Node& n, Ctx& c, Value& tmp) {
  Value t1;
  const Value& a = eval(*n.children[0], c, t1);
  if (a.is_true()) return kTrue;
  Value t2;
  const Value& b = eval(*n.children[1], c, t2);
  if (b.is_true()) return kTrue;
  if (a.is_bool() && b.is_bool()) return kFalse;
  (void)tmp;
  return kNull;
}

const Value& call_scalar(const Node& n, Ctx& c, Value& tmp) {
  constexpr std::size_t kInline = 6;
  const std::size_t k = n.children.size();
  if (k <= kInline) {
    Value args[kInline];
    for (std::size_t i = 0; i < k; ++i) args[i] = eval_value(*n.children[i], c);
    return set(tmp, n.scalar->call(Args{args, k}));
  }
  std::vector<Value> args;
  args.reserve(k);
  for (const auto& ch : n.children) args.push_back(eval_value(*ch, c));
  return set(tmp, n.scalar->call(Args{args.data(), k}));
}

const Value& call_stateful(const Node& n, Ctx& c, Value& tmp) {
  constexpr std::size_t kInline = 6;
  const std::size_t k = n.children.size();
  if (!c.stateful) return kNull;
  if (k <= kInline) {
    Value args[kInline];
    for (std::size_t i = 0; i < k; ++i) args[i] = eval_value(*n.children[i], c);
    return set(tmp, c.stateful->call_stateful(n.index, Args{args, k}, c));
  }
  std::vector<Value> args;
  for (const auto& ch : n.children) args.push_back(eval_value(*ch, c));
  return set(tmp, c.stateful->call_stateful(n.index, Args{args.data(), k}, c));
}

}  // namespace

Value call_stateful_site(const Node& n, Ctx& c) {
  Value tmp;
  const Value& r = call_stateful(n, c, tmp);
  if (&r == &tmp) return tmp;
  return r;
}

void append_signature(const Node& n, std::string& out) {
  out += '(';
  out += std::to_string(static_cast<int>(n.kind));
  out += ',';
  out += std::to_string(static_cast<int>(n.op));
  out += n.negated ? 'n' : '-';
  out += n.case_has_operand ? 'o' : '-';
  out += n.case_has_else ? 'e' : '-';
  out += std::to_string(n.index);
  if (n.kind == NodeKind::Const) {
    out += ':';
    out += std::to_string(static_cast<int>(n.constant.type()));
    out += n.constant.to_json();
  }
  if (!n.name.empty()) {
    out += '.';
    out += std::to_string(n.name.size());
    out += ':';
    out += n.name;
  }
  if (n.scalar) {
    out += '@';
    out += std::to_string(reinterpret_cast<std::uintptr_t>(n.scalar));
  }
  for (const auto& ch : n.children) append_signature(*ch, out);
  out += ')';
}

void collect_stateful_sites(const Node& n, std::vector<int>& sites, std::vector<const Node*>& nodes) {
  for (const auto& ch : n.children) collect_stateful_sites(*ch, sites, nodes);
  if (n.kind != NodeKind::Stateful || n.index < 0) return;
  for (int s : sites)
    if (s == n.index) return;
  sites.push_back(n.index);
  if (nodes.size() <= static_cast<std::size_t>(n.index)) nodes.resize(static_cast<std::size_t>(n.index) + 1);
  if (!nodes[static_cast<std::size_t>(n.index)]) nodes[static_cast<std::size_t>(n.index)] = &n;
}

bool like_match(std::string_view s, std::string_view p) {
  // Iterative matcher with single-star backtracking: linear in practice, no recursion.
  std::size_t si = 0, pi = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && (p[pi] == '_' || p[pi] == s[si])) {
      ++si;
      ++pi;
    } else if (pi < p.size() && p[pi] == '%') {
      star = pi++;
      mark = si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

Value sql_compare(ast::Op op, const Value& a, const Value& b, bool* mismatch) {
  if (a.is_null() || b.is_null()) return Value();
  if (!comparable(a, b)) {
    if (mismatch) *mismatch = true;
    return Value();
  }
  const int r = compare(a, b);
  switch (op) {
    case ast::Op::Eq: return Value(r == 0);
    case ast::Op::Ne: return Value(r != 0);
    case ast::Op::Lt: return Value(r < 0);
    case ast::Op::Le: return Value(r <= 0);
    case ast::Op::Gt: return Value(r > 0);
    case ast::Op::Ge: return Value(r >= 0);
    default: return Value();
  }
}

const Value& eval(const Node& n, Ctx& c, Value& tmp) {
  switch (n.kind) {
    case NodeKind::Const: return n.constant;
    case NodeKind::Slot: return c.slots ? c.slots[n.index] : kNull;
    case NodeKind::AggRef: return c.aggs ? c.aggs[n.index] : kNull;
    case NodeKind::KeyRef: return c.keys ? c.keys[n.index] : kNull;
    case NodeKind::OutRef: return c.outs ? c.outs[n.index] : kNull;
    case NodeKind::Member: {
      Value t;
      const Value& base = eval(*n.children[0], c, t);
      const Value* v = base.find(n.name);
      if (!v) return kNull;
      if (&base == &t) return set(tmp, *v);
      return *v;
    }
    case NodeKind::Index: {
      Value t, ti;
      const Value& base = eval(*n.children[0], c, t);
      const Value& idx = eval(*n.children[1], c, ti);
      const Value* v = nullptr;
      if (idx.is_int()) {
        v = base.at(idx.as_int());
      } else if (idx.is_string()) {
        v = base.find(idx.as_string());
      } else if (idx.is_double() && base.is_array()) {
        v = base.at(static_cast<std::int64_t>(idx.as_double_exact()));
      }
      if (!v) return kNull;
      if (&base == &t) return set(tmp, *v);
      return *v;
    }
    case NodeKind::Neg: {
      Value t;
      const Value& a = eval(*n.children[0], c, t);
      if (a.is_null()) return kNull;
      if (a.is_int()) {
        if (a.as_int() == INT64_MIN) return set(tmp, Value(-static_cast<double>(a.as_int())));
        return set(tmp, Value(-a.as_int()));
      }
      if (a.is_double()) return set(tmp, Value(-a.as_double_exact()));
      count_error(c);
      return kNull;
    }
    case NodeKind::Not: {
      Value t;
      const Value& a = eval(*n.children[0], c, t);
      if (a.is_bool()) return a.as_bool() ? kFalse : kTrue;
      if (!a.is_null()) count_error(c);
      return kNull;
    }
    case NodeKind::Arith: {
      Value t1, t2;
      const Value& a = eval(*n.children[0], c, t1);
      const Value& b = eval(*n.children[1], c, t2);
      return arith(n.op, a, b, c, tmp);
    }
    case NodeKind::Concat: {
      Value t1, t2;
      const Value& a = eval(*n.children[0], c, t1);
      const Value& b = eval(*n.children[1], c, t2);
      if (a.is_null() || b.is_null()) return kNull;
      std::string s = a.to_text();
      s += b.to_text();
      return set(tmp, Value(std::move(s)));
    }
    case NodeKind::Compare: {
      // `field op constant` is most of WHERE: its operands are read in place, with no
      // temporaries to build and destroy.
      const Node& na = *n.children[0];
      const Node& nb = *n.children[1];
      if (na.kind == NodeKind::Slot && nb.kind == NodeKind::Const && c.slots) {
        int r = 0;
        if (compare_common(c.slots[na.index], nb.constant, r)) return compare_result(n.op, r) ? kTrue : kFalse;
      }
      Value t1, t2;
      const Value& a = eval(na, c, t1);
      const Value& b = eval(nb, c, t2);
      int r = 0;
      if (!compare_common(a, b, r)) {
        if (a.is_null() || b.is_null()) return kNull;
        if (!comparable(a, b)) {
          count_error(c);
          return kNull;
        }
        r = compare(a, b);
      }
      return compare_result(n.op, r) ? kTrue : kFalse;
    }
    case NodeKind::And: return logic_and(n, c, tmp);
    case NodeKind::Or: return logic_or(n, c, tmp);
    case NodeKind::Between: {
      Value t0, t1, t2;
      const Value& x = eval(*n.children[0], c, t0);
      const Value& lo = eval(*n.children[1], c, t1);
      const Value& hi = eval(*n.children[2], c, t2);
      if (x.is_null() || lo.is_null() || hi.is_null()) return kNull;
      if (!comparable(x, lo) || !comparable(x, hi)) {
        count_error(c);
        return kNull;
      }
      const bool in = compare(x, lo) >= 0 && compare(x, hi) <= 0;
      return (in != n.negated) ? kTrue : kFalse;
    }
    case NodeKind::In: {
      Value t0;
      const Value& x = eval(*n.children[0], c, t0);
      if (x.is_null()) return kNull;
      bool saw_null = false;
      for (std::size_t i = 1; i < n.children.size(); ++i) {
        Value ti;
        const Value& e = eval(*n.children[i], c, ti);
        if (e.is_null()) {
          saw_null = true;
          continue;
        }
        if (comparable(x, e) && compare(x, e) == 0) return n.negated ? kFalse : kTrue;
      }
      if (saw_null) return kNull;
      return n.negated ? kTrue : kFalse;
    }
    case NodeKind::Like: {
      Value t0, t1;
      const Value& x = eval(*n.children[0], c, t0);
      const Value& p = eval(*n.children[1], c, t1);
      if (x.is_null() || p.is_null()) return kNull;
      if (!x.is_string() || !p.is_string()) {
        count_error(c);
        return kNull;
      }
      return (like_match(x.as_string(), p.as_string()) != n.negated) ? kTrue : kFalse;
    }
    case NodeKind::IsNull: {
      Value t0;
      const Value& x = eval(*n.children[0], c, t0);
      return (x.is_null() != n.negated) ? kTrue : kFalse;
    }
    case NodeKind::Case: {
      std::size_t i = 0;
      Value operand;
      if (n.case_has_operand) operand = eval_value(*n.children[i++], c);
      const std::size_t end = n.children.size() - (n.case_has_else ? 1 : 0);
      for (; i + 2 <= end; i += 2) {
        Value tw;
        const Value& w = eval(*n.children[i], c, tw);
        bool hit;
        if (n.case_has_operand) {
          hit = !operand.is_null() && !w.is_null() && comparable(operand, w) &&
                compare(operand, w) == 0;
        } else {
          hit = w.is_true();
        }
        if (hit) return eval(*n.children[i + 1], c, tmp);
      }
      if (n.case_has_else) return eval(*n.children.back(), c, tmp);
      return kNull;
    }
    case NodeKind::Scalar: return call_scalar(n, c, tmp);
    case NodeKind::Stateful:
      if (c.stateful_cache) return c.stateful_cache[n.index];
      return call_stateful(n, c, tmp);
    case NodeKind::WindowStart:
      if (!c.has_window) return kNull;
      return set(tmp, Value(format_rfc3339(c.window_start)));
    case NodeKind::WindowEnd:
      if (!c.has_window) return kNull;
      return set(tmp, Value(format_rfc3339(c.window_end)));
    case NodeKind::EventTime:
      if (n.index == 1) return set(tmp, Value(static_cast<std::int64_t>(c.event_time)));
      return set(tmp, Value(format_rfc3339(c.event_time)));
    case NodeKind::Now: return set(tmp, Value(format_rfc3339(c.now)));
    case NodeKind::Navigate: return c.nav ? set(tmp, c.nav->navigate(n, c)) : kNull;
  }
  return kNull;
}

}  // namespace streamgate::rules::expr
