// Cluster mode's merge stage for fleet-wide windowed rules (docs/scaling-out.md, "Fleet-wide
// rules"): partition engines publish each fired window's per-group aggregate states (partials)
// and, after them, heartbeats with their watermarks, to the partials stream. The one instance
// holding the "global" lease consumes that stream in order, merges the partials into its own
// engine over the same rule files, and fires a merged window once every partition's watermark
// has passed its end, publishing rows with the single-box result ids. Its state (merged open
// windows, the partitions' watermarks, the stream position) is checkpointed in the state bucket
// with a revision check, like a partition's, so a takeover continues exactly.
// Owned and used by the cluster runner's worker thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/cluster/nats_client.h"
#include "gateway/config.h"
#include "rules/engine.h"

namespace streamgate::gateway::cluster {

//! Names shared by the partitions (publishers) and the merge stage (consumer).
struct PartialsNaming {
  std::string stream;          //!< <input stream>_PARTIALS
  std::string subject_prefix;  //!< <subject prefix>_partials: .<p>.g (partials), .<p>.wm (heartbeats)
  static PartialsNaming of(const ClusterConfig& cc) {
    return {cc.input_stream + "_PARTIALS", cc.subject_prefix + "_partials"};
  }
};

//! Key of the fleet watermark in the state bucket: the merge stage writes the highest watermark
//! any partition reported; an idle partition moves its event time on to it (single-box
//! semantics: one box's watermark is the latest event time of all devices).
inline const std::string kFleetWatermarkKey = "fleet";
inline const std::string kMergeKey = "global";

struct MergeStats {
  std::uint64_t partials = 0;
  std::uint64_t late_partials = 0;  //!< for windows already fired (replays beyond the dedup window)
  std::uint64_t bad_partials = 0;
  std::uint64_t heartbeats = 0;
  std::uint64_t checkpoints = 0;
};

class MergeStage {
 public:
  using Publish = std::function<void(const rules::Emission&)>;
  //! `rules`: the two-phase rules; `partitions`: P (a window fires when all P have passed it).
  MergeStage(JetStream& js, KvBucket& state, const ClusterConfig& cc, std::unique_ptr<rules::Engine> engine,
             std::vector<std::string> rules, Publish publish);
  ~MergeStage();
  MergeStage(const MergeStage&) = delete;
  MergeStage& operator=(const MergeStage&) = delete;

  //! Loads the checkpoint and subscribes after it; `lease_rev` names this ownership's consumer.
  //! The previous owner's consumer (in the checkpoint) is deleted only while `lease_still_ours`
  //! says so: an instance that stalled after winning the lease may find the checkpoint of the
  //! owner that took the stage over since; else load throws.
  void load(std::uint64_t lease_rev, const std::function<bool()>& lease_still_ours);
  //! One batch: merges partials, records heartbeats, fires what every partition has passed and
  //! publishes it. Returns the number of messages handled. Throws when, after a second without
  //! messages, this ownership's consumer is found deleted (a pull from it would only time out).
  std::size_t poll();
  //! Revision-checked; false when refused (another instance holds the stage now).
  bool checkpoint();
  bool checkpoint_due() const;
  //! Deletes this ownership's consumer (the lease is given back by the caller).
  void close();
  const MergeStats& stats() const { return stats_; }

 private:
  struct PartitionMark {
    std::map<std::string, rules::TimeNs> wm;  //!< per two-phase rule, the highest reported
  };
  void on_heartbeat(std::string_view data);
  void fire();

  JetStream& js_;
  KvBucket& state_;
  const ClusterConfig& cc_;
  const PartialsNaming names_;
  std::unique_ptr<rules::Engine> engine_;
  const std::vector<std::string> rules_;
  Publish publish_;
  std::unique_ptr<PullSubscription> sub_;
  std::string consumer_;
  std::map<int, PartitionMark> marks_;
  std::map<std::string, rules::TimeNs> fired_to_;  //!< per rule, the watermark last advanced to
  rules::TimeNs fleet_wm_ = rules::kTimeMin;
  rules::TimeNs fleet_written_ = rules::kTimeMin;
  rules::TimeNs now_ = 0;  //!< stream time of the last message: deterministic processing time
  std::uint64_t last_seq_ = 0;
  std::uint64_t checkpointed_seq_ = 0;
  std::uint64_t checkpoint_rev_ = 0;
  std::optional<Message> last_unacked_;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::chrono::steady_clock::time_point last_data_;
  std::chrono::steady_clock::time_point consumer_checked_;
  MergeStats stats_;
};

}  // namespace streamgate::gateway::cluster
