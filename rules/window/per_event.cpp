// Per-event sliding windows (eKuiper's SLIDINGWINDOW(unit, size[, delay]),
// PerEventSlidingWindow('10s'[, '2s'])), a kind of the window registry (window_type.h): every
// accepted event t is the trigger of its own window, [t - size, t] (closed), or
// [t - size, t + delay) with a delay; the window fires when the watermark reaches t (+ delay)
// and holds every row of that range, including rows of other keys and rows that arrived after t.
// Rows wait until no pending or future trigger can reach back to them; both the rows and the
// pending triggers are checkpointed. Owned by the rule's runtime, worker thread only.
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "rules/runtime/rule_runtime.h"
#include "rules/window/window_type.h"

namespace streamgate::rules::window {

namespace {

using runtime::BufferedRow;
using runtime::RuleRuntime;
using runtime::WindowState;

class PerEvent final : public WindowOperator {
 public:
  explicit PerEvent(RuleRuntime& rt) : rt_(rt) {}
  void on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm, TimeNs now,
              runtime::Output& out) override;
  void advance(TimeNs wm, TimeNs now, runtime::Output& out) override;
  std::size_t open_windows() const override { return triggers_.size(); }
  void save(nlohmann::json& state) const override;
  void restore(const nlohmann::json& state) override;
  void clear() override {
    rows_.clear();
    triggers_.clear();
  }

 private:
  RuleRuntime& rt_;
  // Accepted rows by event time, and the events whose window has not fired yet (each event is
  // the trigger of its own window).
  std::multimap<TimeNs, BufferedRow> rows_;
  std::multiset<TimeNs> triggers_;
};

void PerEvent::on_row(const runtime::Row& row, const Value&, std::uint64_t, TimeNs wm, TimeNs,
                      runtime::Output& out) {
  const TimeNs fire_at = sat_add(row.event_time, rt_.plan().window.delay);
  if (fire_at < wm) {  // its own window is past, and the rows it could join are gone
    rt_.emit_late(row, wm, out);
    return;
  }
  // Bounded like the rows of open windows (but counted apart: firing a window copies its
  // rows into a window of its own, which must not be refused for the buffer's sake).
  if (rows_.size() >= rt_.options().max_pending_events) {
    ++rt_.counters().dropped_rows;
    rt_.limit_hit(RuleRuntime::Limit::Pending);
    return;
  }
  rows_.emplace(row.event_time, rt_.buffer_row(row));
  triggers_.insert(row.event_time);
  if (fire_at <= wm) rt_.mark_due();
}

void PerEvent::advance(TimeNs wm, TimeNs now, runtime::Output& out) {
  const auto& ws = rt_.plan().window;
  while (!triggers_.empty()) {
    const TimeNs t = *triggers_.begin();
    const TimeNs end = sat_add(t, ws.delay);
    if (end > wm) break;
    triggers_.erase(triggers_.begin());
    const TimeNs start = sat_add(t, -ws.size);
    WindowState w;
    w.start = start;
    w.end = end;
    auto lo = rows_.lower_bound(start);
    auto hi = ws.delay > 0 ? rows_.lower_bound(end) : rows_.upper_bound(t);
    std::vector<const BufferedRow*> rows;
    for (auto it = lo; it != hi; ++it) rows.push_back(&it->second);
    rt_.refill(w, rows, wm, now, out);
    // Several events may share a time: the emission index keeps their result ids apart.
    rt_.emit_window(w, start, end,
                    rt_.result_id_prefix() + std::to_string(t) + "/" + std::to_string(rt_.firings()) + "/",
                    now, out);
    rt_.destroy_window(w);
  }
  // A row is still needed while some trigger (pending, or one still to come: t >= wm - delay)
  // reaches back to it.
  TimeNs oldest_trigger = sat_add(wm, -ws.delay);
  if (!triggers_.empty()) oldest_trigger = std::min(oldest_trigger, *triggers_.begin());
  const TimeNs keep_from = sat_add(oldest_trigger, -ws.size);
  while (!rows_.empty() && rows_.begin()->first < keep_from) rows_.erase(rows_.begin());
}

void PerEvent::save(nlohmann::json& state) const {
  std::vector<BufferedRow> rows;
  rows.reserve(rows_.size());
  for (const auto& [t, r] : rows_) rows.push_back(r);
  state["per_event"] = {{"rows", RuleRuntime::rows_to_json(rows)},
                        {"triggers", std::vector<TimeNs>(triggers_.begin(), triggers_.end())}};
}

void PerEvent::restore(const nlohmann::json& state) {
  const auto p = state.find("per_event");
  if (p == state.end() || !p->is_object()) return;
  if (auto rows = p->find("rows"); rows != p->end()) {
    for (const auto& rj : *rows) {
      BufferedRow r = RuleRuntime::row_from_json(rj);
      const TimeNs t = r.event_time;
      rows_.emplace(t, std::move(r));
    }
  }
  if (auto triggers = p->find("triggers"); triggers != p->end())
    for (const auto& t : *triggers) triggers_.insert(t.get<TimeNs>());
  rt_.mark_due();
}

//! eKuiper's SLIDINGWINDOW(unit, size[, delay]) is a window per event, not a hop (which the
//! string form SlidingWindow('10s', '2s') is): it keeps eKuiper's meaning (issue 16).
//! PerEventSlidingWindow('10s'[, '2s']) says the same without the unit form.
class PerEventType final : public WindowType {
 public:
  std::vector<std::string> names() const override { return {"pereventslidingwindow", "slidingwindow"}; }
  bool claims(const WindowArgs& args) const override {
    return args.name() == "pereventslidingwindow" || (args.size() > 0 && args.unit(0));
  }
  bool plan(WindowArgs& args, plan::WindowSpec& spec) const override {
    std::size_t i = 0;
    const auto size = args.duration(i, "size");
    if (!size) return false;
    spec.size = *size;
    if (i < args.size()) {
      const auto delay = args.duration(i, "delay");
      if (!delay) return false;
      spec.delay = *delay;
    }
    return !args.too_many(i);
  }
  std::unique_ptr<WindowOperator> create(RuleRuntime& rt) const override {
    return std::make_unique<PerEvent>(rt);
  }
};

}  // namespace

void register_per_event_window(WindowRegistry& r) { r.add(std::make_unique<PerEventType>()); }

}  // namespace streamgate::rules::window
