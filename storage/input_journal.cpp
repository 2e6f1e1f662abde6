// InputJournal: the input_journal table.
#include "storage/input_journal.h"

#include <utility>

namespace streamgate::storage {
namespace {

constexpr std::string_view kInsert =
    "INSERT INTO input_journal(topic, payload, received_at) VALUES (?1, ?2, ?3)";

}  // namespace

InputJournal::InputJournal(Database& db) : db_(db) {}

std::int64_t InputJournal::append(std::string_view topic, std::string_view payload,
                                  std::int64_t received_at) {
  // A single INSERT outside a transaction is its own (autocommit) transaction: one commit, no
  // BEGIN/COMMIT round trips.
  auto insert = db_.cached(kInsert);
  insert->bind(1, topic).bind_blob(2, payload).bind(3, received_at).exec();
  return db_.last_insert_rowid();
}

std::int64_t InputJournal::append(std::span<const InputMessage> batch) {
  if (batch.empty()) return last_seq();
  Transaction tx(db_);
  std::int64_t seq = 0;
  {
    auto insert = db_.cached(kInsert);
    for (const InputMessage& m : batch) {
      insert->bind(1, m.topic).bind_blob(2, m.payload).bind(3, m.received_at).exec();
      seq = db_.last_insert_rowid();
    }
  }
  tx.commit();
  return seq;
}

void InputJournal::append_at(std::int64_t seq, std::string_view topic, std::string_view payload,
                             std::int64_t received_at) {
  // An explicit seq above the AUTOINCREMENT high-water mark moves sqlite_sequence with it.
  auto insert = db_.cached("INSERT INTO input_journal(seq, topic, payload, received_at) VALUES (?1, ?2, ?3, ?4)");
  insert->bind(1, seq).bind(2, topic).bind_blob(3, payload).bind(4, received_at).exec();
}

std::vector<JournalEntry> InputJournal::read_after(std::int64_t after_seq, std::size_t max) {
  std::vector<JournalEntry> out;
  if (max == 0) return out;
  auto select = db_.cached(
      "SELECT seq, topic, payload, received_at FROM input_journal WHERE seq > ?1 "
      "ORDER BY seq LIMIT ?2");
  select->bind(1, after_seq).bind(2, static_cast<std::int64_t>(max));
  while (select->step()) {
    JournalEntry e;
    e.seq = select->column_int64(0);
    e.message.topic = std::string(select->column_text(1));
    e.message.payload = std::string(select->column_blob(2));
    e.message.received_at = select->column_int64(3);
    out.push_back(std::move(e));
  }
  return out;
}

std::size_t InputJournal::truncate_through(std::int64_t seq) {
  auto del = db_.cached("DELETE FROM input_journal WHERE seq <= ?1");
  del->bind(1, seq).exec();
  return static_cast<std::size_t>(db_.changes());
}

std::int64_t InputJournal::last_seq() {
  // sqlite_sequence remembers the high-water mark even when the table is empty.
  auto select = db_.cached("SELECT seq FROM sqlite_sequence WHERE name = 'input_journal'");
  return select->step() ? select->column_int64(0) : 0;
}

std::size_t InputJournal::size() {
  return static_cast<std::size_t>(db_.query_int64("SELECT count(*) FROM input_journal"));
}

}  // namespace streamgate::storage
