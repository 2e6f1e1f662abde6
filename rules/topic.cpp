// Topic pseudo-field and output topic templates (see topic.h).
#include "rules/topic.h"

#include <algorithm>

namespace streamgate::rules {

namespace {

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

void append_sanitised(std::string& out, std::string_view s) {
  if (s.size() > kMaxTopicLevelBytes) {
    std::size_t cut = kMaxTopicLevelBytes;
    while (cut > 0 && is_continuation(s[cut])) --cut;
    s = s.substr(0, cut);
  }
  for (char c : s) out.push_back(c == '/' || c == '+' || c == '#' || c == '\0' ? '_' : c);
}

}  // namespace

void append_topic_level(std::string& out, const Value& v) {
  const std::size_t start = out.size();
  if (v.is_string()) {
    append_sanitised(out, v.as_string());
  } else if (v.is_array()) {
    std::string joined;
    for (const Value& part : v.as_array()) {
      if (!joined.empty()) joined += '_';
      joined += part.to_text();
    }
    append_sanitised(out, joined);
  } else if (!v.is_null()) {
    append_sanitised(out, v.to_text());
  }
  if (out.size() == start) out += '_';
}

std::optional<std::string> TopicTemplate::parse(std::string_view text,
                                                const std::vector<std::string>& columns) {
  parts_.clear();
  placeholders_ = false;
  std::string literal;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' || c == '#')
      return std::string("an output topic must not contain the wildcard '") + c + "'";
    if (c == '\0') return std::string("an output topic must not contain NUL");
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        ++i;
        continue;
      }
      return std::string("unmatched '}' in output topic (write '}}' for a literal brace)");
    }
    if (c != '{') {
      literal += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i + 1);
    if (close == std::string_view::npos)
      return std::string("unclosed '{' in output topic");
    const std::string_view name = text.substr(i + 1, close - i - 1);
    const auto it = std::find(columns.begin(), columns.end(), name);
    if (it == columns.end()) {
      std::string known;
      for (const auto& col : columns) known += (known.empty() ? "" : ", ") + col;
      return "output topic placeholder {" + std::string(name) +
             "} names no output column (columns: " + (known.empty() ? "none" : known) + ")";
    }
    if (!literal.empty()) parts_.push_back({std::move(literal), -1});
    literal.clear();
    parts_.push_back({{}, static_cast<int>(it - columns.begin())});
    placeholders_ = true;
    i = close;
  }
  if (!literal.empty()) parts_.push_back({std::move(literal), -1});
  return std::nullopt;
}

void TopicTemplate::fill(const Value* row, std::string& out) const {
  out.clear();
  for (const Part& p : parts_) {
    if (p.item < 0) {
      out += p.text;
    } else {
      append_topic_level(out, row[p.item]);
    }
  }
  if (!out.empty() && out.front() == '$') out.front() = '_';
}

}  // namespace streamgate::rules
