// The operator tumbling and hopping windows share (window_type.h): windows with bounds known from
// the event time alone, kept by (end, start), fired in order of end once the watermark passes
// them, kept ALLOWEDLATENESS longer for late updates (each re-emitting the window) and for
// revisions of upstream rows (a revised row replaces its earlier version). Each kind computes
// the bounds of a row and calls place(). Owned by the rule's runtime, worker thread only.
#pragma once

#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "rules/runtime/rule_runtime.h"
#include "rules/window/window.h"
#include "rules/window/window_type.h"

namespace streamgate::rules::window {

class FixedWindows : public WindowOperator {
 public:
  explicit FixedWindows(runtime::RuleRuntime& rt) : rt_(rt) {}
  void advance(TimeNs wm, TimeNs now, runtime::Output& out) override;
  std::size_t open_windows() const override { return windows_.size(); }
  void save(nlohmann::json& state) const override;
  void restore(const nlohmann::json& state) override;
  void clear() override;
  runtime::WindowState* open_window(TimeNs start, TimeNs end) override;

 protected:
  //! Puts the row into each window of bounds_ (ascending end), opening those not open yet.
  void place(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm, TimeNs now,
             runtime::Output& out);

  runtime::RuleRuntime& rt_;
  std::vector<Bounds> bounds_;  //!< the current row's windows, filled by the kind

 private:
  //! A revised upstream row replaced one of w's: w's groups (or rows) are rebuilt from its
  //! remembered rows, through the rule body (keys, WHERE, aggregate inputs) again.
  void rebuild(runtime::WindowState*& w, TimeNs wm, TimeNs now, runtime::Output& out);
  void emit(runtime::WindowState& w, TimeNs now, runtime::Output& out);

  std::map<std::pair<TimeNs, TimeNs>, std::unique_ptr<runtime::WindowState>> windows_;  //!< (end,start)
  runtime::WindowState* last_ = nullptr;  //!< the window the previous row went to
};

}  // namespace streamgate::rules::window
