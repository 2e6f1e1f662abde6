// Value: comparison, hashing and JSON conversion.
#include "rules/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>

#include <nlohmann/json.hpp>

namespace streamgate::rules {

double Value::as_number() const {
  if (is_int()) return static_cast<double>(as_int());
  if (is_double()) return as_double_exact();
  return 0.0;
}

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const auto& [k, v] : as_object())
    if (k == key) return &v;
  return nullptr;
}

const Value* Value::at(std::int64_t index) const {
  if (!is_array()) return nullptr;
  const auto& a = as_array();
  const auto n = static_cast<std::int64_t>(a.size());
  if (index < 0) index += n;
  if (index < 0 || index >= n) return nullptr;
  return &a[static_cast<std::size_t>(index)];
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

namespace {

//! The common double of telemetry, a short decimal (21.5, 93.27, 1013.25), without the general
//! shortest-form search of std::to_chars, with the same text. If k (<= 6) is the fewest
//! decimals with which m / 10^k reads back as d, that decimal is the shortest form of d (with
//! |m| < 2^50 the decimals of k places are further apart than the doubles around d, so no
//! other k-place decimal reads back as d); m = d * 10^k rounded is exact enough to find it, and
//! the division check proves it. Returns false, writing nothing, where std::to_chars could
//! print differently: zero (keeps -0's sign), large or long values, and when it would choose the
//! exponent form (which it does when that is shorter: 1e+06, 1e-05).
bool append_short_decimal(std::string& out, double d) {
  static constexpr double kPow10[] = {1, 10, 100, 1e3, 1e4, 1e5, 1e6};
  if (d == 0 || !(std::fabs(d) < 1e15)) return false;
  for (int k = 0; k <= 6; ++k) {
    const double scaled = d * kPow10[k];
    if (!(std::fabs(scaled) < 0x1p50)) return false;
    const std::int64_t m = std::llround(scaled);
    if (static_cast<double>(m) / kPow10[k] != d) continue;
    char digits[24];
    const std::uint64_t magnitude = m < 0 ? 0 - static_cast<std::uint64_t>(m) : static_cast<std::uint64_t>(m);
    const int n = static_cast<int>(std::to_chars(digits, digits + sizeof digits, magnitude).ptr - digits);
    int significant = n;
    if (k == 0)
      while (significant > 1 && digits[significant - 1] == '0') --significant;
    const int exponent = n - 1 - k;
    const int exponent_form = significant + (significant > 1) + 2 + (std::abs(exponent) >= 100 ? 3 : 2);
    const int fixed_form = k == 0 ? n : std::max(1, n - k) + 1 + k;
    if (fixed_form > exponent_form) return false;  // ties go to the fixed form, as in to_chars
    if (m < 0) out += '-';
    if (k == 0) {
      out.append(digits, static_cast<std::size_t>(n));
      out += ".0";
    } else if (n > k) {
      out.append(digits, static_cast<std::size_t>(n - k));
      out += '.';
      out.append(digits + n - k, static_cast<std::size_t>(k));
    } else {
      out += "0.";
      out.append(static_cast<std::size_t>(k - n), '0');
      out.append(digits, static_cast<std::size_t>(n));
    }
    return true;
  }
  return false;
}

void append_double(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  if (append_short_decimal(out, d)) return;
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view text(buf, static_cast<std::size_t>(res.ptr - buf));
  out += text;
  // Keep doubles recognisable as doubles (26.0, not 26) so types survive a round trip.
  if (text.find_first_of(".eEn") == std::string_view::npos) out += ".0";
}

int type_rank(Value::Type t) {
  switch (t) {
    case Value::Type::Null: return 0;
    case Value::Type::Bool: return 1;
    case Value::Type::Int:
    case Value::Type::Double: return 2;
    case Value::Type::String: return 3;
    case Value::Type::Array: return 4;
    case Value::Type::Object: return 5;
  }
  return 6;
}

}  // namespace

void Value::append_json(std::string& out) const {
  switch (type()) {
    case Type::Null: out += "null"; break;
    case Type::Bool: out += as_bool() ? "true" : "false"; break;
    case Type::Int: {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof buf, as_int());
      out.append(buf, res.ptr);
      break;
    }
    case Type::Double: append_double(out, as_double_exact()); break;
    case Type::String: append_json_string(out, as_string()); break;
    case Type::Array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : as_array()) {
        if (!first) out.push_back(',');
        first = false;
        e.append_json(out);
      }
      out.push_back(']');
      break;
    }
    case Type::Object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, v] : as_object()) {
        if (!first) out.push_back(',');
        first = false;
        append_json_string(out, k);
        out.push_back(':');
        v.append_json(out);
      }
      out.push_back('}');
      break;
    }
  }
}

std::string Value::to_json() const {
  std::string out;
  append_json(out);
  return out;
}

std::string Value::to_text() const {
  if (is_string()) return as_string();
  if (is_null()) return "";
  return to_json();
}

nlohmann::json Value::to_nlohmann() const {
  switch (type()) {
    case Type::Null: return nullptr;
    case Type::Bool: return as_bool();
    case Type::Int: return as_int();
    case Type::Double: return as_double_exact();
    case Type::String: return as_string();
    case Type::Array: {
      auto j = nlohmann::json::array();
      for (const auto& e : as_array()) j.push_back(e.to_nlohmann());
      return j;
    }
    case Type::Object: {
      auto o = nlohmann::json::object();
      for (const auto& [k, v] : as_object()) o[k] = v.to_nlohmann();
      return o;
    }
  }
  return nullptr;
}

void append_cbor_head(std::vector<std::uint8_t>& out, std::uint8_t major, std::uint64_t argument) {
  const auto type = static_cast<std::uint8_t>(major << 5);
  auto put = [&](std::uint8_t info, int bytes) {
    out.push_back(static_cast<std::uint8_t>(type | info));
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(argument >> (8 * i)));
  };
  if (argument < 24) put(static_cast<std::uint8_t>(argument), 0);
  else if (argument <= 0xFF) put(24, 1);
  else if (argument <= 0xFFFF) put(25, 2);
  else if (argument <= 0xFFFFFFFF) put(26, 4);
  else put(27, 8);
}

void append_cbor_text(std::vector<std::uint8_t>& out, std::string_view text) {
  append_cbor_head(out, 3, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

void Value::append_cbor(std::vector<std::uint8_t>& out) const {
  switch (type()) {
    case Type::Null: out.push_back(0xF6); return;
    case Type::Bool: out.push_back(as_bool() ? 0xF5 : 0xF4); return;
    case Type::Int: {
      const std::int64_t i = as_int();
      // Negative n is major type 1 with argument -1 - n (no overflow at INT64_MIN).
      if (i >= 0) append_cbor_head(out, 0, static_cast<std::uint64_t>(i));
      else append_cbor_head(out, 1, static_cast<std::uint64_t>(-(i + 1)));
      return;
    }
    case Type::Double: {
      const double d = as_double_exact();
      // Single precision when it holds the value exactly (as nlohmann's encoder does): most
      // readings (21.5, 1013.25) take 5 bytes instead of 9.
      // (The range check first: converting a double beyond float's range is undefined.)
      if (std::fabs(d) <= std::numeric_limits<float>::max() &&
          static_cast<double>(static_cast<float>(d)) == d) {
        const auto f = static_cast<float>(d);
        std::uint32_t bits;
        std::memcpy(&bits, &f, sizeof bits);
        out.push_back(0xFA);
        for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
        return;
      }
      std::uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      out.push_back(0xFB);
      for (int i = 7; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
      return;
    }
    case Type::String: append_cbor_text(out, as_string()); return;
    case Type::Array:
      append_cbor_head(out, 4, as_array().size());
      for (const auto& e : as_array()) e.append_cbor(out);
      return;
    case Type::Object:
      append_cbor_head(out, 5, as_object().size());
      for (const auto& [k, v] : as_object()) {
        append_cbor_text(out, k);
        v.append_cbor(out);
      }
      return;
  }
}

Value Value::from_nlohmann(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return {};
    case nlohmann::json::value_t::boolean: return j.get<bool>();
    case nlohmann::json::value_t::number_integer: return j.get<std::int64_t>();
    case nlohmann::json::value_t::number_unsigned: {
      auto u = j.get<std::uint64_t>();
      if (u <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(u);
      return static_cast<double>(u);
    }
    case nlohmann::json::value_t::number_float: return j.get<double>();
    case nlohmann::json::value_t::string: return j.get<std::string>();
    case nlohmann::json::value_t::array: {
      rules::Array a;
      a.reserve(j.size());
      for (const auto& e : j) a.push_back(from_nlohmann(e));
      return a;
    }
    case nlohmann::json::value_t::object: {
      rules::Object o;
      o.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) o.emplace_back(it.key(), from_nlohmann(*it));
      return o;
    }
    default: return {};
  }
}

int compare(const Value& a, const Value& b) {
  // Same-type strings and ints first: WHERE and DEFINE comparisons, keys, min/max.
  if (a.type() == b.type()) {
    if (a.is_string()) {
      const int c = a.as_string().compare(b.as_string());
      return (c > 0) - (c < 0);
    }
    if (a.is_int()) return (a.as_int() > b.as_int()) - (a.as_int() < b.as_int());
  }
  const int ra = type_rank(a.type()), rb = type_rank(b.type());
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (a.type()) {
    case Value::Type::Null: return 0;
    case Value::Type::Bool: return static_cast<int>(a.as_bool()) - static_cast<int>(b.as_bool());
    case Value::Type::Int:
    case Value::Type::Double:
      if (a.is_int() && b.is_int()) {
        return a.as_int() < b.as_int() ? -1 : (a.as_int() > b.as_int() ? 1 : 0);
      } else {
        const double x = a.as_number(), y = b.as_number();
        return x < y ? -1 : (x > y ? 1 : 0);
      }
    case Value::Type::String: {
      const int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case Value::Type::Array: {
      const auto &x = a.as_array(), &y = b.as_array();
      for (std::size_t i = 0; i < x.size() && i < y.size(); ++i)
        if (int c = compare(x[i], y[i]); c != 0) return c;
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
    case Value::Type::Object: {
      const auto &x = a.as_object(), &y = b.as_object();
      for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (int c = x[i].first.compare(y[i].first); c != 0) return c < 0 ? -1 : 1;
        if (int c = compare(x[i].second, y[i].second); c != 0) return c;
      }
      return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
    }
  }
  return 0;
}

std::size_t Value::hash() const {
  auto mix = [](std::size_t h, std::size_t v) {
    return h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  };
  switch (type()) {
    case Type::Null: return 0x51ed270b;
    case Type::Bool: return as_bool() ? 0x2545F491 : 0x4F6CDD1D;
    case Type::Int:
    case Type::Double: {
      // Equal numbers hash equal whatever their type (1 and 1.0 are the same key).
      const double d = as_number();
      // The range check (the int64 range, exactly) keeps the cast defined: inf and 1e300 are
      // integral doubles too.
      if (is_int() || (d == std::floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
        const auto i = is_int() ? as_int() : static_cast<std::int64_t>(d);
        return std::hash<std::int64_t>{}(i);
      }
      return std::hash<double>{}(d);
    }
    case Type::String: return std::hash<std::string>{}(as_string());
    case Type::Array: {
      std::size_t h = 0xA11A7;
      for (const auto& e : as_array()) h = mix(h, e.hash());
      return h;
    }
    case Type::Object: {
      std::size_t h = 0x0B1EC7;
      for (const auto& [k, v] : as_object()) h = mix(mix(h, std::hash<std::string>{}(k)), v.hash());
      return h;
    }
  }
  return 0;
}

}  // namespace streamgate::rules
