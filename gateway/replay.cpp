// The replay command: JSONL in, one JSON line per emission out.
#include "gateway/replay.h"

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <iterator>
#include <vector>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "gateway/plugins.h"
#include "gateway/rule_files.h"
#include "gateway/sqlite_table_loader.h"

namespace po = boost::program_options;

namespace streamgate::gateway {

const char* to_string(rules::EmissionKind kind) {
  switch (kind) {
    case rules::EmissionKind::Result: return "result";
    case rules::EmissionKind::Late: return "late";
    case rules::EmissionKind::Alert: return "alert";
    case rules::EmissionKind::Partial: return "partial";
  }
  return "result";
}

std::string format_replay_line(const rules::Emission& e) {
  std::string line;
  line.reserve(64 + e.rule.size() + e.topic.size() + e.payload.size());
  line += "{\"rule\":";
  line += nlohmann::json(e.rule).dump();
  line += ",\"topic\":";
  line += nlohmann::json(e.topic).dump();
  line += ",\"emission\":";
  line += std::to_string(e.emission_index);
  line += ",\"kind\":\"";
  line += to_string(e.kind);
  line += "\",\"payload\":";
  // The engine writes compact JSON; embed it as is unless it would break the one-line format.
  if (e.payload.empty()) {
    line += "null";
  } else if (e.payload.find_first_of("\r\n") == std::string::npos) {
    line += e.payload;
  } else {
    try {
      line += nlohmann::json::parse(e.payload).dump();
    } catch (const nlohmann::json::exception&) {
      line += nlohmann::json(e.payload).dump();
    }
  }
  line += '}';
  return line;
}

std::string replay_topic_for(const std::string& filter) {
  std::string f = filter;
  if (f.rfind("$share/", 0) == 0) {
    const auto slash = f.find('/', 7);
    f = slash == std::string::npos ? std::string() : f.substr(slash + 1);
  }
  std::string out;
  std::size_t start = 0;
  while (true) {
    const auto slash = f.find('/', start);
    const std::string level = f.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    out += (level == "+" || level == "#") ? "replay" : level;
    if (slash == std::string::npos) break;
    out += '/';
    start = slash + 1;
  }
  return out;
}

int run_replay(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
               std::ostream& err) {
  po::options_description opts("replay options");
  opts.add_options()
      ("help,h", "print this help")
      ("rules", po::value<std::string>(), "a .sql file or a directory of *.sql files")
      ("plugins-dir", po::value<std::string>(), "load the function plugins (*.so) of this directory first")
      ("input", po::value<std::string>(), "JSONL file, one message payload per line (default: stdin)")
      ("topic", po::value<std::string>(), "topic the messages arrive on (default: the first stream's TOPIC with wildcards replaced by 'replay'); a line TOPIC<TAB>PAYLOAD arrives on its own TOPIC")
      ("max-payload-bytes", po::value<std::size_t>()->default_value(256 * 1024), "larger lines are rejected")
      ("state-in", po::value<std::string>(), "restore the rules' state from this file (written by --state-out) before the input")
      ("state-out", po::value<std::string>(), "after the input, save the rules' state to this file (CBOR, as checkpoints are) "
                                               "instead of ending the input: nothing open is flushed, as when the gateway stops");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    err << "streamgate replay: " << e.what() << "\n";
    return 2;
  }
  if (vm.count("help")) {
    out << "usage: streamgate replay --rules PATH [--input FILE.jsonl] [--topic TOPIC] [--state-in FILE] "
           "[--state-out FILE]\n\n"
        << opts;
    return 0;
  }
  if (!vm.count("rules")) {
    err << "streamgate replay: --rules PATH is required\n";
    return 2;
  }

  if (vm.count("plugins-dir") &&
      !load_plugins_for_command(vm["plugins-dir"].as<std::string>(), "replay", err)) {
    return 1;
  }
  std::vector<RuleFile> files;
  std::vector<std::string> problems;
  read_rule_files(vm["rules"].as<std::string>(), files, problems);
  for (const auto& p : problems) err << p << "\n";
  if (!problems.empty()) return 1;

  rules::EngineOptions engine_options;
  engine_options.max_payload_bytes = vm["max-payload-bytes"].as<std::size_t>();
  engine_options.sqlite_loader = sqlite_table_loader();
  // A table that cannot be read is worth a line on stderr; its rows are empty.
  engine_options.on_table_event = [&err](const std::string& m, bool failed) {
    if (failed) err << m << "\n";
  };
  rules::Engine engine(engine_options);
  bool load_failed = false;
  for (const auto& f : files) {
    for (const auto& e : engine.load_file(f.path, f.text)) {
      err << e.to_string() << "\n";
      load_failed = true;
    }
  }
  if (load_failed) return 1;

  if (vm.count("state-in")) {
    // A restart from a checkpoint, as the gateway does it (Engine::restore_state).
    const std::string path = vm["state-in"].as<std::string>();
    std::ifstream f(path, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    try {
      if (!f) throw std::runtime_error("cannot read the file");
      engine.restore_state(nlohmann::json::from_cbor(bytes));
    } catch (const std::exception& e) {
      err << "streamgate replay: --state-in '" << path << "': " << e.what() << "\n";
      return 1;
    }
  }

  std::string topic;
  if (vm.count("topic")) {
    topic = vm["topic"].as<std::string>();
  } else {
    for (const auto& s : engine.streams()) {
      if (!s.topic_filter.empty()) {
        topic = replay_topic_for(s.topic_filter);
        break;
      }
    }
    if (topic.empty()) {
      err << "streamgate replay: the rules define no stream with a TOPIC; give --topic\n";
      return 1;
    }
  }
  bool any_match = false;
  for (const auto& s : engine.streams()) {
    any_match = any_match || (!s.topic_filter.empty() && rules::topic_matches(s.topic_filter, topic));
  }
  if (!any_match) {
    err << "streamgate replay: topic '" << topic << "' matches no stream's TOPIC filter\n";
    return 1;
  }

  std::ifstream file;
  std::istream* input = &in;
  std::string input_name = "<stdin>";
  if (vm.count("input")) {
    input_name = vm["input"].as<std::string>();
    file.open(input_name, std::ios::binary);
    if (!file) {
      err << "streamgate replay: cannot read '" << input_name << "'\n";
      return 1;
    }
    input = &file;
  }

  // Emissions are written as they happen, in engine order.
  std::string buffer;
  const rules::EmitFn emit = [&](rules::Emission&& e) {
    buffer += format_replay_line(e);
    buffer += '\n';
    if (buffer.size() > 64 * 1024) {
      out << buffer;
      buffer.clear();
    }
  };
  auto now_ns = [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };

  std::string line;
  std::uint64_t lineno = 0;
  std::uint64_t bad = 0;
  while (std::getline(*input, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
    rules::IngestStatus status;
    try {
      // Spare capacity after the line is the padding simdjson reads past the end: with it the
      // line is parsed in place (getline keeps the capacity, so this is one reserve per growth).
      if (line.capacity() - line.size() < rules::kJsonPadding) line.reserve(line.size() + rules::kJsonPadding);
      // `TOPIC<TAB>PAYLOAD` sends the payload on its own topic (rules joining two streams, tables
      // fed by MQTT); a plain payload goes to --topic.
      std::string_view line_topic = topic;
      std::string_view payload = line;
      if (const auto tab = line.find('\t');
          tab != std::string::npos && line[0] != '{' && line[0] != '[' && line[0] != ' ') {
        line_topic = std::string_view(line).substr(0, tab);
        payload = std::string_view(line).substr(tab + 1);
      }
      status = engine.on_message(line_topic, payload, now_ns(), emit, /*padded=*/true);
    } catch (const std::exception& e) {
      err << input_name << ":" << lineno << ": " << e.what() << "\n";
      ++bad;
      continue;
    }
    if (status != rules::IngestStatus::Ok) {
      err << input_name << ":" << lineno << ": " << rules::to_string(status) << "\n";
      ++bad;
    }
  }
  if (vm.count("state-out")) {
    const std::string path = vm["state-out"].as<std::string>();
    std::vector<std::uint8_t> bytes;
    nlohmann::json::to_cbor(engine.save_state(), bytes);
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!f.flush()) {
      err << "streamgate replay: cannot write --state-out '" << path << "'\n";
      return 1;
    }
  } else {
    engine.flush(emit);
  }
  out << buffer;
  out.flush();
  if (bad != 0) err << "streamgate replay: " << bad << " of " << lineno << " lines skipped\n";
  return 0;
}

}  // namespace streamgate::gateway
