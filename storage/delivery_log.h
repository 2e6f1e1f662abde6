// DeliveryLog: which QoS >= 1 message was last journaled under each MQTT packet id, so a broker's
// redelivery (DUP flag set) of a message the gateway already journaled is recognised and not
// counted twice, also across a crash.
//
// Why it is needed: Paho C can hand a message to the gateway (which journals it) before its
// PUBACK has left the socket; after a kill -9 the broker redelivers it. Why it is safe: a broker
// reuses a packet id only after the previous message under it was acknowledged, and allocates ids
// in sequence (Mosquitto, EMQX, NATS, HiveMQ), so a DUP message whose id and content match an entry
// recorded within the last kWindow arrivals is the same message. An entry older than that is
// ignored (an id reused after a wrap-around with identical content is a new message).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "storage/database.h"

namespace streamgate::storage {

class DeliveryLog {
 public:
  //! Arrivals within which a matching DUP message counts as a redelivery (half the id space).
  static constexpr std::int64_t kWindow = 32768;

  //! `db` must be migrated and outlive the log. Loads the recorded entries.
  explicit DeliveryLog(Database& db);

  //! A stable digest of topic and payload (FNV-1a 64; not cryptographic: it only has to tell a
  //! redelivery from a different message under the same recent packet id).
  static std::int64_t digest(std::string_view topic, std::string_view payload);

  //! True when a DUP message with this id and digest was already recorded (journaled).
  bool is_redelivery(int packet_id, std::int64_t digest) const;

  //! Records a journaled message; call inside the journal append's transaction.
  void record(int packet_id, std::int64_t digest);

  //! The broker started a new session: old packet ids mean nothing any more.
  void forget_all();

 private:
  struct Entry {
    std::int64_t digest;
    std::int64_t arrival_plus_one;  //!< 0: nothing recorded (so fresh zero pages mean "empty")
  };
  struct FreeDeleter {
    void operator()(Entry* p) const noexcept { std::free(p); }
  };
  Database& db_;
  //! Indexed by packet id (1..65535). 1 MiB from calloc: the kernel maps its pages only as ids
  //! are used, so an idle gateway does not pay for it in RSS.
  std::unique_ptr<Entry[], FreeDeleter> entries_;
  std::int64_t arrivals_ = 0;   //!< QoS >= 1 messages recorded so far (monotonic across restarts)
};

}  // namespace streamgate::storage
