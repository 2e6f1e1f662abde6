// The json path functions' paths, as the planner checks a literal one (json.cpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace streamgate::rules {

//! Whether `name` (lower case) is a json path function: its second argument is a path.
bool is_json_path_function(std::string_view name);

//! Why `path` is outside the supported JSONPath subset (what to write instead); none when it is in.
std::optional<std::string> json_path_error(std::string_view path);

}  // namespace streamgate::rules
