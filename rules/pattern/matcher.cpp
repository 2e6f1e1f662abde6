// Row-pattern matcher: per partition, one "attempt" per row that may start a match, each holding
// its live runs (partial matches) in preference order and the preferred complete match so far.
// Attempts resolve strictly in start order, so matches come out in the order SQL:2016 defines
// even though a later attempt may finish first.
#include "rules/pattern/matcher.h"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace streamgate::rules::pattern {

// ---- RowRing ----

StoredRow& RowRing::append() {
  if (n_ == buf_.size()) resize_to(buf_.empty() ? 4 : buf_.size() * 2);
  ++n_;
  return back();
}

StoredRow& RowRing::push_back(TimeNs time, std::vector<Value>& slots) {
  StoredRow& r = append();
  r.time = time;
  r.slots.swap(slots);
  return r;
}

StoredRow& RowRing::push_back(TimeNs time, const Value* slots, std::size_t n) {
  StoredRow& r = append();
  r.time = time;
  r.slots.assign(slots, slots + n);
  return r;
}

void RowRing::pop_front() {
  head_ = (head_ + 1) & (buf_.size() - 1);
  --n_;
  // Give memory back after a burst (a long partial match); small rings keep their storage.
  if (buf_.size() > 64 && n_ < buf_.size() / 8) resize_to(buf_.size() / 4);
}

void RowRing::clear() {
  while (n_ > 0) pop_front();
}

void RowRing::resize_to(std::size_t capacity) {
  std::vector<StoredRow> next(capacity);
  for (std::size_t i = 0; i < n_; ++i) next[i] = std::move((*this)[i]);
  buf_.swap(next);
  head_ = 0;
}

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

namespace {
constexpr std::size_t kSpareRunVectors = 256;
}  // namespace

Matcher::Matcher(Automaton automaton, MatcherOptions options)
    : a_(std::move(automaton)), o_(options) {
  if (o_.max_runs == 0) o_.max_runs = 1;
  if (o_.max_match_rows == 0) o_.max_match_rows = 1;
}

Matcher::~Matcher() = default;

MatchView Matcher::view(const Partition& p, std::uint64_t start, const Labels& labels) const {
  MatchView v;
  v.p_ = &p;
  v.start_ = start;
  v.labels_ = labels.data();
  v.n_ = labels.size();
  v.number_ = p.matches + 1;
  return v;
}

namespace {

// Value::hash of an integer is the integer itself: mixed (murmur3's finalizer) so keys such as
// multiples of a power of two do not share their low bits, which pick the probe slot.
std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace

Partition* Matcher::find(const Value& key, std::uint64_t hash) const {
  if (index_.empty()) return nullptr;
  const std::size_t mask = index_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const IndexSlot& s = index_[i];
    if (!s.p) return nullptr;
    if (s.hash == hash && s.p->key == key) return s.p;
  }
}

void Matcher::index_insert(Partition* p) {
  if (partitions_.size() * 2 > index_.size()) {
    rebuild_index();  // p is in partitions_ already
    return;
  }
  const std::size_t mask = index_.size() - 1;
  std::size_t i = p->hash & mask;
  while (index_[i].p) i = (i + 1) & mask;
  index_[i] = IndexSlot{p->hash, p};
}

void Matcher::rebuild_index() {
  std::size_t n = 16;
  while (n < (partitions_.size() + 1) * 2) n *= 2;
  index_.assign(n, IndexSlot{});
  const std::size_t mask = n - 1;
  for (const auto& [id, owned] : partitions_) {
    std::size_t i = owned->hash & mask;
    while (index_[i].p) i = (i + 1) & mask;
    index_[i] = IndexSlot{owned->hash, owned.get()};
  }
}

Matcher::RowStatus Matcher::on_row(const Value& key, TimeNs time, std::vector<Value>&& slots,
                                   const Predicate& pred, const OnMatch& on_match) {
  const std::uint64_t hash = mix(key.hash());
  Partition* p = find(key, hash);
  if (!p) {
    if (partitions_.size() >= o_.max_partitions) {
      ++stats_.dropped_partitions;
      return RowStatus::TooManyPartitions;
    }
    auto owned = std::make_unique<Partition>();
    owned->id = next_id_++;
    owned->hash = hash;
    owned->key = key;
    p = owned.get();
    partitions_.emplace(p->id, std::move(owned));
    index_insert(p);
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
  p->rows.push_back(time, slots);  // `key` may refer into slots: not read after this
  const std::uint64_t seq = p->next++;
  step(*p, pred);
  if (seq >= p->skip_until) start_attempt(*p, seq, time, pred);
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
      // The candidate label goes on the run itself while the predicates look at it.
      r.labels.push_back(0);
      for (std::uint32_t q : a_.next[r.state]) {
        r.labels.back() = static_cast<char16_t>(a_.state_var[q]);
        if (pred(a_.state_var[q], view(p, a.start, r.labels))) succ_.push_back(q);
      }
      r.labels.pop_back();
      for (std::size_t i = 0; i < succ_.size(); ++i) {
        Run& n = new_runs_.emplace_back();
        n.state = succ_[i];
        if (i + 1 == succ_.size())
          n.labels.swap(r.labels);
        else
          n.labels = r.labels;
        n.labels.push_back(static_cast<char16_t>(a_.state_var[succ_[i]]));
      }
    }
    settle_runs(a);
  }
  new_runs_.clear();
}

void Matcher::start_attempt(Partition& p, std::uint64_t seq, TimeNs time, const Predicate& pred) {
  succ_.clear();
  scratch_.assign(1, u'\0');
  for (std::uint32_t q : a_.next[0]) {
    scratch_[0] = static_cast<char16_t>(a_.state_var[q]);
    if (pred(a_.state_var[q], view(p, seq, scratch_))) succ_.push_back(q);
  }
  if (succ_.empty()) return;
  new_runs_.clear();
  for (std::uint32_t q : succ_) {
    Run& n = new_runs_.emplace_back();
    n.state = q;
    n.labels.assign(1, static_cast<char16_t>(a_.state_var[q]));
  }
  Attempt& a = p.attempts.emplace_back();
  a.start = seq;
  a.start_time = time;
  if (!spare_runs_.empty()) {
    a.runs.swap(spare_runs_.back());
    spare_runs_.pop_back();
  }
  settle_runs(a);
  new_runs_.clear();
}

void Matcher::settle_runs(Attempt& a) {
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

void Matcher::recycle(Attempt& a) {
  if (a.runs.capacity() > 0 && spare_runs_.size() < kSpareRunVectors) {
    a.runs.clear();
    spare_runs_.push_back(std::move(a.runs));
  }
  a.runs.clear();
}

void Matcher::drop_dead(Partition& p) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < p.attempts.size(); ++i) {
    Attempt& a = p.attempts[i];
    if (a.runs.empty() && !a.has_best) {
      recycle(a);
      continue;
    }
    if (w != i) p.attempts[w] = std::move(a);
    ++w;
  }
  p.attempts.resize(w);
}

void Matcher::expire(Partition& p, TimeNs time) {
  for (Attempt& a : p.attempts) {
    if (a.runs.empty()) continue;
    if (time - a.start_time <= o_.within) break;  // attempts are in start order
    a.runs.clear();
  }
}

void Matcher::resolve(Partition& p, const OnMatch& on_match) {
  drop_dead(p);
  // Attempts resolve in start order: the front one, once it has no live runs, holds the next
  // match (it has a best, or drop_dead would have removed it).
  std::size_t done = 0;
  while (done < p.attempts.size() && p.attempts[done].runs.empty()) {
    Attempt& a = p.attempts[done++];
    emit(p, a, on_match);
    if (o_.skip == SkipMode::PastLastRow) {
      const std::uint64_t end = a.start + a.best.size() - 1;
      while (done < p.attempts.size() && p.attempts[done].start <= end) recycle(p.attempts[done++]);
      p.skip_until = end + 1;
    }
    recycle(a);
  }
  if (done > 0) p.attempts.erase(p.attempts.begin(), p.attempts.begin() + static_cast<std::ptrdiff_t>(done));
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
  drop_dead(p);
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

void Matcher::push_deadline(TimeNs d, std::uint64_t id) {
  const auto later = std::greater<std::pair<TimeNs, std::uint64_t>>();
  if (deadlines_.size() >= 2 * partitions_.size() + 64) {
    // Mostly stale entries: rebuild from the partitions' current deadlines.
    deadlines_.clear();
    for (const auto& [pid, owned] : partitions_)
      if (owned->deadline != kTimeMax && pid != id) deadlines_.emplace_back(owned->deadline, pid);
    std::make_heap(deadlines_.begin(), deadlines_.end(), later);
  }
  deadlines_.emplace_back(d, id);
  std::push_heap(deadlines_.begin(), deadlines_.end(), later);
}

void Matcher::update_deadline(Partition& p) {
  TimeNs d = kTimeMax;
  if (o_.within > 0) {
    bool waiting = false;  // a complete match held back by partial ones
    for (const Attempt& a : p.attempts) waiting = waiting || a.has_best;
    for (const Attempt& a : p.attempts) {
      if (!waiting || a.runs.empty()) continue;
      d = a.start_time > kTimeMax - o_.within ? kTimeMax : a.start_time + o_.within;
      break;
    }
  }
  if (d == p.deadline) return;
  p.deadline = d;
  if (d != kTimeMax) push_deadline(d, p.id);
}

void Matcher::advance(TimeNs watermark, const OnMatch& on_match) {
  const auto later = std::greater<std::pair<TimeNs, std::uint64_t>>();
  while (!deadlines_.empty() && deadlines_.front().first < watermark) {
    const auto [d, id] = deadlines_.front();
    std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
    deadlines_.pop_back();
    auto it = partitions_.find(id);
    if (it == partitions_.end() || it->second->deadline != d) continue;  // stale entry
    Partition& p = *it->second;
    p.deadline = kTimeMax;  // registered again below if a partial match remains
    expire(p, watermark);
    resolve(p, on_match);
    bound(p);
    trim(p);
    update_deadline(p);
  }
  sweep(watermark, on_match);
}

void Matcher::sweep(TimeNs watermark, const OnMatch& on_match) {
  if (watermark == kTimeMax) return;
  if (o_.idle_ttl <= 0 && o_.within <= 0) return;
  if (next_sweep_ != kTimeMin && watermark < next_sweep_) return;
  TimeNs every = o_.idle_ttl > 0 ? o_.idle_ttl / 4 : kTimeMax;
  if (o_.within > 0) every = std::min(every, o_.within);
  next_sweep_ = watermark > kTimeMax - std::max<TimeNs>(every, kNsPerSec)
                    ? kTimeMax
                    : watermark + std::max<TimeNs>(every, kNsPerSec);
  const bool drop_idle = o_.idle_ttl > 0 && watermark >= kTimeMin + o_.idle_ttl;
  const TimeNs cutoff = drop_idle ? watermark - o_.idle_ttl : kTimeMin;
  bool dropped = false;
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    Partition& p = *it->second;
    if (o_.within > 0 && !p.attempts.empty()) {
      expire(p, watermark);
      resolve(p, on_match);
      bound(p);
      trim(p);
      update_deadline(p);
    }
    if (drop_idle && p.attempts.empty() && p.last_time < cutoff) {
      it = partitions_.erase(it);
      dropped = true;
    } else {
      ++it;
    }
  }
  if (dropped) rebuild_index();
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

nlohmann::json labels_json(const Labels& l) {
  nlohmann::json j = nlohmann::json::array();
  for (char16_t v : l) j.push_back(static_cast<std::uint16_t>(v));
  return j;
}

}  // namespace

nlohmann::json Matcher::save() const {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& [id, owned] : partitions_) {
    const Partition& p = *owned;
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t i = 0; i < p.rows.size(); ++i) {
      const StoredRow& r = p.rows[i];
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
  index_.clear();
  deadlines_.clear();
  spare_runs_.clear();
  next_sweep_ = kTimeMin;
  auto labels_of = [&](const nlohmann::json& l) {
    Labels out;
    for (const auto& v : l) {
      const auto x = v.get<std::uint32_t>();
      if (x >= a_.vars.size()) throw std::invalid_argument("pattern state: unknown variable");
      out.push_back(static_cast<char16_t>(x));
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
    std::vector<Value> slots;
    for (const auto& jr : jp.at("rows")) {
      slots.clear();
      for (const auto& v : jr.at(1)) slots.push_back(Value::from_nlohmann(v));
      p->rows.push_back(jr.at(0).get<TimeNs>(), slots);
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
    p->hash = mix(p->key.hash());
    if (find(p->key, p->hash))
      throw std::invalid_argument("pattern state: a partition key appears twice");
    Partition* raw = p.get();
    partitions_.emplace(p->id, std::move(p));
    index_insert(raw);
    update_deadline(*raw);
  }
}

}  // namespace streamgate::rules::pattern
