// Row-pattern matcher: per partition, one "attempt" per row that may start a match, each holding
// its live runs (partial matches) in preference order and the preferred complete match so far.
// Attempts resolve strictly in start order, so matches come out in the order SQL:2016 defines
// even though a later attempt may finish first.
#include "rules/pattern/matcher.h"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace streamgate::rules::pattern {

// ---- MatchView ----

const StoredRow& MatchView::row(std::size_t i) const { return p_->rows[start_ + i - p_->base]; }

const StoredRow* MatchView::prev(std::size_t i, std::size_t back) const {
  const std::uint64_t seq = start_ + i;
  if (back > seq) return nullptr;
  const std::uint64_t want = seq - back;
  if (want < p_->base || want >= p_->next) return nullptr;
  return &p_->rows[want - p_->base];
}

std::ptrdiff_t MatchView::first(std::uint16_t var) const {
  for (std::size_t i = 0; i < n_; ++i)
    if (labels_[i] == var) return static_cast<std::ptrdiff_t>(i);
  return -1;
}

std::ptrdiff_t MatchView::last(std::uint16_t var) const {
  for (std::size_t i = n_; i > 0; --i)
    if (labels_[i - 1] == var) return static_cast<std::ptrdiff_t>(i - 1);
  return -1;
}

std::size_t MatchView::count(std::uint16_t var) const {
  std::size_t c = 0;
  for (std::size_t i = 0; i < n_; ++i) c += labels_[i] == var;
  return c;
}

const Value& MatchView::partition_key() const { return p_->key; }

std::uint64_t MatchView::match_number() const { return number_; }

// ---- Matcher ----

Matcher::Matcher(Automaton automaton, MatcherOptions options)
    : a_(std::move(automaton)), o_(options) {
  if (o_.max_runs == 0) o_.max_runs = 1;
  if (o_.max_match_rows == 0) o_.max_match_rows = 1;
}

Matcher::~Matcher() = default;

MatchView Matcher::view(const Partition& p, std::uint64_t start,
                        const std::vector<std::uint16_t>& labels) const {
  MatchView v;
  v.p_ = &p;
  v.start_ = start;
  v.labels_ = labels.data();
  v.n_ = labels.size();
  v.number_ = p.matches + 1;
  return v;
}

Matcher::RowStatus Matcher::on_row(const Value& key, TimeNs time, std::vector<Value> slots,
                                   const Predicate& pred, const OnMatch& on_match) {
  Partition* p = nullptr;
  if (auto it = by_key_.find(key); it != by_key_.end()) {
    p = it->second;
  } else {
    if (partitions_.size() >= o_.max_partitions) {
      ++stats_.dropped_partitions;
      return RowStatus::TooManyPartitions;
    }
    auto owned = std::make_unique<Partition>();
    owned->id = next_id_++;
    owned->key = key;
    p = owned.get();
    partitions_.emplace(p->id, std::move(owned));
    by_key_.emplace(key, p);
  }
  if (time < p->last_time) {
    ++stats_.out_of_order;
    return RowStatus::OutOfOrder;
  }
  ++stats_.rows;
  p->last_time = time;
  if (o_.within > 0) {
    expire(*p, time);
    resolve(*p, on_match);
  }
  p->rows.push_back(StoredRow{time, std::move(slots)});
  const std::uint64_t seq = p->next++;
  if (seq >= p->skip_until) {
    Attempt a;
    a.start = seq;
    a.start_time = time;
    a.runs.push_back(Run{});
    p->attempts.push_back(std::move(a));
  }
  step(*p, pred);
  resolve(*p, on_match);
  bound(*p);
  trim(*p);
  update_deadline(*p);
  return RowStatus::Ok;
}

void Matcher::step(Partition& p, const Predicate& pred) {
  for (Attempt& a : p.attempts) {
    if (a.runs.empty()) continue;
    new_runs_.clear();
    for (Run& r : a.runs) {
      succ_.clear();
      scratch_.assign(r.labels.begin(), r.labels.end());
      scratch_.push_back(0);
      for (std::uint32_t q : a_.next[r.state]) {
        scratch_.back() = a_.state_var[q];
        if (pred(a_.state_var[q], view(p, a.start, scratch_))) succ_.push_back(q);
      }
      for (std::size_t i = 0; i < succ_.size(); ++i) {
        Run n;
        n.state = succ_[i];
        if (i + 1 == succ_.size())
          n.labels = std::move(r.labels);
        else
          n.labels = r.labels;
        n.labels.push_back(a_.state_var[succ_[i]]);
        new_runs_.push_back(std::move(n));
      }
    }
    // The first run that completed a match outranks every run after it (those could only give
    // less preferred matches), so they go; it becomes the attempt's best match and lives on
    // only if it can still grow (greedy: a longer match is preferred).
    for (std::size_t i = 0; i < new_runs_.size(); ++i) {
      const Run& r = new_runs_[i];
      if (!a_.accepting[r.state]) continue;
      a.has_best = true;
      a.best = r.labels;
      const bool can_grow = !a_.next[r.state].empty() && r.labels.size() < o_.max_match_rows;
      new_runs_.erase(new_runs_.begin() + static_cast<std::ptrdiff_t>(can_grow ? i + 1 : i),
                      new_runs_.end());
      break;
    }
    // Partial matches at the row limit cannot complete any more.
    const auto before = new_runs_.size();
    std::erase_if(new_runs_, [&](const Run& r) { return r.labels.size() >= o_.max_match_rows; });
    stats_.dropped_attempts += before - new_runs_.size();
    a.runs.swap(new_runs_);
  }
  new_runs_.clear();
}

void Matcher::expire(Partition& p, TimeNs time) {
  for (Attempt& a : p.attempts) {
    if (a.runs.empty()) continue;
    if (time - a.start_time <= o_.within) break;  // attempts are in start order
    a.runs.clear();
  }
}

void Matcher::resolve(Partition& p, const OnMatch& on_match) {
  std::erase_if(p.attempts, [](const Attempt& a) { return a.runs.empty() && !a.has_best; });
  while (!p.attempts.empty() && p.attempts.front().runs.empty()) {
    Attempt a = std::move(p.attempts.front());
    p.attempts.pop_front();
    emit(p, a, on_match);
    if (o_.skip == SkipMode::PastLastRow) {
      const std::uint64_t end = a.start + a.best.size() - 1;
      while (!p.attempts.empty() && p.attempts.front().start <= end) p.attempts.pop_front();
      p.skip_until = end + 1;
    }
  }
}

void Matcher::emit(Partition& p, const Attempt& a, const OnMatch& on_match) {
  ++p.matches;
  ++stats_.matches;
  MatchView v = view(p, a.start, a.best);
  v.number_ = p.matches;
  on_match(v);
}

void Matcher::bound(Partition& p) {
  std::size_t total = 0;
  for (const Attempt& a : p.attempts) total += a.runs.size();
  // Newest attempts go first: the oldest are closest to completing and resolve the others.
  for (std::size_t i = p.attempts.size(); i > 1 && total > o_.max_runs; --i) {
    Attempt& a = p.attempts[i - 1];
    if (a.runs.empty()) continue;
    total -= a.runs.size();
    a.runs.clear();
    ++stats_.dropped_attempts;
  }
  if (total > o_.max_runs && !p.attempts.empty()) {
    auto& runs = p.attempts.front().runs;  // least preferred partial matches go
    stats_.dropped_attempts += runs.size() - o_.max_runs;
    total -= runs.size() - o_.max_runs;
    runs.resize(o_.max_runs);
  }
  std::erase_if(p.attempts, [](const Attempt& a) { return a.runs.empty() && !a.has_best; });
  p.runs = total;
}

void Matcher::trim(Partition& p) {
  std::uint64_t keep = p.attempts.empty() ? p.next : p.attempts.front().start;
  keep = keep >= o_.history ? keep - o_.history : 0;
  while (p.base < keep && !p.rows.empty()) {
    p.rows.pop_front();
    ++p.base;
  }
}

void Matcher::update_deadline(Partition& p) {
  TimeNs d = kTimeMax;
  if (o_.within > 0) {
    for (const Attempt& a : p.attempts) {
      if (a.runs.empty()) continue;
      d = a.start_time > kTimeMax - o_.within ? kTimeMax : a.start_time + o_.within;
      break;
    }
  }
  if (d == p.deadline) return;
  if (p.deadline != kTimeMax) deadlines_.erase({p.deadline, p.id});
  p.deadline = d;
  if (d != kTimeMax) deadlines_.insert({d, p.id});
}

void Matcher::advance(TimeNs watermark, const OnMatch& on_match) {
  while (!deadlines_.empty() && deadlines_.begin()->first < watermark) {
    const std::uint64_t id = deadlines_.begin()->second;
    Partition& p = *partitions_.at(id);
    expire(p, watermark);
    resolve(p, on_match);
    bound(p);
    trim(p);
    update_deadline(p);
  }
  sweep(watermark);
}

void Matcher::sweep(TimeNs watermark) {
  if (o_.idle_ttl <= 0 || watermark == kTimeMax) return;
  if (next_sweep_ != kTimeMin && watermark < next_sweep_) return;
  next_sweep_ = watermark + std::max<TimeNs>(o_.idle_ttl / 4, kNsPerSec);
  if (watermark < kTimeMin + o_.idle_ttl) return;
  const TimeNs cutoff = watermark - o_.idle_ttl;
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    Partition& p = *it->second;
    if (p.attempts.empty() && p.last_time < cutoff) {
      by_key_.erase(p.key);
      it = partitions_.erase(it);
    } else {
      ++it;
    }
  }
}

void Matcher::flush(const OnMatch& on_match) {
  for (auto& [id, owned] : partitions_) {
    Partition& p = *owned;
    for (Attempt& a : p.attempts) a.runs.clear();
    resolve(p, on_match);
    bound(p);
    trim(p);
    update_deadline(p);
  }
}

MatcherStats Matcher::stats() const {
  MatcherStats s = stats_;
  s.partitions = partitions_.size();
  s.runs = 0;
  for (const auto& [id, p] : partitions_) s.runs += p->runs;
  return s;
}

// ---- checkpoint ----

namespace {

nlohmann::json labels_json(const std::vector<std::uint16_t>& l) {
  nlohmann::json j = nlohmann::json::array();
  for (auto v : l) j.push_back(v);
  return j;
}

}  // namespace

nlohmann::json Matcher::save() const {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& [id, owned] : partitions_) {
    const Partition& p = *owned;
    nlohmann::json rows = nlohmann::json::array();
    for (const StoredRow& r : p.rows) {
      nlohmann::json slots = nlohmann::json::array();
      for (const Value& v : r.slots) slots.push_back(v.to_nlohmann());
      rows.push_back(nlohmann::json::array({r.time, std::move(slots)}));
    }
    nlohmann::json attempts = nlohmann::json::array();
    for (const Attempt& a : p.attempts) {
      nlohmann::json runs = nlohmann::json::array();
      for (const Run& r : a.runs) runs.push_back(nlohmann::json::array({r.state, labels_json(r.labels)}));
      attempts.push_back({{"start", a.start},
                          {"time", a.start_time},
                          {"runs", std::move(runs)},
                          {"best", a.has_best ? labels_json(a.best) : nlohmann::json()}});
    }
    parts.push_back({{"key", p.key.to_nlohmann()},
                     {"base", p.base},
                     {"next", p.next},
                     {"skip_until", p.skip_until},
                     {"last_time", p.last_time},
                     {"matches", p.matches},
                     {"rows", std::move(rows)},
                     {"attempts", std::move(attempts)}});
  }
  return {{"states", a_.states()},
          {"vars", a_.vars},
          {"partitions", std::move(parts)},
          {"matches", stats_.matches},
          {"rows", stats_.rows}};
}

void Matcher::restore(const nlohmann::json& j) {
  if (j.at("states").get<std::size_t>() != a_.states() ||
      j.at("vars").get<std::vector<std::string>>() != a_.vars)
    throw std::invalid_argument("pattern state saved for another pattern");
  partitions_.clear();
  by_key_.clear();
  deadlines_.clear();
  next_sweep_ = kTimeMin;
  auto labels_of = [&](const nlohmann::json& l) {
    std::vector<std::uint16_t> out;
    for (const auto& v : l) {
      const auto x = v.get<std::uint32_t>();
      if (x >= a_.vars.size()) throw std::invalid_argument("pattern state: unknown variable");
      out.push_back(static_cast<std::uint16_t>(x));
    }
    return out;
  };
  stats_.matches = j.value("matches", std::uint64_t{0});
  stats_.rows = j.value("rows", std::uint64_t{0});
  for (const auto& jp : j.at("partitions")) {
    auto p = std::make_unique<Partition>();
    p->id = next_id_++;
    p->key = Value::from_nlohmann(jp.at("key"));
    p->base = jp.at("base").get<std::uint64_t>();
    p->next = jp.at("next").get<std::uint64_t>();
    p->skip_until = jp.at("skip_until").get<std::uint64_t>();
    p->last_time = jp.at("last_time").get<TimeNs>();
    p->matches = jp.at("matches").get<std::uint64_t>();
    for (const auto& jr : jp.at("rows")) {
      StoredRow r;
      r.time = jr.at(0).get<TimeNs>();
      for (const auto& v : jr.at(1)) r.slots.push_back(Value::from_nlohmann(v));
      p->rows.push_back(std::move(r));
    }
    if (p->base + p->rows.size() != p->next)
      throw std::invalid_argument("pattern state: row count does not match sequence numbers");
    for (const auto& ja : jp.at("attempts")) {
      Attempt a;
      a.start = ja.at("start").get<std::uint64_t>();
      a.start_time = ja.at("time").get<TimeNs>();
      if (a.start < p->base || a.start >= p->next)
        throw std::invalid_argument("pattern state: attempt outside the kept rows");
      for (const auto& jr : ja.at("runs")) {
        Run r;
        r.state = jr.at(0).get<std::uint32_t>();
        if (r.state >= a_.states()) throw std::invalid_argument("pattern state: unknown state");
        r.labels = labels_of(jr.at(1));
        a.runs.push_back(std::move(r));
      }
      if (!ja.at("best").is_null()) {
        a.has_best = true;
        a.best = labels_of(ja.at("best"));
        if (a.best.empty()) throw std::invalid_argument("pattern state: empty match");
      }
      p->attempts.push_back(std::move(a));
    }
    for (const Attempt& a : p->attempts) p->runs += a.runs.size();
    by_key_[p->key] = p.get();
    Partition* raw = p.get();
    partitions_.emplace(p->id, std::move(p));
    update_deadline(*raw);
  }
}

}  // namespace streamgate::rules::pattern
