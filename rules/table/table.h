// Tables (CREATE TABLE): keyed rows that rules JOIN against, with one hash index per column set
// the rules look rows up by. Owned by the Engine, read and written on the worker thread only.
// Loading rows from files lives in file_table_loader.cpp; sources the engine room must not
// depend on (SQLite) come in through a LoadFn the gateway registers.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <simdjson.h>

#include "rules/vocabulary.h"
#include "rules/planner/plan.h"
#include "rules/table/table_source.h"
#include "rules/value.h"

namespace streamgate::rules::table {

using Rows = std::vector<std::vector<Value>>;

//! Converts a value read from a source to the column's declared type; false when it cannot.
bool convert(plan::ColumnType type, Value& v);

class Table {
 public:
  Table(const plan::TableDef* def, std::size_t max_rows);
  //! Re-points at an identical definition of a new plan (same text: contents stay).
  void rebind(const plan::TableDef* def);
  const plan::TableDef& def() const { return *def_; }

  //! Replaces every row (a file or SQLite load). Of rows with the same key the last wins; rows
  //! beyond the bound are refused (returned, and counted).
  std::size_t replace(Rows rows);
  //! MQTT table: the row of its key is inserted or replaced; false when a new key is refused at
  //! the bound. A row whose key columns are NULL is refused too (counted as a bad message).
  bool upsert(std::vector<Value> row);
  //! MQTT table: an empty (deleted retained) message removes the row of `key`.
  void erase(const Value& key);

  //! The rows whose columns of index `index` (TableDef::indexes) equal `probe` (a Value for a
  //! one-column index, an Array otherwise); null when none. Valid until the next change.
  const std::vector<std::uint32_t>* lookup(int index, const Value& probe) const;
  const std::vector<Value>& row(std::uint32_t i) const { return rows_[i]; }
  std::size_t size() const { return rows_.size(); }

  //! Key of a row from its key columns (a Value for one column, an Array otherwise).
  Value key_of(const std::vector<Value>& row) const { return project(row, def_->key); }

  TableMetrics metrics;
  TimeNs last_limit_report = kTimeMin;  //!< refused MQTT rows are reported at a rate limit
  //! File / SQLite sources: when to look at the file again, and what it looked like when read.
  TimeNs next_check = kTimeMin;
  std::int64_t seen_mtime = -1;
  std::int64_t seen_size = -1;

 private:
  static Value project(const std::vector<Value>& row, const std::vector<int>& cols);
  void index_row(std::uint32_t i);
  void unindex_row(std::uint32_t i);
  void rebuild_indexes();

  const plan::TableDef* def_;
  std::size_t max_rows_;
  Rows rows_;
  std::unordered_map<Value, std::uint32_t, ValueHash> by_key_;
  std::vector<std::unordered_map<Value, std::vector<std::uint32_t>, ValueHash>> indexes_;
};

//! The row of a table from a JSON object (columns by name, first of repeated keys); false with
//! the reason when it is not an object or a value does not fit its column's type.
bool row_from_json(const plan::TableDef& def, simdjson::dom::element e, std::vector<Value>& row,
                   std::string& error);

//! Reads a CSV (header row naming the columns) or JSON (array of objects, or one object per
//! line) file for a TYPE='file' table.
bool load_file_table(const plan::TableDef& def, std::size_t max_rows, Rows& rows, std::string& error);

}  // namespace streamgate::rules::table
