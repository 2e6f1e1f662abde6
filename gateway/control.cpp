// Control-topic requests: authentication (HMAC-SHA256), dispatch, rule files on disk.
#include "gateway/control.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <tuple>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "gateway/rule_files.h"

namespace streamgate::gateway {

namespace fs = std::filesystem;
using nlohmann::json;

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  // OpenSSL's libcrypto is already in the process (Paho's ssl:// support links it), so the
  // HMAC comes from a vetted implementation instead of a hand-written SHA-256.
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 0xf];
  }
  return out;
}

bool verify_hmac(std::string_view key, std::string_view data, std::string_view hex) {
  const std::string expected = hmac_sha256_hex(key, data);
  if (hex.size() != expected.size()) return false;
  std::string given(hex);
  for (char& c : given) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  // Constant time: a timing side channel must not reveal how many leading digits matched.
  return CRYPTO_memcmp(expected.data(), given.data(), expected.size()) == 0;
}

bool valid_control_rule_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::optional<json> unwrap_control_request(std::string_view message, const std::string& secret, std::string& error) {
  auto refuse = [&](std::string why) {
    error = std::move(why);
    return std::nullopt;
  };
  json body = json::parse(message, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return refuse("request is not a JSON object");
  if (!body.contains("payload")) {
    if (!secret.empty()) return refuse("missing hmac: send {\"payload\":\"<request>\",\"hmac\":\"<hex>\"}");
    return body;
  }
  if (!body["payload"].is_string()) return refuse("\"payload\" must be a string holding the request JSON");
  const std::string& text = body["payload"].get_ref<const std::string&>();
  if (!secret.empty()) {
    if (!body.contains("hmac") || !body["hmac"].is_string()) return refuse("missing hmac");
    if (!verify_hmac(secret, text, body["hmac"].get_ref<const std::string&>())) return refuse("bad hmac");
  }
  json req = json::parse(text, nullptr, false);
  if (req.is_discarded() || !req.is_object()) return refuse("payload is not a JSON object");
  return req;
}

std::string control_reply_topic(const json& req, const std::string& fallback) {
  if (req.contains("reply_to") && req["reply_to"].is_string()) {
    const std::string& rt = req["reply_to"].get_ref<const std::string&>();
    if (!rt.empty() && rt.find_first_of("+#") == std::string::npos) return rt;
  }
  return fallback;
}

ControlHandler::ControlHandler(std::string topic, std::string secret, std::string rules_dir,
                               std::string control_rules_dir, ControlStats& stats)
    : topic_(std::move(topic)),
      secret_(std::move(secret)),
      rules_dir_(std::move(rules_dir)),
      control_rules_dir_(control_rules_dir.empty() ? rules_dir_ : std::move(control_rules_dir)),
      stats_(stats) {}

namespace {

struct Failure {
  std::string message;
  json details;
};

std::string control_file_name(const std::string& rule) { return "90-control-" + rule + ".sql"; }

// The statement `stmt` inside `file_text`, extended over the ';' that ends it. npos if absent.
std::pair<std::size_t, std::size_t> find_statement(const std::string& file_text, const std::string& stmt) {
  const std::size_t pos = file_text.find(stmt);
  if (pos == std::string::npos || stmt.empty()) return {std::string::npos, 0};
  std::size_t end = pos + stmt.size();
  std::size_t k = end;
  while (k < file_text.size() && (file_text[k] == ' ' || file_text[k] == '\t' || file_text[k] == '\n' || file_text[k] == '\r')) ++k;
  if (k < file_text.size() && file_text[k] == ';') end = k + 1;
  return {pos, end - pos};
}

std::string with_semicolon(std::string sql) {
  while (!sql.empty() && std::isspace(static_cast<unsigned char>(sql.back()))) sql.pop_back();
  if (sql.empty() || sql.back() != ';') sql += ';';
  return sql;
}

// Writes via a hidden temp file and rename(): the watcher and a concurrent reader never see a
// half-written rule file.
void write_atomically(const fs::path& path, const std::string& text) {
  // Built by append: GCC 12 reports a false -Wrestrict on `"." + std::string` at -O3.
  std::string tmp_name(".");
  tmp_name.append(path.filename().string()).append(".tmp");
  const fs::path tmp = path.parent_path() / tmp_name;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw Failure{"cannot write " + tmp.string(), {}};
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw Failure{"cannot rename " + tmp.string() + ": " + ec.message(), {}};
}

json rule_json(const rules::RuleInfo& r, const std::vector<rules::RuleMetrics>& metrics, bool with_metrics) {
  json j{{"name", r.name}, {"file", r.file}, {"from", r.from}, {"topic", r.output_topic}, {"qos", r.qos}};
  for (const auto& m : metrics) {
    if (m.name != r.name) continue;
    j["paused"] = m.paused;
    if (with_metrics) {
      j["sql"] = r.text;
      j["metrics"] = json{{"events_in", m.events_in},       {"events_filtered", m.events_filtered},
                          {"results_out", m.results_out},   {"late_events", m.late_events},
                          {"dropped_keys", m.dropped_keys}, {"dropped_windows", m.dropped_windows},
                          {"dropped_rows", m.dropped_rows}, {"dropped_values", m.dropped_values}, {"eval_errors", m.eval_errors},
                          {"eval_seconds", static_cast<double>(m.eval_ns) / 1e9},
                          {"open_windows", m.open_windows}, {"group_keys", m.group_keys}};
    }
  }
  return j;
}

}  // namespace

ControlReply ControlHandler::handle(std::string_view message, rules::Engine& engine, const ReloadFn& reload) {
  ControlReply reply{reply_topic(), {}};
  json out = json::object();
  auto deny = [&](const std::string& why) {
    stats_.denied.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("control: request refused: {}", why);
    out["ok"] = false;
    out["error"] = why;
    reply.payload = out.dump();
    return reply;
  };

  std::string refused;
  auto unwrapped = unwrap_control_request(message, secret_, refused);
  if (!unwrapped) return deny(refused);
  json& req = *unwrapped;

  // From here the request is authentic: honour its reply topic and id.
  reply.topic = control_reply_topic(req, reply.topic);
  if (req.contains("id")) out["id"] = req["id"];
  const std::string op = req.value("op", "");
  const std::string rule = req.contains("rule") && req["rule"].is_string() ? req["rule"].get<std::string>() : "";
  out["op"] = op;
  if (!rule.empty()) out["rule"] = rule;

  try {
    const auto infos = engine.rules();
    const auto find = [&](const std::string& name) -> const rules::RuleInfo* {
      for (const auto& r : infos) {
        if (r.name == name) return &r;
      }
      return nullptr;
    };
    if (op == "list") {
      const auto metrics = engine.metrics();
      json rules_j = json::array();
      for (const auto& r : infos) rules_j.push_back(rule_json(r, metrics, false));
      json streams_j = json::array();
      for (const auto& s : engine.streams()) streams_j.push_back(json{{"name", s.name}, {"topic", s.topic_filter}});
      out["rules"] = std::move(rules_j);
      out["streams"] = std::move(streams_j);
    } else if (op == "status") {
      const auto metrics = engine.metrics();
      if (!rule.empty()) {
        const auto* r = find(rule);
        if (r == nullptr) throw Failure{"no rule named '" + rule + "'", {}};
        out["status"] = rule_json(*r, metrics, true);
      } else {
        json all = json::array();
        for (const auto& r : infos) all.push_back(rule_json(r, metrics, true));
        out["status"] = std::move(all);
      }
    } else if (op == "pause" || op == "resume") {
      if (!engine.set_paused(rule, op == "pause")) throw Failure{"no rule named '" + rule + "'", {}};
      spdlog::info("control: rule '{}' {}d", rule, op);
    } else if (op == "add" || op == "replace" || op == "remove") {
      if (!valid_control_rule_name(rule)) throw Failure{"\"rule\" must be 1-64 letters, digits or _", {}};
      const rules::RuleInfo* existing = find(rule);
      if (op == "add" && existing != nullptr) throw Failure{"rule '" + rule + "' exists; use replace", {}};
      if (op != "add" && existing == nullptr) throw Failure{"no rule named '" + rule + "'", {}};
      std::string sql;
      if (op != "remove") {
        if (!req.contains("sql") || !req["sql"].is_string() || req["sql"].get_ref<const std::string&>().empty()) {
          throw Failure{"\"sql\" (the CREATE RULE statement) is required", {}};
        }
        sql = with_semicolon(req["sql"].get<std::string>());
      }

      std::vector<RuleFile> current;
      std::vector<std::string> problems;
      read_gateway_rule_files(rules_dir_, control_rules_dir_, current, problems);
      for (const auto& p : problems) {
        if (p.find("no *.sql rule files") == std::string::npos) throw Failure{"cannot read rules: " + p, {}};
      }
      Files files;
      for (auto& f : current) files.emplace_back(std::move(f.path), std::move(f.text));
      const Files before = files;

      // The one file that changes: path and new text (empty optional text = delete it).
      std::string path;
      std::string text;
      bool remove_file = false;
      const std::string own = (fs::path(control_rules_dir_) / control_file_name(rule)).string();
      if (op == "add") {
        path = own;
        for (const auto& f : files) {
          if (f.first == path) throw Failure{path + " exists; use replace", {}};
        }
        text = "-- added over the control topic\n" + sql + "\n";
        files.emplace_back(path, text);
        // The load order of a restart (read_gateway_rule_files): the rules directory first, so
        // added rules can use its streams, then the control directory, each in name order.
        const fs::path control_dir(control_rules_dir_);
        const bool separate = control_rules_dir_ != rules_dir_;
        std::sort(files.begin(), files.end(), [&](const auto& a, const auto& b) {
          const bool a_added = separate && fs::path(a.first).parent_path() == control_dir;
          const bool b_added = separate && fs::path(b.first).parent_path() == control_dir;
          return std::tie(a_added, a.first) < std::tie(b_added, b.first);
        });
      } else {
        path = existing->file;
        auto it = std::find_if(files.begin(), files.end(), [&](const auto& f) { return f.first == path; });
        if (it == files.end()) throw Failure{"rule '" + rule + "' comes from " + path + ", which is no longer there", {}};
        if (path == own) {
          if (op == "remove") remove_file = true;
          else text = "-- replaced over the control topic\n" + sql + "\n";
        } else {
          // A rule of a hand-written file: edit that statement in place, keep the rest.
          const auto [pos, len] = find_statement(it->second, existing->text);
          if (pos == std::string::npos) throw Failure{"cannot find the statement of '" + rule + "' in " + path + "; edit the file", {}};
          text = it->second;
          text.replace(pos, len, op == "remove" ? std::string() : sql);
        }
        if (remove_file) files.erase(it);
        else it->second = text;
      }

      const auto errors = reload(files);
      if (!errors.empty()) {
        json errs = json::array();
        for (const auto& e : errors) errs.push_back(e.to_string());
        throw Failure{"rejected; the previous rules keep running", errs};
      }
      bool present = false;
      for (const auto& r : engine.rules()) present = present || r.name == rule;
      if (present == (op == "remove")) {
        reload(before);  // the SQL named a different rule: undo
        throw Failure{op == "remove" ? "rule still defined after removal" : "the SQL does not define a rule named '" + rule + "'", {}};
      }
      // Persist last: the engine accepted the new set. If the disk refuses (a read-only rules
      // directory, a full disk), the previous set is put back, so what runs is what a restart
      // would load.
      try {
        if (remove_file) {
          std::error_code ec;
          fs::remove(path, ec);
          if (ec) throw Failure{"cannot delete " + path + ": " + ec.message(), {}};
        } else {
          std::error_code ec;
          fs::create_directories(fs::path(path).parent_path(), ec);
          write_atomically(path, text);
        }
      } catch (const Failure& f) {
        reload(before);
        throw Failure{f.message + "; not applied, the previous rules keep running" +
                          (path == own ? "" : " (rules of hand-written files are changed by editing the file)"),
                      {}};
      }
      out["file"] = path;
      spdlog::info("control: rule '{}' {} ({})", rule, op == "add" ? "added" : op == "replace" ? "replaced" : "removed", path);
    } else {
      throw Failure{"unknown op '" + op + "' (list, status, add, replace, remove, pause, resume)", {}};
    }
    out["ok"] = true;
    stats_.ok.fetch_add(1, std::memory_order_relaxed);
  } catch (const Failure& f) {
    stats_.failed.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("control: {} {}: {}", op, rule, f.message);
    out["ok"] = false;
    out["error"] = f.message;
    if (!f.details.is_null()) out["errors"] = f.details;
  } catch (const std::exception& e) {
    stats_.failed.fetch_add(1, std::memory_order_relaxed);
    out["ok"] = false;
    out["error"] = e.what();
  }
  reply.payload = out.dump(-1, ' ', false, json::error_handler_t::replace);
  return reply;
}

}  // namespace streamgate::gateway
