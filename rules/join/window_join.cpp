// Window join of two streams; see window_join.h.
//
// Rows are kept once each, by event time, not per window: a hopping window's rows are shared by
// the windows overlapping them, and a window's rows are the ones in [start, end) when it fires.
// Only windows holding a left row fire (an inner join of a window without one yields nothing,
// and so does a LEFT JOIN). A row stays until the last window holding it has fired.
#include "rules/join/window_join.h"

#include <algorithm>

#include "rules/join/key.h"
#include "rules/time_util.h"

namespace streamgate::rules::join {

void WindowJoin::live_windows(TimeNs t) {
  const plan::WindowSpec& ws = plan_->window;
  if (ws.slide == ws.size) {
    bounds_.assign(1, window::tumbling_window(ws, t));
  } else {
    window::sliding_windows(ws, t, bounds_);
  }
  const TimeNs wm = watermark();
  bounds_.erase(std::remove_if(bounds_.begin(), bounds_.end(), [&](const window::Bounds& b) { return b.end <= wm; }),
                bounds_.end());
}

TimeNs WindowJoin::last_end(TimeNs t) const {
  const plan::WindowSpec& ws = plan_->window;
  return window::sat_add(align_down(t, ws.slide), ws.size);
}

bool WindowJoin::hold(Rows& rows, TimeNs t, Held h, bool left, const Bounds& b, Outcome& o) {
  if (size() >= b.max_rows) {
    o.refused_row = true;
    return false;
  }
  if (left) {
    for (const auto& w : bounds_) {
      const auto k = std::make_pair(w.end, w.start);
      if (windows_.count(k)) continue;
      if (windows_.size() >= b.max_windows) {
        ++o.refused_windows;
        continue;
      }
      windows_.insert(k);
    }
  }
  rows.emplace(t, std::move(h));
  return true;
}

WindowJoin::Outcome WindowJoin::add(bool right, const Value* slots, TimeNs t, TimeNs now,
                                    std::uint64_t* eval_errors, const Bounds& b) {
  Outcome o;
  live_windows(t);
  if (bounds_.empty()) {
    o.late = true;
    return o;
  }
  const plan::IntervalJoinPlan& ij = *plan_->interval;
  Held h;
  if (right) {
    h.row.resize(static_cast<std::size_t>(plan_->slot_count));
    for (const auto& [field, r] : ij.fields) h.row[static_cast<std::size_t>(field)] = slots[r];
  } else {
    h.row.assign(slots, slots + plan_->slot_count);
  }
  h.key = row_key(right ? ij.right_keys : ij.left_keys, h.row.data(), t, now, eval_errors);
  // A row with a NULL key pairs with nothing: not kept, except a LEFT JOIN's left row, which
  // still comes out (with NULLs) when its window fires.
  if (key_has_null(h.key) && (right || !ij.left)) return o;
  hold(right ? right_ : left_, t, std::move(h), !right, b, o);
  return o;
}

TimeNs WindowJoin::on_watermark(bool right, TimeNs wm) {
  TimeNs& w = right ? wm_right_ : wm_left_;
  if (wm > w) w = wm;
  return watermark();
}

void WindowJoin::prune(Rows& rows, TimeNs wm) const {
  // last_end() grows with t: the rows to drop are a prefix.
  while (!rows.empty() && last_end(rows.begin()->first) <= wm) rows.erase(rows.begin());
}

void WindowJoin::fire(std::size_t max_rows, const Fire& f) {
  const TimeNs wm = watermark();
  const plan::IntervalJoinPlan& ij = *plan_->interval;
  while (!windows_.empty() && windows_.begin()->first <= wm) {
    const auto [end, start] = *windows_.begin();
    windows_.erase(windows_.begin());
    index_.clear();
    for (auto it = right_.lower_bound(start); it != right_.end() && it->first < end; ++it)
      index_[it->second.key].push_back(&it->second);
    std::size_t n = 0;
    std::uint64_t refused = 0;
    auto row = [&](const Value* slots, TimeNs t) {
      if (n >= max_rows) {
        ++refused;
        return;
      }
      ++n;
      f.row(slots, t);
    };
    f.open(start, end);
    for (auto it = left_.lower_bound(start); it != left_.end() && it->first < end; ++it) {
      const Held& l = it->second;
      const auto m = key_has_null(l.key) ? index_.end() : index_.find(l.key);
      if (m == index_.end()) {
        if (ij.left) row(l.row.data(), it->first);
        continue;
      }
      for (const Held* r : m->second) {
        pair_ = l.row;
        for (const auto& [field, right] : ij.fields)
          pair_[static_cast<std::size_t>(field)] = r->row[static_cast<std::size_t>(field)];
        row(pair_.data(), it->first);
      }
    }
    index_.clear();
    f.close(start, end, refused);
  }
  prune(left_, wm);
  prune(right_, wm);
}

nlohmann::json WindowJoin::save() const {
  auto side = [](const Rows& rows) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& [t, h] : rows) {
      nlohmann::json r = nlohmann::json::array();
      for (const auto& v : h.row) r.push_back(v.to_nlohmann());
      a.push_back({t, std::move(r)});
    }
    return a;
  };
  nlohmann::json windows = nlohmann::json::array();
  for (const auto& [end, start] : windows_) windows.push_back({start, end});
  return {{"wm_left", wm_left_}, {"wm_right", wm_right_}, {"left", side(left_)}, {"right", side(right_)},
          {"windows", std::move(windows)}};
}

void WindowJoin::restore(const nlohmann::json& j, std::uint64_t* eval_errors) {
  const plan::IntervalJoinPlan& ij = *plan_->interval;
  left_.clear();
  right_.clear();
  windows_.clear();
  wm_left_ = j.value("wm_left", kTimeMin);
  wm_right_ = j.value("wm_right", kTimeMin);
  auto side = [&](const nlohmann::json& a, bool right) {
    for (const auto& e : a) {
      Held h;
      const TimeNs t = e.at(0).get<TimeNs>();
      for (const auto& v : e.at(1)) h.row.push_back(Value::from_nlohmann(v));
      h.row.resize(static_cast<std::size_t>(plan_->slot_count));
      // Keys are recomputed from the rows: the plan (same rule text) computes them the same way.
      h.key = row_key(right ? ij.right_keys : ij.left_keys, h.row.data(), t, 0, eval_errors);
      (right ? right_ : left_).emplace(t, std::move(h));
    }
  };
  if (auto it = j.find("left"); it != j.end()) side(*it, false);
  if (auto it = j.find("right"); it != j.end()) side(*it, true);
  if (auto it = j.find("windows"); it != j.end())
    for (const auto& w : *it) windows_.emplace(w.at(1).get<TimeNs>(), w.at(0).get<TimeNs>());
}

}  // namespace streamgate::rules::join
