// Outbox: ordering across restarts, result_id dedup, size bound, acks, published-id horizon,
// and the enqueue rate of the real thing.
#include "storage/outbox.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "storage/migrations.h"
#include "temp_dir.h"

namespace streamgate::storage {
namespace {

using testing::cpu_seconds;
using testing::TempDir;

OutboxMessage msg(const std::string& id, const std::string& payload = "{}",
                  const std::string& topic = "out/t") {
  return OutboxMessage{id, topic, 1, false, payload};
}

std::vector<std::string> ids_of(const std::vector<OutboxEntry>& entries) {
  std::vector<std::string> out;
  for (const OutboxEntry& e : entries) out.push_back(e.message.result_id);
  return out;
}

TEST(Outbox, PeekReturnsInsertionOrderWithAllFields) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  Outbox outbox(db);
  const std::vector<OutboxMessage> batch = {
      OutboxMessage{"r1", "alerts/door", 2, true, R"({"open":true})"},
      OutboxMessage{"r0", "out/x", 0, false, std::string("\0bin", 4)},
  };
  const EnqueueResult r = outbox.enqueue(batch, 77);
  EXPECT_EQ(r.enqueued, 2u);
  EXPECT_EQ(outbox.depth(), 2u);
  EXPECT_EQ(outbox.bytes(), batch[0].topic.size() + batch[0].payload.size() +
                                batch[1].topic.size() + batch[1].payload.size());
  const auto entries = outbox.peek(10);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_LT(entries[0].id, entries[1].id);
  EXPECT_EQ(entries[0].message.result_id, "r1");  // insertion order, not id order
  EXPECT_EQ(entries[0].message.topic, "alerts/door");
  EXPECT_EQ(entries[0].message.qos, 2);
  EXPECT_TRUE(entries[0].message.retain);
  EXPECT_EQ(entries[0].message.payload, R"({"open":true})");
  EXPECT_EQ(entries[0].enqueued_at, 77);
  EXPECT_EQ(entries[1].message.payload, std::string("\0bin", 4));
  EXPECT_EQ(outbox.depth(), 2u);  // peek does not consume
}

TEST(Outbox, OrderSurvivesReopenAndIdsAreNeverReused) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  std::int64_t last_id = 0;
  {
    Database db = open_database(path);
    Outbox outbox(db);
    for (int b = 0; b < 5; ++b) {
      std::vector<OutboxMessage> batch;
      for (int i = 0; i < 10; ++i) batch.push_back(msg("id-" + std::to_string(b * 10 + i)));
      outbox.enqueue(batch);
    }
    const auto first = outbox.peek(20);
    last_id = first.back().id;
    EXPECT_EQ(outbox.ack(last_id), 20u);
  }  // "crash": nothing else is flushed or closed specially
  Database db = open_database(path);
  Outbox outbox(db);
  EXPECT_EQ(outbox.depth(), 30u);  // figures come back from the file
  auto rest = outbox.peek(100);
  ASSERT_EQ(rest.size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(rest[i].message.result_id, "id-" + std::to_string(20 + i));
  EXPECT_EQ(outbox.ack(rest.back().id), 30u);
  EXPECT_EQ(outbox.depth(), 0u);
  EXPECT_EQ(outbox.bytes(), 0u);
  // Drained to empty: a new row still gets a larger id (AUTOINCREMENT), so stale acks are safe.
  outbox.enqueue(std::vector<OutboxMessage>{msg("new")});
  EXPECT_GT(outbox.peek(1).at(0).id, rest.back().id);
}

TEST(Outbox, PeekAfterIdPagesThroughInFlightMessages) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  Outbox outbox(db);
  std::vector<OutboxMessage> batch;
  for (int i = 0; i < 7; ++i) batch.push_back(msg("m" + std::to_string(i)));
  outbox.enqueue(batch);
  const auto a = outbox.peek(3);
  const auto b = outbox.peek(3, a.back().id);
  const auto c = outbox.peek(3, b.back().id);
  EXPECT_EQ(ids_of(a), (std::vector<std::string>{"m0", "m1", "m2"}));
  EXPECT_EQ(ids_of(b), (std::vector<std::string>{"m3", "m4", "m5"}));
  EXPECT_EQ(ids_of(c), (std::vector<std::string>{"m6"}));
  EXPECT_TRUE(outbox.peek(0).empty());
  EXPECT_EQ(outbox.ack(a.back().id), 3u);  // partial ack
  EXPECT_EQ(ids_of(outbox.peek(10)).front(), "m3");
  EXPECT_EQ(outbox.ack(a.back().id), 0u);  // acking again is harmless
}

TEST(Outbox, DuplicateResultIdsAreIgnored) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  Outbox outbox(db);
  const std::vector<OutboxMessage> first = {msg("a", "1"), msg("b", "1"), msg("a", "again")};
  const EnqueueResult r1 = outbox.enqueue(first);
  EXPECT_EQ(r1.enqueued, 2u);
  EXPECT_EQ(r1.duplicates, 1u);
  const EnqueueResult r2 = outbox.enqueue(std::vector<OutboxMessage>{msg("b", "2"), msg("c")});
  EXPECT_EQ(r2.enqueued, 1u);
  EXPECT_EQ(r2.duplicates, 1u);
  const auto entries = outbox.peek(10);
  EXPECT_EQ(ids_of(entries), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(entries[0].message.payload, "1");  // the first copy wins
  EXPECT_EQ(outbox.depth(), 3u);
}

TEST(Outbox, MessagesWithoutResultIdAreNeverDeduplicated) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  Outbox outbox(db);
  const EnqueueResult r = outbox.enqueue(std::vector<OutboxMessage>{msg(""), msg(""), msg("")});
  EXPECT_EQ(r.enqueued, 3u);
  outbox.ack(outbox.peek(10).back().id);
  EXPECT_EQ(outbox.published_count(), 0u);  // nothing to remember
  EXPECT_FALSE(outbox.already_published(""));
}

TEST(Outbox, AckedIdsArePublishedAndSuppressedAfterRestart) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  {
    Database db = open_database(path);
    Outbox outbox(db);
    outbox.enqueue(std::vector<OutboxMessage>{msg("w1"), msg("w2"), msg("w3")});
    const auto entries = outbox.peek(2);
    outbox.ack(entries.back().id, 500);
    EXPECT_TRUE(outbox.already_published("w1"));
    EXPECT_TRUE(outbox.already_published("w2"));
    EXPECT_FALSE(outbox.already_published("w3"));  // queued, not delivered
  }
  // After a restart the restored engine re-emits the same windows with the same ids.
  Database db = open_database(path);
  Outbox outbox(db);
  const EnqueueResult r =
      outbox.enqueue(std::vector<OutboxMessage>{msg("w1"), msg("w2"), msg("w3"), msg("w4")});
  EXPECT_EQ(r.enqueued, 1u);
  EXPECT_EQ(r.duplicates, 3u);
  EXPECT_EQ(ids_of(outbox.peek(10)), (std::vector<std::string>{"w3", "w4"}));
  EXPECT_EQ(db.query_int64("SELECT published_at FROM published_ids WHERE result_id = 'w1'"), 500);
}

TEST(Outbox, RowBoundDropsOldestAndCounts) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  {
    Database db = open_database(path);
    Outbox outbox(db, OutboxLimits{5, 0});
    std::vector<OutboxMessage> batch;
    for (int i = 0; i < 4; ++i) batch.push_back(msg("a" + std::to_string(i)));
    EXPECT_EQ(outbox.enqueue(batch).dropped, 0u);
    batch.clear();
    for (int i = 0; i < 3; ++i) batch.push_back(msg("b" + std::to_string(i)));
    const EnqueueResult r = outbox.enqueue(batch);
    EXPECT_EQ(r.enqueued, 3u);
    EXPECT_EQ(r.dropped, 2u);
    EXPECT_EQ(outbox.depth(), 5u);
    EXPECT_EQ(ids_of(outbox.peek(10)), (std::vector<std::string>{"a2", "a3", "b0", "b1", "b2"}));
    EXPECT_EQ(outbox.dropped_total(), 2u);
  }
  Database db = open_database(path);
  Outbox outbox(db, OutboxLimits{5, 0});
  EXPECT_EQ(outbox.dropped_total(), 2u);  // persisted for metrics across restarts
  // A dropped result was never published: if it is emitted again it may be queued again.
  EXPECT_FALSE(outbox.already_published("a0"));
}

TEST(Outbox, ByteBoundDropsOldestUntilItFits) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  // Each message: topic "t" (1) + 9 payload bytes = 10 bytes; bound 35 bytes keeps 3.
  Outbox outbox(db, OutboxLimits{0, 35});
  std::vector<OutboxMessage> batch;
  for (int i = 0; i < 6; ++i) batch.push_back(msg("m" + std::to_string(i), "123456789", "t"));
  const EnqueueResult r = outbox.enqueue(batch);
  EXPECT_EQ(r.enqueued, 6u);
  EXPECT_EQ(r.dropped, 3u);
  EXPECT_EQ(outbox.bytes(), 30u);
  EXPECT_EQ(ids_of(outbox.peek(10)), (std::vector<std::string>{"m3", "m4", "m5"}));

  outbox.set_limits(OutboxLimits{2, 0});  // config reload: applied at the next enqueue
  EXPECT_EQ(outbox.enqueue(std::vector<OutboxMessage>{msg("m6", "123456789", "t")}).dropped, 2u);
  EXPECT_EQ(ids_of(outbox.peek(10)), (std::vector<std::string>{"m5", "m6"}));
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM outbox"), 2);
  EXPECT_EQ(db.query_int64("SELECT sum(bytes) FROM outbox"), 20);
  EXPECT_EQ(outbox.bytes(), 20u);
}

TEST(Outbox, PublishedIdsHorizonByAgeAndCount) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  Outbox outbox(db);
  for (int t = 0; t < 10; ++t) {
    outbox.enqueue(std::vector<OutboxMessage>{msg("p" + std::to_string(t))}, t);
    outbox.ack(outbox.peek(1).back().id, /*now_ns=*/t * 100);
  }
  EXPECT_EQ(outbox.published_count(), 10u);
  EXPECT_EQ(outbox.prune_published(/*older_than_ns=*/300), 3u);  // p0..p2 (0, 100, 200)
  EXPECT_FALSE(outbox.already_published("p2"));
  EXPECT_TRUE(outbox.already_published("p3"));
  EXPECT_EQ(outbox.prune_published(0, /*keep_at_most=*/4), 3u);  // p3..p5 go
  EXPECT_EQ(outbox.published_count(), 4u);
  EXPECT_FALSE(outbox.already_published("p5"));
  for (int t = 6; t < 10; ++t) EXPECT_TRUE(outbox.already_published("p" + std::to_string(t)));
  EXPECT_EQ(outbox.prune_published(0, 4), 0u);
  // Past the horizon an id is forgotten: that is the horizon's documented cost.
  EXPECT_EQ(outbox.enqueue(std::vector<OutboxMessage>{msg("p0")}).enqueued, 1u);
}

TEST(Outbox, CarriedIdsOfAtLeastOnceResultsAreKeptButNeverDeduplicated) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  {
    Database db = open_database(path);
    Outbox outbox(db);
    OutboxMessage carried = msg("alo/1");
    carried.dedup = false;
    // The same at-least-once result twice (a replay re-emits it): both go out, with the id.
    EXPECT_EQ(outbox.enqueue(std::vector<OutboxMessage>{carried, carried}).enqueued, 2u);
    const auto entries = outbox.peek(10);
    ASSERT_EQ(entries.size(), 2u);
    for (const auto& e : entries) {
      EXPECT_EQ(e.message.result_id, "alo/1");
      EXPECT_FALSE(e.message.dedup);
    }
    outbox.ack(entries.back().id);
    EXPECT_FALSE(outbox.already_published("alo/1"));  // nothing remembered for them
    EXPECT_EQ(outbox.published_count(), 0u);
  }
  // After a restart: still not suppressed, and an exactly-once id equal to it is independent.
  Database db = open_database(path);
  Outbox outbox(db);
  OutboxMessage carried = msg("alo/1");
  carried.dedup = false;
  EXPECT_EQ(outbox.enqueue(std::vector<OutboxMessage>{carried, msg("alo/1"), msg("alo/1")}).enqueued, 2u);
  const auto entries = outbox.peek(10);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_FALSE(entries[0].message.dedup);
  EXPECT_TRUE(entries[1].message.dedup);
  EXPECT_EQ(entries[1].message.result_id, "alo/1");
}

TEST(Outbox, RecordPublishedSuppressesLaterEnqueues) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  Outbox outbox(db);
  const std::vector<std::string> ids = {"direct-1", "direct-2", ""};
  outbox.record_published(ids, 10);
  EXPECT_TRUE(outbox.already_published("direct-1"));
  EXPECT_EQ(outbox.published_count(), 2u);
  EXPECT_EQ(outbox.enqueue(std::vector<OutboxMessage>{msg("direct-2")}).duplicates, 1u);
}

TEST(Outbox, FromEmissionMovesThePublishableParts) {
  rules::Emission e;
  e.rule = "avg";
  e.topic = "out/avg";
  e.qos = 1;
  e.retain = true;
  e.payload = R"({"avg":1})";
  e.result_id = "avg:abc:0:k";
  const OutboxMessage m = OutboxMessage::from_emission(std::move(e));
  EXPECT_EQ(m.result_id, "avg:abc:0:k");
  EXPECT_EQ(m.topic, "out/avg");
  EXPECT_EQ(m.qos, 1);
  EXPECT_TRUE(m.retain);
  EXPECT_EQ(m.payload, R"({"avg":1})");
}

TEST(Outbox, FailedEnqueueWritesNothingAndKeepsFigures) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  Outbox outbox(db);
  outbox.enqueue(std::vector<OutboxMessage>{msg("keep")});
  db.exec("PRAGMA max_page_count = " + std::to_string(db.query_int64("PRAGMA page_count") + 2));
  std::vector<OutboxMessage> big;
  for (int i = 0; i < 50; ++i)
    big.push_back(msg("big" + std::to_string(i), std::string(8192, 'x')));
  try {
    outbox.enqueue(big);
    FAIL() << "enqueue past max_page_count succeeded";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::Full) << e.what();
    EXPECT_TRUE(e.disk_trouble());
  }
  EXPECT_EQ(outbox.depth(), 1u);
  EXPECT_EQ(ids_of(outbox.peek(100)), (std::vector<std::string>{"keep"}));
}

TEST(Outbox, EnqueueRate100kInBatchesOf500) {
  TempDir dir;
  Database db = open_database(dir.file("rate.db"));
  Outbox outbox(db);
  constexpr int kTotal = 100'000;
  constexpr int kBatch = 500;
  std::vector<OutboxMessage> batch(kBatch);
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (int start = 0; start < kTotal; start += kBatch) {
    for (int i = 0; i < kBatch; ++i) {
      const int n = start + i;
      batch[i] = OutboxMessage{
          "avg_temp:9f2c:" + std::to_string(n / 10) + ":dev-" + std::to_string(n % 10),
          "site/results/avg_temp", 1, false,
          R"({"device":"dev-)" + std::to_string(n % 10) + R"(","avg":21.5,"n":)" +
              std::to_string(n) + "}"};
    }
    outbox.enqueue(batch);
  }
  const auto t1 = std::chrono::steady_clock::now();
  const double c1 = cpu_seconds();
  EXPECT_EQ(outbox.depth(), static_cast<std::size_t>(kTotal));

  // Drain like the publisher: peek 500, ack 500.
  std::size_t drained = 0;
  while (true) {
    const auto page = outbox.peek(kBatch);
    if (page.empty()) break;
    drained += outbox.ack(page.back().id);
  }
  const auto t2 = std::chrono::steady_clock::now();
  const double c2 = cpu_seconds();
  EXPECT_EQ(drained, static_cast<std::size_t>(kTotal));
  EXPECT_EQ(outbox.published_count(), static_cast<std::size_t>(kTotal));

  const double enqueue_s = std::chrono::duration<double>(t1 - t0).count();
  const double drain_s = std::chrono::duration<double>(t2 - t1).count();
  // Wall time includes waiting for a busy machine and the WAL's fsyncs; CPU time is the cost.
  std::printf(
      "[ measure  ] outbox enqueue: %d results in batches of %d: %.3f s wall = %.0f/s, "
      "%.3f s CPU = %.0f/s per core\n",
      kTotal, kBatch, enqueue_s, kTotal / enqueue_s, c1 - c0, kTotal / (c1 - c0));
  std::printf(
      "[ measure  ] outbox drain (peek %d + ack): %.3f s wall = %.0f/s, %.3f s CPU = "
      "%.0f/s per core\n",
      kBatch, drain_s, kTotal / drain_s, c2 - c1, kTotal / (c2 - c1));
}

}  // namespace
}  // namespace streamgate::storage
