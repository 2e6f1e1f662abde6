// Function registry: name -> function maps with case-insensitive lookups (SQL names are).
#include "rules/ascii_lower.h"
#include "rules/function_registry.h"

#include <algorithm>
#include <mutex>

namespace streamgate::rules {

namespace {

template <class Map>
const typename Map::mapped_type* lookup(const Map& map, std::string_view name) {
  auto it = map.find(ascii_lower(name));
  return it == map.end() ? nullptr : &it->second;
}

}  // namespace

FunctionRegistry& FunctionRegistry::global() {
  // A function-local static: built once, thread-safe, before any rule is planned.
  static FunctionRegistry registry = [] {
    FunctionRegistry r;
    register_scalar_builtins(r);
    register_aggregate_builtins(r);
    register_stateful_builtins(r);
    register_forecast_builtins(r);
    register_math_builtins(r);
    register_hash_builtins(r);
    register_json_builtins(r);
    register_type_builtins(r);
    register_datetime_builtins(r);
    register_text_builtins(r);
    register_array_builtins(r);
    document_engine_functions(r);
    return r;
  }();
  return registry;
}

// A later registration under the same name replaces the earlier one, so a user's function can
// deliberately override a built-in.
void FunctionRegistry::add_scalar(ScalarFunction f) {
  std::unique_lock lock(*mu_);
  auto key = ascii_lower(f.name);
  scalars_.insert_or_assign(std::move(key), std::move(f));
}

void FunctionRegistry::add_aggregate(AggregateFunction f) {
  if (f.merge_partition == nullptr) f.merge_partition = f.merge;
  std::unique_lock lock(*mu_);
  auto key = ascii_lower(f.name);
  aggregates_.insert_or_assign(std::move(key), std::move(f));
}

void FunctionRegistry::add_stateful(StatefulFunction f) {
  std::unique_lock lock(*mu_);
  auto key = ascii_lower(f.name);
  statefuls_.insert_or_assign(std::move(key), std::move(f));
}

const ScalarFunction* FunctionRegistry::scalar(std::string_view name) const {
  std::shared_lock lock(*mu_);
  return lookup(scalars_, name);
}

const AggregateFunction* FunctionRegistry::aggregate(std::string_view name) const {
  std::shared_lock lock(*mu_);
  return lookup(aggregates_, name);
}

const StatefulFunction* FunctionRegistry::stateful(std::string_view name) const {
  std::shared_lock lock(*mu_);
  return lookup(statefuls_, name);
}

void FunctionRegistry::document(FunctionDoc doc) {
  std::unique_lock lock(*mu_);
  auto key = ascii_lower(doc.name);
  docs_.insert_or_assign(std::move(key), std::move(doc));
}

std::vector<const FunctionDoc*> FunctionRegistry::docs() const {
  std::shared_lock lock(*mu_);
  std::vector<const FunctionDoc*> out;
  out.reserve(docs_.size());
  for (const auto& [k, d] : docs_) out.push_back(&d);
  std::sort(out.begin(), out.end(), [](const FunctionDoc* a, const FunctionDoc* b) {
    return a->family != b->family ? a->family < b->family : a->name < b->name;
  });
  return out;
}

const FunctionDoc* FunctionRegistry::doc(std::string_view name) const {
  std::shared_lock lock(*mu_);
  return lookup(docs_, name);
}

std::vector<std::string> FunctionRegistry::names() const {
  std::shared_lock lock(*mu_);
  std::vector<std::string> out;
  out.reserve(scalars_.size() + aggregates_.size() + statefuls_.size());
  for (const auto& [k, v] : scalars_) out.push_back(k);
  for (const auto& [k, v] : aggregates_) out.push_back(k);
  for (const auto& [k, v] : statefuls_) out.push_back(k);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace streamgate::rules
