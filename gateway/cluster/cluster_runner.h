// Cluster mode's process body: one worker thread owns a NATS connection, the leases this
// instance holds and one rules::Engine per owned partition (no state is shared between
// partitions, so nothing locks). Per round it renews leases and rebalances, fetches a batch
// from each owned partition's durable pull consumer, feeds the partition's engine with the
// message's stream timestamp as processing time (so a replay after a takeover is identical),
// publishes the emissions to the results stream with the result id as message id, and
// checkpoints engine state + last stream sequence into a key-value bucket with a revision check
// before acknowledging the input the checkpoint covers. See docs/scaling-out.md.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/cluster/cluster_status.h"
#include "gateway/config.h"
#include "gateway/sd_notify.h"
#include "rules/engine.h"

namespace streamgate::gateway::cluster {

struct ClusterStats {
  std::atomic<std::uint64_t> events{0};
  std::atomic<std::uint64_t> rejected{0};  //!< bad input (malformed, too large, bad timestamp...)
  std::atomic<std::uint64_t> results_published{0};
  std::atomic<std::uint64_t> results_duplicate{0};  //!< dropped by the server (already stored)
  std::atomic<std::uint64_t> results_dropped{0};    //!< no stream took the subject (misconfiguration)
  std::atomic<std::uint64_t> checkpoints{0};
  std::atomic<std::uint64_t> fenced{0};             //!< checkpoint writes refused by revision
  std::atomic<std::uint64_t> acquired{0};           //!< partitions taken, for any reason
  std::atomic<std::uint64_t> takeovers{0};          //!< of those: leases that lapsed (holder stopped renewing)
  std::atomic<std::uint64_t> dead_letters{0};
  std::atomic<std::uint64_t> reloads{0};
  std::atomic<std::uint64_t> reload_failures{0};
  std::atomic<int> owned{0};
};

class ClusterRunner {
 public:
  //! `files`: (path, text) of the rule files; every partition's engine loads all of them.
  //! `heartbeat` advances while the worker makes progress (or waits on NATS): systemd's watchdog.
  ClusterRunner(const Config& config, std::vector<std::pair<std::string, std::string>> files,
                rules::EngineOptions engine_options, Heartbeat& heartbeat);
  ~ClusterRunner();
  ClusterRunner(const ClusterRunner&) = delete;
  ClusterRunner& operator=(const ClusterRunner&) = delete;

  void start();
  //! Any thread (SIGHUP): the worker checkpoints every owned partition, then swaps each one's
  //! rules for `files` (Engine::reload: unchanged rules keep their state); partitions taken later
  //! load `files` too. On any error the running rules stay.
  void request_reload(std::vector<std::pair<std::string, std::string>> files);
  //! Checkpoints every owned partition, gives its lease back, closes the NATS connection (its
  //! last callbacks are over when this returns: nothing of libnats logs while the process exits)
  //! and joins the worker.
  void stop();
  const ClusterStats& stats() const { return stats_; }
  //! The latest status as metrics and JSON (null until the worker made the first one); any thread.
  std::shared_ptr<const ClusterSnapshot> snapshot() const { return snapshot_.load(); }
  //! Beats while the worker advances (for /health).
  const Heartbeat& heartbeat() const;

 private:
  struct Impl;
  // Declared before impl_, which refers to them: they are built before it and outlive it.
  ClusterStats stats_;
  std::atomic<std::shared_ptr<const ClusterSnapshot>> snapshot_;
  std::unique_ptr<Impl> impl_;
  std::thread worker_;
};

}  // namespace streamgate::gateway::cluster
