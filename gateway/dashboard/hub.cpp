// Dashboard hub thread: tap drain, recent state, SSE fan-out with per-client bounds.
#include "gateway/dashboard/hub.h"

#include <sys/resource.h>

#include <chrono>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace streamgate::gateway::dashboard {

using nlohmann::json;

namespace {
constexpr auto kPeriod = std::chrono::milliseconds(100);
constexpr std::size_t kMaxTapPerPass = 5000;
constexpr std::size_t kMaxBroadcastPerPass = 50;  // a burst updates the state, not every screen
constexpr std::size_t kHistory = 900;              // 15 minutes of one point a second
constexpr std::size_t kMaxClientBytes = 8 << 20;

const char* kind_name(TapKind k) {
  switch (k) {
    case TapKind::Input: return "input";
    case TapKind::Result: return "result";
    case TapKind::Alert: return "alert";
    case TapKind::Late: return "late";
    case TapKind::DeadLetter: return "dead";
  }
  return "?";
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

double cpu_seconds() {
  rusage u{};
  if (::getrusage(RUSAGE_SELF, &u) != 0) return 0;
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

template <typename T>
void push_bounded(std::deque<T>& d, T v, std::size_t max) {
  d.push_back(std::move(v));
  while (d.size() > max) d.pop_front();
}

std::string join_array(const std::deque<std::string>& d) {
  std::string out = "[";
  for (const auto& s : d) {
    if (out.size() > 1) out += ',';
    out += s;
  }
  return out + "]";
}
}  // namespace

Hub::Hub(HubLimits limits, const SnapshotBox& snapshots, Tap& tap, std::function<std::string()> load_errors)
    : limits_(limits), snapshots_(snapshots), tap_(tap), load_errors_fn_(std::move(load_errors)) {}

Hub::~Hub() { stop(); }

void Hub::start() {
  stop_.store(false);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sg-dashboard");
    run();
  });
}

void Hub::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : clients_) {
    std::lock_guard<std::mutex> cl(c->mu);
    c->closed = true;
    c->cv.notify_all();
  }
  clients_.clear();
}

void Hub::run() {
  std::string batch;
  while (!stop_.load()) {
    std::this_thread::sleep_for(kPeriod);
    try {
      batch.clear();
      drain_tap(batch);
      if (!batch.empty()) broadcast("tap", "[" + batch + "]");
      // The rule files on disk are parsed again every 5 s while someone is looking: a file that
      // fails to load shows up in the Rules view without a restart.
      if (++passes_since_load_check_ >= 50 && load_errors_fn_ && clients() > 0) {
        passes_since_load_check_ = 0;
        std::string errors = load_errors_fn_();
        std::lock_guard<std::mutex> lock(mu_);
        load_errors_ = std::move(errors);
      }
      auto snap = snapshots_.load();
      if (snap && snap->taken_ns != last_snapshot_ns_) {
        last_snapshot_ns_ = snap->taken_ns;
        on_snapshot(*snap);
      }
    } catch (const std::exception& e) {
      // Bad data from outside (a payload nlohmann refuses) must not end the dashboard.
      spdlog::warn("dashboard: {}", e.what());
    }
  }
}

void Hub::drain_tap(std::string& batch) {
  std::size_t n = 0, sent = 0;
  std::lock_guard<std::mutex> lock(mu_);
  while (n < kMaxTapPerPass && tap_.pop([&](TapItem& item) {
    ++n;
    if (item.kind == TapKind::Input) {
      sample_bytes_ += item.topic.size() + item.payload.size();
      sample_.push_back({item.time_ns, item.topic, item.payload});
      while (!sample_.empty() && (sample_.size() > limits_.sample_events || sample_bytes_ > limits_.sample_bytes)) {
        sample_bytes_ -= sample_.front().topic.size() + sample_.front().payload.size();
        sample_.pop_front();
      }
      return;
    }
    ++tap_events_;
    json j{{"k", kind_name(item.kind)}, {"rule", item.rule}, {"topic", item.topic}, {"t", item.time_ns / 1'000'000}};
    json p = json::parse(item.payload, nullptr, false);
    if (p.is_discarded()) j["p"] = item.payload;
    else j["p"] = std::move(p);
    std::string text = dump(j);
    switch (item.kind) {
      case TapKind::Result: push_bounded(results_[item.rule], text, limits_.results_per_rule); break;
      case TapKind::Late: push_bounded(late_, text, limits_.recent); break;
      case TapKind::DeadLetter: push_bounded(dead_letters_, text, limits_.recent); break;
      case TapKind::Alert: {
        // An alert goes to two topics (the alert stream and the per-key state): one transition.
        if (item.payload == last_alert_payload_) return;
        last_alert_payload_ = item.payload;
        const json& pj = j["p"];
        if (!pj.is_object()) break;
        const json& kj = pj.contains("key") ? pj["key"] : json();
        const auto id = std::make_pair(item.rule, kj.is_string() ? kj.get<std::string>() : kj.dump());
        if (pj.value("state", "") == "cleared") {
          active_alerts_.erase(id);
        } else if (active_alerts_.size() < limits_.active_alerts || active_alerts_.count(id) != 0) {
          active_alerts_[id] = text;
        }
        push_bounded(transitions_, text, limits_.recent);
        break;
      }
      case TapKind::Input: break;
    }
    if (sent < kMaxBroadcastPerPass) {
      if (!batch.empty()) batch += ',';
      batch += text;
      ++sent;
    }
  })) {
  }
}

void Hub::on_snapshot(const MetricsSnapshot& snap) {
  const json m = json::parse(snap.json, nullptr, false);
  std::string point;
  if (m.is_object()) {
    point = dump(json::array({snap.taken_ns / 1'000'000, m.value("streamgate_messages_received_total", 0.0),
                              m.value("streamgate_messages_published_total", 0.0),
                              m.value("streamgate_messages_processed_total", 0.0)}));
  }
  std::string event;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!point.empty()) push_bounded(history_, point, kHistory);
    snapshot_ = snapshots_.load();
    event = metrics_event(snap);
    last_metrics_event_ = event;
  }
  broadcast("metrics", event);
}

std::string Hub::metrics_event(const MetricsSnapshot& snap) const {
  json extra{{"cpu_seconds", cpu_seconds()},
             {"clients", clients_.size()},
             {"clients_dropped", dropped_.load()},
             {"tap_skipped", tap_.skipped()},
             {"tap_events", tap_events_},
             {"sample_events", sample_.size()}};
  return "{\"dashboard\":" + dump(extra) + ",\"rules\":" + (snap.rules.empty() ? "[]" : snap.rules) +
         ",\"load_errors\":" + load_errors_ +
         ",\"metrics\":" + snap.json + "}";
}

void Hub::broadcast(const std::string& event, const std::string& data) {
  const std::string msg = "event: " + event + "\ndata: " + data + "\n\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& c : clients_) {
    std::lock_guard<std::mutex> cl(c->mu);
    if (c->dropped || c->closed) continue;
    std::size_t bytes = msg.size();
    for (const auto& q : c->queue) bytes += q.size();
    if (c->queue.size() >= limits_.client_queue || bytes > kMaxClientBytes) {
      c->dropped = true;
      c->queue.clear();
      const auto n = dropped_.fetch_add(1) + 1;
      spdlog::warn("dashboard: a client stopped reading; dropped ({} so far)", n);
    } else {
      c->queue.push_back(msg);
    }
    c->cv.notify_all();
  }
}

std::shared_ptr<SseClient> Hub::connect() {
  std::lock_guard<std::mutex> lock(mu_);
  // After stop() nothing would ever close a new client, and the server could not join its thread.
  if (stop_.load() || clients_.size() >= limits_.max_clients) return nullptr;
  auto c = std::make_shared<SseClient>();
  json state = json::object();
  c->queue.push_back("retry: 2000\nevent: state\ndata: " + [&] {
    std::string s = "{\"metrics\":" + (last_metrics_event_.empty() ? std::string("null") : last_metrics_event_);
    s += ",\"history\":" + join_array(history_);
    s += ",\"results\":{";
    bool first = true;
    for (const auto& [rule, rows] : results_) {
      if (!first) s += ',';
      first = false;
      s += dump(json(rule)) + ":" + join_array(rows);
    }
    s += "},\"alerts\":[";
    first = true;
    for (const auto& [id, a] : active_alerts_) {
      if (!first) s += ',';
      first = false;
      s += a;
    }
    s += "],\"transitions\":" + join_array(transitions_) + ",\"late\":" + join_array(late_) +
         ",\"dead\":" + join_array(dead_letters_) + "}";
    return s;
  }() + "\n\n");
  clients_.push_back(c);
  return c;
}

void Hub::disconnect(const std::shared_ptr<SseClient>& c) {
  std::lock_guard<std::mutex> lock(mu_);
  std::erase(clients_, c);
}

std::size_t Hub::clients() const {
  std::lock_guard<std::mutex> lock(mu_);
  return clients_.size();
}

std::vector<SampledEvent> Hub::sample() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {sample_.begin(), sample_.end()};
}

std::vector<std::string> Hub::rule_names() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  if (!snapshot_ || snapshot_->rules.empty()) return out;
  const json r = json::parse(snapshot_->rules, nullptr, false);
  if (!r.is_array()) return out;
  for (const auto& e : r) out.push_back(e.value("name", ""));
  return out;
}

}  // namespace streamgate::gateway::dashboard
