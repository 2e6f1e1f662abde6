// The check-rules command.
#include "gateway/check_rules.h"

#include <ostream>

#include "gateway/rule_files.h"
#include "rules/engine.h"

namespace streamgate::gateway {

int run_check_rules(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      out << "usage: streamgate check-rules PATH...\n"
             "  PATH: a .sql file or a directory of *.sql files (loaded in name order).\n"
             "  Prints file:line:col: message per error; exit 0 if all are valid, 1 otherwise.\n";
      return 0;
    }
    if (a.size() > 1 && a[0] == '-') {
      err << "streamgate check-rules: unknown option '" << a << "'\n";
      return 2;
    }
    paths.push_back(a);
  }
  if (paths.empty()) {
    err << "streamgate check-rules: give at least one rule file or directory\n";
    return 2;
  }
  std::vector<RuleFile> files;
  std::vector<std::string> problems;
  for (const auto& p : paths) read_rule_files(p, files, problems);
  for (const auto& p : problems) err << p << "\n";

  rules::Engine engine;
  std::size_t errors = 0;
  std::size_t rules_before = 0;
  for (const auto& f : files) {
    const auto file_errors = engine.load_file(f.path, f.text);
    for (const auto& e : file_errors) err << e.to_string() << "\n";
    errors += file_errors.size();
    if (file_errors.empty()) {
      const std::size_t now = engine.rules().size();
      out << f.path << ": ok (" << (now - rules_before) << " rules)\n";
      rules_before = now;
    }
  }
  return (errors == 0 && problems.empty()) ? 0 : 1;
}

}  // namespace streamgate::gateway
