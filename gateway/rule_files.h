// Finding and reading rule files: a path is either one .sql file or a directory whose *.sql
// files are taken in name order (so "00-streams.sql" loads before the rules that use it).
#pragma once

#include <string>
#include <vector>

namespace streamgate::gateway {

struct RuleFile {
  std::string path;  //!< as given or joined with the directory: used in file:line:col errors
  std::string text;
};

//! Appends the files of `path` to `out`; problems (missing path, unreadable file, a directory
//! without *.sql) are appended to `errors` as "path: reason".
void read_rule_files(const std::string& path, std::vector<RuleFile>& out,
                     std::vector<std::string>& errors);

//! The gateway's rule set: every file of `rules_dir`, then those of `control_rules_dir` (rules
//! added over the control topic), unless it is the same directory. A control directory that
//! does not exist yet or holds no *.sql file is not a problem: nothing was added.
void read_gateway_rule_files(const std::string& rules_dir, const std::string& control_rules_dir,
                             std::vector<RuleFile>& out, std::vector<std::string>& errors);

}  // namespace streamgate::gateway
