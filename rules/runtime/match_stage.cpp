// MATCH_RECOGNIZE stage: out-of-order buffer, DEFINE / MEASURES evaluation with navigation over
// the (partial) match, match rows. See match_stage.h.
#include "rules/runtime/match_stage.h"

#include <memory>
#include <new>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace streamgate::rules::runtime {

namespace {

pattern::MatcherOptions bounded(pattern::MatcherOptions o, const EngineOptions* options,
                                TimeNs idle_ttl) {
  o.max_partitions = options->max_group_keys;
  o.idle_ttl = idle_ttl;
  return o;
}

}  // namespace

MatchStage::MatchStage(const plan::MatchPlan* mp, const EngineOptions* options, TimeNs idle_ttl)
    : mp_(mp), options_(options), matcher_(mp->automaton, bounded(mp->options, options, idle_ttl)) {}

bool MatchStage::add(const Value* slots, TimeNs event_time, std::uint64_t* dropped) {
  if (event_time < released_) return false;
  if (pending_.size() >= options_->max_pending_events) {
    ++*dropped;
    return true;
  }
  pending_.push_back(event_time, slots, static_cast<std::size_t>(mp_->input_width));
  // Out of order: move it back to its place (after rows with the same time: arrival order).
  for (std::size_t i = pending_.size() - 1; i > 0 && pending_[i - 1].time > event_time; --i)
    std::swap(pending_[i - 1], pending_[i]);
  return true;
}

void MatchStage::release(TimeNs watermark, TimeNs now, std::uint64_t* eval_errors, OnRow on_row) {
  if (pending_.empty() || pending_.front().time > watermark) {
    // Nothing to feed: only WITHIN expiry and idle partitions, which advance() checks cheaply.
    if (watermark > released_) released_ = watermark;
    if (watermark != kTimeMax) {
      const pattern::OnMatch match_fn = [&](const pattern::MatchView& m) { on_match(m, on_row); };
      now_ = now;
      eval_errors_ = eval_errors;
      matcher_.advance(watermark, match_fn);
      return;
    }
  }
  now_ = now;
  eval_errors_ = eval_errors;
  const pattern::OnMatch match_fn = [&](const pattern::MatchView& m) { on_match(m, on_row); };
  const pattern::Predicate pred = [&](std::uint16_t var, const pattern::MatchView& m) {
    const expr::Node* cond = mp_->defines[var].get();
    if (!cond) return true;  // an undefined variable matches any row
    view_ = &m;
    current_ = m.size() - 1;
    expr::Ctx ctx;
    ctx.slots = m.row(current_).slots.data();
    ctx.event_time = m.row(current_).time;
    ctx.now = now_;
    ctx.nav = this;
    ctx.eval_errors = eval_errors_;
    Value tmp;
    const bool ok = expr::eval(*cond, ctx, tmp).is_true();
    view_ = nullptr;
    return ok;
  };
  static const Value kNoKey;
  Value tmp, composite;
  while (!pending_.empty() && pending_.front().time <= watermark) {
    pattern::StoredRow& row = pending_.front();
    const TimeNs t = row.time;
    expr::Ctx ctx;
    ctx.slots = row.slots.data();
    ctx.event_time = t;
    ctx.now = now;
    ctx.eval_errors = eval_errors;
    // Usually a column: the key is read in place, not copied.
    const Value* key = &kNoKey;
    if (mp_->partition.size() == 1) {
      key = &expr::eval(*mp_->partition[0], ctx, tmp);
    } else if (mp_->partition.size() > 1) {
      key_parts_.clear();
      for (const auto& p : mp_->partition) key_parts_.push_back(expr::eval_value(*p, ctx));
      composite = Value(key_parts_);
      key = &composite;
    }
    // The matcher takes the row's slots and hands back recycled storage for the ring.
    matcher_.on_row(*key, t, std::move(row.slots), pred, match_fn);
    pending_.pop_front();
  }
  if (watermark > released_) released_ = watermark;
  if (watermark == kTimeMax)
    matcher_.flush(match_fn);
  else
    matcher_.advance(watermark, match_fn);
}

void MatchStage::on_match(const pattern::MatchView& m, OnRow on_row) {
  std::vector<Value> cols;
  cols.reserve(mp_->columns.size());
  const Value& key = m.partition_key();
  if (mp_->partition.size() == 1) {
    cols.push_back(key);
  } else if (mp_->partition.size() > 1) {
    for (const Value& v : key.as_array()) cols.push_back(v);
  }
  view_ = &m;
  current_ = m.size() - 1;
  const pattern::StoredRow& last = m.row(current_);
  expr::Ctx ctx;
  ctx.slots = last.slots.data();  // a bare column in MEASURES is the match's last row
  ctx.event_time = last.time;
  ctx.now = now_;
  ctx.nav = this;
  ctx.eval_errors = eval_errors_;
  for (const auto& me : mp_->measures) cols.push_back(expr::eval_value(*me, ctx));
  view_ = nullptr;
  on_row(std::move(cols), last.time);
}

Value MatchStage::navigate(const expr::Node& n, expr::Ctx& ctx) {
  if (!view_) return {};
  const pattern::MatchView& m = *view_;
  auto on_row = [&](const pattern::StoredRow& r) -> Value {
    if (n.children.empty()) return {};
    const Value* saved = ctx.slots;
    const TimeNs saved_t = ctx.event_time;
    ctx.slots = r.slots.data();
    ctx.event_time = r.time;
    Value v = expr::eval_value(*n.children[0], ctx);
    ctx.slots = saved;
    ctx.event_time = saved_t;
    return v;
  };
  const int var = n.index;
  // Rows up to the current one: in DEFINE that is the candidate row, in MEASURES the last.
  const std::size_t end = current_ + 1;
  auto last_of = [&]() -> std::ptrdiff_t {
    if (var < 0) return static_cast<std::ptrdiff_t>(current_);
    for (std::size_t i = end; i > 0; --i)
      if (m.var(i - 1) == var) return static_cast<std::ptrdiff_t>(i - 1);
    return -1;
  };
  switch (n.nav) {
    case expr::Nav::Last: {
      const auto i = last_of();
      return i < 0 ? Value() : on_row(m.row(static_cast<std::size_t>(i)));
    }
    case expr::Nav::First: {
      for (std::size_t i = 0; i < end; ++i)
        if (var < 0 || m.var(i) == var) return on_row(m.row(i));
      return {};
    }
    case expr::Nav::Prev: {
      const auto i = last_of();
      if (i < 0) return {};
      const pattern::StoredRow* r = m.prev(static_cast<std::size_t>(i), static_cast<std::size_t>(n.offset));
      return r ? on_row(*r) : Value();
    }
    case expr::Nav::Count: {
      std::int64_t c = 0;
      for (std::size_t i = 0; i < end; ++i) c += var < 0 || m.var(i) == var;
      return c;
    }
    case expr::Nav::Aggregate: {
      const AggregateFunction* fn = n.aggregate;
      const std::size_t align = std::max<std::size_t>(fn->state_align, alignof(std::max_align_t));
      auto buf = std::make_unique<std::byte[]>(fn->state_size + align);
      void* p = buf.get();
      std::size_t space = fn->state_size + align;
      p = std::align(fn->state_align ? fn->state_align : 1, fn->state_size, p, space);
      fn->construct(p);
      std::vector<Value> args(n.children.size());
      const Value* saved = ctx.slots;
      for (std::size_t i = 0; i < end; ++i) {
        if (var >= 0 && m.var(i) != var) continue;
        ctx.slots = m.row(i).slots.data();
        for (std::size_t a = 0; a < n.children.size(); ++a)
          args[a] = expr::eval_value(*n.children[a], ctx);
        fn->add(p, Args{args.data(), args.size()});
      }
      ctx.slots = saved;
      Value v = fn->result(p);
      fn->destroy(p);
      return v;
    }
    case expr::Nav::Classifier:
      return Value(mp_->automaton.vars[m.var(current_)]);
    case expr::Nav::MatchNumber:
      return static_cast<std::int64_t>(m.match_number());
  }
  return {};
}

nlohmann::json MatchStage::save() const {
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    const pattern::StoredRow& p = pending_[i];
    nlohmann::json slots = nlohmann::json::array();
    for (const Value& v : p.slots) slots.push_back(v.to_nlohmann());
    rows.push_back(nlohmann::json::array({p.time, std::move(slots)}));
  }
  return {{"released", released_}, {"pending", std::move(rows)}, {"matcher", matcher_.save()}};
}

void MatchStage::restore(const nlohmann::json& j) {
  matcher_.restore(j.at("matcher"));
  released_ = j.at("released").get<TimeNs>();
  pending_.clear();
  std::vector<Value> slots;
  TimeNs last = kTimeMin;
  for (const auto& r : j.at("pending")) {
    slots.clear();
    for (const auto& v : r.at(1)) slots.push_back(Value::from_nlohmann(v));
    slots.resize(static_cast<std::size_t>(mp_->input_width));
    const TimeNs t = r.at(0).get<TimeNs>();
    if (t < last) throw std::invalid_argument("match state: pending rows out of order");
    last = t;
    pending_.push_back(t, slots);
  }
}

}  // namespace streamgate::rules::runtime
