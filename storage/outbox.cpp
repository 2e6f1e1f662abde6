// Outbox: the outbox and published_ids tables behind store-and-forward and exactly-once results.
#include "storage/outbox.h"

#include <algorithm>
#include <utility>

namespace streamgate::storage {
namespace {

constexpr std::string_view kDroppedCounter = "outbox_dropped";

std::int64_t to_i64(std::uint64_t v) {
  return static_cast<std::int64_t>(v);
}

}  // namespace

OutboxMessage OutboxMessage::from_emission(rules::Emission&& emission) {
  return OutboxMessage{std::move(emission.result_id), std::move(emission.topic), emission.qos,
                       emission.retain, std::move(emission.payload), true};
}

Outbox::Outbox(Database& db, OutboxLimits limits) : db_(db), limits_(limits) {
  auto stats = db_.cached("SELECT count(*), coalesce(sum(bytes), 0) FROM outbox");
  if (stats->step()) {
    depth_ = static_cast<std::size_t>(stats->column_int64(0));
    bytes_ = static_cast<std::uint64_t>(stats->column_int64(1));
  }
  auto counter = db_.cached("SELECT value FROM counters WHERE name = ?1");
  counter->bind(1, kDroppedCounter);
  if (counter->step()) dropped_total_ = static_cast<std::uint64_t>(counter->column_int64(0));
}

EnqueueResult Outbox::enqueue(std::span<const OutboxMessage> batch, std::int64_t now_ns) {
  EnqueueResult result;
  if (batch.empty()) return result;
  std::size_t depth = depth_;
  std::uint64_t bytes = bytes_;

  Transaction tx(db_);
  {
    // The NOT EXISTS makes an id published before a crash stay suppressed when the restored
    // engine emits it again; OR IGNORE covers an id that is still queued. A NULL result_id
    // matches neither, so results without an id (or not deduplicated: their id goes to
    // carried_id) are always queued.
    auto insert = db_.cached(
        "INSERT OR IGNORE INTO outbox(result_id, topic, qos, retain, payload, bytes, "
        "enqueued_at, carried_id) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 "
        "WHERE NOT EXISTS (SELECT 1 FROM published_ids WHERE result_id = ?1)");
    for (const OutboxMessage& m : batch) {
      const std::uint64_t size = m.topic.size() + m.payload.size();
      const std::string_view id = m.result_id;
      insert->bind_text_or_null(1, m.dedup ? id : std::string_view())
          .bind_text_or_null(8, m.dedup ? std::string_view() : id)
          .bind(2, m.topic)
          .bind(3, m.qos)
          .bind(4, m.retain)
          .bind_blob(5, m.payload)
          .bind(6, to_i64(size))
          .bind(7, now_ns)
          .exec();
      if (db_.changes() > 0) {
        ++result.enqueued;
        ++depth;
        bytes += size;
      } else {
        ++result.duplicates;
      }
    }
  }
  auto [dropped_rows, dropped_bytes] = trim(depth, bytes);
  if (dropped_rows > 0) {
    auto counter = db_.cached(
        "INSERT INTO counters(name, value) VALUES (?1, ?2) "
        "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value");
    counter->bind(1, kDroppedCounter).bind(2, to_i64(dropped_rows)).exec();
  }
  tx.commit();

  // In-memory figures follow the file only once the transaction is durable.
  result.dropped = dropped_rows;
  depth_ = depth - dropped_rows;
  bytes_ = bytes - dropped_bytes;
  dropped_total_ += dropped_rows;
  return result;
}

std::pair<std::size_t, std::uint64_t> Outbox::trim(std::size_t depth, std::uint64_t bytes) {
  auto over = [&](std::size_t rows_left, std::uint64_t bytes_left) {
    return (limits_.max_rows != 0 && rows_left > limits_.max_rows) ||
           (limits_.max_bytes != 0 && bytes_left > limits_.max_bytes);
  };
  if (!over(depth, bytes)) return {0, 0};
  // Walk from the oldest row until what remains fits, then delete the prefix in one statement.
  std::size_t rows = 0;
  std::uint64_t freed = 0;
  std::int64_t last_id = 0;
  {
    auto oldest = db_.cached("SELECT id, bytes FROM outbox ORDER BY id");
    while (over(depth - rows, bytes - freed) && oldest->step()) {
      last_id = oldest->column_int64(0);
      freed += static_cast<std::uint64_t>(oldest->column_int64(1));
      ++rows;
    }
  }
  auto del = db_.cached("DELETE FROM outbox WHERE id <= ?1");
  del->bind(1, last_id).exec();
  return {rows, freed};
}

std::vector<OutboxEntry> Outbox::peek(std::size_t max, std::int64_t after_id) {
  std::vector<OutboxEntry> out;
  if (max == 0) return out;
  out.reserve(std::min<std::size_t>(max, depth_));
  auto select = db_.cached(
      "SELECT id, coalesce(result_id, carried_id), topic, qos, retain, payload, enqueued_at, "
      "result_id IS NOT NULL FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2");
  select->bind(1, after_id).bind(2, to_i64(max));
  while (select->step()) {
    OutboxEntry e;
    e.id = select->column_int64(0);
    e.message.result_id = std::string(select->column_text(1));
    e.message.topic = std::string(select->column_text(2));
    e.message.qos = static_cast<int>(select->column_int64(3));
    e.message.retain = select->column_int64(4) != 0;
    e.message.payload = std::string(select->column_blob(5));
    e.enqueued_at = select->column_int64(6);
    e.message.dedup = select->column_int64(7) != 0;
    out.push_back(std::move(e));
  }
  return out;
}

std::size_t Outbox::ack(std::int64_t up_to_id, std::int64_t now_ns) {
  Transaction tx(db_);
  std::size_t rows = 0;
  std::uint64_t freed = 0;
  {
    auto stats = db_.cached("SELECT count(*), coalesce(sum(bytes), 0) FROM outbox WHERE id <= ?1");
    stats->bind(1, up_to_id);
    if (stats->step()) {
      rows = static_cast<std::size_t>(stats->column_int64(0));
      freed = static_cast<std::uint64_t>(stats->column_int64(1));
    }
  }
  if (rows == 0) return 0;  // the destructor rolls back the empty transaction
  {
    auto remember = db_.cached(
        "INSERT OR IGNORE INTO published_ids(result_id, published_at) "
        "SELECT result_id, ?2 FROM outbox WHERE id <= ?1 AND result_id IS NOT NULL ORDER BY id");
    remember->bind(1, up_to_id).bind(2, now_ns).exec();
  }
  {
    auto del = db_.cached("DELETE FROM outbox WHERE id <= ?1");
    del->bind(1, up_to_id).exec();
  }
  tx.commit();
  depth_ -= rows;
  bytes_ -= freed;
  return rows;
}

bool Outbox::already_published(std::string_view result_id) {
  if (result_id.empty()) return false;
  auto select = db_.cached("SELECT 1 FROM published_ids WHERE result_id = ?1");
  select->bind(1, result_id);
  return select->step();
}

void Outbox::record_published(std::span<const std::string> result_ids, std::int64_t now_ns) {
  if (result_ids.empty()) return;
  Transaction tx(db_);
  {
    auto insert =
        db_.cached("INSERT OR IGNORE INTO published_ids(result_id, published_at) VALUES (?1, ?2)");
    for (const std::string& id : result_ids) {
      if (id.empty()) continue;
      insert->bind(1, id).bind(2, now_ns).exec();
    }
  }
  tx.commit();
}

std::size_t Outbox::prune_published(std::int64_t older_than_ns, std::size_t keep_at_most) {
  Transaction tx(db_);
  std::size_t deleted = 0;
  {
    auto by_age = db_.cached("DELETE FROM published_ids WHERE published_at < ?1");
    by_age->bind(1, older_than_ns).exec();
    deleted += static_cast<std::size_t>(db_.changes());
  }
  if (keep_at_most != std::numeric_limits<std::size_t>::max()) {
    // seq grows with publication order, so the rows past the newest `keep_at_most` are a
    // prefix of seq: find its end with one index walk and delete it by range.
    auto by_count = db_.cached(
        "DELETE FROM published_ids WHERE seq <= "
        "(SELECT seq FROM published_ids ORDER BY seq DESC LIMIT 1 OFFSET ?1)");
    by_count->bind(1, to_i64(keep_at_most)).exec();
    deleted += static_cast<std::size_t>(db_.changes());
  }
  tx.commit();
  return deleted;
}

std::size_t Outbox::published_count() {
  return static_cast<std::size_t>(db_.query_int64("SELECT count(*) FROM published_ids"));
}

}  // namespace streamgate::storage
