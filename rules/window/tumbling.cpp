// Tumbling windows: one epoch-aligned window of `size` per event. TumblingWindow('5m') or
// eKuiper's TumblingWindow(mi, 5). A kind of the window registry (window_type.h).
#include <nlohmann/json.hpp>

#include "rules/window/fixed_windows.h"

namespace streamgate::rules::window {

Bounds tumbling_window(const plan::WindowSpec& w, TimeNs t) {
  const TimeNs start = align_down(t, w.size);
  return Bounds{start, sat_add(start, w.size)};
}

namespace {

class Tumbling final : public FixedWindows {
 public:
  using FixedWindows::FixedWindows;
  void on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm, TimeNs now,
              runtime::Output& out) override {
    bounds_.clear();
    bounds_.push_back(tumbling_window(rt_.plan().window, row.event_time));
    place(row, key, hash, wm, now, out);
  }
};

class TumblingType final : public WindowType {
 public:
  std::vector<std::string> names() const override { return {"tumblingwindow"}; }
  bool plan(WindowArgs& args, plan::WindowSpec& spec) const override {
    std::size_t i = 0;
    const auto size = args.duration(i, "size");
    if (!size || args.too_many(i)) return false;
    spec.size = spec.slide = *size;
    return true;
  }
  std::unique_ptr<WindowOperator> create(runtime::RuleRuntime& rt) const override {
    return std::make_unique<Tumbling>(rt);
  }
};

}  // namespace

void register_tumbling_window(WindowRegistry& r) { r.add(std::make_unique<TumblingType>()); }

}  // namespace streamgate::rules::window
