// Value: the dynamically typed datum every expression, aggregate and output row is made of.
// JSON-shaped (null, bool, int64, double, string, array, object) with SQL comparison semantics.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace streamgate::rules {

class Value;
using Array = std::vector<Value>;
//! Objects keep insertion order: output columns appear in SELECT order.
using Object = std::vector<std::pair<std::string, Value>>;

class Value {
 public:
  enum class Type : std::uint8_t { Null, Bool, Int, Double, String, Array, Object };

  Value() = default;
  Value(std::nullptr_t) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(static_cast<std::int64_t>(i)) {}
  Value(std::int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(Array a) : v_(std::make_shared<const rules::Array>(std::move(a))) {}
  Value(Object o) : v_(std::make_shared<const rules::Object>(std::move(o))) {}

  //! Sets a string, reusing this Value's buffer when it already holds one (hot-path ingest).
  void assign_string(std::string_view s) {
    if (auto* p = std::get_if<std::string>(&v_)) p->assign(s.data(), s.size());
    else v_.emplace<std::string>(s);
  }

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::Null; }
  bool is_bool() const { return type() == Type::Bool; }
  bool is_int() const { return type() == Type::Int; }
  bool is_double() const { return type() == Type::Double; }
  bool is_number() const { return is_int() || is_double(); }
  bool is_string() const { return type() == Type::String; }
  bool is_array() const { return type() == Type::Array; }
  bool is_object() const { return type() == Type::Object; }

  bool as_bool() const { return std::get<bool>(v_); }
  std::int64_t as_int() const { return std::get<std::int64_t>(v_); }
  double as_double_exact() const { return std::get<double>(v_); }
  //! Numeric value as double (ints widened); 0 for non-numbers. Check is_number() first.
  double as_number() const;
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const rules::Array& as_array() const { return *std::get<std::shared_ptr<const rules::Array>>(v_); }
  const rules::Object& as_object() const {
    return *std::get<std::shared_ptr<const rules::Object>>(v_);
  }

  //! SQL truthiness for WHERE/HAVING: only `true` passes (NULL and everything else do not).
  bool is_true() const { return is_bool() && as_bool(); }

  //! Member lookup on objects (linear: objects are small); NULL when absent or not an object.
  const Value* find(std::string_view key) const;
  //! Array element; NULL when out of range or not an array. Negative counts from the end.
  const Value* at(std::int64_t index) const;

  //! Appends compact JSON. Doubles use the shortest round-trip form; NaN/Inf become null.
  void append_json(std::string& out) const;
  std::string to_json() const;
  //! Text form used by string functions and group keys (strings unquoted).
  std::string to_text() const;

  nlohmann::json to_nlohmann() const;
  //! Appends this value as CBOR (RFC 8949), decoding to what to_nlohmann() gives: checkpoints
  //! encode values without building nlohmann nodes first.
  void append_cbor(std::vector<std::uint8_t>& out) const;
  static Value from_nlohmann(const nlohmann::json& j);

  //! Total order used by ORDER BY, min/max and sorting: NULL < bool < numbers < strings < arrays <
  //! objects; ints and doubles compare numerically.
  friend int compare(const Value& a, const Value& b);
  //! Equality with numeric widening (1 == 1.0); NULL equals NULL here (group keys, DISTINCT).
  friend bool operator==(const Value& a, const Value& b) {
    // Two strings, the common case of keys: sizes first, no ordering work.
    if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
    return compare(a, b) == 0;
  }
  std::size_t hash() const;

 private:
  std::variant<std::monostate, bool, std::int64_t, double, std::string,
               std::shared_ptr<const rules::Array>, std::shared_ptr<const rules::Object>>
      v_;
};

struct ValueHash {
  std::size_t operator()(const Value& v) const { return v.hash(); }
};

//! Appends a JSON string literal (quoted, escaped) to out.
void append_json_string(std::string& out, std::string_view s);

//! Appends a CBOR head: major type (0-7) and argument, in the shortest form.
void append_cbor_head(std::vector<std::uint8_t>& out, std::uint8_t major, std::uint64_t argument);
//! Appends a CBOR text string.
void append_cbor_text(std::vector<std::uint8_t>& out, std::string_view text);

}  // namespace streamgate::rules
