// State windows, eKuiper's STATEWINDOW(begin_condition, end_condition), a kind of the window
// registry (window_type.h). Per GROUP BY key, in arrival order of the rule's rows (after WHERE,
// like counting windows; no watermark, nothing is late): a key without an open window ignores
// rows until one meets begin_condition, which opens the key's window with that row; every row of
// the key then enters the window, and the first that meets end_condition (the opening row
// included) closes it: the window is emitted with that row in it. window_start is the first
// row's event time, window_end the last row's + 1ns. A window still open at the end of input is
// not emitted (its end never came). Open windows count against max_open_windows; their state is
// checkpointed. Owned by the rule's runtime, worker thread only.
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "rules/runtime/rule_runtime.h"
#include "rules/window/window_type.h"

namespace streamgate::rules::window {

namespace {

using runtime::RuleRuntime;
using runtime::WindowState;

class StateWindows final : public WindowOperator {
 public:
  explicit StateWindows(RuleRuntime& rt) : rt_(rt) {}
  void on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm, TimeNs now,
              runtime::Output& out) override;
  void advance(TimeNs, TimeNs, runtime::Output&) override {}  // conditions, not time
  std::size_t open_windows() const override { return open_.size(); }
  void save(nlohmann::json& state) const override;
  void restore(const nlohmann::json& state) override;
  void clear() override {
    for (auto& [k, w] : open_) rt_.destroy_window(*w);
    open_.clear();
  }

 private:
  bool holds(std::size_t which, const runtime::Row& row, const Value& key, TimeNs now) {
    expr::Ctx ctx;
    ctx.slots = row.slots;
    ctx.event_time = row.event_time;
    ctx.now = now;
    ctx.partition_key = &key;
    ctx.eval_errors = &rt_.counters().eval_errors;
    Value tmp;
    return expr::eval(*rt_.plan().window.conditions[which], ctx, tmp).is_true();
  }

  RuleRuntime& rt_;
  std::unordered_map<Value, std::unique_ptr<WindowState>, ValueHash> open_;  //!< by GROUP BY key
  std::uint64_t fired_ = 0;  //!< windows emitted: result ids stay apart across a key's windows
};

void StateWindows::on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs,
                          TimeNs now, runtime::Output& out) {
  auto it = open_.find(key);
  if (it == open_.end()) {
    if (!holds(0, row, key, now)) return;  // no window of this key: waiting for a beginning
    if (open_.size() >= rt_.options().max_open_windows) {
      ++rt_.counters().dropped_windows;
      rt_.limit_hit(RuleRuntime::Limit::Windows);
      return;
    }
    auto w = std::make_unique<WindowState>();
    w->start = row.event_time;
    w->end = row.event_time + 1;
    it = open_.emplace(key, std::move(w)).first;
  }
  WindowState& w = *it->second;
  if (!rt_.add_to_window(w, row, key, hash)) return;
  w.start = std::min(w.start, row.event_time);
  w.end = std::max(w.end, row.event_time + 1);
  if (!holds(1, row, key, now)) return;
  rt_.emit_window(w, w.start, w.end, rt_.result_id_prefix() + "s" + std::to_string(fired_) + "/", now,
                  out);
  ++fired_;
  rt_.destroy_window(w);
  open_.erase(it);
}

void StateWindows::save(nlohmann::json& state) const {
  nlohmann::json open = nlohmann::json::array();
  for (const auto& [key, w] : open_)
    open.push_back({{"key", key.to_nlohmann()}, {"window", rt_.save_window(*w)}});
  state["state_windows"] = {{"open", std::move(open)}, {"fired", fired_}};
}

void StateWindows::restore(const nlohmann::json& state) {
  const auto s = state.find("state_windows");
  if (s == state.end() || !s->is_object()) return;
  fired_ = s->value("fired", std::uint64_t{0});
  if (auto open = s->find("open"); open != s->end()) {
    for (const auto& oj : *open) {
      auto w = std::make_unique<WindowState>();
      rt_.restore_window(*w, oj.at("window"));
      open_.emplace(Value::from_nlohmann(oj.at("key")), std::move(w));
    }
  }
}

//! STATEWINDOW(begin_condition, end_condition); both conditions read the input row.
class StateType final : public WindowType {
 public:
  std::vector<std::string> names() const override { return {"statewindow"}; }
  bool plan(WindowArgs& args, plan::WindowSpec& spec) const override {
    if (!args.call().partition_by.empty()) {
      // Each GROUP BY key already has its own window: one way to say it.
      args.error(args.call().pos, args.name() + ": write the key in GROUP BY instead of OVER (PARTITION BY ...) "
                                  "(GROUP BY device, STATEWINDOW(...)): each key has its own window");
      return false;
    }
    if (args.size() != 2) {
      args.error(args.size() > 2 ? args.arg(2).pos : args.call().pos,
                 args.name() + "(begin_condition, end_condition) takes 2 arguments");
      return false;
    }
    auto begin = args.condition(0, "begin condition");
    auto end = args.condition(1, "end condition");
    if (!begin || !end) return false;
    spec.conditions.push_back(std::move(begin));
    spec.conditions.push_back(std::move(end));
    return true;
  }
  std::unique_ptr<WindowOperator> create(RuleRuntime& rt) const override {
    return std::make_unique<StateWindows>(rt);
  }
};

}  // namespace

void register_state_window(WindowRegistry& r) { r.add(std::make_unique<StateType>()); }

}  // namespace streamgate::rules::window
