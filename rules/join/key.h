// Join keys: what the table store and the interval join agree on about equality.
#pragma once

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

}  // namespace streamgate::rules::join
