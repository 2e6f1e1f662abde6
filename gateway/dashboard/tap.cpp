// Worker-side tap: copies into preallocated ring slots, never blocks.
#include "gateway/dashboard/tap.h"

namespace streamgate::gateway::dashboard {

void Tap::offer_output(const rules::Emission& e, std::int64_t time_ns) {
  if (output_budget_ == 0) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  --output_budget_;
  TapKind kind = TapKind::Result;
  if (e.kind == rules::EmissionKind::Alert) kind = TapKind::Alert;
  else if (e.kind == rules::EmissionKind::Late) kind = TapKind::Late;
  else if (e.rule == "$dead_letter") kind = TapKind::DeadLetter;
  else if (!e.rule.empty() && e.rule[0] == '$') return;  // control replies, metrics messages
  push(kind, e.rule, e.topic, std::string_view(e.payload).substr(0, kMaxPayload), time_ns);
}

void Tap::push(TapKind kind, std::string_view rule, std::string_view topic, std::string_view payload,
               std::int64_t t) {
  const bool ok = ring_.try_push_with([&](TapItem& slot) {
    slot.kind = kind;
    slot.time_ns = t;
    slot.rule.assign(rule);
    slot.topic.assign(topic);
    slot.payload.assign(payload);
  });
  if (!ok) skipped_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace streamgate::gateway::dashboard
