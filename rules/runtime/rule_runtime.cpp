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
#include <chrono>
#include <cstring>

#include "rules/ingest/ingest.h"

namespace streamgate::rules::runtime {

using plan::WindowKind;

// ---------------------------------------------------------------- Arena / GroupTable

std::byte* Arena::alloc(std::size_t size, std::size_t align) {
  if (size == 0) return nullptr;
  std::size_t off = (used_ + align - 1) / align * align;
  if (blocks_.empty() || off + size > kBlock) {
    const std::size_t n = std::max(size + align, kBlock);
    blocks_.push_back(std::make_unique<std::byte[]>(n));
    used_ = 0;
    // Block storage from new[] is max-aligned.
    off = 0;
    if (n > kBlock) {
      // Oversized single state: give it its own block and start a fresh one next time.
      used_ = kBlock;
      return blocks_.back().get();
    }
  }
  used_ = off + size;
  return blocks_.back().get() + off;
}

Group* GroupTable::find(const Value& key, std::uint64_t hash) {
  if (table_.empty()) return nullptr;
  const std::size_t mask = table_.size() - 1;
  const auto tag = static_cast<std::uint32_t>(hash >> 32);
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = table_[i];
    if (s.index == 0) return nullptr;
    if (s.tag != tag) continue;
    Group& grp = groups_[s.index - 1];
    if (grp.hash == hash && grp.key == key) return &grp;
  }
}

void GroupTable::grow() {
  const std::size_t n = table_.empty() ? 16 : table_.size() * 2;
  table_.assign(n, Slot{});
  const std::size_t mask = n - 1;
  for (std::size_t gi = 0; gi < groups_.size(); ++gi) {
    std::size_t i = groups_[gi].hash & mask;
    while (table_[i].index != 0) i = (i + 1) & mask;
    table_[i] = Slot{static_cast<std::uint32_t>(groups_[gi].hash >> 32), static_cast<std::uint32_t>(gi + 1)};
  }
}

Group* GroupTable::insert(Value key, std::uint64_t hash) {
  if ((groups_.size() + 1) * 2 > table_.size()) grow();
  groups_.push_back(Group{std::move(key), hash, nullptr, nullptr});
  const std::size_t mask = table_.size() - 1;
  std::size_t i = hash & mask;
  while (table_[i].index != 0) i = (i + 1) & mask;
  table_[i] = Slot{static_cast<std::uint32_t>(hash >> 32), static_cast<std::uint32_t>(groups_.size())};
  return &groups_.back();
}

// ---------------------------------------------------------------- RuleRuntime

RuleRuntime::RuleRuntime(const plan::RulePlan* plan, int index, const EngineOptions* options)
    : plan_(plan), index_(index), options_(options) {
  m_.name = plan->name;
  id_prefix_ = plan->name + "/" + plan->text_hash.substr(0, 8) + "/";
  states_.resize(plan->statefuls.size());
  build_stateful_sites();
  if (plan->match) match_ = std::make_unique<MatchStage>(plan->match.get(), options, plan->state_ttl);
  if (plan->alert) {
    alert::AlertOptions o = plan->alert->options;
    o.max_keys = options->max_group_keys;
    alert_ = std::make_unique<alert::AlertMachine>(std::move(o));
    alert_sink_ = [this](alert::AlertMessage&& m) { send_alert(std::move(m)); };
  }
}

RuleRuntime::~RuleRuntime() {
  for (auto& [k, w] : windows_) destroy_window(*w);
  for (auto& [id, s] : sessions_) destroy_window(s->w);
  if (count_window_) destroy_window(*count_window_);
}

std::string RuleRuntime::id_prefix() const { return id_prefix_; }

RuleMetrics RuleRuntime::metrics() const {
  RuleMetrics m = m_;
  m.name = plan_->name;
  m.open_windows = windows_.size() + sessions_.size() + (count_window_ ? 1 : 0);
  m.group_keys = total_groups_;
  m.paused = paused;
  return m;
}

void RuleRuntime::destroy_window(WindowState& w) {
  for (auto& g : w.groups.groups()) {
    if (g.aggs)
      for (const auto& a : plan_->aggs) a.fn->destroy(g.aggs + a.offset);
    g.aggs = nullptr;
  }
  total_groups_ -= std::min(total_groups_, w.groups.size());
}

void RuleRuntime::init_group(Group& g, WindowState& w) {
  if (!plan_->aggs.empty()) {
    g.aggs = w.arena.alloc(plan_->arena_size, plan_->arena_align);
    for (const auto& a : plan_->aggs) a.fn->construct(g.aggs + a.offset);
  }
  if (plan_->distinct_sets > 0 || !plan_->last_row_fields.empty() || plan_->last_row_whole) {
    g.extra = std::make_unique<GroupExtra>();
    g.extra->distinct.resize(static_cast<std::size_t>(plan_->distinct_sets));
    g.extra->last_row.resize(plan_->last_row_fields.size());
  }
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
    for (const auto& k : plan->group_keys) expr::collect_stateful_sites(*k, key_sites_, site_nodes_);
    if (plan->where) {
      // A site already primed for the key is not called twice for the same row.
      std::vector<int> seen = key_sites_;
      expr::collect_stateful_sites(*plan->where, seen, site_nodes_);
      where_sites_.assign(seen.begin() + static_cast<std::ptrdiff_t>(key_sites_.size()), seen.end());
    }
    for (const auto& a : plan->aggs) {
      for (const auto& arg : a.args) expr::collect_stateful_sites(*arg, agg_sites_, site_nodes_);
      if (a.filter) expr::collect_stateful_sites(*a.filter, agg_sites_, site_nodes_);
    }
    for (const auto& it : plan->items)
      if (it.expr) expr::collect_stateful_sites(*it.expr, out_sites_, site_nodes_);
    // HAVING / ORDER BY may read SELECT aliases (ctx.outs): their own sites run after the items.
    std::vector<int> post = out_sites_;
    if (plan->having) expr::collect_stateful_sites(*plan->having, post, site_nodes_);
    // An alert's condition (its WHERE or HAVING) is evaluated with the output row.
    if (plan->alert && plan->alert->condition)
      expr::collect_stateful_sites(*plan->alert->condition, out_sites_, site_nodes_);
    for (const auto& o : plan->order_by) expr::collect_stateful_sites(*o.expr, post, site_nodes_);
    for (int s : post) {
      bool in_items = false;
      for (int o : out_sites_) in_items = in_items || o == s;
      if (!in_items) post_sites_.push_back(s);
    }
  }
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
      return Value();
    }
    it = table.emplace(std::move(key), StatefulEntry{spec.fn->create(), 0}).first;
  }
  it->second.touched = ctx.event_time;
  return it->second.state->call(args, ctx.event_time);
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

void RuleRuntime::eval_agg_inputs(expr::Ctx& ctx) {
  const auto& aggs = plan_->aggs;
  prime_stateful(agg_sites_, ctx);
  in_.args.clear();
  in_.offsets.resize(aggs.size() + 1);
  in_.pass.resize(aggs.size());
  for (std::size_t i = 0; i < aggs.size(); ++i) {
    const auto& a = aggs[i];
    in_.offsets[i] = static_cast<std::uint32_t>(in_.args.size());
    bool pass = true;
    if (a.filter) {
      Value t;
      pass = expr::eval(*a.filter, ctx, t).is_true();
    }
    in_.pass[i] = pass;
    if (pass)
      for (const auto& arg : a.args) in_.args.push_back(expr::eval_value(*arg, ctx));
  }
  in_.offsets[aggs.size()] = static_cast<std::uint32_t>(in_.args.size());
}

bool RuleRuntime::add_to_window(WindowState& w, const Row& row, const Value& key,
                                std::uint64_t hash) {
  if (!plan_->aggregate_mode) {
    if (w.rows.size() >= options_->max_rows_per_window) {
      ++m_.dropped_rows;
      return false;
    }
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
      return false;
    }
    g = w.groups.insert(key, hash);
    ++total_groups_;
    init_group(*g, w);
  }
  const auto& aggs = plan_->aggs;
  for (std::size_t i = 0; i < aggs.size(); ++i) {
    if (!in_.pass[i]) continue;
    const auto& a = aggs[i];
    const Value* args = in_.args.data() + in_.offsets[i];
    const std::size_t n = in_.offsets[i + 1] - in_.offsets[i];
    if (a.distinct) {
      Value dkey;
      if (n == 1) {
        dkey = args[0];
      } else if (n > 1) {
        dkey = Value(Array(args, args + n));
      }
      if (n >= 1 && args[0].is_null()) continue;  // DISTINCT ignores NULLs like SQL
      if (!g->extra->distinct[static_cast<std::size_t>(a.distinct_index)].insert(std::move(dkey)).second)
        continue;
    }
    a.fn->add(g->aggs + a.offset, Args{args, n});
  }
  if (g->extra) {
    for (std::size_t i = 0; i < plan_->last_row_fields.size(); ++i)
      g->extra->last_row[i] = row.slots[plan_->last_row_fields[i]];
    if (plan_->last_row_whole && row.whole) g->extra->whole = *row.whole;
  }
  return true;
}

void RuleRuntime::on_row(const Row& row, TimeNs wm, TimeNs now, Output& out) {
  if (paused) return;
  if (match_) {
    // MATCH_RECOGNIZE: the row waits for the watermark; the rule body sees the matches.
    if (!match_->add(row.slots, row.event_time, &m_.dropped_rows)) {
      emit_late(row, wm, out);
      return;
    }
    release_matches(wm, now, out);
    return;
  }
  process_row(row, wm, now, out);
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
  Value key;
  const auto& keys = plan_->group_keys;
  prime_stateful(key_sites_, ctx);
  if (keys.size() == 1) {
    key = expr::eval_value(*keys[0], ctx);
  } else if (keys.size() > 1) {
    Array a;
    a.reserve(keys.size());
    for (const auto& k : keys) a.push_back(expr::eval_value(*k, ctx));
    key = Value(std::move(a));
  }
  ctx.partition_key = &key;
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
    const std::uint64_t hash = key.hash();
    switch (plan_->window.kind) {
      case WindowKind::Session: on_row_session(row, key, hash, wm, now, out); break;
      case WindowKind::Counting: on_row_counting(row, key, hash, now, out); break;
      default: on_row_time_window(row, key, hash, wm, now, out); break;
    }
  }
  if (timed)
    m_.eval_ns += 64 * static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                      std::chrono::steady_clock::now() - t0)
                                                      .count());
}

void RuleRuntime::on_row_plain(const Row& row, TimeNs now, Output& out) {
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
  std::vector<PendingRow> rows(1);
  PendingRow& r = rows[0];
  r.values.resize(plan_->items.size());
  for (std::size_t i = 0; i < plan_->items.size(); ++i)
    if (!plan_->items[i].star) r.values[i] = expr::eval_value(*plan_->items[i].expr, ctx);
  if (plan_->need_whole && row.whole) r.whole = *row.whole;
  ctx.outs = r.values.data();
  prime_stateful(post_sites_, ctx);
  if (alert_) {
    Value t;
    const auto& cond = plan_->alert->condition;
    r.cond = !cond || expr::eval(*cond, ctx, t).is_true();
    observe_alert(r, alert_key(r, row.slots), row.event_time, index, out);
    return;
  }
  if (plan_->having) {
    Value t;
    if (!expr::eval(*plan_->having, ctx, t).is_true()) return;
  }
  if (plan_->limit && *plan_->limit == 0) return;
  const std::string payload = make_payload(r);
  Emission e;
  e.kind = EmissionKind::Result;
  e.rule = plan_->name;
  e.topic = plan_->topic;
  e.qos = plan_->qos;
  e.retain = plan_->retain;
  e.emission_index = index;
  e.result_id = id_prefix_;
  e.result_id += std::to_string(row.event_time);
  e.result_id += '/';
  e.result_id += plan::hex64(plan::fnv1a(payload));
  e.payload = payload;
  ++m_.results_out;
  if (has_downstream) {
    Object o;
    for (std::size_t i = 0; i < plan_->items.size(); ++i) {
      if (plan_->items[i].star) {
        if (r.whole.is_object())
          for (const auto& kv : r.whole.as_object()) o.push_back(kv);
      } else {
        o.emplace_back(plan_->items[i].name, r.values[i]);
      }
    }
    out.result(index_, std::move(e), &o, row.event_time);
  } else {
    out.result(index_, std::move(e), nullptr, row.event_time);
  }
}

void RuleRuntime::on_row_time_window(const Row& row, const Value& key, std::uint64_t hash,
                                     TimeNs wm, TimeNs now, Output& out) {
  const auto& ws = plan_->window;
  if (ws.kind == WindowKind::Tumbling) {
    bounds_.clear();
    bounds_.push_back(window::tumbling_window(ws, row.event_time));
  } else {
    window::sliding_windows(ws, row.event_time, bounds_);
  }
  bool accepted = false, refused = false;
  for (const auto& b : bounds_) {
    WindowState* w = nullptr;
    if (last_window_ && last_window_->start == b.start && last_window_->end == b.end) {
      w = last_window_;
    } else {
      auto it = windows_.find({b.end, b.start});
      if (it != windows_.end()) w = it->second.get();
    }
    if (!w) {
      if (window::sat_add(b.end, lateness_) <= wm) continue;  // gone: late for this window
      if (windows_.size() >= options_->max_open_windows) {
        ++m_.dropped_windows;
        refused = true;
        continue;
      }
      auto ws_ptr = std::make_unique<WindowState>();
      ws_ptr->start = b.start;
      ws_ptr->end = b.end;
      w = ws_ptr.get();
      windows_.emplace(std::make_pair(b.end, b.start), std::move(ws_ptr));
    }
    last_window_ = w;
    if (add_to_window(*w, row, key, hash)) {
      accepted = true;
      if (w->fired) {
        // Allowed lateness: update and re-emit the fired window.
        ++w->revision;
        emit_window(*w, w->start, w->end, id_prefix_ + std::to_string(w->start) + "/", now, out);
      }
    } else {
      refused = true;
    }
  }
  // An event in the gap of a hopping window whose hop exceeds its size belongs to no window:
  // it is not late, just outside every window.
  if (!accepted && !refused && !bounds_.empty()) emit_late(row, wm, out);
}

void RuleRuntime::emit_late(const Row& row, TimeNs wm, Output& out) {
  ++m_.late_events;
  std::string p = "{\"rule\":";
  append_json_string(p, plan_->name);
  p += ",\"reason\":\"late\",\"event_time\":";
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
  p.push_back('{');
  bool first = true;
  for (std::size_t i = 0; i < plan_->items.size(); ++i) {
    const auto& item = plan_->items[i];
    if (item.star) {
      if (!r.whole.is_object()) continue;
      for (const auto& [k, v] : r.whole.as_object()) {
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
    r.values[i].append_json(p);
  }
  p.push_back('}');
  return p;
}

void RuleRuntime::emit_window(WindowState& w, TimeNs start, TimeNs end, const std::string& id_base,
                              TimeNs now, Output& out) {
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
  if (plan_->aggregate_mode) {
    agg_results_.resize(plan_->aggs.size());
    for (auto& g : w.groups.groups()) {
      for (std::size_t i = 0; i < plan_->aggs.size(); ++i)
        agg_results_[i] = plan_->aggs[i].fn->result(g.aggs + plan_->aggs[i].offset);
      ctx.aggs = agg_results_.data();
      ctx.keys = plan_->group_keys.size() > 1 ? g.key.as_array().data() : &g.key;
      ctx.slots = g.extra ? g.extra->last_row.data() : nullptr;
      ctx.partition_key = &g.key;
      ctx.outs = nullptr;  // the previous group's row is gone
      prime_stateful(out_sites_, ctx);
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
      observe_alert(rows[i], alert_key(rows[i], nullptr), event_time, index, out);
      continue;
    }
    Emission e;
    e.kind = EmissionKind::Result;
    e.rule = plan_->name;
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

Value RuleRuntime::alert_key(const PendingRow& r, const Value* slots) const {
  const auto& ap = *plan_->alert;
  if (!ap.key_items.empty()) {
    if (ap.key_items.size() == 1) return r.values[static_cast<std::size_t>(ap.key_items[0])];
    Array a;
    for (int k : ap.key_items) a.push_back(r.values[static_cast<std::size_t>(k)]);
    return Value(std::move(a));
  }
  if (ap.key_slots > 0 && slots) {
    if (ap.key_slots == 1) return slots[0];
    return Value(Array(slots, slots + ap.key_slots));
  }
  return r.key;
}

void RuleRuntime::observe_alert(const PendingRow& r, const Value& key, TimeNs event_time,
                                std::uint64_t index, Output& out) {
  Object values;
  for (std::size_t k = 0; k < plan_->items.size(); ++k) {
    if (plan_->items[k].star) {
      if (r.whole.is_object())
        for (const auto& kv : r.whole.as_object()) values.push_back(kv);
    } else {
      values.emplace_back(plan_->items[k].name, r.values[k]);
    }
  }
  alert_index_ = index;
  alert_out_ = &out;
  alert_->observe(key, r.cond, Value(std::move(values)), event_time, alert_sink_);
  alert_out_ = nullptr;
}

void RuleRuntime::send_alert(alert::AlertMessage&& m) {
  // Each transition goes out twice: on the alert topic, and retained on the key's state topic
  // so a dashboard connecting later sees the current state of every key.
  const std::string base =
      id_prefix_ + "alert/" + m.id + (m.state == alert::AlertState::Raised ? "/raised" : "/cleared");
  for (int state_topic = 0; state_topic < 2; ++state_topic) {
    Emission e;
    e.kind = EmissionKind::Alert;
    e.rule = plan_->name;
    e.topic = state_topic ? m.state_topic : m.topic;
    e.qos = plan_->qos;
    e.retain = state_topic == 1;
    e.emission_index = alert_index_;
    e.result_id = state_topic ? base + "/state" : base;
    e.payload = state_topic ? std::move(m.payload) : m.payload;
    ++m_.results_out;
    alert_out_->result(index_, std::move(e), nullptr, m.time);
  }
}

void RuleRuntime::advance(TimeNs wm, TimeNs now, Output& out) {
  if (paused) return;
  m_.watermark = wm;
  if (match_) release_matches(wm, now, out);
  if (plan_->window.kind == WindowKind::Session) {
    advance_sessions(wm, now, out);
  } else if (plan_->window.kind == WindowKind::Tumbling ||
             plan_->window.kind == WindowKind::Sliding) {
    for (auto it = windows_.begin(); it != windows_.end() && it->first.first <= wm; ++it) {
      WindowState& w = *it->second;
      if (!w.fired) {
        w.fired = true;
        emit_window(w, w.start, w.end, id_prefix_ + std::to_string(w.start) + "/", now, out);
      }
    }
    while (!windows_.empty()) {
      auto it = windows_.begin();
      if (window::sat_add(it->first.first, lateness_) > wm || !it->second->fired) break;
      if (last_window_ == it->second.get()) last_window_ = nullptr;
      destroy_window(*it->second);
      windows_.erase(it);
    }
  }
  sweep_states(wm);
  if (alert_ && alert_->due(wm)) {
    alert_index_ = firings_ > 0 ? firings_ - 1 : m_.events_in;
    alert_out_ = &out;
    alert_->advance(wm, alert_sink_);
    alert_out_ = nullptr;
  }
}

}  // namespace streamgate::rules::runtime
