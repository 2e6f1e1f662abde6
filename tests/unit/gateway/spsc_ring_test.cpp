// SPSC rings: capacity rules, FIFO order, full/empty edges, slot reuse, and a two-thread stress
// test checking that millions of items arrive complete and in order.
#include "gateway/spsc_ring.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>

namespace sg = streamgate::gateway;

TEST(SpscRing, RejectsCapacityThatIsNotAPowerOfTwo) {
  EXPECT_THROW(sg::SpscRing<int>(0), std::invalid_argument);
  EXPECT_THROW(sg::SpscRing<int>(1), std::invalid_argument);
  EXPECT_THROW(sg::SpscRing<int>(6), std::invalid_argument);
  EXPECT_NO_THROW(sg::SpscRing<int>(8));
}

TEST(SpscRing, IndicesLiveOnSeparateCacheLines) {
  EXPECT_EQ(sizeof(sg::SpscRing<int>) % sg::kCacheLine, 0u);
  EXPECT_GE(alignof(sg::SpscRing<int>), sg::kCacheLine);
}

TEST(SpscRing, FifoUntilFullThenRejects) {
  sg::SpscRing<int> ring(4);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.try_push(int{i}));
  EXPECT_FALSE(ring.try_push(99));
  EXPECT_EQ(ring.size(), 4u);
  int v = -1;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.try_pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.try_pop(v));
  EXPECT_TRUE(ring.empty());
}

TEST(SpscRing, WrapsAroundManyTimes) {
  sg::SpscRing<std::uint64_t> ring(8);
  std::uint64_t next_in = 0, next_out = 0;
  for (int round = 0; round < 1000; ++round) {
    while (ring.try_push(std::uint64_t{next_in})) ++next_in;
    std::uint64_t v;
    for (int k = 0; k < 5 && ring.try_pop(v); ++k) EXPECT_EQ(v, next_out++);
  }
  std::uint64_t v;
  while (ring.try_pop(v)) EXPECT_EQ(v, next_out++);
  EXPECT_EQ(next_in, next_out);
}

TEST(SpscRing, FullRingDoesNotCallFill) {
  sg::SpscRing<int> ring(2);
  ASSERT_TRUE(ring.try_push(1));
  ASSERT_TRUE(ring.try_push(2));
  bool called = false;
  EXPECT_FALSE(ring.try_push_with([&](int&) { called = true; }));
  EXPECT_FALSE(called);
}

TEST(SpscRing, TwoThreadStressKeepsOrderAndLosesNothing) {
  constexpr std::uint64_t kItems = 5'000'000;
  sg::SpscRing<std::uint64_t> ring(1024);
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < kItems;) {
      if (ring.try_push(std::uint64_t{i})) ++i;
      else std::this_thread::yield();
    }
  });
  std::uint64_t expected = 0;
  std::uint64_t sum = 0;
  bool in_order = true;
  while (expected < kItems) {
    std::uint64_t v;
    if (ring.try_pop(v)) {
      if (v != expected) in_order = false;
      sum += v;
      ++expected;
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(sum, kItems * (kItems - 1) / 2);
  EXPECT_TRUE(ring.empty());
}

TEST(MessageRing, CopiesTopicAndPayloadIntoSlots) {
  sg::MessageRing ring(4, 64, 32);
  EXPECT_EQ(ring.try_push("a/b", R"({"x":1})", 42, 1, false, false), sg::PushResult::Ok);
  std::string topic, payload;
  std::int64_t ts = 0;
  int qos = -1;
  ASSERT_TRUE(ring.try_pop_with([&](const sg::MessageSlot& s) {
    topic = s.topic_view();
    payload = s.payload_view();
    ts = s.received_ns;
    qos = s.qos;
    EXPECT_FALSE(s.oversize);
  }));
  EXPECT_EQ(topic, "a/b");
  EXPECT_EQ(payload, R"({"x":1})");
  EXPECT_EQ(ts, 42);
  EXPECT_EQ(qos, 1);
}

TEST(MessageRing, OversizeIsRejectedOrKeptTruncatedForDeadLetters) {
  sg::MessageRing ring(4, 16, 32);
  const std::string big(1000, 'x');
  EXPECT_EQ(ring.try_push("t", big, 0, 0, false, false), sg::PushResult::Oversize);
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(ring.try_push("t", big, 0, 0, false, true), sg::PushResult::Oversize);
  ASSERT_EQ(ring.size(), 1u);
  ring.try_pop_with([&](const sg::MessageSlot& s) {
    EXPECT_TRUE(s.oversize);
    EXPECT_EQ(s.original_len, 1000u);
    EXPECT_EQ(s.payload_len, sg::MessageRing::kOversizeHead);
  });
  EXPECT_EQ(ring.try_push(std::string(33, 't'), "{}", 0, 0, false, true),
            sg::PushResult::TopicTooLong);
  // A payload of exactly the maximum fits.
  EXPECT_EQ(ring.try_push("t", std::string(16, 'y'), 0, 0, false, false), sg::PushResult::Ok);
}

TEST(MessageRing, PayloadsHavePaddingBeforeTheNextSlotAndCarryJournalFlags) {
  // The engine parses payloads in place (simdjson reads up to kPayloadPadding bytes past the
  // end): a maximum-size payload must leave that many bytes before the next slot's topic.
  sg::MessageRing ring(2, 100, 32);
  ASSERT_EQ(ring.try_push("a", std::string(100, 'x'), 0, 0, false, false, 7, true), sg::PushResult::Ok);
  ASSERT_EQ(ring.try_push("b", "{}", 0, 1, false, false, 8, false), sg::PushResult::Ok);
  const char* first_payload_end = nullptr;
  const char* second_topic = nullptr;
  ASSERT_TRUE(ring.try_pop_with([&](const sg::MessageSlot& s) {
    first_payload_end = s.payload + s.payload_len;
    EXPECT_EQ(s.journal_seq, 7);
    EXPECT_TRUE(s.journal_pending);
  }));
  ASSERT_TRUE(ring.try_pop_with([&](const sg::MessageSlot& s) {
    second_topic = s.topic;
    EXPECT_EQ(s.journal_seq, 8);
    EXPECT_FALSE(s.journal_pending);
  }));
  EXPECT_GE(second_topic - first_payload_end, static_cast<std::ptrdiff_t>(sg::MessageRing::kPayloadPadding));
}

TEST(MessageRing, FullRingReportsFull) {
  sg::MessageRing ring(2, 16, 32);
  EXPECT_EQ(ring.try_push("t", "1", 0, 0, false, false), sg::PushResult::Ok);
  EXPECT_EQ(ring.try_push("t", "2", 0, 0, false, false), sg::PushResult::Ok);
  EXPECT_EQ(ring.try_push("t", "3", 0, 0, false, false), sg::PushResult::Full);
}

TEST(MessageRing, TwoThreadStressWithVariableSizes) {
  constexpr std::uint64_t kItems = 2'000'000;
  sg::MessageRing ring(256, 64, 32);
  std::thread producer([&] {
    char buf[64];
    for (std::uint64_t i = 0; i < kItems;) {
      // Payload: decimal number padded with a length that varies with i.
      const std::string num = std::to_string(i);
      const std::size_t len = num.size() + (i % 40);
      std::memset(buf, '.', len);
      std::memcpy(buf, num.data(), num.size());
      if (ring.try_push("dev/" + std::to_string(i % 7), std::string_view(buf, len),
                        static_cast<std::int64_t>(i), 0, false, false) == sg::PushResult::Ok) {
        ++i;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::uint64_t expected = 0;
  std::uint64_t bad = 0;
  while (expected < kItems) {
    const bool got = ring.try_pop_with([&](const sg::MessageSlot& s) {
      const std::string num = std::to_string(expected);
      const std::string_view p = s.payload_view();
      if (p.size() != num.size() + expected % 40 || p.substr(0, num.size()) != num ||
          s.received_ns != static_cast<std::int64_t>(expected) ||
          s.topic_view() != "dev/" + std::to_string(expected % 7)) {
        ++bad;
      }
    });
    if (got) ++expected;
    else std::this_thread::yield();
  }
  producer.join();
  EXPECT_EQ(bad, 0u);
}
