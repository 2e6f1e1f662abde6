// Migrations: the schema of the streamgate database, versioned by PRAGMA user_version and brought
// up to date by an ordered list of steps, each applied in its own transaction.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "storage/database.h"

namespace streamgate::storage {

//! One schema step: takes the database from version `version - 1` to `version`.
struct Migration {
  int version = 0;
  const char* description = "";
  //! SQL run inside the step's transaction; may hold several statements.
  const char* sql = nullptr;
  //! Optional code for what SQL cannot express; runs after `sql`, in the same transaction.
  std::function<void(Database&)> apply;
};

//! streamgate's own steps, versions 1..N in order. Only ever append: a shipped step is history.
std::span<const Migration> schema_migrations();

//! The newest version this build knows (the last step's version).
int latest_schema_version();

//! PRAGMA user_version of the open database (0 for a fresh file).
int schema_version(Database& db);

//! Applies every step above the file's version, each in an IMMEDIATE transaction that re-reads
//! the version first (so two connections migrating at once do each step once). A file newer
//! than `steps` is refused with StorageErrorKind::SchemaTooNew and left untouched. Returns the
//! version reached. Steps must be numbered 1, 2, 3, ... without gaps.
int migrate(Database& db, std::span<const Migration> steps);

//! Opens `path` and migrates it to latest_schema_version(). A read-only open is not migrated:
//! it must already be at the latest version (else SchemaTooNew / Generic with a clear message).
//! The gateway's threads each call this to get their own connection.
Database open_database(const std::string& path, const OpenOptions& options = {});

}  // namespace streamgate::storage
