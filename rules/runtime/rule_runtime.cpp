// Rule runtime: per-event processing of one rule (filter/project, time windows), window firing,
// emission of result rows, stateful-function states. Session and counting windows live in
// rules/window/session.cpp and counting.cpp; checkpointing in rules/runtime/checkpoint.cpp.
//
// Semantics worth knowing (see also issue 3):
//  - aggregate mode (aggregates or GROUP BY keys with a window): one row per group per window,
//    groups in order of first appearance; a column that is neither a GROUP BY key nor inside an
//    aggregate takes its value from the group's last event (in arrival order).
//  - windowed SELECT without aggregates and keys: one row per event, in event-time order
//    (stable), at most max_rows_per_window per window.
//  - a fired window kept by ALLOWEDLATENESS that receives an event is re-emitted at once, every
//    row of it, with result ids ending in /r<revision>.
//  - event_time() in an output row of a window is window_end - 1ns (the time rows carry
//    downstream).
#include "rules/runtime/rule_runtime.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>

#include "rules/ingest/ingest.h"

namespace streamgate::rules::runtime {


namespace {

//! Whether n reads SELECT items (aliases): then it needs the output row.
bool reads_outputs(const expr::Node& n) {
  if (n.kind == expr::NodeKind::OutRef) return true;
  for (const auto& c : n.children)
    if (c && reads_outputs(*c)) return true;
  return false;
}

}  // namespace

// ---------------------------------------------------------------- GroupTable

void GroupTable::PageDelete::operator()(std::byte* p) const {
  if (align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) ::operator delete[](p, std::align_val_t{align});
  else delete[] p;
}

GroupTable::~GroupTable() {
  for (std::size_t i = 0; i < size_; ++i) at(i).~Group();
}

namespace {

const Value kNoWhole;  //!< the `whole` of a row when no SELECT * needs the event

void append_hex64(std::string& out, std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  for (int i = 15; i >= 0; --i, v >>= 4) buf[i] = kHex[v & 0xF];
  out.append(buf, sizeof buf);
}

//! Group-key equality with the common string key compared inline.
inline bool same_key(const Value& a, const Value& b) {
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  return a == b;
}

//! Order of two groups' last events: event time, then the values (bare columns, then the whole
//! event), so partitions' last rows merge to the same one in any order.
int compare_last_events(const GroupExtra& a, const GroupExtra& b) {
  if (a.last_time != b.last_time) return a.last_time < b.last_time ? -1 : 1;
  for (std::size_t i = 0; i < a.last_row.size() && i < b.last_row.size(); ++i)
    if (const int c = compare(a.last_row[i], b.last_row[i]); c != 0) return c;
  return compare(a.whole, b.whole);
}

}  // namespace

Group* GroupTable::find(const Value& key, std::uint64_t hash) {
  if (table_.empty()) return nullptr;
  const std::size_t mask = table_.size() - 1;
  const auto tag = static_cast<std::uint32_t>(hash >> 32);
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = table_[i];
    if (s.index == 0) return nullptr;
    if (s.tag != tag) continue;
    Group& grp = at(s.index - 1);
    if (grp.hash == hash && same_key(grp.key, key)) return &grp;
  }
}

void GroupTable::grow() { rehash(table_.empty() ? 16 : table_.size() * 2); }

void GroupTable::reserve(std::size_t n) {
  // insert() keeps the load factor at or below 1/2.
  std::size_t slots = 16;
  while (slots < (n + 1) * 2) slots *= 2;
  if (slots > table_.size()) rehash(slots);
}

void GroupTable::rehash(std::size_t n) {
  table_.assign(n, Slot{});
  const std::size_t mask = n - 1;
  for (std::size_t gi = 0; gi < size_; ++gi) {
    const std::uint64_t h = at(gi).hash;
    std::size_t i = h & mask;
    while (table_[i].index != 0) i = (i + 1) & mask;
    table_[i] = Slot{static_cast<std::uint32_t>(h >> 32), static_cast<std::uint32_t>(gi + 1)};
  }
}

Group* GroupTable::insert(Value key, std::uint64_t hash, std::size_t state_size,
                          std::size_t state_align) {
  if (record_ == 0) {
    // Layout fixed by the first insert: header, states aligned after it, record padded so the
    // next header and states stay aligned too; a power-of-two count of records per page.
    align_ = std::max(alignof(Group), std::max<std::size_t>(state_align, 1));
    states_at_ = (sizeof(Group) + align_ - 1) / align_ * align_;
    record_ = (states_at_ + state_size + align_ - 1) / align_ * align_;
    page_shift_ = 0;
    while ((std::size_t{2} << page_shift_) * record_ <= kPageTarget) ++page_shift_;
    page_mask_ = (std::size_t{1} << page_shift_) - 1;
  }
  if ((size_ + 1) * 2 > table_.size()) grow();
  if ((size_ >> page_shift_) >= pages_.size()) {
    // Not zeroed: the header is constructed below, the states by the runtime.
    std::byte* p = align_ > __STDCPP_DEFAULT_NEW_ALIGNMENT__
                       ? static_cast<std::byte*>(::operator new[](page_bytes(), std::align_val_t{align_}))
                       : new std::byte[page_bytes()];
    pages_.emplace_back(p, PageDelete{align_});
  }
  std::byte* rec = pages_[size_ >> page_shift_].get() + (size_ & page_mask_) * record_;
  Group* g = new (rec) Group{std::move(key), hash, state_size > 0 ? rec + states_at_ : nullptr, nullptr};
  ++size_;
  const std::size_t mask = table_.size() - 1;
  std::size_t i = hash & mask;
  while (table_[i].index != 0) i = (i + 1) & mask;
  table_[i] = Slot{static_cast<std::uint32_t>(hash >> 32), static_cast<std::uint32_t>(size_)};
  return g;
}

// ---------------------------------------------------------------- RuleRuntime

RuleRuntime::RuleRuntime(const plan::RulePlan* plan, int index, const EngineOptions* options)
    : plan_(plan), index_(index), options_(options) {
  m_.name = plan->name;
  id_prefix_ = plan->name + "/" + plan->text_hash.substr(0, 8) + "/";
  states_.resize(plan->statefuls.size());
  build_stateful_sites();
  build_agg_inputs();
  if (plan->windowed()) window_ = plan->window.type->create(*this);
  if (plan->match) match_ = std::make_unique<MatchStage>(plan->match.get(), options, plan->state_ttl);
  if (plan->alert) {
    alert::AlertOptions o = plan->alert->options;
    o.max_keys = options->max_group_keys;
    alert_ = std::make_unique<alert::AlertMachine>(std::move(o));
    alert_sink_ = [this](alert::AlertMessage&& m) { send_alert(std::move(m)); };
  }
}

RuleRuntime::~RuleRuntime() {
  // The operator's windows hold aggregate states this runtime destroys: before anything else.
  if (window_) window_->clear();
  window_.reset();
}

std::string RuleRuntime::id_prefix() const { return id_prefix_; }

std::size_t RuleRuntime::open_windows() const {
  return (window_ ? window_->open_windows() : 0) + (wjoin_ ? wjoin_->open_windows() : 0);
}

RuleMetrics RuleRuntime::metrics() const {
  RuleMetrics m = m_;
  m.name = plan_->name;
  m.open_windows = open_windows();
  m.group_keys = total_groups_;
  m.paused = paused;
  return m;
}

void RuleRuntime::destroy_window(WindowState& w) {
  bool trivial = true;
  for (const auto& a : plan_->aggs) trivial = trivial && a.fn->trivially_destructible;
  for (auto& g : w.groups) {
    if (g.aggs && !trivial)
      for (const auto& a : plan_->aggs) a.fn->destroy(g.aggs + a.offset);
    g.aggs = nullptr;
  }
  if (w.groups.size() > 0) group_hint_ = w.groups.size();
  pending_rows_ -= std::min(pending_rows_, w.rows.size());
  w.rows.clear();
  total_groups_ -= std::min(total_groups_, w.groups.size());
}

Group* RuleRuntime::new_group(WindowState& w, Value key, std::uint64_t hash) {
  Group* g = w.groups.insert(std::move(key), hash, plan_->arena_size, plan_->arena_align);
  ++total_groups_;
  if (g->aggs)
    for (const auto& a : plan_->aggs) a.fn->construct(g->aggs + a.offset);
  if (plan_->distinct_sets > 0 || !plan_->last_row_fields.empty() || plan_->last_row_whole) {
    g->extra = std::make_unique<GroupExtra>();
    g->extra->distinct.resize(static_cast<std::size_t>(plan_->distinct_sets));
    g->extra->last_row.resize(plan_->last_row_fields.size());
  }
  return g;
}

void RuleRuntime::merge_group(Group& into, const Group& from, bool across_partitions) {
  for (const auto& a : plan_->aggs)
    if (!a.distinct) (across_partitions ? a.fn->merge_partition : a.fn->merge)(into.aggs + a.offset, from.aggs + a.offset);
  if (!from.extra || !into.extra) return;
  if (across_partitions && compare_last_events(*from.extra, *into.extra) > 0) {
    into.extra->last_row = from.extra->last_row;
    into.extra->whole = from.extra->whole;
    into.extra->last_time = from.extra->last_time;
  }
  for (std::size_t i = 0; i < from.extra->distinct.size() && i < into.extra->distinct.size(); ++i) {
    auto& set = into.extra->distinct[i];
    for (const auto& v : from.extra->distinct[i]) {
      if (set.size() >= options_->max_distinct_values && set.find(v) == set.end()) {
        ++m_.dropped_values;
        limit_hit(Limit::Distinct);
        continue;
      }
      set.insert(v);
    }
  }
  for (const auto& a : plan_->aggs) {
    if (!a.distinct) continue;
    std::byte* st = into.aggs + a.offset;
    a.fn->destroy(st);
    a.fn->construct(st);
    // The set holds each argument once (several arguments as one array), as
    // add_to_window offered them.
    for (const auto& v : into.extra->distinct[static_cast<std::size_t>(a.distinct_index)]) {
      if (a.args.size() > 1 && v.is_array()) a.fn->add(st, Args{v.as_array().data(), v.as_array().size()});
      else a.fn->add(st, Args{&v, 1});
    }
  }
}

void RuleRuntime::collect_sites(const expr::Node& n, std::vector<int>& sites) {
  // Post-order, like expr::collect_stateful_sites, and through a call's OVER (PARTITION BY ...)
  // expressions too: a stateful call there (lag(x) OVER (PARTITION BY latest(k))) is primed
  // before the call whose partition it computes, instead of reading an unprimed NULL.
  for (const auto& ch : n.children) collect_sites(*ch, sites);
  if (n.kind != expr::NodeKind::Stateful || n.index < 0) return;
  const auto idx = static_cast<std::size_t>(n.index);
  for (const auto& p : plan_->statefuls[idx].partition) collect_sites(*p, sites);
  for (int s : sites)
    if (s == n.index) return;
  sites.push_back(n.index);
  if (site_nodes_.size() <= idx) site_nodes_.resize(idx + 1);
  if (!site_nodes_[idx]) site_nodes_[idx] = &n;
}

void RuleRuntime::build_stateful_sites() {
  // Node pointers into the plan: rebuilt on rebind(), when a reload hands over a new plan.
  const plan::RulePlan* plan = plan_;
  site_nodes_.clear();
  key_sites_.clear();
  where_sites_.clear();
  agg_sites_.clear();
  out_sites_.clear();
  post_sites_.clear();
  if (!plan->statefuls.empty()) {
    stateful_cache_.resize(plan->statefuls.size());
    for (const auto& k : plan->group_keys) collect_sites(*k, key_sites_);
    if (plan->where) {
      // A site already primed for the key is not called twice for the same row.
      std::vector<int> seen = key_sites_;
      collect_sites(*plan->where, seen);
      where_sites_.assign(seen.begin() + static_cast<std::ptrdiff_t>(key_sites_.size()), seen.end());
    }
    for (const auto& a : plan->aggs) {
      for (const auto& arg : a.args) collect_sites(*arg, agg_sites_);
      if (a.filter) collect_sites(*a.filter, agg_sites_);
    }
    for (const auto& it : plan->items)
      if (it.expr) collect_sites(*it.expr, out_sites_);
    // HAVING / ORDER BY may read SELECT aliases (ctx.outs): their own sites run after the items.
    std::vector<int> post = out_sites_;
    if (plan->having) collect_sites(*plan->having, post);
    // An alert's condition (its WHERE or HAVING) is evaluated with the output row.
    if (plan->alert && plan->alert->condition)
      collect_sites(*plan->alert->condition, out_sites_);
    for (const auto& o : plan->order_by) collect_sites(*o.expr, post);
    for (int s : post) {
      bool in_items = false;
      for (int o : out_sites_) in_items = in_items || o == s;
      if (!in_items) post_sites_.push_back(s);
    }
  }
  const auto* ap = plan->alert.get();
  alert_early_ = ap && ap->condition && plan->statefuls.empty() && !plan->match &&
                 !plan->windowed() && !reads_outputs(*ap->condition);
}

void RuleRuntime::prime_stateful(const std::vector<int>& sites, expr::Ctx& ctx) {
  if (sites.empty()) return;
  ctx.stateful_cache = stateful_cache_.data();
  for (int s : sites) {
    const auto i = static_cast<std::size_t>(s);
    stateful_cache_[i] = expr::call_stateful_site(*site_nodes_[i], ctx);
  }
}

Value RuleRuntime::call_stateful(int site, Args args, expr::Ctx& ctx) {
  const auto& spec = plan_->statefuls[static_cast<std::size_t>(site)];
  Value key;
  if (!spec.partition.empty()) {
    if (spec.partition.size() == 1) {
      key = expr::eval_value(*spec.partition[0], ctx);
    } else {
      Array a;
      for (const auto& p : spec.partition) a.push_back(expr::eval_value(*p, ctx));
      key = Value(std::move(a));
    }
  } else if (ctx.partition_key) {
    key = *ctx.partition_key;
  }
  auto& table = states_[static_cast<std::size_t>(site)];
  auto it = table.find(key);
  if (it == table.end()) {
    if (table.size() >= options_->max_group_keys) {
      ++m_.dropped_keys;
      limit_hit(Limit::Keys);
      return Value();
    }
    it = table.emplace(std::move(key), StatefulEntry{spec.fn->create(), 0}).first;
  }
  it->second.touched = ctx.event_time;
  return it->second.state->call(args, ctx.event_time);
}

void RuleRuntime::limit_hit(Limit which) {
  LimitReport& r = limits_[static_cast<int>(which)];
  ++r.count;
  if (!options_->on_limit) return;
  // One line per rule and bound per interval: a flood of refusals must not flood the log.
  if (r.last != kTimeMin && now_ - r.last < options_->limit_report_interval) return;
  const char* what = "";
  std::size_t bound = 0;
  switch (which) {
    case Limit::Keys: what = "new group keys refused at max_group_keys"; bound = options_->max_group_keys; break;
    case Limit::Windows: what = "windows refused at max_open_windows"; bound = options_->max_open_windows; break;
    case Limit::RowsPerWindow:
      what = "rows refused at max_rows_per_window";
      bound = options_->max_rows_per_window;
      break;
    case Limit::Pending:
      what = "pending events refused at max_pending_events";
      bound = options_->max_pending_events;
      break;
    case Limit::Distinct:
      what = "distinct values refused at max_distinct_values";
      bound = options_->max_distinct_values;
      break;
    case Limit::Count: break;
  }
  std::string msg = "rule " + plan_->name + ": " + std::to_string(r.count - r.at_last) + " " + what +
                    "=" + std::to_string(bound) + " since the last report (" +
                    std::to_string(r.count) + " in all)";
  r.last = now_;
  r.at_last = r.count;
  options_->on_limit(msg);
}

void RuleRuntime::sweep_states(TimeNs wm) {
  if (wm == kTimeMax || wm < next_sweep_ || states_.empty()) return;
  const TimeNs ttl = plan_->state_ttl;
  for (auto& table : states_) {
    for (auto it = table.begin(); it != table.end();) {
      if (window::sat_add(it->second.touched, ttl) <= wm)
        it = table.erase(it);
      else
        ++it;
    }
  }
  next_sweep_ = window::sat_add(wm, std::max<TimeNs>(ttl / 8, kNsPerSec));
}

void RuleRuntime::build_agg_inputs() {
  const auto& aggs = plan_->aggs;
  in_.offsets.assign(aggs.size(), 0);
  in_.call.assign(aggs.size(), Args{});
  in_.pass.assign(aggs.size(), 1);
  agg_inputs_are_fields_ = std::all_of(aggs.begin(), aggs.end(), [](const plan::AggSpec& a) {
    return !a.filter && (a.args.empty() || (a.args.size() == 1 && a.args[0]->kind == expr::NodeKind::Slot));
  });
}

void RuleRuntime::eval_agg_inputs(expr::Ctx& ctx) {
  const auto& aggs = plan_->aggs;
  in_.args.clear();
  if (agg_inputs_are_fields_ && ctx.slots) {
    // The row's slots outlive this event's processing: no copy of any value.
    for (std::size_t i = 0; i < aggs.size(); ++i)
      in_.call[i] = aggs[i].args.empty() ? Args{} : Args{ctx.slots + aggs[i].args[0]->index, 1};
    return;
  }
  prime_stateful(agg_sites_, ctx);
  for (std::size_t i = 0; i < aggs.size(); ++i) {
    const auto& a = aggs[i];
    bool pass = true;
    if (a.filter) {
      Value t;
      pass = expr::eval(*a.filter, ctx, t).is_true();
    }
    in_.pass[i] = pass;
    in_.offsets[i] = static_cast<std::uint32_t>(in_.args.size());
    if (!pass) {
      in_.call[i] = Args{};
    } else if (a.args.size() == 1 && a.args[0]->kind == expr::NodeKind::Slot && ctx.slots) {
      // The row's slots outlive this event's processing: no copy of the value.
      in_.call[i] = Args{ctx.slots + a.args[0]->index, 1};
    } else {
      for (const auto& arg : a.args) in_.args.push_back(expr::eval_value(*arg, ctx));
      in_.call[i] = Args{nullptr, a.args.size()};
    }
  }
  // Pointers into `args` only once it has stopped growing.
  for (std::size_t i = 0; i < aggs.size(); ++i)
    if (in_.call[i].data == nullptr && in_.call[i].size > 0) in_.call[i].data = in_.args.data() + in_.offsets[i];
}

bool RuleRuntime::add_to_window(WindowState& w, const Row& row, const Value& key,
                                std::uint64_t hash) {
  if (!plan_->aggregate_mode) {
    if (w.rows.size() >= options_->max_rows_per_window) {
      ++m_.dropped_rows;
      limit_hit(Limit::RowsPerWindow);
      return false;
    }
    if (pending_rows_ >= options_->max_pending_events) {
      ++m_.dropped_rows;
      limit_hit(Limit::Pending);
      return false;
    }
    ++pending_rows_;
    BufferedRow br;
    br.event_time = row.event_time;
    br.slots.assign(row.slots, row.slots + plan_->slot_count);
    if (plan_->need_whole && row.whole) br.whole = *row.whole;
    w.rows.push_back(std::move(br));
    return true;
  }
  Group* g = w.groups.find(key, hash);
  if (!g) {
    if (total_groups_ >= options_->max_group_keys) {
      ++m_.dropped_keys;
      limit_hit(Limit::Keys);
      return false;
    }
    g = new_group(w, key, hash);
  }
  const auto& aggs = plan_->aggs;
  for (std::size_t i = 0; i < aggs.size(); ++i) {
    if (!in_.pass[i]) continue;
    const auto& a = aggs[i];
    const Value* args = in_.call[i].data;
    const std::size_t n = in_.call[i].size;
    if (a.distinct) {
      Value dkey;
      if (n == 1) {
        dkey = args[0];
      } else if (n > 1) {
        dkey = Value(Array(args, args + n));
      }
      if (n >= 1 && args[0].is_null()) continue;  // DISTINCT ignores NULLs like SQL
      auto& set = g->extra->distinct[static_cast<std::size_t>(a.distinct_index)];
      if (set.size() >= options_->max_distinct_values && set.find(dkey) == set.end()) {
        ++m_.dropped_values;
        limit_hit(Limit::Distinct);
        continue;
      }
      if (!set.insert(std::move(dkey)).second) continue;
    }
    if (a.fn->add_at) a.fn->add_at(g->aggs + a.offset, in_.call[i], row.event_time);
    else a.fn->add(g->aggs + a.offset, in_.call[i]);
  }
  if (g->extra) {
    for (std::size_t i = 0; i < plan_->last_row_fields.size(); ++i)
      g->extra->last_row[i] = row.slots[plan_->last_row_fields[i]];
    if (plan_->last_row_whole && row.whole) g->extra->whole = *row.whole;
    g->extra->last_time = row.event_time;
  }
  return true;
}

void RuleRuntime::on_row(const Row& row, TimeNs wm, TimeNs now, Output& out) {
  if (paused) return;
  now_ = now;
  if (match_) {
    // MATCH_RECOGNIZE: the row waits for the watermark; the rule body sees the matches.
    if (!match_->add(row.slots, row.event_time, &m_.dropped_rows)) {
      emit_late(row, wm, out);
      return;
    }
    release_matches(wm, now, out);
    return;
  }
  if (wjoin_) {
    window_join_outcome(wjoin_->on_left(row.slots, row.event_time, now, &m_.eval_errors,
                                        {options_->max_pending_events, options_->max_open_windows}),
                        row, out);
    return;
  }
  if (ijoin_) {
    const bool kept = ijoin_->on_left(row.slots, row.event_time, now, &m_.eval_errors,
                                      options_->max_pending_events, [&](const Value* slots, TimeNs t) {
                                        Row r = row;
                                        r.slots = slots;
                                        r.event_time = t;
                                        process_row(r, ijoin_->watermark(), now, out);
                                      });
    if (!kept) {
      ++m_.dropped_rows;
      limit_hit(Limit::Pending);
    }
    // A LEFT JOIN's row too old for any partner still to come, and without one held.
    if (plan_->interval->left) release_unmatched(ijoin_->watermark(), now, out);
    return;
  }
  if (join_) {
    // One body run per joined row; an event an inner join finds nothing for is filtered.
    const std::size_t n = join_->run(row.slots, row.whole, row.event_time, now, &m_.eval_errors,
                                     [&](const Value* slots, const Value* whole) {
                                       Row r = row;
                                       r.slots = slots;
                                       r.whole = whole;
                                       process_row(r, wm, now, out);
                                     });
    if (n == 0) {
      ++m_.events_in;
      ++m_.events_filtered;
    }
    return;
  }
  process_row(row, wm, now, out);
}

void RuleRuntime::on_right_row(const Value* slots, TimeNs event_time, TimeNs now, Output& out) {
  if (paused) return;
  now_ = now;
  if (wjoin_) {
    const auto o = wjoin_->on_right(slots, event_time, now, &m_.eval_errors,
                                    {options_->max_pending_events, options_->max_open_windows});
    if (!o.late) {
      window_join_outcome(o, Row{}, out);
      return;
    }
    // A late right row is reported with its own fields (the rule's names for them are internal).
    const auto& ip = *plan_->interval;
    Object ev;
    for (std::size_t i = 0; i < ip.right_fields.size(); ++i)
      if (!slots[i].is_null()) ev.emplace_back(ip.right_fields[i], slots[i]);
    const Value whole(std::move(ev));
    std::vector<Value> none(static_cast<std::size_t>(plan_->slot_count));
    Row r;
    r.slots = none.data();
    r.event_time = event_time;
    r.whole = &whole;
    window_join_outcome(o, r, out);
    return;
  }
  if (!ijoin_) return;
  const bool kept = ijoin_->on_right(slots, event_time, now, &m_.eval_errors, options_->max_pending_events,
                                     [&](const Value* pair, TimeNs t) {
                                       Row r;
                                       r.slots = pair;
                                       r.event_time = t;
                                       process_row(r, ijoin_->watermark(), now, out);
                                     });
  if (!kept) {
    ++m_.dropped_rows;
    limit_hit(Limit::Pending);
  }
}

void RuleRuntime::set_tables(std::vector<const table::Table*> tables) {
  if (plan_->interval && !plan_->interval->in_window) {
    if (!ijoin_) ijoin_ = std::make_unique<join::IntervalJoin>();
    ijoin_->bind(plan_);
  } else {
    ijoin_.reset();
  }
  if (plan_->interval && plan_->interval->in_window) {
    if (!wjoin_) wjoin_ = std::make_unique<join::WindowJoin>();
    wjoin_->bind(plan_);
  } else {
    wjoin_.reset();
  }
  if (plan_->joins.empty()) {
    join_.reset();
    return;
  }
  if (!join_) join_ = std::make_unique<join::StreamTableJoin>();
  join_->bind(plan_, std::move(tables));
}

void RuleRuntime::window_join_outcome(const join::WindowJoin::Outcome& o, const Row& row, Output& out) {
  if (o.late) emit_late(row, wjoin_->watermark(), out);
  if (o.refused_row) {
    ++m_.dropped_rows;
    limit_hit(Limit::Pending);
  }
  for (int i = 0; i < o.refused_windows; ++i) {
    ++m_.dropped_windows;
    limit_hit(Limit::Windows);
  }
}

void RuleRuntime::fire_window_join(TimeNs wm, TimeNs now, Output& out) {
  std::unique_ptr<WindowState> w;
  join::WindowJoin::Fire f;
  f.open = [&](TimeNs start, TimeNs end) {
    w = std::make_unique<WindowState>();
    w->start = start;
    w->end = end;
    w->fired = true;
    rebuilding_ = w.get();  // the joined rows go to this window alone
  };
  f.row = [&](const Value* slots, TimeNs t) {
    Row r;
    r.slots = slots;
    r.event_time = t;
    process_row(r, wm, now, out);
  };
  f.close = [&](TimeNs start, TimeNs end, std::uint64_t refused) {
    rebuilding_ = nullptr;
    if (refused > 0) {
      m_.dropped_rows += refused;
      limit_hit(Limit::RowsPerWindow);
    }
    // A window whose rows all failed WHERE (or found no partner) is not emitted, like any other.
    if (w->groups.size() > 0 || !w->rows.empty())
      emit_window(*w, start, end, id_prefix_ + std::to_string(start) + "/", now, out);
    destroy_window(*w);
    w.reset();
  };
  wjoin_->fire(options_->max_rows_per_window, f);
}

void RuleRuntime::release_unmatched(TimeNs wm, TimeNs now, Output& out) {
  ijoin_->take_unmatched([&](const Value* slots, TimeNs t) {
    Row r;
    r.slots = slots;
    r.event_time = t;
    process_row(r, wm, now, out);
  });
}

void RuleRuntime::release_matches(TimeNs wm, TimeNs now, Output& out) {
  const auto& cols = plan_->match->columns;
  match_->release(wm, now, &m_.eval_errors, [&](std::vector<Value>&& values, TimeNs t) {
    Object o;
    o.reserve(cols.size());
    for (std::size_t i = 0; i < cols.size(); ++i) o.emplace_back(cols[i], values[i]);
    const Value whole(std::move(o));
    Row r;
    r.slots = values.data();
    r.event_time = t;
    r.whole = &whole;
    process_row(r, wm, now, out);
  });
}

void RuleRuntime::process_row(const Row& row, TimeNs wm, TimeNs now, Output& out) {
  // eval_ns is sampled (1 event in 64, scaled): reading the clock per event costs as much as
  // evaluating a simple rule.
  const bool timed = (m_.events_in & 63) == 0;
  const auto t0 = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  ++m_.events_in;
  current_event_time_ = row.event_time;
  expr::Ctx ctx;
  ctx.slots = row.slots;
  ctx.event_time = row.event_time;
  ctx.now = now;
  ctx.stateful = this;
  ctx.eval_errors = &m_.eval_errors;

  // Group key first: it is also the default partition of stateful calls in WHERE.
  Value key_tmp;
  const Value* keyp = &key_tmp;
  const auto& keys = plan_->group_keys;
  prime_stateful(key_sites_, ctx);
  if (keys.size() == 1) {
    // A plain field is used in place (the row outlives this call); anything else is computed.
    if (keys[0]->kind == expr::NodeKind::Slot && row.slots) keyp = &row.slots[keys[0]->index];
    else key_tmp = expr::eval_value(*keys[0], ctx);
  } else if (keys.size() > 1) {
    Array a;
    a.reserve(keys.size());
    for (const auto& k : keys) a.push_back(expr::eval_value(*k, ctx));
    key_tmp = Value(std::move(a));
  }
  const Value& key = *keyp;
  ctx.partition_key = &key;
  // The group lookup of a time window misses the cache with many keys: its index slot is
  // fetched now, while WHERE and the aggregate inputs are evaluated.
  std::uint64_t hash = 0;
  const bool grouped = plan_->aggregate_mode && plan_->windowed();
  if (grouped) {
    hash = key.hash();
    if (hot_window_) hot_window_->groups.prefetch(hash);
  }
  if (plan_->where) {
    prime_stateful(where_sites_, ctx);
    Value t;
    if (!expr::eval(*plan_->where, ctx, t).is_true()) {
      ++m_.events_filtered;
      if (timed)
        m_.eval_ns += 64 * static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                          std::chrono::steady_clock::now() - t0)
                                                          .count());
      return;
    }
  }
  if (!plan_->windowed()) {
    on_row_plain(row, now, out);
  } else {
    if (plan_->aggregate_mode) eval_agg_inputs(ctx);
    if (!grouped) hash = key.hash();
    // A window being rebuilt or fired from buffered rows takes them all (refill()).
    if (rebuilding_) add_to_window(*rebuilding_, row, key, hash);
    else window_->on_row(row, key, hash, wm, now, out);
  }
  if (timed)
    m_.eval_ns += 64 * static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                      std::chrono::steady_clock::now() - t0)
                                                      .count());
}

void RuleRuntime::on_row_plain(const Row& row, TimeNs now, Output& out) {
  int early_cond = -1;  // alert condition decided up front: 0 / 1, -1: not evaluated
  if (alert_early_) {
    // Most events of an alert neither raise it nor touch a key with state: tell from the
    // condition and the key alone, before building the output row (issue 5: < 10% overhead).
    expr::Ctx c;
    c.slots = row.slots;
    c.event_time = row.event_time;
    c.now = now;
    c.eval_errors = &m_.eval_errors;
    Value t;
    early_cond = expr::eval(*plan_->alert->condition, c, t).is_true() ? 1 : 0;
    if (early_cond == 0) {
      const auto& ki = plan_->alert->key_items;
      Value key, kt;
      const Value* k = &key;  // as alert_key() computes it, without copying a column
      if (ki.size() == 1) {
        k = &expr::eval(*plan_->items[static_cast<std::size_t>(ki[0])].expr, c, kt);
      } else if (ki.size() > 1) {
        Array a;
        for (int i : ki) a.push_back(expr::eval_value(*plan_->items[static_cast<std::size_t>(i)].expr, c));
        key = Value(std::move(a));
      }
      // A false evaluation reports no values: the output row is not needed either way.
      if (alert_->wants(*k, false))
        observe_alert(nullptr, kNoWhole, false, *k, row.event_time, m_.events_in - 1, out);
      return;
    }
  }
  expr::Ctx ctx;
  ctx.slots = row.slots;
  ctx.event_time = row.event_time;
  ctx.now = now;
  ctx.stateful = this;
  ctx.eval_errors = &m_.eval_errors;
  Value key;
  const auto& keys = plan_->group_keys;
  if (!keys.empty() && !plan_->statefuls.empty()) {
    if (keys.size() == 1) {
      key = expr::eval_value(*keys[0], ctx);
    } else {
      Array a;
      for (const auto& k : keys) a.push_back(expr::eval_value(*k, ctx));
      key = Value(std::move(a));
    }
  }
  ctx.partition_key = &key;
  ctx.outs = nullptr;
  prime_stateful(out_sites_, ctx);
  const std::uint64_t index = m_.events_in - 1;
  // The row is built in reused scratch (no per-event vector): only the payload and the result
  // id are allocated, and both leave with the Emission.
  std::vector<Value>& values = row_values_;
  values.resize(plan_->items.size());
  for (std::size_t i = 0; i < plan_->items.size(); ++i)
    values[i] = plan_->items[i].star ? Value() : expr::eval_value(*plan_->items[i].expr, ctx);
  const Value& whole = plan_->need_whole && row.whole ? *row.whole : kNoWhole;
  ctx.outs = values.data();
  prime_stateful(post_sites_, ctx);
  if (alert_) {
    Value t;
    const auto& cond = plan_->alert->condition;
    const bool holds = early_cond >= 0 ? early_cond == 1 : !cond || expr::eval(*cond, ctx, t).is_true();
    Value key_tmp;
    const Value& no_group = kNoWhole;  // a null Value: plain rules have no group key
    observe_alert(values.data(), whole, holds,
                  alert_key(values.data(), row.slots, no_group, key_tmp), row.event_time, index,
                  out);
    return;
  }
  if (plan_->having) {
    Value t;
    if (!expr::eval(*plan_->having, ctx, t).is_true()) return;
  }
  if (plan_->limit && *plan_->limit == 0) return;
  std::string payload;
  payload.reserve(payload_hint_);
  append_payload(payload, values.data(), whole);
  std::string id;
  id.reserve(id_prefix_.size() + 40);
  id += id_prefix_;
  char num[24];
  id.append(num, std::to_chars(num, num + sizeof num, row.event_time).ptr);
  id += '/';
  append_hex64(id, plan::fnv1a(payload));
  send_row(std::move(payload), std::move(id), values.data(), whole, index, row.event_time, out);
}

void RuleRuntime::send_row(std::string&& payload, std::string&& id, const Value* values,
                           const Value& whole, std::uint64_t index, TimeNs event_time,
                           Output& out) {
  // Payloads of one rule have similar sizes: reserving the last size (+ slack) saves regrowth.
  payload_hint_ = payload.size() + 16;
  Emission e;
  e.kind = EmissionKind::Result;
  e.rule = plan_->name;
  if (plan_->topic_template.has_placeholders()) plan_->topic_template.fill(values, e.topic);
  else e.topic = plan_->topic;
  e.qos = plan_->qos;
  e.retain = plan_->retain;
  e.emission_index = index;
  e.result_id = std::move(id);
  e.payload = std::move(payload);
  ++m_.results_out;
  if (has_downstream) {
    Object o;
    for (std::size_t i = 0; i < plan_->items.size(); ++i) {
      if (plan_->items[i].star) {
        if (whole.is_object())
          for (const auto& kv : whole.as_object()) o.push_back(kv);
      } else {
        o.emplace_back(plan_->items[i].name, values[i]);
      }
    }
    out.result(index_, std::move(e), &o, event_time);
  } else {
    out.result(index_, std::move(e), nullptr, event_time);
  }
}

bool RuleRuntime::remember_origin(WindowState& w, const Row& row) {
  if (!w.origins) w.origins = std::make_unique<OriginRows>();
  auto& o = *w.origins;
  if (o.rows.size() >= options_->max_rows_per_window) {
    // Not remembered: a later revision of this row would be counted as a new row.
    ++m_.dropped_rows;
    limit_hit(Limit::RowsPerWindow);
    return false;
  }
  o.index.emplace(std::string(row.origin), o.rows.size());
  o.rows.emplace_back(std::string(row.origin), buffer_row(row));
  return true;
}

BufferedRow RuleRuntime::buffer_row(const Row& row) const {
  BufferedRow br;
  br.event_time = row.event_time;
  br.slots.assign(row.slots, row.slots + plan_->slot_count);
  if (row.whole) br.whole = *row.whole;
  return br;
}

void RuleRuntime::refill(WindowState& w, const std::vector<const BufferedRow*>& rows, TimeNs wm,
                         TimeNs now, Output& out) {
  // The metrics counted each of these rows once, when it arrived.
  const std::uint64_t in = m_.events_in, filtered = m_.events_filtered;
  rebuilding_ = &w;
  for (const BufferedRow* br : rows) {
    Row r;
    r.slots = br->slots.data();
    r.event_time = br->event_time;
    r.whole = br->whole.is_null() ? nullptr : &br->whole;
    process_row(r, wm, now, out);
  }
  rebuilding_ = nullptr;
  m_.events_in = in;
  m_.events_filtered = filtered;
}

void RuleRuntime::emit_late(const Row& row, TimeNs wm, Output& out, const char* reason) {
  ++m_.late_events;
  std::string p = "{\"rule\":";
  append_json_string(p, plan_->name);
  p += ",\"reason\":\"";
  p += reason;
  p += "\",\"event_time\":";
  append_json_string(p, format_rfc3339(row.event_time));
  p += ",\"watermark\":";
  append_json_string(p, wm == kTimeMin ? std::string() : format_rfc3339(wm));
  p += ",\"event\":";
  std::string ev;
  if (row.raw) {
    ev = simdjson::minify(*row.raw);
  } else if (row.whole) {
    ev = row.whole->to_json();
  } else {
    Object o;
    for (std::size_t i = 0; i < plan_->fields.size(); ++i)
      if (!row.slots[i].is_null()) o.emplace_back(plan_->fields[i], row.slots[i]);
    ev = Value(std::move(o)).to_json();
  }
  p += ev;
  p += '}';
  Emission e;
  e.kind = EmissionKind::Late;
  e.rule = plan_->name;
  e.topic = plan_->late_topic;
  e.qos = plan_->qos;
  e.retain = false;
  e.emission_index = firings_;
  e.result_id = id_prefix_ + "late/" + std::to_string(row.event_time) + "/" +
                plan::hex64(plan::fnv1a(ev));
  e.payload = std::move(p);
  out.late(std::move(e));
}

std::string RuleRuntime::make_payload(const PendingRow& r) const {
  std::string p;
  p.reserve(64 + 24 * r.values.size());
  append_payload(p, r.values.data(), r.whole);
  return p;
}

void RuleRuntime::append_payload(std::string& p, const Value* values, const Value& whole) const {
  p.push_back('{');
  bool first = true;
  for (std::size_t i = 0; i < plan_->items.size(); ++i) {
    const auto& item = plan_->items[i];
    if (item.star) {
      if (!whole.is_object()) continue;
      for (const auto& [k, v] : whole.as_object()) {
        if (!first) p.push_back(',');
        first = false;
        append_json_string(p, k);
        p.push_back(':');
        v.append_json(p);
      }
      continue;
    }
    if (!first) p.push_back(',');
    first = false;
    append_json_string(p, item.name);
    p.push_back(':');
    values[i].append_json(p);
  }
  p.push_back('}');
}

void RuleRuntime::emit_window(WindowState& w, TimeNs start, TimeNs end, const std::string& id_base,
                              TimeNs now, Output& out) {
  if (partial_phase && plan_->aggregate_mode) return emit_partials(w, start, end, out);
  std::vector<PendingRow> rows;
  expr::Ctx ctx;
  ctx.window_start = start;
  ctx.window_end = end;
  ctx.has_window = true;
  ctx.now = now;
  ctx.event_time = end == kTimeMin ? end : end - 1;
  ctx.stateful = this;
  ctx.eval_errors = &m_.eval_errors;
  const std::string rev = w.revision > 0 ? "/r" + std::to_string(w.revision) : std::string();
  const auto& items = plan_->items;
  auto finish_row = [&](PendingRow& r) -> bool {
    ctx.outs = r.values.data();
    prime_stateful(post_sites_, ctx);
    if (plan_->having) {
      Value t;
      if (!expr::eval(*plan_->having, ctx, t).is_true()) return false;
    }
    if (alert_ && plan_->alert->condition) {
      Value t;
      r.cond = expr::eval(*plan_->alert->condition, ctx, t).is_true();
    }
    for (const auto& o : plan_->order_by) r.order.push_back(expr::eval_value(*o.expr, ctx));
    return true;
  };
  // Points the context at one group's aggregate results, keys and last row.
  auto bind_group = [&](Group& g) {
    for (std::size_t i = 0; i < plan_->aggs.size(); ++i)
      agg_results_[i] = plan_->aggs[i].fn->result(g.aggs + plan_->aggs[i].offset);
    ctx.aggs = agg_results_.data();
    ctx.keys = plan_->group_keys.size() > 1 ? g.key.as_array().data() : &g.key;
    ctx.slots = g.extra ? g.extra->last_row.data() : nullptr;
    ctx.partition_key = &g.key;
    ctx.outs = nullptr;  // the previous group's row is gone
    prime_stateful(out_sites_, ctx);
  };
  // The common case (no DISTINCT, ORDER BY, LIMIT or alert): each group's row goes out as soon
  // as it is built, in reused scratch, so a window of 10,000 keys costs two allocations per
  // row (payload and id, which leave with the Emission) and no row buffer.
  const bool direct = !plan_->distinct && plan_->order_by.empty() && !plan_->limit && !alert_;
  if (plan_->aggregate_mode && direct) {
    const std::uint64_t index = firings_++;
    const TimeNs row_time = end - 1;
    agg_results_.resize(plan_->aggs.size());
    std::vector<Value>& values = row_values_;
    values.resize(items.size());
    for (auto& g : w.groups) {
      bind_group(g);
      for (std::size_t i = 0; i < items.size(); ++i)
        values[i] = items[i].star ? Value() : expr::eval_value(*items[i].expr, ctx);
      const Value& whole = plan_->last_row_whole && g.extra ? g.extra->whole : kNoWhole;
      ctx.outs = values.data();
      prime_stateful(post_sites_, ctx);
      if (plan_->having) {
        Value t;
        if (!expr::eval(*plan_->having, ctx, t).is_true()) continue;
      }
      std::string payload;
      payload.reserve(payload_hint_);
      append_payload(payload, values.data(), whole);
      key_json_.clear();
      g.key.append_json(key_json_);
      std::string id;
      id.reserve(id_base.size() + 16 + rev.size());
      id += id_base;
      append_hex64(id, plan::fnv1a(key_json_));
      id += rev;
      send_row(std::move(payload), std::move(id), values.data(), whole, index, row_time, out);
    }
    return;
  }
  if (plan_->aggregate_mode) {
    agg_results_.resize(plan_->aggs.size());
    for (auto& g : w.groups) {
      bind_group(g);
      PendingRow r;
      r.values.resize(items.size());
      for (std::size_t i = 0; i < items.size(); ++i)
        if (!items[i].star) r.values[i] = expr::eval_value(*items[i].expr, ctx);
      if (plan_->last_row_whole && g.extra) r.whole = g.extra->whole;
      r.key = g.key;
      if (!finish_row(r)) continue;
      r.id = id_base + plan::hex64(plan::fnv1a(g.key.to_json())) + rev;
      rows.push_back(std::move(r));
    }
  } else {
    std::stable_sort(w.rows.begin(), w.rows.end(), [](const BufferedRow& a, const BufferedRow& b) {
      return a.event_time < b.event_time;
    });
    Value no_key;
    ctx.partition_key = &no_key;
    std::size_t n = 0;
    const std::string key_hash = plan::hex64(plan::fnv1a("null"));
    for (auto& br : w.rows) {
      ctx.slots = br.slots.data();
      ctx.event_time = br.event_time;
      ctx.outs = nullptr;
      prime_stateful(out_sites_, ctx);
      PendingRow r;
      r.values.resize(items.size());
      for (std::size_t i = 0; i < items.size(); ++i)
        if (!items[i].star) r.values[i] = expr::eval_value(*items[i].expr, ctx);
      r.whole = br.whole;
      if (!finish_row(r)) continue;
      r.id = id_base + key_hash + "/" + std::to_string(n++) + rev;
      rows.push_back(std::move(r));
    }
  }
  const TimeNs row_time = end - 1;
  ++firings_;
  emit_rows(rows, row_time, out);
}

void RuleRuntime::emit_rows(std::vector<PendingRow>& rows, TimeNs event_time, Output& out) {
  const std::uint64_t index = firings_ - 1;
  std::vector<std::string> payloads;
  payloads.reserve(rows.size());
  for (auto& r : rows) payloads.push_back(make_payload(r));
  std::vector<std::size_t> order(rows.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (plan_->distinct) {
    std::unordered_set<std::string> seen;
    std::vector<std::size_t> kept;
    for (std::size_t i : order)
      if (seen.insert(payloads[i]).second) kept.push_back(i);
    order.swap(kept);
  }
  if (!plan_->order_by.empty()) {
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      for (std::size_t k = 0; k < plan_->order_by.size(); ++k) {
        const int c = compare(rows[a].order[k], rows[b].order[k]);
        if (c != 0) return plan_->order_by[k].descending ? c > 0 : c < 0;
      }
      return false;
    });
  }
  if (plan_->limit && order.size() > static_cast<std::size_t>(*plan_->limit))
    order.resize(static_cast<std::size_t>(*plan_->limit));
  for (std::size_t i : order) {
    if (alert_) {
      Value key_tmp;
      observe_alert(rows[i].values.data(), rows[i].whole, rows[i].cond,
                    alert_key(rows[i].values.data(), nullptr, rows[i].key, key_tmp), event_time,
                    index, out);
      continue;
    }
    Emission e;
    e.kind = EmissionKind::Result;
    e.rule = plan_->name;
    if (plan_->topic_template.has_placeholders())
      plan_->topic_template.fill(rows[i].values.data(), e.topic);
    else
      e.topic = plan_->topic;
    e.qos = plan_->qos;
    e.retain = plan_->retain;
    e.emission_index = index;
    e.result_id = std::move(rows[i].id);
    e.payload = std::move(payloads[i]);
    ++m_.results_out;
    if (has_downstream) {
      Object o;
      for (std::size_t k = 0; k < plan_->items.size(); ++k) {
        if (plan_->items[k].star) {
          if (rows[i].whole.is_object())
            for (const auto& kv : rows[i].whole.as_object()) o.push_back(kv);
        } else {
          o.emplace_back(plan_->items[k].name, rows[i].values[k]);
        }
      }
      out.result(index_, std::move(e), &o, event_time);
    } else {
      out.result(index_, std::move(e), nullptr, event_time);
    }
  }
}

const Value& RuleRuntime::alert_key(const Value* values, const Value* slots,
                                    const Value& group_key, Value& tmp) const {
  const auto& ap = *plan_->alert;
  if (!ap.key_items.empty()) {
    if (ap.key_items.size() == 1) return values[static_cast<std::size_t>(ap.key_items[0])];
    Array a;
    for (int k : ap.key_items) a.push_back(values[static_cast<std::size_t>(k)]);
    tmp = Value(std::move(a));
    return tmp;
  }
  if (ap.key_slots > 0 && slots) {
    if (ap.key_slots == 1) return slots[0];
    tmp = Value(Array(slots, slots + ap.key_slots));
    return tmp;
  }
  return group_key;
}

void RuleRuntime::observe_alert(const Value* row_values, const Value& whole, bool cond,
                                const Value& key, TimeNs event_time, std::uint64_t index,
                                Output& out) {
  alert_index_ = index;
  if (!cond) {
    // A false evaluation never reports values: skip building them (observe() itself returns
    // at once for a key without state).
    alert_out_ = &out;
    alert_->observe(key, false, Value(), event_time, alert_sink_);
    alert_out_ = nullptr;
    return;
  }
  Object values;
  values.reserve(plan_->items.size());
  for (std::size_t k = 0; k < plan_->items.size(); ++k) {
    if (plan_->items[k].star) {
      if (whole.is_object())
        for (const auto& kv : whole.as_object()) values.push_back(kv);
    } else {
      values.emplace_back(plan_->items[k].name, row_values[k]);
    }
  }
  alert_out_ = &out;
  alert_->observe(key, true, Value(std::move(values)), event_time, alert_sink_);
  alert_out_ = nullptr;
}

void RuleRuntime::send_alert(alert::AlertMessage&& m) {
  // Each transition goes out twice: on the alert topic, and retained on the key's state topic
  // so a dashboard connecting later sees the current state of every key. The message's strings
  // move into the emissions; the id is built once with room for the "/state" of the second.
  std::string id;
  id.reserve(id_prefix_.size() + m.id.size() + 32);
  id += id_prefix_;
  id += "alert/";
  id += m.id;
  id += m.state == alert::AlertState::Raised ? "/raised" : "/cleared";
  for (int state_topic = 0; state_topic < 2; ++state_topic) {
    Emission e;
    e.kind = EmissionKind::Alert;
    e.rule = plan_->name;
    e.topic = state_topic ? std::move(m.state_topic) : std::move(m.topic);
    e.qos = plan_->qos;
    e.retain = state_topic == 1;
    e.emission_index = alert_index_;
    if (state_topic) {
      id += "/state";
      e.result_id = std::move(id);
    } else {
      e.result_id = id;
    }
    e.payload = state_topic ? std::move(m.payload) : m.payload;
    ++m_.results_out;
    if (state_topic == 0 && has_downstream) {
      // Rules reading FROM the alert get each transition once, as a row of the message fields.
      const Object row = alert::to_row(alert_->options(), m);
      alert_out_->result(index_, std::move(e), &row, m.time);
      continue;
    }
    alert_out_->result(index_, std::move(e), nullptr, m.time);
  }
}

void RuleRuntime::advance(TimeNs wm, TimeNs now, Output& out) {
  if (paused) {
    advanced_to_ = kTimeMin;  // after a resume, the first advance does the full work
    return;
  }
  // Called after every event: when the watermark did not move and the event opened nothing
  // that is already due, there is nothing to fire or expire. Matches and alerts keep their own
  // timers, so rules with them always go through.
  // LEFT interval join: a right watermark step may have ended some left rows' intervals even
  // when the rule's watermark (held back by the left stream) did not move. They go to windows as
  // of the previous watermark: the windows they belong to fire below.
  if (ijoin_ && plan_->interval->left) release_unmatched(advanced_to_, now, out);
  if (wm == advanced_to_ && !due_ && !match_ && !alert_) return;
  if (!plan_->windowed() && !match_ && !alert_ && states_.empty()) {
    // A plain rule (filter, projection) has nothing that waits for time.
    advanced_to_ = wm;
    m_.watermark = wm;
    return;
  }
  advanced_to_ = wm;
  due_ = false;
  now_ = now;
  m_.watermark = wm;
  if (match_) release_matches(wm, now, out);
  if (wjoin_) fire_window_join(wm, now, out);
  if (window_) window_->advance(wm, now, out);
  sweep_states(wm);
  if (alert_ && alert_->due(wm)) {
    alert_index_ = firings_ > 0 ? firings_ - 1 : m_.events_in;
    alert_out_ = &out;
    alert_->advance(wm, alert_sink_);
    alert_out_ = nullptr;
  }
}

}  // namespace streamgate::rules::runtime
