// Ingest: simdjson DOM parsing with the EngineOptions limits, and field extraction into slots.
#include "rules/ingest/ingest.h"

#include <algorithm>
#include <cstring>

#include "rules/topic.h"

namespace streamgate::rules::ingest {

static_assert(kJsonPadding == simdjson::SIMDJSON_PADDING, "engine.h promises simdjson's padding");

Value to_value(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      Object o;
      simdjson::dom::object obj;
      if (e.get_object().get(obj)) return Value();
      o.reserve(obj.size());
      for (auto field : obj) {
        // Of repeated keys the first wins (as member lookup reads it): a later one is dropped
        // here, so output JSON cannot show consumers a value the rule did not read.
        bool repeated = false;
        for (const auto& kv : o)
          if (kv.first == field.key) {
            repeated = true;
            break;
          }
        if (!repeated) o.emplace_back(std::string(field.key), to_value(field.value));
      }
      return Value(std::move(o));
    }
    case element_type::ARRAY: {
      Array a;
      simdjson::dom::array arr;
      if (e.get_array().get(arr)) return Value();
      a.reserve(arr.size());
      for (auto v : arr) a.push_back(to_value(v));
      return Value(std::move(a));
    }
    case element_type::INT64: return Value(e.get_int64().value_unsafe());
    case element_type::UINT64: {
      const std::uint64_t u = e.get_uint64().value_unsafe();
      if (u <= static_cast<std::uint64_t>(INT64_MAX)) return Value(static_cast<std::int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case element_type::DOUBLE: return Value(e.get_double().value_unsafe());
    case element_type::STRING: return Value(e.get_string().value_unsafe());
    case element_type::BOOL: return Value(e.get_bool().value_unsafe());
    case element_type::NULL_VALUE: return Value();
  }
  return Value();
}

void FieldExtractor::build(const std::vector<std::string>& slot_fields,
                           const std::string& timestamp_field, const std::string& id_field) {
  names_.clear();
  slots_.clear();
  for (auto& b : by_length_) b.clear();
  filter_.fill(kNoName);
  auto add = [&](const std::string& name, int slot) {
    int u = -1;
    for (std::size_t k = 0; k < names_.size(); ++k)
      if (names_[k] == name) u = static_cast<int>(k);
    if (u < 0) {
      u = static_cast<int>(names_.size());
      names_.push_back(name);
      slots_.emplace_back();
      by_length_[std::min(name.size(), kMaxIndexedLength)].push_back(u);
      int& f = filter_[filter_bucket(name)];
      f = f == kNoName ? u : kSeveralNames;
    }
    // Special targets first so extract() can test targets[0] < 0 cheaply.
    auto& t = slots_[static_cast<std::size_t>(u)];
    if (slot < 0) t.insert(t.begin(), slot);
    else t.push_back(slot);
  };
  // The topic pseudo-field is filled by the engine, never from a payload key.
  for (std::size_t i = 0; i < slot_fields.size(); ++i)
    if (slot_fields[i] != kTopicField) add(slot_fields[i], static_cast<int>(i));
  if (!timestamp_field.empty()) add(timestamp_field, -1);
  if (!id_field.empty()) add(id_field, -2);
  seen_in_.assign(names_.size(), 0);
  event_number_ = 0;
}

namespace {

//! Equality of two n-byte ranges for the short n of field names, with fixed-size loads the
//! compiler inlines (a memcmp call costs more than the comparison itself here).
inline bool same_bytes(const char* a, const char* b, std::size_t n) {
  auto load8 = [](const char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  auto load4 = [](const char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  };
  if (n >= 8) {
    for (std::size_t i = 0; i + 8 <= n; i += 8)
      if (load8(a + i) != load8(b + i)) return false;
    return load8(a + n - 8) == load8(b + n - 8);  // the tail, overlapping
  }
  if (n >= 4) return load4(a) == load4(b) && load4(a + n - 4) == load4(b + n - 4);
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return false;
  return true;
}

}  // namespace

inline int FieldExtractor::find(std::string_view key) const {
  const int candidate = filter_[filter_bucket(key)];
  if (candidate == kNoName) return -1;
  if (candidate >= 0) {
    const std::string& n = names_[static_cast<std::size_t>(candidate)];
    return n.size() == key.size() && same_bytes(n.data(), key.data(), key.size()) ? candidate : -1;
  }
  for (int u : by_length_[std::min(key.size(), kMaxIndexedLength)]) {
    const std::string& n = names_[static_cast<std::size_t>(u)];
    if (n.size() == key.size() && same_bytes(n.data(), key.data(), key.size())) return u;
  }
  return -1;
}

namespace {

//! to_value() into an existing Value: a string slot keeps its buffer from the previous event,
//! so long strings are not reallocated per message.
void assign_value(Value& dst, simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::STRING: dst.assign_string(e.get_string().value_unsafe()); return;
    case element_type::INT64: dst = Value(e.get_int64().value_unsafe()); return;
    case element_type::DOUBLE: dst = Value(e.get_double().value_unsafe()); return;
    case element_type::BOOL: dst = Value(e.get_bool().value_unsafe()); return;
    case element_type::NULL_VALUE: dst = Value(); return;
    default: dst = to_value(e); return;
  }
}

}  // namespace

void FieldExtractor::extract(simdjson::dom::object obj, Value* slots, simdjson::dom::element* ts,
                             bool* ts_found, simdjson::dom::element* id, bool* id_found) const {
  if (names_.empty()) return;
  if (++event_number_ == 0) {  // wrapped after 2^32 events: old marks could look current
    std::fill(seen_in_.begin(), seen_in_.end(), 0);
    event_number_ = 1;
  }
  std::size_t found = 0;
  for (auto field : obj) {
    const int u = find(field.key);
    if (u < 0) continue;
    const auto uu = static_cast<std::size_t>(u);
    // Of repeated keys the first wins, as member lookup on a whole row (Value::find) reads it;
    // it also lets the pass stop once every wanted name was seen.
    if (seen_in_[uu] == event_number_) continue;
    seen_in_[uu] = event_number_;
    int first_slot = -1;
    for (int t : slots_[uu]) {
      if (t == -1) {
        if (ts) *ts = field.value;
        if (ts_found) *ts_found = true;
      } else if (t == -2) {
        if (id) *id = field.value;
        if (id_found) *id_found = true;
      } else if (first_slot < 0) {
        assign_value(slots[t], field.value);
        first_slot = t;
      } else {
        slots[t] = slots[first_slot];
      }
    }
    if (++found == names_.size()) break;
  }
  if (found == names_.size()) return;
  // Fields this event lacks read as NULL.
  for (std::size_t u = 0; u < names_.size(); ++u) {
    if (seen_in_[u] == event_number_) continue;
    for (int t : slots_[u])
      if (t >= 0) slots[t] = Value();
  }
}

void FieldExtractor::extract(const Object& obj, Value* slots) const {
  if (names_.empty()) return;
  // Rule output columns: a repeated alias keeps its first value, as in the pass above.
  for (auto it = obj.rbegin(); it != obj.rend(); ++it) {
    const int u = find(it->first);
    if (u < 0) continue;
    for (int s : slots_[static_cast<std::size_t>(u)])
      if (s >= 0) slots[s] = it->second;
  }
}

bool widen_big_integers(std::string_view json, std::string& out) {
  out.clear();
  bool changed = false;
  bool in_string = false;
  std::size_t copied = 0;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    // A number token: its digits, then whether it already has a fraction or exponent.
    const bool negative = c == '-';
    std::size_t j = negative ? i + 1 : i;
    const std::size_t digits_at = j;
    while (j < json.size() && json[j] >= '0' && json[j] <= '9') ++j;
    const std::string_view digits = json.substr(digits_at, j - digits_at);
    const bool integral = j >= json.size() || (json[j] != '.' && json[j] != 'e' && json[j] != 'E');
    // Beyond uint64 (positive) or int64 (negative), compared as digit strings.
    const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
    const bool too_big = digits.size() > limit.size() || (digits.size() == limit.size() && digits > limit);
    if (integral && too_big && !digits.empty() && digits[0] != '0') {
      out.append(json.substr(copied, j - copied));
      out += ".0";
      copied = j;
      changed = true;
    }
    i = j - 1;
    while (i + 1 < json.size() && (json[i + 1] == '.' || json[i + 1] == 'e' || json[i + 1] == 'E' ||
                                   json[i + 1] == '+' || json[i + 1] == '-' ||
                                   (json[i + 1] >= '0' && json[i + 1] <= '9')))
      ++i;
  }
  if (!changed) return false;
  out.append(json.substr(copied));
  return true;
}

JsonParser::JsonParser(const EngineOptions& options) : options_(options) {
  // A failed pre-allocation is not fatal: parse() allocates on demand.
  auto err = parser_.allocate(std::max<std::size_t>(options_.max_payload_bytes, 4096),
                              options_.max_depth + 1);
  (void)err;
}

IngestStatus JsonParser::parse(std::string_view payload, simdjson::dom::element& root, bool padded) {
  if (payload.size() > options_.max_payload_bytes) return IngestStatus::TooLarge;
  const char* data = payload.data();
  if (!padded) {
    const std::size_t need = payload.size() + simdjson::SIMDJSON_PADDING;
    if (buffer_.size() < need) buffer_.resize(need);
    std::memcpy(buffer_.data(), payload.data(), payload.size());
    std::memset(buffer_.data() + payload.size(), 0, simdjson::SIMDJSON_PADDING);
    data = buffer_.data();
  }
  auto res = parser_.parse(data, payload.size(), false);
  if (res.error() == simdjson::NUMBER_ERROR) {
    // An integer beyond 64 bits (a 20-digit id) is valid JSON that simdjson refuses; rather
    // than drop the event, such integers are read as doubles (issue 16). Off the hot path:
    // only messages that failed take this second parse.
    if (widen_big_integers(std::string_view(data, payload.size()), wide_)) {
      wide_.append(simdjson::SIMDJSON_PADDING, '\0');
      res = parser_.parse(wide_.data(), wide_.size() - simdjson::SIMDJSON_PADDING, false);
    }
  }
  if (res.error()) {
    switch (res.error()) {
      case simdjson::DEPTH_ERROR: return IngestStatus::TooDeep;
      case simdjson::CAPACITY: return IngestStatus::TooLarge;
      default: return IngestStatus::MalformedJson;
    }
  }
  root = res.value_unsafe();
  if (root.is_object()) return IngestStatus::Ok;
  if (root.is_array()) {
    simdjson::dom::array arr;
    if (root.get_array().get(arr)) return IngestStatus::NotAnObject;
    for (auto e : arr)
      if (!e.is_object()) return IngestStatus::NotAnObject;
    return IngestStatus::Ok;
  }
  return IngestStatus::NotAnObject;
}

}  // namespace streamgate::rules::ingest
