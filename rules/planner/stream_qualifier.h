// `demo.age` in a rule FROM demo: the stream qualifier of a field, resolved before planning.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ast.h"

namespace streamgate::rules::plan {

struct QualifierError {
  ast::SourcePos pos;
  std::string message;
};

//! In a SELECT without JOIN, rewrites every `q.f` whose qualifier q is the FROM stream's name or
//! alias into the plain field `f` (so `demo.age`, `d.age` and `age` are one and the same column,
//! also for GROUP BY matching); `demo.meta.ts` becomes `meta.ts`. Any other `q.f` stays the
//! member f of the JSON field q. `q->f` (an Index) is never a qualifier.
//! A qualifier naming another stream, rule or table (`is_other_source`) is refused: it would
//! read a field that most likely does not exist. JOINs resolve their qualifiers in the planner.
void strip_stream_qualifier(ast::Select& sel,
                            const std::function<bool(std::string_view)>& is_other_source,
                            std::vector<QualifierError>& errors);

}  // namespace streamgate::rules::plan
