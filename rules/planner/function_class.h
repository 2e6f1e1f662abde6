// What a function call in a rule is: the one classification the planner compiles by and the
// cluster partition check (rules/cluster/partition_check.cpp) reasons with, so the two never
// disagree about a name that is an aggregate and a scalar (max(a, b)) or an aggregate and an
// analytic function (the forecasts).
#pragma once

#include <string>
#include <string_view>

#include "rules/ast.h"
#include "rules/function_registry.h"

namespace streamgate::rules {

enum class FnClass { Unknown, Engine, Window, Aggregate, Stateful, Scalar };

//! A function the engine answers itself (window_start, event_time, topic, meta...); `lowered`
//! is the name in lower case.
bool is_engine_function(std::string_view lowered);
//! A window function of GROUP BY (TumblingWindow...); `lowered` is the name in lower case.
bool is_window_name(const std::string& lowered);

//! `windowed`: the rule has a window. A name that is both an aggregate and an analytic function
//! (the forecasts) is the analytic one (Stateful) outside windows and with OVER (PARTITION BY
//! ...). A name that is an aggregate and a scalar is the aggregate when its arity fits, or with
//! DISTINCT / FILTER. Names are case-insensitive.
FnClass classify_call(const FunctionRegistry& registry, const ast::Expr& call, bool windowed = true);

}  // namespace streamgate::rules
