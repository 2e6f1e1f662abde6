// Metric families, their two text forms (Prometheus, JSON), topic counters and RSS.
#include "gateway/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "gateway/mqtt_client.h"
#include "gateway/pipeline_metrics.h"

namespace streamgate::gateway {

namespace {

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.9g", v);
  }
  return buf;
}

}  // namespace

std::string format_prometheus(const std::vector<MetricFamily>& families) {
  std::string out;
  out.reserve(families.size() * 128);
  for (const auto& f : families) {
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& p : f.points) {
      out += f.name;
      if (!p.labels.empty()) {
        out += '{';
        for (std::size_t i = 0; i < p.labels.size(); ++i) {
          if (i != 0) out += ',';
          out += p.labels[i].first + "=\"" + escape_label(p.labels[i].second) + "\"";
        }
        out += '}';
      }
      out += ' ' + format_value(p.value) + '\n';
    }
  }
  return out;
}

std::string format_metrics_json(const std::vector<MetricFamily>& families, std::int64_t timestamp_ns) {
  nlohmann::json j = nlohmann::json::object();
  j["timestamp"] = rules::format_rfc3339(timestamp_ns);
  for (const auto& f : families) {
    const bool plain = f.points.size() == 1 && f.points[0].labels.empty();
    if (plain) {
      j[f.name] = f.points[0].value;
      continue;
    }
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& p : f.points) {
      nlohmann::json e = nlohmann::json::object();
      for (const auto& [k, v] : p.labels) e[k] = v;
      e["value"] = p.value;
      arr.push_back(std::move(e));
    }
    j[f.name] = std::move(arr);
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void TopicCounter::add(std::string_view topic) {
  auto it = counts_.find(topic);
  if (it != counts_.end()) {
    ++it->second;
    return;
  }
  if (counts_.size() >= max_topics_) {
    ++other_;
    return;
  }
  counts_.emplace(std::string(topic), 1);
}

std::vector<std::pair<std::string, std::uint64_t>> TopicCounter::top(std::size_t n) const {
  std::vector<std::pair<std::string, std::uint64_t>> all(counts_.begin(), counts_.end());
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  std::uint64_t other = other_;
  if (all.size() > n) {
    for (std::size_t i = n; i < all.size(); ++i) other += all[i].second;
    all.resize(n);
  }
  if (other != 0) all.emplace_back("other", other);
  return all;
}

std::uint64_t resident_memory_bytes() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  const long page = sysconf(_SC_PAGESIZE);
  return resident * static_cast<std::uint64_t>(page > 0 ? page : 4096);
}

bool ProgressMonitor::healthy(std::int64_t now) {
  const std::uint64_t b = beats_.load(std::memory_order_relaxed);
  if (b != last_beats_ || last_change_ns_ == 0) {
    last_beats_ = b;
    last_change_ns_ = now;
  }
  return now - last_change_ns_ <= stall_ns_;
}

std::vector<MetricFamily> collect_metric_families(const MetricsInputs& in) {
  std::vector<MetricFamily> f;
  auto v = [](const std::atomic<std::uint64_t>& a) {
    return static_cast<double>(a.load(std::memory_order_relaxed));
  };
  auto single = [&](std::string name, std::string help, std::string type, double value) {
    f.push_back({std::move(name), std::move(help), std::move(type), {{{}, value}}});
  };
  auto family = [&](std::string name, std::string help, std::string type) -> MetricFamily& {
    f.push_back({std::move(name), std::move(help), std::move(type), {}});
    return f.back();
  };

  if (const PipelineMetrics* p = in.pipeline) {
    single("streamgate_messages_received_total", "MQTT messages that reached the gateway", "counter", v(p->received));
    single("streamgate_messages_processed_total", "messages handed to the rule engine", "counter", v(p->processed));
    single("streamgate_results_emitted_total", "results, alerts and dead letters produced by the worker", "counter", v(p->emissions));
    single("streamgate_messages_published_total", "messages handed to the MQTT client for publishing", "counter", v(p->published));
    single("streamgate_publish_retries_total", "results the MQTT client could not take yet (output-buffer full: the broker away or not reading) and retried", "counter", v(p->publish_retries));
    single("streamgate_dead_letters_total", "messages republished to the dead-letter topic", "counter", v(p->dead_letters));
    auto& drops = family("streamgate_drops_total", "messages or results dropped, by reason", "counter");
    drops.points.push_back({{{"reason", "ring_full"}}, v(p->dropped_ring_full)});
    drops.points.push_back({{{"reason", "too_large"}}, v(p->dropped_too_large)});  // the dead letters' and rejections' name
    drops.points.push_back({{{"reason", "topic_too_long"}}, v(p->dropped_topic_too_long)});
    drops.points.push_back({{{"reason", "stopping"}}, v(p->dropped_stopping)});
    drops.points.push_back({{{"reason", "egress_shutdown"}}, v(p->dropped_egress)});
    drops.points.push_back({{{"reason", "refused_by_client"}}, v(p->dropped_refused)});
    auto& rejected = family("streamgate_messages_rejected_total",
                            "messages the engine did not accept, by reason (no_stream: no stream matched the topic)",
                            "counter");
    for (std::size_t i = 1; i < p->by_status.size(); ++i) {
      rejected.points.push_back({{{"reason", rules::to_string(static_cast<rules::IngestStatus>(i))}},
                                 v(p->by_status[i])});
    }
    single("streamgate_ingress_blocked_total", "messages left with the MQTT client for later because the ingress ring was full", "counter", v(p->producer_blocked));
    single("streamgate_ingress_spilled_total", "messages journaled while the ingress ring was full and read back by the worker later (ring-full-policy = spill)", "counter", v(p->spilled));
    single("streamgate_redeliveries_skipped_total", "broker redeliveries (DUP) of QoS 1/2 messages already journaled: not counted twice", "counter", v(p->redeliveries_skipped));
    single("streamgate_storage_errors_total", "state database errors (each switches to in-memory processing until the database takes writes again)", "counter", v(p->storage_errors));
    single("streamgate_storage_recoveries_total", "times the state database took writes again after an error and a fresh checkpoint made the state durable", "counter", v(p->storage_recoveries));
    single("streamgate_journaled_total", "input messages written to the input journal", "counter", v(p->journaled));
    single("streamgate_worker_errors_total", "exceptions caught in the worker", "counter", v(p->worker_errors));
    single("streamgate_rule_reloads_total", "successful rule reloads", "counter", v(p->reloads));
    single("streamgate_rule_reload_failures_total", "rejected rule reloads (the previous rules kept running)", "counter", v(p->reload_failures));
  }

  if (in.topics_in != nullptr) {
    auto& t = family("streamgate_topic_messages_in_total", "messages processed per input topic (busiest topics, the rest as \"other\")", "counter");
    for (const auto& [topic, n] : in.topics_in->top(in.top_topics)) t.points.push_back({{{"topic", topic}}, static_cast<double>(n)});
  }
  if (in.topics_out != nullptr) {
    auto& t = family("streamgate_topic_messages_out_total", "messages emitted per output topic (busiest topics, the rest as \"other\")", "counter");
    for (const auto& [topic, n] : in.topics_out->top(in.top_topics)) t.points.push_back({{{"topic", topic}}, static_cast<double>(n)});
  }

  family("streamgate_rule_events_in_total", "events that reached a rule", "counter");
  auto rule_family = [&](const char* name, const char* help, const char* type) -> std::size_t {
    family(name, help, type);
    return f.size() - 1;
  };
  const std::size_t r_in_i = f.size() - 1;
  const std::size_t r_filtered = rule_family("streamgate_rule_events_filtered_total", "events rejected by a rule's WHERE", "counter");
  const std::size_t r_out = rule_family("streamgate_rule_results_out_total", "results a rule produced", "counter");
  const std::size_t r_late = rule_family("streamgate_rule_late_events_total", "events that arrived after their window closed", "counter");
  const std::size_t r_eval = rule_family("streamgate_rule_eval_seconds_total", "time spent evaluating a rule", "counter");
  const std::size_t r_err = rule_family("streamgate_rule_eval_errors_total", "rows skipped for an evaluation error", "counter");
  const std::size_t r_drop = rule_family("streamgate_rule_drops_total", "state refused at a bound, by reason (keys, windows, rows, distinct_values)", "counter");
  const std::size_t r_win = rule_family("streamgate_rule_open_windows", "windows currently open", "gauge");
  const std::size_t r_keys = rule_family("streamgate_rule_group_keys", "group keys currently held", "gauge");
  const std::size_t r_paused = rule_family("streamgate_rule_paused", "1 when the rule is paused over the control topic", "gauge");
  double late_total = 0;
  for (const auto& m : in.rules) {
    const std::vector<std::pair<std::string, std::string>> l{{"rule", m.name}};
    f[r_in_i].points.push_back({l, static_cast<double>(m.events_in)});
    f[r_filtered].points.push_back({l, static_cast<double>(m.events_filtered)});
    f[r_out].points.push_back({l, static_cast<double>(m.results_out)});
    f[r_late].points.push_back({l, static_cast<double>(m.late_events)});
    f[r_eval].points.push_back({l, static_cast<double>(m.eval_ns) / 1e9});
    f[r_err].points.push_back({l, static_cast<double>(m.eval_errors)});
    f[r_drop].points.push_back({{{"rule", m.name}, {"reason", "keys"}}, static_cast<double>(m.dropped_keys)});
    f[r_drop].points.push_back({{{"rule", m.name}, {"reason", "windows"}}, static_cast<double>(m.dropped_windows)});
    f[r_drop].points.push_back({{{"rule", m.name}, {"reason", "rows"}}, static_cast<double>(m.dropped_rows)});
    f[r_drop].points.push_back({{{"rule", m.name}, {"reason", "distinct_values"}}, static_cast<double>(m.dropped_values)});
    f[r_win].points.push_back({l, static_cast<double>(m.open_windows)});
    f[r_keys].points.push_back({l, static_cast<double>(m.group_keys)});
    f[r_paused].points.push_back({l, m.paused ? 1.0 : 0.0});
    late_total += static_cast<double>(m.late_events);
  }
  single("streamgate_late_events_total", "late events over all rules", "counter", late_total);

  // Tables (CREATE TABLE): what a JOIN sees, and what loading them cost or refused.
  if (!in.tables.empty()) {
    // Indexes, not references: adding a family may move the others.
    const std::size_t rows = rule_family("streamgate_table_rows", "rows a table holds", "gauge");
    const std::size_t loads = rule_family("streamgate_table_loads_total", "successful (re)loads of a file or SQLite table", "counter");
    const std::size_t errs = rule_family("streamgate_table_load_errors_total", "failed (re)loads: the previous rows stayed", "counter");
    const std::size_t refused = rule_family("streamgate_table_refused_rows_total", "rows beyond the table's bound (MAXROWS, max-table-rows)", "counter");
    const std::size_t bad = rule_family("streamgate_table_bad_messages_total", "MQTT-fed table: payloads not an object or without the key", "counter");
    for (const auto& t : in.tables) {
      const std::vector<std::pair<std::string, std::string>> l{{"table", t.name}};
      f[rows].points.push_back({l, static_cast<double>(t.rows)});
      f[loads].points.push_back({l, static_cast<double>(t.loads)});
      f[errs].points.push_back({l, static_cast<double>(t.load_errors)});
      f[refused].points.push_back({l, static_cast<double>(t.refused_rows)});
      f[bad].points.push_back({l, static_cast<double>(t.bad_messages)});
    }
  }
  single("streamgate_rules", "rules currently loaded", "gauge", static_cast<double>(in.rules.size()));

  auto& occ = family("streamgate_ring_occupancy", "messages waiting in a ring", "gauge");
  occ.points.push_back({{{"ring", "ingress"}}, static_cast<double>(in.ingress_size)});
  occ.points.push_back({{{"ring", "egress"}}, static_cast<double>(in.egress_size)});
  auto& cap = family("streamgate_ring_capacity", "slots of a ring", "gauge");
  cap.points.push_back({{{"ring", "ingress"}}, static_cast<double>(in.ingress_capacity)});
  cap.points.push_back({{{"ring", "egress"}}, static_cast<double>(in.egress_capacity)});

  if (const DurabilityGauges* d = in.durability) {
    single("streamgate_outbox_depth", "results waiting in the durable outbox (-1: no outbox)", "gauge",
           static_cast<double>(d->outbox_depth.load(std::memory_order_relaxed)));
    single("streamgate_checkpoint_duration_seconds", "duration of the last checkpoint", "gauge",
           static_cast<double>(d->last_checkpoint_duration_ns.load(std::memory_order_relaxed)) / 1e9);
    single("streamgate_checkpoints_total", "checkpoints written", "counter", v(d->checkpoints));
    single("streamgate_checkpoint_failures_total", "checkpoints that failed", "counter", v(d->checkpoint_failures));
    single("streamgate_last_checkpoint_timestamp_seconds", "wall-clock time of the last checkpoint (0: none yet)", "gauge",
           static_cast<double>(d->last_checkpoint_unix_ns.load(std::memory_order_relaxed)) / 1e9);
  }

  family("streamgate_mqtt_connected", "1 while the MQTT connection is up", "gauge");
  family("streamgate_mqtt_connects_total", "successful MQTT connections (the first one included)", "counter");
  family("streamgate_mqtt_reconnects_total", "MQTT connections lost (each is followed by reconnect attempts)", "counter");
  family("streamgate_mqtt_connect_failures_total", "failed MQTT connection attempts", "counter");
  // `family` appends to `f` (references would dangle): the four above are filled by index.
  const std::size_t c_i = f.size() - 4;
  auto add_conn = [&](const char* name, const MqttClientStats* s, bool up) {
    if (s == nullptr) return;
    const std::vector<std::pair<std::string, std::string>> l{{"connection", name}};
    f[c_i].points.push_back({l, up ? 1.0 : 0.0});
    f[c_i + 1].points.push_back({l, v(s->connects)});
    f[c_i + 2].points.push_back({l, v(s->connection_losses)});
    f[c_i + 3].points.push_back({l, v(s->connect_failures)});
  };
  add_conn(in.output_stats != nullptr ? "input" : "mqtt", in.input_stats, in.input_connected);
  add_conn("output", in.output_stats, in.output_connected);

  if (const ControlStats* c = in.control) {
    auto& ctl = family("streamgate_control_requests_total", "control-topic requests, by result (ok, failed, denied)", "counter");
    ctl.points.push_back({{{"result", "ok"}}, v(c->ok)});
    ctl.points.push_back({{{"result", "failed"}}, v(c->failed)});
    ctl.points.push_back({{{"result", "denied"}}, v(c->denied)});
  }
  single("streamgate_resident_memory_bytes", "resident set size (from /proc/self/statm)", "gauge", static_cast<double>(in.rss_bytes));
  single("streamgate_uptime_seconds", "seconds since the pipeline started", "gauge", in.uptime_seconds);
  return f;
}

}  // namespace streamgate::gateway
