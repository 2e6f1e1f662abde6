// Cluster mode's rule check (docs/scaling-out.md): each partition runs its own engine, so every
// piece of per-key state (GROUP BY groups, MATCH_RECOGNIZE partitions, lag/latest/... with
// OVER (PARTITION BY)) must be keyed by the field that carries the partition key, or one key's
// events would be split over several engines and give partial results. Pure function of the
// rule text; used by `check-rules --partition-field` and by the cluster-mode loader. Fleet-wide
// windowed aggregates run in two phases instead (rules/runtime/two_phase.cpp) when they can, with
// analytic functions over their aggregates evaluated at the merge stage; rules reading FROM them
// run at the merge stage. A join of two streams must pair rows of one partition key.
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
  //! Rules reading FROM a fleet-wide rule (directly or through other such rules): their input
  //! rows exist only at the merge stage, whose one engine sees all of them, so they run there as
  //! on one box (fed by the merged rows; their state is in the merge stage's checkpoint).
  std::vector<std::string> merge_stage;
};

//! What the files before this one declared that its rules may read: the CREATE TABLE names (a
//! JOIN of such a name is a stream-table join) and the rules whose rows exist only at the merge
//! stage (two-phase and merge-stage rules). plan_partitions adds the file's own; pass one context
//! through the files of a rule set in load order.
struct PartitionContext {
  std::vector<std::string> tables;
  std::vector<std::string> fleet_wide;
};

//! The rules of `text` that run per partition as they are, those that run in two phases, and
//! an error (file:line:col) for each rule that can do neither.
PartitionPlan plan_partitions(std::string_view file_name, std::string_view text, std::string_view partition_field,
                              PartitionContext* context = nullptr);

//! One error (file:line:col) per rule of `text` whose per-key state is not keyed by
//! `partition_field`. A file that does not parse gives no error here (load_file reports it).
std::vector<RuleError> check_partition_key(std::string_view file_name, std::string_view text,
                                           std::string_view partition_field, PartitionContext* context = nullptr);

}  // namespace streamgate::rules
