// Session windows (a kind of the window registry, window_type.h), per GROUP BY key: a session grows while events arrive within `gap` of it and
// closes when the watermark reaches last event + gap (window_end); window_start is the first
// event's time. With a max duration, an event that would stretch a session beyond it starts a
// new session, and window_end is capped at start + max duration. An out-of-order event that
// bridges two sessions of a key merges them: aggregate states via the registry's merge, except
// DISTINCT aggregates, which are rebuilt from the united set of values (merging their states
// would count a value seen in both halves twice).
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "rules/runtime/rule_runtime.h"
#include "rules/window/window_type.h"

namespace streamgate::rules::window {

using runtime::Group;
using runtime::RuleRuntime;
using runtime::WindowState;

namespace {

TimeNs session_end(const plan::WindowSpec& ws, TimeNs first, TimeNs last) {
  TimeNs end = sat_add(last, ws.gap);
  if (ws.max_duration > 0) end = std::min(end, sat_add(first, ws.max_duration));
  return end;
}

struct Session {
  std::uint64_t id = 0;
  Value key;
  std::uint64_t hash = 0;
  TimeNs first = 0;
  TimeNs last = 0;
  TimeNs end = 0;  //!< min(last + gap, first + max_duration)
  WindowState w;
};

class Sessions final : public WindowOperator {
 public:
  explicit Sessions(RuleRuntime& rt) : rt_(rt) {}
  void on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm, TimeNs now,
              runtime::Output& out) override;
  void advance(TimeNs wm, TimeNs now, runtime::Output& out) override;
  std::size_t open_windows() const override { return sessions_.size(); }
  void save(nlohmann::json& state) const override;
  void restore(const nlohmann::json& state) override;
  void clear() override;

 private:
  void merge(Session& into, Session& from);
  void emit(Session& s, TimeNs now, runtime::Output& out) {
    rt_.emit_window(s.w, s.first, s.end, rt_.result_id_prefix() + std::to_string(s.first) + "/", now, out);
  }

  RuleRuntime& rt_;
  std::uint64_t next_session_id_ = 1;
  std::map<std::uint64_t, std::unique_ptr<Session>> sessions_;
  std::set<std::pair<TimeNs, std::uint64_t>> sessions_by_end_;
  std::unordered_map<Value, std::vector<std::uint64_t>, ValueHash> sessions_by_key_;
};

void Sessions::merge(Session& into, Session& from) {
  for (auto& g : from.w.groups) {
    Group* tg = into.w.groups.find(g.key, g.hash);
    if (!tg) tg = rt_.new_group(into.w, g.key, g.hash);
    rt_.merge_group(*tg, g);
    if (g.extra && tg->extra && from.last > into.last) {
      tg->extra->last_row = g.extra->last_row;
      tg->extra->whole = g.extra->whole;
      tg->extra->last_time = g.extra->last_time;
    }
  }
  for (auto& r : from.w.rows) into.w.rows.push_back(std::move(r));
  from.w.rows.clear();  // moved into `into`: counted once in pending_rows_
  into.first = std::min(into.first, from.first);
  into.last = std::max(into.last, from.last);
  into.w.fired = into.w.fired || from.w.fired;
  into.w.revision = std::max(into.w.revision, from.w.revision);
}

void Sessions::on_row(const runtime::Row& row, const Value& key, std::uint64_t hash, TimeNs wm,
                      TimeNs now, runtime::Output& out) {
  const auto& ws = rt_.plan().window;
  const TimeNs t = row.event_time;
  auto kit = sessions_by_key_.find(key);
  std::vector<std::uint64_t> matches;
  if (kit != sessions_by_key_.end()) {
    for (std::uint64_t id : kit->second) {
      const Session& s = *sessions_[id];
      const bool near = t >= sat_add(s.first, -ws.gap) && t < sat_add(s.last, ws.gap);
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
    if (sat_add(session_end(ws, t, t), rt_.lateness()) <= wm) {
      rt_.emit_late(row, wm, out);
      return;
    }
    if (sessions_.size() >= rt_.options().max_open_windows) {
      ++rt_.counters().dropped_windows;
      rt_.limit_hit(RuleRuntime::Limit::Windows);
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
      merge(*s, other);
      sessions_by_end_.erase({other.end, other.id});
      rt_.destroy_window(other.w);
      auto& ids = sessions_by_key_[key];
      ids.erase(std::remove(ids.begin(), ids.end(), other.id), ids.end());
      sessions_.erase(matches[i]);
    }
  }
  if (!rt_.add_to_window(s->w, row, key, hash)) {
    sessions_by_end_.insert({s->end, s->id});
    return;
  }
  s->first = std::min(s->first, t);
  s->last = std::max(s->last, t);
  s->end = session_end(ws, s->first, s->last);
  s->w.start = s->first;
  s->w.end = s->end;
  sessions_by_end_.insert({s->end, s->id});
  if (s->end <= wm) rt_.mark_due();  // kept open by ALLOWEDLATENESS: fires on this advance
  if (s->w.fired) {
    ++s->w.revision;
    emit(*s, now, out);
  }
}

void Sessions::advance(TimeNs wm, TimeNs now, runtime::Output& out) {
  for (auto it = sessions_by_end_.begin(); it != sessions_by_end_.end() && it->first <= wm; ++it) {
    Session& s = *sessions_[it->second];
    if (s.w.fired) continue;
    s.w.fired = true;
    emit(s, now, out);
  }
  while (!sessions_by_end_.empty()) {
    auto it = sessions_by_end_.begin();
    if (sat_add(it->first, rt_.lateness()) > wm) break;
    auto sit = sessions_.find(it->second);
    if (!sit->second->w.fired) break;
    Session& s = *sit->second;
    rt_.destroy_window(s.w);
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

void Sessions::save(nlohmann::json& state) const {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& [id, s] : sessions_) {
    a.push_back({{"id", s->id},
                 {"key", s->key.to_nlohmann()},
                 {"first", s->first},
                 {"last", s->last},
                 {"end", s->end},
                 {"window", rt_.save_window(s->w)}});
  }
  state["sessions"] = std::move(a);
  state["next_session_id"] = next_session_id_;
}

void Sessions::restore(const nlohmann::json& state) {
  if (auto a = state.find("sessions"); a != state.end()) {
    for (const auto& sj : *a) {
      auto s = std::make_unique<Session>();
      s->id = sj.at("id").get<std::uint64_t>();
      s->key = Value::from_nlohmann(sj.at("key"));
      s->hash = s->key.hash();
      s->first = sj.at("first").get<TimeNs>();
      s->last = sj.at("last").get<TimeNs>();
      s->end = sj.at("end").get<TimeNs>();
      rt_.restore_window(s->w, sj.at("window"));
      sessions_by_end_.insert({s->end, s->id});
      sessions_by_key_[s->key].push_back(s->id);
      next_session_id_ = std::max(next_session_id_, s->id + 1);
      sessions_.emplace(s->id, std::move(s));
    }
  }
  next_session_id_ = std::max(next_session_id_, state.value("next_session_id", std::uint64_t{1}));
}

void Sessions::clear() {
  for (auto& [id, s] : sessions_) rt_.destroy_window(s->w);
  sessions_.clear();
  sessions_by_end_.clear();
  sessions_by_key_.clear();
}

//! SessionWindow('5m'[, '1h']): gap[, max duration]; eKuiper's SESSIONWINDOW(unit, max, timeout).
class SessionType final : public WindowType {
 public:
  std::vector<std::string> names() const override { return {"sessionwindow"}; }
  bool plan(WindowArgs& args, plan::WindowSpec& spec) const override {
    const std::size_t n = args.size();
    if (const auto mult = n > 0 ? args.unit(0) : std::nullopt) {
      // eKuiper's signature: SESSIONWINDOW(unit, max_duration, timeout). The timeout is our gap;
      // the maximum caps a session at first event + max (eKuiper cuts at ticks aligned to it).
      if (n != 3) {
        args.error(args.call().pos, args.name() + "(unit, max_duration, timeout) takes 3 arguments (eKuiper's form); "
                                    "for a gap alone write SessionWindow('5s')");
        return false;
      }
      auto count = [&](std::size_t k, const char* what) -> std::optional<TimeNs> {
        const ast::Expr& c = args.arg(k);
        if (c.kind != ast::ExprKind::Literal || !c.literal.is_int() || c.literal.as_int() <= 0) {
          args.error(c.pos, args.name() + ": " + what + " must be a positive integer count of the unit");
          return std::nullopt;
        }
        return c.literal.as_int() * *mult;
      };
      const auto max = count(1, "max duration");
      if (!max) return false;
      const auto gap = count(2, "timeout");
      if (!gap) return false;
      if (*gap > *max) {
        args.error(args.arg(2).pos, args.name() + ": timeout must not exceed the max duration");
        return false;
      }
      spec.gap = *gap;
      spec.max_duration = *max;
      return true;
    }
    std::size_t i = 0;
    const auto gap = args.duration(i, "gap");
    if (!gap) return false;
    spec.gap = *gap;
    if (i < n) {
      const auto max = args.duration(i, "max duration");
      if (!max) return false;
      spec.max_duration = *max;
    }
    return !args.too_many(i);
  }
  std::unique_ptr<WindowOperator> create(RuleRuntime& rt) const override {
    return std::make_unique<Sessions>(rt);
  }
};

}  // namespace

void register_session_window(WindowRegistry& r) { r.add(std::make_unique<SessionType>()); }

}  // namespace streamgate::rules::window
