// Where the pipeline's input comes from, as the worker and the publisher see it. One
// implementation: MqttSource (Paho subscription + SQLite input journal: the single box). Cluster
// mode (gateway/cluster/cluster_runner.cpp) does not go through this interface: it has one input
// per owned partition (a pull consumer, so no ingress ring for taken()/take_spilled() to describe)
// and no Pipeline to plug into; see the note in sink.h.
//
// Positions are int64, increasing in arrival order (journal seq, stream sequence): a checkpoint
// records the position its state includes, and the source may forget input up to a position only
// once a checkpoint covering it is durable (covered()).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include "gateway/spsc_ring.h"

namespace streamgate::gateway {

//! A message that reaches the worker outside the ingress ring (replay, spilled input).
struct SourceMessage {
  std::string_view topic;
  std::string_view payload;  //!< no padding: the engine copies before parsing
  std::int64_t received_ns = 0;
  std::int64_t position = 0;
};
using SourceMessageFn = std::function<void(const SourceMessage&)>;

class Source {
 public:
  virtual ~Source() = default;

  // ---- main thread, before and after the worker runs ----
  //! Feeds `handle` every message after `position` that the last run left (the journal), in
  //! order; returns the last position replayed.
  virtual std::int64_t replay_after(std::int64_t position, const SourceMessageFn& handle) = 0;
  //! Starts intake: messages begin to arrive in the ingress ring.
  virtual void start() = 0;
  //! Nothing more enters the ring once this returns (messages still arriving are kept durable
  //! where the source can, for the next start).
  virtual void close_intake() = 0;
  //! Disconnects (after the worker stopped).
  virtual void stop(std::chrono::milliseconds timeout) = 0;
  virtual bool connected() const = 0;

  // ---- worker thread ----
  //! Every message the worker took from the ring, in order, before it is handled.
  virtual void taken(const MessageSlot& slot) = 0;
  //! Input that bypassed the ring (spilled while it was full), in order; call only with the ring
  //! empty. Returns how many messages were handled (at most `max`).
  virtual std::size_t take_spilled(const SourceMessageFn& handle, std::size_t max) = 0;
  //! True when spilled input waits for take_spilled().
  virtual bool spill_pending() const = 0;
  //! Makes everything taken so far durable; returns the position a checkpoint taken now includes.
  virtual std::int64_t sync() = 0;
  //! Steady-clock ns by which sync() must run even when idle (0: nothing waits).
  virtual std::int64_t sync_due_ns() const = 0;

  // ---- publisher thread ----
  //! A checkpoint that includes everything up to `position` is durable: input up to there may
  //! be forgotten (journal truncated, upstream acknowledged).
  virtual void covered(std::int64_t position) = 0;
};

}  // namespace streamgate::gateway
