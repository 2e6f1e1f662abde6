// SQL names (functions, windows, keywords) are case-insensitive in ASCII: one lowering for all.
#pragma once

#include <string>
#include <string_view>

namespace streamgate::rules {

inline std::string ascii_lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return r;
}

}  // namespace streamgate::rules
