// Window join of two streams (eKuiper's form): FROM a JOIN b ON a.k = b.k GROUP BY
// TUMBLINGWINDOW(ss, 10) (or a HOPPINGWINDOW). The rows of both streams wait, by event time,
// until the rule's watermark (the slower of the two streams') passes the end of a window; then
// the window's left rows are joined with its right rows of the same key and each combined row
// (the left row's event time) goes to the rule body, which aggregates them into that window
// alone. A LEFT JOIN also hands over each left row of the window that found no partner, with
// the right fields NULL. Owned by its RuleRuntime (worker thread). Held rows are bounded by
// max_pending_events, windows waiting to fire by max_open_windows; a window's joined rows by
// max_rows_per_window (the caller's bounds, counted by the caller).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/planner/plan.h"
#include "rules/value.h"
#include "rules/window/window.h"

namespace streamgate::rules::join {

class WindowJoin {
 public:
  struct Bounds {
    std::size_t max_rows = 0;     //!< rows held, both sides together
    std::size_t max_windows = 0;  //!< windows waiting to fire
  };
  //! What became of one arriving row.
  struct Outcome {
    bool late = false;          //!< every window holding it has fired (or it is in none)
    bool refused_row = false;   //!< not held: max_rows reached
    int refused_windows = 0;    //!< windows it would have opened, refused at max_windows
  };
  //! The window fired, its joined rows and its end: see fire().
  struct Fire {
    std::function<void(TimeNs start, TimeNs end)> open;
    std::function<void(const Value* slots, TimeNs event_time)> row;
    std::function<void(TimeNs start, TimeNs end, std::uint64_t refused)> close;
  };

  void bind(const plan::RulePlan* plan) { plan_ = plan; }

  //! A left row (the rule's fields, plan.fields order; right-side fields NULL).
  Outcome on_left(const Value* slots, TimeNs t, TimeNs now, std::uint64_t* eval_errors, const Bounds& b) {
    return add(false, slots, t, now, eval_errors, b);
  }
  //! A right row: the right stream's fields of this rule (IntervalJoinPlan::right_fields order).
  Outcome on_right(const Value* slots, TimeNs t, TimeNs now, std::uint64_t* eval_errors, const Bounds& b) {
    return add(true, slots, t, now, eval_errors, b);
  }

  //! A side's watermark moved; returns the rule's watermark, min(left, right).
  TimeNs on_watermark(bool right, TimeNs wm);
  TimeNs watermark() const { return std::min(wm_left_, wm_right_); }

  //! Fires every waiting window whose end <= watermark(), in order of end: open(), row() per
  //! joined row (at most `max_rows` per window: the rest is counted in close()'s `refused`),
  //! close(). Then drops the rows no window still to fire can hold.
  void fire(std::size_t max_rows, const Fire& f);

  std::size_t size() const { return left_.size() + right_.size(); }
  std::size_t open_windows() const { return windows_.size(); }

  nlohmann::json save() const;
  void restore(const nlohmann::json& j, std::uint64_t* eval_errors);

 private:
  struct Held {
    Value key;
    std::vector<Value> row;  //!< full width (plan.fields), the other side's fields NULL
  };
  using Rows = std::multimap<TimeNs, Held>;  //!< by event time; equal times in arrival order

  //! The windows holding t whose end is past the watermark (ascending end), into bounds_.
  void live_windows(TimeNs t);
  //! End of the last window holding t: the row is needed until the watermark reaches it.
  TimeNs last_end(TimeNs t) const;
  void prune(Rows& rows, TimeNs wm) const;
  bool hold(Rows& rows, TimeNs t, Held h, bool left, const Bounds& b, Outcome& o);
  Outcome add(bool right, const Value* slots, TimeNs t, TimeNs now, std::uint64_t* eval_errors,
              const Bounds& b);

  const plan::RulePlan* plan_ = nullptr;
  Rows left_, right_;
  std::set<std::pair<TimeNs, TimeNs>> windows_;  //!< (end, start) holding a left row, not fired
  TimeNs wm_left_ = kTimeMin;
  TimeNs wm_right_ = kTimeMin;
  std::vector<window::Bounds> bounds_;  //!< scratch
  std::unordered_map<Value, std::vector<const Held*>, ValueHash> index_;  //!< scratch: right rows by key
  std::vector<Value> pair_;  //!< scratch: the combined row
};

}  // namespace streamgate::rules::join
