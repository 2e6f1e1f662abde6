// See partition_check.h.
#include "rules/cluster/partition_check.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "rules/ascii_lower.h"
#include "rules/ast.h"
#include "rules/function_registry.h"
#include "rules/planner/function_class.h"

namespace streamgate::rules {

namespace {

bool is_window(const FunctionRegistry& registry, const ast::Expr& e) {
  return e.kind == ast::ExprKind::Call && classify_call(registry, e) == FnClass::Window;
}

bool names_field(const std::vector<ast::ExprPtr>& keys, std::string_view field) {
  for (const auto& k : keys) {
    if (k && k->kind == ast::ExprKind::Column && k->name == field) return true;
  }
  return false;
}

void visit(const ast::Expr* e, const std::function<void(const ast::Expr&)>& f) {
  if (e == nullptr) return;
  f(*e);
  for (const auto& c : e->children) visit(c.get(), f);
  visit(e->filter.get(), f);
  for (const auto& c : e->partition_by) visit(c.get(), f);
}

struct Refusal {
  ast::SourcePos pos;
  std::string why;
};

//! An analytic (stateful) call and an aggregate call, as the planner classifies them.
bool is_analytic(const FunctionRegistry& registry, const ast::Expr& e, bool windowed) {
  return e.kind == ast::ExprKind::Call && classify_call(registry, e, windowed) == FnClass::Stateful;
}

bool is_aggregate_call(const FunctionRegistry& registry, const ast::Expr& e, bool windowed) {
  return e.kind == ast::ExprKind::Call && classify_call(registry, e, windowed) == FnClass::Aggregate;
}

//! Why a fleet-wide rule cannot run in two phases (partial states per partition, merged by the
//! merge stage), or nothing when it can: a time window whose bounds every partition computes
//! alike and aggregates with a merge. first_value / last_value and a group's last event (bare
//! columns, SELECT *) merge by event time (merge_group across partitions).
std::optional<Refusal> two_phase_refusal(const ast::Statement& st, const FunctionRegistry& registry) {
  const ast::Select& sel = *st.select;
  if (st.kind == ast::StatementKind::CreateAlert) return Refusal{st.pos, "a fleet-wide CREATE ALERT"};
  if (sel.match_recognize) return Refusal{sel.match_recognize->pos, "a fleet-wide aggregate over MATCH_RECOGNIZE"};
  const ast::Expr* window = nullptr;
  bool group_keys = false;
  for (const auto& g : sel.group_by) {
    if (g && is_window(registry, *g)) window = g.get();
    else if (g) group_keys = true;
  }
  if (window == nullptr) return Refusal{sel.pos, "a fleet-wide aggregate without a time window"};
  const std::string w = ascii_lower(window->name);
  const bool hop = (w == "hoppingwindow" || w == "slidingwindow") && !window->children.empty() &&
                   window->children[0]->kind == ast::ExprKind::Literal;
  if (w != "tumblingwindow" && !hop) {
    return Refusal{window->pos, window->name + ": fleet-wide aggregates run in two phases over TumblingWindow or "
                                               "HoppingWindow only"};
  }
  std::optional<Refusal> refusal;
  bool aggregates = false;
  // Walks an output expression; aggregate arguments are evaluated on the partitions.
  std::function<void(const ast::Expr&)> output = [&](const ast::Expr& e) {
    if (refusal) return;
    if (e.kind == ast::ExprKind::Call) {
      if (registry.aggregate(e.name) != nullptr) {
        aggregates = aggregates || is_aggregate_call(registry, e, /*windowed=*/true);
        const std::string n = ascii_lower(e.name);
        if ((n == "first_value" || n == "last_value") && e.distinct) {
          refusal = Refusal{e.pos, e.name + "(DISTINCT ...): a DISTINCT set keeps no event times to merge by"};
        }
        return;
      }
    }
    for (const auto& c : e.children) output(*c);
  };
  for (const auto& item : sel.items) {
    if (item.expr) output(*item.expr);
  }
  if (sel.having) output(*sel.having);
  for (const auto& o : sel.order_by) {
    if (o.expr) output(*o.expr);
  }
  // Without aggregates or keys a window emits its rows (SELECT * ... GROUP BY TumblingWindow):
  // there are no states to merge, and the rows' order across partitions is not one box's.
  if (!refusal && !aggregates && !group_keys) {
    refusal = Refusal{window->pos, "a window without aggregates or GROUP BY keys emits its rows, which partitions "
                                   "do not merge"};
  }
  return refusal;
}

struct AnalyticUse {
  const ast::Expr* call;
  //! Evaluated per input event (WHERE, a GROUP BY key, an aggregate's argument or FILTER, any
  //! expression of a rule without aggregates): on the partition that holds the event. Otherwise
  //! per output row of a fired group, over its aggregates: at the merge stage for a fleet-wide
  //! rule, where windows fire in order as on one box.
  bool per_event;
};

void collect_analytics(const ast::Expr* e, bool per_event, bool windowed, const FunctionRegistry& registry,
                       std::vector<AnalyticUse>& out) {
  if (e == nullptr) return;
  if (is_analytic(registry, *e, windowed)) out.push_back({e, per_event});
  const bool inner = per_event || is_aggregate_call(registry, *e, windowed);
  for (const auto& c : e->children) collect_analytics(c.get(), inner, windowed, registry, out);
  collect_analytics(e->filter.get(), inner, windowed, registry, out);
  for (const auto& c : e->partition_by) collect_analytics(c.get(), per_event, windowed, registry, out);
}

//! Which side of a two-stream join `e` names the partition field of: 1 the left (FROM) stream
//! (unqualified, or qualified by its name or alias), 2 the joined stream, 0 neither.
int partition_side(const ast::Expr& e, const ast::Select& sel, const ast::Join& j, const std::string& field) {
  if (e.kind == ast::ExprKind::Column) return e.name == field ? 1 : 0;
  if (e.kind != ast::ExprKind::Member || e.name != field || e.children.size() != 1 ||
      e.children[0]->kind != ast::ExprKind::Column)
    return 0;
  const std::string& q = e.children[0]->name;
  if (q == j.name || (!j.alias.empty() && q == j.alias)) return 2;
  if (q == sel.from || (!sel.from_alias.empty() && q == sel.from_alias)) return 1;
  return 0;
}

//! Whether the ON of a two-stream join holds `left.field = right.field` among its ANDed terms:
//! then both rows of every pair come from one device, which one partition holds.
bool joins_on_partition_field(const ast::Expr* on, const ast::Select& sel, const ast::Join& j,
                              const std::string& field) {
  if (on == nullptr || on->kind != ast::ExprKind::Binary) return false;
  if (on->op == ast::Op::And) {
    return joins_on_partition_field(on->children[0].get(), sel, j, field) ||
           joins_on_partition_field(on->children[1].get(), sel, j, field);
  }
  if (on->op != ast::Op::Eq) return false;
  const int a = partition_side(*on->children[0], sel, j, field);
  const int b = partition_side(*on->children[1], sel, j, field);
  return (a == 1 && b == 2) || (a == 2 && b == 1);
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

std::vector<RuleError> check_partition_key(std::string_view file_name, std::string_view text,
                                           std::string_view partition_field, PartitionContext* context) {
  return plan_partitions(file_name, text, partition_field, context).errors;
}

PartitionPlan plan_partitions(std::string_view file_name, std::string_view text, std::string_view partition_field,
                              PartitionContext* context) {
  PartitionPlan result;
  std::vector<RuleError>& errors = result.errors;
  const ast::ParseResult parsed = ast::parse(text);
  if (!parsed.errors.empty()) return result;
  const FunctionRegistry& registry = FunctionRegistry::global();
  const std::string field(partition_field);
  PartitionContext local;
  PartitionContext& known = context != nullptr ? *context : local;
  for (const auto& st : parsed.statements) {
    if (st.kind == ast::StatementKind::CreateTable && !contains(known.tables, st.name)) known.tables.push_back(st.name);
  }
  auto fail = [&](const ast::Statement& st, ast::SourcePos pos, const std::string& what) {
    errors.push_back({std::string(file_name), pos.line, pos.column,
                      "rule '" + st.name + "': " + what +
                          ": in cluster mode one key's events would be split over several partitions"});
  };
  for (const auto& st : parsed.statements) {
    if (st.kind == ast::StatementKind::CreateStream || !st.select) continue;
    const ast::Select& sel = *st.select;
    // A rule reading a fleet-wide rule's rows runs where they are: at the merge stage, whose one
    // engine sees every row, so nothing of it needs the partition key. Its other input must be
    // there too: a table (loaded on every instance) or another fleet-wide rule's rows.
    const bool reads_fleet = contains(known.fleet_wide, sel.from) ||
                             std::any_of(sel.joins.begin(), sel.joins.end(),
                                         [&](const ast::Join& j) { return contains(known.fleet_wide, j.name); });
    if (reads_fleet) {
      std::optional<std::pair<ast::SourcePos, std::string>> elsewhere;
      if (!contains(known.fleet_wide, sel.from)) elsewhere.emplace(sel.from_pos, sel.from);
      for (const auto& j : sel.joins) {
        if (!elsewhere && !contains(known.fleet_wide, j.name) && !contains(known.tables, j.name))
          elsewhere.emplace(j.name_pos, j.name);
      }
      if (elsewhere) {
        fail(st, elsewhere->first,
             "joins the rows of a fleet-wide rule (they exist only at the merge stage) with stream " +
                 elsewhere->second + " (its rows are on the partitions)");
      } else {
        result.merge_stage.push_back(st.name);
        known.fleet_wide.push_back(st.name);
      }
      continue;
    }
    // A join of two streams pairs rows of one key: both rows are in one partition only when the
    // key includes the partition field of both streams. A table is loaded on every instance.
    for (const auto& j : sel.joins) {
      if (contains(known.tables, j.name) || joins_on_partition_field(j.on.get(), sel, j, field)) continue;
      const std::string right = j.alias.empty() ? j.name : j.alias;
      const std::string left = sel.from_alias.empty() ? sel.from : sel.from_alias;
      fail(st, j.pos,
           "a join of two streams whose ON does not include " + left + "." + field + " = " + right + "." + field);
    }
    bool keyed_groups = false;
    bool has_window = false;
    {
      std::vector<const ast::Expr*> keys;
      for (const auto& g : sel.group_by) {
        if (g && is_window(registry, *g)) has_window = true;
        else if (g) keys.push_back(g.get());
      }
      for (const auto* k : keys) keyed_groups = keyed_groups || (k->kind == ast::ExprKind::Column && k->name == field);
    }
    bool aggregates = false;
    auto scan = [&](const ast::Expr& e) {
      aggregates = aggregates || is_aggregate_call(registry, e, has_window);
    };
    for (const auto& item : sel.items) visit(item.expr.get(), scan);
    visit(sel.where.get(), scan);
    visit(sel.having.get(), scan);
    // A MATCH_RECOGNIZE rule's SELECT reads its matches: its state is the pattern's partitions.
    const bool grouped = !sel.group_by.empty() || has_window || (aggregates && !sel.match_recognize);
    // Analytic functions: per event they keep state per key, which must be the partition field
    // (a group key that includes it, or OVER (PARTITION BY it)); over a fleet-wide rule's
    // aggregates they run at the merge stage (their state in its checkpoint), as on one box.
    std::vector<AnalyticUse> analytics;
    for (const auto& item : sel.items) collect_analytics(item.expr.get(), !grouped, has_window, registry, analytics);
    collect_analytics(sel.where.get(), true, has_window, registry, analytics);
    for (const auto& g : sel.group_by) {
      if (g && !is_window(registry, *g)) collect_analytics(g.get(), true, has_window, registry, analytics);
    }
    collect_analytics(sel.having.get(), !grouped, has_window, registry, analytics);
    for (const auto& o : sel.order_by) collect_analytics(o.expr.get(), !grouped, has_window, registry, analytics);
    const ast::Expr* unkeyed_stateful = nullptr;
    for (const auto& a : analytics) {
      if (!keyed_groups && a.per_event && !names_field(a.call->partition_by, field)) {
        unkeyed_stateful = a.call;
        break;
      }
    }
    // At the merge stage a group row has its keys, aggregates and SELECT aliases, no last event:
    // an analytic call's PARTITION BY there may read only those.
    const ast::Expr* unmerged_partition = nullptr;
    if (grouped && !keyed_groups) {
      std::vector<std::string> readable;
      for (const auto& g : sel.group_by)
        if (g && g->kind == ast::ExprKind::Column) readable.push_back(g->name);
      for (const auto& item : sel.items) readable.push_back(item.alias);
      for (const auto& a : analytics) {
        if (a.per_event || unmerged_partition != nullptr) continue;
        for (const auto& p : a.call->partition_by) {
          visit(p.get(), [&](const ast::Expr& e) {
            if (e.kind == ast::ExprKind::Column && !contains(readable, e.name) && unmerged_partition == nullptr)
              unmerged_partition = &e;
          });
        }
      }
    }
    if (grouped && !keyed_groups) {
      if (auto refusal = two_phase_refusal(st, registry)) {
        fail(st, refusal->pos,
             (sel.group_by.empty() ? std::string("an aggregate without GROUP BY")
                                   : std::string("GROUP BY does not include the partition key '") + field + "'") +
                 " and the rule cannot run in two phases (" + refusal->why + ")");
      } else {
        result.two_phase.push_back(st.name);
        known.fleet_wide.push_back(st.name);
      }
    }
    if (sel.match_recognize && !names_field(sel.match_recognize->partition_by, field)) {
      fail(st, sel.match_recognize->pos, "MATCH_RECOGNIZE PARTITION BY does not include the partition key '" + field + "'");
    }
    if (unmerged_partition != nullptr) {
      fail(st, unmerged_partition->pos,
           "'" + unmerged_partition->name + "' in the PARTITION BY of an analytic function over fleet-wide aggregates "
           "is a group's last event, which partitions cannot merge");
    }
    if (unkeyed_stateful != nullptr) {
      fail(st, unkeyed_stateful->pos,
           unkeyed_stateful->name + "() needs OVER (PARTITION BY " + field + ")" +
               (grouped ? " (it is evaluated per event, on the partitions; an analytic function over a fleet-wide "
                          "rule's aggregates runs at the merge stage)"
                        : ""));
    }
  }
  return result;
}

}  // namespace streamgate::rules
