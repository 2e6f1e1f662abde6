// libFuzzer target for the rule-file parser: any input must parse or fail cleanly, never crash,
// hang or recurse without bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rules/ast.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = streamgate::rules::ast::parse(text);
  // Positions must stay inside the input so `file:line:col` messages point somewhere real.
  for (const auto& e : result.errors)
    if (e.pos.line < 1 || e.pos.column < 1 || e.message.empty()) __builtin_trap();
  for (const auto& st : result.statements)
    if (st.text.size() > size || st.name.empty()) __builtin_trap();
  return 0;
}
