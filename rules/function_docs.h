// The function reference (docs/functions.md) rendered from the registry's entries, so the
// reference cannot drift from what is registered. Used by `streamgate functions --markdown`
// and by the test that checks docs/functions.md is current.
#pragma once

#include <string>

#include "rules/function_registry.h"

namespace streamgate::rules {

//! Markdown of every documented function (by family), then the registered names that have no
//! entry (functions added through the C++ API without a FunctionDoc) with their arity.
std::string functions_markdown(const FunctionRegistry& registry);

}  // namespace streamgate::rules
