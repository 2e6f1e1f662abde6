// Cluster mode's rule check (docs/scaling-out.md): each partition runs its own engine, so every
// piece of per-key state (GROUP BY groups, MATCH_RECOGNIZE partitions, lag/latest/... with
// OVER (PARTITION BY)) must be keyed by the field that carries the partition key, or one key's
// events would be split over several engines and give partial results. Pure function of the
// rule text; used by `check-rules --partition-field` and by the cluster-mode loader.
#pragma once

#include <string_view>
#include <vector>

#include "rules/vocabulary.h"

namespace streamgate::rules {

//! One error (file:line:col) per rule of `text` whose per-key state is not keyed by
//! `partition_field`. A file that does not parse gives no error here (load_file reports it).
std::vector<RuleError> check_partition_key(std::string_view file_name, std::string_view text,
                                           std::string_view partition_field);

}  // namespace streamgate::rules
