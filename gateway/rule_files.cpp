// Rule-file discovery shared by run, replay and check-rules.
#include "gateway/rule_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace streamgate::gateway {

namespace fs = std::filesystem;

namespace {
bool read_text(const fs::path& p, std::string& text) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return !in.bad();
}
}  // namespace

void read_rule_files(const std::string& path, std::vector<RuleFile>& out,
                     std::vector<std::string>& errors) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    errors.push_back(path + ": no such file or directory");
    return;
  }
  if (fs::is_directory(st)) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      if (entry.path().extension() == ".sql" && entry.is_regular_file()) files.push_back(entry.path());
    }
    if (ec) {
      errors.push_back(path + ": " + ec.message());
      return;
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      errors.push_back(path + ": no *.sql rule files");
      return;
    }
    for (const auto& f : files) {
      RuleFile rf{f.string(), {}};
      if (!read_text(f, rf.text)) {
        errors.push_back(rf.path + ": cannot read");
        continue;
      }
      out.push_back(std::move(rf));
    }
    return;
  }
  RuleFile rf{path, {}};
  if (!read_text(path, rf.text)) {
    errors.push_back(path + ": cannot read");
    return;
  }
  out.push_back(std::move(rf));
}

void read_gateway_rule_files(const std::string& rules_dir, const std::string& control_rules_dir,
                             std::vector<RuleFile>& out, std::vector<std::string>& errors) {
  read_rule_files(rules_dir, out, errors);
  std::error_code ec;
  if (control_rules_dir.empty() || !fs::is_directory(control_rules_dir, ec)) return;
  if (fs::equivalent(rules_dir, control_rules_dir, ec)) return;
  std::vector<std::string> control_errors;
  read_rule_files(control_rules_dir, out, control_errors);
  for (auto& e : control_errors) {
    if (e.find("no *.sql rule files") == std::string::npos) errors.push_back(std::move(e));
  }
}

}  // namespace streamgate::gateway
