// Per-event sliding windows (eKuiper's SLIDINGWINDOW(unit, size[, delay])): every accepted
// event t is the trigger of its own window, [t - size, t] (closed), or [t - size, t + delay)
// with a delay; the window fires when the watermark reaches t (+ delay) and holds every row of
// that range, including rows of other keys and rows that arrived after t. Rows wait in
// pe_rows_ until no pending or future trigger can reach back to them. Owned by the rule's
// worker, like all RuleRuntime state; not part of checkpoints.
#include "rules/runtime/rule_runtime.h"

namespace streamgate::rules::runtime {

void RuleRuntime::on_row_per_event(const Row& row, const Value& key, std::uint64_t hash, TimeNs wm,
                                   Output& out) {
  if (rebuilding_) {  // a buffered row, added to the window being fired
    add_to_window(*rebuilding_, row, key, hash);
    return;
  }
  const auto& ws = plan_->window;
  const TimeNs fire_at = window::sat_add(row.event_time, ws.delay);
  if (fire_at < wm) {  // its own window is past, and the rows it could join are gone
    emit_late(row, wm, out);
    return;
  }
  // Bounded like the rows of open windows (but counted apart: firing a window copies its
  // rows into a window of its own, which must not be refused for the buffer's sake).
  if (pe_rows_.size() >= options_->max_pending_events) {
    ++m_.dropped_rows;
    limit_hit(Limit::Pending);
    return;
  }
  BufferedRow br;
  br.event_time = row.event_time;
  br.slots.assign(row.slots, row.slots + plan_->slot_count);
  if (row.whole) br.whole = *row.whole;
  pe_rows_.emplace(row.event_time, std::move(br));
  pe_triggers_.insert(row.event_time);
  if (fire_at <= wm) due_ = true;
}

void RuleRuntime::advance_per_event(TimeNs wm, TimeNs now, Output& out) {
  const auto& ws = plan_->window;
  while (!pe_triggers_.empty()) {
    const TimeNs t = *pe_triggers_.begin();
    const TimeNs end = window::sat_add(t, ws.delay);
    if (end > wm) break;
    pe_triggers_.erase(pe_triggers_.begin());
    const TimeNs start = window::sat_add(t, -ws.size);
    WindowState w;
    w.start = start;
    w.end = end;
    auto lo = pe_rows_.lower_bound(start);
    auto hi = ws.delay > 0 ? pe_rows_.lower_bound(end) : pe_rows_.upper_bound(t);
    std::vector<const BufferedRow*> rows;
    for (auto it = lo; it != hi; ++it) rows.push_back(&it->second);
    refill(w, rows, wm, now, out);
    // Several events may share a time: the emission index keeps their result ids apart.
    emit_window(w, start, end, id_prefix_ + std::to_string(t) + "/" + std::to_string(firings_) + "/",
                now, out);
    destroy_window(w);
  }
  // A row is still needed while some trigger (pending, or one still to come: t >= wm - delay)
  // reaches back to it.
  TimeNs oldest_trigger = window::sat_add(wm, -ws.delay);
  if (!pe_triggers_.empty()) oldest_trigger = std::min(oldest_trigger, *pe_triggers_.begin());
  const TimeNs keep_from = window::sat_add(oldest_trigger, -ws.size);
  while (!pe_rows_.empty() && pe_rows_.begin()->first < keep_from) pe_rows_.erase(pe_rows_.begin());
}

}  // namespace streamgate::rules::runtime
