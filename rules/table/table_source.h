// What a table loader outside the engine room is given and gives back: the gateway registers
// one per source type the engine cannot read itself (SQLite), see Engine::set_table_loader.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "rules/value.h"

namespace streamgate::rules::table {

struct TableSource {
  std::string name;                  //!< the CREATE TABLE's name (messages)
  std::string path;                  //!< PATH, resolved against the rule file's folder
  std::string table;                 //!< TABLE option (SQLite)
  std::vector<std::string> columns;  //!< the declared columns, in order
};

//! Reads every row of a source, values in `columns` order (NULL for a missing value). At most
//! `max_rows` + 1 rows need be read (more are refused anyway). False, with a one-line reason in
//! `error`, when the source cannot be read as a whole (the table then keeps its rows).
using LoadFn = std::function<bool(const TableSource& source, std::size_t max_rows,
                                  std::vector<std::vector<Value>>& rows, std::string& error)>;

}  // namespace streamgate::rules::table
