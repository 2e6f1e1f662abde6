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
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
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

//! FIFO of rows whose storage is reused: a popped row keeps its slot vector, and the next row
//! pushed takes it over, so a steady stream of rows allocates nothing (a per-row heap vector
//! was the largest cost of the matcher). Capacity is a power of two and shrinks again once the
//! ring is mostly empty, so a burst does not pin memory for good.
class RowRing {
 public:
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  StoredRow& operator[](std::size_t i) { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  const StoredRow& operator[](std::size_t i) const { return buf_[(head_ + i) & (buf_.size() - 1)]; }
  StoredRow& front() { return (*this)[0]; }
  const StoredRow& front() const { return (*this)[0]; }
  StoredRow& back() { return (*this)[n_ - 1]; }

  //! Appends a row: `slots` is swapped with the recycled row's vector, so the caller gets that
  //! storage back (content unspecified, capacity reusable) instead of losing its own.
  StoredRow& push_back(TimeNs time, std::vector<Value>& slots);
  //! Appends a row with `n` slots copied from `slots`.
  StoredRow& push_back(TimeNs time, const Value* slots, std::size_t n);
  void pop_front();
  void clear();

 private:
  StoredRow& append();
  void resize_to(std::size_t capacity);

  std::vector<StoredRow> buf_;
  std::size_t head_ = 0;
  std::size_t n_ = 0;
};

//! Labels of a (partial) match: the variable of each row. A u16string so that matches of up to
//! 7 rows (most patterns) live inside the object: copying a run costs no allocation.
using Labels = std::u16string;

struct Partition;

//! A (partial) match: its rows, in order, and the variable each row was mapped to. While a
//! DEFINE predicate runs, the last row is the candidate row and var(size()-1) its candidate
//! variable.
class MatchView {
 public:
  std::size_t size() const { return n_; }
  const StoredRow& row(std::size_t i) const;
  std::uint16_t var(std::size_t i) const { return static_cast<std::uint16_t>(labels_[i]); }
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
  const char16_t* labels_ = nullptr;
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
  Labels labels;
};

struct Attempt {
  std::uint64_t start = 0;  //!< sequence number of the first row
  TimeNs start_time = 0;
  std::vector<Run> runs;     //!< live partial matches, most preferred first
  bool has_best = false;
  Labels best;               //!< labels of the preferred complete match so far
};

struct Partition {
  std::uint64_t id = 0;  //!< creation order: deterministic iteration
  std::uint64_t hash = 0;  //!< of key, mixed (see Matcher::find)
  Value key;
  RowRing rows;
  std::uint64_t base = 0;  //!< sequence number of rows.front()
  std::uint64_t next = 0;  //!< sequence number of the next row
  std::uint64_t skip_until = 0;  //!< no match may start before this row
  std::vector<Attempt> attempts;  //!< by start; few at a time, so a vector beats a deque
  TimeNs last_time = kTimeMin;
  std::uint64_t matches = 0;
  std::size_t runs = 0;
  //! Registered WITHIN expiry (kTimeMax: none). Only registered while a complete match waits
  //! for older or longer partial matches to end: partial matches alone expire at the
  //! partition's next row or at the next sweep, which saves a heap entry per attempt.
  TimeNs deadline = kTimeMax;
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
  //! `slots` is swapped with recycled row storage (see RowRing::push_back): the caller gets a
  //! vector back whose capacity it may reuse. `key` must not refer into `slots`' elements
  //! beyond the partition lookup (it is read before the swap).
  RowStatus on_row(const Value& key, TimeNs time, std::vector<Value>&& slots, const Predicate& pred,
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
  //! Moves the runs of every attempt of p over the row just appended.
  void step(Partition& p, const Predicate& pred);
  //! Starts an attempt at the row just appended, unless no transition out of the start state
  //! accepts it (the common case: no heap work for rows that cannot begin a match).
  void start_attempt(Partition& p, std::uint64_t seq, TimeNs time, const Predicate& pred);
  //! new_runs_ becomes a's runs: the first complete run sets a's best and prunes what follows.
  void settle_runs(Attempt& a);
  //! Removes attempts with neither live runs nor a complete match (their run vectors are kept
  //! for reuse).
  void drop_dead(Partition& p);
  void recycle(Attempt& a);
  void expire(Partition& p, TimeNs time);
  void resolve(Partition& p, const OnMatch& on_match);
  void trim(Partition& p);
  void bound(Partition& p);
  void update_deadline(Partition& p);
  void emit(Partition& p, const Attempt& a, const OnMatch& on_match);
  //! Every so often: ends partial matches past WITHIN in partitions that went quiet, and drops
  //! partitions idle for idle_ttl.
  void sweep(TimeNs watermark, const OnMatch& on_match);
  Partition* find(const Value& key, std::uint64_t hash) const;
  //! Adds p (already in partitions_) to index_.
  void index_insert(Partition* p);
  void rebuild_index();
  MatchView view(const Partition& p, std::uint64_t start, const Labels& labels) const;
  void push_deadline(TimeNs d, std::uint64_t id);

  Automaton a_;
  MatcherOptions o_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Partition>> partitions_;  //!< by id
  //! Partitions by key: open addressing over (hash, partition), load <= 1/2, rebuilt when a
  //! sweep drops partitions. One probe array instead of a node per key: the lookup was a
  //! quarter of the matcher's time with 10,000 partitions (cache misses).
  struct IndexSlot {
    std::uint64_t hash = 0;
    Partition* p = nullptr;
  };
  std::vector<IndexSlot> index_;
  //! Min-heap of (WITHIN expiry, partition id). Entries are not removed when a partition's
  //! deadline moves (that was a tree-node allocation per row); an entry is stale unless it
  //! equals the partition's current deadline, and the heap is rebuilt from the partitions when
  //! stale entries outnumber them, so it stays within 2x partitions + a constant.
  std::vector<std::pair<TimeNs, std::uint64_t>> deadlines_;
  TimeNs next_sweep_ = kTimeMin;  //!< when advance() next looks for idle partitions
  MatcherStats stats_;
  Labels scratch_;
  std::vector<std::uint32_t> succ_;
  std::vector<Run> new_runs_;
  std::vector<std::vector<Run>> spare_runs_;  //!< run vectors of finished attempts, for reuse
};

}  // namespace streamgate::rules::pattern
