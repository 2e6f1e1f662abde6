// Session windows, per GROUP BY key: a session grows while events arrive within `gap` of it and
// closes when the watermark reaches last event + gap (window_end); window_start is the first
// event's time. With a max duration, an event that would stretch a session beyond it starts a
// new session, and window_end is capped at start + max duration. An out-of-order event that
// bridges two sessions of a key merges them: aggregate states via the registry's merge, except
// DISTINCT aggregates, which are rebuilt from the united set of values (merging their states
// would count a value seen in both halves twice).
#include "rules/runtime/rule_runtime.h"

namespace streamgate::rules::runtime {

namespace {

TimeNs session_end(const plan::WindowSpec& ws, TimeNs first, TimeNs last) {
  TimeNs end = window::sat_add(last, ws.gap);
  if (ws.max_duration > 0) end = std::min(end, window::sat_add(first, ws.max_duration));
  return end;
}

}  // namespace

void RuleRuntime::merge_session(Session& into, Session& from) {
  for (auto& g : from.w.groups) {
    Group* tg = into.w.groups.find(g.key, g.hash);
    if (!tg) tg = new_group(into.w, g.key, g.hash);
    for (const auto& a : plan_->aggs)
      if (!a.distinct) a.fn->merge(tg->aggs + a.offset, g.aggs + a.offset);
    if (g.extra && tg->extra) {
      for (std::size_t i = 0; i < g.extra->distinct.size(); ++i) {
        auto& set = tg->extra->distinct[i];
        for (const auto& v : g.extra->distinct[i]) {
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
        std::byte* st = tg->aggs + a.offset;
        a.fn->destroy(st);
        a.fn->construct(st);
        // The set holds each argument once (several arguments as one array), as
        // add_to_window offered them.
        for (const auto& v : tg->extra->distinct[static_cast<std::size_t>(a.distinct_index)]) {
          if (a.args.size() > 1 && v.is_array()) a.fn->add(st, Args{v.as_array().data(), v.as_array().size()});
          else a.fn->add(st, Args{&v, 1});
        }
      }
      if (from.last > into.last) {
        tg->extra->last_row = g.extra->last_row;
        tg->extra->whole = g.extra->whole;
      }
    }
  }
  for (auto& r : from.w.rows) into.w.rows.push_back(std::move(r));
  from.w.rows.clear();  // moved into `into`: counted once in pending_rows_
  into.first = std::min(into.first, from.first);
  into.last = std::max(into.last, from.last);
  into.w.fired = into.w.fired || from.w.fired;
  into.w.revision = std::max(into.w.revision, from.w.revision);
}

void RuleRuntime::on_row_session(const Row& row, const Value& key, std::uint64_t hash, TimeNs wm,
                                 TimeNs now, Output& out) {
  const auto& ws = plan_->window;
  const TimeNs t = row.event_time;
  auto kit = sessions_by_key_.find(key);
  std::vector<std::uint64_t> matches;
  if (kit != sessions_by_key_.end()) {
    for (std::uint64_t id : kit->second) {
      const Session& s = *sessions_[id];
      const bool near = t >= window::sat_add(s.first, -ws.gap) && t < window::sat_add(s.last, ws.gap);
      if (!near) continue;
      if (ws.max_duration > 0) {
        const TimeNs lo = std::min(s.first, t), hi = std::max(s.last, t);
        if (hi - lo >= ws.max_duration) continue;
      }
      matches.push_back(id);
    }
  }
  Session* s = nullptr;
  if (matches.empty()) {
    if (window::sat_add(session_end(ws, t, t), lateness_) <= wm) {
      emit_late(row, wm, out);
      return;
    }
    if (sessions_.size() >= options_->max_open_windows) {
      ++m_.dropped_windows;
      limit_hit(Limit::Windows);
      return;
    }
    auto ns = std::make_unique<Session>();
    ns->id = next_session_id_++;
    ns->key = key;
    ns->hash = hash;
    ns->first = ns->last = t;
    ns->end = session_end(ws, t, t);
    ns->w.start = t;
    ns->w.end = ns->end;
    s = ns.get();
    sessions_by_end_.insert({s->end, s->id});
    sessions_by_key_[key].push_back(s->id);
    sessions_.emplace(s->id, std::move(ns));
  } else {
    s = sessions_[matches[0]].get();
    sessions_by_end_.erase({s->end, s->id});
    for (std::size_t i = 1; i < matches.size(); ++i) {
      Session& other = *sessions_[matches[i]];
      merge_session(*s, other);
      sessions_by_end_.erase({other.end, other.id});
      destroy_window(other.w);
      auto& ids = sessions_by_key_[key];
      ids.erase(std::remove(ids.begin(), ids.end(), other.id), ids.end());
      sessions_.erase(matches[i]);
    }
  }
  if (!add_to_window(s->w, row, key, hash)) {
    sessions_by_end_.insert({s->end, s->id});
    return;
  }
  s->first = std::min(s->first, t);
  s->last = std::max(s->last, t);
  s->end = session_end(ws, s->first, s->last);
  s->w.start = s->first;
  s->w.end = s->end;
  sessions_by_end_.insert({s->end, s->id});
  if (s->end <= wm) due_ = true;  // kept open by ALLOWEDLATENESS: fires on this advance
  if (s->w.fired) {
    ++s->w.revision;
    emit_window(s->w, s->first, s->end, id_prefix_ + std::to_string(s->first) + "/", now, out);
  }
}

void RuleRuntime::advance_sessions(TimeNs wm, TimeNs now, Output& out) {
  for (auto it = sessions_by_end_.begin(); it != sessions_by_end_.end() && it->first <= wm; ++it) {
    Session& s = *sessions_[it->second];
    if (s.w.fired) continue;
    s.w.fired = true;
    emit_window(s.w, s.first, s.end, id_prefix_ + std::to_string(s.first) + "/", now, out);
  }
  while (!sessions_by_end_.empty()) {
    auto it = sessions_by_end_.begin();
    if (window::sat_add(it->first, lateness_) > wm) break;
    auto sit = sessions_.find(it->second);
    if (!sit->second->w.fired) break;
    Session& s = *sit->second;
    destroy_window(s.w);
    auto kit = sessions_by_key_.find(s.key);
    if (kit != sessions_by_key_.end()) {
      auto& ids = kit->second;
      ids.erase(std::remove(ids.begin(), ids.end(), s.id), ids.end());
      if (ids.empty()) sessions_by_key_.erase(kit);
    }
    sessions_.erase(sit);
    sessions_by_end_.erase(it);
  }
}

}  // namespace streamgate::rules::runtime
