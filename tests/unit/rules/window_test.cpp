// Unit tests of window assignment, watermarks, LIKE matching and SQL comparison helpers.
#include <gtest/gtest.h>

#include "rules/expr/expr.h"
#include "rules/window/window.h"

namespace streamgate::rules {
namespace {

using plan::WindowSpec;

TEST(Window, TumblingIsEpochAlignedAndHalfOpen) {
  WindowSpec w;
  w.size = 30 * 60 * kNsPerSec;
  const TimeNs t = *parse_rfc3339("2024-01-15T10:30:00Z");
  auto b = window::tumbling_window(w, t);
  EXPECT_EQ(b.start, t);
  EXPECT_EQ(b.end, t + w.size);
  auto b2 = window::tumbling_window(w, t - 1);
  EXPECT_EQ(b2.end, t);
  // Before 1970 too.
  auto b3 = window::tumbling_window(w, -1);
  EXPECT_EQ(b3.start, -w.size);
  EXPECT_EQ(b3.end, 0);
}

TEST(Window, SlidingWindowsInEndOrder) {
  WindowSpec w;
  w.size = 10 * kNsPerSec;
  w.slide = 5 * kNsPerSec;
  std::vector<window::Bounds> out;
  window::sliding_windows(w, 7 * kNsPerSec, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].start, 0);
  EXPECT_EQ(out[0].end, 10 * kNsPerSec);
  EXPECT_EQ(out[1].start, 5 * kNsPerSec);
  // A boundary belongs to the windows starting there, not the ones ending there.
  window::sliding_windows(w, 10 * kNsPerSec, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].start, 5 * kNsPerSec);
  EXPECT_EQ(out[1].start, 10 * kNsPerSec);
  // Hop larger than size: gaps between windows.
  w.size = 2 * kNsPerSec;
  window::sliding_windows(w, 3 * kNsPerSec, out);
  EXPECT_TRUE(out.empty());
  window::sliding_windows(w, 6 * kNsPerSec, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].start, 5 * kNsPerSec);
}

TEST(Window, WatermarkNeverDecreases) {
  window::Watermark wm;
  EXPECT_EQ(wm.value(), kTimeMin);
  wm.observe(100, 10);
  EXPECT_EQ(wm.value(), 90);
  wm.observe(50, 10);
  EXPECT_EQ(wm.value(), 90);
  EXPECT_EQ(wm.max_event_time(), 100);
  wm.advance_to(80);
  EXPECT_EQ(wm.value(), 90);
  wm.advance_to(kTimeMax);
  EXPECT_EQ(wm.value(), kTimeMax);
  EXPECT_EQ(window::sat_add(kTimeMax, 5), kTimeMax);
  EXPECT_EQ(window::sat_add(kTimeMin, -5), kTimeMin);
}

TEST(Expr, LikeMatch) {
  EXPECT_TRUE(expr::like_match("abc", "abc"));
  EXPECT_TRUE(expr::like_match("abc", "a%"));
  EXPECT_TRUE(expr::like_match("abc", "%c"));
  EXPECT_TRUE(expr::like_match("abc", "a_c"));
  EXPECT_TRUE(expr::like_match("abc", "%"));
  EXPECT_TRUE(expr::like_match("", "%"));
  EXPECT_TRUE(expr::like_match("sensor/12/temp", "sensor/%/temp"));
  EXPECT_FALSE(expr::like_match("abc", "a_"));
  EXPECT_FALSE(expr::like_match("abc", "b%"));
  EXPECT_FALSE(expr::like_match("", "_"));
  EXPECT_TRUE(expr::like_match("aaab", "%a%b"));
}

TEST(Expr, SqlCompare) {
  bool mismatch = false;
  EXPECT_TRUE(expr::sql_compare(ast::Op::Lt, Value(1), Value(1.5), &mismatch).is_true());
  EXPECT_TRUE(expr::sql_compare(ast::Op::Eq, Value("a"), Value("a"), &mismatch).is_true());
  EXPECT_TRUE(expr::sql_compare(ast::Op::Eq, Value(), Value(1), &mismatch).is_null());
  EXPECT_FALSE(mismatch);
  EXPECT_TRUE(expr::sql_compare(ast::Op::Eq, Value("1"), Value(1), &mismatch).is_null());
  EXPECT_TRUE(mismatch);
}

}  // namespace
}  // namespace streamgate::rules
