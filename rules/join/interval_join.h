// Interval join of two streams (Flink's form): FROM a JOIN b ON a.k = b.k AND
// b.ts BETWEEN a.ts - INTERVAL '5' MINUTE AND a.ts. Rows of each side wait, by key, until the
// other side's watermark says no partner can come any more; each pair found is handed to the rule
// body as one combined row with the left row's event time. A LEFT JOIN's left row that found no
// partner by then is handed over once, with the right fields NULL (take_unmatched()). Owned by
// its RuleRuntime (worker thread). State is bounded by the interval and watermarks, and by
// max_pending_events.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/planner/plan.h"
#include "rules/value.h"

namespace streamgate::rules::join {

class IntervalJoin {
 public:
  using Body = std::function<void(const Value* slots, TimeNs event_time)>;

  void bind(const plan::RulePlan* plan) { plan_ = plan; }

  //! A left row (the rule's fields, plan.fields order; right-side fields are NULL). Calls body
  //! per right row it pairs with. False when it could not be kept (bound): counted by the caller.
  bool on_left(const Value* slots, TimeNs t, TimeNs now, std::uint64_t* eval_errors,
               std::size_t max_rows, const Body& body);
  //! A right row: `slots` are the right stream's fields of this rule (IntervalJoinPlan::
  //! right_fields order).
  bool on_right(const Value* slots, TimeNs t, TimeNs now, std::uint64_t* eval_errors,
                std::size_t max_rows, const Body& body);

  //! A side's watermark moved: rows that can no longer pair are dropped (a LEFT JOIN's unmatched
  //! left rows wait for take_unmatched()). Returns the rule's watermark, min(left, right - upper):
  //! no pair found later has an earlier event time.
  TimeNs on_watermark(bool right, TimeNs wm);
  //! LEFT JOIN: calls body once per left row that can no longer find a partner and found none
  //! (right fields NULL), in the order they expired; forgets them.
  void take_unmatched(const Body& body);
  TimeNs watermark() const;
  std::size_t size() const { return held_; }

  nlohmann::json save() const;
  void restore(const nlohmann::json& j, std::uint64_t* eval_errors);

 private:
  struct Held {
    TimeNs t = 0;
    std::vector<Value> row;  //!< full width (plan.fields), the other side's fields NULL
    bool matched = false;    //!< a left row that paired at least once (LEFT JOIN)
  };
  using Side = std::unordered_map<Value, std::vector<Held>, ValueHash>;

  bool hold(Side& side, std::multimap<TimeNs, Value>& expiry, Value key, Held h, TimeNs expires,
            std::size_t max_rows);
  void expire(Side& side, std::multimap<TimeNs, Value>& expiry, TimeNs before, bool right);
  std::vector<Value> widen_right(const Value* slots) const;

  const plan::RulePlan* plan_ = nullptr;
  Side left_, right_;
  //! (time the row stops being useful, key): watermark-driven cleanup in order.
  std::multimap<TimeNs, Value> left_expiry_, right_expiry_;
  std::size_t held_ = 0;
  TimeNs wm_left_ = kTimeMin;
  TimeNs wm_right_ = kTimeMin;
  std::vector<Value> pair_;  //!< scratch: the combined row
  //! LEFT JOIN: expired left rows without a partner, until take_unmatched(); bounded by the
  //! held rows they were (each watermark step hands them on).
  std::vector<Held> unmatched_;
};

}  // namespace streamgate::rules::join
