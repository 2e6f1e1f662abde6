// The vocabulary every stage of the engine shares with the engine's users: rule errors, source
// files, emissions, ingest statuses, engine options (bounds), rule metrics, delivery levels and
// what the engine tells about its streams and rules. Plain data, no behaviour: the stages
// (planner, runtime, windows, ingest, functions) include this, never rules/engine.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "rules/table/table_source.h"
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

//! A rule file's name and text, as the planner reads it.
struct SourceFile {
  std::string name;
  std::string text;
};

enum class EmissionKind : std::uint8_t {
  Result,  //!< a row of a rule's SELECT
  Late,    //!< an event that arrived after its window closed (late-data output)
  Alert,   //!< alert raised / cleared (retained state topic handled by the publisher)
  //! Cluster mode only (EngineOptions::partial_rules): one group's aggregate state of a fired
  //! window, CBOR in `payload`, for the merge stage (Engine::merge_partial). Never published
  //! to a topic.
  Partial,
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
  //! Rows a CREATE TABLE holds (its MAXROWS option may lower it); rows beyond are refused,
  //! counted and reported (on_limit, on_table_event).
  std::size_t max_table_rows = 100'000;
  //! Called when one of the bounds above refuses data, at most once per
  //! `limit_report_interval` of processing time per rule and bound, with one line naming the
  //! rule, the bound and the counts (the gateway logs it). Empty: counted in RuleMetrics only.
  std::function<void(const std::string& message)> on_limit;
  TimeNs limit_report_interval = 10 * kNsPerSec;
  //! Reads TYPE='sqlite' tables (the engine room does not link SQLite; the gateway sets it).
  //! Empty: such a table stays empty (its loads fail: logged, counted).
  table::LoadFn sqlite_loader;
  //! One line per table (re)loaded, and per load that failed (`failed`: the old rows stay).
  std::function<void(const std::string& message, bool failed)> on_table_event;
  //! Cluster mode (docs/scaling-out.md): fleet-wide windowed rules run in two phases; these
  //! rules emit EmissionKind::Partial at each window's end instead of result rows.
  std::vector<std::string> partial_rules;
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

//! A rule's DELIVERY option (see docs/guarantees.md): what the gateway's sink does with its rows.
enum class Delivery : std::uint8_t { AtMostOnce, AtLeastOnce, ExactlyOnce };
//! "at_most_once" | "at_least_once" | "exactly_once": the spelling of the DELIVERY option.
const char* to_string(Delivery d);
//! Inverse of to_string(Delivery), case-insensitive; nothing for any other text.
std::optional<Delivery> parse_delivery(std::string_view text);

//! A CREATE TABLE's contents and what happened loading it.
struct TableMetrics {
  std::string name;
  std::size_t rows = 0;
  std::uint64_t loads = 0;         //!< successful (re)loads
  std::uint64_t load_errors = 0;   //!< failed (re)loads: the previous contents stayed
  std::uint64_t refused_rows = 0;  //!< rows beyond the table's row bound (MAXROWS, max_table_rows)
  std::uint64_t bad_messages = 0;  //!< MQTT table: payloads not an object or without the key
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
  Delivery delivery = Delivery::AtLeastOnce;  //!< DELIVERY option of the rule
};

//! Readable bytes the JSON parser may read past the end of a payload (simdjson's padding);
//! see Engine::on_message(..., padded).
inline constexpr std::size_t kJsonPadding = 64;

}  // namespace streamgate::rules
