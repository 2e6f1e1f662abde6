// Hopping windows: [k*slide, k*slide + size) for every k whose window holds t.
// HoppingWindow('10s', '5s'), SlidingWindow('10s', '5s') (the string form; eKuiper's
// SLIDINGWINDOW(ss, 10) is per event, per_event.cpp), HOPPINGWINDOW(ss, 10, 5).
// A kind of the window registry (window_type.h).
#include <nlohmann/json.hpp>

#include "rules/window/fixed_windows.h"

namespace streamgate::rules::window {

void sliding_windows(const plan::WindowSpec& w, TimeNs t, std::vector<Bounds>& out) {
  out.clear();
  // Latest window start <= t, then walk back while the window still covers t.
  TimeNs start = align_down(t, w.slide);
  while (sat_add(start, w.size) > t) {
    out.push_back(Bounds{start, sat_add(start, w.size)});
    if (__builtin_sub_overflow(start, w.slide, &start)) break;
  }
  // Collected from the latest start backwards; callers want ascending end.
  for (std::size_t i = 0, j = out.size(); i + 1 < j; ++i, --j) std::swap(out[i], out[j - 1]);
}

namespace {

class Hopping final : public FixedWindows {
 public:
  using FixedWindows::FixedWindows;
  void on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm, TimeNs now,
              runtime::Output& out) override {
    sliding_windows(rt_.plan().window, row.event_time, bounds_);
    place(row, key, hash, wm, now, out);
  }
};

class HoppingType final : public WindowType {
 public:
  std::vector<std::string> names() const override { return {"hoppingwindow", "slidingwindow"}; }
  bool plan(WindowArgs& args, plan::WindowSpec& spec) const override {
    std::size_t i = 0;
    const auto size = args.duration(i, "size");
    if (!size) return false;
    const auto slide = args.duration(i, "slide");
    if (!slide || args.too_many(i)) return false;
    spec.size = *size;
    spec.slide = *slide;
    return true;
  }
  std::unique_ptr<WindowOperator> create(runtime::RuleRuntime& rt) const override {
    return std::make_unique<Hopping>(rt);
  }
};

}  // namespace

void register_hopping_window(WindowRegistry& r) { r.add(std::make_unique<HoppingType>()); }

}  // namespace streamgate::rules::window
