// Stream-table join stage; see stream_table_join.h.
#include "rules/join/stream_table_join.h"

#include "rules/expr/expr.h"

namespace streamgate::rules::join {

void StreamTableJoin::bind(const plan::RulePlan* plan, std::vector<const table::Table*> tables) {
  plan_ = plan;
  tables_ = std::move(tables);
}

std::size_t StreamTableJoin::run(const Value* slots, const Value* whole, TimeNs event_time,
                                 TimeNs now, std::uint64_t* eval_errors,
                                 const std::function<void(const Value*, const Value*)>& body) {
  slots_.assign(slots, slots + plan_->slot_count);
  whole_ = whole;
  std::size_t n = 0;
  step(0, event_time, now, eval_errors, body, n);
  return n;
}

void StreamTableJoin::fill(std::size_t j, const std::vector<Value>* row) {
  for (const auto& [field, column] : plan_->joins[j].fields)
    slots_[static_cast<std::size_t>(field)] = row ? (*row)[static_cast<std::size_t>(column)] : Value();
}

void StreamTableJoin::step(std::size_t j, TimeNs event_time, TimeNs now, std::uint64_t* eval_errors,
                           const std::function<void(const Value*, const Value*)>& body, std::size_t& n) {
  if (j == plan_->joins.size()) {
    ++n;
    if (!whole_) {
      body(slots_.data(), nullptr);
      return;
    }
    // SELECT *: the event's fields, then each joined column the event does not have.
    Object o = whole_->is_object() ? whole_->as_object() : Object();
    for (std::size_t k = 0; k < plan_->joins.size(); ++k) {
      const auto& def = tables_[k]->def();
      for (const auto& [field, column] : plan_->joins[k].fields) {
        const std::string& name = def.columns[static_cast<std::size_t>(column)];
        bool present = false;
        for (const auto& [key, v] : o) present = present || key == name;
        if (!present) o.emplace_back(name, slots_[static_cast<std::size_t>(field)]);
      }
    }
    merged_ = Value(std::move(o));
    body(slots_.data(), &merged_);
    return;
  }
  const plan::TableJoin& tj = plan_->joins[j];
  expr::Ctx ctx;
  ctx.slots = slots_.data();
  ctx.event_time = event_time;
  ctx.now = now;
  ctx.eval_errors = eval_errors;
  Value probe;
  if (tj.probe.size() == 1) {
    probe = expr::eval_value(*tj.probe[0], ctx);
  } else {
    Array a;
    a.reserve(tj.probe.size());
    for (const auto& p : tj.probe) a.push_back(expr::eval_value(*p, ctx));
    probe = Value(std::move(a));
  }
  const table::Table& t = *tables_[j];
  // The stream side takes the column's declared type: a device sending "id": 7 finds the row
  // of a STRING id '7'. A value that cannot be converted matches nothing.
  const auto& cols = t.def().indexes[static_cast<std::size_t>(tj.index)];
  bool convertible = true;
  if (cols.size() == 1) {
    convertible = table::convert(t.def().types[static_cast<std::size_t>(cols[0])], probe);
  } else {
    Array a = probe.as_array();
    for (std::size_t k = 0; k < cols.size(); ++k)
      convertible = convertible && table::convert(t.def().types[static_cast<std::size_t>(cols[k])], a[k]);
    probe = Value(std::move(a));
  }
  const std::vector<std::uint32_t>* hits = convertible ? t.lookup(tj.index, probe) : nullptr;
  if (!hits || hits->empty()) {
    if (!tj.left) return;
    fill(j, nullptr);
    step(j + 1, event_time, now, eval_errors, body, n);
    return;
  }
  // Tables change only between events (MQTT rows, reloads): the ids stay valid meanwhile.
  for (std::uint32_t id : *hits) {
    fill(j, &t.row(id));
    step(j + 1, event_time, now, eval_errors, body, n);
  }
}

}  // namespace streamgate::rules::join
