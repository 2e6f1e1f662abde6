// Edges of the function families added for users of StreamSQL / eKuiper (math, hash, json, type,
// datetime, text, array): wrong types, bounds and malformed input give NULL, never an exception.
// The happy paths are the reference's examples (function_docs_test runs them).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/function_registry.h"

namespace streamgate::rules {
namespace {

struct Row {
  const char* fn;
  std::vector<Value> args;
  std::string want;  // JSON of the result
};

std::string call(const Row& r) {
  const ScalarFunction* f = FunctionRegistry::global().scalar(r.fn);
  if (f == nullptr) return std::string("no function ") + r.fn;
  return f->call(Args{r.args.data(), r.args.size()}).to_json();
}

Value arr(std::vector<Value> v) { return Array(std::move(v)); }

TEST(FunctionFamilies, EdgesGiveNullOrTheDefinedValue) {
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  const std::string big(70 * 1024, 'a');
  const std::vector<Row> rows = {
      // math
      {"asin", {2}, "null"},
      {"cot", {0}, "null"},
      {"bitand", {1.5, 1}, "null"},
      {"trunc", {0.29, 2}, "0.29"},
      {"trunc", {7, 2}, "7"},
      {"atan2", {"a", 1}, "null"},
      // hash
      {"md5", {Value()}, "null"},
      {"md5", {""}, "\"d41d8cd98f00b204e9800998ecf8427e\""},
      {"crc32", {123456789}, "3421780262"},  // numbers hash as their text
      // arrays and objects hash as their compact JSON: sha256('[1,2]')
      {"sha256", {arr({1, 2})}, "\"49a64717d5d4cb19952e6eac2946415cf6879adacf9908e7d872332d32c6e684\""},
      {"from_base64", {"***"}, "null"},
      {"from_base64", {"/w=="}, "null"},  // byte 0xFF is not UTF-8 text
      {"to_base64", {"a"}, "\"YQ==\""},
      {"hex_to_int", {"0x"}, "null"},
      {"hex_to_int", {"12345678901234567"}, "null"},
      {"to_hex", {-1}, "\"ffffffffffffffff\""},
      // json
      {"parse_json", {"{bad"}, "null"},
      {"parse_json", {deep}, "null"},  // deeper than 64 levels
      {"parse_json", {"[1,[2]]"}, "[1,[2]]"},
      {"json_path_query", {"{\"a\":1}", "$.a["}, "null"},
      {"json_path_query", {"{\"a\":{\"b\":1,\"c\":2}}", "$.a.*"}, "[1,2]"},
      {"json_path_query_first", {"[1,2,3]", "$[-1]"}, "3"},
      {"json_path_exists", {Value(), "$.a"}, "false"},
      {"to_json", {Value()}, "\"null\""},
      // types
      {"typeof", {arr({})}, "\"array\""},
      {"is_null", {0}, "false"},
      {"to_int", {"x"}, "null"},
      {"to_float", {true}, "1.0"},
      // datetime
      {"format_date", {"2024-01-15T10:30:00Z", "yyyy-QQ"}, "null"},
      {"format_date", {"2024-01-15T10:30:00Z", "'at' HH'h'"}, "\"at 10h\""},
      {"parse_date", {"2024-02-30", "yyyy-MM-dd"}, "null"},
      {"parse_date", {"2024-01-15 extra", "yyyy-MM-dd"}, "null"},
      {"parse_date", {"9999-12-31", "yyyy-MM-dd"}, "null"},  // beyond int64 nanoseconds
      {"parse_date", {"15 Jan 2024", "d MMM yyyy"}, "1705276800000"},
      {"date_add", {"2024-01-15T00:00:00Z", "1d"}, "1705363200000"},
      {"date_add", {"2024-01-15T00:00:00Z", "soon"}, "null"},
      {"date_diff", {"2024-01-15T12:00:00Z", "2024-01-15T10:00:00Z", "minutes"}, "-120"},
      {"date_diff", {"2024-01-15T12:00:00Z", "2024-01-15T10:00:00Z", "fortnight"}, "null"},
      {"week_of_year", {"2024-12-30T00:00:00Z"}, "1"},
      {"day_of_year", {"2023-12-31T00:00:00Z"}, "365"},
      {"from_unixtime", {1e300}, "null"},
      {"last_day", {"x"}, "null"},
      // text
      {"split_part", {"a/b", "/", 0}, "null"},
      {"split_part", {"a/b", "/", 3}, "null"},
      {"split_part", {"a/b", "", 1}, "\"a/b\""},
      {"split_value", {"a/b", "/", INT64_MAX}, "null"},
      {"regexp_split", {big, "a"}, "null"},  // longer than 64 KiB
      {"regexp_split", {"abc", "("}, "null"},  // invalid pattern
      {"regexp_count", {"aaa", "a*"}, "2"},  // "aaa", then the empty match at the end
      {"repeat", {"ab", 1 << 20}, "null"},  // beyond 1 MiB
      {"repeat", {"ab", 0}, "\"\""},
      {"left", {"héllo", 2}, "\"hé\""},
      {"right", {"héllo", 0}, "\"\""},
      {"right", {"héllo", 99}, "\"héllo\""},
      {"chr", {0}, "null"},
      {"chr", {0xD800}, "null"},
      {"chr", {0x1F600}, "\"\xF0\x9F\x98\x80\""},
      // arrays
      {"array_position", {arr({1, 2}), 3}, "0"},
      {"array_join", {"x", ","}, "null"},
      {"array_sum", {arr({INT64_MAX, 1})}, "9223372036854775808.0"},  // overflow: a float
      {"array_avg", {arr({"a"})}, "null"},
      {"array_slice", {arr({1, 2, 3}), INT64_MIN, INT64_MAX}, "[1,2,3]"},
      {"array_slice", {arr({1, 2, 3}), 3, 1}, "[]"},
      {"array_concat", {arr({1}), 2}, "null"},
      {"array_flatten", {arr({arr({arr({1})})}), 5}, "[1]"},
      {"sequence", {1, 1000000}, "null"},  // more than 100,000 elements
      {"sequence", {3, 1, -1}, "[3,2,1]"},
      {"sequence", {INT64_MAX - 1, INT64_MAX, 5}, "[9223372036854775806]"},
      {"sequence", {1, 2, 0}, "null"},
  };
  for (const auto& r : rows) EXPECT_EQ(call(r), r.want) << r.fn << " " << Value(Array(r.args)).to_json();
}

}  // namespace
}  // namespace streamgate::rules
