// Counting windows (a kind of the window registry, window_type.h), in arrival order of the
// rule's rows (after WHERE), over all keys:
//  - CountingWindow(n): every n rows form one window, aggregated incrementally;
//  - CountingWindow(n, m): every m rows, a window over the last n rows; nothing fires before the
//    first n rows have arrived (eKuiper's COUNTWINDOW(5, 2) fires at rows 6, 8, 10, ...: rows 2
//    and 4 are counted for the schedule but do not fire, as its windows documentation says).
// window_start is the first row's event time and window_end the last row's event time + 1ns.
// A window that never filled is not emitted, also not by flush() (like eKuiper's CountWindow).
// With a slide, aggregate inputs are re-evaluated from the buffered rows at each firing, so a
// stateful call inside an aggregate argument sees each row once per window holding it.
#include <deque>

#include <nlohmann/json.hpp>

#include "rules/runtime/rule_runtime.h"
#include "rules/window/window_type.h"

namespace streamgate::rules::window {

namespace {

using runtime::BufferedRow;
using runtime::RuleRuntime;
using runtime::WindowState;

class Counting final : public WindowOperator {
 public:
  explicit Counting(RuleRuntime& rt) : rt_(rt) {}
  void on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm, TimeNs now,
              runtime::Output& out) override;
  void advance(TimeNs, TimeNs, runtime::Output&) override {}  // counts, not time
  std::size_t open_windows() const override { return window_ ? 1 : 0; }
  void save(nlohmann::json& state) const override;
  void restore(const nlohmann::json& state) override;
  void clear() override {
    if (window_) rt_.destroy_window(*window_);
    window_.reset();
    buffer_.clear();
    in_window_ = since_fire_ = arrived_ = 0;
  }

 private:
  void emit(WindowState& w, TimeNs now, runtime::Output& out) {
    rt_.emit_window(w, w.start, w.end, rt_.result_id_prefix() + "c" + std::to_string(fired_) + "/", now, out);
    ++fired_;
  }

  RuleRuntime& rt_;
  std::unique_ptr<WindowState> window_;  //!< CountingWindow(n): the window filling up
  std::int64_t in_window_ = 0;
  std::deque<BufferedRow> buffer_;       //!< CountingWindow(n, m): the last n rows
  std::int64_t since_fire_ = 0;
  //! Rows seen, up to n: the buffer alone cannot tell, max_pending_events may have shortened it.
  std::int64_t arrived_ = 0;
  std::uint64_t fired_ = 0;
};

void Counting::on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs,
                      TimeNs now, runtime::Output& out) {
  const auto& ws = rt_.plan().window;
  if (ws.count_slide == 0) {
    if (!window_) {
      window_ = std::make_unique<WindowState>();
      window_->start = row.event_time;
      window_->end = row.event_time + 1;
    }
    WindowState& w = *window_;
    if (!rt_.add_to_window(w, row, key, hash)) return;
    w.start = std::min(w.start, row.event_time);
    w.end = std::max(w.end, row.event_time + 1);
    if (++in_window_ >= ws.count) {
      emit(w, now, out);
      rt_.destroy_window(w);
      window_.reset();
      in_window_ = 0;
    }
    return;
  }
  buffer_.push_back(rt_.buffer_row(row));
  while (static_cast<std::int64_t>(buffer_.size()) > ws.count) buffer_.pop_front();
  // CountingWindow(n, m) with n beyond max_pending_events: the oldest rows go early (the window
  // then covers fewer than n rows), counted and reported rather than growing without bound.
  while (buffer_.size() > rt_.options().max_pending_events) {
    buffer_.pop_front();
    ++rt_.counters().dropped_rows;
    rt_.limit_hit(RuleRuntime::Limit::Pending);
  }
  if (arrived_ < ws.count) ++arrived_;
  if (++since_fire_ < ws.count_slide) return;
  since_fire_ = 0;
  if (arrived_ < ws.count) return;  // not yet n rows: no partial window
  WindowState w;
  w.start = buffer_.front().event_time;
  w.end = buffer_.front().event_time + 1;
  const auto& plan = rt_.plan();
  for (const auto& b : buffer_) {
    expr::Ctx ctx;
    ctx.slots = b.slots.data();
    ctx.event_time = b.event_time;
    ctx.now = now;
    ctx.stateful = &rt_;
    ctx.eval_errors = &rt_.counters().eval_errors;
    Value k;
    const auto& keys = plan.group_keys;
    if (keys.size() == 1) {
      k = expr::eval_value(*keys[0], ctx);
    } else if (keys.size() > 1) {
      Array a;
      for (const auto& e : keys) a.push_back(expr::eval_value(*e, ctx));
      k = Value(std::move(a));
    }
    ctx.partition_key = &k;
    if (plan.aggregate_mode) rt_.eval_agg_inputs(ctx);
    runtime::Row r;
    r.slots = b.slots.data();
    r.event_time = b.event_time;
    r.whole = &b.whole;
    rt_.add_to_window(w, r, k, k.hash());
    w.start = std::min(w.start, b.event_time);
    w.end = std::max(w.end, b.event_time + 1);
  }
  emit(w, now, out);
  rt_.destroy_window(w);
}

void Counting::save(nlohmann::json& state) const {
  nlohmann::json j;
  j["window"] = window_ ? rt_.save_window(*window_) : nlohmann::json();
  j["in_window"] = in_window_;
  std::vector<BufferedRow> buf(buffer_.begin(), buffer_.end());
  j["buffer"] = RuleRuntime::rows_to_json(buf);
  j["since_fire"] = since_fire_;
  j["arrived"] = arrived_;
  j["fired"] = fired_;
  state["counting"] = std::move(j);
}

void Counting::restore(const nlohmann::json& state) {
  const auto c = state.find("counting");
  if (c == state.end() || !c->is_object()) return;
  const auto& j = *c;
  if (j.contains("window") && !j["window"].is_null()) {
    window_ = std::make_unique<WindowState>();
    rt_.restore_window(*window_, j["window"]);
  }
  in_window_ = j.value("in_window", std::int64_t{0});
  if (auto b = j.find("buffer"); b != j.end())
    for (const auto& rj : *b) buffer_.push_back(RuleRuntime::row_from_json(rj));
  since_fire_ = j.value("since_fire", std::int64_t{0});
  // A checkpoint from before "arrived" existed: its buffer held every row seen, up to n.
  arrived_ = j.value("arrived", static_cast<std::int64_t>(buffer_.size()));
  fired_ = j.value("fired", std::uint64_t{0});
}

//! CountingWindow(n[, m]), eKuiper's CountWindow(n[, m]).
class CountingType final : public WindowType {
 public:
  std::vector<std::string> names() const override { return {"countingwindow", "countwindow"}; }
  bool plan(WindowArgs& args, plan::WindowSpec& spec) const override {
    std::size_t i = 0;
    const auto count = args.positive_int(i, "count");
    if (!count) return false;
    spec.count = *count;
    if (i < args.size()) {
      const auto slide = args.positive_int(i, "slide");
      if (!slide) return false;
      spec.count_slide = *slide == *count ? 0 : *slide;
    }
    return !args.too_many(i);
  }
  std::unique_ptr<WindowOperator> create(RuleRuntime& rt) const override {
    return std::make_unique<Counting>(rt);
  }
};

}  // namespace

void register_counting_window(WindowRegistry& r) { r.add(std::make_unique<CountingType>()); }

}  // namespace streamgate::rules::window
