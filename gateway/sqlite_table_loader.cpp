// TYPE='sqlite' table loader; see sqlite_table_loader.h.
#include "gateway/sqlite_table_loader.h"

#include "storage/database.h"

namespace streamgate::gateway {
namespace {

std::string quote_identifier(const std::string& name) {
  std::string q = "\"";
  for (char c : name) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

rules::table::LoadFn sqlite_table_loader() {
  return [](const rules::table::TableSource& src, std::size_t max_rows,
            std::vector<std::vector<rules::Value>>& rows, std::string& error) {
    try {
      storage::OpenOptions o;
      o.read_only = true;
      o.create = false;
      storage::Database db(src.path, o);
      std::string sql = "SELECT ";
      for (std::size_t i = 0; i < src.columns.size(); ++i)
        sql += (i ? ", " : "") + quote_identifier(src.columns[i]);
      sql += " FROM " + quote_identifier(src.table) + " LIMIT ?";
      storage::Statement st(db, sql);
      st.bind(1, static_cast<std::int64_t>(max_rows) + 1);
      using Kind = storage::Statement::ColumnKind;
      while (st.step()) {
        std::vector<rules::Value> row(src.columns.size());
        for (std::size_t c = 0; c < src.columns.size(); ++c) {
          const int ci = static_cast<int>(c);
          switch (st.column_kind(ci)) {
            case Kind::Integer: row[c] = rules::Value(st.column_int64(ci)); break;
            case Kind::Float: row[c] = rules::Value(st.column_double(ci)); break;
            case Kind::Text: row[c] = rules::Value(st.column_text(ci)); break;
            case Kind::Blob: row[c] = rules::Value(st.column_blob(ci)); break;
            case Kind::Null: break;
          }
        }
        rows.push_back(std::move(row));
      }
      return true;
    } catch (const storage::StorageError& e) {
      error = e.what();
      return false;
    }
  };
}

}  // namespace streamgate::gateway
