// Reading TYPE='file' tables: CSV with a header row, or JSON (an array of objects, or one object
// per line). Runs on the worker when a table is installed and when its file changed; the whole
// file is read into memory first (the row bound caps what is kept).
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <simdjson.h>

#include "rules/ingest/ingest.h"
#include "rules/table/table.h"

namespace streamgate::rules::table {
namespace {

//! A CSV value without a declared type: numbers and booleans as such, empty as NULL.
Value csv_value(std::string&& s, bool quoted) {
  if (quoted) return Value(std::move(s));
  if (s.empty()) return Value();
  std::int64_t n = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n); ec == std::errc() && p == s.data() + s.size())
    return Value(n);
  double d = 0;
  if (auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      ec == std::errc() && p == s.data() + s.size() && std::isfinite(d))
    return Value(d);
  if (s == "true" || s == "TRUE") return Value(true);
  if (s == "false" || s == "FALSE") return Value(false);
  return Value(std::move(s));
}

//! RFC 4180 fields: quoted fields may hold commas, doubled quotes and line breaks.
class CsvReader {
 public:
  explicit CsvReader(std::string_view text) : t_(text) {}
  //! Next record; false at the end. `line` is the 1-based line the record started on.
  bool next(std::vector<std::pair<std::string, bool>>& fields, int& line, std::string& error) {
    fields.clear();
    // Blank lines are skipped (a trailing newline, spacing between blocks).
    while (i_ < t_.size() && (t_[i_] == '\n' || t_[i_] == '\r')) {
      if (t_[i_] == '\n') ++line_;
      ++i_;
    }
    if (i_ >= t_.size()) return false;
    line = line_;
    for (;;) {
      std::string f;
      bool quoted = false;
      if (i_ < t_.size() && t_[i_] == '"') {
        quoted = true;
        ++i_;
        for (;;) {
          if (i_ >= t_.size()) {
            error = "line " + std::to_string(line) + ": a quoted field is not closed";
            return false;
          }
          const char c = t_[i_++];
          if (c == '"') {
            if (i_ < t_.size() && t_[i_] == '"') {
              f += '"';
              ++i_;
            } else {
              break;
            }
          } else {
            if (c == '\n') ++line_;
            f += c;
          }
        }
      } else {
        while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != '\n' && t_[i_] != '\r') f += t_[i_++];
      }
      fields.emplace_back(std::move(f), quoted);
      if (i_ < t_.size() && t_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < t_.size() && t_[i_] == '\r') ++i_;
      if (i_ < t_.size() && t_[i_] == '\n') {
        ++i_;
        ++line_;
      } else if (i_ < t_.size()) {
        error = "line " + std::to_string(line) + ": unexpected text after a quoted field";
        return false;
      }
      return true;
    }
  }

 private:
  std::string_view t_;
  std::size_t i_ = 0;
  int line_ = 1;
};

bool load_csv(const plan::TableDef& def, std::string_view text, std::size_t max_rows, Rows& rows,
              std::string& error) {
  CsvReader r(text);
  std::vector<std::pair<std::string, bool>> fields;
  int line = 0;
  if (!r.next(fields, line, error)) {
    if (error.empty()) error = "the file is empty (a header row naming the columns is needed)";
    return false;
  }
  if (!fields.empty() && fields[0].first.rfind("\xEF\xBB\xBF", 0) == 0) fields[0].first.erase(0, 3);
  // Column of the table -> position in the file.
  std::vector<int> pos(def.columns.size(), -1);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    std::string h = fields[i].first;
    while (!h.empty() && h.back() == ' ') h.pop_back();
    while (!h.empty() && h.front() == ' ') h.erase(h.begin());
    for (std::size_t c = 0; c < def.columns.size(); ++c)
      if (def.columns[c] == h && pos[c] < 0) pos[c] = static_cast<int>(i);
  }
  for (int k : def.key) {
    if (pos[static_cast<std::size_t>(k)] < 0) {
      error = "the header row has no column '" + def.columns[static_cast<std::size_t>(k)] + "' (the KEY)";
      return false;
    }
  }
  while (r.next(fields, line, error)) {
    std::vector<Value> row(def.columns.size());
    for (std::size_t c = 0; c < def.columns.size(); ++c) {
      const int p = pos[c];
      if (p < 0 || static_cast<std::size_t>(p) >= fields.size()) continue;
      auto& [s, quoted] = fields[static_cast<std::size_t>(p)];
      const std::string original = s;
      row[c] = def.types[c] == plan::ColumnType::Any ? csv_value(std::move(s), quoted)
                                                     : (s.empty() && !quoted ? Value() : Value(std::move(s)));
      if (!convert(def.types[c], row[c])) {
        error = "line " + std::to_string(line) + ": column '" + def.columns[c] + "' is not a valid value: '" + original + "'";
        return false;
      }
    }
    rows.push_back(std::move(row));
    if (rows.size() > max_rows) return true;  // the rest would be refused anyway
  }
  return error.empty();
}

bool json_row(const plan::TableDef& def, simdjson::dom::element e, std::size_t n, Rows& rows,
              std::string& error) {
  std::vector<Value> row;
  if (!row_from_json(def, e, row, error)) {
    error = "row " + std::to_string(n) + ": " + error;
    return false;
  }
  rows.push_back(std::move(row));
  return true;
}

bool load_json(const plan::TableDef& def, const std::string& text, std::size_t max_rows, Rows& rows,
               std::string& error) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    if (auto err = parser.parse(padded).get(root)) {
      error = std::string("not valid JSON: ") + simdjson::error_message(err);
      return false;
    }
    std::size_t n = 0;
    simdjson::dom::array arr;
    if (root.get_array().get(arr)) {
      error = "not a JSON array";
      return false;
    }
    for (auto e : arr) {
      if (!json_row(def, e, ++n, rows, error)) return false;
      if (rows.size() > max_rows) return true;
    }
    return true;
  }
  // JSON lines: one object per line, each parsed on its own so an error names its line.
  std::size_t start = 0, line = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++line;
    const std::string_view l(text.data() + start, end - start);
    start = end + 1;
    if (l.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    if (auto err = parser.parse(l.data(), l.size(), true).get(root)) {
      error = "line " + std::to_string(line) + ": not valid JSON: " + simdjson::error_message(err);
      return false;
    }
    std::string row_error;
    if (!json_row(def, root, line, rows, row_error)) {
      error = "line " + row_error.substr(4);  // "row N..." -> "line N..."
      return false;
    }
    if (rows.size() > max_rows) return true;
  }
  return true;
}

}  // namespace

bool row_from_json(const plan::TableDef& def, simdjson::dom::element e, std::vector<Value>& row,
                   std::string& error) {
  simdjson::dom::object obj;
  if (e.get_object().get(obj)) {
    error = "not a JSON object";
    return false;
  }
  row.assign(def.columns.size(), Value());
  std::vector<bool> seen(def.columns.size());
  for (auto field : obj) {
    for (std::size_t c = 0; c < def.columns.size(); ++c) {
      if (seen[c] || field.key != def.columns[c]) continue;
      seen[c] = true;  // of repeated keys the first wins, as for events
      row[c] = ingest::to_value(field.value);
      if (!convert(def.types[c], row[c])) {
        error = "column '" + def.columns[c] + "' is not a valid value: " + row[c].to_json();
        return false;
      }
    }
  }
  return true;
}

bool load_file_table(const plan::TableDef& def, std::size_t max_rows, Rows& rows, std::string& error) {
  std::ifstream in(def.path, std::ios::binary);
  if (!in) {
    error = "cannot open " + def.path + ": " + std::strerror(errno);
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const bool ok = def.json ? load_json(def, text, max_rows, rows, error) : load_csv(def, text, max_rows, rows, error);
  if (!ok) error = def.path + ": " + error;
  return ok;
}

}  // namespace streamgate::rules::table
