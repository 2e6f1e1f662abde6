// JSONPath filter selectors `[? ...]` / `[?( ... )]` for the json path functions (json.cpp):
// the subset eKuiper documents (`$.Group1[? @.age > 30].last`).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rules/value.h"

namespace streamgate::rules::jsonpath {

struct FilterExpr;

//! Parses a filter from `p[i]` (just after `[?`) through its closing `]`, leaving i after it.
//! Grammar: or := and ('||' and)*; and := not ('&&' not)*; not := '!' not | '(' or ')' | test;
//! test := operand [('==' | '!=' | '<' | '<=' | '>' | '>=') operand];
//! operand := '@' ('.' name | '[' 'name' ']' | '[' int ']')* | number | 'text' | "text" |
//! true | false | null. A lone `@.a` tests that the member exists.
//! On a malformed filter: null and `error` says what to write instead.
std::shared_ptr<const FilterExpr> parse_filter(std::string_view p, std::size_t& i, std::string& error);

//! Whether one element (an array item or an object member's value) passes the filter. As in
//! RFC 9535, a comparison with a missing member is false (except `!=`), and `<`-style
//! comparisons hold only between two numbers or two strings.
bool matches(const FilterExpr& f, const Value& item);

}  // namespace streamgate::rules::jsonpath
