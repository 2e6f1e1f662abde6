// Plugins: dlopen of the libraries in plugins-dir (see plugins.h). Whichever thread asks for a
// load (main on SIGHUP, the rule watcher, the CLI commands) holds the loader's mutex throughout.
#include "gateway/plugins.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include <spdlog/spdlog.h>

#include "rules/function_registry.h"
#include "rules/plugin/plugin_functions.h"

namespace streamgate::gateway {

namespace {

struct DlClose {
  void operator()(void* h) const {
    if (h) dlclose(h);
  }
};
// RTLD_NODELETE keeps the code mapped even after dlclose: rules and states hold its functions.
using LibraryHandle = std::unique_ptr<void, DlClose>;

//! What identifies a file's content well enough to notice a replaced library.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t size = 0;
  bool operator==(const FileId&) const = default;
};

std::optional<FileId> file_id(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino,
                static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec,
                static_cast<std::int64_t>(st.st_size)};
}

struct Loaded {
  LibraryHandle handle;
  FileId id;
  bool change_reported = false;
};

struct Loader {
  std::mutex mu;
  std::map<std::string, Loaded> loaded;  // by path
};

Loader& loader() {
  static Loader l;
  return l;
}

std::string dl_error() {
  const char* e = dlerror();
  return e ? e : "unknown dlopen error";
}

}  // namespace

PluginLoadReport load_plugins(const std::string& dir) {
  PluginLoadReport report;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    report.errors.push_back("plugins-dir '" + dir + "' is not a readable directory");
    return report;
  }
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so" && entry.is_regular_file(ec)) paths.push_back(entry.path().string());
  }
  if (ec) report.errors.push_back("plugins-dir '" + dir + "': " + ec.message());
  std::sort(paths.begin(), paths.end());

  Loader& l = loader();
  std::lock_guard lock(l.mu);
  for (const auto& path : paths) {
    const auto id = file_id(path);
    if (!id) continue;  // removed since the listing
    if (auto it = l.loaded.find(path); it != l.loaded.end()) {
      if (!(it->second.id == *id) && !it->second.change_reported) {
        it->second.change_reported = true;
        report.warnings.push_back(path + ": changed on disk; the loaded version keeps running "
                                         "until a restart (a library is never unloaded)");
      }
      continue;
    }
    dlerror();
    LibraryHandle h(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE));
    if (!h) {
      report.errors.push_back(path + ": " + dl_error());
      continue;
    }
    auto entry = reinterpret_cast<sg_plugin_entry_fn>(dlsym(h.get(), SG_PLUGIN_ENTRY));
    if (entry == nullptr) {
      report.errors.push_back(path + ": no symbol '" SG_PLUGIN_ENTRY "' (not a streamgate plugin?)");
      continue;
    }
    const sg_plugin* p = entry(SG_PLUGIN_ABI_VERSION);
    const std::string err =
        rules::plugin::register_plugin(p, path, rules::FunctionRegistry::global());
    if (!err.empty()) {
      report.errors.push_back(err);
      continue;
    }
    std::string names;
    for (std::size_t i = 0; i < p->function_count; ++i) {
      names += (i ? ", " : "") + std::string(p->functions[i].name);
    }
    report.loaded.push_back("plugin " + std::string(p->name ? p->name : "?") + " " +
                            (p->version ? p->version : "") + " from " + path + ": " + names);
    l.loaded.emplace(path, Loaded{std::move(h), *id, false});
  }
  return report;
}

bool load_and_log_plugins(const std::string& dir) {
  const PluginLoadReport r = load_plugins(dir);
  for (const auto& m : r.loaded) spdlog::info("{}", m);
  for (const auto& m : r.warnings) spdlog::warn("{}", m);
  for (const auto& m : r.errors) spdlog::error("{}", m);
  return r.errors.empty();
}

bool load_plugins_for_command(const std::string& dir, const char* command, std::ostream& err) {
  const PluginLoadReport r = load_plugins(dir);
  for (const auto& m : r.errors) err << "streamgate " << command << ": " << m << "\n";
  return r.errors.empty();
}

}  // namespace streamgate::gateway
