// Plugin functions (see plugin_functions.h): the descriptor check, the conversions between Value
// and sg_value, and the aggregate trampolines. Called on the worker threads that evaluate rules;
// the slot table is written under a mutex by the loading thread before any rule can name the
// function, and read with acquire loads afterwards.
#include "rules/plugin/plugin_functions.h"

#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "rules/ascii_lower.h"
#include "rules/functions/common.h"

namespace streamgate::rules::plugin {

namespace {

constexpr std::size_t kMaxStateSize = 64 * 1024;
constexpr std::size_t kMaxSerializedState = 1024 * 1024;
constexpr std::size_t kMaxFunctions = 1000;
constexpr std::size_t kMaxNameLength = 64;
constexpr std::uint32_t kKnownFlags = SG_FN_DETERMINISTIC | SG_FN_CALL_ON_NULL | SG_FN_EVENT_TIME;

//! What a call needs to know about one plugin function besides its entry points.
struct FnInfo {
  std::string name;
  std::uint32_t flags = 0;
  std::vector<std::uint32_t> arg_types;  // empty: any
  const sg_function* fn = nullptr;
};

//! Per-thread scratch for one call's arguments: arrays and objects as JSON text.
struct CallArgs {
  std::array<sg_value, SG_MAX_ARGS + 1> v{};
  std::array<std::string, SG_MAX_ARGS> json;
  std::size_t n = 0;
};

bool accepts(const FnInfo& info, std::size_t i, std::uint32_t type_bit) {
  if (info.arg_types.empty()) return true;
  const std::uint32_t mask = info.arg_types[std::min(i, info.arg_types.size() - 1)];
  return (mask & type_bit) != 0;
}

//! Fills `out` with the first `user_args` of `a` (plus the event time for SG_FN_EVENT_TIME);
//! false when the call must not happen (a NULL argument, or one of a type not declared).
bool prepare(const FnInfo& info, Args a, CallArgs& out) {
  const bool event_time = (info.flags & SG_FN_EVENT_TIME) != 0;
  const std::size_t user_args = event_time && a.size > 0 ? a.size - 1 : a.size;
  if (user_args > SG_MAX_ARGS) return false;
  for (std::size_t i = 0; i < user_args; ++i) {
    const Value& x = a[i];
    sg_value& s = out.v[i];
    s = sg_value{};
    switch (x.type()) {
      case Value::Type::Null:
        if (!(info.flags & SG_FN_CALL_ON_NULL)) return false;
        s.type = SG_NULL;
        break;
      case Value::Type::Bool:
        if (!accepts(info, i, SG_T_BOOL)) return false;
        s.type = SG_BOOL;
        s.u.b = x.as_bool() ? 1 : 0;
        break;
      case Value::Type::Int:
        if (accepts(info, i, SG_T_INT)) {
          s.type = SG_INT;
          s.u.i = x.as_int();
        } else if (accepts(info, i, SG_T_DOUBLE)) {
          s.type = SG_DOUBLE;
          s.u.d = static_cast<double>(x.as_int());
        } else {
          return false;
        }
        break;
      case Value::Type::Double:
        if (!accepts(info, i, SG_T_DOUBLE)) return false;
        s.type = SG_DOUBLE;
        s.u.d = x.as_double_exact();
        break;
      case Value::Type::String:
        if (!accepts(info, i, SG_T_TEXT)) return false;
        s.type = SG_TEXT;
        s.u.text.data = x.as_string().data();
        s.u.text.size = x.as_string().size();
        break;
      case Value::Type::Array:
      case Value::Type::Object:
        if (!accepts(info, i, SG_T_JSON)) return false;
        out.json[i].clear();
        x.append_json(out.json[i]);
        s.type = SG_JSON;
        s.u.text.data = out.json[i].data();
        s.u.text.size = out.json[i].size();
        break;
    }
  }
  out.n = user_args;
  if (event_time && a.size > 0) {
    sg_value& t = out.v[user_args];
    t = sg_value{};
    t.type = SG_INT;
    t.u.i = a[a.size - 1].is_int() ? a[a.size - 1].as_int() : 0;
    out.n = user_args + 1;
  }
  return true;
}

CallArgs& scratch() {
  thread_local CallArgs args;
  return args;
}

//! The host's copy of a plugin's result; anything malformed is NULL.
Value from_plugin(const sg_value& r) {
  switch (r.type) {
    case SG_BOOL: return Value(r.u.b != 0);
    case SG_INT: return Value(static_cast<std::int64_t>(r.u.i));
    case SG_DOUBLE: return Value(r.u.d);
    case SG_TEXT:
      if (r.u.text.data == nullptr) return Value();
      return Value(std::string(r.u.text.data, r.u.text.size));
    case SG_JSON: {
      if (r.u.text.data == nullptr) return Value();
      auto j = nlohmann::json::parse(r.u.text.data, r.u.text.data + r.u.text.size, nullptr, false);
      if (j.is_discarded()) return Value();
      return Value::from_nlohmann(j);
    }
    default: return Value();
  }
}

// ---- aggregate trampolines ---------------------------------------------------------------

std::array<std::atomic<const FnInfo*>, kMaxPluginAggregates> g_slots{};
std::mutex g_slots_mu;
std::size_t g_slots_used = 0;                         // guarded by g_slots_mu
std::vector<std::unique_ptr<FnInfo>> g_slot_infos;    // guarded by g_slots_mu; never freed

template <std::size_t S>
const sg_aggregate& agg() {
  return *g_slots[S].load(std::memory_order_acquire)->fn->aggregate;
}

template <std::size_t S>
AggregateFunction make_aggregate(const FnInfo& info, int min_args, int max_args) {
  const sg_aggregate& a = *info.fn->aggregate;
  AggregateFunction f;
  f.name = info.name;
  f.min_args = min_args;
  f.max_args = max_args;
  f.state_size = a.state_size;
  f.state_align = a.state_align;
  f.event_time_arg = (info.flags & SG_FN_EVENT_TIME) != 0;
  f.trivially_destructible = a.destroy == nullptr;
  f.construct = [](void* p) { agg<S>().init(p); };
  f.destroy = [](void* p) {
    if (auto* d = agg<S>().destroy) d(p);
  };
  f.add = [](void* p, Args args) {
    CallArgs& c = scratch();
    if (!prepare(*g_slots[S].load(std::memory_order_acquire), args, c)) return;
    agg<S>().add(p, c.v.data(), c.n);  // SG_ERROR: this row is ignored by this aggregate
  };
  f.merge = [](void* into, const void* from) { agg<S>().merge(into, from); };
  f.result = [](const void* p) -> Value {
    sg_value out{};
    out.type = SG_NULL;
    if (agg<S>().result(p, &out) != SG_OK) return Value();
    return from_plugin(out);
  };
  // Checkpoints keep the plugin's bytes as base64 text: a JSON document of any form survives.
  f.save = [](const void* p) -> nlohmann::json {
    std::string bytes(256, '\0');
    auto* buf = reinterpret_cast<std::uint8_t*>(bytes.data());
    std::size_t need = agg<S>().serialize(p, buf, bytes.size());
    if (need > bytes.size()) {
      if (need > kMaxSerializedState) throw std::runtime_error("plugin aggregate state over 1 MiB");
      bytes.assign(need, '\0');
      need = agg<S>().serialize(p, reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size());
      if (need > bytes.size()) throw std::runtime_error("plugin aggregate state size changed");
    }
    bytes.resize(need);
    return nlohmann::json{{"plugin", fn::base64_encode(bytes)}};
  };
  f.save_cbor = nullptr;
  f.restore = [](void* p, const nlohmann::json& j) {
    const auto it = j.find("plugin");
    std::optional<std::string> bytes;
    if (it != j.end() && it->is_string()) bytes = fn::base64_decode(it->get_ref<const std::string&>());
    if (!bytes) throw std::runtime_error("plugin aggregate state: not a saved plugin state");
    if (agg<S>().deserialize(p, reinterpret_cast<const std::uint8_t*>(bytes->data()), bytes->size()) !=
        SG_OK) {
      throw std::runtime_error("plugin aggregate state: the plugin refused it");
    }
  };
  f.heap_bytes = [](const void* p) -> std::size_t {
    auto* h = agg<S>().heap_bytes;
    return h ? h(p) : 0;
  };
  return f;
}

template <std::size_t... S>
AggregateFunction make_for_slot(std::size_t slot, const FnInfo& info, int lo, int hi,
                                std::index_sequence<S...>) {
  AggregateFunction f;
  ((slot == S ? (f = make_aggregate<S>(info, lo, hi), true) : false) || ...);
  return f;
}

// ---- descriptor checks ---------------------------------------------------------------------

bool valid_name(const char* n) {
  if (n == nullptr || *n == '\0') return false;
  const std::size_t len = std::strlen(n);
  if (len > kMaxNameLength) return false;
  for (std::size_t i = 0; i < len; ++i) {
    const char c = n[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string type_names(std::uint32_t mask) {
  if ((mask & SG_T_ANY) == SG_T_ANY) return "any";
  std::string out;
  auto add = [&](std::uint32_t bit, const char* name) {
    if (mask & bit) out += (out.empty() ? "" : "|") + std::string(name);
  };
  if ((mask & SG_T_NUMBER) == SG_T_NUMBER) {
    out = "number";
  } else {
    add(SG_T_INT, "int");
    add(SG_T_DOUBLE, "float");
  }
  add(SG_T_BOOL, "bool");
  add(SG_T_TEXT, "text");
  add(SG_T_JSON, "json");
  return out.empty() ? "any" : out;
}

//! "name(number, text) -> float" from the declared types, when the plugin gives no signature.
std::string derived_signature(const sg_function& f) {
  std::string s = ascii_lower(f.name) + "(";
  const int shown = f.max_args < 0 ? f.min_args + 1 : f.max_args;
  for (int i = 0; i < shown; ++i) {
    if (i) s += ", ";
    if (i >= f.min_args) s += "[";
    s += f.arg_types ? type_names(f.arg_types[i]) : "any";
    if (i >= f.min_args) s += "]";
  }
  if (f.max_args < 0) s += ", ...";
  return s + ") -> " + type_names(f.result_types);
}

//! Empty, or what is wrong with function #i.
std::string check_function(const sg_function& f, const FunctionRegistry& registry) {
  if (!valid_name(f.name)) return "name must be [A-Za-z_][A-Za-z0-9_]* of at most 64 characters";
  const std::string n = ascii_lower(f.name);
  if (registry.scalar(n) || registry.aggregate(n) || registry.stateful(n) || registry.doc(n)) {
    return "the name '" + n + "' is taken (a built-in or another plugin's function)";
  }
  if (f.kind != SG_SCALAR && f.kind != SG_AGGREGATE) return "kind must be SG_SCALAR or SG_AGGREGATE";
  if (f.min_args < 0 || f.min_args > SG_MAX_ARGS) return "min_args must be 0..16";
  if (f.max_args != -1 && (f.max_args < f.min_args || f.max_args > SG_MAX_ARGS)) {
    return "max_args must be -1 (variadic) or min_args..16";
  }
  if (f.flags & ~kKnownFlags) return "unknown flags (built for a newer streamgate?)";
  if (f.arg_types) {
    const int n_types = f.max_args < 0 ? f.min_args + 1 : f.max_args;
    for (int i = 0; i < n_types; ++i) {
      if (f.arg_types[i] == 0 || (f.arg_types[i] & ~SG_T_ANY)) {
        return "arg_types[" + std::to_string(i) + "] must be a non-empty SG_T_* mask";
      }
    }
  }
  if (f.kind == SG_SCALAR) {
    if (f.scalar == nullptr) return "a scalar needs its scalar function";
    if (f.flags & SG_FN_EVENT_TIME) return "SG_FN_EVENT_TIME is for aggregates only";
    return {};
  }
  const sg_aggregate* a = f.aggregate;
  if (a == nullptr) return "an aggregate needs its sg_aggregate";
  if (!a->init || !a->add || !a->merge || !a->result || !a->serialize || !a->deserialize) {
    return "an aggregate needs init, add, merge, result, serialize and deserialize";
  }
  if (a->state_size == 0 || a->state_size > kMaxStateSize) return "state_size must be 1..65536";
  if (a->state_align == 0 || a->state_align > 16 || (a->state_align & (a->state_align - 1))) {
    return "state_align must be a power of two up to 16";
  }
  return {};
}

}  // namespace

std::string register_plugin(const sg_plugin* p, std::string_view origin, FunctionRegistry& registry) {
  const std::string where = "plugin " + std::string(origin) + ": ";
  if (p == nullptr) return where + SG_PLUGIN_ENTRY "() returned NULL";
  if (p->abi_version != SG_PLUGIN_ABI_VERSION) {
    return where + "built for plugin ABI version " + std::to_string(p->abi_version) +
           ", this streamgate speaks version " + std::to_string(SG_PLUGIN_ABI_VERSION) +
           " (rebuild it against this streamgate's streamgate_plugin.h)";
  }
  if (p->struct_size < sizeof(sg_plugin)) {
    return where + "struct_size " + std::to_string(p->struct_size) + " is smaller than sg_plugin (" +
           std::to_string(sizeof(sg_plugin)) + ")";
  }
  if (p->functions == nullptr || p->function_count == 0 || p->function_count > kMaxFunctions) {
    return where + "declares no functions (or more than 1000)";
  }
  std::size_t aggregates = 0;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < p->function_count; ++i) {
    const sg_function& f = p->functions[i];
    const std::string err = check_function(f, registry);
    const std::string label = valid_name(f.name) ? "'" + ascii_lower(f.name) + "'" : "#" + std::to_string(i);
    if (!err.empty()) return where + "function " + label + ": " + err;
    const std::string n = ascii_lower(f.name);
    for (const auto& m : names)
      if (m == n) return where + "function " + label + " is declared twice";
    names.push_back(n);
    if (f.kind == SG_AGGREGATE) ++aggregates;
  }
  std::lock_guard lock(g_slots_mu);
  if (g_slots_used + aggregates > kMaxPluginAggregates) {
    return where + "too many plugin aggregates in this process (at most " +
           std::to_string(kMaxPluginAggregates) + ")";
  }
  const std::string family = std::string("plugin ") + (p->name ? p->name : std::string(origin)) +
                             (p->version ? std::string(" ") + p->version : std::string());
  for (std::size_t i = 0; i < p->function_count; ++i) {
    const sg_function& f = p->functions[i];
    auto info = std::make_unique<FnInfo>();
    info->name = ascii_lower(f.name);
    info->flags = f.flags;
    info->fn = &f;
    if (f.arg_types) {
      const int n_types = f.max_args < 0 ? f.min_args + 1 : f.max_args;
      info->arg_types.assign(f.arg_types, f.arg_types + n_types);
    }
    // Variadic functions take at most SG_MAX_ARGS: the planner refuses more with an arity error.
    const int max_args = f.max_args < 0 ? SG_MAX_ARGS : f.max_args;
    FunctionDoc doc;
    doc.name = info->name;
    doc.family = family;
    doc.signature = f.signature ? std::string(f.signature) : derived_signature(f);
    doc.description = f.description ? std::string(f.description) : std::string();
    if (!(f.flags & SG_FN_DETERMINISTIC)) doc.description += doc.description.empty() ? "Not deterministic." : " Not deterministic.";
    if (f.kind == SG_SCALAR) {
      doc.kind = FunctionKind::Scalar;
      std::shared_ptr<const FnInfo> shared(info.release());
      registry.add_scalar({shared->name, f.min_args, max_args, [shared](Args a) -> Value {
                             CallArgs& c = scratch();
                             if (!prepare(*shared, a, c)) return Value();
                             sg_value out{};
                             out.type = SG_NULL;
                             if (shared->fn->scalar(shared->fn->user, c.v.data(), c.n, &out) != SG_OK) {
                               return Value();
                             }
                             return from_plugin(out);
                           }});
    } else {
      doc.kind = FunctionKind::Aggregate;
      const std::size_t slot = g_slots_used++;
      g_slots[slot].store(info.get(), std::memory_order_release);
      registry.add_aggregate(make_for_slot(slot, *info, f.min_args, max_args,
                                           std::make_index_sequence<kMaxPluginAggregates>{}));
      g_slot_infos.push_back(std::move(info));
    }
    registry.document(std::move(doc));
  }
  return {};
}

}  // namespace streamgate::rules::plugin
