// Database, Statement, Transaction and error classification against real files.
#include "storage/database.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "storage/migrations.h"
#include "temp_dir.h"

namespace streamgate::storage {
namespace {

using testing::TempDir;

StorageErrorKind kind_of_open(const std::string& path, const OpenOptions& options = {}) {
  try {
    Database db(path, options);
  } catch (const StorageError& e) {
    return e.kind();
  }
  ADD_FAILURE() << "open of " << path << " did not throw";
  return StorageErrorKind::Generic;
}

TEST(Database, OpensWithWalAndPragmas) {
  TempDir dir;
  Database db(dir.file("a.db"));
  Statement mode(db, "PRAGMA journal_mode");
  ASSERT_TRUE(mode.step());
  EXPECT_EQ(mode.column_text(0), "wal");
  EXPECT_EQ(db.query_int64("PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(db.query_int64("PRAGMA foreign_keys"), 1);
  EXPECT_EQ(db.query_int64("PRAGMA busy_timeout"), 5000);
  EXPECT_FALSE(db.read_only());
}

TEST(Database, StatementBindsAndReadsEveryType) {
  TempDir dir;
  Database db(dir.file("a.db"));
  db.exec("CREATE TABLE t(i INTEGER, d REAL, s TEXT, b BLOB, n TEXT)");
  const std::string blob("a\0b\xff", 4);
  Statement insert(db, "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  insert.bind(1, std::int64_t{1} << 40)
      .bind(2, 2.5)
      .bind(3, "text")
      .bind_blob(4, blob)
      .bind(5, nullptr);
  insert.exec();
  EXPECT_EQ(db.changes(), 1);
  EXPECT_EQ(db.last_insert_rowid(), 1);

  Statement select(db, "SELECT i, d, s, b, n FROM t");
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.column_count(), 5);
  EXPECT_EQ(select.column_int64(0), std::int64_t{1} << 40);
  EXPECT_DOUBLE_EQ(select.column_double(1), 2.5);
  EXPECT_EQ(select.column_text(2), "text");
  EXPECT_EQ(select.column_blob(3), blob);
  EXPECT_TRUE(select.column_is_null(4));
  EXPECT_FALSE(select.step());
}

TEST(Database, EmptyStringsStayEmptyNotNull) {
  TempDir dir;
  Database db(dir.file("a.db"));
  db.exec("CREATE TABLE t(s TEXT NOT NULL, b BLOB NOT NULL, o TEXT)");
  Statement insert(db, "INSERT INTO t VALUES (?1, ?2, ?3)");
  insert.bind(1, std::string_view()).bind_blob(2, std::string_view()).bind_text_or_null(3, "");
  insert.exec();
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t WHERE s = '' AND length(b) = 0 AND o IS NULL"),
            1);
}

TEST(Database, CachedStatementIsReusedAndResetAfterUse) {
  TempDir dir;
  Database db(dir.file("a.db"));
  db.exec("CREATE TABLE t(x INTEGER)");
  for (int i = 0; i < 3; ++i) {
    auto insert = db.cached("INSERT INTO t VALUES (?1)");
    insert->bind(1, i).exec();
  }
  sqlite3_stmt* first = nullptr;
  {
    auto select = db.cached("SELECT x FROM t ORDER BY x");
    first = select->handle();
    ASSERT_TRUE(select->step());  // left half-read on purpose: the guard must reset it
    EXPECT_EQ(select->column_int64(0), 0);
  }
  auto again = db.cached("SELECT x FROM t ORDER BY x");
  EXPECT_EQ(again->handle(), first);
  ASSERT_TRUE(again->step());
  EXPECT_EQ(again->column_int64(0), 0);  // starts from the top, not where the last user stopped
}

TEST(Database, TransactionCommitsAndRollsBackOnScopeExit) {
  TempDir dir;
  Database db(dir.file("a.db"));
  db.exec("CREATE TABLE t(x INTEGER)");
  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (1)");
    EXPECT_TRUE(db.in_transaction());
    tx.commit();
  }
  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (2)");
  }  // no commit: rolled back
  try {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (3)");
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(db.query_int64("SELECT group_concat(x) FROM t"), 1);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 1);
}

TEST(Database, NestedTransactionIsASavepoint) {
  TempDir dir;
  Database db(dir.file("a.db"));
  db.exec("CREATE TABLE t(x INTEGER)");
  {
    Transaction outer(db);
    db.exec("INSERT INTO t VALUES (1)");
    {
      Transaction inner(db);
      db.exec("INSERT INTO t VALUES (2)");
    }  // inner rolled back, outer intact
    {
      Transaction inner(db);
      db.exec("INSERT INTO t VALUES (3)");
      inner.commit();
    }
    outer.commit();
  }
  EXPECT_EQ(db.query_int64("SELECT sum(x) FROM t"), 4);
}

TEST(Database, SqlErrorsAreGenericStorageErrorsWithPath) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  Database db(path);
  try {
    db.exec("SELEC nonsense");
    FAIL() << "no throw";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::Generic);
    EXPECT_FALSE(e.disk_trouble());
    EXPECT_EQ(e.path(), path);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("syntax error"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Statement(db, "SELECT * FROM missing_table"), StorageError);
}

TEST(Database, ConstraintViolationThrowsFromStep) {
  TempDir dir;
  Database db(dir.file("a.db"));
  db.exec("CREATE TABLE t(x INTEGER PRIMARY KEY)");
  db.exec("INSERT INTO t VALUES (1)");
  auto insert = db.cached("INSERT INTO t VALUES (?1)");
  insert->bind(1, 1);
  EXPECT_THROW(insert->exec(), StorageError);
}

TEST(Database, MoveKeepsCachedStatementsWorking) {
  TempDir dir;
  Database a(dir.file("a.db"));
  a.exec("CREATE TABLE t(x INTEGER)");
  { a.cached("INSERT INTO t VALUES (?1)")->bind(1, 7).exec(); }
  Database b(std::move(a));
  { b.cached("INSERT INTO t VALUES (?1)")->bind(1, 8).exec(); }
  // An error from a moved statement must name the live connection, not crash.
  auto bad = b.cached("INSERT INTO t VALUES (?1)");
  EXPECT_THROW(bad->bind(5, 1), StorageError);
  EXPECT_EQ(b.query_int64("SELECT sum(x) FROM t"), 15);
}

TEST(DatabaseErrors, ReadOnlyOpenRefusesWritesWithReadOnlyKind) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  { open_database(path); }
  OpenOptions ro;
  ro.read_only = true;
  Database db = open_database(path, ro);  // a clean WAL file opens read-only
  EXPECT_TRUE(db.read_only());
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM outbox"), 0);
  try {
    db.exec("INSERT INTO counters(name, value) VALUES ('x', 1)");
    FAIL() << "write on a read-only connection succeeded";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::ReadOnly) << e.what();
    EXPECT_TRUE(e.disk_trouble());
  }
}

TEST(DatabaseErrors, UnwritableFileIsReportedAtOpen) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root writes through chmod 0444; the read-only flag test covers the kind";
  }
  TempDir dir;
  const std::string path = dir.file("a.db");
  { open_database(path); }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read |
                                         std::filesystem::perms::group_read |
                                         std::filesystem::perms::others_read);
  EXPECT_EQ(kind_of_open(path), StorageErrorKind::ReadOnly);
}

TEST(DatabaseErrors, GarbageFileIsNotADatabase) {
  TempDir dir;
  const std::string path = dir.file("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 131 + 7) & 0xff));
  }
  const StorageErrorKind kind = kind_of_open(path);
  EXPECT_TRUE(kind == StorageErrorKind::NotADb || kind == StorageErrorKind::Corrupt)
      << to_string(kind);
  OpenOptions ro;
  ro.read_only = true;
  const StorageErrorKind ro_kind = kind_of_open(path, ro);
  EXPECT_TRUE(ro_kind == StorageErrorKind::NotADb || ro_kind == StorageErrorKind::Corrupt)
      << to_string(ro_kind);
}

TEST(DatabaseErrors, DamagedPagesAreCorrupt) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  {
    Database db(path);
    db.exec("PRAGMA journal_mode=DELETE");  // everything in the main file, no WAL to replay
    db.exec("CREATE TABLE t(x TEXT); CREATE INDEX t_x ON t(x);");
    Transaction tx(db);
    for (int i = 0; i < 2000; ++i) {
      db.cached("INSERT INTO t VALUES (?1)")->bind(1, "row " + std::to_string(i)).exec();
    }
    tx.commit();
  }
  const auto size = std::filesystem::file_size(path);
  ASSERT_GT(size, 4 * 4096u);
  {
    // Keep the 100-byte header valid (so it is "a database") and wreck the b-tree pages.
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(4096);
    for (std::uintmax_t i = 4096; i < size; ++i) f.put(static_cast<char>(0xA5));
  }
  try {
    Database db(path);
    db.query_int64("SELECT count(*) FROM t WHERE x > 'row 5'");
    db.exec("PRAGMA quick_check");
    FAIL() << "damaged file read without error";
  } catch (const StorageError& e) {
    EXPECT_TRUE(e.kind() == StorageErrorKind::Corrupt || e.kind() == StorageErrorKind::NotADb)
        << e.what();
    EXPECT_TRUE(e.disk_trouble());
  }
}

TEST(DatabaseErrors, FullDiskIsFullKindAndRollsBack) {
  // max_page_count makes SQLite hit SQLITE_FULL exactly as a full disk would.
  TempDir dir;
  Database db(dir.file("a.db"));
  db.exec("CREATE TABLE t(x BLOB)");
  const std::int64_t pages = db.query_int64("PRAGMA page_count");
  db.exec("PRAGMA max_page_count = " + std::to_string(pages + 8));
  try {
    Transaction tx(db);
    for (int i = 0; i < 1000; ++i) {
      db.cached("INSERT INTO t VALUES (?1)")->bind_blob(1, std::string(4096, 'x')).exec();
    }
    tx.commit();
    FAIL() << "no SQLITE_FULL";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::Full) << e.what();
    EXPECT_TRUE(e.disk_trouble());
  }
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 0);
  db.exec("INSERT INTO t VALUES (x'00')");  // still usable for what fits
}

TEST(DatabaseErrors, MissingDirectoryCannotOpen) {
  TempDir dir;
  EXPECT_EQ(kind_of_open(dir.file("no/such/dir/a.db")), StorageErrorKind::CantOpen);
  OpenOptions no_create;
  no_create.create = false;
  EXPECT_EQ(kind_of_open(dir.file("absent.db"), no_create), StorageErrorKind::CantOpen);
}

TEST(DatabaseErrors, ClassifiesPrimaryAndExtendedCodes) {
  EXPECT_EQ(classify_sqlite_code(SQLITE_READONLY_DBMOVED), StorageErrorKind::ReadOnly);
  EXPECT_EQ(classify_sqlite_code(SQLITE_IOERR_WRITE), StorageErrorKind::Io);
  EXPECT_EQ(classify_sqlite_code(SQLITE_CORRUPT_INDEX), StorageErrorKind::Corrupt);
  EXPECT_EQ(classify_sqlite_code(SQLITE_BUSY_SNAPSHOT), StorageErrorKind::Busy);
  EXPECT_EQ(classify_sqlite_code(SQLITE_CONSTRAINT_UNIQUE), StorageErrorKind::Generic);
  EXPECT_FALSE(StorageError(StorageErrorKind::Busy, "p", "m").disk_trouble());
}

TEST(DatabaseErrors, SecondWriterWaitsThenGetsBusy) {
  TempDir dir;
  const std::string path = dir.file("a.db");
  Database a(path);
  a.exec("CREATE TABLE t(x INTEGER)");
  OpenOptions quick;
  quick.busy_timeout = std::chrono::milliseconds(50);
  Database b(path, quick);
  Transaction holding(a);
  try {
    Transaction tx(b);
    FAIL() << "second writer got the lock";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.kind(), StorageErrorKind::Busy) << e.what();
  }
  // WAL: a reader is not blocked by the writer.
  EXPECT_EQ(b.query_int64("SELECT count(*) FROM t"), 0);
}

}  // namespace
}  // namespace streamgate::storage
