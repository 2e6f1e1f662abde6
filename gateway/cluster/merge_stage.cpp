// The merge stage of two-phase fleet-wide rules; see merge_stage.h.
#include "gateway/cluster/merge_stage.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace streamgate::gateway::cluster {

namespace {
// Unacknowledged partials between two checkpoints stay below the consumer's MaxAckPending.
constexpr int kMaxAckPending = 20'000;
constexpr std::uint64_t kCheckpointEveryMessages = kMaxAckPending / 4;
constexpr auto kCheckpointInterval = std::chrono::milliseconds(500);
}  // namespace

MergeStage::MergeStage(JetStream& js, KvBucket& state, const ClusterConfig& cc, std::unique_ptr<rules::Engine> engine,
                       std::vector<std::string> rules, Publish publish)
    : js_(js),
      state_(state),
      cc_(cc),
      names_(PartialsNaming::of(cc)),
      engine_(std::move(engine)),
      rules_(std::move(rules)),
      publish_(std::move(publish)) {}

MergeStage::~MergeStage() = default;

void MergeStage::load(std::uint64_t lease_rev, const std::function<bool()>& lease_still_ours) {
  consumer_ = names_.stream + "-merge-" + std::to_string(lease_rev);
  if (auto entry = state_.get(kMergeKey)) {
    const auto doc = nlohmann::json::from_cbor(entry->value);
    last_seq_ = doc.at("seq").get<std::uint64_t>();
    engine_->restore_state(doc.at("state"));
    for (const auto& [p, mark] : doc.at("marks").items()) {
      PartitionMark& m = marks_[std::stoi(p)];
      for (const auto& [rule, wm] : mark.at("wm").items()) m.wm[rule] = wm.get<rules::TimeNs>();
    }
    for (const auto& [rule, wm] : doc.at("fired_to").items()) fired_to_[rule] = wm.get<rules::TimeNs>();
    fleet_wm_ = doc.value("fleet", rules::kTimeMin);
    now_ = doc.value("now", rules::TimeNs{0});
    checkpoint_rev_ = entry->revision;
    const std::string previous = doc.value("consumer", std::string());
    if (!previous.empty() && previous != consumer_) {
      if (!lease_still_ours()) throw std::runtime_error("its lease moved on while taking it");
      js_.delete_consumer(names_.stream, previous);
    }
    // The checkpoint's windows up to fired_to have fired: a late partial must not open them again.
    const rules::EmitFn none = [](rules::Emission&&) {};
    for (const auto& [rule, wm] : fired_to_) engine_->advance_rule(rule, wm, now_, none);
  }
  checkpointed_seq_ = last_seq_;
  last_checkpoint_ = std::chrono::steady_clock::now();
  last_data_ = last_checkpoint_;
  sub_ = js_.pull_from(names_.stream, names_.subject_prefix + ".>", consumer_, last_seq_ + 1, kMaxAckPending);
  spdlog::info("cluster: took the merge stage of {} fleet-wide rules at partials sequence {}", rules_.size(),
               last_seq_ + 1);
}

std::size_t MergeStage::poll() {
  auto msgs = sub_->fetch(cc_.fetch_batch, 5);
  const auto now = std::chrono::steady_clock::now();
  if (msgs.empty()) {
    // Deleted under us (see load) it looks like a quiet stream: ask the server once a second.
    if (now - last_data_ >= std::chrono::seconds(1) && now - consumer_checked_ >= std::chrono::seconds(1)) {
      consumer_checked_ = now;
      bool exists = true;
      try {
        exists = js_.consumer_exists(names_.stream, consumer_);
      } catch (const NatsError&) {
        return 0;  // no answer (a slow server): ask again next time
      }
      if (!exists) {
        throw std::runtime_error("its consumer " + consumer_ + " is gone (deleted by an instance taking the stage)");
      }
    }
    return 0;
  }
  last_data_ = now;
  const std::size_t n = msgs.size();
  for (auto& m : msgs) {
    if (m.stream_seq() <= last_seq_) continue;  // redelivered, already merged
    now_ = m.timestamp_ns();
    const std::string_view subject = m.subject();
    if (subject.size() >= 3 && subject.substr(subject.size() - 3) == ".wm") {
      on_heartbeat(m.data());
    } else {
      switch (engine_->merge_partial(m.data())) {
        case rules::Engine::MergeStatus::Merged: ++stats_.partials; break;
        case rules::Engine::MergeStatus::Late: ++stats_.late_partials; break;
        case rules::Engine::MergeStatus::UnknownRule:
        case rules::Engine::MergeStatus::Malformed: ++stats_.bad_partials; break;
      }
    }
    last_seq_ = m.stream_seq();
  }
  last_unacked_.emplace(std::move(msgs.back()));
  fire();
  return n;
}

void MergeStage::on_heartbeat(std::string_view data) {
  ++stats_.heartbeats;
  nlohmann::json j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("p") || !j["p"].is_number_integer()) {
    ++stats_.bad_partials;
    return;
  }
  const int p = j["p"].get<int>();
  if (p < 0 || p >= cc_.partitions) return;
  PartitionMark& m = marks_[p];
  if (const auto wm = j.find("wm"); wm != j.end() && wm->is_object()) {
    for (const auto& [rule, v] : wm->items()) {
      if (!v.is_number_integer()) continue;
      // Highest seen: a new owner replaying from its checkpoint reports lower ones for a while,
      // but the partials up to the old owner's mark are in the stream already.
      auto& slot = m.wm.try_emplace(rule, rules::kTimeMin).first->second;
      slot = std::max(slot, v.get<rules::TimeNs>());
      fleet_wm_ = std::max(fleet_wm_, v.get<rules::TimeNs>());
    }
  }
}

void MergeStage::fire() {
  std::vector<rules::Emission> out;
  const rules::EmitFn emit = [&out](rules::Emission&& e) { out.push_back(std::move(e)); };
  for (const auto& rule : rules_) {
    // A window fires once every partition has passed its end (a partition never heard of holds
    // everything back: it may still have data).
    rules::TimeNs low = rules::kTimeMax;
    for (int p = 0; p < cc_.partitions && low != rules::kTimeMin; ++p) {
      const auto w = marks_.find(p);
      if (w == marks_.end()) {
        low = rules::kTimeMin;
        break;
      }
      const auto r = w->second.wm.find(rule);
      low = std::min(low, r == w->second.wm.end() ? rules::kTimeMin : r->second);
    }
    auto& fired = fired_to_.try_emplace(rule, rules::kTimeMin).first->second;
    if (low <= fired) continue;
    fired = low;
    engine_->advance_rule(rule, low, now_, emit);
  }
  for (const auto& e : out) {
    if (e.kind != rules::EmissionKind::Partial) publish_(e);
  }
  if (fleet_wm_ > fleet_written_) {
    // Idle partitions read it (a lease round each) and move their event time on to it.
    if (state_.put(kFleetWatermarkKey, std::to_string(fleet_wm_))) fleet_written_ = fleet_wm_;
  }
}

bool MergeStage::checkpoint_due() const {
  return last_seq_ - checkpointed_seq_ >= kCheckpointEveryMessages ||
         (last_seq_ != checkpointed_seq_ && std::chrono::steady_clock::now() - last_checkpoint_ >= kCheckpointInterval);
}

bool MergeStage::checkpoint() {
  last_checkpoint_ = std::chrono::steady_clock::now();
  if (last_seq_ == checkpointed_seq_) return true;
  nlohmann::json doc;
  doc["seq"] = last_seq_;
  doc["consumer"] = consumer_;
  doc["state"] = engine_->save_state();
  nlohmann::json marks = nlohmann::json::object();
  for (const auto& [p, m] : marks_) marks[std::to_string(p)] = {{"wm", m.wm}};
  doc["marks"] = std::move(marks);
  doc["fired_to"] = fired_to_;
  doc["fleet"] = fleet_wm_;
  doc["now"] = now_;
  const auto bytes = nlohmann::json::to_cbor(doc);
  const std::string_view value(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto rev = checkpoint_rev_ == 0 ? state_.create(kMergeKey, value) : state_.update(kMergeKey, value, checkpoint_rev_);
  if (!rev) {
    spdlog::warn("cluster: checkpoint of the merge stage refused (revision moved)");
    return false;
  }
  checkpoint_rev_ = *rev;
  checkpointed_seq_ = last_seq_;
  ++stats_.checkpoints;
  if (last_unacked_) {
    last_unacked_->ack();  // AckAll: every partial the checkpoint covers
    last_unacked_.reset();
  }
  return true;
}

void MergeStage::close() {
  sub_.reset();
  if (!consumer_.empty()) js_.delete_consumer(names_.stream, consumer_);
}

}  // namespace streamgate::gateway::cluster
