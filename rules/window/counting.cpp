// Counting windows, in arrival order of the rule's rows (after WHERE), over all keys:
//  - CountingWindow(n): every n rows form one window, aggregated incrementally;
//  - CountingWindow(n, m): every m rows, a window over the last n rows (fewer at the very start).
// window_start is the first row's event time and window_end the last row's event time + 1ns.
// A window that never filled is not emitted, also not by flush() (like eKuiper's CountWindow).
// With a slide, aggregate inputs are re-evaluated from the buffered rows at each firing, so a
// stateful call inside an aggregate argument sees each row once per window holding it.
#include "rules/runtime/rule_runtime.h"

namespace streamgate::rules::runtime {

void RuleRuntime::on_row_counting(const Row& row, const Value& key, std::uint64_t hash,
                                  TimeNs now, Output& out) {
  const auto& ws = plan_->window;
  if (ws.count_slide == 0) {
    if (!count_window_) {
      count_window_ = std::make_unique<WindowState>();
      count_window_->start = row.event_time;
      count_window_->end = row.event_time + 1;
    }
    WindowState& w = *count_window_;
    if (!add_to_window(w, row, key, hash)) return;
    w.start = std::min(w.start, row.event_time);
    w.end = std::max(w.end, row.event_time + 1);
    if (++count_in_window_ >= ws.count) {
      emit_window(w, w.start, w.end, id_prefix_ + "c" + std::to_string(count_windows_fired_) + "/",
                  now, out);
      ++count_windows_fired_;
      destroy_window(w);
      count_window_.reset();
      count_in_window_ = 0;
    }
    return;
  }
  BufferedRow br;
  br.event_time = row.event_time;
  br.slots.assign(row.slots, row.slots + plan_->slot_count);
  if (row.whole) br.whole = *row.whole;
  count_buffer_.push_back(std::move(br));
  while (static_cast<std::int64_t>(count_buffer_.size()) > ws.count) count_buffer_.pop_front();
  // CountingWindow(n, m) with n beyond max_pending_events: the oldest rows go early (the window
  // then covers fewer than n rows), counted and reported rather than growing without bound.
  while (count_buffer_.size() > options_->max_pending_events) {
    count_buffer_.pop_front();
    ++m_.dropped_rows;
    limit_hit(Limit::Pending);
  }
  if (++count_since_fire_ < ws.count_slide) return;
  count_since_fire_ = 0;
  WindowState w;
  w.start = count_buffer_.front().event_time;
  w.end = count_buffer_.front().event_time + 1;
  for (const auto& b : count_buffer_) {
    expr::Ctx ctx;
    ctx.slots = b.slots.data();
    ctx.event_time = b.event_time;
    ctx.now = now;
    ctx.stateful = this;
    ctx.eval_errors = &m_.eval_errors;
    Value k;
    const auto& keys = plan_->group_keys;
    if (keys.size() == 1) {
      k = expr::eval_value(*keys[0], ctx);
    } else if (keys.size() > 1) {
      Array a;
      for (const auto& e : keys) a.push_back(expr::eval_value(*e, ctx));
      k = Value(std::move(a));
    }
    ctx.partition_key = &k;
    if (plan_->aggregate_mode) eval_agg_inputs(ctx);
    Row r;
    r.slots = b.slots.data();
    r.event_time = b.event_time;
    r.whole = &b.whole;
    add_to_window(w, r, k, k.hash());
    w.start = std::min(w.start, b.event_time);
    w.end = std::max(w.end, b.event_time + 1);
  }
  emit_window(w, w.start, w.end, id_prefix_ + "c" + std::to_string(count_windows_fired_) + "/", now,
              out);
  ++count_windows_fired_;
  destroy_window(w);
}

}  // namespace streamgate::rules::runtime
