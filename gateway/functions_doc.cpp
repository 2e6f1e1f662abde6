// `streamgate functions`: the function reference from the registry (see functions_doc.h).
#include "gateway/functions_doc.h"

#include <ostream>

#include "gateway/plugins.h"
#include "rules/function_docs.h"
#include "rules/function_registry.h"

namespace streamgate::gateway {

int run_functions(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  bool markdown = false;
  std::string plugins_dir;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--markdown") {
      markdown = true;
    } else if (args[i] == "--plugins-dir" && i + 1 < args.size() && !args[i + 1].empty()) {
      plugins_dir = args[++i];
    } else {
      err << "usage: streamgate functions [--markdown] [--plugins-dir DIR]\n";
      return 2;
    }
  }
  // The plugins' functions join the reference under "plugin <name> <version>".
  if (!plugins_dir.empty() && !load_plugins_for_command(plugins_dir, "functions", err)) return 1;
  const auto& registry = rules::FunctionRegistry::global();
  if (markdown) {
    out << rules::functions_markdown(registry);
  } else {
    for (const auto& name : registry.names()) out << name << "\n";
  }
  return 0;
}

}  // namespace streamgate::gateway
