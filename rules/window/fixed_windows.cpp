// Fixed (tumbling and hopping) windows: see fixed_windows.h.
#include "rules/window/fixed_windows.h"

#include <nlohmann/json.hpp>

namespace streamgate::rules::window {

using runtime::RuleRuntime;
using runtime::WindowState;

void FixedWindows::emit(WindowState& w, TimeNs now, runtime::Output& out) {
  rt_.emit_window(w, w.start, w.end, rt_.result_id_prefix() + std::to_string(w.start) + "/", now, out);
}

void FixedWindows::place(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm,
                         TimeNs now, runtime::Output& out) {
  const EngineOptions& options = rt_.options();
  bool accepted = false, refused = false;
  for (const auto& b : bounds_) {
    WindowState* w = nullptr;
    if (last_ && last_->start == b.start && last_->end == b.end) {
      w = last_;
    } else {
      auto it = windows_.find({b.end, b.start});
      if (it != windows_.end()) w = it->second.get();
    }
    if (!w) {
      if (sat_add(b.end, rt_.lateness()) <= wm) continue;  // gone: late for this window
      if (windows_.size() >= options.max_open_windows) {
        ++rt_.counters().dropped_windows;
        rt_.limit_hit(RuleRuntime::Limit::Windows);
        refused = true;
        continue;
      }
      auto ws_ptr = std::make_unique<WindowState>();
      ws_ptr->start = b.start;
      ws_ptr->end = b.end;
      // A window already past the watermark (kept open by ALLOWEDLATENESS) fires at once.
      if (b.end <= wm) rt_.mark_due();
      // Keys tend to recur window after window: size the index once instead of doubling.
      if (rt_.plan().aggregate_mode) ws_ptr->groups.reserve(rt_.group_hint());
      w = ws_ptr.get();
      windows_.emplace(std::make_pair(b.end, b.start), std::move(ws_ptr));
    }
    last_ = w;
    rt_.set_hot_window(w);
    if (!row.origin.empty() && w->origins && w->origins->index.count(std::string(row.origin))) {
      // A revision of an upstream row this window holds: it replaces that row (issue 16: a
      // 5-minute rule over a corrected per-minute rule counted the minute twice).
      auto& o = *w->origins;
      runtime::BufferedRow& br = o.rows[o.index.find(std::string(row.origin))->second].second;
      br = rt_.buffer_row(row);
      rebuild(w, wm, now, out);
      accepted = true;
      if (w->fired) {
        ++w->revision;
        emit(*w, now, out);
      }
      continue;
    }
    if (rt_.add_to_window(*w, row, key, hash)) {
      accepted = true;
      if (!row.origin.empty()) rt_.remember_origin(*w, row);
      if (w->fired) {
        // Allowed lateness: update and re-emit the fired window.
        ++w->revision;
        emit(*w, now, out);
      }
    } else {
      refused = true;
    }
  }
  // An event in the gap of a hopping window whose hop exceeds its size belongs to no window:
  // it is not late, just outside every window.
  if (!accepted && !refused && !bounds_.empty()) rt_.emit_late(row, wm, out);
}

void FixedWindows::rebuild(WindowState*& w, TimeNs wm, TimeNs now, runtime::Output& out) {
  auto fresh = std::make_unique<WindowState>();
  fresh->start = w->start;
  fresh->end = w->end;
  fresh->fired = w->fired;
  fresh->revision = w->revision;
  fresh->origins = std::move(w->origins);
  rt_.destroy_window(*w);
  auto it = windows_.find({w->end, w->start});
  it->second = std::move(fresh);
  w = it->second.get();
  last_ = w;
  rt_.set_hot_window(w);
  std::vector<const runtime::BufferedRow*> rows;
  rows.reserve(w->origins->rows.size());
  for (const auto& [origin, br] : w->origins->rows) rows.push_back(&br);
  rt_.refill(*w, rows, wm, now, out);
}

void FixedWindows::advance(TimeNs wm, TimeNs now, runtime::Output& out) {
  for (auto it = windows_.begin(); it != windows_.end() && it->first.first <= wm; ++it) {
    WindowState& w = *it->second;
    if (!w.fired) {
      w.fired = true;
      emit(w, now, out);
    }
  }
  while (!windows_.empty()) {
    auto it = windows_.begin();
    if (sat_add(it->first.first, rt_.lateness()) > wm || !it->second->fired) break;
    if (last_ == it->second.get()) {
      last_ = nullptr;
      rt_.set_hot_window(nullptr);
    }
    rt_.destroy_window(*it->second);
    windows_.erase(it);
  }
}

void FixedWindows::save(nlohmann::json& state) const {
  nlohmann::json windows = nlohmann::json::array();
  for (const auto& [k, w] : windows_) windows.push_back(rt_.save_window(*w));
  state["windows"] = std::move(windows);
}

void FixedWindows::restore(const nlohmann::json& state) {
  if (auto w = state.find("windows"); w != state.end()) {
    for (const auto& wj : *w) {
      auto ws = std::make_unique<WindowState>();
      rt_.restore_window(*ws, wj);
      const auto key = std::make_pair(ws->end, ws->start);
      windows_.emplace(key, std::move(ws));
    }
  }
}

WindowState* FixedWindows::open_window(TimeNs start, TimeNs end) {
  auto it = windows_.find({end, start});
  if (it != windows_.end()) return it->second.get();
  if (windows_.size() >= rt_.options().max_open_windows) {
    ++rt_.counters().dropped_windows;
    rt_.limit_hit(RuleRuntime::Limit::Windows);
    return nullptr;
  }
  auto ws = std::make_unique<WindowState>();
  ws->start = start;
  ws->end = end;
  rt_.mark_due();
  return windows_.emplace(std::make_pair(end, start), std::move(ws)).first->second.get();
}

void FixedWindows::clear() {
  for (auto& [k, w] : windows_) rt_.destroy_window(*w);
  windows_.clear();
  last_ = nullptr;
  rt_.set_hot_window(nullptr);
}

}  // namespace streamgate::rules::window
