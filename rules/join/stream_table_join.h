// Stream-table join stage of a rule (FROM s JOIN t ON ...): per input row, looks up the rows of
// each joined table whose columns equal the row's ON expressions and hands the rule body one
// combined row per match (none for an inner join without a match; one with NULL table columns
// for a LEFT JOIN). Owned by its RuleRuntime (worker thread); reads the Engine's tables.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "rules/planner/plan.h"
#include "rules/table/table.h"
#include "rules/value.h"

namespace streamgate::rules::join {

class StreamTableJoin {
 public:
  //! `tables[i]` is the table of plan.joins[i]; they outlive the calls of run().
  void bind(const plan::RulePlan* plan, std::vector<const table::Table*> tables);

  //! `slots`: the rule's fields (plan.fields order; the join fields are overwritten here);
  //! `whole`: the event (null unless the rule selects `*`). Calls `body(slots, whole)` per
  //! combined row; returns the number of combined rows.
  std::size_t run(const Value* slots, const Value* whole, TimeNs event_time, TimeNs now,
                  std::uint64_t* eval_errors,
                  const std::function<void(const Value* slots, const Value* whole)>& body);

 private:
  void step(std::size_t j, TimeNs event_time, TimeNs now, std::uint64_t* eval_errors,
            const std::function<void(const Value*, const Value*)>& body, std::size_t& n);
  void fill(std::size_t j, const std::vector<Value>* row);

  const plan::RulePlan* plan_ = nullptr;
  std::vector<const table::Table*> tables_;
  std::vector<Value> slots_;  //!< the combined row being built
  const Value* whole_ = nullptr;
  Value merged_;              //!< `*`: the event plus the joined columns
};

}  // namespace streamgate::rules::join
