// Two-phase aggregation of fleet-wide windowed rules in cluster mode (docs/scaling-out.md):
// each partition's engine emits, when a window fires, every group's aggregate state instead
// of rows (emit_partials); the merge stage's engine combines the states of all partitions per
// (window, group) with each aggregate's merge() (merge_partial) and fires the merged window
// through the ordinary emit_window, so ids and payloads are those of a single engine.
// Runs on the thread that owns the engine, like the rest of RuleRuntime.
#include <cstdint>
#include <vector>

#include "rules/runtime/rule_runtime.h"
#include "rules/window/window.h"
#include "rules/window/window_type.h"

namespace streamgate::rules::runtime {

using nlohmann::json;

void RuleRuntime::emit_partials(WindowState& w, TimeNs start, TimeNs end, Output& out) {
  const std::uint64_t index = firings_++;
  const std::string id_base = "partial/" + id_prefix_ + std::to_string(start) + "/";
  for (const auto& g : w.groups) {
    // {"rule", "hash", "start", "end", "group"}: the group exactly as a checkpoint holds it.
    std::vector<std::uint8_t> bytes;
    append_cbor_head(bytes, 5, 5);
    append_cbor_text(bytes, "rule");
    append_cbor_text(bytes, plan_->name);
    append_cbor_text(bytes, "hash");
    append_cbor_text(bytes, plan_->text_hash);
    append_cbor_text(bytes, "start");
    Value(start).append_cbor(bytes);
    append_cbor_text(bytes, "end");
    Value(end).append_cbor(bytes);
    append_cbor_text(bytes, "group");
    append_group_cbor(g, bytes);
    key_json_.clear();
    g.key.append_json(key_json_);
    Emission e;
    e.kind = EmissionKind::Partial;
    e.rule = plan_->name;
    e.emission_index = index;
    e.result_id = id_base + plan::hex64(plan::fnv1a(key_json_));
    e.payload.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    out.result(index_, std::move(e), nullptr, end - 1);
  }
}

bool RuleRuntime::merge_partial(TimeNs start, TimeNs end, const json& group) {
  if (!plan_->aggregate_mode || !window_) return false;
  // The merged window fired when the slowest partition passed its end: a state arriving
  // later (a replay beyond the results' dedup window) must not fire it a second time.
  if (advanced_to_ != kTimeMin && window::sat_add(end, lateness_) <= advanced_to_) return false;
  WindowState* open = window_->open_window(start, end);
  if (open == nullptr) return false;
  WindowState& w = *open;
  const Value key = Value::from_nlohmann(group.at("key"));
  Group* g = w.groups.find(key, key.hash());
  if (g == nullptr) {
    if (total_groups_ >= options_->max_group_keys) {
      ++m_.dropped_keys;
      limit_hit(Limit::Keys);
      return false;
    }
    restore_group(w, group);
    return true;
  }
  // The incoming state restored on its own, then merged aggregate by aggregate.
  WindowState incoming;
  restore_group(incoming, group);
  // count(DISTINCT x) of the union is not the sum of the counts: merge_group unites the sets
  // (up to max_distinct_values, as on one engine) and rebuilds each DISTINCT aggregate. No
  // arrival order exists between partitions: first/last values and the last event go by time.
  merge_group(*g, *incoming.groups.begin(), /*across_partitions=*/true);
  destroy_window(incoming);
  return true;
}

}  // namespace streamgate::rules::runtime
