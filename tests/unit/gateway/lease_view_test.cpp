// LeaseView (gateway/cluster/lease_view.h): the lease bucket as the cluster worker sees it,
// expiring entries itself because the bucket's TTL leaves no marker. No server needed: changes
// are applied as the watcher would deliver them, at chosen times.
#include <gtest/gtest.h>

#include "gateway/cluster/lease_view.h"

namespace streamgate::gateway::cluster {
namespace {

using namespace std::chrono_literals;
using Clock = LeaseView::Clock;

KvUpdate put(std::string key, std::string value, std::uint64_t rev, std::int64_t created_ns = 0) {
  return KvUpdate{std::move(key), std::move(value), rev, false, created_ns};
}

TEST(LeaseView, LiveEntriesExpireOneTtlAfterTheyArrive) {
  LeaseView v(6s);
  const auto t0 = Clock::now();
  v.apply(put("m.b", "b", 1), false, t0, 0);
  v.apply(put("m.a", "a", 2), false, t0 + 2s, 0);
  v.apply(put("p.3", "b", 3), false, t0, 0);
  EXPECT_EQ(v.members(t0 + 3s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(v.holder("p.3", t0 + 5s), "b");
  // b stopped renewing: gone from the members and from the lease, which counts as lapsed.
  EXPECT_EQ(v.members(t0 + 7s), (std::vector<std::string>{"a"}));
  EXPECT_EQ(v.holder("p.3", t0 + 7s), std::nullopt);
  EXPECT_TRUE(v.lapsed("p.3", "a", t0 + 7s));
  EXPECT_FALSE(v.lapsed("p.3", "b", t0 + 7s));  // our own lease is never someone else's lapse
  EXPECT_FALSE(v.lapsed("p.3", "a", t0 + 5s));  // still live
}

TEST(LeaseView, ARenewalMovesTheExpiryAndADeleteIsNotALapse) {
  LeaseView v(6s);
  const auto t0 = Clock::now();
  v.apply(put("p.1", "b", 1), false, t0, 0);
  v.apply(put("p.1", "b", 5), false, t0 + 4s, 0);
  EXPECT_EQ(v.holder("p.1", t0 + 9s), "b");
  v.apply(KvUpdate{"p.1", "", 6, true, 0}, false, t0 + 9s, 0);  // released
  EXPECT_EQ(v.holder("p.1", t0 + 9s), std::nullopt);
  EXPECT_FALSE(v.lapsed("p.1", "a", t0 + 20s));
  EXPECT_EQ(v.size(), 0u);
}

TEST(LeaseView, EntriesOfTheFirstPassAgeFromTheirServerTimeAndOldRevisionsAreIgnored) {
  LeaseView v(6s);
  const auto t0 = Clock::now();
  const std::int64_t wall = 1'700'000'000'000'000'000;
  // Written 4 s before the watch started: 2 s left.
  v.apply(put("m.c", "c", 7, wall - 4'000'000'000), true, t0, wall);
  EXPECT_EQ(v.members(t0 + 1s), (std::vector<std::string>{"c"}));
  EXPECT_TRUE(v.members(t0 + 3s).empty());
  // A clock far off either way is clamped to [0, ttl].
  v.apply(put("m.d", "d", 8, wall + 60'000'000'000), true, t0, wall);
  EXPECT_EQ(v.members(t0 + 5s), (std::vector<std::string>{"d"}));
  // A re-watch delivers a revision already known: its expiry stays.
  v.apply(put("p.0", "d", 9), false, t0, wall);
  v.apply(put("p.0", "d", 9, wall), true, t0 + 5s, wall);
  EXPECT_EQ(v.holder("p.0", t0 + 7s), std::nullopt);
  // Our own write is known before the watcher echoes it.
  v.wrote("p.0", "me", 12, t0 + 7s);
  v.apply(put("p.0", "d", 10), false, t0 + 7s, wall);
  EXPECT_EQ(v.holder("p.0", t0 + 8s), "me");
}

}  // namespace
}  // namespace streamgate::gateway::cluster
