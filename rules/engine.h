// Engine: the public face of rules/. Loads rule files, takes raw messages (topic + JSON payload),
// runs every rule bound to the topic, and hands results to a sink. Single-threaded by design:
// one worker owns one Engine and all its state (see DESIGN.md), so nothing here locks.
//
// It never touches MQTT, SQLite or threads: the gateway feeds it, `streamgate replay` feeds it
// from a file, tests and benchmarks feed it from memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/time_util.h"

namespace streamgate::rules {

//! A user error in a rule file, reported as `file:line:col: message`.
struct RuleError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  std::string to_string() const;
};

enum class EmissionKind : std::uint8_t {
  Result,  //!< a row of a rule's SELECT
  Late,    //!< an event that arrived after its window closed (late-data output)
  Alert,   //!< alert raised / cleared (retained state topic handled by the publisher)
};

//! One message leaving the engine. The payload is a complete JSON document.
struct Emission {
  EmissionKind kind = EmissionKind::Result;
  std::string rule;     //!< rule name
  std::string topic;    //!< output topic
  int qos = 0;
  bool retain = false;
  std::string payload;  //!< JSON text
  //! Per rule, 0-based index of the trigger (window firing, or the input event for
  //! non-windowed rules) that produced this row; rows of one window share it.
  std::uint64_t emission_index = 0;
  //! Deterministic across restarts: rule + rule-text hash + window + group key (+ row number).
  std::string result_id;
};

using EmitFn = std::function<void(Emission&&)>;

//! Why a message was not accepted. Counted per reason; the gateway may dead-letter it.
enum class IngestStatus : std::uint8_t {
  Ok,
  NoStream,          //!< topic matched no stream (not an error for the gateway)
  MalformedJson,     //!< not JSON, truncated, invalid UTF-8
  NotAnObject,       //!< JSON, but not an object (or array of objects)
  TooLarge,          //!< payload over EngineOptions::max_payload_bytes
  TooDeep,           //!< nesting over EngineOptions::max_depth
  MissingTimestamp,  //!< stream has TIMESTAMP and the field is absent or null
  BadTimestamp,      //!< timestamp not parseable, NaN/Inf, or beyond max_future
  Duplicate,         //!< event id already seen within the dedup horizon
};
const char* to_string(IngestStatus s);

struct EngineOptions {
  std::size_t max_payload_bytes = 256 * 1024;
  std::size_t max_depth = 64;
  //! Events further than this ahead of processing time are rejected (BadTimestamp): one bad
  //! clock must not push the watermark past every open window.
  TimeNs max_future = 24 * 3600 * kNsPerSec;
  //! Bounds on what grows with the data (per rule). Hitting one is counted in RuleMetrics.
  std::size_t max_open_windows = 10'000;
  std::size_t max_group_keys = 100'000;
  std::size_t max_rows_per_window = 100'000;  //!< rows buffered by non-aggregate window SELECTs
  //! Events held back per rule until the watermark passes them: rows buffered by
  //! non-aggregate window SELECTs (all open windows together), the rows of a sliding
  //! CountingWindow, the MATCH_RECOGNIZE out-of-order buffer.
  std::size_t max_pending_events = 100'000;
  //! Distinct values kept per group for an aggregate(DISTINCT ...) (beyond: counted, ignored).
  std::size_t max_distinct_values = 100'000;
  //! Event ids remembered per stream with EVENT_ID (oldest forgotten first, besides the
  //! time horizon).
  std::size_t max_dedup_ids = 1'000'000;
  //! Called when one of the bounds above refuses data, at most once per
  //! `limit_report_interval` of processing time per rule and bound, with one line naming the
  //! rule, the bound and the counts (the gateway logs it). Empty: counted in RuleMetrics only.
  std::function<void(const std::string& message)> on_limit;
  TimeNs limit_report_interval = 10 * kNsPerSec;
};

struct RuleMetrics {
  std::string name;
  std::uint64_t events_in = 0;
  std::uint64_t events_filtered = 0;  //!< rejected by WHERE
  std::uint64_t results_out = 0;
  std::uint64_t late_events = 0;
  std::uint64_t dropped_keys = 0;     //!< new keys refused at max_group_keys
  std::uint64_t dropped_windows = 0;  //!< windows refused at max_open_windows
  std::uint64_t dropped_rows = 0;     //!< rows refused at max_rows_per_window / max_pending_events
  std::uint64_t dropped_values = 0;   //!< distinct values refused at max_distinct_values
  std::uint64_t eval_errors = 0;      //!< e.g. type mismatch in an expression: row skipped
  std::uint64_t eval_ns = 0;          //!< time spent evaluating
  std::size_t open_windows = 0;
  std::size_t group_keys = 0;
  TimeNs watermark = kTimeMin;
  bool paused = false;
};

struct StreamInfo {
  std::string name;
  std::string topic_filter;  //!< MQTT filter; empty for rule-output streams
  int qos = 0;
};

struct RuleInfo {
  std::string name;
  std::string file;
  std::string text;       //!< the statement's source text
  std::string text_hash;  //!< hex; state is keyed by name + hash
  std::string from;       //!< input stream or rule
  std::string output_topic;
  int qos = 0;
  std::string delivery = "at_least_once";  //!< DELIVERY option of the rule
};

//! Readable bytes the JSON parser may read past the end of a payload (simdjson's padding);
//! see Engine::on_message(..., padded).
inline constexpr std::size_t kJsonPadding = 64;

class Engine {
 public:
  explicit Engine(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  //! Parses one rule file and adds its streams and rules. On any error nothing from the file is
  //! added and every error is returned (file:line:col). A statement replacing an existing rule of
  //! the same name with identical text keeps that rule's state.
  std::vector<RuleError> load_file(std::string_view file_name, std::string_view text);

  //! Replaces the whole rule set atomically with the given files (hot reload). Rules whose name
  //! and text are unchanged keep their state; changed rules start fresh; removed rules go.
  //! On any error the current rule set stays as it was.
  std::vector<RuleError> reload(const std::vector<std::pair<std::string, std::string>>& files);

  //! Validation only (check-rules): errors of one file, nothing is added.
  static std::vector<RuleError> check(std::string_view file_name, std::string_view text);

  //! MQTT subscriptions the streams need (deduplicated).
  std::vector<StreamInfo> streams() const;
  std::vector<RuleInfo> rules() const;

  //! Feeds one message that arrived on `topic` at processing time `now_ns`.
  //! `padded`: the caller promises kJsonPadding readable bytes after the payload (e.g. a ring
  //! slot or a string with spare capacity; their content does not matter), which saves copying
  //! it into a padded buffer.
  IngestStatus on_message(std::string_view topic, std::string_view payload, TimeNs now_ns,
                          const EmitFn& emit, bool padded = false);

  //! Processing-time progress: fires processing-time windows and IDLETIMEOUTs.
  void on_tick(TimeNs now_ns, const EmitFn& emit);

  //! End of input (replay): event time goes to +infinity and every open window fires.
  void flush(const EmitFn& emit);

  std::vector<RuleMetrics> metrics() const;
  bool set_paused(std::string_view rule, bool paused);

  //! Checkpoint support: the state of every rule as JSON keyed by rule name + text hash, and
  //! its inverse. Restoring state of a rule whose text hash differs is ignored.
  nlohmann::json save_state() const;
  void restore_state(const nlohmann::json& saved);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

//! MQTT topic-filter matching with `+`, `#` and `$share/<group>/` prefixes; topics starting
//! with `$` do not match filters starting with a wildcard (MQTT 3.1.1 section 4.7.2).
bool topic_matches(std::string_view filter, std::string_view topic);

}  // namespace streamgate::rules
