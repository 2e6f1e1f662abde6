// Option table, INI + command-line parsing and validation of the `run` command.
#include "gateway/config.h"

#include <unistd.h>

#include <bit>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/program_options.hpp>

#ifndef STREAMGATE_VERSION
#define STREAMGATE_VERSION "0.0.0"
#endif

namespace po = boost::program_options;

namespace streamgate::gateway {

const char* to_string(RingFullPolicy p) {
  return p == RingFullPolicy::Block ? "block" : p == RingFullPolicy::Spill ? "spill" : "drop-newest";
}

std::string version_string() { return "streamgate " STREAMGATE_VERSION; }

std::optional<std::chrono::milliseconds> parse_duration_ms(const std::string& text) {
  // Sum of <number><unit> parts ("1m30s"); a bare number is seconds.
  if (text.empty()) return std::nullopt;
  double total_ms = 0;
  std::size_t i = 0;
  bool any = false;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) return std::nullopt;
    double number = 0;
    try {
      std::size_t used = 0;
      number = std::stod(text.substr(start, i - start), &used);
      if (used != i - start) return std::nullopt;
    } catch (...) {
      return std::nullopt;
    }
    std::size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string unit = text.substr(ustart, i - ustart);
    double scale = 0;
    if (unit.empty()) {
      if (i != text.size() || any) return std::nullopt;  // bare number only on its own
      scale = 1000;
    } else if (unit == "ms") {
      scale = 1;
    } else if (unit == "s") {
      scale = 1000;
    } else if (unit == "m" || unit == "min") {
      scale = 60'000;
    } else if (unit == "h") {
      scale = 3'600'000;
    } else {
      return std::nullopt;
    }
    total_ms += number * scale;
    any = true;
  }
  if (total_ms < 0 || total_ms > 1e12) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(total_ms + 0.5));
}

namespace {

struct BadValue {
  std::string message;
};

std::optional<bool> parse_bool(const std::string& v) {
  std::string s;
  for (char c : v) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  return std::nullopt;
}

std::optional<std::uint64_t> parse_uint(const std::string& v) {
  if (v.empty() || v.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : v) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

//! "64KiB", "1MiB", "1000" bytes.
std::optional<std::uint64_t> parse_size(const std::string& v) {
  std::size_t i = 0;
  while (i < v.size() && std::isdigit(static_cast<unsigned char>(v[i]))) ++i;
  auto n = parse_uint(v.substr(0, i));
  if (!n) return std::nullopt;
  std::string unit = v.substr(i);
  std::uint64_t scale = 1;
  if (unit.empty() || unit == "B") scale = 1;
  else if (unit == "KiB" || unit == "K" || unit == "k") scale = 1024;
  else if (unit == "MiB" || unit == "M") scale = 1024 * 1024;
  else return std::nullopt;
  return *n * scale;
}

void check_broker_url(const std::string& option, const std::string& url) {
  static const char* const kSchemes[] = {"tcp://", "ssl://", "mqtt://", "mqtts://", "ws://", "wss://"};
  for (const char* scheme : kSchemes) {
    std::string s(scheme);
    if (url.rfind(s, 0) == 0) {
      std::string rest = url.substr(s.size());
      auto colon = rest.rfind(':');
      if (rest.empty() || colon == 0) break;
      if (colon != std::string::npos) {
        std::string port = rest.substr(colon + 1);
        auto slash = port.find('/');
        if (slash != std::string::npos) port = port.substr(0, slash);
        auto p = parse_uint(port);
        if (!p || *p == 0 || *p > 65535) {
          throw BadValue{"option '" + option + "': bad port in '" + url + "'"};
        }
      }
      return;
    }
  }
  throw BadValue{"option '" + option + "': '" + url +
                 "' is not a broker URL (expected tcp://HOST:PORT or ssl://HOST:PORT)"};
}

std::string default_client_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "streamgate";
  return std::string("streamgate-") + host;
}

std::string read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw BadValue{"option 'password-file': cannot read '" + path + "'"};
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

void parse_cluster_options(const po::variables_map& vm, Config& c) {
  auto str = [&](const char* name) { return vm[name].as<std::string>(); };
  ClusterConfig& k = c.cluster;
  if (vm.count("cluster-url")) {
    k.url = str("cluster-url");
    if (k.url.empty()) throw BadValue{"option 'cluster-url': empty URL"};
  }
  if (vm.count("cluster-creds-file")) k.creds_file = str("cluster-creds-file");
  auto number = [&](const char* name, std::uint64_t lo, std::uint64_t hi) {
    auto v = parse_uint(str(name));
    if (!v || *v < lo || *v > hi) {
      throw BadValue{std::string("option '") + name + "': '" + str(name) + "' is not a number between " +
                     std::to_string(lo) + " and " + std::to_string(hi)};
    }
    return static_cast<int>(*v);
  };
  k.partitions = number("cluster-partitions", 1, 1024);
  k.partition_field = str("cluster-partition-field");
  if (k.partition_field.empty()) throw BadValue{"option 'cluster-partition-field': empty field name"};
  k.replicas = number("cluster-replicas", 0, 5);
  k.fetch_batch = number("cluster-fetch-batch", 1, 10'000);
  auto ttl = parse_duration_ms(str("cluster-lease-ttl"));
  if (!ttl || ttl->count() < 1000) throw BadValue{"option 'cluster-lease-ttl': must be a duration of at least 1s"};
  k.lease_ttl = *ttl;
  auto dedup = parse_duration_ms(str("cluster-dedup-window"));
  if (!dedup || dedup->count() < 1000) throw BadValue{"option 'cluster-dedup-window': must be a duration of at least 1s"};
  k.dedup_window = *dedup;
  k.instance_id = vm.count("cluster-instance-id") ? str("cluster-instance-id")
                                                  : c.input.client_id + "-" + std::to_string(::getpid());
  auto name = [&](const char* option, std::string& into) {
    if (vm.count(option)) into = str(option);
    if (into.empty() || into.find_first_of(" .*>/\\") != std::string::npos) {
      throw BadValue{std::string("option '") + option + "': '" + into + "' is not a plain name"};
    }
  };
  name("cluster-instance-id", k.instance_id);
  name("cluster-input-stream", k.input_stream);
  name("cluster-results-stream", k.results_stream);
  name("cluster-subject-prefix", k.subject_prefix);
  if (vm.count("cluster-results-subject")) k.results_subjects = vm["cluster-results-subject"].as<std::vector<std::string>>();
}

struct OptionTables {
  po::options_description generic{"General"};
  po::options_description file{"Options (command line --NAME=VALUE, or NAME = VALUE in the config file)"};
  po::options_description all;
};

void fill_option_tables(OptionTables& t) {
  po::options_description& generic = t.generic;
  generic.add_options()
      ("help,h", "print this help and exit")
      ("version,V", "print the version and exit")
      ("config,c", po::value<std::string>(), "INI file with any of the options below (command line wins)");

  t.file.add_options()
      ("broker", po::value<std::string>()->default_value("tcp://127.0.0.1:1883"), "input broker URL: tcp://HOST:PORT or ssl://HOST:PORT")
      ("client-id", po::value<std::string>(), "MQTT client id (default streamgate-<hostname>; keep it stable for persistent sessions)")
      ("username", po::value<std::string>(), "MQTT user name")
      ("password-file", po::value<std::string>(), "file holding the MQTT password (else $STREAMGATE_PASSWORD); never logged")
      ("tls-ca-file", po::value<std::string>(), "CA bundle for ssl:// (default: system trust store)")
      ("tls-cert-file", po::value<std::string>(), "client certificate (PEM) for ssl://")
      ("tls-key-file", po::value<std::string>(), "client private key (PEM) for ssl://")
      ("tls-verify", po::value<std::string>()->default_value("true"), "verify the broker's certificate and host name")
      ("subscribe", po::value<std::vector<std::string>>()->composing(), "extra topic filter to subscribe to, besides the streams' TOPIC filters (repeatable)")
      ("qos", po::value<std::string>()->default_value("1"), "subscription QoS: 0, 1 or 2")
      ("mqtt-version", po::value<std::string>()->default_value("3.1.1"), "MQTT protocol version: 3.1.1 or 5")
      ("clean-session", po::value<std::string>()->default_value("true"), "true: clean session; false: persistent session (broker keeps subscriptions and queued QoS>0 messages)")
      ("keepalive", po::value<std::string>()->default_value("30s"), "MQTT keep-alive interval")
      ("reconnect-min", po::value<std::string>()->default_value("500ms"), "first reconnect delay (doubles per failure)")
      ("reconnect-max", po::value<std::string>()->default_value("30s"), "longest reconnect delay")
      ("output-broker", po::value<std::string>(), "broker for results (default: the input broker, same connection)")
      ("output-client-id", po::value<std::string>(), "client id of the output connection (default: <client-id>-out)")
      ("rules-dir", po::value<std::string>()->default_value("/etc/streamgate/rules.d"), "directory of *.sql rule files")
      ("plugins-dir", po::value<std::string>(), "directory of function plugins (*.so, docs/plugins.md), loaded at start and on each rule reload; default: none")
      ("state-db", po::value<std::string>()->default_value("/var/lib/streamgate/state.db"), "SQLite state database path (checkpoints, input journal, outbox); empty: no durable state")
      ("control-rules-dir", po::value<std::string>(), "where rules added over the control topic are kept (default: control-rules/ next to state-db, or rules-dir without a state db)")
      ("state-required", po::value<std::string>()->default_value("false"), "true: exit with an error when the state database cannot be used; false: keep processing in memory with a loud warning")
      ("checkpoint-interval", po::value<std::string>()->default_value("2s"), "how often rule state is checkpointed to the state database")
      ("outbox-max-messages", po::value<std::string>()->default_value("1000000"), "results kept in the outbox while the output broker is away (oldest dropped, counted)")
      ("output-buffer", po::value<std::string>()->default_value("10000"), "results the MQTT client may hold unsent or unacknowledged while the broker is away or not reading (100-1000000, more than outbox-inflight); when full the worker waits and input backs up into the ingress ring")
      ("outbox-inflight", po::value<std::string>()->default_value("256"), "outbox results sent before their acknowledgement (1-65535): the most a crash can make the next start send twice (same result id)")
      ("result-id-field", po::value<std::string>(), "add each result's deterministic id to its JSON payload under this field name (e.g. _result_id), so MQTT 3.1.1 consumers can drop repeats; MQTT 5 output always carries it as the user property result_id")
      ("log-level", po::value<std::string>()->default_value("info"), "trace, debug, info, warn, error, critical or off")
      ("ring-capacity", po::value<std::string>()->default_value("4096"), "messages per ring (power of two)")
      ("ring-full-policy", po::value<std::string>()->default_value("spill"), "when the ingress ring is full: spill (journal it, read back later; the default), drop-newest (counted) or block (leave it with the MQTT client)")
      ("max-payload-bytes", po::value<std::string>()->default_value("65536"), "larger payloads are rejected and counted (suffix KiB/MiB allowed)")
      ("max-group-keys", po::value<std::string>()->default_value("100000"), "per rule: group keys of one window (also pattern partitions, alert keys); new keys beyond are refused and counted")
      ("max-open-windows", po::value<std::string>()->default_value("10000"), "per rule: windows open at once; beyond, events opening a new window are refused and counted")
      ("max-rows-per-window", po::value<std::string>()->default_value("100000"), "per rule: rows a non-aggregate window SELECT buffers in one window")
      ("max-pending-events", po::value<std::string>()->default_value("100000"), "per rule: events held back until the watermark passes them (buffered window rows, sliding CountingWindow, MATCH_RECOGNIZE reordering)")
      ("max-distinct-values", po::value<std::string>()->default_value("100000"), "per group: values kept by an aggregate(DISTINCT ...)")
      ("max-dedup-ids", po::value<std::string>()->default_value("1000000"), "per stream with EVENT_ID: event ids remembered for deduplication (oldest forgotten first)")
      ("max-table-rows", po::value<std::string>()->default_value("100000"), "per CREATE TABLE: rows held (its MAXROWS option may lower it); rows beyond are refused and counted")
      ("dead-letter-topic", po::value<std::string>(), "republish rejected messages with the reason to this topic")
      ("tick-interval", po::value<std::string>()->default_value("100ms"), "processing-time tick (idle timeouts, processing-time windows)")
      ("batch-delay", po::value<std::string>()->default_value("500us"), "under steady load, how long the worker lets messages gather before handling them as one batch (fewer wake-ups, up to this much more latency; 0 = wake per message; at most 100ms)")
      ("shutdown-timeout", po::value<std::string>()->default_value("5s"), "longest wait for draining results on shutdown")
      ("watch-rules", po::value<std::string>()->default_value("true"), "reload rules when a *.sql file in rules-dir changes (inotify); SIGHUP always reloads")
      ("control-topic", po::value<std::string>(), "enable control over MQTT on this topic, e.g. streamgate/<client-id>/control (protect it with broker ACLs)")
      ("control-secret-file", po::value<std::string>(), "file holding the shared secret: control requests must carry an HMAC-SHA256 made with it")
      ("metrics-listen", po::value<std::string>(), "serve Prometheus /metrics and /health on this HOST:PORT, e.g. 127.0.0.1:9108 (off by default)")
      ("metrics-topic", po::value<std::string>(), "publish the metrics as JSON to this topic, e.g. streamgate/<client-id>/metrics")
      ("metrics-interval", po::value<std::string>()->default_value("10s"), "how often to publish to metrics-topic")
      ("dashboard-listen", po::value<std::string>(), "serve the dashboard (and /metrics, /health) on this HOST:PORT, e.g. 127.0.0.1:8080 (off by default; a non-loopback address needs dashboard-auth-file)")
      ("dashboard-auth-file", po::value<std::string>(), "file of accepted bearer tokens, one 'token SHA256HEX' line each: deploy, pause and resume need one")
      ("dashboard-max-clients", po::value<std::string>()->default_value("16"), "live dashboard connections at once")
      ("dashboard-client-queue", po::value<std::string>()->default_value("256"), "live updates waiting per dashboard client; a client that falls further behind is dropped")
      ("dashboard-sample-events", po::value<std::string>()->default_value("2000"), "recent input events kept in memory for the rule editor's \"try it\"")
      ("cluster-url", po::value<std::string>(), "cluster mode (docs/scaling-out.md): NATS JetStream servers, nats://HOST:PORT[,nats://...] (tls:// for TLS with the tls-* options); off by default")
      ("cluster-creds-file", po::value<std::string>(), "NATS credentials file (JWT + seed) for cluster-url")
      ("cluster-partitions", po::value<std::string>()->default_value("64"), "input partitions P; must match the server's mapping part.{{partition(P,1)}}...")
      ("cluster-partition-field", po::value<std::string>()->default_value("device"), "payload field holding the topic token the server partitions by; rules whose per-key state is not keyed by it are refused in cluster mode")
      ("cluster-lease-ttl", po::value<std::string>()->default_value("10s"), "partitions of an instance that stops renewing are taken over within this time")
      ("cluster-instance-id", po::value<std::string>(), "name of this instance in the leases (default <client-id>-<pid>)")
      ("cluster-input-stream", po::value<std::string>()->default_value("STREAMGATE_IN"), "JetStream stream of the partitioned input (created if missing)")
      ("cluster-subject-prefix", po::value<std::string>()->default_value("part"), "input subjects are PREFIX.<partition>.<topic with / as .>")
      ("cluster-results-stream", po::value<std::string>()->default_value("STREAMGATE_RESULTS"), "JetStream stream results are published to, deduplicated by result id")
      ("cluster-results-subject", po::value<std::vector<std::string>>()->composing(), "subject of the results stream (repeatable; default: the rules' output topics)")
      ("cluster-replicas", po::value<std::string>()->default_value("0"), "replicas of streams and buckets; 0: 3 on a cluster of 3 or more servers, else 1")
      ("cluster-fetch-batch", po::value<std::string>()->default_value("256"), "messages fetched per partition per round")
      ("cluster-dedup-window", po::value<std::string>()->default_value("2m"), "how long the results stream remembers result ids");

  t.all.add(t.generic).add(t.file);
}

// The dashboard options; the loopback rule is checked here so that a wrong start fails with one
// line and exit code 2 before anything listens.
void parse_dashboard(Config& c, const std::function<std::string(const char*)>& opt) {
  auto& d = c.dashboard;
  auto count = [&](const char* name, std::uint64_t max) {
    auto n = parse_uint(opt(name));
    if (!n || *n == 0 || *n > max) {
      throw BadValue{std::string("option '") + name + "': '" + opt(name) + "' is not a number from 1 to " + std::to_string(max)};
    }
    return static_cast<std::size_t>(*n);
  };
  d.max_clients = count("dashboard-max-clients", 1000);
  d.client_queue = count("dashboard-client-queue", 100000);
  d.sample_events = count("dashboard-sample-events", 1000000);
  d.listen = opt("dashboard-listen");
  d.auth_file = opt("dashboard-auth-file");
  if (!d.auth_file.empty()) {
    std::ifstream in(d.auth_file);
    if (!in) throw BadValue{"option 'dashboard-auth-file': cannot read '" + d.auth_file + "'"};
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      std::istringstream ls(line);
      std::string kind, hash, extra;
      ls >> kind;
      if (kind.empty() || kind[0] == '#') continue;
      ls >> hash >> extra;
      const bool hex = hash.size() == 64 && hash.find_first_not_of("0123456789abcdef") == std::string::npos;
      if (kind != "token" || !hex || !extra.empty()) {
        throw BadValue{"option 'dashboard-auth-file': " + d.auth_file + ":" + std::to_string(n) +
                       ": expected 'token SHA256HEX' (lowercase hex of the token's SHA-256)"};
      }
      d.token_sha256.push_back(hash);
    }
    if (d.token_sha256.empty()) throw BadValue{"option 'dashboard-auth-file': '" + d.auth_file + "' holds no token"};
  }
  if (d.listen.empty()) return;
  std::string host = d.listen;
  const auto colon = host.rfind(':');
  auto port = colon == std::string::npos ? std::nullopt : parse_uint(host.substr(colon + 1));
  if (colon == 0 || colon == std::string::npos || !port || *port > 65535) {
    throw BadValue{"option 'dashboard-listen': '" + d.listen + "' is not HOST:PORT (e.g. 127.0.0.1:8080)"};
  }
  host.resize(colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
  if (!loopback && d.token_sha256.empty()) {
    throw BadValue{"option 'dashboard-listen': " + d.listen +
                   " is not a loopback address; set dashboard-auth-file to serve the dashboard beyond this machine"};
  }
}

}  // namespace

ParseOutcome parse_config(const std::vector<std::string>& args) {
  return parse_config(args, [](const char* name) -> const char* { return std::getenv(name); });
}

ParseOutcome parse_config(const std::vector<std::string>& args,
                          const std::function<const char*(const char*)>& env) {
  ParseOutcome out;
  OptionTables tables;
  fill_option_tables(tables);
  const po::options_description& table = tables.all;
  po::variables_map vm;
  try {
    std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
    po::store(po::command_line_parser(rest).options(table).run(), vm);
    if (vm.count("help")) {
      std::ostringstream os;
      os << "usage: streamgate [run] [--config FILE] [options]\n"
            "       streamgate replay --rules PATH [--input FILE.jsonl] [--topic TOPIC]\n"
            "       streamgate check-rules PATH...\n\n"
         << table;
      out.print = os.str();
      return out;
    }
    if (vm.count("version")) {
      out.print = version_string() + "\n";
      return out;
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) {
        out.error = "cannot read config file '" + path + "'";
        return out;
      }
      try {
        po::store(po::parse_config_file(in, tables.file, false), vm);
      } catch (const po::error& e) {
        out.error = path + ": " + e.what();
        return out;
      }
    }
    po::notify(vm);
  } catch (const po::error& e) {
    out.error = e.what();
    return out;
  }

  try {
    Config c;
    auto str = [&](const char* name) { return vm[name].as<std::string>(); };
    auto duration = [&](const char* name) {
      auto d = parse_duration_ms(str(name));
      if (!d) throw BadValue{std::string("option '") + name + "': '" + str(name) + "' is not a duration (e.g. 500ms, 5s, 2m)"};
      return *d;
    };
    auto boolean = [&](const char* name) {
      auto b = parse_bool(str(name));
      if (!b) throw BadValue{std::string("option '") + name + "': '" + str(name) + "' is not true or false"};
      return *b;
    };
    if (vm.count("config")) c.config_file = str("config");

    BrokerConfig& in = c.input;
    in.url = str("broker");
    check_broker_url("broker", in.url);
    in.client_id = vm.count("client-id") ? str("client-id") : default_client_id();
    if (in.client_id.empty()) throw BadValue{"option 'client-id': must not be empty"};
    if (vm.count("username")) in.username = str("username");
    if (vm.count("password-file")) {
      in.password = read_secret_file(str("password-file"));
    } else if (const char* p = env("STREAMGATE_PASSWORD")) {
      in.password = p;
    }
    if (vm.count("tls-ca-file")) in.tls_ca_file = str("tls-ca-file");
    if (vm.count("tls-cert-file")) in.tls_cert_file = str("tls-cert-file");
    if (vm.count("tls-key-file")) in.tls_key_file = str("tls-key-file");
    in.tls_verify = boolean("tls-verify");
    const std::string version = str("mqtt-version");
    if (version == "3.1.1" || version == "4" || version == "311") in.version = MqttVersion::V311;
    else if (version == "5" || version == "5.0") in.version = MqttVersion::V5;
    else throw BadValue{"option 'mqtt-version': '" + version + "' is not 3.1.1 or 5"};
    in.clean_session = boolean("clean-session");
    auto keepalive = duration("keepalive");
    if (keepalive.count() < 1000 || keepalive.count() > 65535LL * 1000) {
      throw BadValue{"option 'keepalive': must be between 1s and 65535s"};
    }
    in.keepalive = std::chrono::duration_cast<std::chrono::seconds>(keepalive);
    in.reconnect_min = duration("reconnect-min");
    in.reconnect_max = duration("reconnect-max");
    if (in.reconnect_min.count() <= 0) throw BadValue{"option 'reconnect-min': must be > 0"};
    if (in.reconnect_max < in.reconnect_min) {
      throw BadValue{"option 'reconnect-max': must be >= reconnect-min"};
    }

    auto qos = parse_uint(str("qos"));
    if (!qos || *qos > 2) throw BadValue{"option 'qos': '" + str("qos") + "' is not 0, 1 or 2"};
    c.qos = static_cast<int>(*qos);
    if (vm.count("subscribe")) {
      c.extra_subscriptions = vm["subscribe"].as<std::vector<std::string>>();
      for (const auto& f : c.extra_subscriptions) {
        if (f.empty()) throw BadValue{"option 'subscribe': empty topic filter"};
      }
    }

    c.output = in;
    if (vm.count("output-broker")) {
      c.output.url = str("output-broker");
      check_broker_url("output-broker", c.output.url);
      c.separate_output = true;
    }
    c.output.client_id = vm.count("output-client-id") ? str("output-client-id") : in.client_id + "-out";
    if (vm.count("output-client-id") && !c.separate_output) {
      throw BadValue{"option 'output-client-id': needs output-broker"};
    }

    c.rules_dir = str("rules-dir");
    if (vm.count("plugins-dir")) {
      c.plugins_dir = str("plugins-dir");
      if (c.plugins_dir.empty()) throw BadValue{"option 'plugins-dir': empty path"};
    }
    c.state_db = str("state-db");
    if (vm.count("control-rules-dir")) {
      c.control_rules_dir = str("control-rules-dir");
      if (c.control_rules_dir.empty()) throw BadValue{"option 'control-rules-dir': empty path"};
    } else if (!c.state_db.empty()) {
      c.control_rules_dir = (std::filesystem::path(c.state_db).parent_path() / "control-rules").string();
    } else {
      c.control_rules_dir = c.rules_dir;
    }
    c.log_level = str("log-level");
    static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    bool level_ok = false;
    for (const char* l : kLevels) level_ok = level_ok || c.log_level == l;
    if (!level_ok) {
      throw BadValue{"option 'log-level': '" + c.log_level + "' is not one of trace, debug, info, warn, error, critical, off"};
    }

    auto cap = parse_uint(str("ring-capacity"));
    if (!cap || *cap < 2 || *cap > (1u << 24) || !std::has_single_bit(*cap)) {
      throw BadValue{"option 'ring-capacity': '" + str("ring-capacity") + "' is not a power of two between 2 and 16777216"};
    }
    c.ring_capacity = static_cast<std::size_t>(*cap);
    const std::string policy = str("ring-full-policy");
    if (policy == "spill") c.ring_full_policy = RingFullPolicy::Spill;
    else if (policy == "drop-newest") c.ring_full_policy = RingFullPolicy::DropNewest;
    else if (policy == "block") c.ring_full_policy = RingFullPolicy::Block;
    else throw BadValue{"option 'ring-full-policy': '" + policy + "' is not spill, drop-newest or block"};
    auto max_payload = parse_size(str("max-payload-bytes"));
    if (!max_payload || *max_payload == 0 || *max_payload > 256ull * 1024 * 1024) {
      throw BadValue{"option 'max-payload-bytes': '" + str("max-payload-bytes") + "' is not a size between 1 and 256MiB"};
    }
    c.max_payload_bytes = static_cast<std::size_t>(*max_payload);
    auto bound = [&](const char* name, std::size_t& into) {
      auto v = parse_uint(str(name));
      if (!v || *v == 0 || *v > 100'000'000) {
        throw BadValue{std::string("option '") + name + "': '" + str(name) + "' is not a number between 1 and 100000000"};
      }
      into = static_cast<std::size_t>(*v);
    };
    bound("max-group-keys", c.rule_bounds.max_group_keys);
    bound("max-open-windows", c.rule_bounds.max_open_windows);
    bound("max-rows-per-window", c.rule_bounds.max_rows_per_window);
    bound("max-pending-events", c.rule_bounds.max_pending_events);
    bound("max-distinct-values", c.rule_bounds.max_distinct_values);
    bound("max-dedup-ids", c.rule_bounds.max_dedup_ids);
    bound("max-table-rows", c.rule_bounds.max_table_rows);
    // Slots are preallocated (address space, touched lazily): keep the product sane, 32-bit too.
    if (static_cast<std::uint64_t>(c.ring_capacity) * (c.max_payload_bytes + 1024) > (1ull << 30)) {
      throw BadValue{"options 'ring-capacity' x 'max-payload-bytes' exceed 1 GiB of ring buffers; lower one of them"};
    }
    if (vm.count("dead-letter-topic")) {
      c.dead_letter_topic = str("dead-letter-topic");
      if (c.dead_letter_topic.find_first_of("+#") != std::string::npos) {
        throw BadValue{"option 'dead-letter-topic': wildcards are not allowed in a topic"};
      }
    }
    c.tick_interval = duration("tick-interval");
    if (c.tick_interval.count() < 1) throw BadValue{"option 'tick-interval': must be >= 1ms"};
    c.shutdown_timeout = duration("shutdown-timeout");
    {
      // Sub-millisecond values matter here: "500us" as well as the usual "1ms", "0".
      const std::string d = str("batch-delay");
      std::optional<std::chrono::microseconds> us;
      if (d.size() > 2 && d.size() <= 10 && d.compare(d.size() - 2, 2, "us") == 0 &&
          d.find_first_not_of("0123456789") == d.size() - 2) {
        us = std::chrono::microseconds(std::stoll(d.substr(0, d.size() - 2)));
      } else if (d == "0") {
        us = std::chrono::microseconds(0);
      } else if (auto ms = parse_duration_ms(d)) {
        us = *ms;
      }
      if (!us || *us > std::chrono::milliseconds(100)) {
        throw BadValue{"option 'batch-delay': '" + d + "' is not a duration from 0 to 100ms (e.g. 500us, 1ms)"};
      }
      c.batch_delay = *us;
    }
    c.watch_rules = boolean("watch-rules");
    auto plain_topic = [&](const char* name) {
      std::string t = str(name);
      if (t.empty() || t.find_first_of("+#") != std::string::npos) {
        throw BadValue{std::string("option '") + name + "': '" + t + "' is not a topic (no wildcards)"};
      }
      return t;
    };
    if (vm.count("control-topic")) c.control_topic = plain_topic("control-topic");
    if (vm.count("control-secret-file")) {
      if (c.control_topic.empty()) throw BadValue{"option 'control-secret-file': needs control-topic"};
      std::ifstream in(str("control-secret-file"), std::ios::binary);
      if (!in) throw BadValue{"option 'control-secret-file': cannot read '" + str("control-secret-file") + "'"};
      std::stringstream ss;
      ss << in.rdbuf();
      c.control_secret = ss.str();
      while (!c.control_secret.empty() && (c.control_secret.back() == '\n' || c.control_secret.back() == '\r')) {
        c.control_secret.pop_back();
      }
      if (c.control_secret.empty()) throw BadValue{"option 'control-secret-file': the file is empty"};
    }
    if (vm.count("metrics-listen")) {
      c.metrics_listen = str("metrics-listen");
      const auto colon = c.metrics_listen.rfind(':');
      auto port = colon == std::string::npos ? std::nullopt : parse_uint(c.metrics_listen.substr(colon + 1));
      if (colon == 0 || !port || *port > 65535) {
        throw BadValue{"option 'metrics-listen': '" + c.metrics_listen + "' is not HOST:PORT (e.g. 127.0.0.1:9108)"};
      }
    }
    if (vm.count("metrics-topic")) c.metrics_topic = plain_topic("metrics-topic");
    parse_dashboard(c, [&](const char* name) { return vm.count(name) ? str(name) : std::string(); });
    c.metrics_interval = duration("metrics-interval");
    if (c.metrics_interval.count() < 100) throw BadValue{"option 'metrics-interval': must be >= 100ms"};
    c.state_required = boolean("state-required");
    c.checkpoint_interval = duration("checkpoint-interval");
    if (c.checkpoint_interval.count() < 10) throw BadValue{"option 'checkpoint-interval': must be >= 10ms"};
    auto outbox_max = parse_uint(str("outbox-max-messages"));
    if (!outbox_max || *outbox_max == 0) {
      throw BadValue{"option 'outbox-max-messages': '" + str("outbox-max-messages") + "' is not a positive number"};
    }
    c.outbox_max_messages = static_cast<std::size_t>(*outbox_max);
    auto inflight = parse_uint(str("outbox-inflight"));
    if (!inflight || *inflight == 0 || *inflight > 65535) {
      throw BadValue{"option 'outbox-inflight': '" + str("outbox-inflight") + "' is not a number between 1 and 65535"};
    }
    c.outbox_inflight = static_cast<std::size_t>(*inflight);
    auto output_buffer = parse_uint(str("output-buffer"));
    if (!output_buffer || *output_buffer < 100 || *output_buffer > 1'000'000 || *output_buffer <= c.outbox_inflight) {
      throw BadValue{"option 'output-buffer': '" + str("output-buffer") +
                     "' is not a number from 100 to 1000000 greater than outbox-inflight (" +
                     std::to_string(c.outbox_inflight) + ")"};
    }
    c.output_buffer = static_cast<std::size_t>(*output_buffer);
    if (vm.count("result-id-field")) {
      c.result_id_field = str("result-id-field");
      for (const char ch : c.result_id_field) {
        if (static_cast<unsigned char>(ch) < 0x20 || ch == '"' || ch == '\\') {
          throw BadValue{"option 'result-id-field': '" + c.result_id_field + "' must be a plain field name"};
        }
      }
      if (c.result_id_field.empty()) throw BadValue{"option 'result-id-field': empty field name"};
    }
    parse_cluster_options(vm, c);
    out.config = std::move(c);
  } catch (const BadValue& e) {
    out.error = e.message;
  }
  return out;
}

}  // namespace streamgate::gateway
