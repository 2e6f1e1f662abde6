// Per-rule runtime state and processing: WHERE, group tables (each group one record: header and
// aggregate states), open windows (time, session, counting), stateful-function states, emission of rows.
// One RuleRuntime per rule; its state survives a reload when the rule's name and text do not
// change (the object is moved to the new rule set and re-pointed at the new plan).
#pragma once

#include <deque>
#include <cstddef>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "rules/alert/alert.h"
#include "rules/expr/expr.h"
#include "rules/join/interval_join.h"
#include "rules/join/stream_table_join.h"
#include "rules/join/window_join.h"
#include "rules/planner/plan.h"
#include "rules/runtime/match_stage.h"
#include "rules/window/window.h"
#include "rules/window/window_type.h"
#include "rules/vocabulary.h"

namespace streamgate::rules::runtime {

//! One input row as a rule sees it.
struct Row {
  const Value* slots = nullptr;  //!< rule-local fields (plan.fields order)
  TimeNs event_time = 0;
  const Value* whole = nullptr;  //!< the whole event, when some reader needs it
  const simdjson::dom::element* raw = nullptr;  //!< the source JSON element, when parsed here
  //! A row of an upstream windowed rule whose windows can be revised (ALLOWEDLATENESS): the
  //! upstream row's identity (its result id without the revision). A later row with the same
  //! origin replaces this one in every window that holds it. Empty: a plain event.
  std::string_view origin;
};

struct GroupExtra {
  std::vector<std::unordered_set<Value, ValueHash>> distinct;
  std::vector<Value> last_row;  //!< the group's last event (arrival order): bare columns
  Value whole;                  //!< ... and the whole of it for SELECT *
  //! Event time of that event: partitions' last rows merge by it (merge_group across partitions).
  TimeNs last_time = kTimeMin;
};

struct Group {
  Value key;
  std::uint64_t hash = 0;
  std::byte* aggs = nullptr;  //!< the rule's aggregate states, right after this header
  std::unique_ptr<GroupExtra> extra;
};

//! The groups of one window: fixed-size records (a Group header followed by the rule's
//! aggregate states, so an event's lookup and update touch one place in memory) in pages, kept
//! in insertion (first appearance) order, with an open-addressing index. Records never move.
class GroupTable {
 public:
  GroupTable() = default;
  GroupTable(const GroupTable&) = delete;
  GroupTable& operator=(const GroupTable&) = delete;
  //! Destroys the Group headers. Aggregate states are the runtime's (RuleRuntime::destroy_window).
  ~GroupTable();

  Group* find(const Value& key, std::uint64_t hash);
  //! Adds a group whose `aggs` points at state_size uninitialised bytes aligned to state_align;
  //! every insert of one table passes the same layout (the rule's).
  Group* insert(Value key, std::uint64_t hash, std::size_t state_size, std::size_t state_align);
  //! Sizes the index for n groups up front (a new window expecting as many keys as the last).
  void reserve(std::size_t n);
  //! Starts loading the index slot of `hash` (the lookup follows a little later).
  void prefetch(std::uint64_t hash) const {
    if (!table_.empty()) __builtin_prefetch(&table_[hash & (table_.size() - 1)]);
  }
  std::size_t size() const { return size_; }
  //! Heap bytes held (records, index): memory accounting.
  std::size_t bytes() const { return pages_.size() * page_bytes() + table_.capacity() * sizeof(Slot); }

  Group& at(std::size_t i) {
    return *reinterpret_cast<Group*>(pages_[i >> page_shift_].get() + (i & page_mask_) * record_);
  }
  const Group& at(std::size_t i) const { return const_cast<GroupTable*>(this)->at(i); }

  template <class T, class G>
  class Iter {
   public:
    Iter(T* t, std::size_t i) : t_(t), i_(i) {}
    G& operator*() const { return t_->at(i_); }
    G* operator->() const { return &t_->at(i_); }
    Iter& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const Iter& o) const { return i_ != o.i_; }

   private:
    T* t_;
    std::size_t i_;
  };
  Iter<GroupTable, Group> begin() { return {this, 0}; }
  Iter<GroupTable, Group> end() { return {this, size_}; }
  Iter<const GroupTable, const Group> begin() const { return {this, 0}; }
  Iter<const GroupTable, const Group> end() const { return {this, size_}; }

 private:
  struct Slot {
    std::uint32_t tag = 0;  //!< high half of the hash: most mismatches never touch the group
    std::uint32_t index = 0;  //!< group index + 1; 0 = empty
  };
  struct PageDelete {
    std::size_t align = 0;
    void operator()(std::byte* p) const;
  };
  using Page = std::unique_ptr<std::byte[], PageDelete>;
  static constexpr std::size_t kPageTarget = 16 * 1024;  //!< records per page: 16 KiB worth
  std::size_t page_bytes() const { return (page_mask_ + 1) * record_; }
  void grow();
  void rehash(std::size_t slots);

  std::vector<Page> pages_;
  std::vector<Slot> table_;
  std::size_t size_ = 0;
  std::size_t record_ = 0;       //!< bytes per record; 0 until the first insert
  std::size_t states_at_ = 0;    //!< offset of the states in a record
  std::size_t align_ = alignof(Group);
  unsigned page_shift_ = 0;      //!< records per page = 1 << page_shift_
  std::size_t page_mask_ = 0;
};

struct BufferedRow {
  TimeNs event_time = 0;
  std::vector<Value> slots;
  Value whole;
};

//! The rows of a time window that came from a revisable upstream rule, by origin, in arrival
//! order: a revision replaces its row and the window is rebuilt from these (issue 16).
struct OriginRows {
  std::vector<std::pair<std::string, BufferedRow>> rows;
  std::unordered_map<std::string, std::size_t> index;
};

struct WindowState {
  TimeNs start = 0;
  TimeNs end = 0;
  bool fired = false;
  std::uint32_t revision = 0;
  GroupTable groups;
  std::vector<BufferedRow> rows;  //!< per-event-row mode
  std::unique_ptr<OriginRows> origins;  //!< null unless rows with an origin arrived
};

struct StatefulEntry {
  std::unique_ptr<StatefulState> state;
  TimeNs touched = 0;
};

//! Where a rule's output goes: the engine (sink + downstream rules).
class Output {
 public:
  virtual ~Output() = default;
  //! `row` is the output row as an object when the rule has downstream readers, else null.
  virtual void result(int rule, Emission&& e, const Object* row, TimeNs event_time) = 0;
  virtual void late(Emission&& e) = 0;
};

class RuleRuntime : public expr::StatefulHost {
 public:
  RuleRuntime(const plan::RulePlan* plan, int index, const EngineOptions* options);
  ~RuleRuntime() override;

  //! Re-points a carried-over runtime at the equivalent rule of a new plan.
  void rebind(const plan::RulePlan* plan, int index) {
    plan_ = plan;
    due_ = true;
    build_stateful_sites();
    build_agg_inputs();
    index_ = index;
    if (match_) match_->rebind(plan->match.get());
  }
  //! FROM s JOIN table: the engine's tables, `tables[i]` for plan().joins[i] (after each
  //! install: a reload may have made new ones).
  void set_tables(std::vector<const table::Table*> tables);
  //! Interval join: a row of the right stream (its fields, IntervalJoinPlan::right_fields order).
  void on_right_row(const Value* slots, TimeNs event_time, TimeNs now, Output& out);
  //! Join of two streams (interval or window): one input's watermark moved; returns the rule's
  //! watermark.
  TimeNs join_watermark(bool right, TimeNs wm) {
    if (ijoin_) return ijoin_->on_watermark(right, wm);
    return wjoin_ ? wjoin_->on_watermark(right, wm) : wm;
  }
  const plan::RulePlan& plan() const { return *plan_; }

  //! One input row; `watermark` is the stream's watermark including this row.
  void on_row(const Row& row, TimeNs watermark, TimeNs now, Output& out);
  //! Fires every window whose end <= watermark, in order of end; drops expired state.
  void advance(TimeNs watermark, TimeNs now, Output& out);

  //! ALLOWEDLATENESS of the stream read: fired windows are kept this long for late updates.
  void set_lateness(TimeNs l) { lateness_ = l; }
  //! An event too far ahead of its stream (MAXAHEAD): routed like late data, reason "ahead".
  void on_ahead(const Row& row, TimeNs watermark, Output& out) {
    if (!paused) emit_late(row, watermark, out, "ahead");
  }

  bool has_downstream = false;
  bool paused = false;
  //! Cluster mode, partition side (rules/runtime/two_phase.cpp): a fired window goes out as
  //! each group's aggregate state (EmissionKind::Partial) for the merge stage, not as rows.
  bool partial_phase = false;
  //! Cluster mode, merge side: combines one partition's state of one group of the window
  //! [start, end) (a group as emit_partials writes it) into this rule's open windows; advance()
  //! then fires the merged window exactly as a single engine would. False when the window has
  //! fired already (a late partial) or a bound refused it.
  bool merge_partial(TimeNs start, TimeNs end, const nlohmann::json& group);
  RuleMetrics metrics() const;
  //! Windows open now (the window operator's and a window join's): metrics().open_windows
  //! without copying the rest.
  std::size_t open_windows() const;

  nlohmann::json save() const;
  void restore(const nlohmann::json& j);

  Value call_stateful(int site, Args args, expr::Ctx& ctx) override;

  // Window services: what the window operators (rules/window/, window_type.h) use to put rows
  // into windows and windows out as results, and the rule's bounds and counters.
  const EngineOptions& options() const { return *options_; }
  RuleMetrics& counters() { return m_; }
  TimeNs lateness() const { return lateness_; }
  //! Something is due before the watermark moves again: the next advance() does its work.
  void mark_due() { due_ = true; }
  //! Result ids of window rows start with this (rule name + text hash).
  const std::string& result_id_prefix() const { return id_prefix_; }
  std::uint64_t firings() const { return firings_; }
  //! Groups of the last closed window: sizes the index of the next one.
  std::size_t group_hint() const { return group_hint_; }
  //! The window the next row most likely goes to: its group index is prefetched early.
  void set_hot_window(WindowState* w) { hot_window_ = w; }
  //! Bounds of EngineOptions that refuse data, each reported on its own (rate-limited).
  enum class Limit : std::uint8_t { Keys, Windows, RowsPerWindow, Pending, Distinct, Count };
  void limit_hit(Limit which);
  //! Adds a row to w (its group's aggregates, or its buffered rows); false when a bound refused it.
  bool add_to_window(WindowState& w, const Row& row, const Value& key, std::uint64_t hash);
  //! Adds a group to w with its aggregate states constructed (and GroupExtra when needed).
  Group* new_group(WindowState& w, Value key, std::uint64_t hash);
  void destroy_window(WindowState& w);
  //! Adds `from`'s aggregate states into `into` (same rule): merge() for each aggregate; the
  //! DISTINCT sets are united (bounded) and each DISTINCT aggregate rebuilt from its set.
  //! `across_partitions` (the merge stage): merge_partition() instead, and the group's last
  //! event is the one with the later event time (on a tie the greater, by Value order).
  void merge_group(Group& into, const Group& from, bool across_partitions = false);
  void emit_window(WindowState& w, TimeNs start, TimeNs end, const std::string& id_base,
                   TimeNs now, Output& out);
  void emit_late(const Row& row, TimeNs watermark, Output& out, const char* reason = "late");
  //! Remembers a row with an origin in w; false when w's bound on rows is reached.
  bool remember_origin(WindowState& w, const Row& row);
  //! Runs buffered rows through the rule body (keys, WHERE, aggregate inputs) into w alone:
  //! a rebuilt window, or a per-event window being fired.
  void refill(WindowState& w, const std::vector<const BufferedRow*>& rows, TimeNs wm, TimeNs now,
              Output& out);
  //! Evaluates the aggregate inputs of the row ctx points at (before add_to_window).
  void eval_agg_inputs(expr::Ctx& ctx);
  nlohmann::json save_window(const WindowState& w) const;
  void restore_window(WindowState& w, const nlohmann::json& j);
  static nlohmann::json rows_to_json(const std::vector<BufferedRow>& rows);
  static BufferedRow row_from_json(const nlohmann::json& j);
  //! A row kept for later (the row's slots and whole event copied).
  BufferedRow buffer_row(const Row& row) const;

 private:
  struct PendingRow {
    std::vector<Value> values;
    std::vector<Value> order;
    Value whole;
    std::string id;  //!< result id
    Value key;         //!< group key (alerts)
    bool cond = true;  //!< alert condition
  };

  // Per-event aggregate inputs, evaluated once and added to every window the row falls in.
  // A single argument that is a plain field is passed by pointer into the row (no copy);
  // others are evaluated into `args`.
  struct AggInput {
    std::vector<Value> args;
    std::vector<std::uint32_t> offsets;
    std::vector<Args> call;  //!< per aggregate: its arguments for this row
    std::vector<std::uint8_t> pass;
  };

  //! Sizes in_ for the plan's aggregates and notes whether every input is a plain field.
  void build_agg_inputs();
  //! Calls every stateful site of one phase for the current row, in site order (inner calls
  //! first), and points ctx at the results, so calls in untaken branches still see the row.
  void prime_stateful(const std::vector<int>& sites, expr::Ctx& ctx);
  void build_stateful_sites();
  void collect_sites(const expr::Node& n, std::vector<int>& sites);
  void emit_rows(std::vector<PendingRow>& rows, TimeNs event_time, Output& out);
  std::string make_payload(const PendingRow& r) const;
  //! Appends the JSON object of one output row (SELECT items in order, `*` expanded).
  void append_payload(std::string& p, const Value* values, const Value& whole) const;
  //! Sends one result row (the common path: no DISTINCT, ORDER BY, LIMIT or alert).
  void send_row(std::string&& payload, std::string&& id, const Value* values, const Value& whole,
                std::uint64_t index, TimeNs event_time, Output& out);
  void sweep_states(TimeNs watermark);
  std::string id_prefix() const;

  void on_row_plain(const Row& row, TimeNs now, Output& out);
  //! The rule body for one row (an input row, or a match row of MATCH_RECOGNIZE).
  void process_row(const Row& row, TimeNs wm, TimeNs now, Output& out);
  void release_matches(TimeNs wm, TimeNs now, Output& out);
  //! Window join: counts what the join refused or found late (`row` is the arriving row).
  void window_join_outcome(const join::WindowJoin::Outcome& o, const Row& row, Output& out);
  //! Window join: the windows the watermark passed, each joined and fired on its own.
  void fire_window_join(TimeNs wm, TimeNs now, Output& out);
  //! LEFT interval join: the left rows that can no longer find a partner, through the body.
  void release_unmatched(TimeNs wm, TimeNs now, Output& out);
  //! CREATE ALERT: one evaluation of the condition for one output row.
  //! `row_values` / `whole`: the output row (SELECT items in order, the event for `*`).
  void observe_alert(const Value* row_values, const Value& whole, bool cond, const Value& key,
                     TimeNs event_time, std::uint64_t index, Output& out);
  void send_alert(alert::AlertMessage&& m);
  //! The alert key of an output row: a SELECT item, the input's key slots, or the group key;
  //! a reference into them, or into `tmp` when it has to be built.
  const Value& alert_key(const Value* values, const Value* slots, const Value& group_key,
                         Value& tmp) const;

  void restore_group(WindowState& w, const nlohmann::json& group);
  // rules/runtime/two_phase.cpp
  void emit_partials(WindowState& w, TimeNs start, TimeNs end, Output& out);
  //! One group as a CBOR map {"key", "aggs"[, "distinct", "last_row", "whole_json", "last_t"]}: checkpoints
  //! and partial aggregates (restore_group() reads it).
  void append_group_cbor(const Group& g, std::vector<std::uint8_t>& out) const;

  const plan::RulePlan* plan_;
  int index_;
  const EngineOptions* options_;
  RuleMetrics m_;
  std::uint64_t firings_ = 0;  //!< emission_index of windowed rules
  std::string id_prefix_;

  //! The rule's window kind at work (null: no window); see rules/window/window_type.h.
  std::unique_ptr<window::WindowOperator> window_;
  WindowState* hot_window_ = nullptr;
  std::size_t total_groups_ = 0;
  AggInput in_;
  //! No aggregate has a FILTER and each takes a plain field or nothing (count(*)): the inputs
  //! are pointers into the row's slots, nothing is evaluated.
  bool agg_inputs_are_fields_ = false;
  std::vector<Value> agg_results_;
  std::vector<Value> row_values_;    //!< scratch: SELECT values of the row being built
  std::string key_json_;             //!< scratch: a group key as JSON (result ids)
  std::size_t payload_hint_ = 64;    //!< recent payload size: one allocation per payload
  std::size_t group_hint_ = 0;       //!< groups of the last closed window: sizes the next

  // Stateful call sites by phase (GROUP BY keys, WHERE, aggregate inputs, output items) and
  // this row's results, read by expr::eval through Ctx::stateful_cache.
  std::vector<const expr::Node*> site_nodes_;
  std::vector<int> key_sites_, where_sites_, agg_sites_, out_sites_;
  std::vector<int> post_sites_;  //!< HAVING / ORDER BY sites not in SELECT: may read aliases
  std::vector<Value> stateful_cache_;

  // Stateful functions: per call site, per partition key.
  std::vector<std::unordered_map<Value, StatefulEntry, ValueHash>> states_;
  TimeNs next_sweep_ = kTimeMin;
  struct LimitReport {
    TimeNs last = kTimeMin;        //!< processing time of the last report
    std::uint64_t at_last = 0;     //!< refusals counted at the last report
    std::uint64_t count = 0;       //!< refusals so far
  };
  LimitReport limits_[static_cast<int>(Limit::Count)];
  TimeNs now_ = 0;                 //!< processing time of the current call (reports)
  std::size_t pending_rows_ = 0;   //!< rows buffered in open windows (max_pending_events)
  WindowState* rebuilding_ = nullptr;  //!< rebuild_window: rows go to this window only
  TimeNs advanced_to_ = kTimeMin;  //!< watermark of the last advance() that did its work
  bool due_ = true;                //!< something may be due before the watermark moves again
  TimeNs current_event_time_ = 0;
  TimeNs lateness_ = 0;

  std::unique_ptr<join::StreamTableJoin> join_;  //!< FROM s JOIN table
  std::unique_ptr<join::IntervalJoin> ijoin_;    //!< FROM a JOIN b ON ... BETWEEN (two streams)
  std::unique_ptr<join::WindowJoin> wjoin_;      //!< FROM a JOIN b ... GROUP BY <window>
  std::unique_ptr<MatchStage> match_;          //!< FROM ... MATCH_RECOGNIZE
  std::unique_ptr<alert::AlertMachine> alert_;  //!< CREATE ALERT
  alert::AlertSink alert_sink_;                 //!< send_alert, built once
  //! CREATE ALERT whose condition reads only the input row (no stateful calls, no SELECT
  //! aliases): on_row_plain decides "nothing to do" from the condition and key alone.
  bool alert_early_ = false;
  std::uint64_t alert_index_ = 0;               //!< emission index of the current trigger
  Output* alert_out_ = nullptr;                 //!< where send_alert goes, during a call
};

}  // namespace streamgate::rules::runtime
