// Tests for MQTT topic-filter matching (MQTT 3.1.1 section 4.7), including the spec's examples.
#include <gtest/gtest.h>

#include "rules/topic_filter.h"

namespace streamgate::rules {
namespace {

TEST(TopicFilter, ExactMatchIsCaseSensitive) {
  EXPECT_TRUE(topic_matches("sport/tennis", "sport/tennis"));
  EXPECT_FALSE(topic_matches("sport/tennis", "Sport/tennis"));
  EXPECT_FALSE(topic_matches("sport/tennis", "sport/tennis/player1"));
  EXPECT_FALSE(topic_matches("sport/tennis/player1", "sport/tennis"));
  EXPECT_FALSE(topic_matches("sport", "sport/"));
}

TEST(TopicFilter, MultiLevelWildcard) {
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
  EXPECT_TRUE(topic_matches("sport/#", "sport"));  // `#` includes the parent level
  EXPECT_TRUE(topic_matches("sport/#", "sport/"));
  EXPECT_TRUE(topic_matches("#", "sport/tennis"));
  EXPECT_TRUE(topic_matches("#", "/"));
  EXPECT_FALSE(topic_matches("sport/#", "sports"));
  EXPECT_FALSE(topic_matches("sport/tennis/#", "sport"));
}

TEST(TopicFilter, SingleLevelWildcard) {
  EXPECT_TRUE(topic_matches("sport/tennis/+", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("sport/tennis/+", "sport/tennis/player2"));
  EXPECT_FALSE(topic_matches("sport/tennis/+", "sport/tennis/player1/ranking"));
  EXPECT_FALSE(topic_matches("sport/tennis/+", "sport/tennis"));
  EXPECT_TRUE(topic_matches("sport/+", "sport/"));  // `+` matches an empty level
  EXPECT_FALSE(topic_matches("sport/+", "sport"));
  EXPECT_TRUE(topic_matches("+", "sport"));
  EXPECT_TRUE(topic_matches("+/+", "/finance"));
  EXPECT_TRUE(topic_matches("/+", "/finance"));
  EXPECT_FALSE(topic_matches("+", "/finance"));
  EXPECT_TRUE(topic_matches("+/tennis/#", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("shop/+/events", "shop/berlin/events"));
  EXPECT_FALSE(topic_matches("shop/+/events", "shop/berlin/orders"));
}

TEST(TopicFilter, EmptyLevels) {
  EXPECT_TRUE(topic_matches("a//b", "a//b"));
  EXPECT_TRUE(topic_matches("a/+/b", "a//b"));
  EXPECT_FALSE(topic_matches("a/b", "a//b"));
  EXPECT_TRUE(topic_matches("/", "/"));
  EXPECT_TRUE(topic_matches("+/+", "/"));
  EXPECT_FALSE(topic_matches("+", "/"));
}

TEST(TopicFilter, DollarTopicsAreHiddenFromLeadingWildcards) {
  EXPECT_FALSE(topic_matches("#", "$SYS/broker/uptime"));
  EXPECT_FALSE(topic_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS"));
  // Only the first level is special: a `$` later on is an ordinary character.
  EXPECT_TRUE(topic_matches("a/+", "a/$b"));
  EXPECT_TRUE(topic_matches("#", "a/$b"));
}

TEST(TopicFilter, SharedSubscriptions) {
  EXPECT_TRUE(topic_matches("$share/group1/sport/+", "sport/tennis"));
  EXPECT_TRUE(topic_matches("$share/g/#", "a/b/c"));
  EXPECT_TRUE(topic_matches("$share/g/a", "a"));
  EXPECT_FALSE(topic_matches("$share/g/a", "$share/g/a"));
  EXPECT_FALSE(topic_matches("$share/g/#", "$SYS/x"));  // $-rule applies to the real filter
  EXPECT_FALSE(topic_matches("$share/g", "g"));         // no filter after the group
  EXPECT_FALSE(topic_matches("$share//a", "a"));        // empty group name
  EXPECT_FALSE(topic_matches("$share/g+/a", "a"));      // wildcard in group name
  EXPECT_FALSE(topic_matches("$share/g/", ""));
}

TEST(TopicFilter, MalformedFiltersAndTopicsNeverMatch) {
  EXPECT_FALSE(topic_matches("", ""));
  EXPECT_FALSE(topic_matches("", "a"));
  EXPECT_FALSE(topic_matches("a", ""));
  EXPECT_FALSE(topic_matches("#", ""));
  EXPECT_FALSE(topic_matches("sport/tennis#", "sport/tennis"));
  EXPECT_FALSE(topic_matches("sport/tennis#", "sport/tennis#"));
  EXPECT_FALSE(topic_matches("sport/#/ranking", "sport/x/ranking"));
  EXPECT_FALSE(topic_matches("sport+", "sport+"));
  EXPECT_FALSE(topic_matches("sport+", "sportx"));
  EXPECT_FALSE(topic_matches("sport/+x/a", "sport/yx/a"));
  EXPECT_FALSE(topic_matches("#/a", "b/a"));
  // Wildcards are literal characters nowhere: a topic name containing them is invalid.
  EXPECT_FALSE(topic_matches("sport/+", "sport/+"));
  EXPECT_FALSE(topic_matches("#", "a/#"));
  EXPECT_FALSE(topic_matches("a", std::string_view("a\0", 2)));
}

}  // namespace
}  // namespace streamgate::rules
