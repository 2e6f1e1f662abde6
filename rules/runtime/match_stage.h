// MATCH_RECOGNIZE stage of a rule: buffers input rows until the watermark passes them (so each
// partition sees its rows in event-time order whatever order they arrived in), feeds them to the
// pattern matcher with DEFINE compiled as expressions, and turns each match into a row of the
// partition columns and MEASURES, which the rule then processes like an input row.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/engine.h"
#include "rules/expr/expr.h"
#include "rules/pattern/matcher.h"
#include "rules/planner/plan.h"

namespace streamgate::rules::runtime {

class MatchStage : public expr::NavHost {
 public:
  //! A match as a row: plan.match->columns values, with the event time of its last row.
  using OnRow = std::function<void(std::vector<Value>&& columns, TimeNs event_time)>;

  //! Partitions are bounded by options->max_group_keys; idle ones go after `idle_ttl`.
  MatchStage(const plan::MatchPlan* mp, const EngineOptions* options, TimeNs idle_ttl);

  //! Buffers one input row (`width` input slots). False when it is late: older than rows the
  //! matcher already saw (the caller routes it to the late output).
  bool add(const Value* slots, TimeNs event_time, std::uint64_t* dropped);
  //! Releases buffered rows up to `watermark` in event-time order into the matcher, then lets
  //! WITHIN expire (kTimeMax: end of input, every partial match ends).
  void release(TimeNs watermark, TimeNs now, std::uint64_t* eval_errors, const OnRow& on_row);

  void rebind(const plan::MatchPlan* mp) { mp_ = mp; }
  std::size_t pending() const { return pending_.size(); }
  pattern::MatcherStats stats() const { return matcher_.stats(); }

  nlohmann::json save() const;
  void restore(const nlohmann::json& j);

  Value navigate(const expr::Node& n, expr::Ctx& ctx) override;

 private:
  struct Pending {
    std::vector<Value> slots;
  };
  void on_match(const pattern::MatchView& m, const OnRow& on_row);

  const plan::MatchPlan* mp_;
  const EngineOptions* options_;
  pattern::Matcher matcher_;
  std::multimap<TimeNs, Pending> pending_;  //!< equal times keep arrival order
  TimeNs released_ = kTimeMin;              //!< rows at or before this went to the matcher
  // Navigation context of the expression being evaluated.
  const pattern::MatchView* view_ = nullptr;
  std::size_t current_ = 0;  //!< index of the current row in view_
  TimeNs now_ = 0;
  std::uint64_t* eval_errors_ = nullptr;
};

}  // namespace streamgate::rules::runtime
