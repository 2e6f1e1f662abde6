// Type tests and casts: is_* predicates, typeof, and the short cast spellings (to_int,
// to_float) next to cast(x, 'type') in scalar.cpp. Tests never return NULL: is_null(NULL) is
// true and every other test of NULL is false.
#include <cmath>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using fn::add_documented;

const char* type_name(const Value& v) {
  switch (v.type()) {
    case Value::Type::Null: return "null";
    case Value::Type::Bool: return "bool";
    case Value::Type::Int: return "int";
    case Value::Type::Double: return "float";
    case Value::Type::String: return "string";
    case Value::Type::Array: return "array";
    case Value::Type::Object: return "object";
  }
  return "null";
}

std::function<Value(Args)> test(bool (*f)(const Value&)) {
  return [f](Args a) -> Value { return f(a[0]); };
}

}  // namespace

void register_type_builtins(FunctionRegistry& r) {
  const std::string fam = "type";
  add_documented(r, fam, "typeof", {"type_of"}, 1, 1, "typeof(value) -> text",
                 "One of null, bool, int, float, string, array, object.",
                 {{"typeof(1.5)", "\"float\""}, {"typeof(missing_field)", "\"null\""}},
                 [](Args a) -> Value { return type_name(a[0]); });
  add_documented(r, fam, "is_null", {"isnull"}, 1, 1, "is_null(value) -> bool",
                 "Whether the value is NULL (or the field is absent).",
                 {{"is_null(missing_field)", "true"}},
                 test([](const Value& v) { return v.is_null(); }));
  add_documented(r, fam, "is_bool", {}, 1, 1, "is_bool(value) -> bool", "Whether the value is a boolean.",
                 {{"is_bool(true)", "true"}}, test([](const Value& v) { return v.is_bool(); }));
  add_documented(r, fam, "is_int", {"is_integer"}, 1, 1, "is_int(value) -> bool",
                 "Whether the value is an integer (JSON numbers without fraction or exponent).",
                 {{"is_int(3)", "true"}, {"is_int(3.0)", "false"}},
                 test([](const Value& v) { return v.is_int(); }));
  add_documented(r, fam, "is_float", {"is_double"}, 1, 1, "is_float(value) -> bool",
                 "Whether the value is a non-integer number.", {{"is_float(2.5)", "true"}},
                 test([](const Value& v) { return v.is_double(); }));
  add_documented(r, fam, "is_number", {"is_numeric"}, 1, 1, "is_number(value) -> bool",
                 "Whether the value is a number (int or float); numeric text is not.",
                 {{"is_number('12')", "false"}}, test([](const Value& v) { return v.is_number(); }));
  add_documented(r, fam, "is_string", {"is_text"}, 1, 1, "is_string(value) -> bool",
                 "Whether the value is text.", {{"is_string('a')", "true"}},
                 test([](const Value& v) { return v.is_string(); }));
  add_documented(r, fam, "is_array", {}, 1, 1, "is_array(value) -> bool", "Whether the value is an array.",
                 {{"is_array(array_create(1, 2))", "true"}},
                 test([](const Value& v) { return v.is_array(); }));
  add_documented(r, fam, "is_object", {"is_map"}, 1, 1, "is_object(value) -> bool",
                 "Whether the value is an object.", {{"is_object(parse_json('{}'))", "true"}},
                 test([](const Value& v) { return v.is_object(); }));
  add_documented(r, fam, "to_int", {"to_bigint", "to_integer"}, 1, 1, "to_int(value) -> int",
                 "cast(value, 'bigint'): numbers cut toward zero, numeric text parsed, booleans "
                 "0/1; NULL otherwise.",
                 {{"to_int('42')", "42"}, {"to_int(-3.9)", "-3"}},
                 [](Args a) { return fn::to_bigint(a[0]); });
  add_documented(r, fam, "to_float", {"to_double"}, 1, 1, "to_float(value) -> float",
                 "cast(value, 'float'): numbers and numeric text; NULL otherwise.",
                 {{"to_float('2.5')", "2.5"}}, [](Args a) -> Value {
                   const Value n = fn::to_number(a[0]);
                   return n.is_null() ? n : Value(n.as_number());
                 });
}

}  // namespace streamgate::rules
