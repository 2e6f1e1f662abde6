// The window registry: every window kind (tumbling, hopping, sliding per event, session,
// counting, state) is a WindowType registered by name, the way functions are registered in
// rules/function_registry.h. The planner finds a GROUP BY call's kind by name and lets it read
// its own arguments (reporting file:line:col errors through WindowArgs) into the rule's
// WindowSpec; the runtime asks the kind for a WindowOperator, which owns the rule's open windows
// and is fed every row that passed WHERE. One file per kind in rules/window/, each ending with
// its register_*_window(); the registry is built once, before any rule is planned, and is
// read-only afterwards (any thread may look names up). Operators belong to their rule's runtime
// and are used by the worker thread alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/ast.h"
#include "rules/time_util.h"
#include "rules/value.h"

namespace streamgate::rules {
namespace plan {
struct WindowSpec;
}
namespace expr {
struct Node;
}
namespace runtime {
class RuleRuntime;
class Output;
struct Row;
struct WindowState;
}  // namespace runtime

namespace window {

//! The planner's side of one window call: its arguments and the ways to read them. Every
//! reader reports its own error at the argument's position and returns nothing on error.
class WindowArgs {
 public:
  virtual ~WindowArgs() = default;
  virtual const ast::Expr& call() const = 0;
  //! The call's name in lower case, for messages ("tumblingwindow: missing size").
  virtual const std::string& name() const = 0;
  std::size_t size() const { return call().children.size(); }
  const ast::Expr& arg(std::size_t i) const { return *call().children[i]; }
  //! Nanoseconds of the eKuiper time unit argument i is (ss, mi, ...), or nothing.
  virtual std::optional<TimeNs> unit(std::size_t i) const = 0;
  //! A positive duration at argument i: '5m' (moves i by 1), or eKuiper's unit, count
  //! (`ss, 10`: moves i by 2). `what` names it in errors ("size").
  virtual std::optional<TimeNs> duration(std::size_t& i, const char* what) = 0;
  //! A positive integer literal at argument i (moves i by 1).
  virtual std::optional<std::int64_t> positive_int(std::size_t& i, const char* what) = 0;
  //! Argument i compiled as a condition on the input row (like WHERE: no aggregates, no
  //! stateful functions). Null on error.
  virtual std::unique_ptr<expr::Node> condition(std::size_t i, const char* what) = 0;
  virtual void error(const ast::SourcePos& pos, std::string message) = 0;
  //! Reports "too many arguments" at argument i when there is one; true then.
  bool too_many(std::size_t i) {
    if (i >= size()) return false;
    error(arg(i).pos, name() + ": too many arguments");
    return true;
  }
};

//! The open windows of one rule, fed by its runtime (rules/runtime/rule_runtime.h). The rule's
//! plan, bounds, metrics and the helpers that add a row to a window or emit one are the
//! runtime's (its "window services"); the operator decides which windows a row goes to and
//! when each fires.
class WindowOperator {
 public:
  virtual ~WindowOperator() = default;
  //! One row that passed WHERE: `key` / `hash` its GROUP BY key, `wm` the stream's watermark.
  virtual void on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm,
                      TimeNs now, runtime::Output& out) = 0;
  //! The watermark moved (or something became due): fire what is due, drop what expired.
  virtual void advance(TimeNs wm, TimeNs now, runtime::Output& out) = 0;
  virtual std::size_t open_windows() const = 0;
  //! Writes the operator's state into the rule's checkpoint object (its own keys).
  virtual void save(nlohmann::json& state) const = 0;
  //! Reads what save() wrote (missing keys: nothing open). Called on an empty operator.
  virtual void restore(const nlohmann::json& state) = 0;
  //! Destroys every open window (before a restore, and before the runtime goes).
  virtual void clear() = 0;
  //! Cluster mode's merge stage (rules/runtime/two_phase.cpp): the open window [start, end),
  //! opened if needed. Null when this kind's windows are not fixed by time alone (their bounds
  //! depend on one key's events) or a bound refused a new one.
  virtual runtime::WindowState* open_window(TimeNs /*start*/, TimeNs /*end*/) { return nullptr; }
};

class WindowType {
 public:
  virtual ~WindowType() = default;
  //! The GROUP BY names this kind answers to, in lower case.
  virtual std::vector<std::string> names() const = 0;
  //! When several kinds share a name (eKuiper's SLIDINGWINDOW(ss, 5) is per event,
  //! SlidingWindow('5s', '1s') is hopping), the first registered kind that claims the call
  //! gets it.
  virtual bool claims(const WindowArgs&) const { return true; }
  //! Reads the call's arguments into `spec`; false after reporting the problems.
  virtual bool plan(WindowArgs& args, plan::WindowSpec& spec) const = 0;
  //! The rule's operator, created with its runtime (which outlives it).
  virtual std::unique_ptr<WindowOperator> create(runtime::RuleRuntime& rt) const = 0;
};

class WindowRegistry {
 public:
  //! The built-in kinds, and any added with add().
  static WindowRegistry& global();
  //! Not synchronised: add kinds before any thread plans rules.
  void add(std::unique_ptr<WindowType> type);
  //! The kind a call names, or null. `name` in any case.
  const WindowType* find(std::string_view name, const WindowArgs& args) const;
  //! Whether any kind answers to `name` (any case): the call is a window.
  bool is_window(std::string_view name) const;

 private:
  std::vector<std::unique_ptr<WindowType>> types_;
};

//! Registration hooks of the built-in kinds, one file each in rules/window/.
void register_tumbling_window(WindowRegistry& r);
void register_hopping_window(WindowRegistry& r);
void register_per_event_window(WindowRegistry& r);
void register_session_window(WindowRegistry& r);
void register_counting_window(WindowRegistry& r);
void register_state_window(WindowRegistry& r);

}  // namespace window
}  // namespace streamgate::rules
