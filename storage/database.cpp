// Database, Statement and Transaction: the RAII layer every other storage file builds on.
#include "storage/database.h"

#include <sqlite3.h>

#include <chrono>
#include <string>
#include <utility>

namespace streamgate::storage {

const char* to_string(StorageErrorKind kind) {
  switch (kind) {
    case StorageErrorKind::Generic:
      return "error";
    case StorageErrorKind::ReadOnly:
      return "read-only";
    case StorageErrorKind::Full:
      return "disk full";
    case StorageErrorKind::Corrupt:
      return "corrupt";
    case StorageErrorKind::NotADb:
      return "not a database";
    case StorageErrorKind::CantOpen:
      return "cannot open";
    case StorageErrorKind::Io:
      return "I/O error";
    case StorageErrorKind::Busy:
      return "busy";
    case StorageErrorKind::SchemaTooNew:
      return "schema too new";
  }
  return "error";
}

StorageError::StorageError(StorageErrorKind kind, std::string path, const std::string& message,
                           int sqlite_code)
    : std::runtime_error(path + ": " + message + " [" + to_string(kind) + "]"),
      kind_(kind),
      path_(std::move(path)),
      detail_(message),
      sqlite_code_(sqlite_code) {}

std::int64_t wall_clock_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool StorageError::disk_trouble() const noexcept {
  switch (kind_) {
    case StorageErrorKind::ReadOnly:
    case StorageErrorKind::Full:
    case StorageErrorKind::Corrupt:
    case StorageErrorKind::NotADb:
    case StorageErrorKind::CantOpen:
    case StorageErrorKind::Io:
      return true;
    default:
      return false;
  }
}

StorageErrorKind classify_sqlite_code(int code) noexcept {
  switch (code & 0xff) {  // the primary code lives in the low byte of an extended code
    case SQLITE_READONLY:
      return StorageErrorKind::ReadOnly;
    case SQLITE_FULL:
      return StorageErrorKind::Full;
    case SQLITE_CORRUPT:
      return StorageErrorKind::Corrupt;
    case SQLITE_NOTADB:
      return StorageErrorKind::NotADb;
    case SQLITE_CANTOPEN:
      return StorageErrorKind::CantOpen;
    case SQLITE_IOERR:
      return StorageErrorKind::Io;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return StorageErrorKind::Busy;
    case SQLITE_PERM:
      return StorageErrorKind::ReadOnly;
    default:
      return StorageErrorKind::Generic;
  }
}

// ---------------------------------------------------------------------------------------------
// Statement

Statement::Statement(Database& db, std::string_view sql) : db_(&db) {
  const int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    db.throw_error(rc, "prepare \"" + std::string(sql.substr(0, 80)) + "\"");
  }
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

void Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK) db_->throw_error(rc, "bind parameter " + std::to_string(index));
}

Statement& Statement::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check_bind(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

namespace {
// An empty string_view may carry a null pointer, which SQLite would bind as NULL; an empty
// string must stay an empty string (NOT NULL columns), so point it somewhere valid.
const char* non_null_data(std::string_view bytes) {
  static const char kEmpty = 0;
  return bytes.data() != nullptr ? bytes.data() : &kEmpty;
}
}  // namespace

Statement& Statement::bind(int index, std::string_view text) {
  check_bind(sqlite3_bind_text64(stmt_, index, non_null_data(text), text.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8),
             index);
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  check_bind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  check_bind(
      sqlite3_bind_blob64(stmt_, index, non_null_data(bytes), bytes.size(), SQLITE_TRANSIENT),
      index);
  return *this;
}

Statement& Statement::bind_text_or_null(int index, std::string_view text) {
  return text.empty() ? bind(index, nullptr) : bind(index, text);
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  // Reset first so the statement does not keep a failed transaction's locks; the error
  // message survives the reset in sqlite3_errmsg.
  const std::string sql = sqlite3_sql(stmt_) != nullptr ? sqlite3_sql(stmt_) : "";
  sqlite3_reset(stmt_);
  db_->throw_error(rc, "step \"" + sql.substr(0, 80) + "\"");
}

void Statement::exec() {
  while (step()) {
  }
  sqlite3_reset(stmt_);
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Statement::column_count() const {
  return sqlite3_column_count(stmt_);
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Statement::ColumnKind Statement::column_kind(int column) const {
  switch (sqlite3_column_type(stmt_, column)) {
    case SQLITE_INTEGER: return ColumnKind::Integer;
    case SQLITE_FLOAT: return ColumnKind::Float;
    case SQLITE_TEXT: return ColumnKind::Text;
    case SQLITE_BLOB: return ColumnKind::Blob;
    default: return ColumnKind::Null;
  }
}

std::int64_t Statement::column_int64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

double Statement::column_double(int column) const {
  return sqlite3_column_double(stmt_, column);
}

std::string_view Statement::column_text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);  // after _text, per the SQLite docs
  return text == nullptr ? std::string_view() : std::string_view(text, static_cast<size_t>(size));
}

std::string_view Statement::column_blob(int column) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  const int size = sqlite3_column_bytes(stmt_, column);
  return data == nullptr ? std::string_view() : std::string_view(data, static_cast<size_t>(size));
}

// ---------------------------------------------------------------------------------------------
// Database

Database::Database(std::string path, const OpenOptions& options)
    : path_(std::move(path)), read_only_(options.read_only) {
  int flags = SQLITE_OPEN_NOMUTEX;  // one connection per thread; no need for SQLite's mutexes
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  const int rc = sqlite3_open_v2(path_.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    // sqlite3_open_v2 allocates a handle even on failure; read its message, then free it.
    const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    const int code = db_ != nullptr ? sqlite3_extended_errcode(db_) : rc;
    close();
    throw StorageError(classify_sqlite_code(code), path_, "open: " + message, code);
  }
  try {
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, static_cast<int>(options.busy_timeout.count()));
    // Reading the schema forces SQLite to read the header, so a garbage or truncated file is
    // reported here, at open, where the gateway decides what to do.
    query_int64("PRAGMA schema_version");
    if (!options.read_only) {
      // SQLite silently downgrades a read-write open of a file it may not write (chmod 0444,
      // read-only mount); say so now instead of at the first checkpoint.
      if (sqlite3_db_readonly(db_, "main") == 1) {
        throw StorageError(StorageErrorKind::ReadOnly, path_,
                           "open: the file or its directory is not writable", SQLITE_READONLY);
      }
      exec("PRAGMA journal_mode=WAL");
    }
    exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  } catch (...) {
    close();
    throw;
  }
}

Database::~Database() {
  close();
}

Database::Database(Database&& other) noexcept
    : path_(std::move(other.path_)),
      db_(std::exchange(other.db_, nullptr)),
      read_only_(other.read_only_),
      cache_(std::move(other.cache_)) {
  // Cached statements point back at their Database for error reporting.
  for (auto& entry : cache_) entry.second->db_ = this;
}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    close();
    path_ = std::move(other.path_);
    db_ = std::exchange(other.db_, nullptr);
    read_only_ = other.read_only_;
    cache_ = std::move(other.cache_);
    for (auto& entry : cache_) entry.second->db_ = this;
  }
  return *this;
}

void Database::close() noexcept {
  cache_.clear();  // statements must be finalized before the connection closes
  if (db_ != nullptr) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
  }
}

void Database::exec(std::string_view sql) {
  const std::string text(sql);  // sqlite3_exec needs a NUL-terminated string
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    const int code = sqlite3_extended_errcode(db_);
    throw StorageError(classify_sqlite_code(code != SQLITE_OK ? code : rc), path_,
                       "exec \"" + text.substr(0, 80) + "\": " + detail, code);
  }
}

std::int64_t Database::query_int64(std::string_view sql, std::int64_t fallback) {
  Statement stmt(*this, sql);
  return stmt.step() ? stmt.column_int64(0) : fallback;
}

CachedStatement Database::cached(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    it = cache_.emplace(std::string(sql), std::make_unique<Statement>(*this, sql)).first;
  }
  return CachedStatement(*it->second);
}

std::int64_t Database::last_insert_rowid() const noexcept {
  return sqlite3_last_insert_rowid(db_);
}

int Database::changes() const noexcept {
  return sqlite3_changes(db_);
}

bool Database::in_transaction() const noexcept {
  return sqlite3_get_autocommit(db_) == 0;
}

void Database::checkpoint_wal() {
  if (read_only_) return;
  const int rc =
      sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY) throw_error(rc, "wal checkpoint");
}

void Database::throw_error(int rc, std::string_view context) const {
  int code = db_ != nullptr ? sqlite3_extended_errcode(db_) : rc;
  // The connection's code can lag behind (e.g. after a reset); trust rc's primary code.
  if ((code & 0xff) != (rc & 0xff)) code = rc;
  const std::string message = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  throw StorageError(classify_sqlite_code(code), path_, std::string(context) + ": " + message,
                     code);
}

// ---------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Database& db) : db_(db), savepoint_(db.in_transaction()) {
  db_.exec(savepoint_ ? "SAVEPOINT streamgate_tx" : "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
  if (!done_) rollback();
}

void Transaction::commit() {
  if (done_) return;
  db_.exec(savepoint_ ? "RELEASE streamgate_tx" : "COMMIT");
  done_ = true;
}

void Transaction::rollback() noexcept {
  if (done_) return;
  done_ = true;
  // After SQLITE_FULL/IOERR SQLite may already have rolled back on its own; a second ROLLBACK
  // would only fail with "no transaction is active", so skip it.
  if (!db_.in_transaction()) return;
  try {
    if (savepoint_) {
      db_.exec("ROLLBACK TO streamgate_tx; RELEASE streamgate_tx;");
    } else {
      db_.exec("ROLLBACK");
    }
  } catch (const StorageError&) {
    // Nothing sensible to do in a destructor; the original error is already on its way up.
  }
}

}  // namespace streamgate::storage
