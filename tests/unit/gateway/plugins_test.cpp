// Function plugins: the example plugin (examples/plugins/iot_functions.c) loaded with dlopen and
// called from rules (values checked against closed forms computed here), its aggregate states
// through a checkpoint, the reference entries; and the refusals: a future ABI version, a library
// without the entry point, a taken name, malformed descriptors. This binary registers plugin
// functions in the process-wide registry, so it is its own executable.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gateway/plugins.h"
#include "rules/engine.h"
#include "rules/function_docs.h"
#include "rules/function_registry.h"
#include "rules/plugin/plugin_functions.h"

namespace fs = std::filesystem;
using nlohmann::json;
using streamgate::gateway::load_plugins;
using namespace streamgate::rules;

namespace {

//! A fresh directory holding copies of the given libraries.
class PluginDir {
 public:
  explicit PluginDir(const std::vector<std::string>& libs) {
    static int n = 0;
    dir_ = fs::temp_directory_path() /
           ("sg-plugins-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir_);
    for (const auto& l : libs) fs::copy_file(l, dir_ / fs::path(l).filename());
  }
  ~PluginDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path() const { return dir_.string(); }

 private:
  fs::path dir_;
};

const std::string kExample = STREAMGATE_EXAMPLE_PLUGIN;
const std::string kWrongAbi = STREAMGATE_WRONG_ABI_PLUGIN;
const std::string kNoEntry = STREAMGATE_NO_ENTRY_PLUGIN;
//! The gateway's clock in these tests: the day after the events (events beyond 24 h ahead of the
//! clock are refused).
constexpr std::int64_t kNow = 1'705'363'200'000'000'000;  // 2024-01-16T00:00:00Z

//! Loads the example plugin once for the whole binary (a library is never unloaded); the
//! directory it was loaded from.
std::string load_example() {
  static const PluginDir dir({kExample});
  static const auto report = load_plugins(dir.path());
  EXPECT_TRUE(report.errors.empty()) << report.errors.front();
  return dir.path();
}

std::vector<json> run(const std::string& rules, const std::vector<std::string>& inputs) {
  Engine eng;
  const auto errors = eng.load_file("plugins.sql", rules);
  EXPECT_TRUE(errors.empty()) << (errors.empty() ? "" : errors.front().to_string());
  std::vector<json> rows;
  EmitFn sink = [&rows](Emission&& e) {
    if (e.kind == EmissionKind::Result) rows.push_back(json::parse(e.payload));
  };
  for (const auto& in : inputs) eng.on_message("devices/d1/telemetry", in, kNow, sink);
  eng.flush(sink);
  return rows;
}

double magnus(double t, double rh) {
  const double a = 17.62, b = 243.12;
  const double g = std::log(rh / 100.0) + a * t / (b + t);
  return b * g / (a - g);
}

const char* const kStream =
    "CREATE STREAM s WITH (TOPIC='devices/+/telemetry', TIMESTAMP='ts', MAXOUTOFORDERNESS='5s');\n";

}  // namespace

TEST(Plugins, ExampleScalarGivesTheMagnusDewPointAndNullOutsideItsDomain) {
  load_example();
  const auto rows = run(std::string(kStream) +
                            "CREATE RULE r WITH (TOPIC='o') AS SELECT dew_point(t, rh) AS dp FROM s;\n",
                        {R"({"ts":"2024-01-15T10:00:00Z","t":20,"rh":50})",        // ints widened
                         R"({"ts":"2024-01-15T10:00:01Z","t":-5.5,"rh":80.5})",
                         R"({"ts":"2024-01-15T10:00:02Z","t":20,"rh":0})",         // SG_ERROR -> NULL
                         R"({"ts":"2024-01-15T10:00:03Z","t":"warm","rh":50})",    // undeclared type
                         R"({"ts":"2024-01-15T10:00:04Z","rh":50})"});             // NULL argument
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_NEAR(rows[0]["dp"].get<double>(), magnus(20, 50), 1e-12);
  EXPECT_NEAR(rows[1]["dp"].get<double>(), magnus(-5.5, 80.5), 1e-12);
  EXPECT_TRUE(rows[2]["dp"].is_null());
  EXPECT_TRUE(rows[3]["dp"].is_null());
  EXPECT_TRUE(rows[4]["dp"].is_null());
}

TEST(Plugins, ExampleAggregatesPerWindowAndGroupIncludingEventTime) {
  load_example();
  const auto rows = run(std::string(kStream) +
                            "CREATE RULE r WITH (TOPIC='o') AS SELECT d, geomean(v) AS g, "
                            "rate_per_minute(v) AS rate FROM s GROUP BY d, TumblingWindow('5m') "
                            "ORDER BY d;\n",
                        {R"({"ts":"2024-01-15T10:00:00Z","d":"a","v":1})",
                         R"({"ts":"2024-01-15T10:01:30Z","d":"a","v":8})",
                         R"({"ts":"2024-01-15T10:00:30Z","d":"a","v":2})",   // out of order
                         R"({"ts":"2024-01-15T10:01:00Z","d":"a","v":4})",
                         R"({"ts":"2024-01-15T10:02:00Z","d":"b","v":-3})",  // skipped by geomean
                         R"({"ts":"2024-01-15T10:02:00Z","d":"b","v":5})"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["d"], "a");
  EXPECT_NEAR(rows[0]["g"].get<double>(), std::pow(2.0, 1.5), 1e-12);  // (1*2*4*8)^(1/4)
  EXPECT_NEAR(rows[0]["rate"].get<double>(), (8.0 - 1.0) / 1.5, 1e-12);  // 7 over 90 s
  EXPECT_EQ(rows[1]["d"], "b");
  EXPECT_NEAR(rows[1]["g"].get<double>(), 5.0, 1e-12);
  EXPECT_TRUE(rows[1]["rate"].is_null());  // one event time only
}

TEST(Plugins, AggregateStatesSurviveACheckpoint) {
  load_example();
  const std::string rules = std::string(kStream) +
                            "CREATE RULE r WITH (TOPIC='o') AS SELECT geomean(v) AS g, "
                            "rate_per_minute(v) AS rate FROM s GROUP BY TumblingWindow('5m');\n";
  std::vector<json> rows;
  EmitFn sink = [&rows](Emission&& e) {
    if (e.kind == EmissionKind::Result) rows.push_back(json::parse(e.payload));
  };
  json saved;
  {
    Engine first;
    ASSERT_TRUE(first.load_file("p.sql", rules).empty());
    first.on_message("devices/d1/telemetry", R"({"ts":"2024-01-15T10:00:00Z","v":3})", kNow, sink);
    first.on_message("devices/d1/telemetry", R"({"ts":"2024-01-15T10:01:00Z","v":12})", kNow, sink);
    saved = first.save_state();
  }
  Engine second;
  ASSERT_TRUE(second.load_file("p.sql", rules).empty());
  second.restore_state(json::from_cbor(json::to_cbor(saved)));
  second.on_message("devices/d1/telemetry", R"({"ts":"2024-01-15T10:02:00Z","v":48})", kNow, sink);
  second.flush(sink);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NEAR(rows[0]["g"].get<double>(), 12.0, 1e-12);  // (3*12*48)^(1/3)
  EXPECT_NEAR(rows[0]["rate"].get<double>(), (48.0 - 3.0) / 2.0, 1e-12);
}

TEST(Plugins, ReferenceListsThePluginFunctionsUnderThePlugin) {
  load_example();
  const std::string md = functions_markdown(FunctionRegistry::global());
  EXPECT_NE(md.find("## plugin iot_functions 1.0"), std::string::npos);
  EXPECT_NE(md.find("### `dew_point(temp_c, humidity_pct) -> float`"), std::string::npos);
  EXPECT_NE(md.find("### `rate_per_minute(x) -> float`"), std::string::npos);
}

TEST(Plugins, ReloadLoadsOnlyNewFilesAndACopyUnderAnotherNameIsRefused) {
  const std::string dir = load_example();
  const auto again = load_plugins(dir);  // what a rule reload does
  EXPECT_TRUE(again.loaded.empty());
  EXPECT_TRUE(again.errors.empty()) << again.errors.front();
  fs::copy_file(kExample, fs::path(dir) / "libcopy.so");
  const auto copy = load_plugins(dir);
  fs::remove(fs::path(dir) / "libcopy.so");
  ASSERT_EQ(copy.errors.size(), 1u);
  EXPECT_NE(copy.errors[0].find("libcopy.so"), std::string::npos) << copy.errors[0];
  EXPECT_NE(copy.errors[0].find("'dew_point' is taken"), std::string::npos) << copy.errors[0];
}

TEST(Plugins, WrongAbiVersionIsRefusedInOneLineAndRegistersNothing) {
  const PluginDir dir({kWrongAbi});
  const auto r = load_plugins(dir.path());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_TRUE(r.loaded.empty());
  const std::string& e = r.errors[0];
  EXPECT_EQ(e.find('\n'), std::string::npos);
  EXPECT_NE(e.find("libsg_test_wrong_abi.so"), std::string::npos) << e;
  EXPECT_NE(e.find("ABI version 99"), std::string::npos) << e;
  EXPECT_NE(e.find("speaks version 1"), std::string::npos) << e;
  EXPECT_EQ(FunctionRegistry::global().scalar("future_answer"), nullptr);
  Engine eng;
  const auto errors = eng.load_file(
      "x.sql", std::string(kStream) + "CREATE RULE r WITH (TOPIC='o') AS SELECT future_answer() AS a FROM s;\n");
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors.front().to_string().find("future_answer"), std::string::npos);
}

TEST(Plugins, LibraryWithoutTheEntryPointOrMissingDirIsRefused) {
  const PluginDir dir({kNoEntry});
  const auto r = load_plugins(dir.path());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("no symbol 'streamgate_plugin'"), std::string::npos) << r.errors[0];
  const auto missing = load_plugins(dir.path() + "/nope");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_NE(missing.errors[0].find("not a readable directory"), std::string::npos);
}

// ---- descriptor checks, on a registry of the test's own -------------------------------------

namespace {

int answer(void*, const sg_value*, std::size_t, sg_value* out) {
  out->type = SG_TEXT;
  out->u.text.data = "forty-two";
  out->u.text.size = 9;
  return SG_OK;
}

int echo_json(void*, const sg_value* args, std::size_t, sg_value* out) {
  *out = args[0];  // JSON text in, the same JSON out
  return SG_OK;
}

sg_plugin one(const sg_function* f, std::size_t n = 1) {
  return sg_plugin{SG_PLUGIN_ABI_VERSION, sizeof(sg_plugin), "t", "1", n, f};
}

}  // namespace

TEST(PluginDescriptor, TakenNamesBadFieldsAndDuplicatesAreRefusedAsAWhole) {
  FunctionRegistry reg;
  reg.add_scalar({"avg_like", 1, 1, [](Args) { return Value(); }});
  const sg_function taken[] = {
      {"fresh_one", SG_SCALAR, 0, 0, nullptr, SG_T_TEXT, SG_FN_DETERMINISTIC, nullptr, nullptr, answer, nullptr, nullptr},
      {"AVG_LIKE", SG_SCALAR, 0, 0, nullptr, SG_T_TEXT, 0, nullptr, nullptr, answer, nullptr, nullptr}};
  sg_plugin p = one(taken, 2);
  std::string e = plugin::register_plugin(&p, "lib.so", reg);
  EXPECT_NE(e.find("'avg_like' is taken"), std::string::npos) << e;
  EXPECT_EQ(reg.scalar("fresh_one"), nullptr);  // all or nothing

  const sg_function twice[] = {taken[0], taken[0]};
  p = one(twice, 2);
  EXPECT_NE(plugin::register_plugin(&p, "lib.so", reg).find("declared twice"), std::string::npos);

  sg_function bad = taken[0];
  bad.name = "1abc";
  p = one(&bad);
  EXPECT_NE(plugin::register_plugin(&p, "lib.so", reg).find("name must be"), std::string::npos);
  bad = taken[0];
  bad.max_args = 17;
  p = one(&bad);
  EXPECT_NE(plugin::register_plugin(&p, "lib.so", reg).find("max_args"), std::string::npos);
  bad = taken[0];
  bad.flags = 1u << 20;
  p = one(&bad);
  EXPECT_NE(plugin::register_plugin(&p, "lib.so", reg).find("unknown flags"), std::string::npos);
  bad = taken[0];
  bad.scalar = nullptr;
  p = one(&bad);
  EXPECT_NE(plugin::register_plugin(&p, "lib.so", reg).find("needs its scalar"), std::string::npos);

  sg_aggregate agg{};
  agg.state_size = 8;
  agg.state_align = 3;
  sg_function a{"agg_x", SG_AGGREGATE, 1, 1, nullptr, SG_T_ANY, 0, nullptr, nullptr, nullptr, nullptr, &agg};
  p = one(&a);
  EXPECT_NE(plugin::register_plugin(&p, "lib.so", reg).find("needs init, add, merge"), std::string::npos);

  p = one(taken);
  p.struct_size = 8;
  EXPECT_NE(plugin::register_plugin(&p, "lib.so", reg).find("struct_size"), std::string::npos);
  EXPECT_NE(plugin::register_plugin(nullptr, "lib.so", reg).find("returned NULL"), std::string::npos);
  EXPECT_EQ(reg.names().size(), 1u);
}

TEST(PluginDescriptor, TextAndJsonCrossTheAbiAndVariadicIsBoundedBySixteen) {
  FunctionRegistry reg;
  const uint32_t json_only[] = {SG_T_JSON};
  const sg_function fns[] = {
      {"say", SG_SCALAR, 0, -1, nullptr, SG_T_TEXT, 0, nullptr, nullptr, answer, nullptr, nullptr},
      {"echo_json", SG_SCALAR, 1, 1, json_only, SG_T_JSON, SG_FN_DETERMINISTIC, nullptr, nullptr, echo_json, nullptr,
       nullptr}};
  sg_plugin p = one(fns, 2);
  ASSERT_EQ(plugin::register_plugin(&p, "lib.so", reg), "");
  const ScalarFunction* say = reg.scalar("SAY");
  ASSERT_NE(say, nullptr);
  EXPECT_EQ(say->max_args, SG_MAX_ARGS);
  Value none[1];
  EXPECT_EQ(say->call(Args{none, 0}).to_json(), "\"forty-two\"");
  Value obj[1] = {Value(Object{{"a", Value(Array{Value(1), Value("x")})}})};
  EXPECT_EQ(reg.scalar("echo_json")->call(Args{obj, 1}).to_json(), R"({"a":[1,"x"]})");
  Value text[1] = {Value("{}")};
  EXPECT_TRUE(reg.scalar("echo_json")->call(Args{text, 1}).is_null());  // text is not declared
  ASSERT_NE(reg.doc("say"), nullptr);
  EXPECT_EQ(reg.doc("say")->signature, "say([any], ...) -> text");
  EXPECT_NE(reg.doc("say")->description.find("Not deterministic") , std::string::npos) << reg.doc("say")->description;
}
