// The dashboard hub: one thread between the worker and the page. It drains the worker's tap
// (gateway/dashboard/tap.h) and reads the metrics snapshot the worker publishes, keeps the
// bounded recent state the views show (last results per rule, active alerts, transitions, late
// events, dead letters, the input sample for the editor's "try it", 15 minutes of rates), and
// fans Server-Sent Events out to the connected clients. Each client has a bounded queue; a
// client whose queue is full is dropped, never waited for. The hub's mutex is shared with the
// HTTP threads only: the worker never takes it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gateway/dashboard/tap.h"
#include "gateway/metrics.h"

namespace streamgate::gateway::dashboard {

struct HubLimits {
  std::size_t max_clients = 16;
  std::size_t client_queue = 256;        //!< SSE messages waiting per client
  std::size_t sample_events = 2000;      //!< input events kept for "try it"
  std::size_t sample_bytes = 4 << 20;    //!< and their bytes
  std::size_t results_per_rule = 20;
  std::size_t recent = 200;              //!< late events, dead letters, alert transitions
  std::size_t active_alerts = 1000;
};

//! One SSE connection; the HTTP thread serving it waits on `cv`.
struct SseClient {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;
  bool dropped = false;  //!< queue overflowed: the connection is closed
  bool closed = false;   //!< the hub is stopping
};

//! A sampled input event (for "try it").
struct SampledEvent {
  std::int64_t time_ns = 0;
  std::string topic;
  std::string payload;
};

class Hub {
 public:
  //! `snapshots` and `tap` belong to the pipeline's OpsHooks and outlive the hub. `load_errors`
  //! (hub thread, every few seconds while a client is connected) returns the rule files that
  //! fail to load, as JSON.
  Hub(HubLimits limits, const SnapshotBox& snapshots, Tap& tap, std::function<std::string()> load_errors);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  void start();
  //! Closes every client (their HTTP threads return) and joins the thread.
  void stop();

  //! HTTP thread: null when max_clients are connected. The first message (the current state)
  //! is already queued.
  std::shared_ptr<SseClient> connect();
  void disconnect(const std::shared_ptr<SseClient>& c);

  //! HTTP thread: everything a freshly loaded page needs, as JSON.
  std::string state_json() const;
  //! HTTP thread: a copy of the input sample, oldest first.
  std::vector<SampledEvent> sample() const;
  //! HTTP thread: the rule names currently loaded (from the last snapshot).
  std::vector<std::string> rule_names() const;

  std::uint64_t clients_dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::size_t clients() const;

 private:
  void run();
  void drain_tap(std::string& batch);
  void on_snapshot(const MetricsSnapshot& snap);
  void broadcast(const std::string& event, const std::string& data);
  std::string metrics_event(const MetricsSnapshot& snap) const;

  HubLimits limits_;
  const SnapshotBox& snapshots_;
  Tap& tap_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> dropped_{0};
  std::int64_t last_snapshot_ns_ = 0;  // hub thread
  std::function<std::string()> load_errors_fn_;
  int passes_since_load_check_ = 1'000'000;  // hub thread
  std::string load_errors_ = "[]";            // guarded by mu_

  mutable std::mutex mu_;  // guards everything below (hub thread + HTTP threads)
  std::vector<std::shared_ptr<SseClient>> clients_;
  std::shared_ptr<const MetricsSnapshot> snapshot_;
  std::string last_metrics_event_;
  std::map<std::string, std::deque<std::string>> results_;  //!< rule -> last results (JSON)
  std::map<std::pair<std::string, std::string>, std::string> active_alerts_;  //!< (rule, key) -> alert JSON
  std::deque<std::string> transitions_, late_, dead_letters_;
  std::deque<SampledEvent> sample_;
  std::size_t sample_bytes_ = 0;
  std::deque<std::string> history_;  //!< [t, received, published, processed] per second, 15 min
  std::uint64_t tap_events_ = 0;
  std::string last_alert_payload_;
};

}  // namespace streamgate::gateway::dashboard
