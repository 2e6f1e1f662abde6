// Scalar and stateful built-ins, and the registry itself: results, NULL and wrong types, edges,
// checkpoint round trips of every stateful function.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/function_registry.h"
#include "rules/time_util.h"

namespace streamgate::rules {
namespace {

using nlohmann::json;

const FunctionRegistry& reg() { return FunctionRegistry::global(); }

Value call(std::string_view name, std::vector<Value> args) {
  const ScalarFunction* f = reg().scalar(name);
  EXPECT_NE(f, nullptr) << name;
  if (f == nullptr) return {};
  EXPECT_GE(static_cast<int>(args.size()), f->min_args) << name;
  if (f->max_args >= 0) {
    EXPECT_LE(static_cast<int>(args.size()), f->max_args) << name;
  }
  return f->call(Args{args.data(), args.size()});
}

// Results as JSON text: compares value and type at once (3 vs 3.0 vs "3").
std::string j(std::string_view name, std::vector<Value> args) {
  return call(name, std::move(args)).to_json();
}

Value arr(std::vector<Value> v) { return Array(std::move(v)); }

constexpr std::int64_t kT0Ms = 1705314600000;  // 2024-01-15T10:30:00Z, a Monday

TEST(FunctionRegistry, LookupsAreCaseInsensitive) {
  EXPECT_NE(reg().scalar("ROUND"), nullptr);
  EXPECT_NE(reg().scalar("Round"), nullptr);
  EXPECT_NE(reg().aggregate("COUNT"), nullptr);
  EXPECT_NE(reg().stateful("Lag"), nullptr);
  EXPECT_EQ(reg().scalar("no_such_function"), nullptr);
  EXPECT_EQ(reg().scalar("count"), nullptr);  // families are separate
  EXPECT_EQ(reg().scalar("rand"), nullptr);   // non-deterministic: deliberately absent
  EXPECT_EQ(reg().scalar("now"), nullptr);
}

TEST(FunctionRegistry, NamesAreSortedAndComplete) {
  auto names = reg().names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  for (const char* n : {"abs", "sum", "lag", "zscore", "threshold_cross", "max_by", "count_by"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
}

TEST(FunctionRegistry, UserFunctionsArePeersAndMayOverride) {
  FunctionRegistry r;
  register_scalar_builtins(r);
  r.add_scalar({"Double_It", 1, 1, [](Args a) -> Value {
                  return a[0].is_int() ? Value(a[0].as_int() * 2) : Value();
                }});
  ASSERT_NE(r.scalar("double_it"), nullptr);
  Value two = 2;
  EXPECT_EQ(r.scalar("DOUBLE_IT")->call(Args{&two, 1}).to_json(), "4");
  r.add_scalar({"abs", 1, 1, [](Args) -> Value { return "mine"; }});
  EXPECT_EQ(r.scalar("abs")->call(Args{&two, 1}).to_json(), "\"mine\"");
}

TEST(ScalarMath, Basics) {
  EXPECT_EQ(j("abs", {-3}), "3");
  EXPECT_EQ(j("abs", {-2.5}), "2.5");
  EXPECT_EQ(j("abs", {INT64_MIN}), "9223372036854775808.0");
  EXPECT_EQ(j("ceil", {2.1}), "3");
  EXPECT_EQ(j("ceil", {-2.1}), "-2");
  EXPECT_EQ(j("floor", {2.9}), "2");
  EXPECT_EQ(j("floor", {7}), "7");
  EXPECT_EQ(j("sqrt", {16}), "4.0");
  EXPECT_EQ(j("sqrt", {-1}), "null");
  EXPECT_EQ(j("power", {2, 10}), "1024");
  EXPECT_EQ(j("pow", {2, -1}), "0.5");
  EXPECT_EQ(j("pow", {2.0, 0.5}), Value(std::sqrt(2.0)).to_json());
  EXPECT_EQ(j("power", {10, 30}), "1e+30");  // int overflow continues as double
  EXPECT_EQ(j("exp", {0}), "1.0");
  EXPECT_EQ(j("exp", {1000}), "null");
  EXPECT_EQ(j("ln", {1}), "0.0");
  EXPECT_EQ(j("ln", {0}), "null");
  EXPECT_EQ(j("log", {100}), Value(std::log(100.0)).to_json());
  EXPECT_EQ(j("log", {2, 8}), "3.0");
  EXPECT_EQ(j("log", {1, 8}), "null");
  EXPECT_EQ(j("log10", {1000}), "3.0");
  EXPECT_EQ(j("mod", {7, 3}), "1");
  EXPECT_EQ(j("mod", {-7, 3}), "-1");
  EXPECT_EQ(j("mod", {7, 0}), "null");
  EXPECT_EQ(j("mod", {INT64_MIN, -1}), "0");
  EXPECT_EQ(j("mod", {7.5, 2}), "1.5");
  EXPECT_EQ(j("sign", {-4.2}), "-1");
  EXPECT_EQ(j("sign", {0}), "0");
  EXPECT_EQ(j("sign", {9}), "1");
  EXPECT_EQ(j("greatest", {1, 5.5, nullptr, 3}), "5.5");
  EXPECT_EQ(j("least", {4, nullptr, 2}), "2");
  EXPECT_EQ(j("least", {nullptr, nullptr}), "null");
  EXPECT_EQ(j("greatest", {"a", "b"}), "\"b\"");
}

TEST(ScalarMath, RoundIsDecimal) {
  EXPECT_EQ(j("round", {2.5}), "3");
  EXPECT_EQ(j("round", {-2.5}), "-3");
  EXPECT_EQ(j("round", {2.675, 2}), "2.68");  // binary 2.67499999... rounds as written
  EXPECT_EQ(j("round", {1.005, 2}), "1.01");
  EXPECT_EQ(j("round", {0.1 + 0.2, 2}), "0.3");
  EXPECT_EQ(j("round", {1234.5678, 0}), "1235.0");
  EXPECT_EQ(j("round", {1234.5678, -2}), "1200.0");
  EXPECT_EQ(j("round", {9.995, 2}), "10.0");
  EXPECT_EQ(j("round", {0.0004, 2}), "0.0");
  EXPECT_EQ(j("round", {1.5e300, 2}), "1.5e+300");
  EXPECT_EQ(j("round", {17, 2}), "17");
  EXPECT_EQ(j("round", {1250, -2}), "1300");
  EXPECT_EQ(j("round", {-1250, -2}), "-1300");
  EXPECT_EQ(j("round", {-1249, -2}), "-1200");
  EXPECT_EQ(j("round", {3.14159, 2.0}), "3.14");
  EXPECT_EQ(j("round", {3.14159, 2.5}), "null");
}

TEST(ScalarMath, NullAndWrongTypes) {
  for (const char* f : {"abs", "ceil", "floor", "round", "sqrt", "exp", "ln", "log10", "sign"}) {
    EXPECT_EQ(j(f, {nullptr}), "null") << f;
    EXPECT_EQ(j(f, {"x"}), "null") << f;
    EXPECT_EQ(j(f, {true}), "null") << f;
    EXPECT_EQ(j(f, {arr({1})}), "null") << f;
  }
  EXPECT_EQ(j("power", {nullptr, 2}), "null");
  EXPECT_EQ(j("power", {"2", 2}), "null");
  EXPECT_EQ(j("mod", {7, nullptr}), "null");
  EXPECT_EQ(j("round", {2.5, nullptr}), "null");
  EXPECT_EQ(j("log", {"a", 2}), "null");
}

TEST(ScalarString, Basics) {
  EXPECT_EQ(j("lower", {"HeLLo"}), "\"hello\"");
  EXPECT_EQ(j("upper", {"straße"}), "\"STRAßE\"");  // ß has no one-letter capital: kept
  EXPECT_EQ(j("upper", {"café Œ ÿ ς ё"}), "\"CAFÉ Œ Ÿ Σ Ё\"");
  EXPECT_EQ(j("lower", {"ÀÉÎ ĲŁŽ ΆΣ ЖЁ"}), "\"àéî ĳłž άσ жё\"");
  EXPECT_EQ(j("lower", {"İI ı"}), "\"İi ı\"");        // Turkish i's left alone
  EXPECT_EQ(j("upper", {"x\xC3"}), "\"X\xC3\"");        // a broken sequence passes through
  EXPECT_EQ(j("trim", {"  a b \t"}), "\"a b\"");
  EXPECT_EQ(j("ltrim", {"  a "}), "\"a \"");
  EXPECT_EQ(j("rtrim", {"  a "}), "\"  a\"");
  EXPECT_EQ(j("trim", {"xxaxx", "x"}), "\"a\"");
  EXPECT_EQ(j("trim", {"   "}), "\"\"");
  EXPECT_EQ(j("length", {"héllo"}), "5");
  EXPECT_EQ(j("len", {""}), "0");
  EXPECT_EQ(j("length", {arr({1, 2})}), "2");
  EXPECT_EQ(j("concat", {"a", 1, nullptr, 2.5, true}), "\"a12.5true\"");
  EXPECT_EQ(j("substring", {"hello", 2}), "\"ello\"");
  EXPECT_EQ(j("substring", {"hello", 2, 3}), "\"ell\"");
  EXPECT_EQ(j("substr", {"hello", 0, 2}), "\"h\"");
  EXPECT_EQ(j("substring", {"hello", 10}), "\"\"");
  EXPECT_EQ(j("substring", {"héllo", 2, 2}), "\"él\"");
  EXPECT_EQ(j("substring", {"hello", 2, -1}), "null");
  EXPECT_EQ(j("replace", {"a-b-c", "-", "+"}), "\"a+b+c\"");
  EXPECT_EQ(j("replace", {"abc", "", "x"}), "\"abc\"");
  EXPECT_EQ(j("split", {"a,b,,c", ","}), R"(["a","b","","c"])");
  EXPECT_EQ(j("split", {"", ","}), R"([""])");
  EXPECT_EQ(j("split", {"hé", ""}), R"(["h","é"])");
  EXPECT_EQ(j("startswith", {"sensor/1", "sensor"}), "true");
  EXPECT_EQ(j("endswith", {"sensor/1", "/2"}), "false");
  EXPECT_EQ(j("indexof", {"hello", "l"}), "3");
  EXPECT_EQ(j("indexof", {"hello", "z"}), "0");
  EXPECT_EQ(j("lpad", {"7", 3, "0"}), "\"007\"");
  EXPECT_EQ(j("rpad", {"ab", 5, "xy"}), "\"abxyx\"");
  EXPECT_EQ(j("lpad", {"hello", 2}), "\"he\"");
  EXPECT_EQ(j("lpad", {"a", 3}), "\"  a\"");
  EXPECT_EQ(j("lpad", {"a", 100000000}), "null");  // bounded
  EXPECT_EQ(j("format_number", {1234.5, 2}), "\"1234.50\"");
  EXPECT_EQ(j("format_number", {2.675, 2}), "\"2.68\"");
  EXPECT_EQ(j("format_number", {7}), "\"7\"");
}

TEST(ScalarString, Regexp) {
  EXPECT_EQ(j("regexp_matches", {"device-42", "^device-[0-9]+$"}), "true");
  EXPECT_EQ(j("regexp_matches", {"device-x", "^device-[0-9]+$"}), "false");
  EXPECT_EQ(j("regexp_matches", {"abc", "b"}), "true");  // search, not full match
  EXPECT_EQ(j("regexp_matches", {"abc", "(unclosed"}), "null");
  EXPECT_EQ(j("regexp_matches", {"abc", "(unclosed"}), "null");  // cached as invalid
  EXPECT_EQ(j("regexp_matches", {nullptr, "a"}), "null");
  EXPECT_EQ(j("regexp_matches", {1, "1"}), "null");
  EXPECT_EQ(j("regexp_replace", {"a1b22", "[0-9]+", "#"}), "\"a#b#\"");
  EXPECT_EQ(j("regexp_extract", {"temp=21.5C", "temp=([0-9.]+)", 1}), "\"21.5\"");
  EXPECT_EQ(j("regexp_extract", {"nothing", "temp=([0-9.]+)", 1}), "null");
  EXPECT_EQ(j("regexp_extract", {"temp=1", "temp=([0-9.]+)", 5}), "null");
}

TEST(ScalarString, NullAndWrongTypes) {
  for (const char* f : {"lower", "upper", "trim", "ltrim", "rtrim", "length"}) {
    EXPECT_EQ(j(f, {nullptr}), "null") << f;
    EXPECT_EQ(j(f, {42}), "null") << f;
  }
  EXPECT_EQ(j("substring", {nullptr, 1}), "null");
  EXPECT_EQ(j("substring", {"abc", "1"}), "null");
  EXPECT_EQ(j("replace", {"abc", nullptr, "x"}), "null");
  EXPECT_EQ(j("split", {123, ","}), "null");
  EXPECT_EQ(j("startswith", {nullptr, "a"}), "null");
  EXPECT_EQ(j("indexof", {"a", 1}), "null");
  EXPECT_EQ(j("lpad", {"a", "3"}), "null");
  EXPECT_EQ(j("concat", {nullptr}), "\"\"");
}

TEST(ScalarConditional, NullHandling) {
  EXPECT_EQ(j("coalesce", {nullptr, nullptr, 3, 4}), "3");
  EXPECT_EQ(j("coalesce", {nullptr}), "null");
  EXPECT_EQ(j("if_null", {nullptr, "x"}), "\"x\"");
  EXPECT_EQ(j("ifnull", {1, "x"}), "1");
  EXPECT_EQ(j("nvl", {nullptr, nullptr}), "null");
  EXPECT_EQ(j("nullif", {5, 5}), "null");
  EXPECT_EQ(j("nullif", {5, 5.0}), "null");
  EXPECT_EQ(j("nullif", {5, 6}), "5");
  EXPECT_EQ(j("nullif", {nullptr, 6}), "null");
  EXPECT_EQ(j("nullif", {5, nullptr}), "5");
  EXPECT_EQ(j("if", {true, "a", "b"}), "\"a\"");
  EXPECT_EQ(j("if", {false, "a", "b"}), "\"b\"");
  EXPECT_EQ(j("if", {nullptr, "a", "b"}), "\"b\"");
  EXPECT_EQ(j("if", {1, "a", "b"}), "\"b\"");  // only boolean true is true
}

TEST(ScalarConversion, Cast) {
  EXPECT_EQ(j("cast", {"42", "bigint"}), "42");
  EXPECT_EQ(j("cast", {" 42 ", "BIGINT"}), "42");
  EXPECT_EQ(j("cast", {12.7, "bigint"}), "12");
  EXPECT_EQ(j("cast", {-12.7, "int"}), "-12");
  EXPECT_EQ(j("cast", {"12.7", "bigint"}), "12");
  EXPECT_EQ(j("cast", {true, "bigint"}), "1");
  EXPECT_EQ(j("cast", {"abc", "bigint"}), "null");
  EXPECT_EQ(j("cast", {1e300, "bigint"}), "null");
  EXPECT_EQ(j("cast", {3, "float"}), "3.0");
  EXPECT_EQ(j("cast", {"2.5", "double"}), "2.5");
  EXPECT_EQ(j("cast", {"nan", "float"}), "null");
  EXPECT_EQ(j("cast", {3, "string"}), "\"3\"");
  EXPECT_EQ(j("cast", {2.5, "string"}), "\"2.5\"");
  EXPECT_EQ(j("cast", {arr({1, "a"}), "string"}), R"("[1,\"a\"]")");
  EXPECT_EQ(j("cast", {"TRUE", "boolean"}), "true");
  EXPECT_EQ(j("cast", {"0", "bool"}), "false");
  EXPECT_EQ(j("cast", {2, "boolean"}), "true");
  EXPECT_EQ(j("cast", {"maybe", "boolean"}), "null");
  EXPECT_EQ(j("cast", {1, "geometry"}), "null");
  EXPECT_EQ(j("cast", {nullptr, "bigint"}), "null");
  EXPECT_EQ(j("to_number", {"17"}), "17");
  EXPECT_EQ(j("to_number", {"1.5e3"}), "1500.0");
  EXPECT_EQ(j("to_number", {"+3"}), "3");
  EXPECT_EQ(j("to_number", {"12abc"}), "null");
  EXPECT_EQ(j("to_number", {""}), "null");
  EXPECT_EQ(j("to_number", {arr({})}), "null");
  EXPECT_EQ(j("to_string", {17}), "\"17\"");
  EXPECT_EQ(j("tostring", {"x"}), "\"x\"");
  EXPECT_EQ(j("to_string", {nullptr}), "null");
}

TEST(ScalarTime, ParseAndFormat) {
  EXPECT_EQ(j("to_timestamp", {"2024-01-15T10:30:00Z"}), std::to_string(kT0Ms));
  EXPECT_EQ(j("to_timestamp", {"2024-01-15T12:30:00.250+02:00"}), std::to_string(kT0Ms + 250));
  EXPECT_EQ(j("to_timestamp", {kT0Ms / 1000}), std::to_string(kT0Ms));  // epoch seconds
  EXPECT_EQ(j("to_timestamp", {kT0Ms}), std::to_string(kT0Ms));
  EXPECT_EQ(j("to_timestamp", {kT0Ms * 1'000'000}), std::to_string(kT0Ms));  // ns
  EXPECT_EQ(j("to_timestamp", {std::to_string(kT0Ms)}), std::to_string(kT0Ms));
  EXPECT_EQ(j("to_timestamp", {"yesterday"}), "null");
  EXPECT_EQ(j("to_timestamp", {nullptr}), "null");
  EXPECT_EQ(j("to_timestamp", {true}), "null");
  EXPECT_EQ(j("format_time", {kT0Ms}), "\"2024-01-15T10:30:00Z\"");
  EXPECT_EQ(j("format_time", {kT0Ms + 5, "rfc3339"}), "\"2024-01-15T10:30:00.005Z\"");
  EXPECT_EQ(j("format_time", {kT0Ms + 5, "%Y/%m/%d %H:%M:%S.%L %%"}),
            "\"2024/01/15 10:30:00.005 %\"");
  EXPECT_EQ(j("format_time", {kT0Ms, "%Q"}), "null");
  EXPECT_EQ(j("format_time", {"2024-01-15T10:30:00Z", "%s"}), "\"1705314600\"");
  EXPECT_EQ(j("format_time", {"garbage"}), "null");
}

TEST(ScalarTime, Parts) {
  EXPECT_EQ(j("year", {kT0Ms}), "2024");
  EXPECT_EQ(j("month", {kT0Ms}), "1");
  EXPECT_EQ(j("day", {kT0Ms}), "15");
  EXPECT_EQ(j("hour", {kT0Ms}), "10");
  EXPECT_EQ(j("hour", {"2024-01-15T23:59:59-01:00"}), "0");  // UTC
  EXPECT_EQ(j("minute", {"2024-01-15T10:31:59Z"}), "31");
  EXPECT_EQ(j("second", {"2024-01-15T10:31:59Z"}), "59");
  EXPECT_EQ(j("day_of_week", {kT0Ms}), "1");                     // Monday
  EXPECT_EQ(j("day_of_week", {"2024-01-14T00:00:00Z"}), "0");    // Sunday
  EXPECT_EQ(j("day_of_week", {"1969-12-31T23:00:00Z"}), "3");    // Wednesday, before 1970
  EXPECT_EQ(j("hour", {nullptr}), "null");
  EXPECT_EQ(j("hour", {arr({})}), "null");
  EXPECT_EQ(j("date_trunc", {"hour", kT0Ms + 1234567}), std::to_string(kT0Ms - 30 * 60000 + 0));
  EXPECT_EQ(j("date_trunc", {"day", kT0Ms}), std::to_string(kT0Ms - (10 * 60 + 30) * 60000LL));
  EXPECT_EQ(j("date_trunc", {"week", kT0Ms}), std::to_string(kT0Ms - (10 * 60 + 30) * 60000LL));
  EXPECT_EQ(j("date_trunc", {"month", kT0Ms}), "1704067200000");  // 2024-01-01
  EXPECT_EQ(j("date_trunc", {"year", "2024-07-04T00:00:00Z"}), "1704067200000");
  EXPECT_EQ(j("date_trunc", {"fortnight", kT0Ms}), "null");
}

TEST(ScalarCollections, Arrays) {
  Value a = arr({1, 2, 2, 3, "x"});
  Value b = arr({2, 3.0, 4});
  EXPECT_EQ(j("cardinality", {a}), "5");
  EXPECT_EQ(j("array_length", {arr({})}), "0");
  EXPECT_EQ(j("array_contains", {a, 3.0}), "true");
  EXPECT_EQ(j("array_contains", {a, "y"}), "false");
  EXPECT_EQ(j("array_contains", {a, nullptr}), "null");
  EXPECT_EQ(j("array_intersect", {a, b}), "[2,3]");
  EXPECT_EQ(j("array_except", {a, b}), R"([1,"x"])");
  EXPECT_EQ(j("array_union", {a, b}), R"([1,2,3,"x",4])");
  EXPECT_EQ(j("array_distinct", {a}), R"([1,2,3,"x"])");
  EXPECT_EQ(j("element_at", {a, 1}), "1");
  EXPECT_EQ(j("element_at", {a, -1}), "\"x\"");
  EXPECT_EQ(j("element_at", {a, 0}), "null");
  EXPECT_EQ(j("element_at", {a, 99}), "null");
  for (const char* f : {"cardinality", "array_distinct"}) EXPECT_EQ(j(f, {"abc"}), "null") << f;
  EXPECT_EQ(j("array_intersect", {a, nullptr}), "null");
  EXPECT_EQ(j("array_union", {1, b}), "null");
}

TEST(ScalarCollections, Objects) {
  Value o = Object{{"US", 2}, {"CN", 1}};
  EXPECT_EQ(j("object_keys", {o}), R"(["US","CN"])");
  EXPECT_EQ(j("object_values", {o}), "[2,1]");
  EXPECT_EQ(j("element_at", {o, "CN"}), "1");
  EXPECT_EQ(j("element_at", {o, "FR"}), "null");
  EXPECT_EQ(j("cardinality", {o}), "2");
  EXPECT_EQ(j("object_keys", {arr({})}), "null");
}

TEST(ScalarFunctions, NoneThrowsOnAnyInput) {
  // Every scalar with every arity it accepts, over a spread of odd values: NULL or a value,
  // never an exception or a crash.
  std::vector<Value> odd = {nullptr, true, 0, -1, INT64_MIN, INT64_MAX, 0.5, NAN, INFINITY,
                            -1e308, "", "x", "2024-01-15T10:30:00Z", "%", "[", arr({}),
                            arr({1, nullptr}), Object{{"k", 1}}};
  for (const auto& name : reg().names()) {
    const ScalarFunction* f = reg().scalar(name);
    if (f == nullptr) continue;
    const int max = f->max_args < 0 ? 4 : f->max_args;
    for (int n = f->min_args; n <= max; ++n) {
      for (std::size_t i = 0; i < odd.size(); ++i) {
        std::vector<Value> args;
        for (int k = 0; k < n; ++k) args.push_back(odd[(i + static_cast<std::size_t>(k) * 7) % odd.size()]);
        EXPECT_NO_THROW(f->call(Args{args.data(), args.size()})) << name << " arity " << n;
      }
    }
  }
}

// ---- stateful ----------------------------------------------------------------------------

class Stateful {
 public:
  explicit Stateful(std::string_view name) {
    const StatefulFunction* f = reg().stateful(name);
    EXPECT_NE(f, nullptr) << name;
    if (f) state_ = f->create();
  }
  Value operator()(std::vector<Value> args, std::int64_t t_ns = 0) {
    return state_->call(Args{args.data(), args.size()}, t_ns);
  }
  std::string j(std::vector<Value> args, std::int64_t t_ns = 0) {
    return (*this)(std::move(args), t_ns).to_json();
  }
  //! A copy through a checkpoint: saved, dumped to text, parsed, restored into a fresh state.
  Stateful reloaded(std::string_view name) const {
    Stateful copy(name);
    copy.state_->restore(json::parse(state_->save().dump()));
    return copy;
  }

 private:
  std::unique_ptr<StatefulState> state_;
};

//! Feeds the same continuation to the original and to a checkpoint copy: results must agree.
void expect_round_trip(std::string_view name, Stateful& original,
                       const std::vector<std::vector<Value>>& more, std::int64_t t0 = 0) {
  Stateful copy = original.reloaded(name);
  std::int64_t t = t0;
  for (const auto& args : more) {
    t += kNsPerSec;
    EXPECT_EQ(copy.j(args, t), original.j(args, t)) << name;
  }
}

TEST(StatefulFunctions, Lag) {
  Stateful lag("lag");
  EXPECT_EQ(lag.j({1}), "null");
  EXPECT_EQ(lag.j({2}), "1");
  EXPECT_EQ(lag.j({nullptr}), "2");
  EXPECT_EQ(lag.j({4}), "null");  // NULL rows count as rows
  Stateful lag2("lag");
  EXPECT_EQ(lag2.j({"a", 2, "none"}), "\"none\"");
  EXPECT_EQ(lag2.j({"b", 2, "none"}), "\"none\"");
  EXPECT_EQ(lag2.j({"c", 2, "none"}), "\"a\"");
  EXPECT_EQ(lag2.j({"d", 2, "none"}), "\"b\"");
  EXPECT_EQ(lag2.j({"e", -1}), "null");
  EXPECT_EQ(lag2.j({"f", 100000}), "null");  // beyond the bound
  expect_round_trip("lag", lag2, {{"g", 2}, {"h", 2}, {"i", 2, 0}});
}

TEST(StatefulFunctions, Latest) {
  Stateful latest("latest");
  EXPECT_EQ(latest.j({nullptr, "dflt"}), "\"dflt\"");
  EXPECT_EQ(latest.j({nullptr}), "null");
  EXPECT_EQ(latest.j({5}), "5");
  EXPECT_EQ(latest.j({nullptr}), "5");
  EXPECT_EQ(latest.j({6}), "6");
  expect_round_trip("latest", latest, {{nullptr}, {7}});
}

TEST(StatefulFunctions, ChangedCol) {
  Stateful c("changed_col");
  EXPECT_EQ(c.j({true, "on"}), "\"on\"");
  EXPECT_EQ(c.j({true, "on"}), "null");
  EXPECT_EQ(c.j({true, nullptr}), "null");
  EXPECT_EQ(c.j({true, "on"}), "null");  // NULL ignored: still on
  EXPECT_EQ(c.j({true, "off"}), "\"off\"");
  Stateful d("changed_col");
  EXPECT_EQ(d.j({false, 1}), "1");
  EXPECT_EQ(d.j({false, 1.0}), "null");  // 1 == 1.0
  EXPECT_EQ(d.j({false, nullptr}), "null");
  EXPECT_EQ(d.j({false, 1}), "1");  // changed from NULL back to 1
  expect_round_trip("changed_col", d, {{false, 1}, {false, 2}});
}

TEST(StatefulFunctions, HadChanged) {
  Stateful h("had_changed");
  EXPECT_EQ(h.j({true, 1, "a"}), "true");
  EXPECT_EQ(h.j({true, 1, "a"}), "false");
  EXPECT_EQ(h.j({true, nullptr, "a"}), "false");
  EXPECT_EQ(h.j({true, 1, "b"}), "true");
  Stateful k("had_changed");
  EXPECT_EQ(k.j({false, 1}), "true");
  EXPECT_EQ(k.j({false, nullptr}), "true");
  EXPECT_EQ(k.j({false, nullptr}), "false");
  expect_round_trip("had_changed", h, {{true, 1, "b"}, {true, 2, "b"}, {true, nullptr, "c"}});
}

TEST(StatefulFunctions, FirstSeenRemembersAndForgets) {
  Stateful f("first_seen");
  const std::int64_t h = 3600 * kNsPerSec;
  EXPECT_EQ(f.j({"alice"}, 0), "true");
  EXPECT_EQ(f.j({"bob"}, 1 * h), "true");
  EXPECT_EQ(f.j({"alice"}, 2 * h), "false");
  EXPECT_EQ(f.j({nullptr}, 2 * h), "null");
  // 24h default ttl counted from the last sighting: alice was seen at 2h.
  EXPECT_EQ(f.j({"carol"}, 25 * h + 1), "true");  // expires bob (last seen 1h)
  EXPECT_EQ(f.j({"alice"}, 25 * h + 2), "false");
  EXPECT_EQ(f.j({"bob"}, 25 * h + 3), "true");
  Stateful g("first_seen");
  EXPECT_EQ(g.j({1, "10m"}, 0), "true");
  EXPECT_EQ(g.j({1, "10m"}, 5 * 60 * kNsPerSec), "false");
  EXPECT_EQ(g.j({1, "10m"}, 16 * 60 * kNsPerSec), "true");
  EXPECT_EQ(g.j({1, "soon"}, 0), "null");
  // An out-of-order event does not revive or expire anything by going back in time.
  EXPECT_EQ(g.j({2, "10m"}, 17 * 60 * kNsPerSec), "true");
  EXPECT_EQ(g.j({2, "10m"}, 1 * 60 * kNsPerSec), "false");
  expect_round_trip("first_seen", f, {{"alice"}, {"dave"}, {"dave"}, {"bob"}}, 26 * h);
}

TEST(StatefulFunctions, FirstSeenIsBounded) {
  Stateful f("first_seen");
  for (int i = 0; i < 100'001; ++i) f({i}, i);
  // Value 0 (the least recently seen) was evicted; 1 is still known.
  EXPECT_EQ(f.j({1}, 100'001), "false");
  EXPECT_EQ(f.j({0}, 100'002), "true");
}

TEST(AnomalyFunctions, Zscore) {
  Stateful z("zscore");
  EXPECT_EQ(z.j({10, 5}), "null");
  EXPECT_EQ(z.j({12, 5}), "null");  // one previous value is not enough
  // Previous {10, 12}: mean 11, sample sd sqrt(2).
  EXPECT_NEAR(z({14, 5}).as_number(), 3 / std::sqrt(2.0), 1e-12);
  EXPECT_EQ(z.j({nullptr, 5}), "null");
  EXPECT_EQ(z.j({"x", 5}), "null");
  EXPECT_EQ(z.j({1, 1}), "null");  // a window below two values is meaningless
  Stateful flat("zscore");
  for (int i = 0; i < 5; ++i) flat({7, 3});
  EXPECT_EQ(flat.j({7, 3}), "0.0");
  EXPECT_EQ(flat.j({8, 3}), "null");  // deviation from a constant series: infinite
  // Only the last n values count.
  Stateful w("zscore");
  for (double x : {100.0, 100.0, 1.0, 2.0, 3.0}) w({x, 3});
  EXPECT_NEAR(w({4, 3}).as_number(), (4 - 2.0) / 1.0, 1e-12);
  expect_round_trip("zscore", w, {{5, 3}, {50, 3}, {5, 3}});
}

TEST(AnomalyFunctions, ZscoreOverTimeSpan) {
  Stateful z("zscore");
  const std::int64_t s = kNsPerSec;
  z({1000, "10s"}, 0 * s);   // falls out of the span before the last call
  z({1, "10s"}, 5 * s);
  z({3, "10s"}, 6 * s);
  EXPECT_NEAR(z({5, "10s"}, 12 * s).as_number(), (5 - 2.0) / std::sqrt(2.0), 1e-12);
  EXPECT_EQ(z.j({5, "nonsense"}, 13 * s), "null");
}

TEST(AnomalyFunctions, ZscoreStaysAccurateOverLongRuns) {
  Stateful z("zscore");
  // Large offset, small spread, many window turnovers: running sums must not drift.
  double last = 0;
  for (int i = 0; i < 20'000; ++i) last = z({1e9 + (i % 2 == 0 ? 0.1 : -0.1), 50}).as_number();
  EXPECT_NEAR(std::fabs(last), 0.1 / std::sqrt(0.01 * 50.0 / 49.0), 1e-4);
}

TEST(AnomalyFunctions, Ewma) {
  Stateful e("ewma");
  EXPECT_EQ(e.j({10, 0.5}), "10.0");
  EXPECT_EQ(e.j({20, 0.5}), "15.0");
  EXPECT_EQ(e.j({nullptr, 0.5}), "null");
  EXPECT_EQ(e.j({20, 0.5}), "17.5");
  EXPECT_EQ(e.j({20, 0}), "null");
  EXPECT_EQ(e.j({20, 1.5}), "null");
  EXPECT_EQ(e.j({20, "0.5"}), "null");
  expect_round_trip("ewma", e, {{1, 0.3}, {2, 0.3}});
}

TEST(AnomalyFunctions, EwmaBand) {
  Stateful b("ewma_band");
  EXPECT_EQ(b.j({10, 0.3, 3}), "null");
  EXPECT_EQ(b.j({11, 0.3, 3}), "null");
  for (double x : {10.0, 11.0, 10.5, 10.2, 10.8, 10.4}) EXPECT_EQ(b.j({x, 0.3, 3}), "false");
  EXPECT_EQ(b.j({30, 0.3, 3}), "true");
  EXPECT_EQ(b.j({30, 0.3, -1}), "null");
  Stateful a("ewma_anomaly");
  EXPECT_EQ(a.j({"x", 0.3, 3}), "null");
  expect_round_trip("ewma_band", b, {{10, 0.3, 3}, {100, 0.3, 3}, {10, 0.3, 2}});
}

TEST(AnomalyFunctions, ThresholdCrossHasHysteresis) {
  Stateful t("threshold_cross");
  EXPECT_EQ(t.j({50, 80, 70}), "false");
  EXPECT_EQ(t.j({80, 80, 70}), "true");
  EXPECT_EQ(t.j({75, 80, 70}), "true");  // hovering between: stays raised
  EXPECT_EQ(t.j({79, 80, 70}), "true");
  EXPECT_EQ(t.j({70, 80, 70}), "false");
  EXPECT_EQ(t.j({75, 80, 70}), "false");  // hovering between: stays cleared
  EXPECT_EQ(t.j({nullptr, 80, 70}), "null");
  EXPECT_EQ(t.j({75, 70, 80}), "null");  // low above high is a rule error
  EXPECT_EQ(t.j({90, 80, 70}), "true");
  expect_round_trip("threshold_cross", t, {{75, 80, 70}, {60, 80, 70}});
}

TEST(StatefulFunctions, RestoreFromDamagedCheckpointDoesNotThrow) {
  for (const auto& name : reg().names()) {
    const StatefulFunction* f = reg().stateful(name);
    if (f == nullptr) continue;
    for (const char* text : {"null", "{}", "[]", "42", R"({"values":7,"entries":[1,[2]],"n":"x"})"}) {
      auto s = f->create();
      EXPECT_NO_THROW(s->restore(json::parse(text))) << name << " " << text;
      std::vector<Value> args(static_cast<std::size_t>(std::max(f->min_args, 1)), Value(1));
      EXPECT_NO_THROW(s->call(Args{args.data(), args.size()}, 0)) << name;
    }
  }
}

}  // namespace
}  // namespace streamgate::rules
