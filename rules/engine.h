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
#include "rules/topic_filter.h"
#include "rules/vocabulary.h"

namespace streamgate::rules {

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
  //! Whether on_tick() can still fire something: a source stream follows the clock (no
  //! TIMESTAMP, or an IDLETIMEOUT) and a rule reading it (or reading such a rule) has an open
  //! window. Cluster mode journals clock ticks for a quiet partition only while this holds.
  bool waits_on_clock() const;

  //! End of input (replay): event time goes to +infinity and every open window fires.
  void flush(const EmitFn& emit);

  //! Cluster mode, merge stage: adds one Partial emission's payload (from any partition's
  //! engine over the same rule files) to the rule's merged window.
  enum class MergeStatus : std::uint8_t { Merged, Late, UnknownRule, Malformed };
  MergeStatus merge_partial(std::string_view payload);
  //! Cluster mode, merge stage: every partition's watermark of `rule` has passed `watermark`:
  //! fires the merged windows ending at or before it, with single-box ids and payloads. Their
  //! rows feed the rules reading FROM `rule` (PartitionPlan::merge_stage), whose event time
  //! moves on to `watermark` with it.
  void advance_rule(std::string_view rule, TimeNs watermark, TimeNs now_ns, const EmitFn& emit);
  //! Cluster mode, an idle partition: moves every source stream's event time on to at least
  //! `watermark` (the rest of the fleet's), firing what that closes.
  void advance_event_time(TimeNs watermark, TimeNs now_ns, const EmitFn& emit);
  //! Cluster mode: replaces EngineOptions::partial_rules (before a reload whose rule set has
  //! other fleet-wide rules); applies to the rules loaded now and later.
  void set_partial_rules(std::vector<std::string> rules);

  std::vector<RuleMetrics> metrics() const;
  std::vector<TableMetrics> table_metrics() const;
  bool set_paused(std::string_view rule, bool paused);

  //! Checkpoint support: the state of every rule as JSON keyed by rule name + text hash, and
  //! its inverse. Restoring state of a rule whose text hash differs is ignored.
  nlohmann::json save_state() const;
  void restore_state(const nlohmann::json& saved);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamgate::rules
