// Cluster status as metrics, JSON and control replies; see cluster_status.h.
#include "gateway/cluster/cluster_status.h"

#include <spdlog/spdlog.h>

#include "gateway/control.h"

namespace streamgate::gateway::cluster {

using nlohmann::json;

std::vector<MetricFamily> cluster_metric_families(const ClusterStatus& s) {
  std::vector<MetricFamily> f;
  f.reserve(32);  // family() hands out references: no reallocation while they are held
  auto single = [&](std::string name, std::string help, std::string type, double value) {
    f.push_back({std::move(name), std::move(help), std::move(type), {{{}, value}}});
  };
  auto family = [&](std::string name, std::string help, std::string type) -> MetricFamily& {
    f.push_back({std::move(name), std::move(help), std::move(type), {}});
    return f.back();
  };
  auto d = [](std::uint64_t x) { return static_cast<double>(x); };
  single("streamgate_cluster_connected", "1 while the NATS connection is up", "gauge", s.connected ? 1 : 0);
  single("streamgate_cluster_partitions", "partitions of the input stream (cluster-partitions)", "gauge", s.partitions);
  single("streamgate_cluster_members", "instances with a live member key in the lease bucket", "gauge", d(s.members.size()));
  std::uint64_t owned = 0, unowned = 0;
  for (const auto& p : s.partition) {
    owned += p.here ? 1 : 0;
    unowned += p.owner.empty() ? 1 : 0;
  }
  single("streamgate_cluster_owned_partitions", "partitions this instance owns", "gauge", d(owned));
  single("streamgate_cluster_unowned_partitions", "partitions with no live lease (nobody processes them)", "gauge", d(unowned));
  auto& owner = family("streamgate_cluster_partition_owner",
                       "1 per partition with a live lease, labelled with its holder (from the lease bucket)", "gauge");
  auto& events = family("streamgate_cluster_partition_events_total",
                        "input messages fed to the partition's engine since this instance took it", "counter");
  auto& results = family("streamgate_cluster_partition_results_total",
                         "results the partition's engine produced since this instance took it", "counter");
  auto& lag = family("streamgate_cluster_partition_lag",
                     "messages of the partition not yet delivered to this instance (consumer NumPending)", "gauge");
  auto& age = family("streamgate_cluster_partition_checkpoint_age_seconds",
                     "seconds since a checkpoint last covered everything the partition's engine was fed", "gauge");
  for (const auto& p : s.partition) {
    const std::string id = std::to_string(p.id);
    if (!p.owner.empty()) owner.points.push_back({{{"partition", id}, {"owner", p.owner}}, 1});
    if (!p.here) continue;
    events.points.push_back({{{"partition", id}}, d(p.events)});
    results.points.push_back({{{"partition", id}}, d(p.results)});
    lag.points.push_back({{{"partition", id}}, d(p.lag)});
    age.points.push_back({{{"partition", id}}, p.checkpoint_age_seconds});
  }
  single("streamgate_cluster_events_total", "input messages fed to the engines", "counter", d(s.events));
  single("streamgate_cluster_rejected_total", "input messages the engines rejected (malformed, too large...)", "counter", d(s.rejected));
  single("streamgate_dead_letters_total", "rejected messages published to the dead-letter topic", "counter", d(s.dead_letters));
  auto& res = family("streamgate_cluster_results_total", "results sent to the results stream, by outcome", "counter");
  res.points.push_back({{{"outcome", "stored"}}, d(s.results_published)});
  res.points.push_back({{{"outcome", "duplicate"}}, d(s.results_duplicate)});
  res.points.push_back({{{"outcome", "no_stream"}}, d(s.results_dropped)});
  single("streamgate_checkpoints_total", "partition checkpoints written to the state bucket", "counter", d(s.checkpoints));
  single("streamgate_cluster_fenced_total", "checkpoint writes refused because the revision moved (another owner)", "counter", d(s.fenced));
  single("streamgate_cluster_acquired_total", "partitions this instance took, for any reason", "counter", d(s.acquired));
  single("streamgate_cluster_takeovers_total",
         "partitions this instance took after their holder stopped renewing the lease (not released)", "counter",
         d(s.takeovers));
  single("streamgate_rule_reloads_total", "successful rule reloads (SIGHUP)", "counter", d(s.reloads));
  single("streamgate_rule_reload_failures_total", "rejected rule reloads (the previous rules kept running)", "counter",
         d(s.reload_failures));
  single("streamgate_cluster_lease_round_seconds", "duration of the last lease round (renewals, rebalance)", "gauge",
         s.lease_round_seconds);
  single("streamgate_cluster_lease_view_updates_total", "lease bucket changes the watcher delivered", "counter",
         d(s.lease_view_updates));
  single("streamgate_resident_memory_bytes", "resident set size (from /proc/self/statm)", "gauge", d(s.rss_bytes));
  single("streamgate_uptime_seconds", "seconds since the process started", "gauge", s.uptime_seconds);
  return f;
}

json cluster_status_json(const ClusterStatus& s) {
  json parts = json::array();
  for (const auto& p : s.partition) {
    json j{{"partition", p.id}, {"owner", p.owner.empty() ? json() : json(p.owner)}};
    if (p.here) {
      j["events"] = p.events;
      j["results"] = p.results;
      j["lag"] = p.lag;
      j["last_seq"] = p.last_seq;
      j["checkpoint_age_seconds"] = p.checkpoint_age_seconds;
    }
    parts.push_back(std::move(j));
  }
  return json{{"instance", s.instance},
              {"connected", s.connected},
              {"members", s.members},
              {"partitions", s.partitions},
              {"partition", std::move(parts)},
              {"events", s.events},
              {"results", s.results_published},
              {"checkpoints", s.checkpoints},
              {"fenced", s.fenced},
              {"acquired", s.acquired},
              {"takeovers", s.takeovers}};
}

std::shared_ptr<const ClusterSnapshot> make_cluster_snapshot(const ClusterStatus& s, std::int64_t wall_ns) {
  auto snap = std::make_shared<ClusterSnapshot>();
  const auto families = cluster_metric_families(s);
  snap->prometheus = format_prometheus(families);
  snap->json = format_metrics_json(families, wall_ns);
  snap->status = cluster_status_json(s).dump();
  return snap;
}

std::string handle_cluster_control(std::string_view message, const std::string& secret,
                                   const std::string& default_reply_topic, const ClusterStatus& status,
                                   const std::vector<rules::RuleInfo>& rules, ControlStats& stats,
                                   std::string& reply_topic) {
  reply_topic = default_reply_topic;
  json out = json::object();
  std::string refused;
  auto req = unwrap_control_request(message, secret, refused);
  if (!req) {
    stats.denied.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("control: request refused: {}", refused);
    out["ok"] = false;
    out["error"] = refused;
    return out.dump();
  }
  reply_topic = control_reply_topic(*req, default_reply_topic);
  if (req->contains("id")) out["id"] = (*req)["id"];
  const std::string op = req->value("op", "");
  out["op"] = op;
  out["instance"] = status.instance;
  if (op == "status") {
    out["ok"] = true;
    out["cluster"] = cluster_status_json(status);
  } else if (op == "list") {
    out["ok"] = true;
    json all = json::array();
    for (const auto& r : rules) {
      all.push_back(json{{"name", r.name}, {"file", r.file}, {"from", r.from}, {"topic", r.output_topic}, {"qos", r.qos}});
    }
    out["rules"] = std::move(all);
  } else {
    stats.failed.fetch_add(1, std::memory_order_relaxed);
    out["ok"] = false;
    out["error"] = "op '" + op + "' is not available in cluster mode (status, list): change the rule files on "
                   "every instance and send SIGHUP";
    return out.dump();
  }
  stats.ok.fetch_add(1, std::memory_order_relaxed);
  return out.dump();
}

}  // namespace streamgate::gateway::cluster
