// Tests for the shared vocabulary's spellings (rules/vocabulary.h): the DELIVERY option's text
// both ways, as the planner reads it and the page shows it.
#include <gtest/gtest.h>

#include "rules/vocabulary.h"

namespace streamgate::rules {
namespace {

TEST(Vocabulary, DeliveryRoundTripsThroughItsSpelling) {
  for (const Delivery d : {Delivery::AtMostOnce, Delivery::AtLeastOnce, Delivery::ExactlyOnce}) {
    EXPECT_EQ(parse_delivery(to_string(d)), d);
  }
  EXPECT_EQ(parse_delivery("Exactly_Once"), Delivery::ExactlyOnce);
  EXPECT_FALSE(parse_delivery("exactly once").has_value());
  EXPECT_FALSE(parse_delivery("").has_value());
}

TEST(Vocabulary, RuleErrorReadsFileLineColumnMessage) {
  EXPECT_EQ((RuleError{"a.sql", 3, 7, "boom"}.to_string()), "a.sql:3:7: boom");
}

}  // namespace
}  // namespace streamgate::rules
