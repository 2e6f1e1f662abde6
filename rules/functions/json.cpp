// JSON functions: path queries over values (a JSONPath subset: $, .name, ['name'], [n], [-n],
// [*], .*, filters [? ...] (json_path_filter.h); no recursive descent or slices), and values to /
// from JSON text. Parsing is bounded (kMaxJsonText bytes, kMaxJsonDepth levels) because the text
// comes from messages. A path outside the subset is refused when the rule is planned if it is a
// literal (json_path.h), and gives NULL otherwise.
#include <string>

#include "rules/function_registry.h"
#include "rules/functions/common.h"
#include "rules/functions/json_path.h"
#include "rules/functions/json_path_filter.h"

namespace streamgate::rules {

namespace {

using fn::add_documented;

constexpr std::size_t kMaxJsonText = 1 << 20;
constexpr std::size_t kMaxJsonDepth = 64;
constexpr std::size_t kMaxPathSteps = 64;
constexpr std::size_t kMaxMatches = 10'000;

struct Step {
  enum class Kind { Name, Index, Wildcard, Filter } kind = Kind::Name;
  std::string name;
  std::int64_t index = 0;
  std::shared_ptr<const jsonpath::FilterExpr> filter;
};

//! The path's steps; nullopt and `error` (what to write instead) when it is outside the subset.
std::optional<std::vector<Step>> parse_path(std::string_view p, std::string& error) {
  std::vector<Step> steps;
  std::size_t i = 0;
  auto bad = [&](std::string msg) -> std::optional<std::vector<Step>> {
    error = std::move(msg);
    return std::nullopt;
  };
  if (i < p.size() && p[i] == '$') ++i;
  while (i < p.size()) {
    if (steps.size() >= kMaxPathSteps) return bad("more than " + std::to_string(kMaxPathSteps) + " steps");
    Step s;
    if (p.substr(i, 2) == "..") return bad("recursive descent (..) is not supported: name each level");
    if (p[i] == '.') {
      ++i;
      if (i < p.size() && p[i] == '*') {
        s.kind = Step::Kind::Wildcard;
        ++i;
      } else {
        const std::size_t start = i;
        while (i < p.size() && p[i] != '.' && p[i] != '[') ++i;
        if (i == start) return bad("expected a name after '.' at offset " + std::to_string(i));
        s.name = std::string(p.substr(start, i - start));
      }
    } else if (p[i] == '[' && p.substr(i + 1, 1) == "?") {
      i += 2;
      s.kind = Step::Kind::Filter;
      s.filter = jsonpath::parse_filter(p, i, error);
      if (!s.filter) return std::nullopt;
      steps.push_back(std::move(s));
      continue;
    } else if (p[i] == '[') {
      ++i;
      if (i < p.size() && (p[i] == '\'' || p[i] == '"')) {
        const char q = p[i++];
        const std::size_t close = p.find(q, i);
        if (close == std::string_view::npos) return bad("unterminated quoted name");
        s.name = std::string(p.substr(i, close - i));
        i = close + 1;
      } else if (i < p.size() && p[i] == '*') {
        s.kind = Step::Kind::Wildcard;
        ++i;
      } else {
        const std::size_t start = i;
        if (i < p.size() && p[i] == '-') ++i;
        while (i < p.size() && p[i] >= '0' && p[i] <= '9') ++i;
        if (i < p.size() && p[i] == ':') return bad("slices ([a:b]) are not supported: use array_slice()");
        auto n = fn::parse_number(p.substr(start, i - start));
        if (!n || !n->is_int()) return bad("expected an index, a quoted name, * or ? after '['");
        s.kind = Step::Kind::Index;
        s.index = n->as_int();
      }
      if (i < p.size() && (p[i] == ',' || p[i] == ':'))
        return bad("unions and slices in [...] are not supported: one name or index per step");
      if (i >= p.size() || p[i] != ']') return bad("expected ']' at offset " + std::to_string(i));
      ++i;
    } else {
      return bad("expected '.' or '[' at offset " + std::to_string(i));
    }
    steps.push_back(std::move(s));
  }
  return steps;
}

void walk(const Value& v, const std::vector<Step>& steps, std::size_t k, Array& out) {
  if (out.size() >= kMaxMatches) return;
  if (k == steps.size()) {
    out.push_back(v);
    return;
  }
  const Step& s = steps[k];
  switch (s.kind) {
    case Step::Kind::Name:
      if (const Value* f = v.is_object() ? v.find(s.name) : nullptr) walk(*f, steps, k + 1, out);
      break;
    case Step::Kind::Index:
      if (const Value* e = v.is_array() ? v.at(s.index) : nullptr) walk(*e, steps, k + 1, out);
      break;
    case Step::Kind::Wildcard:
      if (v.is_array())
        for (const Value& e : v.as_array()) walk(e, steps, k + 1, out);
      if (v.is_object())
        for (const auto& [key, e] : v.as_object()) walk(e, steps, k + 1, out);
      break;
    case Step::Kind::Filter:
      if (v.is_array())
        for (const Value& e : v.as_array())
          if (jsonpath::matches(*s.filter, e)) walk(e, steps, k + 1, out);
      if (v.is_object())
        for (const auto& [key, e] : v.as_object())
          if (jsonpath::matches(*s.filter, e)) walk(e, steps, k + 1, out);
      break;
  }
}

std::optional<Value> parse_json_text(std::string_view text) {
  if (text.size() > kMaxJsonText) return std::nullopt;
  bool too_deep = false;
  nlohmann::json::parser_callback_t cb = [&too_deep](int depth, nlohmann::json::parse_event_t,
                                                    nlohmann::json&) {
    if (static_cast<std::size_t>(depth) > kMaxJsonDepth) too_deep = true;
    return !too_deep;
  };
  nlohmann::json j = nlohmann::json::parse(text, cb, /*allow_exceptions=*/false);
  if (too_deep || j.is_discarded()) return std::nullopt;
  return Value::from_nlohmann(j);
}

//! Matches of the path in the value (text is parsed as JSON first); nullopt for a bad path.
std::optional<Array> query(Args a) {
  if (!a[1].is_string()) return std::nullopt;
  std::string error;
  auto steps = parse_path(a[1].as_string(), error);
  if (!steps) return std::nullopt;
  Value doc = a[0];
  if (doc.is_string()) {
    auto parsed = parse_json_text(doc.as_string());
    if (!parsed) return std::nullopt;
    doc = std::move(*parsed);
  }
  Array out;
  walk(doc, *steps, 0, out);
  return out;
}

}  // namespace

bool is_json_path_function(std::string_view name) {
  return name == "json_path_query" || name == "json_path_query_first" || name == "json_path" ||
         name == "json_path_exists";
}

std::optional<std::string> json_path_error(std::string_view path) {
  std::string error;
  if (parse_path(path, error)) return std::nullopt;
  return error;
}

void register_json_builtins(FunctionRegistry& r) {
  const std::string fam = "json";
  const std::vector<std::string> order = {R"({"order":{"items":[{"sku":"a","qty":2},{"sku":"b","qty":5}]}})"};
  add_documented(r, fam, "json_path_query", {}, 2, 2, "json_path_query(value, path) -> array",
                 "Every match of a JSONPath (subset: $, .name, ['name'], [n], [-n] from the end, "
                 "[*], .*, filters [? @.x > 1 && @.y == 'a'] with == != < <= > >= && || ! and "
                 "a lone @.x for 'has x') in a value or in JSON text; NULL for malformed text. "
                 "A literal path outside the subset is refused when the rule is checked; a "
                 "computed one gives NULL.",
                 {{"json_path_query(order, '$.items[*].qty')", "[2,5]", order},
                  {"json_path_query(order, '$.items[? @.qty > 3].sku')", "[\"b\"]", order}},
                 [](Args a) -> Value {
                   auto m = query(a);
                   return m ? Value(std::move(*m)) : Value();
                 });
  add_documented(r, fam, "json_path_query_first", {"json_path"}, 2, 2,
                 "json_path_query_first(value, path) -> value", "The first match, or NULL.",
                 {{"json_path_query_first(order, '$.items[-1].sku')", "\"b\"", order},
                  {"json_path_query_first('{\"a\":[1,2]}', '$.a[0]')", "1"}},
                 [](Args a) -> Value {
                   auto m = query(a);
                   return m && !m->empty() ? m->front() : Value();
                 });
  add_documented(r, fam, "json_path_exists", {}, 2, 2, "json_path_exists(value, path) -> bool",
                 "Whether the path matches anything.",
                 {{"json_path_exists(order, '$.items[5]')", "false", order}}, [](Args a) -> Value {
                   auto m = query(a);
                   return m ? Value(!m->empty()) : Value();
                 });
  add_documented(r, fam, "to_json", {"json_encode"}, 1, 1, "to_json(value) -> text",
                 "The value as compact JSON text (NULL gives the text 'null').",
                 {{"to_json(order)", R"("{\"items\":[{\"sku\":\"a\",\"qty\":2},{\"sku\":\"b\",\"qty\":5}]}")", order}},
                 [](Args a) -> Value { return a[0].to_json(); });
  add_documented(r, fam, "parse_json", {"json_decode", "from_json"}, 1, 1,
                 "parse_json(text) -> value",
                 "Parses JSON text (at most 1 MiB, 64 levels deep); NULL when malformed.",
                 {{"parse_json('{\"a\":[1,2]}').a[1]", "2"}}, [](Args a) -> Value {
                   if (!a[0].is_string()) return {};
                   auto v = parse_json_text(a[0].as_string());
                   return v ? std::move(*v) : Value();
                 });
}

}  // namespace streamgate::rules
