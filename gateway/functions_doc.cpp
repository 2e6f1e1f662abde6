// `streamgate functions`: the function reference from the registry (see functions_doc.h).
#include "gateway/functions_doc.h"

#include <ostream>

#include "rules/function_docs.h"
#include "rules/function_registry.h"

namespace streamgate::gateway {

int run_functions(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const auto& registry = rules::FunctionRegistry::global();
  if (args.empty()) {
    for (const auto& name : registry.names()) out << name << "\n";
    return 0;
  }
  if (args.size() == 1 && args[0] == "--markdown") {
    out << rules::functions_markdown(registry);
    return 0;
  }
  err << "usage: streamgate functions [--markdown]\n";
  return 2;
}

}  // namespace streamgate::gateway
