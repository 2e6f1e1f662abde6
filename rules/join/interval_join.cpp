// Interval join of two streams; see interval_join.h.
//
// With right.t - left.t in [lower, upper]: a left row can pair with right rows up to
// left.t + upper, so it is dropped once the right watermark passes that; a right row pairs with
// left rows from right.t - upper to right.t - lower, so it is dropped once the left watermark
// passes right.t - lower. A pair found when its right row arrives has left.t >= right.t - upper
// >= right watermark - upper, hence the rule's watermark min(left, right - upper).
#include "rules/join/interval_join.h"

#include <algorithm>

#include "rules/expr/expr.h"
#include "rules/join/key.h"

namespace streamgate::rules::join {

namespace {
TimeNs add(TimeNs a, TimeNs b) {
  if (a == kTimeMin || a == kTimeMax) return a;
  if (b > 0 && a > kTimeMax - b) return kTimeMax;
  if (b < 0 && a < kTimeMin - b) return kTimeMin;
  return a + b;
}
}  // namespace

std::vector<Value> IntervalJoin::widen_right(const Value* slots) const {
  std::vector<Value> row(static_cast<std::size_t>(plan_->slot_count));
  for (const auto& [field, right] : plan_->interval->fields)
    row[static_cast<std::size_t>(field)] = slots[right];
  return row;
}

bool IntervalJoin::hold(Side& side, std::multimap<TimeNs, Value>& expiry, Value key, Held h,
                        TimeNs expires, std::size_t max_rows) {
  if (held_ >= max_rows) return false;
  expiry.emplace(expires, key);
  side[std::move(key)].push_back(std::move(h));
  ++held_;
  return true;
}

bool IntervalJoin::on_left(const Value* slots, TimeNs t, TimeNs now, std::uint64_t* eval_errors,
                           std::size_t max_rows, const Body& body) {
  const plan::IntervalJoinPlan& ij = *plan_->interval;
  Held h{t, std::vector<Value>(slots, slots + plan_->slot_count)};
  Value key = row_key(ij.left_keys, h.row.data(), t, now, eval_errors);
  const TimeNs expires = add(t, ij.upper);
  // Pairs with nothing (SQL equality); a LEFT JOIN's row still comes out, when it would expire.
  if (key_has_null(key) && !ij.left) return true;
  if (auto it = key_has_null(key) ? right_.end() : right_.find(key); it != right_.end()) {
    for (const Held& r : it->second) {
      if (r.t < add(t, ij.lower) || r.t > add(t, ij.upper)) continue;  // saturating: no overflow
      h.matched = true;
      pair_ = h.row;
      for (const auto& [field, right] : ij.fields) pair_[static_cast<std::size_t>(field)] = r.row[static_cast<std::size_t>(field)];
      body(pair_.data(), t);
    }
  }
  // Too old to pair with a right row still to come: paired with those held, not kept.
  if (wm_right_ != kTimeMin && expires < wm_right_) {
    if (ij.left && !h.matched) unmatched_.push_back(std::move(h));
    return true;
  }
  return hold(left_, left_expiry_, std::move(key), std::move(h), expires, max_rows);
}

bool IntervalJoin::on_right(const Value* slots, TimeNs t, TimeNs now, std::uint64_t* eval_errors,
                            std::size_t max_rows, const Body& body) {
  const plan::IntervalJoinPlan& ij = *plan_->interval;
  Held h{t, widen_right(slots)};
  Value key = row_key(ij.right_keys, h.row.data(), t, now, eval_errors);
  if (key_has_null(key)) return true;
  if (auto it = left_.find(key); it != left_.end()) {
    for (Held& l : it->second) {
      if (t < add(l.t, ij.lower) || t > add(l.t, ij.upper)) continue;
      l.matched = true;
      pair_ = l.row;
      for (const auto& [field, right] : ij.fields) pair_[static_cast<std::size_t>(field)] = h.row[static_cast<std::size_t>(field)];
      body(pair_.data(), l.t);
    }
  }
  const TimeNs expires = add(t, -ij.lower);
  if (wm_left_ != kTimeMin && expires < wm_left_) return true;
  return hold(right_, right_expiry_, std::move(key), std::move(h), expires, max_rows);
}

void IntervalJoin::expire(Side& side, std::multimap<TimeNs, Value>& expiry, TimeNs before, bool right) {
  const plan::IntervalJoinPlan& ij = *plan_->interval;
  while (!expiry.empty() && expiry.begin()->first < before) {
    auto node = expiry.extract(expiry.begin());
    auto it = side.find(node.mapped());
    if (it == side.end()) continue;
    auto& rows = it->second;
    const auto n = rows.size();
    const auto gone = std::stable_partition(rows.begin(), rows.end(), [&](const Held& h) {
      return add(h.t, right ? -ij.lower : ij.upper) >= before;
    });
    if (!right && ij.left)
      for (auto g = gone; g != rows.end(); ++g)
        if (!g->matched) unmatched_.push_back(std::move(*g));
    rows.erase(gone, rows.end());
    held_ -= n - rows.size();
    if (rows.empty()) side.erase(it);
  }
}

TimeNs IntervalJoin::on_watermark(bool right, TimeNs wm) {
  if (right) {
    if (wm > wm_right_) wm_right_ = wm;
    expire(left_, left_expiry_, wm_right_, false);
  } else {
    if (wm > wm_left_) wm_left_ = wm;
    expire(right_, right_expiry_, wm_left_, true);
  }
  return watermark();
}

void IntervalJoin::take_unmatched(const Body& body) {
  if (unmatched_.empty()) return;
  // Expired in key order, not time order: the body sees them by event time, as they would have
  // arrived.
  std::stable_sort(unmatched_.begin(), unmatched_.end(), [](const Held& a, const Held& b) { return a.t < b.t; });
  std::vector<Held> rows;
  rows.swap(unmatched_);
  for (const Held& h : rows) body(h.row.data(), h.t);
}

TimeNs IntervalJoin::watermark() const {
  return std::min(wm_left_, add(wm_right_, -plan_->interval->upper));
}

nlohmann::json IntervalJoin::save() const {
  auto held = [](const Held& h) {
    nlohmann::json r = nlohmann::json::array();
    for (const auto& v : h.row) r.push_back(v.to_nlohmann());
    return nlohmann::json{h.t, std::move(r), h.matched};
  };
  auto side = [&](const Side& s) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& [key, rows] : s)
      for (const Held& h : rows) a.push_back(held(h));
    return a;
  };
  nlohmann::json unmatched = nlohmann::json::array();
  for (const Held& h : unmatched_) unmatched.push_back(held(h));
  return {{"wm_left", wm_left_},    {"wm_right", wm_right_}, {"left", side(left_)},
          {"right", side(right_)}, {"unmatched", std::move(unmatched)}};
}

void IntervalJoin::restore(const nlohmann::json& j, std::uint64_t* eval_errors) {
  const plan::IntervalJoinPlan& ij = *plan_->interval;
  left_.clear();
  right_.clear();
  left_expiry_.clear();
  right_expiry_.clear();
  held_ = 0;
  unmatched_.clear();
  wm_left_ = j.value("wm_left", kTimeMin);
  wm_right_ = j.value("wm_right", kTimeMin);
  auto side = [&](const nlohmann::json& a, bool right) {
    for (const auto& e : a) {
      Held h;
      h.t = e.at(0).get<TimeNs>();
      for (const auto& v : e.at(1)) h.row.push_back(Value::from_nlohmann(v));
      h.row.resize(static_cast<std::size_t>(plan_->slot_count));
      h.matched = e.size() > 2 && e.at(2).is_boolean() && e.at(2).get<bool>();
      // Keys are recomputed from the rows: the plan (same rule text) computes them the same way.
      Value key = row_key(right ? ij.right_keys : ij.left_keys, h.row.data(), h.t, 0, eval_errors);
      if (key_has_null(key) && (right || !ij.left)) continue;
      const TimeNs expires = add(h.t, right ? -ij.lower : ij.upper);
      hold(right ? right_ : left_, right ? right_expiry_ : left_expiry_, std::move(key), std::move(h),
           expires, static_cast<std::size_t>(-1));
    }
  };
  if (auto it = j.find("left"); it != j.end()) side(*it, false);
  if (auto it = j.find("right"); it != j.end()) side(*it, true);
  if (auto it = j.find("unmatched"); it != j.end()) {
    for (const auto& e : *it) {
      Held h;
      h.t = e.at(0).get<TimeNs>();
      for (const auto& v : e.at(1)) h.row.push_back(Value::from_nlohmann(v));
      h.row.resize(static_cast<std::size_t>(plan_->slot_count));
      unmatched_.push_back(std::move(h));
    }
  }
}

}  // namespace streamgate::rules::join
