// See partition_check.h.
#include "rules/cluster/partition_check.h"

#include <functional>
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

}  // namespace

std::vector<RuleError> check_partition_key(std::string_view file_name, std::string_view text,
                                           std::string_view partition_field) {
  std::vector<RuleError> errors;
  const ast::ParseResult parsed = ast::parse(text);
  if (!parsed.errors.empty()) return errors;
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
      fail(st, sel.group_by.empty() ? sel.pos : sel.group_by.front()->pos,
           (sel.group_by.empty() ? std::string("an aggregate without GROUP BY")
                                 : std::string("GROUP BY does not include the partition key '") + field + "'") +
               " (fleet-wide aggregates need the two-phase merge, not available yet)");
    }
    if (sel.match_recognize && !names_field(sel.match_recognize->partition_by, field)) {
      fail(st, sel.match_recognize->pos, "MATCH_RECOGNIZE PARTITION BY does not include the partition key '" + field + "'");
    }
    if (unkeyed_stateful != nullptr) {
      fail(st, unkeyed_stateful->pos, unkeyed_stateful->name + "() needs OVER (PARTITION BY " + field + ")");
    }
  }
  return errors;
}

}  // namespace streamgate::rules
