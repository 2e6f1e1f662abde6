// libnats calls wrapped in RAII; see nats_client.h.
#include "gateway/cluster/nats_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

namespace streamgate::gateway::cluster {

namespace {

std::string last_error(natsStatus s) {
  const char* text = nats_GetLastError(nullptr);
  std::string out = natsStatus_GetText(s);
  if (text != nullptr && *text != '\0' && out != text) out += std::string(": ") + text;
  return out;
}

void check(natsStatus s, const std::string& what, jsErrCode js = static_cast<jsErrCode>(0)) {
  if (s != NATS_OK) throw NatsError(what + ": " + last_error(s), s, js);
}

// Connection events come on libnats' threads: log only, never throw.
void on_reconnected(natsConnection* nc, void*) noexcept {
  try {
    char url[256] = {};
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    spdlog::info("cluster: reconnected to {}", url);
  } catch (...) {
  }
}

}  // namespace

// libnats runs a connection's callbacks on its one callback thread, in the order it posted them,
// also after natsConnection_Close returns: closing posts "disconnected", then "closed", the last.
struct JetStream::Events {
  std::atomic<bool> closing{false};  //!< our own close: its disconnect is no outage
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;  //!< the "closed" callback ran: no callback for the connection follows
};

NatsError::NatsError(const std::string& what, natsStatus status, jsErrCode js)
    : std::runtime_error(what), status_(status), js_(js) {}

Message::Message(natsMsg* m) : msg_(m) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, m) == NATS_OK && meta != nullptr) {
    stream_seq_ = meta->Sequence.Stream;
    timestamp_ns_ = meta->Timestamp;
    num_pending_ = meta->NumPending;
    jsMsgMetaData_Destroy(meta);
  }
}

std::string_view Message::subject() const {
  const char* s = natsMsg_GetSubject(msg_.get());
  return s ? std::string_view(s) : std::string_view();
}

std::string_view Message::data() const {
  return {natsMsg_GetData(msg_.get()), static_cast<std::size_t>(natsMsg_GetDataLength(msg_.get()))};
}

bool Message::ack() { return natsMsg_Ack(msg_.get(), nullptr) == NATS_OK; }

KvBucket::KvBucket(kvStore* kv, std::string name) : kv_(kv), name_(std::move(name)) {}

std::optional<KvEntry> KvBucket::get(const std::string& key) {
  kvEntry* e = nullptr;
  const natsStatus s = kvStore_Get(&e, kv_.get(), key.c_str());
  if (s == NATS_NOT_FOUND) return std::nullopt;
  check(s, "kv get " + name_ + "/" + key);
  NatsPtr<kvEntry, kvEntry_Destroy> entry(e);
  if (kvEntry_Operation(e) != kvOp_Put) return std::nullopt;
  KvEntry out;
  out.value.assign(static_cast<const char*>(kvEntry_Value(e)), static_cast<std::size_t>(kvEntry_ValueLen(e)));
  out.revision = kvEntry_Revision(e);
  return out;
}

std::optional<std::uint64_t> KvBucket::create(const std::string& key, std::string_view value) {
  std::uint64_t rev = 0;
  if (kvStore_Create(&rev, kv_.get(), key.c_str(), value.data(), static_cast<int>(value.size())) != NATS_OK) {
    return std::nullopt;
  }
  return rev;
}

std::optional<std::uint64_t> KvBucket::update(const std::string& key, std::string_view value,
                                              std::uint64_t revision) {
  std::uint64_t rev = 0;
  if (kvStore_Update(&rev, kv_.get(), key.c_str(), value.data(), static_cast<int>(value.size()), revision) !=
      NATS_OK) {
    return std::nullopt;
  }
  return rev;
}

bool KvBucket::put(const std::string& key, std::string_view value) {
  std::uint64_t rev = 0;
  return kvStore_Put(&rev, kv_.get(), key.c_str(), value.data(), static_cast<int>(value.size())) == NATS_OK;
}

void KvBucket::erase(const std::string& key) {
  (void)kvStore_Delete(kv_.get(), key.c_str());  // best effort: an expired key is gone anyway
}

std::vector<std::string> KvBucket::keys() {
  kvKeysList list{};
  std::vector<std::string> out;
  const natsStatus s = kvStore_Keys(&list, kv_.get(), nullptr);
  if (s == NATS_NOT_FOUND) return out;
  check(s, "kv keys " + name_);
  for (int i = 0; i < list.Count; ++i) out.emplace_back(list.Keys[i]);
  kvKeysList_Destroy(&list);
  return out;
}

std::unique_ptr<KvWatcher> KvBucket::watch_all() {
  kvWatcher* w = nullptr;
  check(kvStore_WatchAll(&w, kv_.get(), nullptr), "kv watch " + name_);
  return std::make_unique<KvWatcher>(w);
}

std::optional<KvUpdate> KvWatcher::next(std::int64_t timeout_ms, bool& initial_done) {
  initial_done = false;
  kvEntry* e = nullptr;
  const natsStatus s = kvWatcher_Next(&e, w_.get(), std::max<std::int64_t>(timeout_ms, 1));
  if (s == NATS_TIMEOUT) return std::nullopt;
  check(s, "kv watch next");
  if (e == nullptr) {
    initial_done = true;
    return std::nullopt;
  }
  NatsPtr<kvEntry, kvEntry_Destroy> entry(e);
  KvUpdate u;
  u.key = kvEntry_Key(e);
  u.value.assign(static_cast<const char*>(kvEntry_Value(e)), static_cast<std::size_t>(kvEntry_ValueLen(e)));
  u.revision = kvEntry_Revision(e);
  u.deleted = kvEntry_Operation(e) != kvOp_Put;
  u.created_ns = kvEntry_Created(e);
  return u;
}

std::optional<CoreSubscription::Request> CoreSubscription::poll() {
  int queued = 0;
  int bytes = 0;
  // Polled every worker round: ask the queue first instead of waiting on an empty one.
  if (natsSubscription_GetPending(sub_.get(), &queued, &bytes) != NATS_OK || queued == 0) return std::nullopt;
  natsMsg* m = nullptr;
  const natsStatus s = natsSubscription_NextMsg(&m, sub_.get(), 1);
  if (s == NATS_TIMEOUT) return std::nullopt;
  check(s, "next control message");
  MsgPtr msg(m);
  Request r;
  r.subject = natsMsg_GetSubject(m);
  r.data.assign(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
  if (const char* reply = natsMsg_GetReply(m)) r.reply = reply;
  return r;
}

std::vector<Message> PullSubscription::fetch(int batch, std::int64_t timeout_ms) {
  natsMsgList list{};
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = natsSubscription_Fetch(&list, sub_.get(), batch, timeout_ms, &jerr);
  std::vector<Message> out;
  if (s == NATS_TIMEOUT) {
    natsMsgList_Destroy(&list);
    return out;
  }
  if (s != NATS_OK) {
    natsMsgList_Destroy(&list);
    check(s, "fetch", jerr);
  }
  out.reserve(static_cast<std::size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    out.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // owned by the Message now
  }
  natsMsgList_Destroy(&list);
  return out;
}

JetStream::JetStream(const ConnectOptions& o) {
  natsOptions* raw = nullptr;
  check(natsOptions_Create(&raw), "nats options");
  NatsPtr<natsOptions, natsOptions_Destroy> opts(raw);
  // SetURL takes one URL; a list goes to SetServers.
  std::vector<std::string> urls;
  for (std::size_t start = 0; start <= o.urls.size();) {
    const auto comma = std::min(o.urls.find(',', start), o.urls.size());
    std::string u = o.urls.substr(start, comma - start);
    while (!u.empty() && u.front() == ' ') u.erase(0, 1);
    while (!u.empty() && u.back() == ' ') u.pop_back();
    if (!u.empty()) urls.push_back(std::move(u));
    start = comma + 1;
  }
  std::vector<const char*> url_ptrs;
  for (const auto& u : urls) url_ptrs.push_back(u.c_str());
  check(natsOptions_SetServers(raw, url_ptrs.data(), static_cast<int>(url_ptrs.size())),
        "cluster-url '" + o.urls + "'");
  if (!o.name.empty()) natsOptions_SetName(raw, o.name.c_str());
  // Reconnect for ever: a node of the cluster going away is routine, not an error.
  natsOptions_SetMaxReconnect(raw, -1);
  natsOptions_SetReconnectWait(raw, 250);
  natsOptions_SetRetryOnFailedConnect(raw, false, nullptr, nullptr);
  events_ = std::make_unique<Events>();
  natsOptions_SetDisconnectedCB(
      raw,
      [](natsConnection*, void* closure) noexcept {
        try {
          if (static_cast<const Events*>(closure)->closing) {
            spdlog::info("cluster: NATS connection closed");
          } else {
            spdlog::warn("cluster: disconnected from NATS, reconnecting");
          }
        } catch (...) {
        }
      },
      events_.get());
  natsOptions_SetReconnectedCB(raw, on_reconnected, nullptr);
  // Not posted for a connect that fails (libnats drops that connection without closing it).
  natsOptions_SetClosedCB(
      raw,
      [](natsConnection*, void* closure) noexcept {
        auto* events = static_cast<Events*>(closure);
        // Notified under the lock: the destructor frees `events` only after this unlocks.
        std::lock_guard<std::mutex> lock(events->mu);
        events->closed = true;
        events->cv.notify_all();
      },
      events_.get());
  if (!o.creds_file.empty()) {
    check(natsOptions_SetUserCredentialsFromFiles(raw, o.creds_file.c_str(), nullptr),
          "cluster-creds-file '" + o.creds_file + "'");
  }
  if (o.tls) {
    check(natsOptions_SetSecure(raw, true), "TLS");
    if (!o.tls_ca_file.empty()) check(natsOptions_LoadCATrustedCertificates(raw, o.tls_ca_file.c_str()), "tls-ca-file");
    if (!o.tls_cert_file.empty()) {
      check(natsOptions_LoadCertificatesChain(raw, o.tls_cert_file.c_str(), o.tls_key_file.c_str()),
            "tls-cert-file / tls-key-file");
    }
    if (!o.tls_verify) natsOptions_SkipServerVerification(raw, true);
  }
  natsConnection* nc = nullptr;
  check(natsConnection_Connect(&nc, raw), "connect to " + o.urls);
  nc_.reset(nc);
  jsCtx* js = nullptr;
  if (const natsStatus s = natsConnection_JetStream(&js, nc, nullptr); s != NATS_OK) {
    const std::string what = "JetStream context: " + last_error(s);
    close();  // no destructor runs for a constructor that throws
    throw NatsError(what, s);
  }
  js_.reset(js);
}

JetStream::~JetStream() { close(); }

void JetStream::close() noexcept {
  js_.reset();
  if (!nc_) return;
  events_->closing = true;
  natsConnection_Close(nc_.get());
  bool closed = false;
  {
    std::unique_lock<std::mutex> lock(events_->mu);
    closed = events_->cv.wait_for(lock, std::chrono::seconds(5), [this] { return events_->closed; });
  }
  if (!closed) {
    // libnats never ran it (its library is shutting down) or is stuck: the callbacks may still
    // come, so what they read must stay (a few bytes, once per such connection).
    (void)events_.release();
    try {
      spdlog::warn("cluster: NATS connection closed without its last callback within 5 s");
    } catch (...) {
    }
  }
  nc_.reset();  // a callback still pending holds its own reference to the connection
}

std::int64_t JetStream::max_payload() { return natsConnection_GetMaxPayload(nc_.get()); }

bool JetStream::connected() { return natsConnection_Status(nc_.get()) == NATS_CONN_STATUS_CONNECTED; }

int JetStream::ensure_stream(const StreamSpec& spec) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&si, js_.get(), spec.name.c_str(), nullptr, &jerr);
  if (s == NATS_OK) {
    const int replicas = si->Config->Replicas;
    jsStreamInfo_Destroy(si);
    return replicas;
  }
  if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) check(s, "stream info " + spec.name, jerr);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = spec.name.c_str();
  std::vector<const char*> subjects;
  for (const auto& sub : spec.subjects) subjects.push_back(sub.c_str());
  cfg.Subjects = subjects.data();
  cfg.SubjectsLen = static_cast<int>(subjects.size());
  cfg.Storage = js_FileStorage;
  cfg.Replicas = spec.replicas;
  if (spec.duplicate_window_ns > 0) cfg.Duplicates = spec.duplicate_window_ns;
  if (spec.max_age_ns > 0) cfg.MaxAge = spec.max_age_ns;
  si = nullptr;
  s = js_AddStream(&si, js_.get(), &cfg, nullptr, &jerr);
  if (s != NATS_OK && jerr == JSStreamNameExistErr) return spec.replicas;  // another instance won
  check(s, "create stream " + spec.name, jerr);
  jsStreamInfo_Destroy(si);
  return spec.replicas;
}

int JetStream::cluster_size() {
  // The servers a connection learns of (INFO connect_urls) include the one it is on.
  char** servers = nullptr;
  int count = 0;
  if (natsConnection_GetServers(nc_.get(), &servers, &count) != NATS_OK) return 1;
  for (int i = 0; i < count; ++i) free(servers[i]);
  free(servers);
  return count > 0 ? count : 1;
}

std::unique_ptr<KvBucket> JetStream::key_value(const std::string& bucket, int replicas, std::int64_t ttl_ns) {
  kvStore* kv = nullptr;
  if (js_KeyValue(&kv, js_.get(), bucket.c_str()) == NATS_OK) return std::make_unique<KvBucket>(kv, bucket);
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = bucket.c_str();
  cfg.History = 1;
  cfg.Replicas = replicas;
  cfg.StorageType = js_FileStorage;
  cfg.TTL = ttl_ns;
  natsStatus s = js_CreateKeyValue(&kv, js_.get(), &cfg);
  if (s != NATS_OK) {
    // Another instance may have created it between the two calls.
    s = js_KeyValue(&kv, js_.get(), bucket.c_str());
  }
  check(s, "key-value bucket " + bucket);
  return std::make_unique<KvBucket>(kv, bucket);
}

void JetStream::delete_consumer(const std::string& stream, const std::string& durable) {
  jsErrCode jerr = static_cast<jsErrCode>(0);
  (void)js_DeleteConsumer(js_.get(), stream.c_str(), durable.c_str(), nullptr, &jerr);  // absent is fine
}

bool JetStream::consumer_exists(const std::string& stream, const std::string& durable) {
  jsConsumerInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetConsumerInfo(&info, js_.get(), stream.c_str(), durable.c_str(), nullptr, &jerr);
  NatsPtr<jsConsumerInfo, jsConsumerInfo_Destroy> owned(info);
  if (s == NATS_NOT_FOUND || jerr == JSConsumerNotFoundErr) return false;
  check(s, "consumer info " + durable, jerr);
  return true;
}

std::unique_ptr<PullSubscription> JetStream::pull_from(const std::string& stream, const std::string& filter,
                                                       const std::string& durable, std::uint64_t start_seq,
                                                       int max_ack_pending) {
  // A fresh consumer starting right after the checkpoint: whatever the previous owner had
  // fetched but not acknowledged is delivered again, in order (no wait for AckWait).
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.Durable = durable.c_str();
  so.Config.FilterSubject = filter.c_str();
  so.Config.AckPolicy = js_AckAll;
  so.Config.AckWait = 30LL * 1000 * 1000 * 1000;
  so.Config.MaxAckPending = max_ack_pending;
  // The position lives in the checkpoint, not in the consumer: one replica in memory is enough,
  // and is quick to create on a takeover. Left behind by a dead owner, it goes after a minute.
  so.Config.Replicas = 1;
  so.Config.MemoryStorage = true;
  so.Config.InactiveThreshold = 60LL * 1000 * 1000 * 1000;
  if (start_seq > 1) {
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = start_seq;
  } else {
    so.Config.DeliverPolicy = js_DeliverAll;
  }
  natsSubscription* sub = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_PullSubscribe(&sub, js_.get(), filter.c_str(), durable.c_str(), nullptr, &so, &jerr),
        "pull consumer " + durable, jerr);
  return std::make_unique<PullSubscription>(sub);
}

bool JetStream::publish(const std::string& subject, std::string_view data, const std::string& msg_id) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (!msg_id.empty()) po.MsgId = msg_id.c_str();
  jsPubAck* pa = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_Publish(&pa, js_.get(), subject.c_str(), data.data(), static_cast<int>(data.size()), &po, &jerr),
        "publish to " + subject, jerr);
  const bool stored = !pa->Duplicate;
  jsPubAck_Destroy(pa);
  return stored;
}

void JetStream::publish_core(const std::string& subject, std::string_view data) {
  check(natsConnection_Publish(nc_.get(), subject.c_str(), data.data(), static_cast<int>(data.size())),
        "publish " + subject);
}

std::unique_ptr<CoreSubscription> JetStream::subscribe(const std::string& subject) {
  natsSubscription* sub = nullptr;
  check(natsConnection_SubscribeSync(&sub, nc_.get(), subject.c_str()), "subscribe " + subject);
  return std::make_unique<CoreSubscription>(sub);
}

void JetStream::publish_async(const std::string& subject, std::string_view data, const std::string& msg_id) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (!msg_id.empty()) po.MsgId = msg_id.c_str();
  check(js_PublishAsync(js_.get(), subject.c_str(), data.data(), static_cast<int>(data.size()), &po),
        "publish to " + subject);
}

bool JetStream::wait_published(std::int64_t timeout_ms) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeout_ms;
  return js_PublishAsyncComplete(js_.get(), &po) == NATS_OK;
}

std::uint64_t JetStream::stream_messages(const std::string& stream) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_GetStreamInfo(&si, js_.get(), stream.c_str(), nullptr, &jerr), "stream info " + stream, jerr);
  const std::uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

std::vector<JetStream::StoredMessage> JetStream::read_all(const std::string& stream) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  check(js_GetStreamInfo(&si, js_.get(), stream.c_str(), nullptr, &jerr), "stream info " + stream, jerr);
  const std::uint64_t first = si->State.FirstSeq;
  const std::uint64_t last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  std::vector<StoredMessage> out;
  for (std::uint64_t seq = first; seq != 0 && seq <= last; ++seq) {
    natsMsg* m = nullptr;
    const natsStatus s = js_GetMsg(&m, js_.get(), stream.c_str(), seq, nullptr, &jerr);
    if (s != NATS_OK) continue;  // deleted or expired in between
    MsgPtr msg(m);
    StoredMessage sm;
    sm.seq = seq;
    sm.subject = natsMsg_GetSubject(m);
    sm.data.assign(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m)));
    const char* id = nullptr;
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) sm.msg_id = id;
    out.push_back(std::move(sm));
  }
  return out;
}

std::string topic_to_subject(std::string_view topic) {
  std::string s(topic);
  for (char& c : s) {
    if (c == '/') c = '.';
    else if (c == '+') c = '*';
    else if (c == '#') c = '>';
  }
  return s;
}

std::string subject_to_topic(std::string_view subject) {
  std::string s(subject);
  for (char& c : s) {
    if (c == '.') c = '/';
  }
  return s;
}

}  // namespace streamgate::gateway::cluster
