// Row patterns (MATCH_RECOGNIZE ... PATTERN) compiled to a position automaton (Glushkov NFA):
// one state per occurrence of a variable after repetitions are unrolled, no epsilon moves, so a
// run advances exactly one state per row. Transitions are kept in preference order (left branch
// of `|` first, "repeat again" before "move on": quantifiers are greedy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "rules/ast.h"

namespace streamgate::rules::pattern {

struct Automaton {
  //! Distinct variables, upper-cased, in order of first appearance in the pattern.
  std::vector<std::string> vars;
  //! Per state: the variable a row must satisfy to enter it. State 0 is the start (no variable).
  std::vector<std::uint16_t> state_var;
  //! Per state: the states a run in it may move to on the next row, in preference order.
  std::vector<std::vector<std::uint32_t>> next;
  //! Per state: whether a run that reached it holds a complete match.
  std::vector<std::uint8_t> accepting;
  //! The pattern also matches zero rows (e.g. `A*`); such empty matches are never reported.
  bool nullable = false;

  std::size_t states() const { return state_var.size(); }
  //! Index of a variable (case-insensitive), or -1.
  int var_index(std::string_view name) const;
};

//! Compiles a parsed pattern. Repetitions {n,m} are unrolled, so the automaton has one state per
//! variable occurrence after unrolling; beyond `max_states` the pattern is rejected (error set).
std::optional<Automaton> compile(const ast::PatternNode& pattern, std::string* error,
                                 std::size_t max_states = 2000);

//! Upper-cases ASCII letters: pattern variables are case-insensitive like other SQL names.
std::string upper(std::string_view s);

}  // namespace streamgate::rules::pattern
