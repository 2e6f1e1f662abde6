// MQTT topic-filter matching (MQTT 3.1.1 section 4.7): `+`, `#`, `$share/<group>/` and `$` topics.
#include <string_view>

#include "rules/topic_filter.h"

namespace streamgate::rules {
namespace {

// Cuts the next `/`-separated level off `rest`; `done` becomes true after the last level, so
// "a/" yields "a" then "" (an empty level is still a level).
std::string_view next_level(std::string_view& rest, bool& done) {
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    done = true;
    return rest;
  }
  std::string_view level = rest.substr(0, slash);
  rest.remove_prefix(slash + 1);
  return level;
}

}  // namespace

bool topic_matches(std::string_view filter, std::string_view topic) {
  // Shared subscription: the group name only picks which subscriber gets the message.
  constexpr std::string_view kShare = "$share/";
  if (filter.substr(0, kShare.size()) == kShare) {
    filter.remove_prefix(kShare.size());
    const std::size_t slash = filter.find('/');
    if (slash == 0 || slash == std::string_view::npos) return false;
    if (filter.substr(0, slash).find_first_of("+#") != std::string_view::npos) return false;
    filter.remove_prefix(slash + 1);
  }
  if (filter.empty() || topic.empty()) return false;
  // Wildcards are not allowed in topic names, and a NUL is never valid in either.
  if (topic.find_first_of(std::string_view("+#\0", 3)) != std::string_view::npos) return false;
  if (filter.find('\0') != std::string_view::npos) return false;
  // $SYS/... and friends are not delivered to subscriptions starting with a wildcard.
  if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) return false;

  bool filter_done = false;
  bool topic_done = false;
  for (;;) {
    const std::string_view f = next_level(filter, filter_done);
    if (f == "#") return filter_done;  // matches the parent level too ("a/#" matches "a")
    if (f.find('#') != std::string_view::npos) return false;              // malformed filter
    if (f != "+" && f.find('+') != std::string_view::npos) return false;  // malformed filter
    if (topic_done) return false;  // filter has more levels than the topic
    const std::string_view t = next_level(topic, topic_done);
    if (f != "+" && f != t) return false;
    if (filter_done) return topic_done;
  }
}

}  // namespace streamgate::rules
