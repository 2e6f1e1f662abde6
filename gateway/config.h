// Configuration of the `run` command: an INI file (--config) and the command line, the command
// line winning. Parsing never exits the process: it returns either a Config, a text to print
// (--help, --version) or one error line, and main turns the error into exit code 2.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace streamgate::gateway {

//! What the MQTT receive callback does when the ingress ring is full (docs/configuration.md):
//! Spill (default): with a state db, the message is journaled and the worker reads it back once
//! it caught up (nothing lost, memory stays bounded; without a state db QoS 0 is dropped and
//! QoS >= 1 left with Paho); DropNewest: dropped and counted; Block: left with Paho, which offers
//! it again later (nothing lost; Paho's queue grows meanwhile).
enum class RingFullPolicy : std::uint8_t { Spill, DropNewest, Block };
const char* to_string(RingFullPolicy p);

enum class MqttVersion : std::uint8_t { V311, V5 };

//! MQTT topics longer than this are refused (counted as drops{reason="topic_too_long"}).
inline constexpr std::size_t kMaxTopicBytes = 1024;

struct BrokerConfig {
  std::string url = "tcp://127.0.0.1:1883";  //!< tcp://host:port or ssl://host:port
  std::string client_id;
  std::string username;
  std::string password;  //!< from --password-file or $STREAMGATE_PASSWORD; never logged
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  bool tls_verify = true;
  MqttVersion version = MqttVersion::V311;
  bool clean_session = true;
  std::chrono::seconds keepalive{30};
  std::chrono::milliseconds reconnect_min{500};
  std::chrono::milliseconds reconnect_max{30'000};
};

struct Subscription {
  std::string filter;
  int qos = 1;
};

//! Cluster mode (docs/scaling-out.md): input, results, checkpoints and leases in NATS
//! JetStream. Off (single box) while `url` is empty.
struct ClusterConfig {
  std::string url;         //!< nats://host:port[,nats://...]; tls:// for TLS (tls-* options apply)
  std::string creds_file;  //!< NATS credentials file (JWT + seed)
  int partitions = 64;     //!< P of the server's subject mapping part.{{partition(P,1)}}...
  //! Payload field carrying the topic token the server partitions by: per-key rules must be
  //! keyed by it (rules/cluster/partition_check.h).
  std::string partition_field = "device";
  std::chrono::milliseconds lease_ttl{10'000};  //!< bound on a takeover after an instance dies
  std::string instance_id;                     //!< default: client-id + "-" + pid
  std::string input_stream = "STREAMGATE_IN";
  std::string subject_prefix = "part";         //!< input subjects are <prefix>.<partition>.<topic>
  std::string results_stream = "STREAMGATE_RESULTS";
  std::vector<std::string> results_subjects;   //!< default: the rules' output topics
  std::string state_bucket = "streamgate_state";
  std::string lease_bucket = "streamgate_leases";
  int replicas = 0;                            //!< 0: 3 when the cluster has 3+ servers, else 1
  int fetch_batch = 256;
  std::chrono::milliseconds dedup_window{120'000};
};

struct Config {
  std::optional<std::string> config_file;
  ClusterConfig cluster;
  BrokerConfig input;
  //! Publisher connection; same broker as `input` unless --output-broker is given.
  BrokerConfig output;
  bool separate_output = false;
  std::vector<std::string> extra_subscriptions;  //!< besides the streams' TOPIC filters
  int qos = 1;                                  //!< subscription QoS
  std::string rules_dir = "/etc/streamgate/rules.d";
  //! Function plugins (*.so, docs/plugins.md); empty: none. Loaded at start and on rule reloads.
  std::string plugins_dir;
  std::string state_db = "/var/lib/streamgate/state.db";  //!< empty: no durable state
  //! Where rules added over the control topic are written and read back from, after rules_dir.
  //! Default: `control-rules/` next to state_db (the unit's writable StateDirectory: /etc is
  //! read-only under ProtectSystem=strict); rules_dir itself when there is no state db.
  std::string control_rules_dir;
  //! Unusable state database: true = exit with an error, false = run in memory, warn loudly.
  bool state_required = false;
  std::chrono::milliseconds checkpoint_interval{2'000};
  std::size_t outbox_max_messages = 1'000'000;
  //! Outbox rows handed to the broker before their acknowledgement: the most results a crash
  //! can make the next start send twice (same id). Lower = fewer repeats, slower over long RTTs.
  std::size_t outbox_inflight = 256;
  //! Results the MQTT client may hold unsent or unacknowledged (broker away or not reading); when
  //! full, publishing waits (the worker stops, input backs up into the ingress ring and its policy).
  std::size_t output_buffer = 10'000;
  //! Non-empty: results with a deterministic id get it as this JSON field (MQTT 3.1.1 consumers;
  //! MQTT 5 output always carries it as the `result_id` user property).
  std::string result_id_field;
  std::string log_level = "info";
  std::size_t ring_capacity = 4096;
  RingFullPolicy ring_full_policy = RingFullPolicy::Spill;
  std::size_t max_payload_bytes = 64 * 1024;
  //! Per-rule bounds on state that grows with the data (passed to the engine): new keys,
  //! windows, rows or distinct values beyond them are refused, counted in
  //! streamgate_rule_drops_total and logged at most every 10 s per rule and bound.
  struct RuleBounds {
    std::size_t max_group_keys = 100'000;  //!< also pattern partitions and alert keys
    std::size_t max_open_windows = 10'000;
    std::size_t max_rows_per_window = 100'000;
    std::size_t max_pending_events = 100'000;
    std::size_t max_distinct_values = 100'000;
    std::size_t max_dedup_ids = 1'000'000;  //!< per stream with EVENT_ID
    std::size_t max_table_rows = 100'000;   //!< per CREATE TABLE
  } rule_bounds;
  std::string dead_letter_topic;  //!< empty: bad messages are only counted and logged
  std::chrono::milliseconds tick_interval{100};
  //! After a busy spell the worker waits this long for more messages before handling them (one
  //! wake-up per batch instead of per message; adds up to this much latency). 0: wake per message.
  std::chrono::microseconds batch_delay{500};
  std::chrono::milliseconds shutdown_timeout{5'000};
  // Operations (docs/operations.md: "Control topic", "Metrics", "Editing rules and hot reload").
  bool watch_rules = true;          //!< inotify on rules_dir: reload when a *.sql file changes
  std::string control_topic;        //!< empty: control over MQTT is off
  std::string control_secret;       //!< from control-secret-file; empty: no HMAC required
  std::string metrics_listen;       //!< "127.0.0.1:9108"; empty: no HTTP endpoint
  std::string metrics_topic;        //!< empty: no periodic metrics message
  std::chrono::milliseconds metrics_interval{10'000};
  //! The built-in dashboard (docs/dashboard.md).
  struct Dashboard {
    std::string listen;  //!< "127.0.0.1:8080"; empty: off
    std::string auth_file;
    //! SHA-256 (lowercase hex) of each accepted bearer token, from auth_file.
    std::vector<std::string> token_sha256;
    std::size_t max_clients = 16;
    std::size_t client_queue = 256;  //!< SSE messages waiting per client before it is dropped
    std::size_t sample_events = 2000;  //!< recent input events kept for the editor's "try it"
  } dashboard;
};

struct ParseOutcome {
  //! Exactly one of: a config to run with, a text to print on stdout and exit 0, or an error.
  std::optional<Config> config;
  std::string print;
  std::string error;  //!< one line, without the program name prefix
};

//! Parses the `run` command's arguments (argv[0] is skipped). `env` looks up environment
//! variables (tests pass their own).
ParseOutcome parse_config(const std::vector<std::string>& args,
                          const std::function<const char*(const char*)>& env);
ParseOutcome parse_config(const std::vector<std::string>& args);

//! "500ms", "5s", "2m", "1h"; a bare number means seconds.
std::optional<std::chrono::milliseconds> parse_duration_ms(const std::string& text);

std::string version_string();

}  // namespace streamgate::gateway
