// The check-rules command.
#include "gateway/check_rules.h"

#include <ostream>

#include "gateway/plugins.h"
#include "gateway/rule_files.h"
#include "rules/cluster/partition_check.h"
#include "rules/engine.h"

namespace streamgate::gateway {

int run_check_rules(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  std::string partition_field;
  std::string plugins_dir;
  // `--name VALUE` or `--name=VALUE`: 1 taken into `value`, 0 not this option, -1 no value.
  auto option = [&args](std::size_t& i, const std::string& name, std::string& value) {
    const std::string& a = args[i];
    if (a == name) {
      if (i + 1 < args.size()) value = args[++i];
    } else if (a.rfind(name + "=", 0) == 0) {
      value = a.substr(name.size() + 1);
    } else {
      return 0;
    }
    return value.empty() ? -1 : 1;
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (int r = option(i, "--plugins-dir", plugins_dir)) {
      if (r > 0) continue;
      err << "streamgate check-rules: --plugins-dir needs a directory\n";
      return 2;
    }
    if (int r = option(i, "--partition-field", partition_field)) {
      if (r > 0) continue;
      err << "streamgate check-rules: --partition-field needs a field name\n";
      return 2;
    }
    if (a == "--help" || a == "-h") {
      out << "usage: streamgate check-rules [--partition-field FIELD] [--plugins-dir DIR] PATH...\n"
             "  PATH: a .sql file or a directory of *.sql files (loaded in name order).\n"
             "  --partition-field: check for cluster mode: per-key state must be keyed by FIELD.\n"
             "  --plugins-dir: load the function plugins (*.so) of DIR first; a refused one is an error.\n"
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
  if (!plugins_dir.empty() && !load_plugins_for_command(plugins_dir, "check-rules", err)) return 1;
  std::vector<RuleFile> files;
  std::vector<std::string> problems;
  for (const auto& p : paths) read_rule_files(p, files, problems);
  for (const auto& p : problems) err << p << "\n";

  rules::Engine engine;
  std::size_t errors = 0;
  std::size_t rules_before = 0;
  rules::PartitionContext cluster;  // what earlier files declared (tables, fleet-wide rules)
  for (const auto& f : files) {
    auto file_errors = engine.load_file(f.path, f.text);
    std::string two_phase;  // fleet-wide rules that cluster mode runs in two phases or at the merge stage
    if (file_errors.empty() && !partition_field.empty()) {
      auto plan = rules::plan_partitions(f.path, f.text, partition_field, &cluster);
      file_errors = std::move(plan.errors);
      for (const auto& r : plan.two_phase) two_phase += (two_phase.empty() ? "; fleet-wide in two phases: " : ", ") + r;
      for (std::size_t i = 0; i < plan.merge_stage.size(); ++i)
        two_phase += (i == 0 ? "; at the merge stage: " : ", ") + plan.merge_stage[i];
    }
    for (const auto& e : file_errors) err << e.to_string() << "\n";
    errors += file_errors.size();
    // A file refused for cluster mode was loaded all the same: its rules are not the next file's.
    const std::size_t now = engine.rules().size();
    if (file_errors.empty()) out << f.path << ": ok (" << (now - rules_before) << " rules" << two_phase << ")\n";
    rules_before = now;
  }
  return (errors == 0 && problems.empty()) ? 0 : 1;
}

}  // namespace streamgate::gateway
