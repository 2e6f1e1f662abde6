// Math and trigonometry functions users of StreamSQL / eKuiper call (abs, round, power, ... are
// in scalar.cpp). Angles are radians; NaN and infinities become NULL; a wrong type gives NULL.
#include <cmath>
#include <limits>

#include "rules/function_registry.h"
#include "rules/functions/common.h"

namespace streamgate::rules {

namespace {

using fn::add_documented;
using fn::finite;

constexpr double kPi = 3.14159265358979323846;

//! A one-argument double function with a domain check.
std::function<Value(Args)> unary(double (*f)(double), double lo = -INFINITY, double hi = INFINITY) {
  return [f, lo, hi](Args a) -> Value {
    if (!a[0].is_number()) return {};
    const double x = a[0].as_number();
    if (x < lo || x > hi) return {};
    return finite(f(x));
  };
}

//! Bitwise operations on integers only (a double would silently lose bits).
std::function<Value(Args)> bitwise(std::int64_t (*f)(std::int64_t, std::int64_t)) {
  return [f](Args a) -> Value {
    if (!a[0].is_int() || !a[1].is_int()) return {};
    return f(a[0].as_int(), a[1].as_int());
  };
}

}  // namespace

void register_math_builtins(FunctionRegistry& r) {
  const std::string fam = "math";
  add_documented(r, fam, "sin", {}, 1, 1, "sin(x) -> float", "Sine of x radians.",
                 {{"round(sin(pi() / 2), 6)", "1"}}, unary([](double x) { return std::sin(x); }));
  add_documented(r, fam, "cos", {}, 1, 1, "cos(x) -> float", "Cosine of x radians.",
                 {{"cos(0)", "1.0"}}, unary([](double x) { return std::cos(x); }));
  add_documented(r, fam, "tan", {}, 1, 1, "tan(x) -> float", "Tangent of x radians.",
                 {{"round(tan(pi() / 4), 6)", "1"}}, unary([](double x) { return std::tan(x); }));
  add_documented(r, fam, "cot", {}, 1, 1, "cot(x) -> float",
                 "Cotangent of x radians; NULL at multiples of pi.",
                 {{"round(cot(pi() / 4), 6)", "1"}}, [](Args a) -> Value {
                   if (!a[0].is_number()) return {};
                   const double t = std::tan(a[0].as_number());
                   return t == 0 ? Value() : finite(1 / t);
                 });
  add_documented(r, fam, "asin", {}, 1, 1, "asin(x) -> float",
                 "Arc sine in radians; NULL outside [-1, 1].", {{"round(asin(1), 4)", "1.5708"}},
                 unary([](double x) { return std::asin(x); }, -1, 1));
  add_documented(r, fam, "acos", {}, 1, 1, "acos(x) -> float",
                 "Arc cosine in radians; NULL outside [-1, 1].", {{"acos(1)", "0.0"}},
                 unary([](double x) { return std::acos(x); }, -1, 1));
  add_documented(r, fam, "atan", {}, 1, 1, "atan(x) -> float", "Arc tangent in radians.",
                 {{"round(atan(1), 4)", "0.7854"}}, unary([](double x) { return std::atan(x); }));
  add_documented(r, fam, "atan2", {}, 2, 2, "atan2(y, x) -> float",
                 "Angle of the point (x, y) in radians, in (-pi, pi].",
                 {{"round(atan2(1, -1), 4)", "2.3562"}}, [](Args a) -> Value {
                   if (!a[0].is_number() || !a[1].is_number()) return {};
                   return finite(std::atan2(a[0].as_number(), a[1].as_number()));
                 });
  add_documented(r, fam, "sinh", {}, 1, 1, "sinh(x) -> float", "Hyperbolic sine.",
                 {{"sinh(0)", "0.0"}}, unary([](double x) { return std::sinh(x); }));
  add_documented(r, fam, "cosh", {}, 1, 1, "cosh(x) -> float", "Hyperbolic cosine.",
                 {{"cosh(0)", "1.0"}}, unary([](double x) { return std::cosh(x); }));
  add_documented(r, fam, "tanh", {}, 1, 1, "tanh(x) -> float", "Hyperbolic tangent.",
                 {{"tanh(0)", "0.0"}}, unary([](double x) { return std::tanh(x); }));
  add_documented(r, fam, "degrees", {}, 1, 1, "degrees(radians) -> float",
                 "Radians to degrees.", {{"degrees(pi())", "180.0"}},
                 unary([](double x) { return x * 180 / kPi; }));
  add_documented(r, fam, "radians", {}, 1, 1, "radians(degrees) -> float",
                 "Degrees to radians.", {{"round(radians(180), 5)", "3.14159"}},
                 unary([](double x) { return x * kPi / 180; }));
  add_documented(r, fam, "pi", {}, 0, 0, "pi() -> float", "The constant pi.",
                 {{"round(pi(), 5)", "3.14159"}}, [](Args) -> Value { return kPi; });
  add_documented(r, fam, "cbrt", {}, 1, 1, "cbrt(x) -> float", "Cube root.",
                 {{"cbrt(27)", "3.0"}}, unary([](double x) { return std::cbrt(x); }));
  add_documented(r, fam, "trunc", {"truncate"}, 1, 2, "trunc(x [, digits = 0]) -> number",
                 "x cut toward zero to `digits` decimals (an int when digits is 0).",
                 {{"trunc(-2.7)", "-2"}, {"trunc(3.14159, 2)", "3.14"}}, [](Args a) -> Value {
                   if (fn::any_null(a) || !a[0].is_number()) return {};
                   std::int64_t digits = 0;
                   if (a.size > 1) {
                     auto d = fn::int_arg(a[1]);
                     if (!d || *d < 0 || *d > 15) return {};
                     digits = *d;
                   }
                   if (a[0].is_int()) return a[0];
                   const double x = a[0].as_double_exact();
                   if (digits == 0) {
                     const double t = std::trunc(x);
                     if (std::isfinite(t) && std::fabs(t) < 9.2e18) return static_cast<std::int64_t>(t);
                     return finite(t);
                   }
                   const double p = std::pow(10.0, static_cast<double>(digits));
                   // x * p may land just below an integer the user wrote (0.29 * 100): nudge by
                   // a few ulps before cutting.
                   const double scaled = x * p;
                   const double t = std::trunc(scaled + (x > 0 ? 1 : -1) * 4 * std::numeric_limits<double>::epsilon() * std::fabs(scaled));
                   return finite(t / p);
                 });
  add_documented(r, fam, "bitand", {}, 2, 2, "bitand(a, b) -> int", "Bitwise AND of integers.",
                 {{"bitand(12, 10)", "8"}},
                 bitwise([](std::int64_t a, std::int64_t b) { return a & b; }));
  add_documented(r, fam, "bitor", {}, 2, 2, "bitor(a, b) -> int", "Bitwise OR of integers.",
                 {{"bitor(12, 10)", "14"}},
                 bitwise([](std::int64_t a, std::int64_t b) { return a | b; }));
  add_documented(r, fam, "bitxor", {}, 2, 2, "bitxor(a, b) -> int", "Bitwise XOR of integers.",
                 {{"bitxor(12, 10)", "6"}},
                 bitwise([](std::int64_t a, std::int64_t b) { return a ^ b; }));
  add_documented(r, fam, "bitnot", {}, 1, 1, "bitnot(a) -> int", "Bitwise NOT of an integer.",
                 {{"bitnot(0)", "-1"}}, [](Args a) -> Value {
                   if (!a[0].is_int()) return {};
                   return ~a[0].as_int();
                 });
}

}  // namespace streamgate::rules
