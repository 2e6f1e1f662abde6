// `streamgate replay --rules PATH [--input FILE.jsonl] [--topic T]`: runs rules offline over
// recorded payloads, one per line, and prints every emission as one JSON line:
//   {"rule":"<name>","topic":"<topic>","emission":<n>,"kind":"result|late|alert","payload":{...}}
// At end of input event time goes to infinity (Engine::flush), so every open window fires.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "rules/engine.h"

namespace streamgate::gateway {

//! `args` are the arguments after "replay". Returns the exit code: 0, 1 when rules fail to load
//! (file:line:col on `err`), 2 on bad usage.
int run_replay(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
               std::ostream& err);

//! The output line of one emission (without the newline).
std::string format_replay_line(const rules::Emission& e);

//! The topic replay uses when none is given: the filter with `+` and `#` levels replaced by
//! "replay" (and a `$share/<group>/` prefix removed).
std::string replay_topic_for(const std::string& filter);

const char* to_string(rules::EmissionKind kind);

}  // namespace streamgate::gateway
