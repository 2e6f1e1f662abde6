// The watched view of the lease bucket; see lease_view.h.
#include "gateway/cluster/lease_view.h"

#include <algorithm>

namespace streamgate::gateway::cluster {

namespace {

std::int64_t wall_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void LeaseView::watch(KvBucket& bucket, std::chrono::milliseconds patience) {
  watcher_.reset();
  auto w = bucket.watch_all();
  const auto deadline = Clock::now() + patience;
  while (true) {
    bool done = false;
    auto u = w->next(10, done);
    if (done) break;
    if (u) {
      apply(*u, true, Clock::now(), wall_now_ns());
    } else if (Clock::now() >= deadline) {
      throw NatsError("kv watch " + bucket.name() + ": the current entries did not arrive in time", NATS_TIMEOUT);
    }
  }
  watcher_ = std::move(w);
}

void LeaseView::drain() {
  if (!watcher_) return;
  while (true) {
    bool done = false;
    auto u = watcher_->next(1, done);
    if (!u && !done) break;
    if (u) apply(*u, false, Clock::now(), wall_now_ns());
  }
  // Departed members would accumulate (instance ids change with restarts): forget them.
  const auto now = Clock::now();
  std::erase_if(entries_, [&](const auto& kv) { return kv.first.rfind("m.", 0) == 0 && kv.second.expires <= now; });
}

void LeaseView::apply(const KvUpdate& u, bool initial, Clock::time_point now, std::int64_t wall_now_ns) {
  ++updates_;
  if (u.deleted) {
    entries_.erase(u.key);
    return;
  }
  auto it = entries_.find(u.key);
  if (it != entries_.end() && it->second.revision >= u.revision) return;  // known (a re-watch) or older
  auto remaining = ttl_;
  if (initial) {
    const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::nanoseconds(wall_now_ns - u.created_ns));
    remaining = ttl_ - std::clamp(age, std::chrono::milliseconds(0), ttl_);
  }
  entries_[u.key] = Entry{u.value, u.revision, now + remaining};
}

void LeaseView::wrote(const std::string& key, const std::string& value, std::uint64_t revision,
                      Clock::time_point now) {
  auto& e = entries_[key];
  if (e.revision >= revision) return;
  e = Entry{value, revision, now + ttl_};
}

std::vector<std::string> LeaseView::members(Clock::time_point now) const {
  std::vector<std::string> out;
  for (auto it = entries_.lower_bound("m."); it != entries_.end() && it->first.rfind("m.", 0) == 0; ++it) {
    if (it->second.expires > now) out.push_back(it->first.substr(2));
  }
  return out;  // std::map order: sorted by id
}

std::optional<std::string> LeaseView::holder(const std::string& key, Clock::time_point now) const {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
  return it->second.value;
}

bool LeaseView::lapsed(const std::string& key, const std::string& self, Clock::time_point now) const {
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.value != self && it->second.expires <= now;
}

}  // namespace streamgate::gateway::cluster
