// Alert state machine: per-key raise / hold back / clear / forget, driven by condition
// evaluations and event-time progress. Timed transitions happen at the time they became due
// (not when advance() noticed), so output does not depend on how often advance() is called.
#include "rules/alert/alert.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/topic.h"

namespace streamgate::rules::alert {
namespace {

// v as 16 lower-case hex digits, into `out` (reusing its buffer).
void hex64(std::uint64_t v, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.resize(16);
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[v & 0xf];
    v >>= 4;
  }
}

// `"<time>"`: RFC 3339 text needs no JSON escaping.
void append_time_json(std::string& p, TimeNs t) {
  p += '"';
  append_rfc3339(p, t);
  p += '"';
}

// FNV-1a 64: stable across builds and platforms, unlike std::hash.
std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

TimeNs add_sat(TimeNs a, TimeNs b) { return a > kTimeMax - b ? kTimeMax : a + b; }

}  // namespace

AlertMachine::AlertMachine(AlertOptions options) : o_(std::move(options)) {
  if (o_.cooldown < 0) o_.cooldown = 0;
  if (o_.clear_after < 0) o_.clear_after = 0;
  if (o_.silence < 0) o_.silence = 0;
  name_hash_ = fnv1a(o_.name + '\n');
  spare_.reserve(kSpareNodes);
  head_ = "{\"alert\":";
  append_json_string(head_, o_.name);
  head_ += ",\"key\":";
  severity_json_ = ",\"severity\":";
  append_json_string(severity_json_, o_.severity);
}

void AlertMachine::derive(const Value& key, KeyState& s) const {
  s.key = key;
  s.key_json.clear();
  key.append_json(s.key_json);
  s.state_topic = o_.topic;
  s.state_topic += '/';
  s.state_topic += topic_segment(key);
}

AlertMachine::Keys::iterator AlertMachine::add_key(const Value& key, KeyState s) {
  derive(key, s);
  auto it = keys_.emplace(key, std::move(s)).first;
  std::uint8_t& c = filter_[filter_slot(it->first.hash())];
  if (c != 255) ++c;
  return it;
}

AlertMachine::Keys::iterator AlertMachine::new_key(const Value& key) {
  if (spare_.empty()) return add_key(key, KeyState{});
  Keys::node_type node = std::move(spare_.back());
  spare_.pop_back();
  node.key() = key;
  KeyState& s = node.mapped();
  std::string id = std::move(s.id), key_json = std::move(s.key_json),
              state_topic = std::move(s.state_topic);
  s = KeyState{};
  s.id = std::move(id);  // overwritten by the raise, in place
  s.key_json = std::move(key_json);
  s.state_topic = std::move(state_topic);
  derive(key, s);
  auto it = keys_.insert(std::move(node)).position;
  std::uint8_t& c = filter_[filter_slot(it->first.hash())];
  if (c != 255) ++c;
  return it;
}

void AlertMachine::erase_key(Keys::iterator it) {
  std::uint8_t& c = filter_[filter_slot(it->first.hash())];
  if (c != 255) --c;  // a saturated counter stays: it no longer knows its count
  if (spare_.size() >= kSpareNodes) {
    keys_.erase(it);
    return;
  }
  Keys::node_type node = keys_.extract(it);
  KeyState& s = node.mapped();
  s.values = Value();  // the shared row objects go now, not when the node is reused
  s.last_values = Value();
  spare_.push_back(std::move(node));
}

std::string AlertMachine::topic_segment(const Value& key) {
  std::string s;
  append_topic_level(s, key);
  return s;
}

void AlertMachine::observe(const Value& key, bool condition, Value values, TimeNs t,
                           const AlertSink& sink) {
  auto it = keys_.find(key);
  if (it == keys_.end()) {
    if (!condition) return;  // the common case: nothing raised, nothing to remember
    if (keys_.size() >= o_.max_keys) {
      ++stats_.dropped_keys;
      return;
    }
    it = new_key(key);
  }
  KeyState& s = it->second;
  settle(s, t, sink);  // whatever fell due before this evaluation happens first
  if (condition) {
    const bool new_episode = !s.active && !s.pending;
    if (new_episode) s.first_seen = t;
    if (new_episode || t >= s.last_seen) {
      s.last_seen = t;
      s.last_values = std::move(values);
    }
    s.false_since = kTimeMin;
    if (new_episode) {
      if (s.last_raised == kTimeMin || t - s.last_raised >= o_.cooldown) {
        raise(s, t, sink);
      } else {
        s.pending = true;
        ++stats_.held_back;
      }
    }
  } else if ((s.active || s.pending) && s.false_since == kTimeMin) {
    s.false_since = t;
  }
  if (!settle(s, t, sink)) {
    forget(it);
    return;
  }
  requeue(it->first, s);
}

void AlertMachine::requeue(const Value& key, KeyState& s) {
  const TimeNs d = due(s);
  if (d == s.queued) return;
  if (s.queued != kTimeMax) due_.erase({s.queued, &key});
  s.queued = d;
  if (d != kTimeMax) due_.emplace(d, &key);
}

void AlertMachine::forget(Keys::iterator it) {
  if (it->second.queued != kTimeMax) due_.erase({it->second.queued, &it->first});
  erase_key(it);
}

TimeNs AlertMachine::due(const KeyState& s) const {
  TimeNs d = kTimeMax;
  if (s.active || s.pending) {
    if (s.false_since != kTimeMin) d = std::min(d, add_sat(s.false_since, o_.clear_after));
    if (o_.silence > 0) d = std::min(d, add_sat(s.last_seen, o_.silence));
  }
  if (s.pending && s.false_since == kTimeMin) d = std::min(d, add_sat(s.last_raised, o_.cooldown));
  if (!s.active && !s.pending)
    d = s.last_raised == kTimeMin ? kTimeMin : add_sat(s.last_raised, o_.cooldown);
  return d;
}

bool AlertMachine::settle(KeyState& s, TimeNs t, const AlertSink& sink) {
  if (s.active || s.pending) {
    TimeNs end = kTimeMax;  // when the current episode ends, if it has by t
    if (s.false_since != kTimeMin && t - s.false_since >= o_.clear_after)
      end = add_sat(s.false_since, o_.clear_after);
    if (o_.silence > 0 && t - s.last_seen >= o_.silence)
      end = std::min(end, add_sat(s.last_seen, o_.silence));
    if (s.pending && s.false_since == kTimeMin) {
      const TimeNs ready = add_sat(s.last_raised, o_.cooldown);
      if (ready <= t && ready < end) raise(s, ready, sink);  // still true when cooldown ended
    }
    if (end != kTimeMax) {
      if (s.active)
        clear(s, end, sink);
      else
        s.pending = false;  // it went away before the cooldown let it be raised
      s.false_since = kTimeMin;
    }
  }
  if (s.active || s.pending) return true;
  return s.last_raised != kTimeMin && t - s.last_raised < o_.cooldown;
}

void AlertMachine::advance(TimeNs t, const AlertSink& sink) {
  // Keys due by t, settled in order of due time then key, so output is deterministic. A settled
  // key is due again only after t (settle does everything due by t), so each goes once.
  while (!due_.empty() && due_.begin()->first <= t) {
    auto it = keys_.find(*due_.begin()->second);
    due_.erase(due_.begin());
    it->second.queued = kTimeMax;
    if (!settle(it->second, t, sink)) {
      erase_key(it);
      continue;
    }
    requeue(it->first, it->second);
  }
}

void AlertMachine::raise(KeyState& s, TimeNs t, const AlertSink& sink) {
  s.active = true;
  s.pending = false;
  s.last_raised = t;
  s.values = s.last_values;
  // id = FNV-1a over name '\n' key-JSON '\n' first_seen (decimal): stable across builds.
  scratch_.clear();
  scratch_ += s.key_json;
  scratch_ += '\n';
  char digits[24];
  scratch_.append(digits, std::to_chars(digits, digits + sizeof digits, s.first_seen).ptr);
  hex64(fnv1a(scratch_, name_hash_), s.id);
  ++stats_.raised;
  send(s, AlertState::Raised, t, sink);
}

void AlertMachine::clear(KeyState& s, TimeNs t, const AlertSink& sink) {
  s.active = false;
  ++stats_.cleared;
  send(s, AlertState::Cleared, t, sink);
}

void AlertMachine::send(const KeyState& s, AlertState state, TimeNs t, const AlertSink& sink) {
  const Value& values = state == AlertState::Raised ? s.values : s.last_values;
  AlertMessage m;
  m.state = state;
  m.key = s.key;
  m.topic = o_.topic;
  m.state_topic = s.state_topic;
  m.id = s.id;
  m.time = t;
  m.values = values;  // shares the object (Value copies of objects are reference counted)
  m.first_seen = s.first_seen;
  m.last_seen = s.last_seen;
  // The constant parts are prebuilt (head_, severity_json_, key_json) and the times formatted
  // in place: one allocation for the payload.
  std::string& p = m.payload;
  p.reserve(payload_hint_);
  p += head_;
  p += s.key_json;
  p += severity_json_;
  p += state == AlertState::Raised ? ",\"state\":\"raised\"" : ",\"state\":\"cleared\"";
  p += ",\"values\":";
  values.append_json(p);
  p += ",\"first_seen\":";
  append_time_json(p, s.first_seen);
  p += ",\"last_seen\":";
  append_time_json(p, s.last_seen);
  p += ",\"id\":\"";  // hex digits: nothing to escape
  p += s.id;
  p += "\",\"time\":";
  append_time_json(p, t);
  p += '}';
  payload_hint_ = p.size() + 32;
  sink(std::move(m));
}

Object to_row(const AlertOptions& o, const AlertMessage& m) {
  Object row;
  row.reserve(9);
  row.emplace_back("alert", Value(o.name));
  row.emplace_back("key", m.key);
  row.emplace_back("severity", Value(o.severity));
  row.emplace_back("state", Value(m.state == AlertState::Raised ? "raised" : "cleared"));
  row.emplace_back("values", m.values);
  row.emplace_back("first_seen", Value(format_rfc3339(m.first_seen)));
  row.emplace_back("last_seen", Value(format_rfc3339(m.last_seen)));
  row.emplace_back("id", Value(m.id));
  row.emplace_back("time", Value(format_rfc3339(m.time)));
  return row;
}

AlertStats AlertMachine::stats() const {
  AlertStats st = stats_;
  st.keys = keys_.size();
  st.active = 0;
  for (const auto& [k, s] : keys_) st.active += s.active;
  return st;
}

bool AlertMachine::is_active(const Value& key) const {
  auto it = keys_.find(key);
  return it != keys_.end() && it->second.active;
}

nlohmann::json AlertMachine::save() const {
  // Sorted by key so equal states save to equal JSON.
  std::vector<const KeyState*> order;
  for (const auto& [k, s] : keys_) order.push_back(&s);
  std::sort(order.begin(), order.end(),
            [](const KeyState* a, const KeyState* b) { return compare(a->key, b->key) < 0; });
  nlohmann::json keys = nlohmann::json::array();
  for (const KeyState* s : order) {
    keys.push_back({{"key", s->key.to_nlohmann()},
                    {"active", s->active},
                    {"pending", s->pending},
                    {"first_seen", s->first_seen},
                    {"last_seen", s->last_seen},
                    {"false_since", s->false_since},
                    {"last_raised", s->last_raised},
                    {"values", s->values.to_nlohmann()},
                    {"last_values", s->last_values.to_nlohmann()},
                    {"id", s->id}});
  }
  return {{"keys", std::move(keys)},
          {"raised", stats_.raised},
          {"cleared", stats_.cleared},
          {"held_back", stats_.held_back}};
}

void AlertMachine::restore(const nlohmann::json& j) {
  // Parsed completely before anything is replaced: a malformed save leaves the state as it was.
  std::vector<KeyState> parsed;
  for (const auto& jk : j.at("keys")) {
    KeyState s;
    s.key = Value::from_nlohmann(jk.at("key"));
    s.active = jk.at("active").get<bool>();
    s.pending = jk.at("pending").get<bool>();
    s.first_seen = jk.at("first_seen").get<TimeNs>();
    s.last_seen = jk.at("last_seen").get<TimeNs>();
    s.false_since = jk.at("false_since").get<TimeNs>();
    s.last_raised = jk.at("last_raised").get<TimeNs>();
    s.values = Value::from_nlohmann(jk.at("values"));
    s.last_values = Value::from_nlohmann(jk.at("last_values"));
    s.id = jk.at("id").get<std::string>();
    parsed.push_back(std::move(s));
  }
  due_.clear();  // before keys_ goes: its entries point into it
  keys_.clear();
  std::fill(filter_.begin(), filter_.end(), std::uint8_t{0});
  for (KeyState& s : parsed) {
    const Value key = s.key;
    if (keys_.find(key) == keys_.end()) add_key(key, std::move(s));  // first wins, as emplace did
  }
  stats_ = AlertStats{};
  stats_.raised = j.value("raised", std::uint64_t{0});
  stats_.cleared = j.value("cleared", std::uint64_t{0});
  stats_.held_back = j.value("held_back", std::uint64_t{0});
  for (auto& [k, s] : keys_) requeue(k, s);
}

}  // namespace streamgate::rules::alert
