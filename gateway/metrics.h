// Process figures for operators: a Prometheus text formatter, a JSON formatter for the periodic
// `metrics-topic` message, the worker-owned per-topic counters, and the snapshot hand-off from
// the worker to the HTTP thread. The worker builds a snapshot about once a second and publishes
// it with one atomic pointer swap; readers never touch live state, so the hot path takes no lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rules/engine.h"

namespace streamgate::gateway {

struct PipelineMetrics;
struct MqttClientStats;

//! Figures owned by the durability code (outbox, checkpoints). It stores into these atomics;
//! the metrics snapshot only reads them. Negative outbox_depth means "no outbox configured".
struct DurabilityGauges {
  std::atomic<std::int64_t> outbox_depth{-1};
  std::atomic<std::int64_t> last_checkpoint_duration_ns{0};
  std::atomic<std::uint64_t> checkpoints{0};
  std::atomic<std::uint64_t> checkpoint_failures{0};
  std::atomic<std::int64_t> last_checkpoint_unix_ns{0};  //!< wall clock of the last checkpoint (0: none yet)
};

//! Control-topic request outcomes (written by the worker).
struct ControlStats {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};  //!< well-formed and authorised, but the operation failed
  std::atomic<std::uint64_t> denied{0};  //!< bad or missing HMAC, or malformed request
};

//! One sample: label pairs and a value.
struct MetricPoint {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

//! One metric name with its HELP text, TYPE ("counter" or "gauge") and samples.
struct MetricFamily {
  std::string name;
  std::string help;
  std::string type;
  std::vector<MetricPoint> points;
};

//! Prometheus text exposition format 0.0.4.
std::string format_prometheus(const std::vector<MetricFamily>& families);
//! {"name": value} for unlabelled families, {"name": [{"labels"..., "value": v}]} otherwise.
std::string format_metrics_json(const std::vector<MetricFamily>& families, std::int64_t timestamp_ns);

//! Message counts per topic, bounded: after `max_topics` distinct topics new ones count as
//! "other" (topics often carry device ids; an unbounded map would grow with the fleet).
//! Worker thread only.
class TopicCounter {
 public:
  explicit TopicCounter(std::size_t max_topics = 1000) : max_topics_(max_topics) {}
  void add(std::string_view topic);
  //! The `n` busiest topics, then "other" holding the rest (if any).
  std::vector<std::pair<std::string, std::uint64_t>> top(std::size_t n) const;

 private:
  // Transparent hash: lookups by string_view build no temporary string on the hot path.
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::size_t max_topics_;
  std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> counts_;
  std::uint64_t other_ = 0;
};

//! Everything a snapshot is built from (worker thread, once per interval).
struct MetricsInputs {
  const PipelineMetrics* pipeline = nullptr;
  std::vector<rules::RuleMetrics> rules;
  std::vector<rules::TableMetrics> tables;  //!< CREATE TABLE: rows, loads, refusals per table
  std::size_t ingress_size = 0, ingress_capacity = 0;
  std::size_t egress_size = 0, egress_capacity = 0;
  const MqttClientStats* input_stats = nullptr;
  const MqttClientStats* output_stats = nullptr;  //!< null when input and output share a connection
  bool input_connected = false;
  bool output_connected = false;
  const DurabilityGauges* durability = nullptr;
  const ControlStats* control = nullptr;
  const TopicCounter* topics_in = nullptr;
  const TopicCounter* topics_out = nullptr;
  std::size_t top_topics = 20;
  std::uint64_t rss_bytes = 0;
  double uptime_seconds = 0;
};

std::vector<MetricFamily> collect_metric_families(const MetricsInputs& in);

//! Resident set size from /proc/self/statm (0 when unavailable).
std::uint64_t resident_memory_bytes();

//! What the HTTP thread serves; immutable once published.
struct MetricsSnapshot {
  std::int64_t taken_ns = 0;
  std::string prometheus;
  std::string json;
  std::string rules;  //!< JSON array of the loaded rules (name, file, sql...); dashboard only
};

//! Single writer (worker), any number of readers: publishing swaps an atomic shared pointer,
//! so a reader keeps the snapshot it loaded alive while the worker moves on.
class SnapshotBox {
 public:
  void publish(std::shared_ptr<const MetricsSnapshot> s) { current_.store(std::move(s)); }
  std::shared_ptr<const MetricsSnapshot> load() const { return current_.load(); }

 private:
  std::atomic<std::shared_ptr<const MetricsSnapshot>> current_;
};

//! Health for GET /health: the worker's heartbeat counter must have moved within `stall`.
//! Called from one thread (the HTTP thread) that samples it regularly.
class ProgressMonitor {
 public:
  ProgressMonitor(const std::atomic<std::uint64_t>& beats, std::int64_t stall_ns)
      : beats_(beats), stall_ns_(stall_ns) {}
  bool healthy(std::int64_t now_steady_ns);

 private:
  const std::atomic<std::uint64_t>& beats_;
  std::int64_t stall_ns_;
  std::uint64_t last_beats_ = 0;
  std::int64_t last_change_ns_ = 0;
};

}  // namespace streamgate::gateway
