// Ingest: simdjson DOM parsing with the EngineOptions limits, and field extraction into slots.
#include "rules/ingest/ingest.h"

#include <cstring>

namespace streamgate::rules::ingest {

Value to_value(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      Object o;
      simdjson::dom::object obj;
      if (e.get_object().get(obj)) return Value();
      o.reserve(obj.size());
      for (auto field : obj) o.emplace_back(std::string(field.key), to_value(field.value));
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
  index_.clear();
  auto add = [&](const std::string& name, int slot) {
    int u = -1;
    for (std::size_t k = 0; k < names_.size(); ++k)
      if (names_[k] == name) u = static_cast<int>(k);
    if (u < 0) {
      u = static_cast<int>(names_.size());
      names_.push_back(name);
      slots_.emplace_back();
    }
    // Special targets first so extract() can test targets[0] < 0 cheaply.
    auto& t = slots_[static_cast<std::size_t>(u)];
    if (slot < 0) t.insert(t.begin(), slot);
    else t.push_back(slot);
  };
  for (std::size_t i = 0; i < slot_fields.size(); ++i) add(slot_fields[i], static_cast<int>(i));
  if (!timestamp_field.empty()) add(timestamp_field, -1);
  if (!id_field.empty()) add(id_field, -2);
  if (names_.size() > 8)
    for (std::size_t k = 0; k < names_.size(); ++k) index_.emplace(names_[k], static_cast<int>(k));
}

int FieldExtractor::find(std::string_view key) const {
  if (!index_.empty()) {
    auto it = index_.find(key);
    return it == index_.end() ? -1 : it->second;
  }
  for (std::size_t k = 0; k < names_.size(); ++k)
    if (names_[k].size() == key.size() && std::memcmp(names_[k].data(), key.data(), key.size()) == 0)
      return static_cast<int>(k);
  return -1;
}

void FieldExtractor::extract(simdjson::dom::object obj, Value* slots, simdjson::dom::element* ts,
                             bool* ts_found, simdjson::dom::element* id, bool* id_found) const {
  if (names_.empty()) return;
  std::size_t seen = 0;
  for (auto field : obj) {
    const int u = find(field.key);
    if (u < 0) continue;
    int first_slot = -1;
    for (int t : slots_[static_cast<std::size_t>(u)]) {
      if (t == -1) {
        if (ts) *ts = field.value;
        if (ts_found) *ts_found = true;
      } else if (t == -2) {
        if (id) *id = field.value;
        if (id_found) *id_found = true;
      } else if (first_slot < 0) {
        slots[t] = to_value(field.value);
        first_slot = t;
      } else {
        slots[t] = slots[first_slot];
      }
    }
    if (++seen == names_.size()) break;
  }
}

void FieldExtractor::extract(const Object& obj, Value* slots) const {
  if (names_.empty()) return;
  for (const auto& [k, v] : obj) {
    const int u = find(k);
    if (u < 0) continue;
    for (int s : slots_[static_cast<std::size_t>(u)])
      if (s >= 0) slots[s] = v;
  }
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
