// Cluster mode's rule check (docs/scaling-out.md): each partition runs its own engine, so every
// piece of per-key state (GROUP BY groups, MATCH_RECOGNIZE partitions, lag/latest/... with
// OVER (PARTITION BY)) must be keyed by the field that carries the partition key, or one key's
// events would be split over several engines and give partial results. Pure function of the
// rule text; used by `check-rules --partition-field` and by the cluster-mode loader. Fleet-wide
// windowed aggregates run in two phases instead (rules/runtime/two_phase.cpp) when they can.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rules/vocabulary.h"

namespace streamgate::rules {

struct PartitionPlan {
  std::vector<RuleError> errors;
  //! Fleet-wide windowed rules (GROUP BY without the partition field) that run in two phases:
  //! partial aggregates per partition, merged by the merge stage (EngineOptions::partial_rules).
  std::vector<std::string> two_phase;
};

//! The rules of `text` that run per partition as they are, those that run in two phases, and
//! an error (file:line:col) for each rule that can do neither.
PartitionPlan plan_partitions(std::string_view file_name, std::string_view text, std::string_view partition_field);

//! One error (file:line:col) per rule of `text` whose per-key state is not keyed by
//! `partition_field`. A file that does not parse gives no error here (load_file reports it).
std::vector<RuleError> check_partition_key(std::string_view file_name, std::string_view text,
                                           std::string_view partition_field);

}  // namespace streamgate::rules
