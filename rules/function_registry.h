// Function registry: scalar, aggregate and stateful (analytic) functions registered by name.
// The built-ins use exactly this API (rules/functions/*.cpp), so a user's C++ function is a peer.
//
// Aggregates keep their state in a per-group byte arena (DuckDB style): a group of five
// count/sum/avg/min/max aggregates costs a few dozen bytes, not five heap objects. A state type
// is any default-constructible class with the members below; `register_aggregate<State>` turns
// it into the type-erased entry the engine calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/value.h"

namespace streamgate::rules {

//! Arguments of one call, already evaluated.
struct Args {
  const Value* data = nullptr;
  std::size_t size = 0;
  const Value& operator[](std::size_t i) const { return data[i]; }
  bool empty() const { return size == 0; }
};

struct ScalarFunction {
  std::string name;
  int min_args = 0;
  int max_args = 0;  //!< -1: variadic
  std::function<Value(Args)> call;
};

//! Type-erased aggregate. `state` points into the group's arena, aligned to state_align.
struct AggregateFunction {
  std::string name;
  int min_args = 0;
  int max_args = 0;
  std::size_t state_size = 0;
  std::size_t state_align = 0;
  void (*construct)(void* state) = nullptr;
  void (*destroy)(void* state) = nullptr;
  void (*add)(void* state, Args args) = nullptr;
  //! add() that also receives the row's event time (epoch ns): states that merge by event
  //! time across partitions (first_value, last_value) keep it. Null: the engine calls add().
  void (*add_at)(void* state, Args args, std::int64_t event_time_ns) = nullptr;
  //! Merges `from` as the later part of one stream (session windows that bridge).
  void (*merge)(void* into, const void* from) = nullptr;
  //! Merges a state built on another partition (cluster mode's merge stage): neither is the
  //! later part, and the result must not depend on which is `into` nor on the order of merges.
  //! add_aggregate() sets it to `merge` when null (merge is order-free for most states).
  void (*merge_partition)(void* into, const void* from) = nullptr;
  Value (*result)(const void* state) = nullptr;
  nlohmann::json (*save)(const void* state) = nullptr;
  //! Appends the state as CBOR that decodes to what save() returns (checkpoints of many groups
  //! skip building nlohmann nodes). May be null: callers then encode save()'s result.
  void (*save_cbor)(const void* state, std::vector<std::uint8_t>& out) = nullptr;
  void (*restore)(void* state, const nlohmann::json& saved) = nullptr;
  //! Heap bytes owned by the state beyond state_size (memory accounting and bounds).
  std::size_t (*heap_bytes)(const void* state) = nullptr;
  //! destroy() does nothing: closing a window of many groups may skip calling it.
  bool trivially_destructible = false;
  //! The planner appends the row's event time (int64 epoch ns) as an extra last argument
  //! (forecasts fit values against time); min_args/max_args count the user's arguments only.
  bool event_time_arg = false;
};

//! Per-key state for functions evaluated row by row that remember earlier rows:
//! lag, latest, changed_col, had_changed, rolling z-score, EWMA, hysteresis thresholds.
class StatefulState {
 public:
  virtual ~StatefulState() = default;
  virtual Value call(Args args, std::int64_t event_time_ns) = 0;
  virtual nlohmann::json save() const = 0;
  virtual void restore(const nlohmann::json& saved) = 0;
};

struct StatefulFunction {
  std::string name;
  int min_args = 0;
  int max_args = 0;
  std::function<std::unique_ptr<StatefulState>()> create;
};

//! A documented example: `call` is a SQL expression. Evaluated on `inputs` (message payloads on
//! topic `devices/d1/telemetry`; none: one empty message) it gives `result` (JSON), for an
//! aggregate over a window holding all inputs, otherwise on the last input.
//! tests/unit/rules/function_docs_test.cpp runs every example, so the reference cannot lie.
struct FunctionExample {
  FunctionExample(std::string c, std::string r, std::vector<std::string> in = {})
      : call(std::move(c)), result(std::move(r)), inputs(std::move(in)) {}
  std::string call;
  std::string result;
  std::vector<std::string> inputs;
};

enum class FunctionKind : std::uint8_t { Scalar, Aggregate, Analytic, Engine };

//! Reference entry of a function (docs/functions.md is generated from these).
struct FunctionDoc {
  std::string name;       //!< lower case, as looked up; aliases get their own entry or `aliases`
  std::string family;     //!< section of the reference: "math", "hash", "json", ...
  FunctionKind kind = FunctionKind::Scalar;
  std::string signature;  //!< "sha256(text) -> text"
  std::string description;
  std::vector<FunctionExample> examples;
  std::vector<std::string> aliases;
};

class FunctionRegistry {
 public:
  //! The registry with every built-in function; shared. Plugins (rules/plugin/) add functions
  //! to it while rules may be planned on other threads (the dashboard's editor): every member
  //! takes the registry's lock. Entries are never replaced or erased once rules may hold them
  //! (plugins refuse taken names), so the pointers lookups return stay valid.
  static FunctionRegistry& global();

  void add_scalar(ScalarFunction f);
  void add_aggregate(AggregateFunction f);
  void add_stateful(StatefulFunction f);

  //! Register a state type as an aggregate. The State must provide:
  //!   void add(Args);  void merge(const State&);  Value result() const;
  //!   nlohmann::json save() const;  void restore(const nlohmann::json&);
  //! and optionally `std::size_t heap_bytes() const`, `void save_cbor(std::vector<std::uint8_t>&)
  //! const` (save() as CBOR, without nlohmann nodes: for the states of many groups),
  //! `void add(Args, std::int64_t event_time_ns)` (add_at) and `void merge_partition(const State&)`.
  template <class State>
  void register_aggregate(std::string name, int min_args, int max_args,
                          bool event_time_arg = false);

  //! Adds (or replaces) the reference entry of a function.
  void document(FunctionDoc doc);
  //! Reference entries sorted by family, then name.
  std::vector<const FunctionDoc*> docs() const;
  const FunctionDoc* doc(std::string_view name) const;

  //! Lookups are case-insensitive; nullptr when unknown.
  const ScalarFunction* scalar(std::string_view name) const;
  const AggregateFunction* aggregate(std::string_view name) const;
  const StatefulFunction* stateful(std::string_view name) const;

  std::vector<std::string> names() const;

 private:
  // Behind a pointer so the registry stays movable (global() builds it by value).
  std::unique_ptr<std::shared_mutex> mu_ = std::make_unique<std::shared_mutex>();
  std::unordered_map<std::string, ScalarFunction> scalars_;
  std::unordered_map<std::string, AggregateFunction> aggregates_;
  std::unordered_map<std::string, StatefulFunction> statefuls_;
  std::unordered_map<std::string, FunctionDoc> docs_;
};

namespace detail {
template <class S, class = void>
struct has_heap_bytes : std::false_type {};
template <class S>
struct has_heap_bytes<S, std::void_t<decltype(std::declval<const S&>().heap_bytes())>>
    : std::true_type {};
template <class S, class = void>
struct has_add_at : std::false_type {};
template <class S>
struct has_add_at<S, std::void_t<decltype(std::declval<S&>().add(std::declval<Args>(), std::int64_t{}))>>
    : std::true_type {};
template <class S, class = void>
struct has_merge_partition : std::false_type {};
template <class S>
struct has_merge_partition<S, std::void_t<decltype(std::declval<S&>().merge_partition(std::declval<const S&>()))>>
    : std::true_type {};
template <class S, class = void>
struct has_save_cbor : std::false_type {};
template <class S>
struct has_save_cbor<S, std::void_t<decltype(std::declval<const S&>().save_cbor(
                            std::declval<std::vector<std::uint8_t>&>()))>> : std::true_type {};
}  // namespace detail

template <class State>
void FunctionRegistry::register_aggregate(std::string name, int min_args, int max_args,
                                          bool event_time_arg) {
  AggregateFunction f;
  f.name = std::move(name);
  f.event_time_arg = event_time_arg;
  f.min_args = min_args;
  f.max_args = max_args;
  f.state_size = sizeof(State);
  f.state_align = alignof(State);
  f.construct = [](void* p) { new (p) State(); };
  f.destroy = [](void* p) { static_cast<State*>(p)->~State(); };
  f.trivially_destructible = std::is_trivially_destructible_v<State>;
  f.add = [](void* p, Args a) { static_cast<State*>(p)->add(a); };
  f.merge = [](void* into, const void* from) {
    static_cast<State*>(into)->merge(*static_cast<const State*>(from));
  };
  if constexpr (detail::has_add_at<State>::value) {
    f.add_at = [](void* p, Args a, std::int64_t t) { static_cast<State*>(p)->add(a, t); };
  }
  if constexpr (detail::has_merge_partition<State>::value) {
    f.merge_partition = [](void* into, const void* from) {
      static_cast<State*>(into)->merge_partition(*static_cast<const State*>(from));
    };
  }
  f.result = [](const void* p) { return static_cast<const State*>(p)->result(); };
  f.save = [](const void* p) { return static_cast<const State*>(p)->save(); };
  f.restore = [](void* p, const nlohmann::json& j) { static_cast<State*>(p)->restore(j); };
  if constexpr (detail::has_save_cbor<State>::value) {
    f.save_cbor = [](const void* p, std::vector<std::uint8_t>& out) {
      static_cast<const State*>(p)->save_cbor(out);
    };
  } else {
    f.save_cbor = [](const void* p, std::vector<std::uint8_t>& out) {
      nlohmann::json::to_cbor(static_cast<const State*>(p)->save(), out);
    };
  }
  if constexpr (detail::has_heap_bytes<State>::value) {
    f.heap_bytes = [](const void* p) { return static_cast<const State*>(p)->heap_bytes(); };
  } else {
    f.heap_bytes = [](const void*) -> std::size_t { return 0; };
  }
  add_aggregate(std::move(f));
}

//! Registration hooks of the built-in function families (each in rules/functions/).
void register_scalar_builtins(FunctionRegistry& r);
void register_aggregate_builtins(FunctionRegistry& r);
void register_stateful_builtins(FunctionRegistry& r);
//! Forecasts (rules/functions/forecast.cpp): forecast_linear, forecast_holt, time_to_threshold.
void register_forecast_builtins(FunctionRegistry& r);
//! Families added for users of StreamSQL / eKuiper, one file each in rules/functions/.
void register_math_builtins(FunctionRegistry& r);
void register_hash_builtins(FunctionRegistry& r);
void register_json_builtins(FunctionRegistry& r);
void register_type_builtins(FunctionRegistry& r);
void register_datetime_builtins(FunctionRegistry& r);
void register_text_builtins(FunctionRegistry& r);
void register_array_builtins(FunctionRegistry& r);
//! Reference entries of the functions the planner implements itself (window_start, topic(), ...).
void document_engine_functions(FunctionRegistry& r);

}  // namespace streamgate::rules
