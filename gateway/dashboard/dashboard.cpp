// Dashboard HTTP routes: assets, SSE, editor, authenticated state changes.
#include "gateway/dashboard/dashboard.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <chrono>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "gateway/dashboard/editor.h"

namespace streamgate::gateway::dashboard {

using nlohmann::json;

namespace {

// No inline script or style anywhere: the page loads its code from 'self' only.
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void security_headers(httplib::Response& res) {
  res.set_header("Content-Security-Policy", kCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
}

void reply_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json");
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

json error_list(const std::vector<rules::RuleError>& errors) {
  json out = json::array();
  for (const auto& e : errors) {
    out.push_back({{"line", e.line}, {"column", e.column}, {"message", e.message}, {"text", e.to_string()}});
  }
  return out;
}

// The request body as a JSON object with a string "sql" (or other fields); null when not.
json body_object(const httplib::Request& req) {
  json j = json::parse(req.body, nullptr, false);
  return j.is_object() ? j : json();
}

}  // namespace

Dashboard::Dashboard(const Config& config, OpsHooks& ops, const std::function<void(HttpServer&)>& add_ops_routes)
    : config_(config),
      ops_(ops),
      http_(HttpLimits{64 * 1024, config.dashboard.max_clients + 8, 20, 60, 2, 64 * 1024}),
      hub_(HubLimits{config.dashboard.max_clients, config.dashboard.client_queue, config.dashboard.sample_events},
           ops.snapshot_box(), *ops.tap(), [this] { return rule_file_errors(config_); }) {
  add_ops_routes(http_);
  add_routes();
}

Dashboard::~Dashboard() { stop(); }

std::string Dashboard::start() {
  hub_.start();
  return http_.start(config_.dashboard.listen, "dashboard-listen");
}

void Dashboard::stop() {
  hub_.stop();  // first: the SSE threads return, so the server's pool can join
  http_.stop();
}

bool Dashboard::authorized(const std::string& header) const {
  static const std::string kBearer = "Bearer ";
  if (header.compare(0, kBearer.size(), kBearer) != 0) return false;
  const std::string given = sha256_hex(header.substr(kBearer.size()));
  bool ok = false;
  for (const auto& h : config_.dashboard.token_sha256) {
    // Constant time per entry: timing must not reveal how much of a hash matched.
    ok = (CRYPTO_memcmp(h.data(), given.data(), std::min(h.size(), given.size())) == 0 && h.size() == given.size()) || ok;
  }
  return ok;
}

void Dashboard::add_routes() {
  auto& s = http_.routes();
  s.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) { security_headers(res); });

  for (const Asset* a = kAssets; a->path != nullptr; ++a) {
    auto serve = [a](const httplib::Request&, httplib::Response& res) {
      res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->content_type);
    };
    s.Get(a->path, serve);
    if (std::string(a->path) == "/index.html") s.Get("/", serve);
  }

  s.Get("/events", [this](const httplib::Request&, httplib::Response& res) {
    auto client = hub_.connect();
    if (!client) {
      res.status = 503;
      res.set_header("Retry-After", "5");
      res.set_content("too many dashboard clients (dashboard-max-clients)\n", "text/plain; charset=utf-8");
      return;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider(
        "text/event-stream",
        [client](std::size_t, httplib::DataSink& sink) {
          std::deque<std::string> out;
          {
            std::unique_lock<std::mutex> lock(client->mu);
            client->cv.wait_for(lock, std::chrono::seconds(10),
                                [&] { return !client->queue.empty() || client->dropped || client->closed; });
            if (client->dropped || client->closed) return false;
            out.swap(client->queue);
          }
          if (out.empty()) return sink.write(": keep-alive\n\n", 14);
          for (const auto& m : out) {
            if (!sink.write(m.data(), m.size())) return false;
          }
          return true;
        },
        [this, client](bool) { hub_.disconnect(client); });
  });

  s.Post("/api/check", [this](const httplib::Request& req, httplib::Response& res) {
    const json body = body_object(req);
    if (!body.is_object() || !body.contains("sql") || !body["sql"].is_string()) {
      return reply_json(res, 400, {{"error", "expected {\"sql\": \"...\"}"}});
    }
    std::unique_lock<std::mutex> lock(trial_mu_, std::try_to_lock);
    if (!lock) return reply_json(res, 429, {{"error", "another check is running"}});
    const auto out = check_rule_text(config_, body["sql"].get<std::string>());
    reply_json(res, 200, {{"errors", error_list(out.errors)}, {"rules", out.rules}});
  });

  s.Post("/api/try", [this](const httplib::Request& req, httplib::Response& res) {
    const json body = body_object(req);
    if (!body.is_object() || !body.contains("sql") || !body["sql"].is_string()) {
      return reply_json(res, 400, {{"error", "expected {\"sql\": \"...\", \"events\": N}"}});
    }
    std::unique_lock<std::mutex> lock(trial_mu_, std::try_to_lock);
    if (!lock) return reply_json(res, 429, {{"error", "another trial is running"}});
    const json& n = body.contains("events") ? body["events"] : json(config_.dashboard.sample_events);
    const std::size_t events = n.is_number_unsigned() ? n.get<std::size_t>() : config_.dashboard.sample_events;
    const auto out = try_rule_text(config_, body["sql"].get<std::string>(), hub_.sample(), events, TrialLimits{});
    json rows = json::array();
    for (const auto& e : out.rows) {
      json p = json::parse(e.payload, nullptr, false);
      rows.push_back({{"rule", e.rule}, {"topic", e.topic}, {"row", p.is_discarded() ? json(e.payload) : p}});
    }
    reply_json(res, 200, {{"errors", error_list(out.check.errors)}, {"rules", out.check.rules}, {"rows", rows},
                          {"events", out.events}, {"truncated", out.truncated}});
  });

  // State changes: only with a token from dashboard-auth-file; without one configured, never.
  auto guarded = [this](const std::string& what, const std::function<void(const json&, httplib::Response&)>& fn) {
    return [this, what, fn](const httplib::Request& req, httplib::Response& res) {
      if (config_.dashboard.token_sha256.empty()) {
        return reply_json(res, 403, {{"ok", false}, {"error", what + " needs dashboard-auth-file (the dashboard is read-only without it)"}});
      }
      if (!authorized(req.get_header_value("Authorization"))) {
        res.set_header("WWW-Authenticate", "Bearer");
        spdlog::warn("dashboard: {} refused: missing or wrong token (from {})", what, req.remote_addr);
        return reply_json(res, 401, {{"ok", false}, {"error", what + " needs a valid token"}});
      }
      const json body = body_object(req);
      if (!body.is_object()) return reply_json(res, 400, {{"ok", false}, {"error", "expected a JSON object"}});
      fn(body, res);
    };
  };
  auto run_on_worker = [this](json request, httplib::Response& res) {
    auto reply = ops_.dashboard_requests().submit(request.dump());
    if (!reply) return reply_json(res, 429, {{"ok", false}, {"error", "too many requests waiting"}});
    if (reply->wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      return reply_json(res, 504, {{"ok", false}, {"error", "the worker did not answer within 10 s"}});
    }
    json r = json::parse(reply->get(), nullptr, false);
    reply_json(res, r.is_object() && r.value("ok", false) ? 200 : 422, r);
  };
  s.Post("/api/deploy", guarded("deploy", [this, run_on_worker](const json& body, httplib::Response& res) {
    if (!body.contains("sql") || !body["sql"].is_string()) return reply_json(res, 400, {{"ok", false}, {"error", "expected {\"sql\": \"...\"}"}});
    const std::string sql = body["sql"].get<std::string>();
    CheckOutcome check;
    {
      std::lock_guard<std::mutex> lock(trial_mu_);
      check = check_rule_text(config_, sql);
    }
    if (!check.errors.empty()) return reply_json(res, 422, {{"ok", false}, {"error", "the rule has errors"}, {"errors", error_list(check.errors)}});
    if (check.rules.size() != 1) return reply_json(res, 422, {{"ok", false}, {"error", "deploy one CREATE RULE at a time"}});
    const std::string& rule = check.rules[0];
    bool exists = false;
    for (const auto& n : hub_.rule_names()) exists = exists || n == rule;
    spdlog::info("dashboard: deploying rule '{}'", rule);
    run_on_worker({{"op", exists ? "replace" : "add"}, {"rule", rule}, {"sql", sql}}, res);
  }));
  for (const char* op : {"pause", "resume"}) {
    s.Post(std::string("/api/") + op, guarded(op, [op, run_on_worker](const json& body, httplib::Response& res) {
      if (!body.contains("rule") || !body["rule"].is_string()) return reply_json(res, 400, {{"ok", false}, {"error", "expected {\"rule\": \"name\"}"}});
      run_on_worker({{"op", op}, {"rule", body["rule"]}}, res);
    }));
  }
}

}  // namespace streamgate::gateway::dashboard
