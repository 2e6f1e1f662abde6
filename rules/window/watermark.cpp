// Watermark: max event time seen minus MAXOUTOFORDERNESS, monotonic.
#include "rules/window/window.h"

namespace streamgate::rules::window {

void Watermark::observe(TimeNs event_time, TimeNs max_out_of_order) {
  if (event_time > max_event_) max_event_ = event_time;
  TimeNs wm;
  if (__builtin_sub_overflow(max_event_, max_out_of_order, &wm)) wm = kTimeMin;
  advance_to(wm);
}

}  // namespace streamgate::rules::window
