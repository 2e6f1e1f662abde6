// The rule editor's server side, run on an HTTP thread with an engine of its own (never the
// worker's): "check" gives the errors of an edited rule the way check-rules would (the current
// rule files loaded first, so their streams resolve; positions are line:col in the edited
// text), "try" runs it over the sampled recent input events and returns the rows it would
// emit, like `streamgate replay`, bounded in time, rows and bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "gateway/dashboard/hub.h"
#include "rules/engine.h"

namespace streamgate::gateway::dashboard {

//! The name the edited text has in error messages.
inline constexpr const char* kEditorFile = "editor.sql";

struct CheckOutcome {
  std::vector<rules::RuleError> errors;
  std::vector<std::string> rules;  //!< rules the edited text defines
};

struct TrialLimits {
  std::size_t max_rows = 200;
  std::size_t max_bytes = 1 << 20;
  std::int64_t max_ns = 2'000'000'000;
};

struct TrialOutcome {
  CheckOutcome check;
  std::vector<rules::Emission> rows;
  std::size_t events = 0;    //!< sampled events fed
  bool truncated = false;    //!< a bound stopped the trial early
};

CheckOutcome check_rule_text(const Config& config, const std::string& text);

//! The gateway's rule files that fail to load, loaded in the daemon's order: JSON array of
//! {"file", "errors": ["file:line:col: message", ...]} (a file the running rule set could not
//! take; the previous rules keep running).
std::string rule_file_errors(const Config& config);
//! Runs the edited text over the last `events` sampled messages of the streams its rules read
//! (all sampled messages when a rule reads another rule's output).
TrialOutcome try_rule_text(const Config& config, const std::string& text, const std::vector<SampledEvent>& sample,
                           std::size_t events, const TrialLimits& limits);

}  // namespace streamgate::gateway::dashboard
