// Join keys: what the table store and the stream joins (interval, window) agree on about
// equality, and how a stream join computes a row's key.
#pragma once

#include <cstdint>
#include <vector>

#include "rules/expr/expr.h"
#include "rules/value.h"

namespace streamgate::rules::join {

//! SQL equality: a NULL key, or a composite key (an Array) holding a NULL, matches nothing.
inline bool key_has_null(const Value& k) {
  if (k.is_null()) return true;
  if (!k.is_array()) return false;
  for (const auto& v : k.as_array())
    if (v.is_null()) return true;
  return false;
}

//! The key of one row of a stream join: the ON expressions of its side over the full-width row
//! (plan.fields order); one value, or an Array of them for several equalities.
inline Value row_key(const std::vector<expr::NodePtr>& keys, const Value* row, TimeNs t, TimeNs now,
                     std::uint64_t* eval_errors) {
  expr::Ctx ctx;
  ctx.slots = row;
  ctx.event_time = t;
  ctx.now = now;
  ctx.eval_errors = eval_errors;
  if (keys.size() == 1) return expr::eval_value(*keys[0], ctx);
  Array a;
  a.reserve(keys.size());
  for (const auto& k : keys) a.push_back(expr::eval_value(*k, ctx));
  return Value(std::move(a));
}

}  // namespace streamgate::rules::join
