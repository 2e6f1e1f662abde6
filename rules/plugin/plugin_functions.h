// Plugin functions: checks a plugin's descriptor (the C ABI of streamgate_plugin.h) and registers
// its scalar and aggregate functions in a FunctionRegistry as peers of the built-ins. No dlopen
// here (that is the process's business, gateway/plugins.cpp): the engine room only sees the
// descriptor. Registration runs on whichever thread loads plugins; the registry locks itself.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "rules/function_registry.h"
#include "rules/plugin/streamgate_plugin.h"

namespace streamgate::rules::plugin {

//! Aggregates all plugins of the process may register together: each gets a slot of trampolines
//! (the registry's aggregate entries are plain function pointers without a context).
inline constexpr std::size_t kMaxPluginAggregates = 64;

//! Checks `p` and registers every function it declares in `registry`, or none: returns an empty
//! string, or one line saying what is wrong (`origin` names the library in it). A name already
//! registered (a built-in or another plugin's) refuses the plugin: rules planned earlier hold
//! the registered entries, which must never change under them.
std::string register_plugin(const sg_plugin* p, std::string_view origin, FunctionRegistry& registry);

}  // namespace streamgate::rules::plugin
