// Checkpoint of one rule's runtime state as JSON: open windows (bounds, groups, aggregate states
// via the registry's save/restore, DISTINCT sets, buffered rows; each window kind's operator
// writes its own keys with these helpers), stateful-function states and counters. The engine
// keys it by rule name + text hash. A window's groups are CBOR frames in one byte string
// (begin_frame / end_frame), so the document is meant for CBOR (as storage/ writes it), not
// JSON text.
#include "rules/runtime/rule_runtime.h"

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "rules/ingest/ingest.h"

namespace streamgate::rules::runtime {

using nlohmann::json;

namespace {

// Groups are most of a checkpoint (one per key and open window: 100,000 in the e2e benchmark).
// Each is encoded to CBOR as soon as it is built and appended to one byte string, behind a
// 4-byte little-endian length, so the whole state never exists as a tree of JSON nodes (that
// tree took several times the memory of the state itself: peak RSS 173 MB with 100,000 keys).
constexpr std::size_t kFrameHeader = 4;

//! Starts a frame: room for its length, filled in by end_frame().
std::size_t begin_frame(std::vector<std::uint8_t>& out) {
  const std::size_t at = out.size();
  out.resize(at + kFrameHeader);
  return at;
}

void end_frame(std::vector<std::uint8_t>& out, std::size_t at) {
  const std::size_t n = out.size() - at - kFrameHeader;
  if (n > UINT32_MAX) throw std::length_error("checkpoint group larger than 4 GiB");
  for (std::size_t i = 0; i < kFrameHeader; ++i) out[at + i] = static_cast<std::uint8_t>(n >> (8 * i));
}

template <class OnItem>
void for_each_frame(const json::binary_t& bytes, OnItem&& on_item) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    if (bytes.size() - at < kFrameHeader) throw std::runtime_error("checkpoint: truncated group frame");
    std::size_t n = 0;
    for (std::size_t i = 0; i < kFrameHeader; ++i) n |= static_cast<std::size_t>(bytes[at + i]) << (8 * i);
    at += kFrameHeader;
    if (n > bytes.size() - at) throw std::runtime_error("checkpoint: group frame past the end");
    const auto first = bytes.begin() + static_cast<std::ptrdiff_t>(at);
    on_item(json::from_cbor(first, first + static_cast<std::ptrdiff_t>(n)));
    at += n;
  }
}

}  // namespace

json RuleRuntime::rows_to_json(const std::vector<BufferedRow>& rows) {
  json a = json::array();
  for (const auto& r : rows) {
    json s = json::array();
    for (const auto& v : r.slots) s.push_back(v.to_nlohmann());
    a.push_back({{"t", r.event_time}, {"slots", std::move(s)}, {"whole", r.whole.to_nlohmann()}});
  }
  return a;
}

BufferedRow RuleRuntime::row_from_json(const json& j) {
  BufferedRow r;
  r.event_time = j.at("t").get<TimeNs>();
  for (const auto& v : j.at("slots")) r.slots.push_back(Value::from_nlohmann(v));
  r.whole = Value::from_nlohmann(j.value("whole", json()));
  return r;
}

void RuleRuntime::append_group_cbor(const Group& g, std::vector<std::uint8_t>& out) const {
  append_cbor_head(out, 5, g.extra ? 6 : 2);
  append_cbor_text(out, "key");
  g.key.append_cbor(out);
  append_cbor_text(out, "aggs");
  append_cbor_head(out, 4, plan_->aggs.size());
  for (const auto& a : plan_->aggs) {
    if (a.fn->save_cbor) a.fn->save_cbor(g.aggs + a.offset, out);
    else json::to_cbor(a.fn->save(g.aggs + a.offset), out);
  }
  if (!g.extra) return;
  append_cbor_text(out, "distinct");
  append_cbor_head(out, 4, g.extra->distinct.size());
  for (const auto& set : g.extra->distinct) {
    append_cbor_head(out, 4, set.size());
    for (const auto& v : set) v.append_cbor(out);
  }
  append_cbor_text(out, "last_row");
  append_cbor_head(out, 4, g.extra->last_row.size());
  for (const auto& v : g.extra->last_row) v.append_cbor(out);
  // JSON text, not a CBOR map: decoding a map sorts its keys, and SELECT * prints the event's
  // keys in the event's order (after a restore, and at the merge stage).
  append_cbor_text(out, "whole_json");
  append_cbor_text(out, g.extra->whole.to_json());
  append_cbor_text(out, "last_t");
  Value(g.extra->last_time).append_cbor(out);
}

json RuleRuntime::save_window(const WindowState& w) const {
  json j;
  j["start"] = w.start;
  j["end"] = w.end;
  j["fired"] = w.fired;
  j["revision"] = w.revision;
  // Each group is one CBOR map, written straight from the state: {"key", "aggs"[, "distinct",
  // "last_row", "whole_json", "last_t"]}, as restore_group() reads it; aggregate states through the
  // registry's save_cbor().
  std::vector<std::uint8_t> groups;
  for (const auto& g : w.groups) {
    const std::size_t frame = begin_frame(groups);
    append_group_cbor(g, groups);
    end_frame(groups, frame);
  }
  j["group_frames"] = json::binary(std::move(groups));
  j["rows"] = rows_to_json(w.rows);
  return j;
}

void RuleRuntime::restore_window(WindowState& w, const json& j) {
  w.start = j.at("start").get<TimeNs>();
  w.end = j.at("end").get<TimeNs>();
  w.fired = j.value("fired", false);
  w.revision = j.value("revision", 0u);
  if (auto frames = j.find("group_frames"); frames != j.end()) {
    if (!frames->is_binary()) throw std::runtime_error("checkpoint: group_frames is not a byte string");
    for_each_frame(frames->get_binary(), [&](const json& gj) { restore_group(w, gj); });
  } else {
    // Checkpoints written before group frames: one JSON array.
    for (const auto& gj : j.at("groups")) restore_group(w, gj);
  }
  for (const auto& rj : j.at("rows")) w.rows.push_back(row_from_json(rj));
  pending_rows_ += w.rows.size();
}

void RuleRuntime::restore_group(WindowState& w, const json& gj) {
  Value key = Value::from_nlohmann(gj.at("key"));
  const std::uint64_t hash = key.hash();
  Group* g = new_group(w, std::move(key), hash);
  const auto& aggs = gj.at("aggs");
  for (std::size_t i = 0; i < plan_->aggs.size() && i < aggs.size(); ++i)
    plan_->aggs[i].fn->restore(g->aggs + plan_->aggs[i].offset, aggs[i]);
  if (g->extra) {
    if (auto d = gj.find("distinct"); d != gj.end()) {
      for (std::size_t i = 0; i < g->extra->distinct.size() && i < d->size(); ++i)
        for (const auto& v : (*d)[i]) g->extra->distinct[i].insert(Value::from_nlohmann(v));
    }
    if (auto lr = gj.find("last_row"); lr != gj.end()) {
      for (std::size_t i = 0; i < g->extra->last_row.size() && i < lr->size(); ++i)
        g->extra->last_row[i] = Value::from_nlohmann((*lr)[i]);
    }
    if (auto wj = gj.find("whole_json"); wj != gj.end() && wj->is_string()) {
      static thread_local simdjson::dom::parser parser;  // one per thread: restores of many groups
      simdjson::dom::element e;
      if (parser.parse(wj->get_ref<const std::string&>()).get(e) != simdjson::SUCCESS)
        throw std::runtime_error("checkpoint: a group's last event is not JSON");
      g->extra->whole = ingest::to_value(e);
    } else {
      g->extra->whole = Value::from_nlohmann(gj.value("whole", json()));  // written before whole_json
    }
    // Absent in checkpoints written before partitions merged last rows: unknown (oldest).
    if (auto t = gj.find("last_t"); t != gj.end() && t->is_number_integer()) g->extra->last_time = t->get<TimeNs>();
  }
}

json RuleRuntime::save() const {
  json j;
  j["firings"] = firings_;
  j["events_in"] = m_.events_in;
  if (window_) window_->save(j);
  json states = json::array();
  for (const auto& table : states_) {
    json t = json::array();
    for (const auto& [key, e] : table) t.push_back({key.to_nlohmann(), e.state->save(), e.touched});
    states.push_back(std::move(t));
  }
  j["states"] = std::move(states);
  if (match_) j["match"] = match_->save();
  if (ijoin_) j["interval_join"] = ijoin_->save();
  if (wjoin_) j["window_join"] = wjoin_->save();
  if (alert_) j["alert"] = alert_->save();
  return j;
}

void RuleRuntime::restore(const json& j) {
  due_ = true;
  // Drop whatever is open now: the checkpoint replaces it.
  if (window_) window_->clear();
  hot_window_ = nullptr;
  total_groups_ = 0;
  pending_rows_ = 0;

  firings_ = j.value("firings", std::uint64_t{0});
  m_.events_in = j.value("events_in", std::uint64_t{0});
  if (window_) window_->restore(j);
  if (auto st = j.find("states"); st != j.end()) {
    for (std::size_t i = 0; i < states_.size() && i < st->size(); ++i) {
      states_[i].clear();
      const auto& spec = plan_->statefuls[i];
      for (const auto& e : (*st)[i]) {
        StatefulEntry entry{spec.fn->create(), e.at(2).get<TimeNs>()};
        entry.state->restore(e.at(1));
        states_[i].emplace(Value::from_nlohmann(e.at(0)), std::move(entry));
      }
    }
  }
  if (auto ij = j.find("interval_join"); ijoin_ && ij != j.end()) ijoin_->restore(*ij, &m_.eval_errors);
  if (auto wj = j.find("window_join"); wjoin_ && wj != j.end()) wjoin_->restore(*wj, &m_.eval_errors);
  // A malformed pattern or alert checkpoint starts that part fresh rather than half restored.
  if (auto mj = j.find("match"); match_ && mj != j.end()) {
    try {
      match_->restore(*mj);
    } catch (const std::exception&) {
      match_ = std::make_unique<MatchStage>(plan_->match.get(), options_, plan_->state_ttl);
    }
  }
  if (auto aj = j.find("alert"); alert_ && aj != j.end()) {
    try {
      alert_->restore(*aj);
    } catch (const std::exception&) {
      alert::AlertOptions o = plan_->alert->options;
      o.max_keys = options_->max_group_keys;
      alert_ = std::make_unique<alert::AlertMachine>(std::move(o));
    }
  }
}

}  // namespace streamgate::rules::runtime
