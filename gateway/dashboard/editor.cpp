// Rule editor checks and trials on a scratch engine.
#include "gateway/dashboard/editor.h"

#include <chrono>
#include <memory>

#include <nlohmann/json.hpp>

#include "gateway/rule_files.h"

namespace streamgate::gateway::dashboard {

namespace {

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The gateway's rule files, then the edited text: its streams and rules resolve like a deploy.
std::unique_ptr<rules::Engine> scratch_engine(const Config& config, const std::string& text, CheckOutcome& out) {
  rules::EngineOptions options;
  options.max_payload_bytes = config.max_payload_bytes;
  // A trial is short: smaller state bounds keep its memory small whatever the rule does.
  options.max_group_keys = 10'000;
  options.max_open_windows = 1'000;
  options.max_rows_per_window = 10'000;
  options.max_pending_events = 10'000;
  options.max_distinct_values = 10'000;
  options.max_dedup_ids = 10'000;
  auto engine = std::make_unique<rules::Engine>(options);
  std::vector<RuleFile> files;
  std::vector<std::string> problems;
  read_gateway_rule_files(config.rules_dir, config.control_rules_dir, files, problems);
  for (const auto& f : files) engine->load_file(f.path, f.text);  // the daemon skips bad files too
  out.errors = engine->load_file(kEditorFile, text);
  for (const auto& r : engine->rules()) {
    if (r.file == kEditorFile) out.rules.push_back(r.name);
  }
  return engine;
}

}  // namespace

std::string rule_file_errors(const Config& config) {
  nlohmann::json out = nlohmann::json::array();
  std::vector<RuleFile> files;
  std::vector<std::string> problems;
  read_gateway_rule_files(config.rules_dir, config.control_rules_dir, files, problems);
  for (const auto& p : problems) {
    if (p.find("no *.sql rule files") == std::string::npos) out.push_back({{"file", ""}, {"errors", {p}}});
  }
  rules::Engine engine;
  for (const auto& f : files) {
    const auto errors = engine.load_file(f.path, f.text);
    if (errors.empty()) continue;
    nlohmann::json e = nlohmann::json::array();
    for (const auto& err : errors) e.push_back(err.to_string());
    out.push_back({{"file", f.path}, {"errors", std::move(e)}});
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

CheckOutcome check_rule_text(const Config& config, const std::string& text) {
  CheckOutcome out;
  scratch_engine(config, text, out);
  return out;
}

TrialOutcome try_rule_text(const Config& config, const std::string& text, const std::vector<SampledEvent>& all,
                           std::size_t events, const TrialLimits& limits) {
  TrialOutcome out;
  auto engine = scratch_engine(config, text, out.check);
  if (!out.check.errors.empty()) return out;
  // The topic filters of the streams the edited rules read; none known (a rule over a rule's
  // output): every sampled message counts.
  std::vector<std::string> filters;
  bool any = false;
  const auto streams = engine->streams();
  for (const auto& r : engine->rules()) {
    if (r.file != kEditorFile) continue;
    bool found = false;
    for (const auto& s : streams) {
      if (s.name == r.from && !s.topic_filter.empty()) {
        filters.push_back(s.topic_filter);
        found = true;
      }
    }
    any = any || !found;
  }
  std::vector<const SampledEvent*> sample;
  for (const auto& ev : all) {
    bool keep = any;
    for (const auto& f : filters) keep = keep || rules::topic_matches(f, ev.topic);
    if (keep) sample.push_back(&ev);
  }
  if (events < sample.size()) sample.erase(sample.begin(), sample.end() - static_cast<std::ptrdiff_t>(events));
  const std::int64_t deadline = steady_ns() + limits.max_ns;
  std::size_t bytes = 0;
  const rules::EmitFn emit = [&](rules::Emission&& e) {
    bool ours = false;
    for (const auto& r : out.check.rules) ours = ours || r == e.rule;
    if (!ours) return;
    if (out.rows.size() >= limits.max_rows || bytes + e.payload.size() > limits.max_bytes) {
      out.truncated = true;
      return;
    }
    bytes += e.payload.size();
    out.rows.push_back(std::move(e));
  };
  for (const SampledEvent* ev : sample) {
    if (out.truncated || steady_ns() > deadline) {
      out.truncated = true;
      break;
    }
    engine->on_message(ev->topic, ev->payload, ev->time_ns, emit);
    ++out.events;
  }
  // End of the sample: close the open windows, as replay does at the end of its input.
  if (!out.truncated) engine->flush(emit);
  return out;
}

}  // namespace streamgate::gateway::dashboard
