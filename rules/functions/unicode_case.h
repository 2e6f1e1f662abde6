// Case mapping of UTF-8 text for upper()/lower(): simple one-to-one mappings of the scripts
// European devices write (see unicode_case.cpp for the exact ranges). Pure functions.
#pragma once

#include <string>
#include <string_view>

namespace streamgate::rules::fn {

//! `s` with every letter of the covered ranges upper-cased (upper = true) or lower-cased.
//! Bytes that are not valid UTF-8 pass through unchanged.
std::string utf8_change_case(std::string_view s, bool upper);

}  // namespace streamgate::rules::fn
