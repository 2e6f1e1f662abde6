// Cluster mode's worker: leases, per-partition engines, checkpoints, results; see the header.
#include "gateway/cluster/cluster_runner.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "gateway/cluster/nats_client.h"

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
  };

  Impl(const Config& c, std::vector<std::pair<std::string, std::string>> f, rules::EngineOptions eo,
       ClusterStats& s, Heartbeat& h)
      : config(c), cc(config.cluster), files(std::move(f)), engine_options(std::move(eo)), stats(s), heartbeat(h) {}

  const Config config;
  const ClusterConfig& cc;
  const std::vector<std::pair<std::string, std::string>> files;
  const rules::EngineOptions engine_options;
  ClusterStats& stats;
  Heartbeat& heartbeat;
  std::atomic<bool> stopping{false};

  std::unique_ptr<JetStream> js;
  std::unique_ptr<KvBucket> leases;
  std::unique_ptr<KvBucket> state;
  std::map<int, Partition> owned;
  std::uint64_t member_rev = 0;
  Clock::time_point next_lease_round;
  Clock::time_point last_reject_log;
  Clock::time_point last_retry_log;
  Clock::time_point next_status_log = Clock::now() + 30s;

  // The bucket TTL is 2/3 of the configured bound and leases are renewed five times per TTL, so
  // a live owner does not let one lapse, and a dead one's lapse is seen within 2/3 ttl + one round.
  std::chrono::milliseconds bucket_ttl() const { return cc.lease_ttl * 2 / 3; }
  std::chrono::milliseconds round_interval() const { return cc.lease_ttl / 8; }

  std::unique_ptr<rules::Engine> make_engine() const {
    auto e = std::make_unique<rules::Engine>(engine_options);
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
    if (out.subjects.empty()) {
      auto engine = make_engine();
      for (const auto& r : engine->rules()) {
        const std::string s = topic_to_subject(r.output_topic);
        if (!s.empty() && std::find(out.subjects.begin(), out.subjects.end(), s) == out.subjects.end()) {
          out.subjects.push_back(s);
        }
      }
    }
    out.replicas = replicas;
    out.duplicate_window_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(cc.dedup_window).count();
    if (!out.subjects.empty()) js->ensure_stream(out);
    leases = js->key_value(cc.lease_bucket, replicas,
                           std::chrono::duration_cast<std::chrono::nanoseconds>(bucket_ttl()).count());
    state = js->key_value(cc.state_bucket, replicas, 0);
    spdlog::info("cluster: instance '{}' connected to {}; input stream {} (R{}, {} partitions), results {}",
                 cc.instance_id, cc.url, cc.input_stream, in_replicas, cc.partitions, cc.results_stream);
  }

  // --- ownership -------------------------------------------------------------------------

  void lease_round() {
    const std::string member_key = "m." + cc.instance_id;
    std::optional<std::uint64_t> rev;
    if (member_rev != 0) rev = leases->update(member_key, cc.instance_id, member_rev);
    if (!rev) rev = leases->create(member_key, cc.instance_id);
    if (rev) member_rev = *rev;
    std::vector<std::string> members;
    for (auto& k : leases->keys()) {
      if (k.rfind("m.", 0) == 0) members.push_back(k.substr(2));
    }
    if (std::find(members.begin(), members.end(), cc.instance_id) == members.end()) members.push_back(cc.instance_id);
    std::sort(members.begin(), members.end());

    const auto now = Clock::now();
    for (auto it = owned.begin(); it != owned.end();) {
      Partition& p = it->second;
      if (auto r = leases->update(partition_key(p.id), cc.instance_id, p.lease_rev)) {
        p.lease_rev = *r;
        p.lease_renewed = now;
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
        if (auto r = leases->create(partition_key(p), cc.instance_id)) acquire(p, *r);
      }
    }
    stats.owned = static_cast<int>(owned.size());
    if (now >= next_status_log) {
      next_status_log = now + 30s;
      std::string ids;
      for (const auto& [id, p] : owned) ids += (ids.empty() ? "" : ",") + std::to_string(id);
      spdlog::info("cluster: {} members, owns {} partitions [{}]; {} events, {} rejected, {} results "
                   "({} duplicates dropped by the server, {} without a stream), {} checkpoints, {} fenced, {} takeovers",
                   n, owned.size(), ids, stats.events.load(), stats.rejected.load(), stats.results_published.load(),
                   stats.results_duplicate.load(), stats.results_dropped.load(), stats.checkpoints.load(), stats.fenced.load(),
                   stats.takeovers.load());
    }
  }

  void acquire(int id, std::uint64_t lease_rev) {
    Partition p;
    p.id = id;
    p.lease_rev = lease_rev;
    p.lease_renewed = Clock::now();
    p.consumer = cc.input_stream + "-p" + std::to_string(id) + "-" + std::to_string(lease_rev);
    try {
      load(p);
    } catch (const std::exception& e) {
      spdlog::error("cluster: cannot take partition {}: {}", id, e.what());
      leases->erase(partition_key(id));
      return;
    }
    ++stats.takeovers;
    spdlog::info("cluster: took partition {} at stream sequence {}", id, p.last_seq + 1);
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
      const std::string previous = doc.value("consumer", std::string());
      if (!previous.empty() && previous != p.consumer) js->delete_consumer(cc.input_stream, previous);
    }
    p.checkpointed_seq = p.last_seq;
    p.last_unacked.reset();
    p.last_checkpoint = Clock::now();
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
      }
      p.last_seq = m.stream_seq();
      ++stats.events;
    }
    const std::size_t n = msgs.size();
    p.last_unacked.emplace(std::move(msgs.back()));
    for (std::size_t i = 0; i < out.size(); ++i) publish(p, out[i], i);
    p.consistent = true;
    return n;
  }

  void publish(const Partition& p, const rules::Emission& e, std::size_t index) {
    // An emission without a deterministic id still gets one that a replay from the same
    // checkpoint reproduces: partition, input position, index within the batch.
    const std::string id = !e.result_id.empty()
                               ? e.result_id
                               : "p" + std::to_string(p.id) + "/" + std::to_string(p.last_seq) + "/" + std::to_string(index);
    const std::string subject = topic_to_subject(e.topic);
    const auto first_try = Clock::now();
    while (true) {
      try {
        if (js->publish(subject, e.payload, id)) {
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
                        subject, e.rule, std::chrono::duration_cast<std::chrono::seconds>(kNoStreamPatience).count());
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
    if (p.last_seq == p.checkpointed_seq || !p.consistent) return true;
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
        std::size_t handled = 0;
        for (auto& [id, p] : owned) {
          if (stopping) break;
          try {
            handled += poll(p);
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
    try {
      leases->erase("m." + cc.instance_id);
    } catch (const std::exception&) {
    }
    spdlog::info("cluster: {} events, {} results published ({} duplicates dropped by the server), {} checkpoints",
                 stats.events.load(), stats.results_published.load(), stats.results_duplicate.load(),
                 stats.checkpoints.load());
  }
};

ClusterRunner::ClusterRunner(const Config& config, std::vector<std::pair<std::string, std::string>> files,
                             rules::EngineOptions engine_options, Heartbeat& heartbeat)
    : impl_(std::make_unique<Impl>(config, std::move(files), std::move(engine_options), stats_, heartbeat)) {}

ClusterRunner::~ClusterRunner() { stop(); }

void ClusterRunner::start() {
  worker_ = std::thread([this] { impl_->run(); });
}

void ClusterRunner::stop() {
  impl_->stopping = true;
  if (worker_.joinable()) worker_.join();
}

}  // namespace streamgate::gateway::cluster
