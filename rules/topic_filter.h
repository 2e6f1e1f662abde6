// MQTT topic-filter matching, used to route messages to streams (engine, replay, the page's tap).
// A pure function, no state.
#pragma once

#include <string_view>

namespace streamgate::rules {

//! MQTT topic-filter matching with `+`, `#` and `$share/<group>/` prefixes; topics starting
//! with `$` do not match filters starting with a wildcard (MQTT 3.1.1 section 4.7.2).
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace streamgate::rules
