// Plugins (docs/plugins.md): the shared libraries of `plugins-dir`, opened with dlopen and handed
// to rules/plugin/ to register their functions in the process-wide function registry. Loaded at
// start and again before each rule reload (SIGHUP, a rules-dir change), new files only: a loaded
// library is never unloaded (rules hold its functions), so a changed file needs a restart.
// Thread-safe: the main thread (SIGHUP) and the rule watcher may load at the same time.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace streamgate::gateway {

struct PluginLoadReport {
  std::vector<std::string> loaded;    //!< one line per library loaded now
  std::vector<std::string> errors;    //!< one line per library refused (path: why)
  std::vector<std::string> warnings;  //!< e.g. a loaded library changed on disk
};

//! Loads every `*.so` file of `dir` not loaded yet, in name order, into
//! rules::FunctionRegistry::global(). A refused library registers nothing.
PluginLoadReport load_plugins(const std::string& dir);

//! Loads and logs (spdlog) the outcome; false when some library was refused.
bool load_and_log_plugins(const std::string& dir);

//! For the offline commands (replay, check-rules, functions): loads, prints each refused
//! library as "streamgate <command>: <why>" on `err`; false when one was refused.
bool load_plugins_for_command(const std::string& dir, const char* command, std::ostream& err);

}  // namespace streamgate::gateway
