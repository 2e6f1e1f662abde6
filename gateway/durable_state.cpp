// DurableState: the state database's connections, the durable flag, degraded mode and recovery.
#include "gateway/durable_state.h"

#include "gateway/clock.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "gateway/pipeline_metrics.h"
#include "storage/migrations.h"

namespace streamgate::gateway {

namespace {


constexpr std::int64_t kRemindIntervalNs = 5'000'000'000;  // STATE NOT DURABLE every 5 s
constexpr std::size_t kMarkerBytes = 4096;                 // allocated at start: writable on a full disk
constexpr char kMarkerWhole[] = "lineage=whole\n";
constexpr char kMarkerBroken[] = "lineage=broken\n";

}  // namespace

DurableState::DurableState(const Config& config, PipelineMetrics& metrics) : config_(config), metrics_(metrics) {}

DurableState::~DurableState() {
  if (marker_fd_ >= 0) ::close(marker_fd_);
}

bool DurableState::open() {
  if (config_.state_db.empty()) {
    spdlog::warn("no state-db: rule state, the input journal and the outbox live in memory only");
    return false;
  }
  try {
    publisher_db_ = std::make_unique<storage::Database>(storage::open_database(config_.state_db));
    receive_db_ = std::make_unique<storage::Database>(storage::open_database(config_.state_db));
    worker_db_ = std::make_unique<storage::Database>(storage::open_database(config_.state_db));
  } catch (const std::exception& ex) {
    worker_db_.reset();
    receive_db_.reset();
    publisher_db_.reset();
    if (config_.state_required) {
      throw std::runtime_error("state database '" + config_.state_db + "' is unusable and state-required = true: " +
                               ex.what());
    }
    on_error(ex, "open");
    return false;
  }
  // The marker: read what the last run left, then allocate its space for this run.
  const std::string marker = config_.state_db + ".lineage";
  marker_fd_ = ::open(marker.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (marker_fd_ >= 0) {
    char buf[32] = {};
    const ssize_t n = ::pread(marker_fd_, buf, sizeof buf - 1, 0);
    lineage_broken_at_start_ = n > 0 && std::strncmp(buf, kMarkerBroken, std::strlen(kMarkerBroken)) == 0;
    if (::posix_fallocate(marker_fd_, 0, kMarkerBytes) != 0) {
      spdlog::warn("state db {}: cannot allocate {}: a crash during a disk-full period may re-emit "
                   "windows with partial totals", config_.state_db, marker);
    }
  } else {
    spdlog::warn("state db {}: cannot open {}: {}", config_.state_db, marker, std::strerror(errno));
  }
  durable_.store(true, std::memory_order_release);
  return true;
}

void DurableState::write_marker(bool broken) {
  if (marker_fd_ < 0) return;
  const char* text = broken ? kMarkerBroken : kMarkerWhole;
  char buf[32] = {};
  std::memcpy(buf, text, std::strlen(text));
  // Same length every time, inside space allocated at start: needs no new disk blocks.
  if (::pwrite(marker_fd_, buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf)) return;
  ::fdatasync(marker_fd_);
}

void DurableState::on_error(const std::exception& ex, const char* where) {
  metrics_.storage_errors.fetch_add(1, std::memory_order_relaxed);
  const auto* se = dynamic_cast<const storage::StorageError*>(&ex);
  last_kind_.store(se != nullptr ? static_cast<int>(se->kind()) : 0, std::memory_order_relaxed);
  last_where_.store(where, std::memory_order_relaxed);
  const bool was_durable = durable_.exchange(false, std::memory_order_acq_rel);
  if (was_durable) {
    degraded_since_ns_.store(steady_now_ns(), std::memory_order_relaxed);
    write_marker(true);  // from here the checkpoint + journal on disk are no longer a whole lineage
  }
  const char* kind = se != nullptr ? storage::to_string(se->kind()) : "error";
  if (config_.state_required) {
    if (!failed_.exchange(true)) {
      spdlog::critical("state database '{}' failed ({}, {}): {}; state-required = true: stopping", config_.state_db,
                       where, kind, ex.what());
      ::kill(::getpid(), SIGTERM);  // main's sigwait runs the orderly stop
    }
    return;
  }
  const std::int64_t t = steady_now_ns();
  std::int64_t last = last_log_ns_.load(std::memory_order_relaxed);
  if ((was_durable || t - last > kRemindIntervalNs) && last_log_ns_.compare_exchange_strong(last, t)) {
    spdlog::error("STATE NOT DURABLE: state database '{}' failed ({}, {}): {}. Processing continues IN MEMORY: "
                  "no checkpoints, input journal or outbox until the database takes writes again (probed every "
                  "5 s); a crash now loses open windows and unsent results (set state-required = true to stop "
                  "instead) [{} storage errors]",
                  config_.state_db, where, kind, ex.what(), metrics_.storage_errors.load());
  }
}

void DurableState::remind() {
  if (!enabled() || durable() || failed()) return;
  const std::int64_t t = steady_now_ns();
  std::int64_t last = last_log_ns_.load(std::memory_order_relaxed);
  if (t - last <= kRemindIntervalNs || !last_log_ns_.compare_exchange_strong(last, t)) return;
  const std::int64_t since = degraded_since_ns_.load(std::memory_order_relaxed);
  spdlog::error("STATE NOT DURABLE for {} s: state database '{}' ({}, {}); processing continues in memory, "
                "probing every 5 s [{} storage errors]",
                since != 0 ? (t - since) / 1'000'000'000 : 0, config_.state_db,
                last_where_.load(std::memory_order_relaxed),
                storage::to_string(static_cast<storage::StorageErrorKind>(last_kind_.load(std::memory_order_relaxed))),
                metrics_.storage_errors.load());
}

bool DurableState::probe(const std::function<void()>& reset) {
  if (!enabled() || durable() || failed()) return false;
  try {
    storage::Transaction tx(*publisher_db_);
    reset();
    tx.commit();
  } catch (const std::exception&) {
    return false;  // still failing: try again in 5 s
  }
  return true;
}

void DurableState::set_durable_again() { durable_.store(true, std::memory_order_release); }

void DurableState::lineage_restored() {
  write_marker(false);
  const std::int64_t since = degraded_since_ns_.exchange(0, std::memory_order_relaxed);
  metrics_.storage_recoveries.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("state database '{}' takes writes again after {} s: state is durable again (fresh checkpoint saved)",
               config_.state_db, since != 0 ? (steady_now_ns() - since) / 1'000'000'000 : 0);
}

}  // namespace streamgate::gateway
