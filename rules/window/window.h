// Window assignment and watermarks. Time windows are epoch-aligned and half-open [start, end).
#pragma once

#include <utility>
#include <vector>

#include "rules/planner/plan.h"
#include "rules/time_util.h"

namespace streamgate::rules::window {

struct Bounds {
  TimeNs start;
  TimeNs end;
};

//! a + b without overflow (clamped to the int64 range): end + lateness near +infinity.
inline TimeNs sat_add(TimeNs a, TimeNs b) {
  TimeNs r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kTimeMax : kTimeMin;
  return r;
}

//! The tumbling window holding t.
Bounds tumbling_window(const plan::WindowSpec& w, TimeNs t);

//! Every hopping window [k*slide, k*slide + size) holding t, in order of end. `out` is reused.
void sliding_windows(const plan::WindowSpec& w, TimeNs t, std::vector<Bounds>& out);

//! Event-time progress of one stream: max event time seen minus the allowed out-of-orderness.
//! Never decreases.
class Watermark {
 public:
  void observe(TimeNs event_time, TimeNs max_out_of_order);
  //! Moves the watermark forward to at least wm (idle timeout, processing time, upstream rule).
  void advance_to(TimeNs wm) {
    if (wm > value_) value_ = wm;
  }
  TimeNs value() const { return value_; }
  TimeNs max_event_time() const { return max_event_; }
  void restore(TimeNs value, TimeNs max_event) {
    value_ = value;
    max_event_ = max_event;
  }

 private:
  TimeNs value_ = kTimeMin;
  TimeNs max_event_ = kTimeMin;
};

}  // namespace streamgate::rules::window
