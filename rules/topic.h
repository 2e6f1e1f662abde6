// Topics seen from a rule: the pseudo-field behind topic() / topic_part(n) / meta(topic), and
// output topics written as templates (TOPIC='alerts/{device_id}') filled per row. Plain
// functions, no state; used by the planner (parse) and the worker thread (fill).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/value.h"

namespace streamgate::rules {

//! Slot field name of the topic a row arrived on. It starts with NUL, which the field extractor
//! never matches against payload keys, so a payload key can never impersonate the topic.
inline constexpr std::string_view kTopicField{"\0topic", 6};

//! Longest text one placeholder contributes to a topic (bytes, cut at a UTF-8 boundary): a
//! value from a payload must not make topics of unbounded length.
inline constexpr std::size_t kMaxTopicLevelBytes = 256;

//! A value as exactly one MQTT topic level: its text with '/', '+', '#' and NUL replaced by
//! '_' (no extra levels, no wildcards), cut to kMaxTopicLevelBytes; NULL and "" become "_";
//! an array's elements are joined with '_'.
void append_topic_level(std::string& out, const Value& v);

//! `TOPIC='site/{site}/alerts/{device_id}'`: literal text and placeholders naming output
//! columns. `{{` and `}}` are literal braces.
class TopicTemplate {
 public:
  struct Part {
    std::string text;  //!< literal text when item < 0
    int item = -1;     //!< output column index
  };
  //! Parses `text` against the rule's output column names. Returns an error message, or nothing
  //! (then *this holds the template; has_placeholders() is false for a plain topic).
  std::optional<std::string> parse(std::string_view text, const std::vector<std::string>& columns);
  bool has_placeholders() const { return placeholders_; }
  //! The topic of one output row. A leading '$' produced by a value becomes '_' ($ topics are
  //! the broker's).
  void fill(const Value* row, std::string& out) const;

 private:
  std::vector<Part> parts_;
  bool placeholders_ = false;
};

}  // namespace streamgate::rules
