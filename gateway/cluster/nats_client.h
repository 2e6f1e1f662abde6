// RAII over libnats (the NATS C client): a connection with its JetStream context, key-value
// buckets, pull subscriptions and message lists. Every handle is owned by one object and freed
// by it; failures become NatsError (status + JetStream error code + libnats' last error text).
// No callback is registered with libnats except the connection-event ones in nats_client.cpp,
// which only log and never throw, and none of them runs after ~JetStream returns (it waits for
// the connection's last one). Objects are used by the one thread that owns the cluster runner;
// libnats' own threads never see them.
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace streamgate::gateway::cluster {

class NatsError : public std::runtime_error {
 public:
  NatsError(const std::string& what, natsStatus status, jsErrCode js = static_cast<jsErrCode>(0));
  natsStatus status() const { return status_; }
  jsErrCode js_code() const { return js_; }

 private:
  natsStatus status_;
  jsErrCode js_;
};

template <class T, void (*Free)(T*)>
struct NatsFree {
  void operator()(T* p) const noexcept {
    if (p != nullptr) Free(p);
  }
};
template <class T, void (*Free)(T*)>
using NatsPtr = std::unique_ptr<T, NatsFree<T, Free>>;

using MsgPtr = NatsPtr<natsMsg, natsMsg_Destroy>;

struct ConnectOptions {
  std::string urls;        //!< "nats://h1:4222,nats://h2:4222"
  std::string name;        //!< connection name shown by the server
  std::string creds_file;  //!< NATS credentials file (JWT + seed); empty: none
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  bool tls = false;        //!< tls:// URLs, or any TLS file given
  bool tls_verify = true;
};

//! One fetched message: subject, payload and its stream position. Acked explicitly.
class Message {
 public:
  explicit Message(natsMsg* m);
  std::string_view subject() const;
  std::string_view data() const;
  std::uint64_t stream_seq() const { return stream_seq_; }
  std::int64_t timestamp_ns() const { return timestamp_ns_; }
  //! Messages of the consumer still to deliver after this one, as the server counted them when
  //! it sent this one (the NumPending of consumer info, without asking for it).
  std::uint64_t num_pending() const { return num_pending_; }
  //! Acknowledges this message (and, with AckAll, every earlier one of the consumer).
  bool ack();

 private:
  MsgPtr msg_;
  std::uint64_t stream_seq_ = 0;
  std::int64_t timestamp_ns_ = 0;
  std::uint64_t num_pending_ = 0;
};

struct KvEntry {
  std::string value;
  std::uint64_t revision = 0;
};

//! One change a KvWatcher saw.
struct KvUpdate {
  std::string key;
  std::string value;
  std::uint64_t revision = 0;
  bool deleted = false;       //!< a delete or purge marker (expiry by TTL leaves no marker)
  std::int64_t created_ns = 0;  //!< the server's wall clock when the entry was written
};

//! Every change of a bucket, in bucket order: first the current entries, then an empty update
//! (`initial_done`), then live changes. Delivered by libnats' thread into a queue; next() pops.
class KvWatcher {
 public:
  explicit KvWatcher(kvWatcher* w) : w_(w) {}
  //! The next change, waiting at most `timeout_ms` (>= 1); nullopt on timeout. `initial_done`
  //! is set (and the result empty) once, when the entries present at the start are delivered.
  std::optional<KvUpdate> next(std::int64_t timeout_ms, bool& initial_done);

 private:
  NatsPtr<kvWatcher, kvWatcher_Destroy> w_;
};

class KvBucket {
 public:
  KvBucket(kvStore* kv, std::string name);
  //! nullopt when the key is absent (or deleted / expired).
  std::optional<KvEntry> get(const std::string& key);
  //! Creates the key; nullopt when it exists already (someone else holds it).
  std::optional<std::uint64_t> create(const std::string& key, std::string_view value);
  //! Compare-and-set on the revision; nullopt when the revision moved (or the write failed).
  std::optional<std::uint64_t> update(const std::string& key, std::string_view value, std::uint64_t revision);
  //! Writes without a revision check (values one writer owns, e.g. under a lease).
  bool put(const std::string& key, std::string_view value);
  void erase(const std::string& key);
  //! Keys present now (expired and deleted ones are not listed).
  std::vector<std::string> keys();
  //! Watches every key of the bucket (see KvWatcher).
  std::unique_ptr<KvWatcher> watch_all();
  const std::string& name() const { return name_; }

 private:
  NatsPtr<kvStore, kvStore_Destroy> kv_;
  std::string name_;
};

//! A durable pull consumer bound to one filter subject.
class PullSubscription {
 public:
  explicit PullSubscription(natsSubscription* sub) : sub_(sub) {}
  //! Up to `batch` messages, waiting at most `timeout_ms` (empty on timeout).
  std::vector<Message> fetch(int batch, std::int64_t timeout_ms);

 private:
  NatsPtr<natsSubscription, natsSubscription_Destroy> sub_;
};

//! A core NATS subscription (no JetStream): control requests. Polled, never a callback.
class CoreSubscription {
 public:
  explicit CoreSubscription(natsSubscription* sub) : sub_(sub) {}
  struct Request {
    std::string subject;
    std::string data;
    std::string reply;  //!< the requester's inbox ("" when it published without one)
  };
  //! The next message if one is queued (never waits).
  std::optional<Request> poll();

 private:
  NatsPtr<natsSubscription, natsSubscription_Destroy> sub_;
};

struct StreamSpec {
  std::string name;
  std::vector<std::string> subjects;
  int replicas = 1;
  std::int64_t duplicate_window_ns = 0;  //!< 0: the server default (2 min)
  std::int64_t max_age_ns = 0;           //!< 0: messages are kept until removed otherwise
};

class JetStream {
 public:
  explicit JetStream(const ConnectOptions& options);
  //! Closes the connection and waits (up to 5 s) until libnats has run its last callback for it:
  //! they log, and one still running while the process exits would use a destroyed logger.
  ~JetStream();
  JetStream(const JetStream&) = delete;
  JetStream& operator=(const JetStream&) = delete;

  //! Creates the stream if missing (an existing one is left as it is); returns its replicas.
  int ensure_stream(const StreamSpec& spec);
  //! Servers of the cluster this connection sees (1 without a cluster).
  int cluster_size();
  //! Creates or binds the bucket. `ttl_ns` 0: entries never expire.
  std::unique_ptr<KvBucket> key_value(const std::string& bucket, int replicas, std::int64_t ttl_ns);
  //! (Re)creates durable `durable` on `stream` for `filter`, delivering from `start_seq`
  //! (1 = the beginning), acked with AckAll, and subscribes to it.
  std::unique_ptr<PullSubscription> pull_from(const std::string& stream, const std::string& filter,
                                              const std::string& durable, std::uint64_t start_seq,
                                              int max_ack_pending);
  void delete_consumer(const std::string& stream, const std::string& durable);
  //! False when the server has no such consumer. A pull from a deleted consumer does not fail:
  //! it times out like an empty one, so a puller asks this to tell the two apart.
  bool consumer_exists(const std::string& stream, const std::string& durable);
  //! Publishes and waits for the stream's acknowledgement; `msg_id` non-empty: the server drops
  //! a repeat within the duplicate window. Returns true when stored, false when a duplicate.
  bool publish(const std::string& subject, std::string_view data, const std::string& msg_id);
  //! Core NATS publish (no stream, no acknowledgement): control replies.
  void publish_core(const std::string& subject, std::string_view data);
  //! Subscribes to `subject` on core NATS; messages queue (bounded by libnats' pending limits).
  std::unique_ptr<CoreSubscription> subscribe(const std::string& subject);
  //! Publishes without waiting for each acknowledgement (load tools); then wait_published().
  void publish_async(const std::string& subject, std::string_view data, const std::string& msg_id);
  //! Waits until every publish_async was acknowledged; false on timeout.
  bool wait_published(std::int64_t timeout_ms);
  //! Messages the stream holds (for metrics and tests).
  std::uint64_t stream_messages(const std::string& stream);
  struct StoredMessage {
    std::uint64_t seq = 0;
    std::string subject;
    std::string data;
    std::string msg_id;  //!< the Nats-Msg-Id header (the result id)
  };
  //! Every message the stream holds, by direct get (tests and small tools; not a hot path).
  std::vector<StoredMessage> read_all(const std::string& stream);
  bool connected();
  //! Largest message the server accepts (its max_payload).
  std::int64_t max_payload();

 private:
  void close() noexcept;  //!< the destructor's work (also for a constructor that fails late)
  struct Events;  //!< what the connection's callbacks see (nats_client.cpp)
  std::unique_ptr<Events> events_;
  NatsPtr<natsConnection, natsConnection_Destroy> nc_;
  NatsPtr<jsCtx, jsCtx_Destroy> js_;
};

//! MQTT topic <-> NATS subject ('/' <-> '.', '+' <-> '*', '#' <-> '>').
std::string topic_to_subject(std::string_view topic);
std::string subject_to_topic(std::string_view subject);

}  // namespace streamgate::gateway::cluster
