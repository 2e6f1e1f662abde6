// Golden tests as data: one gtest per folder of tests/golden/ (see tests/golden/README.md for the
// case format). Each case runs the real `streamgate replay` (or `streamgate check-rules` for
// expected_error.txt cases) and compares its output with the case's expected.jsonl.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kGoldenDir = GOLDEN_DIR;
const std::string kBinary = STREAMGATE_BINARY;
#ifdef STREAMGATE_TEST_EMULATOR
// Cross builds: the binary is for the target and the shell cannot exec it without binfmt_misc,
// so it runs through the emulator (CMAKE_CROSSCOMPILING_EMULATOR, e.g. `qemu-arm -L <sysroot>`).
const std::string kEmulator = STREAMGATE_TEST_EMULATOR " ";
#else
const std::string kEmulator;
#endif

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool is_case_dir(const fs::path& d) {
  return fs::is_directory(d) && fs::exists(d / "rule.sql") &&
         (fs::exists(d / "expected.jsonl") || fs::exists(d / "expected_error.txt"));
}

std::vector<std::string> find_cases() {
  std::vector<std::string> names;
  if (!fs::is_directory(kGoldenDir)) return names;
  for (const auto& entry : fs::directory_iterator(kGoldenDir))
    if (is_case_dir(entry.path())) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

RunResult run(const std::string& args, const fs::path& scratch) {
  fs::path err_file = scratch / "stderr.txt";
  std::string cmd =
      kEmulator + shell_quote(kBinary) + " " + args + " 2>" + shell_quote(err_file.string());
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[65536];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.err = read_text(err_file);
  return r;
}

// The rules a case runs. rule.sql is plain SQL, or holds `@include <path>` lines (relative to the
// case folder) naming shipped rule files, so a brief case runs exactly the file we ship. With
// includes, every included file (under its own name) and the rest of rule.sql are copied into a
// scratch directory that is passed to --rules, like a rules.d directory.
fs::path prepare_rules(const fs::path& case_dir, const fs::path& scratch) {
  const fs::path rule = case_dir / "rule.sql";
  std::string text = read_text(rule);
  std::vector<fs::path> includes;
  std::string rest;
  for (const auto& line : lines_of(text)) {
    std::string t = trim(line);
    if (t.rfind("@include", 0) == 0) {
      includes.push_back(case_dir / trim(t.substr(8)));
      rest += "\n";  // keeps line numbers of the remaining SQL
    } else {
      rest += line + "\n";
    }
  }
  if (includes.empty()) return rule;
  fs::path dir = scratch / "rules.d";
  fs::create_directories(dir);
  for (const auto& inc : includes) {
    if (!fs::exists(inc)) throw std::runtime_error("@include target missing: " + inc.string());
    fs::copy_file(inc, dir / inc.filename(), fs::copy_options::overwrite_existing);
  }
  bool only_comments = true;
  for (const auto& line : lines_of(rest)) {
    std::string t = trim(line);
    if (!t.empty() && t.rfind("--", 0) != 0) only_comments = false;
  }
  if (!only_comments) {
    std::ofstream(dir / "zz-case-rule.sql") << rest;
  }
  return dir;
}

// ---------- comparison ----------

bool numbers_equal(double a, double b) {
  if (a == b) return true;
  double scale = std::max({1.0, std::fabs(a), std::fabs(b)});
  return std::fabs(a - b) <= 1e-9 * scale;
}

// Explains the first difference between expected and actual, or returns "" when equal.
std::string diff_values(const json& exp, const json& act, const std::string& path) {
  if (exp.is_number() && act.is_number()) {
    if (numbers_equal(exp.get<double>(), act.get<double>())) return "";
    return path + ": expected " + exp.dump() + ", got " + act.dump();
  }
  if (exp.is_object() && act.is_object()) {
    for (auto it = exp.begin(); it != exp.end(); ++it) {
      if (!act.contains(it.key())) return path + "." + it.key() + ": missing (expected " + it.value().dump() + ")";
      std::string d = diff_values(it.value(), act.at(it.key()), path + "." + it.key());
      if (!d.empty()) return d;
    }
    for (auto it = act.begin(); it != act.end(); ++it)
      if (!exp.contains(it.key())) return path + "." + it.key() + ": unexpected field = " + it.value().dump();
    return "";
  }
  if (exp.is_array() && act.is_array()) {
    if (exp.size() != act.size())
      return path + ": expected array of " + std::to_string(exp.size()) + ", got " +
             std::to_string(act.size()) + " " + act.dump();
    for (std::size_t i = 0; i < exp.size(); ++i) {
      std::string d = diff_values(exp[i], act[i], path + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    return "";
  }
  if (exp.type() != act.type() || exp != act)
    return path + ": expected " + exp.dump() + ", got " + act.dump();
  return "";
}

struct Row {
  std::string rule;
  std::string kind = "result";
  std::optional<std::string> topic;
  std::optional<long long> emission;
  json payload;
  std::string text;  // original line, for messages
};

// One actual output line of `streamgate replay`.
Row actual_row(const json& j, const std::string& line) {
  Row r;
  r.text = line;
  r.rule = j.value("rule", "");
  r.kind = j.value("kind", "result");
  if (j.contains("topic")) r.topic = j["topic"].get<std::string>();
  if (j.contains("emission") && j["emission"].is_number()) r.emission = j["emission"].get<long long>();
  r.payload = j.contains("payload") ? j["payload"] : json();
  return r;
}

// One expected line: the payload's fields plus `_emission`, `_rule`, `_kind`, `_topic`.
Row expected_row(const json& j, const std::string& line) {
  Row r;
  r.text = line;
  r.payload = json::object();
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "_emission")
      r.emission = it.value().get<long long>();
    else if (k == "_rule")
      r.rule = it.value().get<std::string>();
    else if (k == "_kind")
      r.kind = it.value().get<std::string>();
    else if (k == "_topic")
      r.topic = it.value().get<std::string>();
    else if (k == "_payload")  // whole payload given explicitly (e.g. a non-object payload)
      r.payload = it.value();
    else
      r.payload[k] = it.value();
  }
  return r;
}

std::string row_diff(const Row& e, const Row& a) {
  if (e.kind != a.kind) return "kind: expected " + e.kind + ", got " + a.kind;
  if (!e.rule.empty() && e.rule != a.rule) return "rule: expected " + e.rule + ", got " + a.rule;
  if (e.topic && (!a.topic || *e.topic != *a.topic))
    return "topic: expected " + *e.topic + ", got " + a.topic.value_or("<none>");
  if (e.emission && (!a.emission || *e.emission != *a.emission))
    return "emission: expected " + std::to_string(*e.emission) + ", got " +
           (a.emission ? std::to_string(*a.emission) : std::string("<none>"));
  return diff_values(e.payload, a.payload, "payload");
}

class Golden : public ::testing::TestWithParam<std::string> {};

//! A case with a `plugins.txt` runs with the example function plugins (examples/plugins/).
std::string plugins_arg(const fs::path& dir) {
  if (!fs::exists(dir / "plugins.txt")) return {};
  return " --plugins-dir " + shell_quote(STREAMGATE_EXAMPLE_PLUGINS_DIR);
}

void run_error_case(const fs::path& dir, const fs::path& scratch) {
  fs::path rules = prepare_rules(dir, scratch);
  std::vector<std::string> wanted;
  for (const auto& l : lines_of(read_text(dir / "expected_error.txt")))
    if (!trim(l).empty() && trim(l).rfind("#", 0) != 0) wanted.push_back(trim(l));
  ASSERT_FALSE(wanted.empty()) << "expected_error.txt has no message";

  RunResult check = run("check-rules" + plugins_arg(dir) + " " + shell_quote(rules.string()), scratch);
  std::string all = check.out + check.err;
  EXPECT_NE(check.exit_code, 0) << "check-rules accepted a rule that must be rejected; output:\n" << all;
  for (const auto& w : wanted)
    EXPECT_NE(all.find(w), std::string::npos)
        << "check-rules output lacks `" << w << "`; output was:\n" << all;

  // replay must refuse the same rule with the same message and produce no result.
  std::string args = "replay" + plugins_arg(dir) + " --rules " + shell_quote(rules.string());
  if (fs::exists(dir / "input.jsonl")) args += " --input " + shell_quote((dir / "input.jsonl").string());
  else args += " --input /dev/null";
  RunResult rep = run(args, scratch);
  std::string rall = rep.out + rep.err;
  for (const auto& w : wanted)
    EXPECT_NE(rall.find(w), std::string::npos) << "replay output lacks `" << w << "`; output was:\n" << rall;
  EXPECT_EQ(rep.out.find("\"kind\":\"result\""), std::string::npos) << "replay emitted results:\n" << rep.out;
}

void run_replay_case(const fs::path& dir, const fs::path& scratch) {
  fs::path rules = prepare_rules(dir, scratch);
  std::string args = "replay" + plugins_arg(dir) + " --rules " + shell_quote(rules.string());
  if (fs::exists(dir / "topic.txt")) args += " --topic " + shell_quote(trim(read_text(dir / "topic.txt")));
  RunResult r;
  if (fs::exists(dir / "restart_after.txt")) {
    // A restart from a checkpoint after the first N input lines: the first run saves the state
    // instead of flushing (--state-out), the second restores it (--state-in) and reads the rest.
    const std::size_t n = std::stoul(trim(read_text(dir / "restart_after.txt")));
    const auto input = lines_of(read_text(dir / "input.jsonl"));
    std::ofstream first(scratch / "input-1.jsonl"), second(scratch / "input-2.jsonl");
    for (std::size_t i = 0; i < input.size(); ++i) (i < n ? first : second) << input[i] << "\n";
    first.close();
    second.close();
    const std::string state = shell_quote((scratch / "state.cbor").string());
    const std::string args1 = args + " --input " + shell_quote((scratch / "input-1.jsonl").string()) +
                              " --state-out " + state;
    const std::string args2 = args + " --input " + shell_quote((scratch / "input-2.jsonl").string()) +
                              " --state-in " + state;
    RunResult r1 = run(args1, scratch);
    ASSERT_EQ(r1.exit_code, 0) << "streamgate " << args1 << "\nstderr:\n" << r1.err;
    r = run(args2, scratch);
    ASSERT_EQ(r.exit_code, 0) << "streamgate " << args2 << "\nstderr:\n" << r.err;
    r.out = r1.out + r.out;
  } else {
    args += " --input " + shell_quote((dir / "input.jsonl").string());
    r = run(args, scratch);
    ASSERT_EQ(r.exit_code, 0) << "streamgate " << args << "\nexit " << r.exit_code << "\nstderr:\n"
                              << r.err << "\nstdout:\n" << r.out;
  }

  // Expected lines.
  std::vector<Row> expected;
  bool compare_all_kinds = false;
  int lineno = 0;
  for (const auto& line : lines_of(read_text(dir / "expected.jsonl"))) {
    ++lineno;
    if (trim(line).empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const std::exception& e) {
      FAIL() << "expected.jsonl:" << lineno << ": not JSON: " << e.what();
    }
    Row row = expected_row(j, line);
    if (j.contains("_kind")) compare_all_kinds = true;
    expected.push_back(std::move(row));
  }
  std::set<std::string> only;
  if (fs::exists(dir / "only_rules.txt"))
    for (const auto& l : lines_of(read_text(dir / "only_rules.txt")))
      if (!trim(l).empty() && trim(l)[0] != '#') only.insert(trim(l));

  // Actual lines (stdout of replay; any line that is not JSON is an error).
  std::vector<Row> actual;
  lineno = 0;
  for (const auto& line : lines_of(r.out)) {
    ++lineno;
    if (trim(line).empty()) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "replay stdout line " << lineno << " is not JSON: " << line;
      continue;
    }
    Row row = actual_row(j, line);
    if (!compare_all_kinds && row.kind != "result") continue;
    if (!only.empty() && !only.count(row.rule)) continue;
    actual.push_back(std::move(row));
  }

  // Compare per rule, in order: the relative order of lines of different rules is not part of
  // the contract, the order within one rule is. Expected lines without _rule belong to the only
  // rule that produced output (or must be the only rule's).
  std::set<std::string> rules_seen;
  for (const auto& a : actual) rules_seen.insert(a.rule);
  bool expected_names_rules = std::any_of(expected.begin(), expected.end(), [](const Row& e) { return !e.rule.empty(); });
  std::map<std::string, std::vector<const Row*>> exp_by, act_by;
  for (const auto& a : actual) act_by[expected_names_rules ? a.rule : std::string()].push_back(&a);
  for (const auto& e : expected) exp_by[e.rule].push_back(&e);
  if (!expected_names_rules && rules_seen.size() > 1) {
    ADD_FAILURE() << "several rules produced output but expected.jsonl has no _rule: add _rule "
                     "or only_rules.txt. Rules: "
                  << ::testing::PrintToString(rules_seen);
  }

  std::ostringstream report;
  bool ok = true;
  std::set<std::string> keys;
  for (auto& [k, _] : exp_by) keys.insert(k);
  for (auto& [k, _] : act_by) keys.insert(k);
  for (const auto& key : keys) {
    const auto& ev = exp_by[key];
    const auto& av = act_by[key];
    std::size_t n = std::max(ev.size(), av.size());
    for (std::size_t i = 0; i < n; ++i) {
      std::string d;
      if (i >= ev.size())
        d = "unexpected extra output line";
      else if (i >= av.size())
        d = "missing output line";
      else
        d = row_diff(*ev[i], *av[i]);
      if (!d.empty()) {
        ok = false;
        report << "  rule '" << key << "' line " << i << ": " << d << "\n"
               << "    expected: " << (i < ev.size() ? ev[i]->text : std::string("<none>")) << "\n"
               << "    actual:   " << (i < av.size() ? av[i]->text : std::string("<none>")) << "\n";
        break;  // later lines of the same rule usually differ as a consequence
      }
    }
  }
  if (!ok) {
    ADD_FAILURE() << "case " << dir.filename().string() << " differs:\n"
                  << report.str() << "full replay stdout:\n"
                  << r.out << (r.err.empty() ? "" : "stderr:\n" + r.err);
  }
}

TEST_P(Golden, Case) {
  const fs::path dir = kGoldenDir / GetParam();
  fs::path scratch = fs::temp_directory_path() /
                     ("streamgate-golden-" + std::to_string(::getpid()) + "-" + GetParam());
  fs::remove_all(scratch);
  fs::create_directories(scratch);
  if (fs::exists(dir / "expected_error.txt"))
    run_error_case(dir, scratch);
  else
    run_replay_case(dir, scratch);
  if (!HasFailure()) fs::remove_all(scratch);
}

std::string case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string s = info.param;
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, ::testing::ValuesIn(find_cases()), case_name);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(Golden);

}  // namespace
