// What an operator sees of cluster mode: the worker fills a ClusterStatus about once a second;
// this file turns it into the metric families of /metrics (Prometheus text and JSON), the status
// document of the control topic and GET /cluster, and answers control requests. Every label set
// is bounded by configuration: one series per partition (P) and nothing keyed by device or topic.
// Built on the cluster worker; the snapshot it makes is read by the HTTP threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/metrics.h"
#include "rules/engine.h"

namespace streamgate::gateway::cluster {

struct PartitionStatus {
  int id = 0;
  std::string owner;  //!< the live lease's holder in the lease bucket; "" when none
  bool here = false;  //!< owned by this instance: the figures below are known
  std::uint64_t events = 0;   //!< input messages fed to the engine since this instance took it
  std::uint64_t results = 0;  //!< results published (or dropped as duplicates) since then
  std::uint64_t lag = 0;      //!< messages in the partition not yet delivered to us (NumPending)
  std::uint64_t last_seq = 0;
  double checkpoint_age_seconds = 0;  //!< since the state last covered everything fed to it
};

struct ClusterStatus {
  std::string instance;
  int partitions = 0;
  bool connected = false;
  std::vector<std::string> members;
  std::vector<PartitionStatus> partition;  //!< 0..P-1
  std::uint64_t events = 0, rejected = 0, dead_letters = 0;
  std::uint64_t results_published = 0, results_duplicate = 0, results_dropped = 0;
  std::uint64_t checkpoints = 0, fenced = 0;
  std::uint64_t acquired = 0;   //!< partitions taken, for any reason
  std::uint64_t takeovers = 0;  //!< of those: leases whose holder stopped renewing (not released)
  std::uint64_t reloads = 0, reload_failures = 0;
  double lease_round_seconds = 0;
  std::uint64_t lease_view_updates = 0;
  double uptime_seconds = 0;
  std::uint64_t rss_bytes = 0;
};

std::vector<MetricFamily> cluster_metric_families(const ClusterStatus& s);
nlohmann::json cluster_status_json(const ClusterStatus& s);

//! What the HTTP threads serve; immutable once published.
struct ClusterSnapshot {
  std::string prometheus;
  std::string json;    //!< /metrics.json
  std::string status;  //!< /cluster: cluster_status_json
};
std::shared_ptr<const ClusterSnapshot> make_cluster_snapshot(const ClusterStatus& s, std::int64_t wall_ns);

//! One control request in cluster mode. Every instance subscribes to the control subject, so a
//! request gets one reply per instance (each with the partitions it owns). Supported: "status"
//! (the cluster status) and "list" (the rules); rule changes go through the rule files and
//! SIGHUP on every instance. `reply_subject` is set to where the reply goes.
std::string handle_cluster_control(std::string_view message, const std::string& secret,
                                   const std::string& default_reply_topic, const ClusterStatus& status,
                                   const std::vector<rules::RuleInfo>& rules, ControlStats& stats,
                                   std::string& reply_topic);

}  // namespace streamgate::gateway::cluster
