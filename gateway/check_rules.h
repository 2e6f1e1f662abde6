// `streamgate check-rules PATH...`: validates rule files the way the daemon loads them (all
// files into one engine, in order, so streams defined in one file are visible to the next).
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace streamgate::gateway {

//! Prints `file:line:col: message` per error on `err`; returns 0 when all files are valid,
//! 1 otherwise, 2 on bad usage.
int run_check_rules(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace streamgate::gateway
