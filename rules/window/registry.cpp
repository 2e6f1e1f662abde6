// The window registry (window_type.h): the built-in kinds, registered once, looked up by name.
#include <algorithm>

#include "rules/ascii_lower.h"
#include "rules/window/window_type.h"

namespace streamgate::rules::window {

WindowRegistry& WindowRegistry::global() {
  // A function-local static: built once, thread-safe, before any rule is planned. Per-event
  // sliding comes before hopping: both answer to SlidingWindow, per event claims the unit form.
  static WindowRegistry registry = [] {
    WindowRegistry r;
    register_tumbling_window(r);
    register_per_event_window(r);
    register_hopping_window(r);
    register_session_window(r);
    register_counting_window(r);
    register_state_window(r);
    return r;
  }();
  return registry;
}

void WindowRegistry::add(std::unique_ptr<WindowType> type) { types_.push_back(std::move(type)); }

const WindowType* WindowRegistry::find(std::string_view name, const WindowArgs& args) const {
  const std::string l = ascii_lower(name);
  for (const auto& t : types_) {
    const auto names = t->names();
    if (std::find(names.begin(), names.end(), l) != names.end() && t->claims(args)) return t.get();
  }
  return nullptr;
}

bool WindowRegistry::is_window(std::string_view name) const {
  const std::string l = ascii_lower(name);
  for (const auto& t : types_) {
    const auto names = t->names();
    if (std::find(names.begin(), names.end(), l) != names.end()) return true;
  }
  return false;
}

}  // namespace streamgate::rules::window
