// TYPE='sqlite' tables: the engine room does not link SQLite, so the gateway hands the engine
// this loader (Engine::set_table_loader("sqlite", ...)). Runs on the thread that calls the
// engine (the worker), opening the file read-only for each load.
#pragma once

#include "rules/table/table_source.h"

namespace streamgate::gateway {

//! Reads the declared columns of TABLE from the SQLite file PATH (read-only; a missing file,
//! table or column is a one-line error, the table keeps its rows).
rules::table::LoadFn sqlite_table_loader();

}  // namespace streamgate::gateway
