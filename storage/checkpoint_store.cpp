// CheckpointStore: splits the engine's state document into per-rule rows and merges it back.
#include "storage/checkpoint_store.h"

#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace streamgate::storage {
namespace {

constexpr std::string_view kEncodingCbor = "cbor";
// Key of the single row holding a snapshot that is not an object keyed by rule.
constexpr std::string_view kWholeKey = "";

// CBOR rather than JSON text: it keeps NaN/Inf and strings that are not valid UTF-8 (JSON dump
// would turn the first into null and throw on the second), and decodes faster.
std::string encode(const nlohmann::json& value) {
  std::string out;
  nlohmann::json::to_cbor(value, out);
  return out;
}

constexpr const char* kStartAfresh =
    "restore the file from a backup, or move it away to start with empty state";

// What is wrong with a stored value, in words, without the JSON library's exception text
// ("[json.exception.parse_error.110] parse error at byte 2: ..."), which names neither the file
// nor the row and reads like a bug.
std::string damage(const nlohmann::json::exception& e, std::size_t size, const char* what) {
  const std::string bytes = std::to_string(size) + (size == 1 ? " byte" : " bytes");
  if (const auto* p = dynamic_cast<const nlohmann::json::parse_error*>(&e)) {
    // 110: the input ended inside a value; the rest: a byte that cannot start or continue one.
    if (p->id == 110) return "its " + std::string(what) + " (" + bytes + ") ends early: it was truncated";
    return "its " + std::string(what) + " (" + bytes + ") holds an invalid byte at offset " +
           std::to_string(p->byte == 0 ? 0 : p->byte - 1);
  }
  return "its " + std::string(what) + " (" + bytes + ") cannot be decoded";
}

nlohmann::json decode(Database& db, std::string_view key, std::string_view encoding,
                      std::string_view blob) {
  if (encoding != kEncodingCbor) {
    throw StorageError(StorageErrorKind::Corrupt, db.path(),
                       "checkpoint row '" + std::string(key) + "' has unknown encoding '" +
                           std::string(encoding) + "'");
  }
  try {
    return nlohmann::json::from_cbor(blob.begin(), blob.end());
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(StorageErrorKind::Corrupt, db.path(),
                       "the checkpoint of '" + std::string(key) + "' (table rule_state) is damaged: " +
                           damage(e, blob.size(), "CBOR state") + "; " + kStartAfresh);
  }
}

std::string string_field(const nlohmann::json& value, const char* a, const char* b) {
  if (!value.is_object()) return {};
  for (const char* name : {a, b}) {
    auto it = value.find(name);
    if (it != value.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

std::optional<std::int64_t> watermark_field(const nlohmann::json& value) {
  if (!value.is_object()) return std::nullopt;
  auto it = value.find("watermark");
  if (it == value.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<std::int64_t>();
}

}  // namespace

CheckpointStore::CheckpointStore(Database& db) : db_(db) {}

CheckpointSaveStats CheckpointStore::save(const nlohmann::json& state,
                                          const nlohmann::json& progress, std::int64_t now_ns) {
  struct Row {
    std::string key;
    const nlohmann::json* value;
    std::string blob;
    Fingerprint fingerprint;
  };
  // Encode before taking the write lock: the transaction then only holds it for the writes.
  std::vector<Row> rows;
  const bool whole = !state.is_object();
  if (whole) {
    rows.push_back({std::string(kWholeKey), &state, encode(state), {}});
  } else {
    rows.reserve(state.size());
    for (auto it = state.begin(); it != state.end(); ++it) {
      rows.push_back({it.key(), &it.value(), encode(it.value()), {}});
    }
  }
  CheckpointSaveStats stats;
  stats.entries = rows.size();
  for (Row& row : rows) {
    row.fingerprint = {std::hash<std::string_view>{}(row.blob), row.blob.size()};
    stats.bytes += row.blob.size();
  }

  Transaction tx(db_);
  // Rows of rules that are gone (or the other layout) go, so load() returns exactly `state`.
  std::unordered_set<std::string_view> keep;
  for (const Row& row : rows) keep.insert(row.key);
  std::vector<std::string> stale;
  // Keys present in the file: a row is only skipped as unchanged if it is really there (another
  // store on the same file may have cleared it).
  std::unordered_set<std::string> present;
  {
    auto select = db_.cached("SELECT state_key, whole FROM rule_state");
    while (select->step()) {
      std::string key(select->column_text(0));
      const bool row_whole = select->column_int64(1) != 0;
      if (row_whole != whole || !keep.contains(key)) {
        stale.push_back(std::move(key));
      } else {
        present.insert(std::move(key));
      }
    }
  }
  for (const std::string& key : stale) {
    auto del = db_.cached("DELETE FROM rule_state WHERE state_key = ?1");
    del->bind(1, key).exec();
  }
  stats.removed = stale.size();

  for (const Row& row : rows) {
    auto known = known_.find(row.key);
    if (known != known_.end() && known->second == row.fingerprint && present.contains(row.key)) {
      ++stats.unchanged;
      continue;
    }
    auto upsert = db_.cached(
        "INSERT INTO rule_state(state_key, rule, text_hash, encoding, state, watermark, "
        "updated_at, whole) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(state_key) DO UPDATE SET rule = excluded.rule, text_hash = "
        "excluded.text_hash, encoding = excluded.encoding, state = excluded.state, watermark = "
        "excluded.watermark, updated_at = excluded.updated_at, whole = excluded.whole");
    std::string rule = whole ? std::string() : string_field(*row.value, "rule", "name");
    if (rule.empty()) rule = row.key;
    upsert->bind(1, row.key)
        .bind(2, rule)
        .bind(3, whole ? std::string() : string_field(*row.value, "text_hash", "hash"))
        .bind(4, kEncodingCbor)
        .bind_blob(5, row.blob);
    if (auto wm = whole ? std::nullopt : watermark_field(*row.value)) {
      upsert->bind(6, *wm);
    } else {
      upsert->bind(6, nullptr);
    }
    upsert->bind(7, now_ns).bind(8, whole).exec();
    ++stats.written;
  }

  if (progress.is_object()) {
    for (auto it = progress.begin(); it != progress.end(); ++it) {
      auto upsert = db_.cached(
          "INSERT INTO progress(key, value, updated_at) VALUES (?1, ?2, ?3) "
          "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = "
          "excluded.updated_at");
      // replace: a progress value is gateway bookkeeping; a stray invalid byte must not cost
      // the checkpoint.
      upsert->bind(1, it.key())
          .bind(2, it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
          .bind(3, now_ns)
          .exec();
    }
  }

  {
    auto meta = db_.cached(
        "INSERT INTO checkpoint_info(id, saved_at, sequence, entries, bytes) "
        "VALUES (1, ?1, 1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET saved_at = excluded.saved_at, "
        "sequence = sequence + 1, entries = excluded.entries, bytes = excluded.bytes");
    meta->bind(1, now_ns)
        .bind(2, static_cast<std::int64_t>(stats.entries))
        .bind(3, static_cast<std::int64_t>(stats.bytes))
        .exec();
  }
  tx.commit();

  // Only after the commit: a failed transaction must not make the next save skip rows.
  known_.clear();
  for (Row& row : rows) known_[std::move(row.key)] = row.fingerprint;
  return stats;
}

std::optional<nlohmann::json> CheckpointStore::load() {
  // One read transaction, so the info row and the state rows come from the same snapshot even
  // if another connection checkpoints meanwhile.
  const bool own_transaction = !db_.in_transaction();
  if (own_transaction) db_.exec("BEGIN");
  struct EndRead {
    Database& db;
    bool active;
    ~EndRead() {
      if (!active) return;
      try {
        db.exec("COMMIT");
      } catch (const StorageError&) {
        // A read transaction has nothing to lose; the connection stays usable.
      }
    }
  } end_read{db_, own_transaction};

  if (!info()) return std::nullopt;
  std::unordered_map<std::string, Fingerprint> seen;
  nlohmann::json merged = nlohmann::json::object();
  std::optional<nlohmann::json> whole_value;
  auto select =
      db_.cached("SELECT state_key, encoding, state, whole FROM rule_state ORDER BY rowid");
  while (select->step()) {
    const std::string key(select->column_text(0));
    const std::string_view blob = select->column_blob(2);
    nlohmann::json value = decode(db_, key, select->column_text(1), blob);
    seen[key] = {std::hash<std::string_view>{}(blob), blob.size()};
    if (select->column_int64(3) != 0) {
      whole_value = std::move(value);
    } else {
      merged[key] = std::move(value);
    }
  }
  known_ = std::move(seen);
  if (whole_value) return whole_value;
  return merged;
}

nlohmann::json CheckpointStore::load_progress() {
  nlohmann::json out = nlohmann::json::object();
  auto select = db_.cached("SELECT key, value FROM progress ORDER BY key");
  while (select->step()) {
    const std::string key(select->column_text(0));
    const std::string_view text = select->column_text(1);
    try {
      out[key] = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
      throw StorageError(StorageErrorKind::Corrupt, db_.path(),
                         "the input position '" + key + "' (table progress) is damaged: " +
                             damage(e, text.size(), "JSON text") + "; " + kStartAfresh);
    }
  }
  return out;
}

std::optional<CheckpointInfo> CheckpointStore::info() {
  auto select =
      db_.cached("SELECT saved_at, sequence, entries, bytes FROM checkpoint_info WHERE id = 1");
  if (!select->step()) return std::nullopt;
  return CheckpointInfo{select->column_int64(0), select->column_int64(1), select->column_int64(2),
                        select->column_int64(3)};
}

void CheckpointStore::clear() {
  Transaction tx(db_);
  db_.exec("DELETE FROM rule_state; DELETE FROM progress; DELETE FROM checkpoint_info;");
  tx.commit();
  known_.clear();
}

}  // namespace streamgate::storage
