// See partition_check.h.
#include "rules/cluster/partition_check.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>

#include "rules/ast.h"
#include "rules/function_registry.h"

namespace streamgate::rules {

namespace {

bool is_window(const ast::Expr& e) {
  if (e.kind != ast::ExprKind::Call) return false;
  const std::string& n = e.name;
  return n.size() > 6 && (n.compare(n.size() - 6, 6, "Window") == 0 || n.compare(n.size() - 6, 6, "window") == 0 ||
                          n.compare(n.size() - 6, 6, "WINDOW") == 0);
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

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

struct Refusal {
  ast::SourcePos pos;
  std::string why;
};

//! Why a fleet-wide rule cannot run in two phases (partial states per partition, merged by the
//! merge stage), or nothing when it can: a time window whose bounds every partition computes
//! alike, aggregates with an order-free merge, and an output that reads only aggregates, group
//! keys and window bounds (a group's "last event" has no meaning across partitions).
std::optional<Refusal> two_phase_refusal(const ast::Statement& st, const FunctionRegistry& registry) {
  const ast::Select& sel = *st.select;
  if (st.kind == ast::StatementKind::CreateAlert) return Refusal{st.pos, "a fleet-wide CREATE ALERT"};
  if (sel.match_recognize) return Refusal{sel.match_recognize->pos, "a fleet-wide aggregate over MATCH_RECOGNIZE"};
  const ast::Expr* window = nullptr;
  std::vector<std::string> keys;
  for (const auto& g : sel.group_by) {
    if (g && is_window(*g)) window = g.get();
    else if (g && g->kind == ast::ExprKind::Column) keys.push_back(g->name);
  }
  if (window == nullptr) return Refusal{sel.pos, "a fleet-wide aggregate without a time window"};
  const std::string w = lower(window->name);
  const bool hop = (w == "hoppingwindow" || w == "slidingwindow") && !window->children.empty() &&
                   window->children[0]->kind == ast::ExprKind::Literal;
  if (w != "tumblingwindow" && !hop) {
    return Refusal{window->pos, window->name + ": fleet-wide aggregates run in two phases over TumblingWindow or "
                                               "HoppingWindow only"};
  }
  std::vector<std::string> aliases;
  for (const auto& item : sel.items) aliases.push_back(item.alias);
  std::optional<Refusal> refusal;
  // Walks an output expression; aggregate arguments are evaluated on the partitions.
  std::function<void(const ast::Expr&)> output = [&](const ast::Expr& e) {
    if (refusal) return;
    if (e.kind == ast::ExprKind::Star) {
      refusal = Refusal{e.pos, "SELECT * in a fleet-wide aggregate"};
      return;
    }
    if (e.kind == ast::ExprKind::Column) {
      if (std::find(keys.begin(), keys.end(), e.name) == keys.end() &&
          std::find(aliases.begin(), aliases.end(), e.name) == aliases.end()) {
        refusal = Refusal{e.pos, "'" + e.name + "' outside an aggregate is a group's last event, which partitions "
                                               "cannot merge"};
      }
      return;
    }
    if (e.kind == ast::ExprKind::Call) {
      if (registry.stateful(e.name) != nullptr) {
        refusal = Refusal{e.pos, e.name + "() in a fleet-wide aggregate"};
        return;
      }
      if (registry.aggregate(e.name) != nullptr) {
        const std::string n = lower(e.name);
        if (n == "first_value" || n == "last_value") {
          refusal = Refusal{e.pos, e.name + "() has no merge across partitions (it depends on arrival order)"};
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
  return refusal;
}

}  // namespace

std::vector<RuleError> check_partition_key(std::string_view file_name, std::string_view text,
                                           std::string_view partition_field) {
  return plan_partitions(file_name, text, partition_field).errors;
}

PartitionPlan plan_partitions(std::string_view file_name, std::string_view text, std::string_view partition_field) {
  PartitionPlan result;
  std::vector<RuleError>& errors = result.errors;
  const ast::ParseResult parsed = ast::parse(text);
  if (!parsed.errors.empty()) return result;
  const FunctionRegistry& registry = FunctionRegistry::global();
  const std::string field(partition_field);
  auto fail = [&](const ast::Statement& st, ast::SourcePos pos, const std::string& what) {
    errors.push_back({std::string(file_name), pos.line, pos.column,
                      "rule '" + st.name + "': " + what +
                          ": in cluster mode one key's events would be split over several partitions"});
  };
  for (const auto& st : parsed.statements) {
    if (st.kind == ast::StatementKind::CreateStream || !st.select) continue;
    const ast::Select& sel = *st.select;
    bool keyed_groups = false;
    bool has_window = false;
    {
      std::vector<const ast::Expr*> keys;
      for (const auto& g : sel.group_by) {
        if (g && is_window(*g)) has_window = true;
        else if (g) keys.push_back(g.get());
      }
      for (const auto* k : keys) keyed_groups = keyed_groups || (k->kind == ast::ExprKind::Column && k->name == field);
    }
    bool aggregates = false;
    const ast::Expr* unkeyed_stateful = nullptr;
    auto scan = [&](const ast::Expr& e) {
      if (e.kind != ast::ExprKind::Call) return;
      if (registry.aggregate(e.name) != nullptr) aggregates = true;
      if (registry.stateful(e.name) != nullptr && !names_field(e.partition_by, field) && !keyed_groups &&
          unkeyed_stateful == nullptr) {
        unkeyed_stateful = &e;
      }
    };
    for (const auto& item : sel.items) visit(item.expr.get(), scan);
    visit(sel.where.get(), scan);
    visit(sel.having.get(), scan);
    // A MATCH_RECOGNIZE rule's SELECT reads its matches: its state is the pattern's partitions.
    const bool grouped = !sel.group_by.empty() || has_window || (aggregates && !sel.match_recognize);
    if (grouped && !keyed_groups) {
      if (auto refusal = two_phase_refusal(st, registry)) {
        fail(st, refusal->pos,
             (sel.group_by.empty() ? std::string("an aggregate without GROUP BY")
                                   : std::string("GROUP BY does not include the partition key '") + field + "'") +
                 " and the rule cannot run in two phases (" + refusal->why + ")");
      } else {
        result.two_phase.push_back(st.name);
      }
    }
    if (sel.match_recognize && !names_field(sel.match_recognize->partition_by, field)) {
      fail(st, sel.match_recognize->pos, "MATCH_RECOGNIZE PARTITION BY does not include the partition key '" + field + "'");
    }
    if (unkeyed_stateful != nullptr) {
      fail(st, unkeyed_stateful->pos, unkeyed_stateful->name + "() needs OVER (PARTITION BY " + field + ")");
    }
  }
  return result;
}

}  // namespace streamgate::rules
