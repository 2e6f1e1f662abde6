// libFuzzer target for the gateway's ingest path: payload bytes -> Engine::on_message (simdjson
// parse, payload checks, field extraction incl. nested paths, TIMESTAMP, EVENT_ID dedup) -> rules
// -> results. Any input must be accepted or rejected with a reason, never crash; every result
// must be a JSON object; rule state must survive a checkpoint round trip (CBOR, as storage/
// writes it) at any point.
//
// The first input byte picks the topic (so one corpus covers every stream); the rest is the
// payload. Engine bounds are small so state stays small over millions of runs.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "rules/engine.h"

namespace {

using streamgate::rules::Emission;
using streamgate::rules::Engine;
using streamgate::rules::EngineOptions;
using streamgate::rules::IngestStatus;

const char* const kRules = R"sql(
CREATE STREAM ev WITH (TOPIC = 'f/ev', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '1s', EVENT_ID = 'id');
CREATE STREAM nested WITH (TOPIC = 'f/nested', TIMESTAMP = 'meta.time');
CREATE STREAM raw WITH (TOPIC = 'f/raw');

CREATE RULE per_key WITH (TOPIC = 'o/per_key') AS
SELECT key, count(*) AS n, sum(v) AS s, avg(v) AS a, min(v) AS lo, max(v) AS hi, collect(id) AS ids
FROM ev GROUP BY key, TumblingWindow('1s');

CREATE RULE paths WITH (TOPIC = 'o/paths') AS
SELECT a.b.c AS abc, arr[0] AS first, arr[-1] AS last, m['x y'] AS mxy, arr[0] + a.b.c AS mixed,
       lag(v) OVER (PARTITION BY key) AS prev
FROM nested WHERE v > 0 OR v IS NULL;

CREATE RULE sessions WITH (TOPIC = 'o/sessions') AS
SELECT key, count(*) AS n, max(v) - min(v) AS spread FROM nested GROUP BY key, SessionWindow('2s');

CREATE RULE pass WITH (TOPIC = 'o/pass') AS SELECT * FROM raw;
)sql";

constexpr const char* kTopics[] = {"f/ev", "f/nested", "f/raw", "f/none"};

Engine& engine() {
  static std::unique_ptr<Engine> e = [] {
    EngineOptions o;
    o.max_payload_bytes = 64 * 1024;
    o.max_depth = 64;
    o.max_open_windows = 64;
    o.max_group_keys = 256;
    o.max_rows_per_window = 256;
    o.max_pending_events = 256;
    auto en = std::make_unique<Engine>(o);
    if (!en->load_file("fuzz.sql", kRules).empty()) __builtin_trap();
    return en;
  }();
  return *e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static std::int64_t now_ns = 1'700'000'000'000'000'000;
  static std::uint64_t runs = 0;
  Engine& en = engine();
  const std::string_view topic = kTopics[data[0] % 4];
  const std::string_view payload(reinterpret_cast<const char*>(data + 1), size - 1);
  auto emit = [](Emission&& e) {
    // Results are JSON objects (alerts and late data too): a consumer must be able to parse them.
    const auto j = nlohmann::json::parse(e.payload, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || e.topic.empty() || e.result_id.empty()) __builtin_trap();
  };
  now_ns += 1'000'000;
  const IngestStatus st = en.on_message(topic, payload, now_ns, emit);
  if (static_cast<int>(st) > static_cast<int>(IngestStatus::Duplicate)) __builtin_trap();
  if (++runs % 16 == 0) en.on_tick(now_ns, emit);
  if (runs % 64 == 0) {
    // Checkpoint round trip as the gateway does it (save_state -> CBOR in SQLite -> restore).
    const nlohmann::json saved = en.save_state();
    const std::vector<std::uint8_t> cbor = nlohmann::json::to_cbor(saved);
    en.restore_state(nlohmann::json::from_cbor(cbor));
  }
  return 0;
}
