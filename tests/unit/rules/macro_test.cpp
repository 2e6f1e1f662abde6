// CREATE FUNCTION (SQL macros): visible to later statements and files, recursion refused with a
// position instead of looping, and the parser's shape of the statement.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/ast.h"
#include "rules/engine.h"
#include "rules/time_util.h"

namespace streamgate::rules {
namespace {

TEST(CreateFunction, ParsesNameParametersAndBody) {
  auto r = ast::parse("CREATE FUNCTION c_to_f(c) AS c * 9 / 5 + 32;\nCREATE FUNCTION one() AS 1;");
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().message;
  ASSERT_EQ(r.statements.size(), 2u);
  EXPECT_EQ(r.statements[0].kind, ast::StatementKind::CreateFunction);
  EXPECT_EQ(r.statements[0].params, std::vector<std::string>{"c"});
  ASSERT_NE(r.statements[0].body, nullptr);
  EXPECT_TRUE(r.statements[1].params.empty());
  auto bad = ast::parse("CREATE FUNCTION f(a,) AS a;");
  ASSERT_FALSE(bad.errors.empty());
  EXPECT_EQ(bad.errors.front().pos.column, 21);  // at the ")" where a parameter belongs
}

TEST(CreateFunction, LaterFilesUseEarlierFunctionsAndRecursionIsRefused) {
  Engine eng;
  EXPECT_TRUE(eng.load_file("10-functions.sql", "CREATE FUNCTION c_to_f(c) AS c * 9 / 5 + 32;").empty());
  EXPECT_TRUE(eng.load_file("20-rules.sql",
                            "CREATE STREAM s WITH (TOPIC='t/+');\n"
                            "CREATE RULE r WITH (TOPIC='out') AS SELECT c_to_f(v) AS f FROM s;")
                  .empty());
  std::vector<std::string> out;
  EmitFn sink = [&out](Emission&& e) { out.push_back(e.payload); };
  EXPECT_EQ(eng.on_message("t/x", R"({"v":100})", *parse_rfc3339("2024-01-15T10:00:00Z"), sink), IngestStatus::Ok);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0], R"({"f":212.0})");

  auto errors = Engine::check("loop.sql",
                              "CREATE FUNCTION f(x) AS g(x) + 1;\n"  // g is unknown here: an error at use
                              "CREATE FUNCTION g(x) AS g(x);\n"
                              "CREATE STREAM s WITH (TOPIC='t/+');\n"
                              "CREATE RULE r AS SELECT g(v) AS y FROM s;");
  ASSERT_FALSE(errors.empty());
  bool deep = false;
  for (const auto& e : errors) deep = deep || e.to_string().find("loop.sql:4:25: functions nest more than 16") == 0;
  EXPECT_TRUE(deep) << errors.front().to_string();
}

}  // namespace
}  // namespace streamgate::rules
