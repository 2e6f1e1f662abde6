// Row-pattern matcher (the runtime of MATCH_RECOGNIZE): runs a compiled Automaton per partition
// over rows in event-time order and reports complete matches. It knows nothing of expressions:
// the caller supplies DEFINE as a predicate callback and reads MEASURES off the MatchView, so the
// planner's expression compiler (or a test) plugs in.
//
// Semantics (SQL:2016, ONE ROW PER MATCH): a match is a run of consecutive rows of one partition
// (strict contiguity; use an undefined, always-true variable like `X*` to allow rows in between).
// Matches are searched from every row in order; of the matches starting at one row the preferred
// one is reported (greedy quantifiers, left branch of `|` first), so `A B+` is only reported once
// a row that is not a B ends it (or WITHIN / end of input does). AFTER MATCH SKIP PAST LAST ROW
// (default) resumes after the match; SKIP TO NEXT ROW lets matches overlap. Empty matches are
// never reported.
//
// State is bounded: at most `max_partitions` partitions, `max_runs` partial matches per
// partition (the newest attempts are dropped beyond it), `max_match_rows` rows per match, and
// WITHIN: a partial match whose first row is older than WITHIN cannot grow any more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/pattern/automaton.h"
#include "rules/time_util.h"
#include "rules/value.h"

namespace streamgate::rules::pattern {

struct StoredRow {
  TimeNs time = 0;
  std::vector<Value> slots;
};

struct Partition;

//! A (partial) match: its rows, in order, and the variable each row was mapped to. While a
//! DEFINE predicate runs, the last row is the candidate row and var(size()-1) its candidate
//! variable.
class MatchView {
 public:
  std::size_t size() const { return n_; }
  const StoredRow& row(std::size_t i) const;
  std::uint16_t var(std::size_t i) const { return labels_[i]; }
  //! The row `back` rows before row i of the match in the partition (may lie before the match,
  //! within the kept history); nullptr when not available.
  const StoredRow* prev(std::size_t i, std::size_t back) const;
  //! Index of the first / last row mapped to `var`, or -1.
  std::ptrdiff_t first(std::uint16_t var) const;
  std::ptrdiff_t last(std::uint16_t var) const;
  std::size_t count(std::uint16_t var) const;
  const Value& partition_key() const;
  //! 1-based number of this match within its partition (for a candidate: the next number).
  std::uint64_t match_number() const;

 private:
  friend class Matcher;
  const Partition* p_ = nullptr;
  std::uint64_t start_ = 0;  //!< partition sequence number of the first row
  const std::uint16_t* labels_ = nullptr;
  std::size_t n_ = 0;
  std::uint64_t number_ = 0;
};

enum class SkipMode : std::uint8_t { PastLastRow, ToNextRow };

struct MatcherOptions {
  TimeNs within = 0;  //!< 0: no limit
  SkipMode skip = SkipMode::PastLastRow;
  std::size_t max_partitions = 100'000;
  std::size_t max_runs = 1'000;       //!< partial matches per partition
  std::size_t max_match_rows = 10'000;
  std::size_t history = 1;            //!< rows before a match kept for PREV(x, n <= history)
  TimeNs idle_ttl = 24 * 3600 * kNsPerSec;  //!< partitions without partial matches are dropped
};

struct MatcherStats {
  std::uint64_t rows = 0;
  std::uint64_t matches = 0;
  std::uint64_t out_of_order = 0;      //!< rows older than their partition's last row (refused)
  std::uint64_t dropped_partitions = 0;  //!< rows refused at max_partitions
  std::uint64_t dropped_attempts = 0;  //!< partial matches dropped at max_runs / max_match_rows
  std::size_t partitions = 0;
  std::size_t runs = 0;
};

//! DEFINE: whether the last row of `m` satisfies the condition of variable `var`.
using Predicate = std::function<bool(std::uint16_t var, const MatchView& m)>;
//! Called once per complete match; the view is valid only during the call.
using OnMatch = std::function<void(const MatchView& m)>;

struct Run {
  std::uint32_t state = 0;
  std::vector<std::uint16_t> labels;
};

struct Attempt {
  std::uint64_t start = 0;  //!< sequence number of the first row
  TimeNs start_time = 0;
  std::vector<Run> runs;     //!< live partial matches, most preferred first
  bool has_best = false;
  std::vector<std::uint16_t> best;  //!< labels of the preferred complete match so far
};

struct Partition {
  std::uint64_t id = 0;  //!< creation order: deterministic iteration
  Value key;
  std::deque<StoredRow> rows;
  std::uint64_t base = 0;  //!< sequence number of rows.front()
  std::uint64_t next = 0;  //!< sequence number of the next row
  std::uint64_t skip_until = 0;  //!< no match may start before this row
  std::deque<Attempt> attempts;   //!< by start
  TimeNs last_time = kTimeMin;
  std::uint64_t matches = 0;
  std::size_t runs = 0;
  TimeNs deadline = kTimeMax;  //!< registered WITHIN expiry (kTimeMax: none)
};

class Matcher {
 public:
  Matcher(Automaton automaton, MatcherOptions options);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  enum class RowStatus : std::uint8_t { Ok, OutOfOrder, TooManyPartitions };

  //! One row of partition `key`; rows of one partition must come in event-time order (ties keep
  //! arrival order). Complete matches are reported through on_match before this returns.
  RowStatus on_row(const Value& key, TimeNs time, std::vector<Value> slots, const Predicate& pred,
                   const OnMatch& on_match);

  //! Event time reached `watermark` (no row older will come): partial matches past WITHIN end
  //! and their best complete match, if any, is reported; idle partitions are dropped.
  void advance(TimeNs watermark, const OnMatch& on_match);

  //! End of input: every partial match ends; best complete matches are reported.
  void flush(const OnMatch& on_match);

  const Automaton& automaton() const { return a_; }
  const MatcherOptions& options() const { return o_; }
  MatcherStats stats() const;

  nlohmann::json save() const;
  //! Replaces the state with a saved one (same pattern); throws std::exception (nlohmann or
  //! std::invalid_argument) on a malformed or mismatched save.
  void restore(const nlohmann::json& j);

 private:
  void step(Partition& p, const Predicate& pred);
  void expire(Partition& p, TimeNs time);
  void resolve(Partition& p, const OnMatch& on_match);
  void trim(Partition& p);
  void bound(Partition& p);
  void update_deadline(Partition& p);
  void emit(Partition& p, const Attempt& a, const OnMatch& on_match);
  void sweep(TimeNs watermark);
  MatchView view(const Partition& p, std::uint64_t start, const std::vector<std::uint16_t>& labels)
      const;

  Automaton a_;
  MatcherOptions o_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Partition>> partitions_;  //!< by id
  std::unordered_map<Value, Partition*, ValueHash> by_key_;
  std::set<std::pair<TimeNs, std::uint64_t>> deadlines_;  //!< (WITHIN expiry, partition id)
  TimeNs next_sweep_ = kTimeMin;  //!< when advance() next looks for idle partitions
  MatcherStats stats_;
  std::vector<std::uint16_t> scratch_;
  std::vector<std::uint32_t> succ_;
  std::vector<Run> new_runs_;
};

}  // namespace streamgate::rules::pattern
