// Alert state machine of CREATE ALERT: turns a stream of condition evaluations per key into
// raised / cleared messages, so a condition that stays true is reported once, not per event.
//
// Per key (event time throughout):
//   - raised when the condition becomes true (first_seen = that event's time);
//   - while raised, further true evaluations only move last_seen: nothing is re-sent;
//   - cleared once the condition has been false for CLEAR_AFTER (0: at the first false
//     evaluation); a true evaluation in between cancels the pending clear. With `silence` > 0
//     (for conditions that are only ever observed true, such as pattern matches, or keys that
//     stop reporting) the key also clears when no true evaluation came for that long;
//   - COOLDOWN policy: a key that cleared is raised again only if COOLDOWN has passed since its
//     previous raise; otherwise the raise is held back and sent when the cooldown ends if the
//     condition still holds then (dropped if it cleared meanwhile). So a flapping condition sends
//     at most one raise per COOLDOWN per key.
// Every transition produces one message, published on the alert topic and, retained, on the
// per-key state topic `<topic>/<key>` (the cleared state is published retained too, so a
// dashboard connecting later sees the current state of every key). The message:
//   {"alert","key","severity","state":"raised"|"cleared","values","first_seen","last_seen",
//    "id","time"}
// where id = hash(alert, key, first_seen) is shared by a raise and its clear, and time is the
// event time of the transition.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory_resource>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "rules/time_util.h"
#include "rules/value.h"

namespace streamgate::rules::alert {

struct AlertOptions {
  std::string name;
  std::string topic;  //!< event topic; the state topic of a key is topic + "/" + key segment
  std::string severity = "warning";
  TimeNs cooldown = 0;
  TimeNs clear_after = 0;
  TimeNs silence = 0;  //!< > 0: also clear after this long without a true evaluation
  std::size_t max_keys = 100'000;  //!< keys with state (raised, held back or cooling down)
};

enum class AlertState : std::uint8_t { Raised, Cleared };

struct AlertMessage {
  AlertState state = AlertState::Raised;
  Value key;
  std::string topic;        //!< the alert topic (not retained)
  std::string state_topic;  //!< `<topic>/<key>` (retained)
  std::string payload;      //!< JSON object
  std::string id;
  TimeNs time = 0;          //!< event time of the transition
  Value values;             //!< the values reported in the payload
  TimeNs first_seen = 0;
  TimeNs last_seen = 0;
};

//! The message as a row, for rules reading FROM the alert: the payload's fields and values
//! (times as the same RFC 3339 text), so a chained rule sees what a subscriber sees.
Object to_row(const AlertOptions& o, const AlertMessage& m);

using AlertSink = std::function<void(AlertMessage&&)>;

struct AlertStats {
  std::uint64_t raised = 0;
  std::uint64_t cleared = 0;
  std::uint64_t held_back = 0;     //!< raises delayed by COOLDOWN
  std::uint64_t dropped_keys = 0;  //!< new keys refused at max_keys
  std::size_t active = 0;
  std::size_t keys = 0;
};

class AlertMachine {
 public:
  explicit AlertMachine(AlertOptions options);
  // due_ allocates from pool_, a member: the machine stays where it was built.
  AlertMachine(const AlertMachine&) = delete;
  AlertMachine& operator=(const AlertMachine&) = delete;

  //! One evaluation of the condition for `key` at event time `t`; `values` (an object, usually
  //! the output row) is reported in the raise, the latest true one in the clear.
  void observe(const Value& key, bool condition, Value values, TimeNs t, const AlertSink& sink);

  //! Whether observe(key, condition, ...) could do anything: not for a false condition on a key
  //! without state, the common case, which callers can so skip without building `values`.
  //! Most such keys are told apart by the filter alone, without a hash-table probe.
  bool wants(const Value& key, bool condition) const {
    return condition || (!keys_.empty() && may_have(key.hash()) && keys_.find(key) != keys_.end());
  }

  //! Event time reached `t` (watermark): clears, held-back raises and forgetting due by then.
  void advance(TimeNs t, const AlertSink& sink);

  const AlertOptions& options() const { return o_; }
  //! Whether advance(t) would have anything to do (cheap: lets callers skip it).
  bool due(TimeNs t) const { return !due_.empty() && t >= due_.begin()->first; }
  AlertStats stats() const;
  //! Whether `key` is currently raised.
  bool is_active(const Value& key) const;

  nlohmann::json save() const;
  //! Replaces the state with a saved one; throws std::exception on a malformed save.
  void restore(const nlohmann::json& j);

  //! The key as a single MQTT topic level: its text with '/', '+', '#' and NUL replaced by '_'
  //! ("_" for a NULL key; array keys joined with '_').
  static std::string topic_segment(const Value& key);

 private:
  struct KeyState {
    Value key;
    bool active = false;    //!< raised and not cleared
    bool pending = false;   //!< true, raise held back by the cooldown
    TimeNs first_seen = 0;  //!< first true of the current episode
    TimeNs last_seen = 0;   //!< last true
    TimeNs false_since = kTimeMin;  //!< first false since last_seen; kTimeMin: none
    TimeNs last_raised = kTimeMin;
    Value values;           //!< values of the raise (or of the held-back raise)
    Value last_values;      //!< latest true values
    std::string id;
    TimeNs queued = kTimeMax;  //!< the due time this key is filed under in due_ (kTimeMax: none)
    // Derived from the key once, when it gets state, instead of per message.
    std::string key_json;     //!< the key as JSON (payload, id)
    std::string state_topic;  //!< `<topic>/<key segment>`
  };
  using Keys = std::unordered_map<Value, KeyState, ValueHash>;
  //! Orders (due time, key): keys due at the same time settle in key order (deterministic).
  struct DueLess {
    bool operator()(const std::pair<TimeNs, const Value*>& a,
                    const std::pair<TimeNs, const Value*>& b) const {
      if (a.first != b.first) return a.first < b.first;
      return compare(*a.second, *b.second) < 0;
    }
  };

  void raise(KeyState& s, TimeNs t, const AlertSink& sink);
  void clear(KeyState& s, TimeNs t, const AlertSink& sink);
  //! Acts on whatever is due for s at time t; returns false when s can be forgotten.
  bool settle(KeyState& s, TimeNs t, const AlertSink& sink);
  //! Earliest time something is due for s (kTimeMax: nothing).
  TimeNs due(const KeyState& s) const;
  void send(const KeyState& s, AlertState state, TimeNs t, const AlertSink& sink);
  //! Files s under its current due time (after any change to it).
  void requeue(const Value& key, KeyState& s);
  void forget(Keys::iterator it);
  //! Adds a key (filter, derived texts); keys_.erase only through erase_key (the filter counts).
  Keys::iterator add_key(const Value& key, KeyState s);
  //! add_key with a fresh state, in a recycled node when there is one.
  Keys::iterator new_key(const Value& key);
  void erase_key(Keys::iterator it);
  //! Sets what KeyState derives from its key (reusing the string buffers it has).
  void derive(const Value& key, KeyState& s) const;

  // Counting filter over the hashes of keys_: a zero counter proves a key has no state, which
  // answers wants() for most keys of a false condition without probing keys_ (a cache miss at
  // 10,000 keys). Sticky at 255: a saturated counter only ever costs a probe, never a wrong
  // answer. 32 KiB.
  static constexpr int kFilterBits = 15;
  static std::size_t filter_slot(std::size_t hash) {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(hash) * 0x9E3779B97F4A7C15ULL) >>
                                    (64 - kFilterBits));
  }
  bool may_have(std::size_t hash) const { return filter_[filter_slot(hash)] != 0; }

  AlertOptions o_;
  Keys keys_;
  //! Keys with something due, by (due time, key): advance() takes the front instead of
  //! scanning every key (a scan per transition was the cost of alerts with many keys).
  //! The pointers are the keys of keys_, stable until erased (forget() unfiles first).
  //! Its nodes come from pool_ (recycled, no malloc per requeue; at most one node per key).
  std::pmr::unsynchronized_pool_resource pool_;
  std::pmr::set<std::pair<TimeNs, const Value*>, DueLess> due_{&pool_};
  std::vector<std::uint8_t> filter_ = std::vector<std::uint8_t>(std::size_t{1} << kFilterBits);
  //! Nodes of forgotten keys, kept with their string buffers for the next new key: a spike
  //! (raise, clear, forget) then allocates no node, id or topic. At most kSpareNodes.
  static constexpr std::size_t kSpareNodes = 64;
  std::vector<Keys::node_type> spare_;
  std::uint64_t name_hash_ = 0;  //!< FNV-1a of name + '\n': the first part of every id
  std::string scratch_;
  std::string head_;  //!< `{"alert":<name>,"key":` : the payload up to the key
  std::string severity_json_;  //!< `,"severity":<severity>`
  std::size_t payload_hint_ = 256;  //!< recent payload size: one allocation per payload
  AlertStats stats_;
};

}  // namespace streamgate::rules::alert
