// Where the pipeline's results go, as the worker and the publisher see it. One implementation:
// MqttSink (Paho publish, SQLite outbox and checkpoints: the single box). Cluster mode publishes
// and checkpoints in its own loop because checkpoint() here is fire-and-forget on the publisher
// thread, while a cluster checkpoint is a revision-checked write whose refusal (another instance
// owns the partition now) must stop that partition before it handles one more message; fitting it
// would need checkpoint() to report that outcome to the worker synchronously.
//
// The contract that makes "at least once" hold without writing every result to disk: a
// checkpoint reaches the sink behind the results emitted before it, and the sink saves it (and
// lets the source forget the input it covers) only once every one of those results is
// acknowledged by the output or stored durably. Until then the input that produced them is still
// in the source, so a crash re-emits them.
#pragma once

#include <functional>
#include <memory>

#include "gateway/pipeline_metrics.h"
#include "rules/engine.h"

namespace streamgate::gateway {

class Sink {
 public:
  virtual ~Sink() = default;

  //! Worker (or any thread): a result handed to the output at once and not kept (at-most-once, or
  //! QoS 0 output with nothing to acknowledge). While the output's buffer is full (the broker away
  //! or not reading) it waits and retries, asking `keep_waiting()` before each wait; false from it
  //! gives the result up. Returns whether the output took it (a result the output can never
  //! send, e.g. a topic too long, is dropped at once, counted and logged).
  virtual bool send_now(const rules::Emission& e, const std::function<bool()>& keep_waiting) = 0;

  // ---- publisher thread ----
  //! One result, in emission order, with its rule's delivery level.
  virtual void send(rules::Emission&& e, Delivery delivery) = 0;
  //! A checkpoint that follows every result sent so far (see above).
  virtual void checkpoint(std::unique_ptr<PendingCheckpoint> cp) = 0;
  //! Collects acknowledgements, resends after a reconnect, drains stored results, saves a
  //! checkpoint whose results are all safe. Returns true while work is outstanding (poll soon).
  virtual bool pump() = 0;
  //! True when no result waits anywhere (in flight, stored) and no checkpoint is pending.
  virtual bool drained() const = 0;
  //! Shutdown: whether waiting longer can help (false: the output is unreachable).
  virtual bool can_progress() const = 0;
  //! Shutdown, after the last pump: results still unacknowledged are stored for the next start
  //! and the pending checkpoint is saved.
  virtual void finish() = 0;
};

}  // namespace streamgate::gateway
