// Compiled plan of a rule set: streams with their options and field-slot tables, rules with
// resolved expressions, aggregate layouts and window specs. Built by plan_files() from ASTs;
// consumed by the runtime. Immutable once built.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "rules/expr/expr.h"
#include "rules/function_registry.h"
#include "rules/alert/alert.h"
#include "rules/pattern/automaton.h"
#include "rules/pattern/matcher.h"
#include "rules/topic.h"
#include "rules/vocabulary.h"

namespace streamgate::rules::window {
class WindowType;
}

namespace streamgate::rules::plan {

struct StreamDef {
  std::string name;
  std::string file;
  std::string text;
  std::string text_hash;
  std::string topic_filter;      //!< empty for rule-output streams
  int source_rule = -1;          //!< rule index whose output this stream is, or -1
  std::string timestamp_field;   //!< empty: processing time
  std::string event_id_field;    //!< empty: no dedup
  TimeNs max_out_of_order = 0;
  TimeNs allowed_lateness = 0;
  TimeNs idle_timeout = 0;       //!< 0: off
  //! MAXAHEAD: an event further than this ahead of the stream's latest accepted event time
  //! (moved on by the processing time since) does not advance the watermark; it goes to the
  //! rules' late output with reason "ahead". 0: off.
  TimeNs max_ahead = 0;
  TimeNs dedup_horizon = 10 * 60 * kNsPerSec;
  int qos = 0;

  //! Row layout: each reading rule owns a contiguous range of slots (rule-local order), so a
  //! rule's buffered rows do not depend on which other rules read the same stream.
  std::vector<std::string> slot_fields;  //!< field name of each slot
  bool need_whole = false;               //!< some reader selects `*` or needs the whole event
  std::vector<int> readers;              //!< rule indexes reading FROM this stream
  std::vector<int> join_readers;         //!< rules joining this stream as the right side
};

//! Rule-local field names of joined table columns start with this (no JSON key is read for
//! them: the join stage fills them).
inline constexpr std::string_view kJoinField{"\0join", 5};

enum class ColumnType : std::uint8_t { Any, String, Int, Double, Bool };

//! CREATE TABLE: a keyed set of rows that rules JOIN against (rules/table/).
struct TableDef {
  enum class Source : std::uint8_t { File, Mqtt, Sqlite };
  std::string name;
  std::string file;
  std::string text;
  std::string text_hash;
  std::vector<std::string> columns;
  std::vector<ColumnType> types;
  std::vector<int> key;           //!< KEY columns: a row's identity (later rows replace earlier)
  Source source = Source::File;
  std::string path;               //!< File / Sqlite: resolved against the rule file's folder
  bool json = false;              //!< File: JSON (array of objects or JSON lines), else CSV
  std::string sqlite_table;       //!< Sqlite: TABLE option
  std::string topic_filter;       //!< Mqtt: TOPIC option
  int qos = 0;
  TimeNs reload_interval = 10 * kNsPerSec;  //!< File / Sqlite: how often the file is looked at
  std::size_t max_rows = 0;       //!< MAXROWS; 0: EngineOptions::max_table_rows
  //! Column sets rules look rows up by (one hash index each), filled by the rules' joins.
  std::vector<std::vector<int>> indexes;
};

//! `FROM s JOIN t ON s.a = t.x AND ...`: per event, the rows of table t whose columns equal the
//! stream-side expressions; their columns fill rule-local fields.
//! `FROM a JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts + lower AND a.ts + upper`: an interval
//! join of two streams (rules/join/interval_join.h). The rule reads `a` as usual and `b` as a
//! join reader; b's fields are rule-local fields too (NULL in a left row and vice versa).
struct IntervalJoinPlan {
  int stream = -1;                         //!< the right stream (b)
  TimeNs lower = 0, upper = 0;             //!< b.t - a.t must lie in [lower, upper]
  std::vector<expr::NodePtr> left_keys;    //!< over the left row's fields
  std::vector<expr::NodePtr> right_keys;   //!< over the right row's fields (same layout)
  std::vector<std::pair<int, int>> fields; //!< (rule-local field, right-local slot)
  std::vector<std::string> right_fields;   //!< right-local field names (slots in stream b)
  int right_slot_offset = 0;               //!< where they start in stream b's slots
  //! LEFT JOIN: a left row that found no partner comes out once, with the right fields NULL,
  //! when no partner can come any more (interval: the right watermark passed its interval;
  //! window: its window fires).
  bool left = false;
  //! No time bound in ON: a window join (rules/join/window_join.h). The rows of both streams in
  //! one window of the rule's TUMBLINGWINDOW / HOPPINGWINDOW are joined when it fires; the
  //! bounds above are unused.
  bool in_window = false;
};

struct TableJoin {
  int table = -1;
  bool left = false;
  int index = -1;                          //!< into TableDef::indexes
  std::vector<expr::NodePtr> probe;        //!< row context, one per index column
  std::vector<std::pair<int, int>> fields; //!< (rule-local field, table column)
};

//! A rule's window: its kind (rules/window/window_type.h) and the arguments the kind read.
struct WindowSpec {
  const window::WindowType* type = nullptr;  //!< null: no window
  TimeNs size = 0;          //!< tumbling / hopping / per-event size
  TimeNs slide = 0;         //!< hopping hop
  TimeNs delay = 0;         //!< per-event window: how long after its event it closes
  TimeNs gap = 0;           //!< session gap
  TimeNs max_duration = 0;  //!< session max duration (0: none)
  std::int64_t count = 0;   //!< counting window size
  std::int64_t count_slide = 0;  //!< counting hop (0: tumbling)
  //! Conditions on the input row (row context), e.g. STATEWINDOW's begin and end.
  std::vector<expr::NodePtr> conditions;
};

struct AggSpec {
  const AggregateFunction* fn = nullptr;
  std::string name;
  std::vector<expr::NodePtr> args;  //!< row context
  bool star = false;                //!< count(*)
  bool distinct = false;
  expr::NodePtr filter;             //!< row context, may be null
  std::size_t offset = 0;           //!< in the group's arena block
  int distinct_index = -1;          //!< which distinct set of the group
};

struct StatefulSpec {
  const StatefulFunction* fn = nullptr;
  std::string name;
  std::vector<expr::NodePtr> partition;  //!< OVER (PARTITION BY ...); empty: default partition
  bool output_context = false;           //!< evaluated per output row (args hold aggregates)
  std::string signature;                 //!< phase + structure: identical calls share a site
};

struct OutputItem {
  std::string name;
  bool star = false;
  expr::NodePtr expr;  //!< null when star
};

struct OrderSpec {
  expr::NodePtr expr;  //!< output context (may reference OutRef)
  bool descending = false;
};

//! FROM s MATCH_RECOGNIZE (...): the rule's input rows go through the pattern matcher; the rest
//! of the rule (WHERE, windows, SELECT) reads match rows whose columns are `columns`.
struct MatchPlan {
  pattern::Automaton automaton;
  pattern::MatcherOptions options;       //!< within, skip, history (bounds set by the runtime)
  int input_width = 0;                   //!< input slots: the rule's `fields`
  std::vector<expr::NodePtr> partition;  //!< input-row context
  std::vector<expr::NodePtr> defines;    //!< per automaton variable; null: any row
  std::vector<std::string> columns;      //!< match-row columns: PARTITION BY names, then MEASURES
  std::vector<expr::NodePtr> measures;   //!< navigation context over the match
};

//! CREATE ALERT: the rule's rows feed a per-key alert state machine instead of its topic.
struct AlertPlan {
  alert::AlertOptions options;
  std::vector<int> key_items;  //!< KEY: output items forming the key; empty: the default key
  int key_slots = 0;           //!< default key of a MATCH_RECOGNIZE alert: first row slots
  //! The condition: WHERE of a per-event rule, HAVING of a windowed one; null: always true.
  expr::NodePtr condition;
};

struct RulePlan {
  std::string name;
  std::string file;
  std::string text;
  std::string text_hash;
  std::string from;
  int stream = -1;       //!< stream index read
  int out_stream = -1;   //!< stream index of this rule's output
  std::string topic;
  //! TOPIC with {column} placeholders, filled per output row (when has_placeholders()).
  TopicTemplate topic_template;
  std::string late_topic;
  int qos = 0;
  bool retain = false;
  Delivery delivery = Delivery::AtLeastOnce;  //!< DELIVERY option
  TimeNs state_ttl = 24 * 3600 * kNsPerSec;

  int slot_offset = 0;   //!< start of this rule's range in the stream's slots
  int slot_count = 0;
  std::vector<std::string> fields;  //!< rule-local field names (slot_offset + i)
  bool need_whole = false;

  expr::NodePtr where;                      //!< row context
  std::vector<expr::NodePtr> group_keys;    //!< row context
  WindowSpec window;
  bool aggregate_mode = false;              //!< one row per group (aggregates or keys)
  std::vector<AggSpec> aggs;
  std::size_t arena_size = 0;
  std::size_t arena_align = 1;
  int distinct_sets = 0;
  std::vector<StatefulSpec> statefuls;

  //! Output context (aggregate mode): fields remembered from each group's last event.
  std::vector<int> last_row_fields;         //!< rule-local field indexes
  bool last_row_whole = false;

  std::vector<OutputItem> items;  //!< row context in per-event modes, output context otherwise
  expr::NodePtr having;
  std::vector<OrderSpec> order_by;
  std::optional<std::int64_t> limit;
  bool distinct = false;

  std::vector<TableJoin> joins;     //!< FROM s JOIN table ..., in order
  std::unique_ptr<IntervalJoinPlan> interval;  //!< FROM a JOIN b (two streams)
  std::unique_ptr<MatchPlan> match;  //!< FROM ... MATCH_RECOGNIZE
  std::unique_ptr<AlertPlan> alert;  //!< CREATE ALERT

  bool windowed() const { return window.type != nullptr; }
};

struct Plan {
  std::vector<StreamDef> streams;
  std::vector<RulePlan> rules;
  std::vector<TableDef> tables;
  int find_stream(std::string_view name) const;
  int find_table(std::string_view name) const;
  int find_rule(std::string_view name) const;
};

//! Parses and plans all files in order (later files may read FROM earlier ones). Errors are
//! collected over all files; the plan is only meaningful when there are none.
std::unique_ptr<Plan> plan_files(const std::vector<SourceFile>& files,
                                 std::vector<RuleError>& errors);

//! FNV-1a 64-bit, as 16 hex digits: rule text hashes and result ids (stable across builds).
std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ULL);
std::string hex64(std::uint64_t v);

}  // namespace streamgate::rules::plan
