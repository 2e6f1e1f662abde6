// The function reference: every documented example is run through the engine and must give the
// documented result, every entry names a real function, and docs/functions.md is exactly what
// the registry renders (regenerate with `streamgate functions --markdown > docs/functions.md`).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "rules/engine.h"
#include "rules/function_docs.h"
#include "rules/function_registry.h"
#include "rules/time_util.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;

const FunctionRegistry& reg() { return FunctionRegistry::global(); }

bool same(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) {
    const double x = a.get<double>(), y = b.get<double>();
    return x == y || std::fabs(x - y) <= 1e-9 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (!same(a[i], b[i])) return false;
    return true;
  }
  return a == b;
}

//! Runs `SELECT <call> AS v FROM s` over the example's inputs; the last row's v as JSON text, or
//! an error description.
std::string run_example(const FunctionDoc& d, const FunctionExample& ex) {
  std::vector<std::string> inputs = ex.inputs.empty() ? std::vector<std::string>{"{}"} : ex.inputs;
  bool timestamped = false;
  for (const auto& in : inputs) timestamped = timestamped || in.find("\"ts\"") != std::string::npos;
  std::string text = "CREATE STREAM s WITH (TOPIC='devices/+/telemetry'";
  text += timestamped ? ", TIMESTAMP='ts', MAXOUTOFORDERNESS='0s');\n" : ");\n";
  text += "CREATE RULE r WITH (TOPIC='out') AS SELECT " + ex.call + " AS v FROM s";
  if (d.kind == FunctionKind::Aggregate)
    text += " GROUP BY CountingWindow(" + std::to_string(inputs.size()) + ")";
  text += ";\n";
  Engine eng;
  auto errors = eng.load_file("example.sql", text);
  if (!errors.empty()) return "rule rejected: " + errors.front().to_string();
  std::vector<std::string> rows;
  EmitFn sink = [&rows](Emission&& e) {
    if (e.kind == EmissionKind::Result) rows.push_back(e.payload);
  };
  const TimeNs now = *parse_rfc3339("2024-01-16T00:00:00Z");
  for (const auto& in : inputs) {
    const IngestStatus st = eng.on_message("devices/d1/telemetry", in, now, sink);
    if (st != IngestStatus::Ok) return std::string("input refused: ") + to_string(st);
  }
  eng.flush(sink);
  if (rows.empty()) return "no row";
  return json::parse(rows.back())["v"].dump();
}

TEST(FunctionDocs, EveryExampleGivesItsResult) {
  std::size_t examples = 0;
  for (const FunctionDoc* d : reg().docs()) {
    for (const auto& ex : d->examples) {
      ++examples;
      const std::string got = run_example(*d, ex);
      const json want = json::parse(ex.result, nullptr, false);
      ASSERT_FALSE(want.is_discarded()) << d->name << ": result is not JSON: " << ex.result;
      const json actual = json::parse(got, nullptr, false);
      EXPECT_TRUE(!actual.is_discarded() && same(actual, want))
          << d->name << ": " << ex.call << "\n  documented: " << ex.result << "\n  actual:     " << got;
    }
  }
  EXPECT_GT(examples, 100u);
}

TEST(FunctionDocs, EntriesNameRealFunctionsAndHaveExamples) {
  for (const FunctionDoc* d : reg().docs()) {
    std::vector<std::string> names = d->aliases;
    names.push_back(d->name);
    for (const auto& n : names) {
      if (d->kind == FunctionKind::Engine) continue;  // the planner's own functions
      EXPECT_TRUE(reg().scalar(n) || reg().aggregate(n) || reg().stateful(n)) << n;
    }
    if (d->kind != FunctionKind::Engine) {
      EXPECT_FALSE(d->examples.empty()) << d->name << " has no example";
    }
    EXPECT_FALSE(d->signature.empty()) << d->name;
    EXPECT_FALSE(d->description.empty()) << d->name;
  }
}

// The checker itself can fail: a wrong documented result is told apart from the right one.
TEST(FunctionDocs, AWrongExampleIsCaught) {
  const FunctionDoc* d = reg().doc("indexof");
  ASSERT_NE(d, nullptr);
  const json got = json::parse(run_example(*d, {"indexof('hello', 'l')", "2"}));
  EXPECT_TRUE(same(got, json(3)));
  EXPECT_FALSE(same(got, json(2)));  // eKuiper's 0-based answer is not ours
  const FunctionDoc* agg = reg().doc("stddev_pop");
  ASSERT_NE(agg, nullptr);
  const json spread = json::parse(run_example(*agg, {"stddev_pop(v)", "1", {R"({"v":2})", R"({"v":4})"}}));
  EXPECT_TRUE(same(spread, json(1.0)));
  EXPECT_FALSE(same(spread, json(std::sqrt(2.0))));  // the sample deviation of 2 and 4
}

// Every built-in function has a reference entry (under its name or as an alias), so
// docs/functions.md never regrows an "Other registered functions" list. Plugins document
// themselves (rules/plugin/), and none is loaded in this binary.
TEST(FunctionDocs, EveryRegisteredFunctionHasAnEntry) {
  std::set<std::string> documented;
  for (const FunctionDoc* d : reg().docs()) {
    documented.insert(d->name);
    documented.insert(d->aliases.begin(), d->aliases.end());
  }
  std::string missing;
  std::size_t names = 0;
  for (const auto& name : reg().names()) {
    ++names;
    if (!documented.count(name)) missing += " " + name;
  }
  EXPECT_TRUE(missing.empty()) << "registered without a FunctionDoc (add one with an example "
                                  "next to the registration):"
                               << missing;
  EXPECT_GT(names, 200u);
  EXPECT_EQ(functions_markdown(reg()).find("## Other registered functions"), std::string::npos);
}

TEST(FunctionDocs, MarkdownFileIsCurrent) {
  std::ifstream f(STREAMGATE_SOURCE_DIR "/docs/functions.md", std::ios::binary);
  ASSERT_TRUE(f) << "docs/functions.md is missing";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string want = functions_markdown(reg());
  EXPECT_TRUE(ss.str() == want)
      << "docs/functions.md is stale: regenerate it with\n"
         "  build/gateway/streamgate functions --markdown > docs/functions.md";
}

}  // namespace
}  // namespace streamgate::rules
