// Engine: owns the rule set (plan + per-stream and per-rule runtime state), routes messages by
// topic to streams, parses each payload once, feeds rows to rules, propagates watermarks and
// rule outputs to rules reading FROM other rules, and swaps rule sets on reload keeping the state
// of unchanged rules.
#include "rules/engine.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <functional>
#include <filesystem>
#include <tuple>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "rules/ingest/ingest.h"
#include "rules/planner/plan.h"
#include "rules/runtime/rule_runtime.h"
#include "rules/table/table.h"
#include "rules/topic.h"
#include "rules/window/window.h"

namespace streamgate::rules {

namespace {

struct StreamRt {
  const plan::StreamDef* def = nullptr;
  window::Watermark wm;
  TimeNs last_event_proc = kTimeMin;  //!< processing time of the last event
  TimeNs wm_at_last_event = kTimeMin;
  ingest::FieldExtractor extractor;
  std::vector<Value> slots;
  std::unordered_map<std::string, TimeNs> ids;
  std::deque<std::pair<TimeNs, std::string>> id_order;
  //! Slots of topic() / topic_part() readers: filled per event with the arrival topic.
  std::vector<std::size_t> topic_slots;

  //! A dotted TIMESTAMP / EVENT_ID ('meta.ts') names a nested field: the extractor finds the
  //! top-level object ('meta'), the rest of the path is walked per event. Empty: top level.
  std::vector<std::string> ts_path, id_path;
  //! MAXAHEAD: the latest event time accepted and the processing time it was accepted at.
  TimeNs ahead_ref = kTimeMin;
  TimeNs ahead_ref_proc = kTimeMin;

  void bind(const plan::StreamDef* d) {
    def = d;
    auto split = [](const std::string& f, std::vector<std::string>& rest) {
      rest.clear();
      std::size_t dot = f.find('.');
      if (dot == std::string::npos) return f;
      const std::string top = f.substr(0, dot);
      while (dot != std::string::npos) {
        const std::size_t next = f.find('.', dot + 1);
        rest.push_back(f.substr(dot + 1, next == std::string::npos ? std::string::npos : next - dot - 1));
        dot = next;
      }
      return top;
    };
    const std::string ts_top = split(d->timestamp_field, ts_path);
    const std::string id_top = split(d->event_id_field, id_path);
    extractor.build(d->slot_fields, ts_top, id_top);
    slots.assign(d->slot_fields.size(), Value());
    topic_slots.clear();
    for (std::size_t i = 0; i < d->slot_fields.size(); ++i)
      if (d->slot_fields[i] == kTopicField) topic_slots.push_back(i);
  }
};

//! Walks `path` (object keys) down from `e`; false when a step is missing or not an object.
bool descend(simdjson::dom::element& e, const std::vector<std::string>& path) {
  for (const auto& key : path) {
    simdjson::dom::object o;
    if (e.get_object().get(o)) return false;
    // First of repeated keys, as everywhere else ("first wins").
    bool found = false;
    for (auto field : o) {
      if (field.key == key) {
        e = field.value;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

struct Catalog {
  std::vector<SourceFile> files;
  std::unique_ptr<plan::Plan> plan;
  std::vector<std::unique_ptr<StreamRt>> streams;
  std::vector<std::unique_ptr<runtime::RuleRuntime>> rules;
  std::vector<std::unique_ptr<table::Table>> tables;
};

std::optional<TimeNs> timestamp_of(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::STRING: {
      const std::string_view s = e.get_string().value_unsafe();
      if (auto t = parse_rfc3339(s)) return t;
      // Epoch numbers sent as strings ("1705312200000"). from_chars, not stoll: a number beyond
      // int64 is a bad timestamp of this message, not an exception out of the engine.
      std::int64_t n = 0;
      if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
      const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
      return epoch_number_to_ns(n);
    }
    case element_type::INT64: return epoch_number_to_ns(e.get_int64().value_unsafe());
    case element_type::UINT64: return epoch_number_to_ns(static_cast<double>(e.get_uint64().value_unsafe()));
    case element_type::DOUBLE: return epoch_number_to_ns(e.get_double().value_unsafe());
    default: return std::nullopt;
  }
}

}  // namespace

struct Engine::Impl : runtime::Output {
  explicit Impl(EngineOptions o) : options(o), parser(options) {}

  EngineOptions options;
  ingest::JsonParser parser;
  Catalog cat;
  const EmitFn* emit = nullptr;
  TimeNs now = 0;
  std::string_view topic;  //!< of the message being ingested (valid during on_message)
  //! topic -> matching source streams. Devices reuse a bounded set of topics, so matching
  //! filters once per topic saves work per message; cleared on install and when it grows large.
  struct TopicHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  //! Streams, and TYPE='mqtt' tables, a topic feeds.
  struct Route {
    std::vector<std::size_t> streams;
    std::vector<std::size_t> tables;
  };
  std::unordered_map<std::string, Route, TopicHash, std::equal_to<>> route_cache;
  static constexpr std::size_t kRouteCacheMax = 16384;
  //! The previous message's topic and its entry: a stream of messages on one topic (or a
  //! replay) skips even the hash. Reset with route_cache (the pointer is into it).
  std::string last_topic;
  const Route* last_route = nullptr;

  const Route& route(std::string_view topic) {
    if (last_route && topic == last_topic) return *last_route;
    auto it = route_cache.find(topic);  // heterogeneous: no std::string built per message
    if (it == route_cache.end()) {
      if (route_cache.size() >= kRouteCacheMax) route_cache.clear();
      Route matched;
      for (std::size_t i = 0; i < cat.plan->streams.size(); ++i) {
        const auto& s = cat.plan->streams[i];
        if (!s.topic_filter.empty() && topic_matches(s.topic_filter, topic)) matched.streams.push_back(i);
      }
      for (std::size_t i = 0; i < cat.plan->tables.size(); ++i) {
        const auto& t = cat.plan->tables[i];
        if (!t.topic_filter.empty() && topic_matches(t.topic_filter, topic)) matched.tables.push_back(i);
      }
      it = route_cache.emplace(std::string(topic), std::move(matched)).first;
    }
    // Assigning reuses last_topic's capacity: no allocation once it has held a long topic.
    last_topic.assign(topic.data(), topic.size());
    last_route = &it->second;
    return it->second;
  }

  // ---- building rule sets

  std::vector<RuleError> build(std::vector<SourceFile> files, Catalog& out) {
    std::vector<RuleError> errors;
    auto p = plan::plan_files(files, errors);
    if (!errors.empty()) return errors;
    out.files = std::move(files);
    out.plan = std::move(p);
    return errors;
  }

  // ---- tables

  void table_event(const std::string& line, bool failed) {
    if (options.on_table_event) options.on_table_event(line, failed);
  }

  //! What a table's file looks like: modification time and size (-1, -1: missing). For SQLite
  //! the write-ahead log counts too: a writer in WAL mode changes only it until a checkpoint.
  static std::pair<std::int64_t, std::int64_t> file_signature(const plan::TableDef& d) {
    auto stat = [](const std::string& p, std::int64_t& m, std::int64_t& sz) {
      std::error_code ec;
      const auto mtime = std::filesystem::last_write_time(p, ec);
      if (ec) return false;
      const auto size = std::filesystem::file_size(p, ec);
      m = static_cast<std::int64_t>(mtime.time_since_epoch().count());
      sz = ec ? 0 : static_cast<std::int64_t>(size);
      return true;
    };
    std::int64_t m = -1, sz = -1;
    if (!stat(d.path, m, sz)) return {-1, -1};
    std::int64_t wm = 0, wsz = 0;
    if (d.source == plan::TableDef::Source::Sqlite && stat(d.path + "-wal", wm, wsz)) {
      m = static_cast<std::int64_t>(static_cast<std::uint64_t>(m) * 31 + static_cast<std::uint64_t>(wm));
      sz += wsz;
    }
    return {m, sz};
  }

  //! (Re)reads a file or SQLite table. A failure keeps the rows it had (counted, one line).
  void load_table(table::Table& t) {
    const plan::TableDef& d = t.def();
    std::tie(t.seen_mtime, t.seen_size) = file_signature(d);
    const std::size_t max_rows = d.max_rows > 0 ? std::min(d.max_rows, options.max_table_rows) : options.max_table_rows;
    table::Rows rows;
    std::string error;
    bool ok = false;
    if (d.source == plan::TableDef::Source::File) {
      ok = table::load_file_table(d, max_rows, rows, error);
    } else if (options.sqlite_loader) {
      table::TableSource src{d.name, d.path, d.sqlite_table, d.columns};
      ok = options.sqlite_loader(src, max_rows, rows, error);
      for (std::size_t r = 0; ok && r < rows.size(); ++r) {
        rows[r].resize(d.columns.size());
        for (std::size_t c = 0; ok && c < d.columns.size(); ++c) {
          if (!table::convert(d.types[c], rows[r][c])) {
            error = d.path + ": row " + std::to_string(r + 1) + ": column '" + d.columns[c] +
                    "' is not a valid value: " + rows[r][c].to_json();
            ok = false;
          }
        }
      }
    } else {
      error = "this build reads no TYPE='sqlite' tables";
    }
    if (!ok) {
      ++t.metrics.load_errors;
      table_event("table " + d.name + ": load failed, keeping its " + std::to_string(t.size()) +
                  " rows: " + error, true);
      return;
    }
    const std::size_t refused = t.replace(std::move(rows));
    ++t.metrics.loads;
    std::string line = "table " + d.name + ": loaded " + std::to_string(t.size()) + " rows from " + d.path;
    if (refused > 0)
      line += "; " + std::to_string(refused) + " rows beyond its bound of " + std::to_string(max_rows) + " refused";
    table_event(line, false);
  }

  //! File and SQLite tables: reread when the file's time or size changed, at most once per
  //! RELOAD_INTERVAL.
  void check_tables() {
    for (auto& tp : cat.tables) {
      table::Table& t = *tp;
      const plan::TableDef& d = t.def();
      if (d.source == plan::TableDef::Source::Mqtt || now < t.next_check) continue;
      t.next_check = window::sat_add(now, d.reload_interval);
      // Gone (after it was there) is a change too: one line, the rows stay.
      if (file_signature(d) != std::make_pair(t.seen_mtime, t.seen_size)) load_table(t);
    }
  }

  //! A message on a TYPE='mqtt' table's topic: its row replaces the row of its key.
  void ingest_table_row(std::size_t ti, simdjson::dom::element e) {
    table::Table& t = *cat.tables[ti];
    std::vector<Value> row;
    std::string error;
    if (!table::row_from_json(t.def(), e, row, error)) {
      ++t.metrics.bad_messages;
      return;
    }
    if (!t.upsert(std::move(row)) && options.on_limit &&
        (t.last_limit_report == kTimeMin || now - t.last_limit_report >= options.limit_report_interval)) {
      t.last_limit_report = now;
      options.on_limit("table " + t.def().name + ": new keys refused at its bound of " +
                       std::to_string(t.size()) + " rows (" + std::to_string(t.metrics.refused_rows) +
                       " refused so far)");
    }
  }

  //! Installs `next`, moving the state of unchanged streams and rules out of the current set.
  void install(Catalog next) {
    const auto& np = *next.plan;
    next.streams.resize(np.streams.size());
    next.rules.resize(np.rules.size());
    next.tables.resize(np.tables.size());
    if (cat.plan) {
      const auto& op = *cat.plan;
      for (std::size_t i = 0; i < np.tables.size(); ++i) {
        const int o = op.find_table(np.tables[i].name);
        if (o >= 0 && op.tables[static_cast<std::size_t>(o)].text_hash == np.tables[i].text_hash &&
            cat.tables[static_cast<std::size_t>(o)]) {
          next.tables[i] = std::move(cat.tables[static_cast<std::size_t>(o)]);
          next.tables[i]->rebind(&np.tables[i]);
        }
      }
      for (std::size_t i = 0; i < np.streams.size(); ++i) {
        const int o = op.find_stream(np.streams[i].name);
        if (o >= 0 && op.streams[static_cast<std::size_t>(o)].text_hash == np.streams[i].text_hash &&
            cat.streams[static_cast<std::size_t>(o)])
          next.streams[i] = std::move(cat.streams[static_cast<std::size_t>(o)]);
      }
      for (std::size_t i = 0; i < np.rules.size(); ++i) {
        const int o = op.find_rule(np.rules[i].name);
        if (o >= 0 && op.rules[static_cast<std::size_t>(o)].text_hash == np.rules[i].text_hash &&
            op.rules[static_cast<std::size_t>(o)].from == np.rules[i].from &&
            cat.rules[static_cast<std::size_t>(o)])
          next.rules[i] = std::move(cat.rules[static_cast<std::size_t>(o)]);
      }
    }
    for (std::size_t i = 0; i < np.streams.size(); ++i) {
      if (!next.streams[i]) next.streams[i] = std::make_unique<StreamRt>();
      next.streams[i]->bind(&np.streams[i]);
    }
    for (std::size_t i = 0; i < np.tables.size(); ++i) {
      if (next.tables[i]) continue;
      next.tables[i] = std::make_unique<table::Table>(&np.tables[i], options.max_table_rows);
      if (np.tables[i].source != plan::TableDef::Source::Mqtt) load_table(*next.tables[i]);
    }
    for (std::size_t i = 0; i < np.rules.size(); ++i) {
      const auto& rp = np.rules[i];
      if (next.rules[i]) {
        next.rules[i]->rebind(&rp, static_cast<int>(i));
      } else {
        next.rules[i] = std::make_unique<runtime::RuleRuntime>(&rp, static_cast<int>(i), &options);
      }
      auto& rr = *next.rules[i];
      std::vector<const table::Table*> joined;
      for (const auto& j : rp.joins) joined.push_back(next.tables[static_cast<std::size_t>(j.table)].get());
      rr.set_tables(std::move(joined));
      rr.set_lateness(np.streams[static_cast<std::size_t>(rp.stream)].allowed_lateness);
      rr.has_downstream = !np.streams[static_cast<std::size_t>(rp.out_stream)].readers.empty();
      rr.partial_phase = std::find(options.partial_rules.begin(), options.partial_rules.end(), rp.name) !=
                         options.partial_rules.end();
    }
    // Destroy the old set (its plan must outlive its runtimes).
    route_cache.clear();
    last_route = nullptr;
    Catalog old = std::move(cat);
    old.rules.clear();
    old.streams.clear();
    old.tables.clear();
    cat = std::move(next);
  }

  // ---- runtime::Output

  void result(int rule, Emission&& e, const Object* row, TimeNs event_time) override {
    if (!row) {  // no downstream reader: the common case
      if (emit && *emit) (*emit)(std::move(e));
      return;
    }
    const auto& rp = cat.plan->rules[static_cast<std::size_t>(rule)];
    StreamRt& s = *cat.streams[static_cast<std::size_t>(rp.out_stream)];
    // A windowed rule with ALLOWEDLATENESS re-emits corrected windows: its readers are told
    // which earlier row a row replaces (the result id without its "/rN" revision suffix).
    std::string origin;
    if (rp.windowed() && s.def->allowed_lateness > 0 && !s.def->readers.empty()) {
      origin = e.result_id;
      const std::size_t slash = origin.rfind('/');
      if (slash != std::string::npos && slash + 2 < origin.size() && origin[slash + 1] == 'r' &&
          origin.find_first_not_of("0123456789", slash + 2) == std::string::npos)
        origin.resize(slash);
    }
    // A reader's topic() is the topic the row was published on.
    std::string out_topic;
    if (!s.topic_slots.empty()) out_topic = e.topic;
    if (emit && *emit) (*emit)(std::move(e));
    if (s.def->readers.empty()) return;
    // Rows of a rule are fed to the rules reading it synchronously. The slot buffer is per
    // stream and there are no cycles, so recursion never reuses a buffer that is in use.
    std::vector<Value> slots(s.def->slot_fields.size());
    s.extractor.extract(*row, slots.data());
    for (std::size_t i : s.topic_slots) slots[i] = Value(out_topic);
    Value whole;
    if (s.def->need_whole) whole = Value(Object(*row));
    for (int r : s.def->readers) {
      auto& rr = *cat.rules[static_cast<std::size_t>(r)];
      runtime::Row in;
      in.slots = slots.data() + rr.plan().slot_offset;
      in.event_time = event_time;
      in.whole = s.def->need_whole ? &whole : nullptr;
      in.origin = origin;
      rr.on_row(in, s.wm.value(), now, *this);
    }
    feed_join_readers(s, slots.data(), event_time);
  }

  //! Rules joining stream `s` as the right side of an interval join.
  void feed_join_readers(StreamRt& s, const Value* slots, TimeNs t) {
    for (int r : s.def->join_readers) {
      auto& rr = *cat.rules[static_cast<std::size_t>(r)];
      rr.on_right_row(slots + rr.plan().interval->right_slot_offset, t, now, *this);
    }
  }

  void late(Emission&& e) override {
    if (emit && *emit) (*emit)(std::move(e));
  }

  // ---- processing

  void advance_stream(std::size_t si, TimeNs wm) {
    StreamRt& s = *cat.streams[si];
    s.wm.advance_to(wm);
    const TimeNs v = s.wm.value();
    for (int r : s.def->readers) {
      auto& rr = *cat.rules[static_cast<std::size_t>(r)];
      // An interval join's rule moves with the slower of its two inputs.
      const TimeNs rv = rr.plan().interval ? rr.join_watermark(false, v) : v;
      rr.advance(rv, now, *this);
      advance_stream(static_cast<std::size_t>(rr.plan().out_stream), rv);
    }
    for (int r : s.def->join_readers) {
      auto& rr = *cat.rules[static_cast<std::size_t>(r)];
      const TimeNs rv = rr.join_watermark(true, v);
      rr.advance(rv, now, *this);
      advance_stream(static_cast<std::size_t>(rr.plan().out_stream), rv);
    }
  }

  //! MAXAHEAD: event time is expected to move with the clock from the last accepted event; an
  //! event far ahead of that (a device with a bad clock) would drag the watermark with it and
  //! make every other device late. It is routed like late data instead (true), or accepted as
  //! the new reference (false).
  bool too_far_ahead(StreamRt& s, TimeNs t, simdjson::dom::element& elem) {
    const plan::StreamDef& d = *s.def;
    if (s.ahead_ref != kTimeMin) {
      const TimeNs ref = window::sat_add(s.ahead_ref, std::max<TimeNs>(0, now - s.ahead_ref_proc));
      if (t > window::sat_add(ref, d.max_ahead)) {
        for (int r : d.readers) {
          auto& rr = *cat.rules[static_cast<std::size_t>(r)];
          runtime::Row row;
          row.slots = s.slots.data() + rr.plan().slot_offset;
          row.event_time = t;
          row.raw = &elem;
          rr.on_ahead(row, s.wm.value(), *this);
        }
        return true;
      }
    }
    if (t > s.ahead_ref) s.ahead_ref = t;
    s.ahead_ref_proc = now;
    return false;
  }

  IngestStatus ingest_event(std::size_t si, simdjson::dom::element elem) {
    StreamRt& s = *cat.streams[si];
    const plan::StreamDef& d = *s.def;
    simdjson::dom::object obj;
    if (elem.get_object().get(obj)) return IngestStatus::NotAnObject;
    // One pass over the object: referenced fields into slots, timestamp and id located.
    simdjson::dom::element ts_elem, id_elem;
    bool has_ts = false, has_id = false;
    s.extractor.extract(obj, s.slots.data(), &ts_elem, &has_ts, &id_elem, &has_id);
    if (has_ts && !s.ts_path.empty()) has_ts = descend(ts_elem, s.ts_path);
    if (has_id && !s.id_path.empty()) has_id = descend(id_elem, s.id_path);
    for (std::size_t i : s.topic_slots) s.slots[i].assign_string(topic);
    TimeNs t = now;
    if (!d.timestamp_field.empty()) {
      if (!has_ts || ts_elem.is_null()) return IngestStatus::MissingTimestamp;
      auto ts = timestamp_of(ts_elem);
      if (!ts || *ts > window::sat_add(now, options.max_future) || *ts < kMinEventTime || *ts > kMaxEventTime) {
        return IngestStatus::BadTimestamp;
      }
      t = *ts;
      if (d.max_ahead > 0 && too_far_ahead(s, t, elem)) return IngestStatus::Ok;
    }
    if (!d.event_id_field.empty() && has_id && !id_elem.is_null()) {
      std::string id = ingest::to_value(id_elem).to_text();
      const TimeNs horizon_start = window::sat_add(std::max(s.wm.max_event_time(), t), -d.dedup_horizon);
      auto forget_oldest = [&s] {
        auto it = s.ids.find(s.id_order.front().second);
        if (it != s.ids.end() && it->second == s.id_order.front().first) s.ids.erase(it);
        s.id_order.pop_front();
      };
      // Ids older than the horizon (event time) are forgotten; a known id within it is a repeat.
      while (!s.id_order.empty() && s.id_order.front().first < horizon_start) forget_oldest();
      if (auto it = s.ids.find(id); it != s.ids.end() && it->second >= horizon_start)
        return IngestStatus::Duplicate;
      // A new id: room is made within the bound, oldest first.
      while (!s.id_order.empty() && s.id_order.size() >= options.max_dedup_ids) forget_oldest();
      s.ids.insert_or_assign(id, t);
      s.id_order.emplace_back(t, std::move(id));
    }
    Value whole;
    if (d.need_whole) whole = ingest::to_value(elem);
    if (d.timestamp_field.empty()) {
      s.wm.advance_to(now);
    } else {
      s.wm.observe(t, d.max_out_of_order);
    }
    s.last_event_proc = now;
    s.wm_at_last_event = s.wm.value();
    for (int r : d.readers) {
      auto& rr = *cat.rules[static_cast<std::size_t>(r)];
      runtime::Row row;
      row.slots = s.slots.data() + rr.plan().slot_offset;
      row.event_time = t;
      row.whole = d.need_whole ? &whole : nullptr;
      row.raw = &elem;
      rr.on_row(row, s.wm.value(), now, *this);
    }
    feed_join_readers(s, s.slots.data(), t);
    advance_stream(si, s.wm.value());
    return IngestStatus::Ok;
  }

  // ---- checkpoints

  nlohmann::json save() const {
    nlohmann::json j;
    j["version"] = 1;
    auto& streams = j["streams"] = nlohmann::json::object();
    auto& rules = j["rules"] = nlohmann::json::object();
    if (!cat.plan) return j;
    for (std::size_t i = 0; i < cat.streams.size(); ++i) {
      const auto& s = *cat.streams[i];
      nlohmann::json sj;
      sj["hash"] = s.def->text_hash;
      sj["watermark"] = s.wm.value();
      sj["max_event"] = s.wm.max_event_time();
      sj["last_event_proc"] = s.last_event_proc;
      sj["wm_at_last_event"] = s.wm_at_last_event;
      auto ids = nlohmann::json::array();
      for (const auto& [t, id] : s.id_order) {
        auto it = s.ids.find(id);
        if (it != s.ids.end() && it->second == t) ids.push_back({id, t});
      }
      sj["dedup"] = std::move(ids);
      streams[s.def->name] = std::move(sj);
    }
    for (const auto& r : cat.rules) {
      nlohmann::json rj = r->save();
      rj["hash"] = r->plan().text_hash;
      rules[r->plan().name] = std::move(rj);
    }
    return j;
  }

  // A checkpoint is input from disk: a damaged one is reported naming the stream or rule and
  // what is wrong, not as the JSON library's "[json.exception.type_error.302] ..." (a bug's look).
  [[noreturn]] static void damaged(const char* what, const std::string& name, const std::exception& e) {
    std::string detail = e.what();
    if (dynamic_cast<const nlohmann::json::exception*>(&e) != nullptr) {
      if (auto end = detail.find("] "); detail.rfind("[json.exception.", 0) == 0 && end != std::string::npos)
        detail.erase(0, end + 2);
    }
    throw std::runtime_error("the checkpoint of " + std::string(what) + " '" + name + "' is damaged: " + detail);
  }

  void restore(const nlohmann::json& j) {
    if (!cat.plan || !j.is_object()) return;
    if (auto it = j.find("streams"); it != j.end() && it->is_object()) {
      for (auto& sp : cat.streams) try {
        auto f = it->find(sp->def->name);
        if (f == it->end() || f->value("hash", "") != sp->def->text_hash) continue;
        sp->wm.restore(f->value("watermark", kTimeMin), f->value("max_event", kTimeMin));
        sp->last_event_proc = f->value("last_event_proc", kTimeMin);
        sp->wm_at_last_event = f->value("wm_at_last_event", kTimeMin);
        sp->ids.clear();
        sp->id_order.clear();
        if (auto d = f->find("dedup"); d != f->end() && d->is_array()) {
          for (const auto& e : *d) {
            std::string id = e.at(0).get<std::string>();
            const TimeNs t = e.at(1).get<TimeNs>();
            sp->ids[id] = t;
            sp->id_order.emplace_back(t, std::move(id));
          }
        }
      } catch (const std::exception& e) {
        damaged("stream", sp->def->name, e);
      }
    }
    if (auto it = j.find("rules"); it != j.end() && it->is_object()) {
      for (auto& r : cat.rules) try {
        auto f = it->find(r->plan().name);
        if (f == it->end() || f->value("hash", "") != r->plan().text_hash) continue;
        r->restore(*f);
      } catch (const std::exception& e) {
        damaged("rule", r->plan().name, e);
      }
    }
  }
};

Engine::Engine(EngineOptions options) : impl_(std::make_unique<Impl>(options)) {}
Engine::~Engine() = default;

std::vector<RuleError> Engine::load_file(std::string_view file_name, std::string_view text) {
  std::vector<SourceFile> files = impl_->cat.files;
  bool replaced = false;
  for (auto& f : files) {
    if (f.name == file_name) {
      f.text = std::string(text);
      replaced = true;
    }
  }
  if (!replaced) files.push_back(SourceFile{std::string(file_name), std::string(text)});
  Catalog next;
  auto errors = impl_->build(std::move(files), next);
  if (!errors.empty()) {
    // Report only this file's errors when an earlier, already loaded file is fine.
    return errors;
  }
  impl_->install(std::move(next));
  return {};
}

std::vector<RuleError> Engine::reload(const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<SourceFile> src;
  src.reserve(files.size());
  for (const auto& [name, text] : files) src.push_back(SourceFile{name, text});
  Catalog next;
  auto errors = impl_->build(std::move(src), next);
  if (!errors.empty()) return errors;
  impl_->install(std::move(next));
  return {};
}

std::vector<RuleError> Engine::check(std::string_view file_name, std::string_view text) {
  std::vector<RuleError> errors;
  plan::plan_files({SourceFile{std::string(file_name), std::string(text)}}, errors);
  return errors;
}

std::vector<StreamInfo> Engine::streams() const {
  std::vector<StreamInfo> out;
  if (!impl_->cat.plan) return out;
  for (const auto& s : impl_->cat.plan->streams) {
    if (s.topic_filter.empty()) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const StreamInfo& i) { return i.topic_filter == s.topic_filter; });
    if (it != out.end()) {
      it->qos = std::max(it->qos, s.qos);
      continue;
    }
    out.push_back(StreamInfo{s.name, s.topic_filter, s.qos});
  }
  // TYPE='mqtt' tables are subscribed like streams (their retained rows arrive first).
  for (const auto& t : impl_->cat.plan->tables) {
    if (t.topic_filter.empty()) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const StreamInfo& i) { return i.topic_filter == t.topic_filter; });
    if (it != out.end()) {
      it->qos = std::max(it->qos, t.qos);
      continue;
    }
    out.push_back(StreamInfo{t.name, t.topic_filter, t.qos});
  }
  return out;
}

std::vector<RuleInfo> Engine::rules() const {
  std::vector<RuleInfo> out;
  if (!impl_->cat.plan) return out;
  for (const auto& r : impl_->cat.plan->rules)
    out.push_back(RuleInfo{r.name, r.file, r.text, r.text_hash, r.from, r.topic, r.qos, r.delivery});
  return out;
}

IngestStatus Engine::on_message(std::string_view topic, std::string_view payload, TimeNs now_ns,
                                const EmitFn& emit, bool padded) {
  Impl& im = *impl_;
  if (!im.cat.plan) return IngestStatus::NoStream;
  // Route first: a message no stream wants is not even parsed.
  const Impl::Route& routed = im.route(topic);
  const std::vector<std::size_t>& matched = routed.streams;
  if (matched.empty() && routed.tables.empty()) return IngestStatus::NoStream;
  simdjson::dom::element root;
  const IngestStatus ps = im.parser.parse(payload, root, padded);
  if (ps != IngestStatus::Ok) return ps;
  if (!routed.tables.empty()) {
    im.now = now_ns;
    for (std::size_t ti : routed.tables) {
      simdjson::dom::array arr;
      if (root.is_object()) {
        im.ingest_table_row(ti, root);
      } else if (!root.get_array().get(arr)) {
        for (auto e : arr) im.ingest_table_row(ti, e);
      }
    }
  }
  im.emit = &emit;
  im.now = now_ns;
  im.topic = topic;
  IngestStatus result = IngestStatus::Ok;
  auto feed = [&](std::size_t si) {
    if (root.is_object()) {
      const IngestStatus st = im.ingest_event(si, root);
      if (result == IngestStatus::Ok) result = st;
    } else {
      simdjson::dom::array arr;
      if (root.get_array().get(arr)) return;
      for (auto e : arr) {
        const IngestStatus st = im.ingest_event(si, e);
        if (result == IngestStatus::Ok) result = st;
      }
    }
  };
  for (std::size_t si : matched) feed(si);
  im.emit = nullptr;
  return result;
}

void Engine::on_tick(TimeNs now_ns, const EmitFn& emit) {
  Impl& im = *impl_;
  if (!im.cat.plan) return;
  im.emit = &emit;
  im.now = now_ns;
  im.check_tables();
  for (std::size_t i = 0; i < im.cat.streams.size(); ++i) {
    StreamRt& s = *im.cat.streams[i];
    const auto& d = *s.def;
    if (d.topic_filter.empty()) continue;  // rule outputs follow their upstream
    if (d.timestamp_field.empty()) {
      im.advance_stream(i, now_ns);
    } else if (d.idle_timeout > 0 && s.last_event_proc != kTimeMin &&
               now_ns - s.last_event_proc >= d.idle_timeout) {
      // Quiet stream: event time is assumed to move on with processing time.
      im.advance_stream(i, window::sat_add(s.wm_at_last_event, now_ns - s.last_event_proc));
    }
  }
  im.emit = nullptr;
}

bool Engine::waits_on_clock() const {
  const Impl& im = *impl_;
  if (!im.cat.plan) return false;
  // An open window of a rule reading the stream, directly or through chained rules.
  const std::function<bool(std::size_t)> open_below = [&](std::size_t si) {
    const plan::StreamDef& d = *im.cat.streams[si]->def;
    for (const auto* readers : {&d.readers, &d.join_readers}) {
      for (int r : *readers) {
        const auto& rr = *im.cat.rules[static_cast<std::size_t>(r)];
        if (rr.open_windows() > 0 || open_below(static_cast<std::size_t>(rr.plan().out_stream))) return true;
      }
    }
    return false;
  };
  for (std::size_t i = 0; i < im.cat.streams.size(); ++i) {
    const plan::StreamDef& d = *im.cat.streams[i]->def;
    const bool follows_clock = d.timestamp_field.empty() || d.idle_timeout > 0;
    if (!d.topic_filter.empty() && follows_clock && open_below(i)) return true;
  }
  return false;
}

void Engine::flush(const EmitFn& emit) {
  Impl& im = *impl_;
  if (!im.cat.plan) return;
  im.emit = &emit;
  for (std::size_t i = 0; i < im.cat.streams.size(); ++i)
    if (!im.cat.streams[i]->def->topic_filter.empty()) im.advance_stream(i, kTimeMax);
  im.emit = nullptr;
}

Engine::MergeStatus Engine::merge_partial(std::string_view payload) {
  Impl& im = *impl_;
  if (!im.cat.plan) return MergeStatus::UnknownRule;
  nlohmann::json j;
  try {
    j = nlohmann::json::from_cbor(payload.begin(), payload.end());
    const std::string& name = j.at("rule").get_ref<const std::string&>();
    const int r = im.cat.plan->find_rule(name);
    if (r < 0 || im.cat.plan->rules[static_cast<std::size_t>(r)].text_hash != j.at("hash").get<std::string>())
      return MergeStatus::UnknownRule;  // another rule set (a rolling change of the rule files)
    return im.cat.rules[static_cast<std::size_t>(r)]->merge_partial(j.at("start").get<TimeNs>(), j.at("end").get<TimeNs>(),
                                                                    j.at("group"))
               ? MergeStatus::Merged
               : MergeStatus::Late;
  } catch (const std::exception&) {
    return MergeStatus::Malformed;
  }
}

void Engine::advance_rule(std::string_view rule, TimeNs watermark, TimeNs now_ns, const EmitFn& emit) {
  Impl& im = *impl_;
  if (!im.cat.plan) return;
  const int r = im.cat.plan->find_rule(rule);
  if (r < 0) return;
  im.emit = &emit;
  im.now = now_ns;
  auto& rr = *im.cat.rules[static_cast<std::size_t>(r)];
  rr.advance(watermark, now_ns, im);
  // The merged rows went to the rules reading this one (result()); their event time moves on
  // with it, as advance_stream moves a chained rule on one box.
  im.advance_stream(static_cast<std::size_t>(rr.plan().out_stream), watermark);
  im.emit = nullptr;
}

void Engine::set_partial_rules(std::vector<std::string> rules) {
  Impl& im = *impl_;
  im.options.partial_rules = std::move(rules);
  const auto& names = im.options.partial_rules;
  for (auto& r : im.cat.rules)
    r->partial_phase = std::find(names.begin(), names.end(), r->plan().name) != names.end();
}

void Engine::advance_event_time(TimeNs watermark, TimeNs now_ns, const EmitFn& emit) {
  Impl& im = *impl_;
  if (!im.cat.plan) return;
  im.emit = &emit;
  im.now = now_ns;
  for (std::size_t i = 0; i < im.cat.streams.size(); ++i) {
    const auto& d = *im.cat.streams[i]->def;
    if (!d.topic_filter.empty() && !d.timestamp_field.empty()) im.advance_stream(i, watermark);
  }
  im.emit = nullptr;
}

std::vector<RuleMetrics> Engine::metrics() const {
  std::vector<RuleMetrics> out;
  for (const auto& r : impl_->cat.rules) out.push_back(r->metrics());
  return out;
}

std::vector<TableMetrics> Engine::table_metrics() const {
  std::vector<TableMetrics> out;
  for (const auto& t : impl_->cat.tables) out.push_back(t->metrics);
  return out;
}

bool Engine::set_paused(std::string_view rule, bool paused) {
  for (auto& r : impl_->cat.rules) {
    if (r->plan().name == rule) {
      r->paused = paused;
      return true;
    }
  }
  return false;
}

nlohmann::json Engine::save_state() const { return impl_->save(); }

void Engine::restore_state(const nlohmann::json& saved) { impl_->restore(saved); }

}  // namespace streamgate::rules
