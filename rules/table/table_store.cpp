// Table: rows by key, hash indexes by the column sets joins probe. See table.h.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "rules/join/key.h"
#include "rules/table/table.h"

namespace streamgate::rules::table {

bool convert(plan::ColumnType type, Value& v) {
  using plan::ColumnType;
  if (v.is_null() || type == ColumnType::Any) return true;
  switch (type) {
    case ColumnType::String:
      if (!v.is_string()) v = Value(v.to_text());
      return true;
    case ColumnType::Int:
      if (v.is_int()) return true;
      if (v.is_double() && std::floor(v.as_double_exact()) == v.as_double_exact() &&
          std::abs(v.as_double_exact()) < 9.2e18) {
        v = Value(static_cast<std::int64_t>(v.as_double_exact()));
        return true;
      }
      if (v.is_string()) {
        const std::string& s = v.as_string();
        std::int64_t n = 0;
        const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return false;
        v = Value(n);
        return true;
      }
      return false;
    case ColumnType::Double:
      if (v.is_number()) {
        v = Value(v.as_number());
        return true;
      }
      if (v.is_string()) {
        const std::string& s = v.as_string();
        double d = 0;
        const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec != std::errc() || p != s.data() + s.size() || s.empty() || !std::isfinite(d)) return false;
        v = Value(d);
        return true;
      }
      return false;
    case ColumnType::Bool:
      if (v.is_bool()) return true;
      if (v.is_string()) {
        std::string l = v.as_string();
        for (auto& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (l == "true" || l == "1") v = Value(true);
        else if (l == "false" || l == "0") v = Value(false);
        else return false;
        return true;
      }
      if (v.is_int() && (v.as_int() == 0 || v.as_int() == 1)) {
        v = Value(v.as_int() == 1);
        return true;
      }
      return false;
    case ColumnType::Any: return true;
  }
  return false;
}

Table::Table(const plan::TableDef* def, std::size_t max_rows)
    : def_(def), max_rows_(def->max_rows > 0 ? std::min(def->max_rows, max_rows) : max_rows) {
  metrics.name = def->name;
  indexes_.resize(def->indexes.size());
}

void Table::rebind(const plan::TableDef* def) {
  // Same text, but the rules reading it may look rows up by other columns now.
  const bool same_indexes = def->indexes == def_->indexes;
  def_ = def;
  if (!same_indexes) rebuild_indexes();
}

Value Table::project(const std::vector<Value>& row, const std::vector<int>& cols) {
  if (cols.size() == 1) return row[static_cast<std::size_t>(cols[0])];
  Array a;
  a.reserve(cols.size());
  for (int c : cols) a.push_back(row[static_cast<std::size_t>(c)]);
  return Value(std::move(a));
}

namespace {
using join::key_has_null;
}  // namespace

void Table::index_row(std::uint32_t i) {
  for (std::size_t x = 0; x < indexes_.size(); ++x) {
    Value k = project(rows_[i], def_->indexes[x]);
    if (!key_has_null(k)) indexes_[x][std::move(k)].push_back(i);
  }
}

void Table::unindex_row(std::uint32_t i) {
  for (std::size_t x = 0; x < indexes_.size(); ++x) {
    const Value k = project(rows_[i], def_->indexes[x]);
    auto it = indexes_[x].find(k);
    if (it == indexes_[x].end()) continue;
    auto& v = it->second;
    v.erase(std::remove(v.begin(), v.end(), i), v.end());
    if (v.empty()) indexes_[x].erase(it);
  }
}

void Table::rebuild_indexes() {
  indexes_.assign(def_->indexes.size(), {});
  for (std::uint32_t i = 0; i < rows_.size(); ++i) index_row(i);
}

std::size_t Table::replace(Rows rows) {
  Rows kept;
  std::unordered_map<Value, std::uint32_t, ValueHash> by_key;
  std::size_t refused = 0;
  kept.reserve(std::min(rows.size(), max_rows_));
  for (auto& r : rows) {
    Value k = key_of(r);
    if (auto it = by_key.find(k); it != by_key.end()) {
      kept[it->second] = std::move(r);  // the last row of a key wins
      continue;
    }
    if (kept.size() >= max_rows_) {
      ++refused;
      continue;
    }
    by_key.emplace(std::move(k), static_cast<std::uint32_t>(kept.size()));
    kept.push_back(std::move(r));
  }
  rows_ = std::move(kept);
  by_key_ = std::move(by_key);
  rebuild_indexes();
  metrics.refused_rows += refused;
  metrics.rows = rows_.size();
  return refused;
}

bool Table::upsert(std::vector<Value> row) {
  Value k = key_of(row);
  if (key_has_null(k)) {
    ++metrics.bad_messages;
    return true;
  }
  if (auto it = by_key_.find(k); it != by_key_.end()) {
    unindex_row(it->second);
    rows_[it->second] = std::move(row);
    index_row(it->second);
    return true;
  }
  if (rows_.size() >= max_rows_) {
    ++metrics.refused_rows;
    return false;
  }
  const auto i = static_cast<std::uint32_t>(rows_.size());
  rows_.push_back(std::move(row));
  by_key_.emplace(std::move(k), i);
  index_row(i);
  metrics.rows = rows_.size();
  return true;
}

void Table::erase(const Value& key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) return;
  const std::uint32_t i = it->second;
  by_key_.erase(it);
  unindex_row(i);
  const auto last = static_cast<std::uint32_t>(rows_.size() - 1);
  if (i != last) {
    // The last row moves into the hole: its index entries follow it.
    unindex_row(last);
    rows_[i] = std::move(rows_[last]);
    by_key_[key_of(rows_[i])] = i;
    rows_.pop_back();
    index_row(i);
  } else {
    rows_.pop_back();
  }
  metrics.rows = rows_.size();
}

const std::vector<std::uint32_t>* Table::lookup(int index, const Value& probe) const {
  const auto& ix = indexes_[static_cast<std::size_t>(index)];
  if (ix.empty() || key_has_null(probe)) return nullptr;
  auto it = ix.find(probe);
  return it == ix.end() ? nullptr : &it->second;
}

}  // namespace streamgate::rules::table
