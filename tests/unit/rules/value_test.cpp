// Value: JSON text of doubles (the short-decimal fast path must print exactly what the general
// shortest round-trip form prints) and the same-type fast paths of compare / ==.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "rules/value.h"

namespace streamgate::rules {
namespace {

//! What Value::to_json() printed for a finite double before the fast path: std::to_chars'
//! shortest form, with ".0" added to integral values so they stay doubles.
std::string general_form(double d) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d);
  std::string text(buf, res.ptr);
  if (text.find_first_of(".eEn") == std::string::npos) text += ".0";
  return text;
}

void expect_same_text(double d) {
  ASSERT_EQ(Value(d).to_json(), general_form(d)) << "bits " << std::hexfloat << d;
}

TEST(ValueJson, ShortDecimalsPrintAsTheGeneralForm) {
  for (double d : {21.5, 93.27, 1013.25, -67.0, 0.5, 0.05, 0.001, 0.0001, 0.00012, 123456.0, 1e6,
                   1.2e6, 1000000.5, 999999.999999, 0.1 + 0.2, 1.0 / 3, 52.52, 13.4, -0.001,
                   1e14, 1e15, 123456789012345.6, 4503599627370495.5, 0.000001, 0.0000015,
                   -0.0, 2.5e-7, 100.0, 120.0, 1e5, 12e4, 1e-3, 5e-324, 1.7976931348623157e308})
    expect_same_text(d);
}

TEST(ValueJson, SensorLikeValuesPrintAsTheGeneralForm) {
  // m / 10^k as a device would send it, every k of the fast path and one beyond, both signs.
  std::mt19937_64 rng(7);
  for (int k = 0; k <= 7; ++k) {
    const double scale = std::pow(10.0, k);
    for (int i = 0; i < 40000; ++i) {
      const auto digits = static_cast<std::int64_t>(rng() % 10'000'000'000ULL) >> (rng() % 34);
      const double d = static_cast<double>(rng() & 1 ? digits : -digits) / scale;
      expect_same_text(d);
    }
  }
}

TEST(ValueJson, ArbitraryDoublesPrintAsTheGeneralForm) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200000; ++i) {
    std::uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    expect_same_text(d);
  }
  // Near the fast path's magnitudes: results of arithmetic on readings (sums, averages).
  std::uniform_real_distribution<double> reading(-1000, 1000);
  for (int i = 0; i < 200000; ++i) expect_same_text(reading(rng) * (i % 7 + 1) / 3);
}

TEST(ValueJson, NonFiniteIsNull) {
  EXPECT_EQ(Value(std::numeric_limits<double>::infinity()).to_json(), "null");
  EXPECT_EQ(Value(std::nan("")).to_json(), "null");
}

TEST(ValueCompare, SameTypeFastPathsAgreeWithTheTotalOrder) {
  EXPECT_EQ(compare(Value("abc"), Value("abd")), -1);
  EXPECT_EQ(compare(Value("abd"), Value("abc")), 1);
  EXPECT_EQ(compare(Value("abc"), Value("abc")), 0);
  EXPECT_EQ(compare(Value("ab"), Value("abc")), -1);
  EXPECT_EQ(compare(Value(std::int64_t{-5}), Value(std::int64_t{3})), -1);
  EXPECT_EQ(compare(Value(std::int64_t{INT64_MAX}), Value(std::int64_t{INT64_MIN})), 1);
  EXPECT_EQ(compare(Value(std::int64_t{2}), Value(2.0)), 0);  // mixed: numeric widening
  EXPECT_EQ(compare(Value(std::int64_t{2}), Value("2")), -1);  // numbers < strings
  EXPECT_TRUE(Value("device-1") == Value("device-1"));
  EXPECT_FALSE(Value("device-1") == Value("device-10"));
  EXPECT_TRUE(Value(std::int64_t{1}) == Value(1.0));
  EXPECT_TRUE(Value() == Value());
  EXPECT_FALSE(Value("") == Value());
}

TEST(ValueCbor, DecodesToWhatToNlohmannGives) {
  // Every head width (argument < 24, 1, 2, 4, 8 bytes), both signs, single and double precision,
  // non-finite doubles, text lengths around the head widths, nesting.
  std::vector<Value> values = {nullptr, true, false, 0, 23, 24, 255, 256, 65535, 65536,
                               std::int64_t{4294967295}, std::int64_t{4294967296}, INT64_MAX,
                               -1, -24, -25, -256, -257, INT64_MIN, 0.0, -0.0, 0.5, 21.5, 1013.25,
                               0.1, 1e300, -1e-300, 3.4028234663852886e38, 3.5e38,
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               std::numeric_limits<double>::quiet_NaN(), "", "x",
                               std::string(23, 'a'), std::string(24, 'b'), std::string(256, 'c'),
                               std::string(70000, 'd'), Array{}, Array{1, "two", Array{3.5}},
                               Object{}, Object{{"k", 1}, {"nested", Object{{"z", nullptr}}}}};
  for (const auto& v : values) {
    std::vector<std::uint8_t> bytes;
    v.append_cbor(bytes);
    const nlohmann::json decoded = nlohmann::json::from_cbor(bytes);
    // Compared re-encoded, so NaN equals NaN.
    EXPECT_EQ(nlohmann::json::to_cbor(decoded), nlohmann::json::to_cbor(v.to_nlohmann()))
        << v.to_json();
    EXPECT_EQ(Value::from_nlohmann(decoded).to_json(), Value::from_nlohmann(v.to_nlohmann()).to_json());
  }
}

}  // namespace
}  // namespace streamgate::rules
