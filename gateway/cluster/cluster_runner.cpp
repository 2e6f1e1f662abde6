// Cluster mode's worker: leases, per-partition engines, checkpoints, results; see the header.
#include "gateway/cluster/cluster_runner.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "gateway/cluster/lease_view.h"
#include "gateway/cluster/merge_stage.h"
#include "gateway/cluster/nats_client.h"
#include "rules/cluster/partition_check.h"
#include "gateway/pipeline.h"

namespace streamgate::gateway::cluster {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Input messages between two checkpoints of a partition are unacknowledged: the consumer's
// MaxAckPending must stay above what a checkpoint interval lets in.
constexpr int kMaxAckPending = 20'000;
constexpr std::uint64_t kCheckpointEveryEvents = kMaxAckPending / 4;
// How long a result waits for a stream to take its subject before it is dropped (see publish).
constexpr auto kNoStreamPatience = std::chrono::seconds(30);

std::string partition_key(int p) { return "p." + std::to_string(p); }

// A partition whose consumer has had nothing for this long is idle: it moves its event time on
// to the fleet's (merge_stage.h), or fleet-wide windows would wait for it for ever.
constexpr auto kIdleAfter = std::chrono::seconds(1);
// Input subject (within a partition) of the idle marker: journaled, so a replay advances alike.
constexpr std::string_view kWatermarkMarker = ".streamgate.watermark";
// Input subject of the clock marker: processing time of a quiet partition (see tick_if_idle).
constexpr std::string_view kClockMarker = ".streamgate.clock";

//! The fleet-wide rules of `files` that run in two phases (rules/cluster/partition_check.h).
std::vector<std::string> two_phase_rules(const std::vector<std::pair<std::string, std::string>>& files,
                                         const std::string& field) {
  std::vector<std::string> out;
  rules::PartitionContext context;  // a rule reading FROM a fleet-wide rule of an earlier file is not one
  for (const auto& [path, text] : files) {
    for (auto& r : rules::plan_partitions(path, text, field, &context).two_phase) out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

struct ClusterRunner::Impl {
  struct Partition {
    int id = 0;
    std::unique_ptr<rules::Engine> engine;
    std::unique_ptr<PullSubscription> sub;
    std::uint64_t lease_rev = 0;
    Clock::time_point lease_renewed;
    //! This ownership's own consumer (named after the lease revision it was taken with): an
    //! instance that lost the partition without noticing pulls from its old consumer and never
    //! takes messages from the new owner's.
    std::string consumer;
    std::uint64_t checkpoint_rev = 0;  //!< 0: no checkpoint yet
    std::uint64_t last_seq = 0;        //!< last stream sequence fed to the engine
    std::uint64_t checkpointed_seq = 0;
    std::optional<Message> last_unacked;  //!< the newest message a checkpoint will cover
    Clock::time_point last_checkpoint;
    Clock::time_point last_too_large_log;
    bool lost = false;  //!< the lease is another instance's now: drop at the end of the round
    //! False from the start of a batch until all its results are published: a checkpoint of
    //! the engine in between would cover input whose results were never stored.
    bool consistent = true;
    // Figures for the metrics, since this instance took the partition.
    std::uint64_t events = 0;
    std::uint64_t results = 0;
    std::uint64_t lag = 0;      //!< NumPending with the last fetched message (0 after an empty fetch)
    Clock::time_point covered;  //!< when a checkpoint last covered everything fed to the engine
    // Two-phase rules: the last heartbeat published, when data last came, the last idle marker.
    std::string heartbeat;
    rules::TimeNs watermark = rules::kTimeMin;
    Clock::time_point last_data;
    rules::TimeNs marker_sent = rules::kTimeMin;
    Clock::time_point clock_sent;  //!< the last clock marker this instance journaled
    Clock::time_point consumer_checked;  //!< when check_consumer_if_idle last asked the server
  };

  Impl(const Config& c, std::vector<std::pair<std::string, std::string>> f, rules::EngineOptions eo,
       ClusterStats& s, Heartbeat& h, std::atomic<std::shared_ptr<const ClusterSnapshot>>& snap)
      : config(c),
        cc(config.cluster),
        files(std::move(f)),
        two_phase(two_phase_rules(files, cc.partition_field)),
        partials(PartialsNaming::of(cc)),
        engine_options(std::move(eo)),
        stats(s),
        heartbeat(h),
        snapshot_out(snap) {}

  const Config config;
  const ClusterConfig& cc;
  std::vector<std::pair<std::string, std::string>> files;  //!< worker only (reload swaps it)
  std::vector<std::string> two_phase;  //!< fleet-wide rules of `files`: partials + the merge stage
  const PartialsNaming partials;
  const rules::EngineOptions engine_options;
  ClusterStats& stats;
  Heartbeat& heartbeat;
  std::atomic<bool> stopping{false};
  std::atomic<std::shared_ptr<const ClusterSnapshot>>& snapshot_out;

  std::unique_ptr<JetStream> js;
  std::unique_ptr<KvBucket> leases;
  std::unique_ptr<KvBucket> state;
  std::map<int, Partition> owned;
  std::unique_ptr<MergeStage> merge;  //!< while this instance holds the "global" lease
  std::uint64_t merge_lease_rev = 0;
  Clock::time_point merge_renewed;
  rules::TimeNs fleet_wm = rules::kTimeMin;  //!< read each lease round (merge_stage.h)
  std::uint64_t member_rev = 0;
  Clock::time_point next_lease_round;
  Clock::time_point last_reject_log;
  Clock::time_point last_retry_log;
  Clock::time_point next_status_log = Clock::now() + 30s;
  // Operations: the watched lease bucket, control requests, the status snapshot.
  // One round shorter than the bucket's TTL: the view sees a change only when a round drains the
  // watcher (up to a round after it arrived), so a lapsed lease shows free in the round the server
  // drops it, not one round later (a create tried a little early is only refused).
  LeaseView view{bucket_ttl() - round_interval()};
  Clock::time_point next_watch;  //!< when to (re)start the lease watcher (it restarts hourly too)
  std::vector<std::string> members_seen;
  double lease_round_seconds = 0;
  std::unique_ptr<CoreSubscription> control;
  ControlStats control_stats;
  std::vector<rules::RuleInfo> rule_infos;
  const Clock::time_point started = Clock::now();
  Clock::time_point next_snapshot;
  std::mutex reload_mu;  //!< guards reload_files (signal thread -> worker)
  std::optional<std::vector<std::pair<std::string, std::string>>> reload_files;
  std::atomic<bool> reload_pending{false};

  // The bucket TTL is 2/3 of the configured bound and leases are renewed five times per TTL, so
  // a live owner does not let one lapse, and a dead one's lapse is seen within 2/3 ttl + one round.
  std::chrono::milliseconds bucket_ttl() const { return cc.lease_ttl * 2 / 3; }
  std::chrono::milliseconds round_interval() const { return cc.lease_ttl / 8; }

  //! `partial`: a partition's engine (two-phase rules emit partials); else the merge stage's.
  std::unique_ptr<rules::Engine> make_engine(bool partial = true) const {
    rules::EngineOptions o = engine_options;
    if (partial) o.partial_rules = two_phase;
    auto e = std::make_unique<rules::Engine>(std::move(o));
    for (const auto& [path, text] : files) {
      // Errors were reported once by main when the rule set was checked.
      e->load_file(path, text);
    }
    return e;
  }

  void connect() {
    ConnectOptions o;
    o.urls = cc.url;
    o.name = cc.instance_id;
    o.creds_file = cc.creds_file;
    o.tls = cc.url.rfind("tls://", 0) == 0 || !config.input.tls_ca_file.empty() ||
            !config.input.tls_cert_file.empty();
    o.tls_ca_file = config.input.tls_ca_file;
    o.tls_cert_file = config.input.tls_cert_file;
    o.tls_key_file = config.input.tls_key_file;
    o.tls_verify = config.input.tls_verify;
    js = std::make_unique<JetStream>(o);
    const int replicas = cc.replicas > 0 ? cc.replicas : (js->cluster_size() >= 3 ? 3 : 1);
    StreamSpec in;
    in.name = cc.input_stream;
    in.subjects = {cc.subject_prefix + ".>"};
    in.replicas = replicas;
    const int in_replicas = js->ensure_stream(in);
    StreamSpec out;
    out.name = cc.results_stream;
    out.subjects = cc.results_subjects;
    rule_infos = make_engine()->rules();
    if (out.subjects.empty()) {
      for (const auto& r : rule_infos) {
        const std::string s = topic_to_subject(r.output_topic);
        if (!s.empty() && std::find(out.subjects.begin(), out.subjects.end(), s) == out.subjects.end()) {
          out.subjects.push_back(s);
        }
      }
      const std::string dl = topic_to_subject(config.dead_letter_topic);
      if (!dl.empty() && std::find(out.subjects.begin(), out.subjects.end(), dl) == out.subjects.end()) {
        out.subjects.push_back(dl);
      }
    }
    out.replicas = replicas;
    out.duplicate_window_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(cc.dedup_window).count();
    if (!out.subjects.empty()) js->ensure_stream(out);
    leases = js->key_value(cc.lease_bucket, replicas,
                           std::chrono::duration_cast<std::chrono::nanoseconds>(bucket_ttl()).count());
    state = js->key_value(cc.state_bucket, replicas, 0);
    ensure_partials_stream(replicas, out.duplicate_window_ns);
    next_watch = Clock::now();
    // Every instance subscribes: a request gets one reply per instance.
    if (!config.control_topic.empty()) control = js->subscribe(topic_to_subject(config.control_topic));
    spdlog::info("cluster: instance '{}' connected to {}; input stream {} (R{}, {} partitions), results {}",
                 cc.instance_id, cc.url, cc.input_stream, in_replicas, cc.partitions, cc.results_stream);
  }

  // --- ownership -------------------------------------------------------------------------

  void lease_round() {
    const std::string member_key = "m." + cc.instance_id;
    std::optional<std::uint64_t> rev;
    if (member_rev != 0) rev = leases->update(member_key, cc.instance_id, member_rev);
    if (!rev) rev = leases->create(member_key, cc.instance_id);
    if (rev) {
      member_rev = *rev;
      view.wrote(member_key, cc.instance_id, *rev, Clock::now());
    }
    std::vector<std::string> members = current_members();
    if (std::find(members.begin(), members.end(), cc.instance_id) == members.end()) members.push_back(cc.instance_id);
    std::sort(members.begin(), members.end());

    const auto now = Clock::now();
    for (auto it = owned.begin(); it != owned.end();) {
      Partition& p = it->second;
      if (auto r = leases->update(partition_key(p.id), cc.instance_id, p.lease_rev)) {
        p.lease_rev = *r;
        p.lease_renewed = now;
        view.wrote(partition_key(p.id), cc.instance_id, *r, now);
        ++it;
      } else if (now - p.lease_renewed >= bucket_ttl() - round_interval()) {
        // Renewals failed for so long that the lease may have lapsed and be held by another
        // instance: stop before two instances work on it (checkpoint fencing would refuse ours).
        spdlog::warn("cluster: lease of partition {} lost; dropping it", p.id);
        js->delete_consumer(cc.input_stream, p.consumer);
        it = owned.erase(it);
      } else {
        ++it;
      }
    }

    // Exact shares: P = q*n + r, the first r members by id take q+1 partitions, the others q. Every
    // instance computes the same split, so an instance above its share gives the surplus back and
    // one below it finds free partitions (the shares add up to P).
    const int n = static_cast<int>(members.size());
    const int rank = static_cast<int>(std::find(members.begin(), members.end(), cc.instance_id) - members.begin());
    const int share = cc.partitions / n + (rank < cc.partitions % n ? 1 : 0);
    while (static_cast<int>(owned.size()) > share) release(std::prev(owned.end())->first);
    if (static_cast<int>(owned.size()) < share) {
      // Within half a round: taking a partition costs a few round trips (checkpoint, consumer),
      // and the leases already held must be renewed in time. Start where this instance's rank
      // points, so joiners do not all race for partition 0.
      const auto budget_end = Clock::now() + round_interval() / 2;
      const int start = rank * (cc.partitions / n);
      for (int i = 0; i < cc.partitions && static_cast<int>(owned.size()) < share && Clock::now() < budget_end; ++i) {
        const int p = (start + i) % cc.partitions;
        if (owned.count(p)) continue;
        // Held by a live lease elsewhere: a create would only be refused (one round trip each).
        const std::string key = partition_key(p);
        const auto holder = view.watching() ? view.holder(key, Clock::now()) : std::nullopt;
        if (holder && *holder != cc.instance_id) continue;
        const bool lapsed = view.lapsed(key, cc.instance_id, Clock::now());
        if (auto r = leases->create(key, cc.instance_id)) {
          view.wrote(key, cc.instance_id, *r, Clock::now());
          acquire(p, *r, lapsed);
        }
      }
    }
    if (!two_phase.empty()) merge_lease_round(now);
    stats.owned = static_cast<int>(owned.size());
    members_seen = members;
    lease_round_seconds = std::chrono::duration<double>(Clock::now() - now).count();
    if (now >= next_status_log) {
      next_status_log = now + 30s;
      std::string ids;
      for (const auto& [id, p] : owned) ids += (ids.empty() ? "" : ",") + std::to_string(id);
      spdlog::info("cluster: {} members, owns {} partitions [{}]; {} events, {} rejected, {} results "
                   "({} duplicates dropped by the server, {} without a stream), {} checkpoints, {} fenced, {} partitions taken ({} after a lapsed lease)",
                   n, owned.size(), ids, stats.events.load(), stats.rejected.load(), stats.results_published.load(),
                   stats.results_duplicate.load(), stats.results_dropped.load(), stats.checkpoints.load(), stats.fenced.load(),
                   stats.acquired.load(), stats.takeovers.load());
    }
  }

  //! The live members: from the watched bucket, or by listing it while the watch is down.
  std::vector<std::string> current_members() {
    const auto now = Clock::now();
    if (now >= next_watch) {
      next_watch = now + 1h;
      try {
        view.watch(*leases, round_interval() / 2);
      } catch (const std::exception& e) {
        spdlog::warn("cluster: cannot watch the lease bucket ({}); listing it every round", e.what());
        view.stop();
        next_watch = now + 30s;
      }
    }
    if (view.watching()) {
      try {
        view.drain();
        return view.members(Clock::now());
      } catch (const std::exception& e) {
        spdlog::warn("cluster: lease bucket watch failed ({}); listing it until the watch is back", e.what());
        view.stop();
        next_watch = now + 5s;
      }
    }
    std::vector<std::string> members;
    for (auto& k : leases->keys()) {
      if (k.rfind("m.", 0) == 0) members.push_back(k.substr(2));
    }
    return members;
  }

  // --- two-phase rules (merge_stage.h) ---------------------------------------------------

  void ensure_partials_stream(int replicas, std::int64_t dedup_ns) {
    if (two_phase.empty()) return;
    StreamSpec ps;
    ps.name = partials.stream;
    ps.subjects = {partials.subject_prefix + ".>"};
    ps.replicas = replicas;
    ps.duplicate_window_ns = dedup_ns;
    // Bounded: the merge stage consumes within seconds; a day covers any outage worth waiting.
    ps.max_age_ns = std::int64_t{24} * 3600 * 1'000'000'000;
    js->ensure_stream(ps);
    spdlog::info("cluster: {} fleet-wide rules run in two phases (partials stream {})", two_phase.size(), ps.name);
  }

  void merge_lease_round(Clock::time_point now) {
    if (auto f = state->get(kFleetWatermarkKey)) {
      try {
        fleet_wm = std::max<rules::TimeNs>(fleet_wm, std::stoll(f->value));
      } catch (const std::exception&) {
      }
    }
    if (merge) {
      if (auto r = leases->update(kMergeKey, cc.instance_id, merge_lease_rev)) {
        merge_lease_rev = *r;
        merge_renewed = now;
      } else if (now - merge_renewed >= bucket_ttl() - round_interval()) {
        spdlog::warn("cluster: lease of the merge stage lost; dropping it");
        drop_merge(false);
      }
      return;
    }
    const auto r = leases->create(kMergeKey, cc.instance_id);
    if (!r) return;
    merge_lease_rev = *r;
    merge_renewed = now;
    merge = std::make_unique<MergeStage>(*js, *state, cc, make_engine(false), two_phase,
                                         [this](const rules::Emission& e) { publish(e, e.result_id); });
    try {
      merge->load(*r, [this] {
        const auto lease = leases->get(kMergeKey);
        return lease && lease->revision == merge_lease_rev && lease->value == cc.instance_id;
      });
    } catch (const std::exception& e) {
      spdlog::error("cluster: cannot take the merge stage: {}", e.what());
      drop_merge(true);
    }
  }

  //! A checkpoint (best effort), then the stage and its lease given back: before a reload, at
  //! shutdown. `when` goes into the warning of a failed checkpoint.
  void release_merge(std::string_view when) {
    if (!merge) return;
    try {
      merge->checkpoint();
    } catch (const std::exception& e) {
      spdlog::warn("cluster: merge stage: checkpoint {}: {}", when, e.what());
    }
    drop_merge(true);
  }

  //! `give_back`: erase the lease too (an error of ours: let any instance take it again).
  void drop_merge(bool give_back) {
    if (!merge) return;
    try {
      merge->close();
      // Only our own lease: after a freeze it may be another instance's already.
      const auto lease = give_back ? leases->get(kMergeKey) : std::nullopt;
      if (lease && lease->revision == merge_lease_rev && lease->value == cc.instance_id) leases->erase(kMergeKey);
    } catch (const std::exception& e) {
      spdlog::warn("cluster: merge stage: {}", e.what());
    }
    merge.reset();
  }

  //! After a partition's batch: its two-phase rules' watermarks, published after its partials
  //! (one publisher, in order), so the merge stage has every partial below a watermark it sees.
  void publish_heartbeat(Partition& p) {
    if (two_phase.empty()) return;
    nlohmann::json wm = nlohmann::json::object();
    rules::TimeNs low = rules::kTimeMax;
    for (const auto& m : p.engine->metrics()) {
      if (std::find(two_phase.begin(), two_phase.end(), m.name) == two_phase.end()) continue;
      wm[m.name] = m.watermark;
      low = std::min(low, m.watermark);
    }
    std::string payload = nlohmann::json{{"p", p.id}, {"wm", std::move(wm)}}.dump();
    if (payload == p.heartbeat) return;
    send(partials.subject_prefix + "." + std::to_string(p.id) + ".wm", payload, "", "heartbeat");
    p.heartbeat = std::move(payload);
    p.watermark = low;
  }

  //! An idle partition journals a marker that moves its event time on to the fleet's: the
  //! partition's windows close as on one box, whose watermark is the latest of all devices.
  void advance_if_idle(Partition& p) {
    if (two_phase.empty() || fleet_wm <= p.watermark || fleet_wm <= p.marker_sent) return;
    if (Clock::now() - p.last_data < kIdleAfter) return;
    const std::string wm = std::to_string(fleet_wm);
    send(cc.subject_prefix + "." + std::to_string(p.id) + std::string(kWatermarkMarker), wm,
         "wm/" + std::to_string(p.id) + "/" + wm, "idle marker");
    p.marker_sent = fleet_wm;
  }

  //! Processing time of a quiet partition. Its engine's processing time is the stream timestamp
  //! of the messages it consumes (a replay builds the same windows), so nothing moves it while no
  //! message comes: a partition idle for kIdleAfter journals a clock marker, at most one per
  //! kIdleAfter, while a window waits on the clock (a stream without TIMESTAMP, or with
  //! IDLETIMEOUT); consumed, the marker ticks the engine with its own stream timestamp, so a
  //! replay after a takeover ticks alike. The id (partition, wall-clock second) lets a stale
  //! owner's marker of the same second be dropped; a second one would tick to the same time.
  void tick_if_idle(Partition& p) {
    const auto now = Clock::now();
    if (now - p.last_data < kIdleAfter || now - p.clock_sent < kIdleAfter) return;
    if (!p.engine->waits_on_clock()) return;
    const std::string second = std::to_string(wall_now_ns() / 1'000'000'000);
    send(cc.subject_prefix + "." + std::to_string(p.id) + std::string(kClockMarker), second,
         "clock/" + std::to_string(p.id) + "/" + second, "clock marker");
    p.clock_sent = now;
  }

  //! A pull from a consumer deleted under this owner times out like an empty one, so a partition
  //! whose consumer is gone looks idle for ever. Another instance deletes it when it takes the
  //! partition (load: the previous owner's consumer), also one that stalled between winning the
  //! lease and loading and thaws after this instance took it over. Asked once per kIdleAfter of
  //! silence: throwing reloads the partition (a new consumer from the checkpoint) if the lease
  //! is still ours, and drops it if not.
  void check_consumer_if_idle(Partition& p) {
    const auto now = Clock::now();
    if (now - p.last_data < kIdleAfter || now - p.consumer_checked < kIdleAfter) return;
    p.consumer_checked = now;
    bool exists = true;
    try {
      exists = js->consumer_exists(cc.input_stream, p.consumer);
    } catch (const NatsError&) {
      return;  // no answer (a slow server): ask again next time, a reload would only cost
    }
    if (!exists) {
      throw std::runtime_error("its consumer " + p.consumer + " is gone (deleted by an instance taking the partition)");
    }
  }

  //! True while the lease of `p` is the one this instance took it with.
  bool lease_still_ours(const Partition& p) {
    const auto lease = leases->get(partition_key(p.id));
    return lease && lease->revision == p.lease_rev && lease->value == cc.instance_id;
  }

  void acquire(int id, std::uint64_t lease_rev, bool lapsed) {
    Partition p;
    p.id = id;
    p.lease_rev = lease_rev;
    p.lease_renewed = Clock::now();
    p.consumer = cc.input_stream + "-p" + std::to_string(id) + "-" + std::to_string(lease_rev);
    try {
      load(p);
    } catch (const std::exception& e) {
      spdlog::error("cluster: cannot take partition {}: {}", id, e.what());
      // Give the lease back, unless it moved on while we tried (erasing would free the new
      // owner's partition under it).
      try {
        if (lease_still_ours(p)) leases->erase(partition_key(id));
      } catch (const std::exception&) {
      }
      return;
    }
    ++stats.acquired;
    if (lapsed) ++stats.takeovers;
    spdlog::info("cluster: took partition {} at stream sequence {}{}", id, p.last_seq + 1,
                 lapsed ? " (its holder stopped renewing the lease)" : "");
    p.last_data = Clock::now();
    publish_heartbeat(p);  // the merge stage waits for every partition to be heard of
    owned.emplace(id, std::move(p));
  }

  // Engine state and position from the partition's checkpoint, and a fresh consumer after it.
  void load(Partition& p) {
    if (p.sub) {  // a reload: the consumer is ours, start it again from the checkpoint
      p.sub.reset();
      js->delete_consumer(cc.input_stream, p.consumer);
    }
    p.engine = make_engine();
    p.checkpoint_rev = 0;
    p.last_seq = 0;
    if (auto entry = state->get(partition_key(p.id))) {
      const auto doc = nlohmann::json::from_cbor(entry->value);
      p.last_seq = doc.at("seq").get<std::uint64_t>();
      p.engine->restore_state(doc.at("state"));
      p.checkpoint_rev = entry->revision;
      // The previous owner's consumer, unless it is already gone (it also expires when unused).
      // Only while the lease is still ours: an instance that stalled between winning the lease
      // and this point may find a checkpoint of the owner that took the partition over since,
      // and would delete the live owner's consumer (check_consumer_if_idle covers the stall
      // that comes after this check).
      const std::string previous = doc.value("consumer", std::string());
      if (!previous.empty() && previous != p.consumer) {
        if (!lease_still_ours(p)) throw std::runtime_error("its lease moved on while taking it");
        js->delete_consumer(cc.input_stream, previous);
      }
    }
    p.checkpointed_seq = p.last_seq;
    p.last_unacked.reset();
    p.last_checkpoint = Clock::now();
    p.covered = p.last_checkpoint;
    p.consistent = true;
    p.sub = js->pull_from(cc.input_stream, cc.subject_prefix + "." + std::to_string(p.id) + ".>",
                          p.consumer, p.last_seq + 1, kMaxAckPending);
  }

  void release(int id) {
    auto it = owned.find(id);
    if (it == owned.end()) return;
    checkpoint(it->second);
    js->delete_consumer(cc.input_stream, it->second.consumer);
    leases->erase(partition_key(id));
    spdlog::info("cluster: released partition {}", id);
    owned.erase(it);
  }

  // --- processing ------------------------------------------------------------------------

  //! Returns the number of messages handled.
  std::size_t poll(Partition& p) {
    auto msgs = p.sub->fetch(cc.fetch_batch, 5);
    p.lag = msgs.empty() ? 0 : msgs.back().num_pending();
    if (msgs.empty()) return 0;
    p.consistent = false;
    std::vector<rules::Emission> out;
    const rules::EmitFn emit = [&out](rules::Emission&& e) { out.push_back(std::move(e)); };
    const std::string prefix = cc.subject_prefix + "." + std::to_string(p.id) + ".";
    std::string payload;
    for (auto& m : msgs) {
      if (m.stream_seq() <= p.last_seq) continue;  // already covered (redelivery)
      std::string_view subject = m.subject();
      if (subject.rfind(prefix, 0) == 0) subject.remove_prefix(prefix.size());
      if (subject == kWatermarkMarker.substr(1)) {
        try {
          p.engine->advance_event_time(std::stoll(std::string(m.data())), m.timestamp_ns(), emit);
        } catch (const std::exception&) {
        }
        p.last_seq = m.stream_seq();
        continue;
      }
      if (subject == kClockMarker.substr(1)) {
        p.engine->on_tick(m.timestamp_ns(), emit);
        p.last_seq = m.stream_seq();
        continue;
      }
      p.last_data = Clock::now();
      const std::string topic = subject_to_topic(subject);
      payload.assign(m.data());
      payload.reserve(payload.size() + rules::kJsonPadding);
      rules::IngestStatus status = rules::IngestStatus::Ok;
      try {
        status = p.engine->on_message(topic, payload, m.timestamp_ns(), emit, /*padded=*/true);
      } catch (const std::exception& e) {
        status = rules::IngestStatus::MalformedJson;
        spdlog::warn("cluster: partition {} sequence {}: {}", p.id, m.stream_seq(), e.what());
      }
      if (status != rules::IngestStatus::Ok && status != rules::IngestStatus::NoStream) {
        ++stats.rejected;
        const auto now = Clock::now();
        if (now - last_reject_log >= 10s) {  // rate-limited: bad input must not flood the log
          last_reject_log = now;
          spdlog::warn("cluster: partition {} sequence {} on '{}': {} ({} rejected so far)", p.id, m.stream_seq(),
                       topic, rules::to_string(status), stats.rejected.load());
        }
        if (!config.dead_letter_topic.empty()) {
          // Its id is the input's position: a replay after a takeover repeats the same id.
          out.push_back(dead_letter_emission(config.dead_letter_topic, topic, m.data(), rules::to_string(status),
                                             m.data().size(), m.timestamp_ns()));
          out.back().result_id = "dl/p" + std::to_string(p.id) + "/" + std::to_string(m.stream_seq());
          ++stats.dead_letters;
        }
      }
      p.last_seq = m.stream_seq();
      ++stats.events;
      ++p.events;
    }
    const std::size_t n = msgs.size();
    p.last_unacked.emplace(std::move(msgs.back()));
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i].kind == rules::EmissionKind::Partial) {
        // Deterministic id (rule, window, group, partition): a replay's partials are dropped.
        send(partials.subject_prefix + "." + std::to_string(p.id) + ".g", out[i].payload,
             out[i].result_id + "/p" + std::to_string(p.id), out[i].rule);
        continue;
      }
      // An emission without a deterministic id still gets one that a replay from the same
      // checkpoint reproduces: partition, input position, index within the batch.
      publish(out[i], !out[i].result_id.empty() ? out[i].result_id
                                                : "p" + std::to_string(p.id) + "/" + std::to_string(p.last_seq) + "/" +
                                                      std::to_string(i));
    }
    publish_heartbeat(p);
    p.results += out.size();
    p.consistent = true;
    return n;
  }

  void publish(const rules::Emission& e, const std::string& id) {
    send(topic_to_subject(e.topic), e.payload, id, e.rule);
  }

  //! Publishes with `id` as message id (empty: none), retrying while NATS is unavailable.
  void send(const std::string& subject, std::string_view payload, const std::string& id, const std::string& what) {
    const auto first_try = Clock::now();
    while (true) {
      try {
        if (js->publish(subject, payload, id)) {
          ++stats.results_published;
        } else {
          ++stats.results_duplicate;
        }
        return;
      } catch (const NatsError& err) {
        // No responders: no stream takes the subject, or a just-created (or failing over)
        // stream has no leader yet. The second passes within seconds; the first is a
        // configuration error that must not stall the partition for ever.
        if (err.status() == NATS_NO_RESPONDERS && Clock::now() - first_try >= kNoStreamPatience) {
          ++stats.results_dropped;
          spdlog::error("cluster: no stream takes subject '{}' (rule {}) after {} s: result dropped; add it "
                        "with cluster-results-subject",
                        subject, what, std::chrono::duration_cast<std::chrono::seconds>(kNoStreamPatience).count());
          return;
        }
        if (stopping) throw;
        // A node restarting or a stream leader election: the server deduplicates the retry.
        if (Clock::now() - last_retry_log >= 10s) {  // rate-limited: an outage fails every publish
          last_retry_log = Clock::now();
          spdlog::warn("cluster: publish to {} failed ({}), retrying", subject, err.what());
        }
        heartbeat.beat();  // waiting for NATS is not being stuck
        std::this_thread::sleep_for(200ms);
      }
    }
  }

  //! Writes engine state + position with a revision check, then acknowledges the input it covers.
  bool checkpoint(Partition& p) {
    p.last_checkpoint = Clock::now();
    if (!p.consistent) return true;
    if (p.last_seq == p.checkpointed_seq) {
      p.covered = p.last_checkpoint;
      return true;
    }
    nlohmann::json doc;
    doc["seq"] = p.last_seq;
    doc["owner"] = cc.instance_id;
    doc["consumer"] = p.consumer;
    doc["state"] = p.engine->save_state();
    const auto bytes = nlohmann::json::to_cbor(doc);
    const std::string_view value(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (static_cast<std::int64_t>(value.size()) + 1024 > js->max_payload()) {
      // Not a fencing problem: retrying would fail the same way. The input stays unacknowledged
      // (after a takeover it is replayed from the last checkpoint that fitted).
      if (p.last_checkpoint - p.last_too_large_log >= 10s) {
        p.last_too_large_log = p.last_checkpoint;
        spdlog::error("cluster: checkpoint of partition {} is {} bytes, over the server's max_payload ({}): "
                      "not written; raise max_payload or use more partitions",
                      p.id, value.size(), js->max_payload());
      }
      return false;
    }
    const auto rev = p.checkpoint_rev == 0 ? state->create(partition_key(p.id), value)
                                           : state->update(partition_key(p.id), value, p.checkpoint_rev);
    if (!rev) {
      // Another instance wrote since we read (it holds the partition now), or the write failed
      // on the way: either way our state is not the newest; start again from the stored one.
      ++stats.fenced;
      spdlog::warn("cluster: checkpoint of partition {} refused (revision moved)", p.id);
      reload(p);
      return false;
    }
    p.checkpoint_rev = *rev;
    p.checkpointed_seq = p.last_seq;
    p.covered = p.last_checkpoint;
    ++stats.checkpoints;
    if (p.last_unacked) {
      p.last_unacked->ack();  // AckAll: covers every earlier message of the partition
      p.last_unacked.reset();
    }
    return true;
  }

  //! After a failure: start the partition again from its checkpoint if the lease is still ours,
  //! else mark it lost (recreating its consumer would take it from the new owner).
  void reload(Partition& p) {
    const auto lease = leases->get(partition_key(p.id));
    if (!lease || lease->revision != p.lease_rev || lease->value != cc.instance_id) {
      spdlog::warn("cluster: partition {} is no longer ours; dropping it", p.id);
      p.lost = true;
      p.sub.reset();
      js->delete_consumer(cc.input_stream, p.consumer);
      return;
    }
    load(p);
  }

  void run() {
    while (!stopping) {
      heartbeat.beat();
      try {
        if (!js) {
          try {
            connect();
          } catch (...) {
            js.reset();  // half connected (a stream or bucket missing): start over
            throw;
          }
        }
        const auto now = Clock::now();
        if (now >= next_lease_round) {
          lease_round();
          next_lease_round = now + round_interval();
        }
        if (reload_pending.exchange(false)) apply_reload();
        serve_control();
        if (now >= next_snapshot) {
          next_snapshot = now + 1s;
          snapshot_out.store(make_cluster_snapshot(status(), wall_now_ns()));
        }
        std::size_t handled = 0;
        for (auto& [id, p] : owned) {
          if (stopping) break;
          try {
            const std::size_t n = poll(p);
            if (n == 0) {
              check_consumer_if_idle(p);
              advance_if_idle(p);
              tick_if_idle(p);
            }
            handled += n;
            if (p.last_seq - p.checkpointed_seq >= kCheckpointEveryEvents ||
                Clock::now() - p.last_checkpoint >= config.checkpoint_interval) {
              checkpoint(p);
            }
          } catch (const std::exception& e) {
            spdlog::warn("cluster: partition {}: {}; reloading from its checkpoint", id, e.what());
            try {
              reload(p);
            } catch (const std::exception& e2) {
              spdlog::warn("cluster: partition {} reload failed: {}", id, e2.what());
            }
          }
        }
        std::erase_if(owned, [](const auto& kv) { return kv.second.lost; });
        stats.owned = static_cast<int>(owned.size());
        if (merge && !stopping) {
          try {
            handled += merge->poll();
            if (merge->checkpoint_due() && !merge->checkpoint()) drop_merge(false);  // fenced: not ours
          } catch (const std::exception& e) {
            spdlog::warn("cluster: merge stage: {}; giving it back to start again from its checkpoint", e.what());
            drop_merge(true);
          }
        }
        if (handled == 0) std::this_thread::sleep_for(owned.empty() ? 50ms : 5ms);
      } catch (const std::exception& e) {
        spdlog::error("cluster: {}", e.what());
        if (!js) {
          std::this_thread::sleep_for(1s);
        } else {
          std::this_thread::sleep_for(200ms);
        }
      }
    }
    shutdown();
  }

  // --- operations ------------------------------------------------------------------------

  //! Between two rounds, so every engine is consistent: the checkpoint written first holds the
  //! state the old rules built up to here (a takeover replays what follows with the rules of the
  //! instance that takes over: reload every instance).
  void apply_reload() {
    std::vector<std::pair<std::string, std::string>> next;
    {
      std::lock_guard<std::mutex> lock(reload_mu);
      if (!reload_files) return;
      next = std::move(*reload_files);
      reload_files.reset();
    }
    rules::Engine probe(engine_options);
    if (const auto errors = probe.reload(next); !errors.empty()) {
      for (const auto& e : errors) spdlog::error("reload: {}", e.to_string());
      spdlog::error("reload refused; the previous rules keep running");
      ++stats.reload_failures;
      return;
    }
    // Fleet-wide rules may come or go: partitions emit partials for the new set, and the merge
    // stage is given back after a checkpoint, to be taken again with an engine over the new files.
    std::vector<std::string> next_two_phase = two_phase_rules(next, cc.partition_field);
    release_merge("before reload");
    for (auto& [id, p] : owned) {
      try {
        checkpoint(p);
      } catch (const std::exception& e) {
        spdlog::warn("cluster: partition {}: checkpoint before reload: {}", id, e.what());
      }
      // The same files loaded into the probe: they load here too.
      p.engine->set_partial_rules(next_two_phase);
      p.engine->reload(next);
    }
    files = std::move(next);
    const bool had_two_phase = !two_phase.empty();
    two_phase = std::move(next_two_phase);
    if (!had_two_phase && !two_phase.empty()) {
      const int replicas = cc.replicas > 0 ? cc.replicas : (js->cluster_size() >= 3 ? 3 : 1);
      ensure_partials_stream(replicas, std::chrono::duration_cast<std::chrono::nanoseconds>(cc.dedup_window).count());
    }
    rule_infos = probe.rules();
    ++stats.reloads;
    spdlog::info("reloaded rules: {} rules in {} partitions", rule_infos.size(), owned.size());
    for (const auto& r : rule_infos) {
      if (!cc.results_subjects.empty()) break;
      // The results stream keeps the subjects it was created with.
      spdlog::info("rule '{}' -> '{}' (the results stream must take subject '{}')", r.name, r.output_topic,
                   topic_to_subject(r.output_topic));
    }
  }

  static std::int64_t wall_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  ClusterStatus status() const {
    ClusterStatus s;
    const auto now = Clock::now();
    s.instance = cc.instance_id;
    s.partitions = cc.partitions;
    s.connected = js && js->connected();
    s.members = members_seen;
    s.partition.resize(static_cast<std::size_t>(std::max(cc.partitions, 0)));
    for (int i = 0; i < cc.partitions; ++i) {
      auto& ps = s.partition[static_cast<std::size_t>(i)];
      ps.id = i;
      if (auto h = view.holder(partition_key(i), now)) ps.owner = *h;
    }
    for (const auto& [id, p] : owned) {
      if (id < 0 || id >= cc.partitions) continue;
      auto& ps = s.partition[static_cast<std::size_t>(id)];
      ps.owner = cc.instance_id;
      ps.here = true;
      ps.events = p.events;
      ps.results = p.results;
      ps.lag = p.lag;
      ps.last_seq = p.last_seq;
      ps.checkpoint_age_seconds = std::chrono::duration<double>(now - p.covered).count();
    }
    s.events = stats.events;
    s.rejected = stats.rejected;
    s.dead_letters = stats.dead_letters;
    s.results_published = stats.results_published;
    s.results_duplicate = stats.results_duplicate;
    s.results_dropped = stats.results_dropped;
    s.checkpoints = stats.checkpoints;
    s.fenced = stats.fenced;
    s.acquired = stats.acquired;
    s.takeovers = stats.takeovers;
    s.reloads = stats.reloads;
    s.reload_failures = stats.reload_failures;
    s.lease_round_seconds = lease_round_seconds;
    s.lease_view_updates = view.updates();
    s.uptime_seconds = std::chrono::duration<double>(now - started).count();
    s.rss_bytes = resident_memory_bytes();
    return s;
  }

  //! Control requests queued since the last call (a few per call: requests never starve input).
  void serve_control() {
    if (!control) return;
    for (int i = 0; i < 8; ++i) {
      auto req = control->poll();
      if (!req) return;
      std::string topic;
      const std::string reply = handle_cluster_control(req->data, config.control_secret, config.control_topic + "/reply",
                                                       status(), rule_infos, control_stats, topic);
      // A NATS request (nats req) is answered on its inbox; an MQTT one on the reply topic.
      js->publish_core(req->reply.empty() ? topic_to_subject(topic) : req->reply, reply);
    }
  }

  void shutdown() {
    if (!js) return;
    for (auto& [id, p] : owned) {
      try {
        checkpoint(p);
        js->delete_consumer(cc.input_stream, p.consumer);
        leases->erase(partition_key(id));
      } catch (const std::exception& e) {
        spdlog::warn("cluster: partition {} at shutdown: {}", id, e.what());
      }
    }
    owned.clear();
    release_merge("at shutdown");
    try {
      leases->erase("m." + cc.instance_id);
    } catch (const std::exception&) {
    }
    spdlog::info("cluster: {} events, {} results published ({} duplicates dropped by the server), {} checkpoints",
                 stats.events.load(), stats.results_published.load(), stats.results_duplicate.load(),
                 stats.checkpoints.load());
    // Every libnats handle, then the connection, here on the worker: the connection's last
    // callbacks (they log) are over when stop() returns, not running while the process exits.
    view.stop();
    control.reset();
    state.reset();
    leases.reset();
    js.reset();
  }
};

ClusterRunner::ClusterRunner(const Config& config, std::vector<std::pair<std::string, std::string>> files,
                             rules::EngineOptions engine_options, Heartbeat& heartbeat)
    : impl_(std::make_unique<Impl>(config, std::move(files), std::move(engine_options), stats_, heartbeat, snapshot_)) {}

const Heartbeat& ClusterRunner::heartbeat() const { return impl_->heartbeat; }

ClusterRunner::~ClusterRunner() { stop(); }

void ClusterRunner::start() {
  worker_ = std::thread([this] { impl_->run(); });
}

void ClusterRunner::request_reload(std::vector<std::pair<std::string, std::string>> files) {
  {
    std::lock_guard<std::mutex> lock(impl_->reload_mu);
    impl_->reload_files = std::move(files);
  }
  impl_->reload_pending = true;
}

void ClusterRunner::stop() {
  impl_->stopping = true;
  if (worker_.joinable()) worker_.join();
}

}  // namespace streamgate::gateway::cluster
