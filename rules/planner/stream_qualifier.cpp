// Stream-qualified field names (`demo.age` in a rule FROM demo), see stream_qualifier.h. A
// qualifier equal to the stream's name or alias is the stream, even when an event also has a
// field of that name (write `demo->x` or `demo.demo.x` for that field): the rule's text decides,
// not the data, so a rule means the same for every event.
#include "rules/planner/stream_qualifier.h"

#include <algorithm>

#include "rules/pattern/automaton.h"

namespace streamgate::rules::plan {

namespace {

struct Rewriter {
  std::string name, alias;
  const std::function<bool(std::string_view)>& is_other_source;
  std::vector<QualifierError>& errors;
  std::string from;  //!< how the rule names its stream, for messages
  //! Pattern variables (upper-cased) while walking DEFINE / MEASURES: `A.x` is A's row there.
  std::vector<std::string> vars;

  bool is_stream(const std::string& q) const { return q == name || (!alias.empty() && q == alias); }

  // Outermost first: in `demo.demo.x` only the first `demo` is the stream (the rewritten
  // `demo.x` must not be looked at again).
  void walk(ast::ExprPtr& e) {
    if (!e) return;
    if (!qualified(e)) {
      for (auto& c : e->children) walk(c);
      walk(e->filter);
      for (auto& p : e->partition_by) walk(p);
    }
  }

  //! Resolves `q.f` when e is one; false when e is something else.
  bool qualified(ast::ExprPtr& e) {
    if (e->kind != ast::ExprKind::Member || e->children.size() != 1 || !e->children[0] ||
        e->children[0]->kind != ast::ExprKind::Column)
      return false;
    const std::string& q = e->children[0]->name;
    if (std::find(vars.begin(), vars.end(), pattern::upper(q)) != vars.end()) return true;
    if (is_stream(q)) {
      // Member(Column q, f) -> Column f, at the position of q (where the user wrote the name).
      auto col = std::move(e->children[0]);
      col->name = e->name;
      e = std::move(col);
    } else if (is_other_source(q)) {
      errors.push_back({e->children[0]->pos,
                        "'" + q + "' is another stream, rule or table; this rule reads only " + from +
                            ": write " + from + "." + e->name + " (or " + e->name + "), or " + q +
                            "->" + e->name + " for a field named " + q});
    }
    return true;
  }
};

void pattern_vars(const ast::PatternNode& n, std::vector<std::string>& out) {
  if (n.kind == ast::PatternKind::Var) out.push_back(pattern::upper(n.var));
  for (const auto& c : n.children) pattern_vars(c, out);
}

}  // namespace

void strip_stream_qualifier(ast::Select& sel,
                            const std::function<bool(std::string_view)>& is_other_source,
                            std::vector<QualifierError>& errors) {
  if (!sel.joins.empty()) return;
  Rewriter r{sel.from, sel.from_alias, is_other_source, errors,
             sel.from_alias.empty() ? sel.from : sel.from_alias, {}};
  for (auto& it : sel.items) r.walk(it.expr);
  r.walk(sel.where);
  for (auto& g : sel.group_by) r.walk(g);
  r.walk(sel.having);
  for (auto& o : sel.order_by) r.walk(o.expr);
  if (auto* mr = sel.match_recognize.get()) {
    for (auto& p : mr->partition_by) r.walk(p);
    for (auto& o : mr->order_by) r.walk(o.expr);
    // In DEFINE and MEASURES `A.x` names pattern variable A's row: a variable spelled like the
    // stream keeps that meaning (the stream's own fields are then written without a qualifier).
    pattern_vars(mr->pattern, r.vars);
    for (auto& d : mr->defines) r.walk(d.cond);
    for (auto& m : mr->measures) r.walk(m.expr);
  }
}

}  // namespace streamgate::rules::plan
