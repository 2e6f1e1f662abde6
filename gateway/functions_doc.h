// `streamgate functions [--markdown] [--plugins-dir DIR]`: prints the function reference rendered from the registry
// (docs/functions.md is this output), or one line per registered function name.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace streamgate::gateway {

//! `args` are the arguments after "functions". Returns the exit code (2 on bad usage).
int run_functions(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace streamgate::gateway
