// The lease bucket as the cluster worker sees it, kept current by one KvWatcher instead of
// listing every key each lease round (a listing reads the whole bucket: P + members entries per
// round per instance). Owned and used by the cluster worker thread only.
//
// The bucket expires entries by TTL without writing a marker, so the view expires them itself:
// an entry seen live expires `ttl` after it was applied; an entry present when the watch started
// expires `ttl` after the server wrote it (its creation time, clamped to [0, ttl]). The owner
// passes a ttl a little shorter than the bucket's, to make up for applying changes late.
// Correctness never rests on the view: leases are still taken and renewed by compare-and-set;
// the view only decides the member list (the shares) and which partitions are worth trying.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/cluster/nats_client.h"

namespace streamgate::gateway::cluster {

class LeaseView {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LeaseView(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  //! A fresh watcher on `bucket`; waits up to `patience` for the current entries (the view keeps
  //! what it knew; entries with an unchanged revision keep their expiry). Throws NatsError.
  void watch(KvBucket& bucket, std::chrono::milliseconds patience);
  //! Applies every change queued since the last call. Throws NatsError when the watcher failed
  //! (call watch() again).
  void drain();
  bool watching() const { return watcher_ != nullptr; }
  //! Drops the watcher (after it failed); the entries stay and keep expiring.
  void stop() { watcher_.reset(); }

  //! One change (drain's step; public for tests). `initial`: part of the watch's first pass.
  void apply(const KvUpdate& u, bool initial, Clock::time_point now, std::int64_t wall_now_ns);
  //! Our own successful write, so the view does not wait for the watcher's echo.
  void wrote(const std::string& key, const std::string& value, std::uint64_t revision, Clock::time_point now);

  //! Live member ids (keys "m.<id>"), sorted.
  std::vector<std::string> members(Clock::time_point now) const;
  //! The holder of a live key, nullopt when absent, deleted or expired.
  std::optional<std::string> holder(const std::string& key, Clock::time_point now) const;
  //! True when the key's last record is a value of someone other than `self` that expired
  //! without a delete: its holder stopped renewing (killed, cut off), not released it.
  bool lapsed(const std::string& key, const std::string& self, Clock::time_point now) const;
  std::size_t size() const { return entries_.size(); }
  //! Changes applied since the start (a measure of the watch's cost).
  std::uint64_t updates() const { return updates_; }

 private:
  struct Entry {
    std::string value;
    std::uint64_t revision = 0;
    Clock::time_point expires;
  };
  std::chrono::milliseconds ttl_;
  std::unique_ptr<KvWatcher> watcher_;
  std::map<std::string, Entry> entries_;  //!< bounded: P partition keys + live members
  std::uint64_t updates_ = 0;
};

}  // namespace streamgate::gateway::cluster
