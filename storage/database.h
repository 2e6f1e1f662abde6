// Database: RAII wrappers over one sqlite3 connection (Database), its prepared statements
// (Statement, with a per-connection cache) and transactions (Transaction), plus StorageError,
// the one exception type every storage call throws.
//
// A connection is not shared between threads (opened with SQLITE_OPEN_NOMUTEX): the gateway's
// worker and publisher threads each open their own. WAL lets them read while the other writes.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace streamgate::storage {

//! What went wrong, coarse enough for the gateway to pick a behaviour. The "disk trouble" kinds
//! (see StorageError::disk_trouble) mean the file cannot be trusted or written: keep processing
//! in memory with a loud warning, or stop. The others are bugs or transient contention.
enum class StorageErrorKind : std::uint8_t {
  Generic,       //!< anything else (SQL errors, misuse): a bug, not the disk
  ReadOnly,      //!< SQLITE_READONLY, or a read-write open that could only get read access
  Full,          //!< SQLITE_FULL: disk full (or max_page_count reached)
  Corrupt,       //!< SQLITE_CORRUPT: the file is damaged
  NotADb,        //!< SQLITE_NOTADB: the file is not an SQLite database at all
  CantOpen,      //!< SQLITE_CANTOPEN: missing directory, permissions
  Io,            //!< SQLITE_IOERR: the OS failed a read or write
  Busy,          //!< SQLITE_BUSY/LOCKED after busy_timeout: another process holds the lock
  SchemaTooNew,  //!< the file was written by a newer streamgate (PRAGMA user_version too high)
};
const char* to_string(StorageErrorKind kind);

//! The one error type storage throws. what() reads "<path>: <context>: <sqlite message>".
class StorageError : public std::runtime_error {
 public:
  StorageError(StorageErrorKind kind, std::string path, const std::string& message,
               int sqlite_code = 0);
  StorageErrorKind kind() const noexcept { return kind_; }
  const std::string& path() const noexcept { return path_; }
  //! Extended SQLite result code, 0 when the error did not come from SQLite.
  int sqlite_code() const noexcept { return sqlite_code_; }
  //! The message without the path and kind (for wrapping with more context).
  const std::string& detail() const noexcept { return detail_; }
  //! True for read-only, full, corrupt, not-a-database, cannot-open and I/O errors: the
  //! durable store is unusable and retrying the same call will not help.
  bool disk_trouble() const noexcept;

 private:
  StorageErrorKind kind_;
  std::string path_;
  std::string detail_;
  int sqlite_code_;
};

//! Nanoseconds since the Unix epoch (UTC): the default `now` of storage calls.
std::int64_t wall_clock_ns() noexcept;

//! Maps an SQLite (extended) result code to an error kind.
StorageErrorKind classify_sqlite_code(int code) noexcept;

struct OpenOptions {
  //! Open with SQLITE_OPEN_READONLY: every write fails with StorageErrorKind::ReadOnly.
  bool read_only = false;
  //! Create the file when missing (ignored when read_only).
  bool create = true;
  //! How long a write waits for another connection's write lock before SQLITE_BUSY.
  std::chrono::milliseconds busy_timeout{5000};
};

class Database;

//! A prepared statement. Bound text/blobs are copied (SQLITE_TRANSIENT), so temporaries are
//! safe to bind. Indices are 1-based as in SQLite; columns are 0-based.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, bool value) { return bind(index, static_cast<std::int64_t>(value)); }
  Statement& bind(int index, double value);
  Statement& bind(int index, std::string_view text);  //!< as TEXT
  Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
  Statement& bind(int index, std::nullptr_t);
  Statement& bind_blob(int index, std::string_view bytes);  //!< as BLOB (no UTF-8 assumption)
  //! Binds NULL when `text` is empty: for optional keys such as a missing result_id.
  Statement& bind_text_or_null(int index, std::string_view text);

  //! Advances: true when a row is available, false when done. Throws StorageError.
  bool step();
  //! Runs to completion (for statements that return no rows) and resets.
  void exec();
  //! Resets and clears bindings; releases the read snapshot a half-read SELECT holds.
  void reset() noexcept;

  int column_count() const;
  bool column_is_null(int column) const;
  //! The storage class of a column of the current row (values are typed per row in SQLite).
  enum class ColumnKind : std::uint8_t { Null, Integer, Float, Text, Blob };
  ColumnKind column_kind(int column) const;
  std::int64_t column_int64(int column) const;
  double column_double(int column) const;
  //! Valid until the next step/reset.
  std::string_view column_text(int column) const;
  //! Valid until the next step/reset.
  std::string_view column_blob(int column) const;

  sqlite3_stmt* handle() const noexcept { return stmt_; }

 private:
  friend class Database;  // re-points db_ when a Database (and its cache) moves
  void check_bind(int rc, int index);
  Database* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

//! A statement borrowed from Database's cache; reset (bindings cleared, read snapshot released)
//! when it goes out of scope so the next user starts clean.
class CachedStatement {
 public:
  explicit CachedStatement(Statement& stmt) noexcept : stmt_(&stmt) {}
  ~CachedStatement() {
    if (stmt_ != nullptr) stmt_->reset();
  }
  CachedStatement(CachedStatement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
  CachedStatement(const CachedStatement&) = delete;
  CachedStatement& operator=(const CachedStatement&) = delete;
  CachedStatement& operator=(CachedStatement&&) = delete;
  Statement* operator->() const noexcept { return stmt_; }
  Statement& operator*() const noexcept { return *stmt_; }

 private:
  Statement* stmt_;
};

//! One SQLite connection. Opens with WAL, synchronous=NORMAL (a power cut may lose the last
//! committed transactions but never corrupts the file), busy_timeout and foreign keys on.
class Database {
 public:
  //! Opens (creating if allowed) and configures the connection. Throws StorageError: a garbage
  //! file gives NotADb/Corrupt here, not at the first query, because the pragmas read it.
  explicit Database(std::string path, const OpenOptions& options = {});
  ~Database();
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  //! Runs one or more statements that return no rows.
  void exec(std::string_view sql);
  //! A single integer result (e.g. a PRAGMA or COUNT); `fallback` when there is no row.
  std::int64_t query_int64(std::string_view sql, std::int64_t fallback = 0);
  //! Prepares once per connection and hands out the cached statement; do not borrow the same
  //! SQL twice at the same time.
  CachedStatement cached(std::string_view sql);

  std::int64_t last_insert_rowid() const noexcept;
  int changes() const noexcept;
  bool read_only() const noexcept { return read_only_; }
  bool in_transaction() const noexcept;
  const std::string& path() const noexcept { return path_; }
  sqlite3* handle() const noexcept { return db_; }

  //! Copies the WAL into the main file and truncates it; for clean shutdown. Best effort: a
  //! reader elsewhere may keep part of the WAL alive, which is not an error.
  void checkpoint_wal();

  //! Throws StorageError built from the connection's last error (message + extended code).
  [[noreturn]] void throw_error(int rc, std::string_view context) const;

 private:
  void close() noexcept;
  std::string path_;
  sqlite3* db_ = nullptr;
  bool read_only_ = false;
  // std::less<> allows lookup by string_view without building a std::string per call.
  std::map<std::string, std::unique_ptr<Statement>, std::less<>> cache_;
};

//! Scope guard: BEGIN IMMEDIATE on construction (takes the write lock up front, so two writers
//! queue on busy_timeout instead of deadlocking on a lock upgrade), ROLLBACK in the destructor
//! unless commit() ran. Nested inside another transaction it becomes a SAVEPOINT.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  //! Makes the writes durable (per synchronous=NORMAL). Throws StorageError (e.g. Full); the
  //! transaction is then rolled back by the destructor.
  void commit();
  //! Undoes the writes now; never throws.
  void rollback() noexcept;

 private:
  Database& db_;
  bool savepoint_ = false;
  bool done_ = false;
};

}  // namespace streamgate::storage
