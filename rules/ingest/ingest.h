// Ingest: payload bytes -> simdjson DOM (one reused parser per Engine) -> rows of Values holding
// only the fields the rules reference. Also the payload checks of EngineOptions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "rules/value.h"
#include "rules/vocabulary.h"

namespace streamgate::rules::ingest {

//! simdjson element -> Value (deep copy).
Value to_value(simdjson::dom::element e);

//! Maps top-level field names to slot indexes; one per stream.
class FieldExtractor {
 public:
  FieldExtractor() { filter_.fill(kNoName); }
  //! slot_fields[i] is the field name of slot i (names may repeat: one slot per reading rule).
  //! `timestamp_field` / `id_field` (may be empty) are located in the same pass over the object.
  void build(const std::vector<std::string>& slot_fields, const std::string& timestamp_field = {},
             const std::string& id_field = {});
  //! Fills every slot (sized slot_fields.size(); NULL for an absent field) from obj, and points
  //! *ts / *id at the timestamp / id fields (left untouched when absent). Of repeated keys the
  //! first wins. One pass, stops early once every wanted field was seen. Slots holding strings
  //! keep their buffers.
  void extract(simdjson::dom::object obj, Value* slots, simdjson::dom::element* ts = nullptr,
               bool* ts_found = nullptr, simdjson::dom::element* id = nullptr,
               bool* id_found = nullptr) const;
  //! Same from an already built object (rows coming from another rule); slots must be NULL.
  void extract(const Object& obj, Value* slots) const;
  bool empty() const { return names_.empty(); }

 private:
  int find(std::string_view key) const;
  //! Bucket of the first-pass filter: length, first and last byte of a key.
  static std::size_t filter_bucket(std::string_view key) {
    if (key.empty()) return 0;
    const auto first = static_cast<unsigned char>(key.front());
    const auto last = static_cast<unsigned char>(key.back());
    return (key.size() * 31 + first * 7 + last) % kFilterBuckets;
  }
  std::vector<std::string> names_;            //!< unique names
  std::vector<std::vector<int>> slots_;       //!< per unique name; -1 timestamp, -2 id
  //! Unique-name indexes grouped by name length (names of kMaxIndexedLength bytes or more share
  //! the last bucket): a key is compared with the few names of its length only, so the common
  //! case of an unwanted field costs one bucket lookup.
  static constexpr std::size_t kMaxIndexedLength = 32;
  std::vector<int> by_length_[kMaxIndexedLength + 1];
  //! First-pass filter in front of by_length_: an event carries many fields no rule reads, and
  //! most are rejected by one table load. Per bucket: kNoName, the one unique name that falls in
  //! it (one comparison decides), or kSeveralNames (scan the length bucket).
  static constexpr std::size_t kFilterBuckets = 256;
  static constexpr int kNoName = -1;
  static constexpr int kSeveralNames = -2;
  std::array<int, kFilterBuckets> filter_{};
  //! Per unique name, the number of the last event in which extract() saw it: "seen in this
  //! event" without clearing a scratch array per event.
  mutable std::vector<std::uint32_t> seen_in_;
  mutable std::uint32_t event_number_ = 0;
};

class JsonParser {
 public:
  explicit JsonParser(const EngineOptions& options);
  //! Parses payload; on Ok, `root` is an object or an array of objects.
  //! `padded`: SIMDJSON_PADDING bytes after the payload are readable, so it is parsed in place.
  IngestStatus parse(std::string_view payload, simdjson::dom::element& root, bool padded = false);

 private:
  EngineOptions options_;
  simdjson::dom::parser parser_;
  std::vector<char> buffer_;  //!< padded copy of the payload (simdjson reads past the end)
  std::string wide_;          //!< the payload with integers beyond 64 bits made doubles
};

//! Copies `json` to `out` with every integer token beyond 64 bits (above 2^64 - 1, below
//! -2^63) given a ".0", so a parser reads it as a double. False (and `out` unspecified) when
//! there is none. Strings are skipped; the JSON is otherwise not checked.
bool widen_big_integers(std::string_view json, std::string& out);

}  // namespace streamgate::rules::ingest
