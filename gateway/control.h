// Control over MQTT (off by default): JSON requests on `control-topic` to list rules, show their
// status, add/replace/remove a rule (persisted as files in the rules directory, so a restart keeps
// them) and pause/resume. Requests are processed on the worker thread, between two messages,
// like any other message of the ingress ring; nothing here locks.
//
// Request: {"op":"list"|"status"|"add"|"replace"|"remove"|"pause"|"resume",
//           "rule":"name", "sql":"CREATE RULE ...", "id":"any", "reply_to":"topic"}
// With a shared secret the request is wrapped: {"payload":"<request JSON text>","hmac":"<hex>"},
// hmac = lowercase hex HMAC-SHA256(secret, the exact bytes of the "payload" string). Signing the
// string as sent avoids any JSON canonicalisation question.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/metrics.h"
#include "rules/engine.h"

namespace streamgate::gateway {

//! Lowercase hex HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
//! Constant-time comparison of the expected MAC with the given hex (either case).
bool verify_hmac(std::string_view key, std::string_view data, std::string_view hex);

//! The request object of a control message. With a `secret` the message must be the HMAC
//! wrapper (see above) and the MAC must match. nullopt with the reason in `error` otherwise.
std::optional<nlohmann::json> unwrap_control_request(std::string_view message, const std::string& secret,
                                                     std::string& error);
//! The request's "reply_to" when it is a usable topic (no wildcards), else `fallback`.
std::string control_reply_topic(const nlohmann::json& req, const std::string& fallback);

struct ControlReply {
  std::string topic;
  std::string payload;  //!< JSON
};

class ControlHandler {
 public:
  using Files = std::vector<std::pair<std::string, std::string>>;
  //! Applies a complete rule set (the pipeline's reload path); returns the errors, empty on success.
  using ReloadFn = std::function<std::vector<rules::RuleError>(const Files&)>;

  //! Rules added here are written to `control_rules_dir` (created on first use); replace and
  //! remove edit the file the rule comes from (`rules_dir` or `control_rules_dir`).
  ControlHandler(std::string topic, std::string secret, std::string rules_dir,
                 std::string control_rules_dir, ControlStats& stats);

  const std::string& topic() const { return topic_; }
  std::string reply_topic() const { return topic_ + "/reply"; }

  //! One request (the raw MQTT payload). Always produces a reply.
  ControlReply handle(std::string_view message, rules::Engine& engine, const ReloadFn& reload);

 private:
  std::string topic_;
  std::string secret_;
  std::string rules_dir_;
  std::string control_rules_dir_;
  ControlStats& stats_;
};

//! Rule names accepted over the control topic (they become file names): [A-Za-z0-9_]{1,64}.
bool valid_control_rule_name(std::string_view name);

}  // namespace streamgate::gateway
