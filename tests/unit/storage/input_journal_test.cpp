// InputJournal: durable arrival order, truncation behind checkpoints, and the restart protocol.
#include "storage/input_journal.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "storage/checkpoint_store.h"
#include "storage/migrations.h"
#include "temp_dir.h"

namespace streamgate::storage {
namespace {

using nlohmann::json;
using testing::cpu_seconds;
using testing::TempDir;

TEST(InputJournal, AppendsInArrivalOrderAndReadsInPages) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  InputJournal journal(db);
  EXPECT_EQ(journal.last_seq(), 0);
  const std::int64_t s1 = journal.append("sensors/a", R"({"v":1})", 10);
  const std::vector<InputMessage> batch = {{"sensors/b", R"({"v":2})", 11},
                                           {"sensors/c", std::string("\0\xff", 2), 12}};
  const std::int64_t s3 = journal.append(batch);
  EXPECT_EQ(s3, s1 + 2);
  EXPECT_EQ(journal.last_seq(), s3);
  EXPECT_EQ(journal.size(), 3u);

  const auto first = journal.read_after(0, 2);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].seq, s1);
  EXPECT_EQ(first[0].message.topic, "sensors/a");
  EXPECT_EQ(first[0].message.payload, R"({"v":1})");
  EXPECT_EQ(first[0].message.received_at, 10);
  const auto rest = journal.read_after(first.back().seq, 10);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].message.payload, std::string("\0\xff", 2));
  EXPECT_TRUE(journal.read_after(s3, 10).empty());
  EXPECT_EQ(journal.append(std::span<const InputMessage>()), s3);
}

TEST(InputJournal, TruncationKeepsSeqsIncreasingAcrossReopen) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  std::int64_t last = 0;
  {
    Database db = open_database(path);
    InputJournal journal(db);
    for (int i = 0; i < 5; ++i) last = journal.append("t", std::to_string(i), i);
    EXPECT_EQ(journal.truncate_through(last), 5u);
    EXPECT_EQ(journal.size(), 0u);
  }
  Database db = open_database(path);
  InputJournal journal(db);
  EXPECT_EQ(journal.last_seq(), last);  // remembered although the table is empty
  EXPECT_GT(journal.append("t", "next", 6), last);
}

// The whole restart protocol: what a kill -9 between two checkpoints must not lose.
TEST(InputJournal, CheckpointPlusJournalReplayLosesNothing) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  {
    Database db = open_database(path);
    InputJournal journal(db);
    CheckpointStore checkpoints(db);
    std::int64_t seq = 0;
    for (int i = 1; i <= 10; ++i) seq = journal.append("in", std::to_string(i), i);
    // State covers messages 1..10 (their sum); then 11..13 arrive and the process dies.
    checkpoints.save(json{{"sum_rule", {{"text_hash", "h"}, {"sum", 55}}}},
                     json{{"journal_seq", seq}});
    journal.truncate_through(seq);
    for (int i = 11; i <= 13; ++i) journal.append("in", std::to_string(i), i);
  }
  Database db = open_database(path);
  InputJournal journal(db);
  CheckpointStore checkpoints(db);
  json state = *checkpoints.load();
  const std::int64_t from = checkpoints.load_progress().value("journal_seq", std::int64_t{0});
  std::int64_t sum = state["sum_rule"]["sum"].get<std::int64_t>();
  for (const JournalEntry& e : journal.read_after(from, 100)) sum += std::stoll(e.message.payload);
  EXPECT_EQ(sum, 91);  // 1 + ... + 13, each counted once
}

TEST(InputJournal, PerMessageAppendRate) {
  TempDir dir;
  Database db = open_database(dir.file("a.db"));
  InputJournal journal(db);
  constexpr int kTotal = 10'000;
  const std::string payload = R"({"device":"dev-1","temp":21.5,"ts":1700000000123})";
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kTotal; ++i) journal.append("sensors/dev-1/temp", payload, i);
  const auto t1 = std::chrono::steady_clock::now();
  const double c1 = cpu_seconds();
  EXPECT_EQ(journal.size(), static_cast<std::size_t>(kTotal));
  const double s = std::chrono::duration<double>(t1 - t0).count();
  std::printf(
      "[ measure  ] journal append, one transaction per message: %d in %.3f s wall = "
      "%.0f/s, %.3f s CPU = %.0f/s per core\n",
      kTotal, s, kTotal / s, c1 - c0, kTotal / (c1 - c0));
}

TEST(Database, WalCheckpointTruncatesTheWal) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  Database db = open_database(path);
  InputJournal journal(db);
  for (int i = 0; i < 100; ++i) journal.append("t", std::string(1000, 'x'), i);
  ASSERT_GT(std::filesystem::file_size(path + "-wal"), 0u);
  db.checkpoint_wal();
  EXPECT_EQ(std::filesystem::file_size(path + "-wal"), 0u);
  EXPECT_EQ(journal.size(), 100u);
}

}  // namespace
}  // namespace streamgate::storage
