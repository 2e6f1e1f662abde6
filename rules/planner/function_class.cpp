// See function_class.h.
#include "rules/planner/function_class.h"

#include "rules/ascii_lower.h"
#include "rules/window/window_type.h"

namespace streamgate::rules {

bool is_engine_function(std::string_view l) {
  return l == "window_start" || l == "window_end" || l == "event_time" || l == "ts" || l == "now" ||
         l == "topic" || l == "topic_part" || l == "meta";
}

bool is_window_name(const std::string& l) { return window::WindowRegistry::global().is_window(l); }

FnClass classify_call(const FunctionRegistry& reg, const ast::Expr& call, bool windowed) {
  const std::string l = ascii_lower(call.name);
  if (is_engine_function(l)) return FnClass::Engine;
  if (is_window_name(l)) return FnClass::Window;
  const auto* agg = reg.aggregate(l);
  if (agg && (!windowed || !call.partition_by.empty()) && reg.stateful(l)) return FnClass::Stateful;
  const auto* sc = reg.scalar(l);
  if (agg && sc) {
    // Both exist (e.g. a variadic scalar max): the aggregate wins when the arity fits it.
    const int n = static_cast<int>(call.children.size());
    if (call.distinct || call.filter || (n >= agg->min_args && (agg->max_args < 0 || n <= agg->max_args)))
      return FnClass::Aggregate;
    return FnClass::Scalar;
  }
  if (agg) return FnClass::Aggregate;
  if (reg.stateful(l)) return FnClass::Stateful;
  if (sc) return FnClass::Scalar;
  return FnClass::Unknown;
}

}  // namespace streamgate::rules
