// The check-rules command.
#include "gateway/check_rules.h"

#include <ostream>

#include "gateway/rule_files.h"
#include "rules/cluster/partition_check.h"
#include "rules/engine.h"

namespace streamgate::gateway {

int run_check_rules(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  std::string partition_field;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--partition-field" || a.rfind("--partition-field=", 0) == 0) {
      if (a.size() > 17) {
        partition_field = a.substr(18);
      } else if (i + 1 < args.size()) {
        partition_field = args[++i];
      }
      if (partition_field.empty()) {
        err << "streamgate check-rules: --partition-field needs a field name\n";
        return 2;
      }
      continue;
    }
    if (a == "--help" || a == "-h") {
      out << "usage: streamgate check-rules [--partition-field FIELD] PATH...\n"
             "  PATH: a .sql file or a directory of *.sql files (loaded in name order).\n"
             "  --partition-field: check for cluster mode: per-key state must be keyed by FIELD.\n"
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
    auto file_errors = engine.load_file(f.path, f.text);
    if (file_errors.empty() && !partition_field.empty()) {
      file_errors = rules::check_partition_key(f.path, f.text, partition_field);
    }
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
