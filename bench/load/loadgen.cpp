// streamgate_load: the MQTT load tool of the end-to-end benchmarks (bench/e2e.sh).
//
//   streamgate_load publish [options]   N seeded, deterministic JSON events (iot or shop schema)
//                                       over D device topics, at a fixed rate or flat out,
//                                       each stamped with sent_ns (CLOCK_REALTIME ns).
//   streamgate_load receive [options]   subscribes to a filter, counts messages and records,
//                                       latency = receive time - sent_ns found in the payload.
//
// Both roles print a few human lines on stderr and one JSON summary as the last line of stdout.
// The two roles run as separate processes so that each has its own Paho threads and CPU figures.
#include <mqtt/async_client.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Ns = std::int64_t;

Ns clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<Ns>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
Ns realtime_ns() {
  return clock_ns(CLOCK_REALTIME);
}
Ns monotonic_ns() {
  return clock_ns(CLOCK_MONOTONIC);
}

void sleep_until_mono(Ns deadline) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(deadline % 1'000'000'000);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

// ---------------------------------------------------------------- options

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "streamgate_load: %s (see --help)\n", msg.c_str());
  std::exit(2);
}

// "--key value" pairs; every key must be consumed by the role, so typos are errors.
class Args {
 public:
  Args(int argc, char** argv, int first) {
    for (int i = first; i < argc; ++i) {
      std::string k = argv[i];
      if (k == "--help" || k == "-h") {
        help_ = true;
        continue;
      }
      if (k.rfind("--", 0) != 0) usage_error("unexpected argument '" + k + "'");
      k = k.substr(2);
      if (auto eq = k.find('='); eq != std::string::npos) {
        kv_[k.substr(0, eq)] = k.substr(eq + 1);
      } else {
        if (i + 1 >= argc) usage_error("option --" + k + " needs a value");
        kv_[k] = argv[++i];
      }
    }
  }
  bool help() const { return help_; }
  std::string str(const std::string& k, const std::string& dflt) {
    used_.push_back(k);
    auto it = kv_.find(k);
    return it == kv_.end() ? dflt : it->second;
  }
  std::int64_t i64(const std::string& k, std::int64_t dflt) {
    std::string s = str(k, "");
    if (s.empty()) return dflt;
    // Accept 10k / 2M shorthands for counts and rates.
    std::int64_t mult = 1;
    if (s.back() == 'k' || s.back() == 'K')
      mult = 1000, s.pop_back();
    else if (s.back() == 'M')
      mult = 1'000'000, s.pop_back();
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size())
      usage_error("bad integer for --" + k + ": " + s);
    return v * mult;
  }
  double dbl(const std::string& k, double dflt) {
    std::string s = str(k, "");
    if (s.empty()) return dflt;
    double mult = 1;
    if (s.back() == 'k' || s.back() == 'K')
      mult = 1e3, s.pop_back();
    else if (s.back() == 'M')
      mult = 1e6, s.pop_back();
    char* end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(v))
      usage_error("bad number for --" + k + ": " + s);
    return v * mult;
  }
  void check_all_used() const {
    for (const auto& [k, v] : kv_) {
      if (std::find(used_.begin(), used_.end(), k) == used_.end())
        usage_error("unknown option --" + k);
    }
  }

 private:
  std::map<std::string, std::string> kv_;
  std::vector<std::string> used_;
  bool help_ = false;
};

// ---------------------------------------------------------------- raw MQTT 3.1.1 client

// A minimal MQTT 3.1.1 client (CONNECT, QoS 0 PUBLISH, SUBSCRIBE, QoS 0/1 receive) over one
// blocking TCP socket, used with --client raw. Measured here, Paho C costs ~20 us of CPU per
// message on each side (it reads every packet header with 1-byte recv calls after a select),
// so on a 2-core box a Paho load tool eats most of the CPU that the broker and the gateway
// need. The raw client batches publishes into large writes and parses whole read buffers:
// well under 1 us per message, so the figures measure the broker and the gateway.
class RawMqtt {
 public:
  RawMqtt() = default;
  RawMqtt(const RawMqtt&) = delete;
  RawMqtt& operator=(const RawMqtt&) = delete;
  ~RawMqtt() {
    if (fd_ >= 0) ::close(fd_);
  }

  // Returns an error message, or "" when connected.
  std::string connect(const std::string& uri, const std::string& client_id) {
    std::string rest = uri;
    for (const char* scheme : {"tcp://", "mqtt://"}) {
      if (rest.rfind(scheme, 0) == 0) rest = rest.substr(std::strlen(scheme));
    }
    if (rest.find("://") != std::string::npos) return "raw client supports tcp:// only";
    std::string host = rest, port = "1883";
    if (auto c = rest.rfind(':'); c != std::string::npos)
      host = rest.substr(0, c), port = rest.substr(c + 1);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
      return gai_strerror(rc);
    std::string err = "connect failed";
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
      if (fd < 0) continue;
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        fd_ = fd;
        break;
      }
      err = std::strerror(errno);
      ::close(fd);
    }
    freeaddrinfo(res);
    if (fd_ < 0) return err;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // CONNECT: protocol "MQTT" level 4, clean session, keep-alive 0 (a receiver that only reads
    // would otherwise be dropped after 1.5 keep-alives on long runs).
    std::string body;
    body += std::string("\x00\x04MQTT\x04\x02\x00\x00", 10);
    put_u16(body, client_id.size());
    body += client_id;
    out_.clear();
    out_.push_back('\x10');
    put_varint(out_, body.size());
    out_.insert(out_.end(), body.begin(), body.end());
    if (!flush()) return "write CONNECT failed";
    unsigned char ack[4];
    if (!read_exact(ack, 4)) return "no CONNACK";
    if (ack[0] != 0x20 || ack[3] != 0) return "CONNACK refused, code " + std::to_string(ack[3]);
    return "";
  }

  void append_publish(std::string_view topic, const char* payload, std::size_t n) {
    out_.push_back('\x30');
    put_varint(out_, 2 + topic.size() + n);
    put_u16(out_, topic.size());
    out_.insert(out_.end(), topic.begin(), topic.end());
    out_.insert(out_.end(), payload, payload + n);
  }
  std::size_t pending() const { return out_.size(); }

  bool subscribe(const std::string& filter, int qos, std::uint16_t packet_id) {
    std::string body;
    put_u16(body, packet_id);
    put_u16(body, filter.size());
    body += filter;
    body.push_back(static_cast<char>(qos));
    out_.push_back('\x82');
    put_varint(out_, body.size());
    out_.insert(out_.end(), body.begin(), body.end());
    return flush();
  }

  bool flush() {
    std::size_t off = 0;
    while (off < out_.size()) {
      ssize_t w = ::send(fd_, out_.data() + off, out_.size() - off, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      off += static_cast<std::size_t>(w);
    }
    out_.clear();
    return true;
  }

  void disconnect() {
    if (fd_ < 0) return;
    out_.assign({'\xE0', '\x00'});
    flush();
    ::shutdown(fd_, SHUT_RDWR);
  }

  // Waits up to timeout_ms for data, then hands every complete PUBLISH payload to
  // on_publish(payload, now) (now = CLOCK_REALTIME at the read). Counts SUBACKs.
  // Returns false when the connection is closed or broken.
  template <class F>
  bool poll_read(int timeout_ms, F&& on_publish) {
    pollfd pfd{fd_, POLLIN, 0};
    int pr = ::poll(&pfd, 1, timeout_ms);
    if (pr < 0) return errno == EINTR;
    if (pr == 0) return true;
    if (in_.size() - in_len_ < 65536) in_.resize(std::max<std::size_t>(in_.size() * 2, 1 << 20));
    ssize_t r = ::recv(fd_, in_.data() + in_len_, in_.size() - in_len_, 0);
    if (r == 0) return false;
    if (r < 0) return errno == EINTR || errno == EAGAIN;
    const Ns now = realtime_ns();
    in_len_ += static_cast<std::size_t>(r);
    std::size_t pos = 0;
    for (;;) {
      if (in_len_ - pos < 2) break;
      const auto* b = reinterpret_cast<const unsigned char*>(in_.data() + pos);
      std::size_t rem = 0, shift = 0, i = 1;
      bool complete_len = false;
      for (; i <= 4 && pos + i < in_len_; ++i) {
        rem |= static_cast<std::size_t>(b[i] & 0x7F) << shift;
        shift += 7;
        if ((b[i] & 0x80) == 0) {
          complete_len = true;
          break;
        }
      }
      if (!complete_len) break;
      const std::size_t hdr = i + 1;
      if (in_len_ - pos < hdr + rem) break;
      const unsigned type = b[0] >> 4;
      const unsigned char* v = b + hdr;
      if (type == 3 && rem >= 2) {
        const unsigned qos = (b[0] >> 1) & 3;
        std::size_t tlen = (static_cast<std::size_t>(v[0]) << 8) | v[1];
        std::size_t off = 2 + tlen;
        if (qos > 0) {
          if (qos == 1 && off + 2 <= rem) {
            char ack[4] = {'\x40', '\x02', static_cast<char>(v[off]),
                           static_cast<char>(v[off + 1])};
            out_.insert(out_.end(), ack, ack + 4);
          }
          off += 2;
        }
        if (off <= rem)
          on_publish(std::string_view(reinterpret_cast<const char*>(v + off), rem - off), now);
      } else if (type == 9) {
        ++subacks_;
      }
      pos += hdr + rem;
    }
    if (pos > 0) {
      std::memmove(in_.data(), in_.data() + pos, in_len_ - pos);
      in_len_ -= pos;
    }
    if (!out_.empty() && !flush()) return false;
    return true;
  }
  int subacks() const { return subacks_; }

 private:
  template <class Buf>
  static void put_u16(Buf& b, std::size_t v) {
    b.push_back(static_cast<char>((v >> 8) & 0xFF));
    b.push_back(static_cast<char>(v & 0xFF));
  }
  template <class Buf>
  static void put_varint(Buf& b, std::size_t v) {
    do {
      char c = static_cast<char>(v & 0x7F);
      v >>= 7;
      if (v > 0) c = static_cast<char>(c | 0x80);
      b.push_back(c);
    } while (v > 0);
  }
  bool read_exact(unsigned char* p, std::size_t n) {
    while (n > 0) {
      ssize_t r = ::recv(fd_, p, n, 0);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        return false;
      }
      p += r;
      n -= static_cast<std::size_t>(r);
    }
    return true;
  }

  int fd_ = -1;
  std::vector<char> out_;
  std::vector<char> in_;
  std::size_t in_len_ = 0;
  int subacks_ = 0;
};

// ---------------------------------------------------------------- deterministic events

// splitmix64: each event's fields depend only on (seed, index), so a run is reproducible and
// independent of pacing or of how many events were sent before.
std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

struct Rng {
  std::uint64_t s;
  std::uint64_t next() { return s = splitmix64(s); }
  // Uniform integer in [lo, hi].
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
};

// Days since 1970-01-01 to civil date (Howard Hinnant's algorithm); avoids gmtime per event.
void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t yy = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yy + (m <= 2));
}

// "2024-01-15T10:30:00.123Z" (millisecond precision) into out; returns length.
int format_rfc3339_ms(Ns t, char* out, std::size_t cap) {
  std::int64_t ms = t >= 0 ? t / 1'000'000 : -((-t + 999'999) / 1'000'000);
  std::int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  int msec = static_cast<int>(ms - secs * 1000);
  std::int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
  int sod = static_cast<int>(secs - days * 86400);
  int y;
  unsigned mo, d;
  civil_from_days(days, y, mo, d);
  return std::snprintf(out, cap, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", y, mo, d, sod / 3600,
                       (sod / 60) % 60, sod % 60, msec);
}

// Parses "YYYY-MM-DDTHH:MM:SSZ" (seconds precision is enough for --sim-start).
bool parse_rfc3339_s(const std::string& s, Ns& out) {
  int y, mo, d, h, mi, se;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &se) != 6) return false;
  // days_from_civil
  y -= mo <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (mo > 2 ? mo - 3 : mo + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = static_cast<std::int64_t>(era) * 146097 + doe - 719468;
  out = ((days * 86400) + h * 3600 + mi * 60 + se) * 1'000'000'000LL;
  return true;
}

enum class Schema { kIot, kShop };
enum class TsFormat { kRfc3339, kEpochMs };

class EventMaker {
 public:
  EventMaker(Schema schema, std::uint64_t seed, std::int64_t devices, TsFormat fmt)
      : schema_(schema), seed_(seed), devices_(devices), fmt_(fmt) {
    width_ = 5;
    for (std::int64_t n = devices - 1; n >= 100000; n /= 10) ++width_;
  }

  std::string id_of(std::int64_t dev) const {
    char buf[32];
    std::snprintf(buf, sizeof buf,
                  schema_ == Schema::kIot ? "device_%0*" PRId64 : "user_%0*" PRId64, width_, dev);
    return buf;
  }

  // Writes event `i` without its closing `,"sent_ns":N}` so that the send time can be taken
  // at the last moment; returns the length written.
  int prefix(std::int64_t i, std::int64_t dev, Ns event_time, char* out, std::size_t cap,
             bool sentinel = false) const {
    Rng r{splitmix64(seed_ ^ (static_cast<std::uint64_t>(i) * 0xD1B54A32D192ED03ULL))};
    char ts[48];
    if (fmt_ == TsFormat::kRfc3339) {
      ts[0] = '"';
      int n = format_rfc3339_ms(event_time, ts + 1, sizeof ts - 2);
      ts[n + 1] = '"';
      ts[n + 2] = '\0';
    } else {
      std::snprintf(ts, sizeof ts, "%" PRId64, event_time / 1'000'000);
    }
    if (schema_ == Schema::kIot) {
      // status: 90% online; battery uniform 0..99 (so "battery < 1" passes 1%);
      // signal -100..-40 dBm; temperature 15.0..45.0 C.
      const char* status = r.range(0, 9) == 0 ? "offline" : "online";
      std::int64_t battery = r.range(0, 99);
      if (sentinel) status = "final", battery = -1;
      std::int64_t signal = r.range(-100, -40);
      std::int64_t temp10 = r.range(150, 450);
      return std::snprintf(out, cap,
                           "{\"device_id\":\"device_%0*" PRId64
                           "\",\"status\":\"%s\",\"battery\":%" PRId64 ",\"signal\":%" PRId64
                           ",\"temperature\":%" PRId64 ".%" PRId64
                           ",\"timestamp\":%s,\"seq\":%" PRId64,
                           width_, dev, status, battery, signal, temp10 / 10, temp10 % 10, ts, i);
    }
    static constexpr const char* kTypes[] = {"page_view",   "page_view", "page_view", "page_view",
                                             "page_view",   "page_view", "login",     "login",
                                             "add_to_cart", "purchase"};
    static constexpr const char* kCats[] = {"electronics", "books",  "clothing", "home",
                                            "toys",        "sports", "food",     "beauty"};
    const char* type = kTypes[r.range(0, 9)];
    const char* cat = kCats[r.range(0, 7)];
    std::int64_t cents = std::string_view(type) == "purchase" ? r.range(500, 50000) : 0;
    if (sentinel) type = "final", cents = -100;
    return std::snprintf(out, cap,
                         "{\"event_id\":\"evt_%" PRId64
                         "\",\"event_type\":\"%s\",\"user_id\":\"user_%0*" PRId64
                         "\",\"amount\":%s%" PRId64 ".%02" PRId64
                         ",\"category\":\"%s\",\"timestamp\":%s,\"seq\":%" PRId64,
                         i, type, width_, dev, cents < 0 ? "-" : "", std::abs(cents) / 100,
                         std::abs(cents) % 100, cat, ts, i);
  }

 private:
  Schema schema_;
  std::uint64_t seed_;
  std::int64_t devices_;
  TsFormat fmt_;
  int width_;
};

// ---------------------------------------------------------------- publish

// Counts completions of publishes. Called on Paho's threads: only atomics, never blocks.
class AckCounter : public mqtt::iaction_listener {
 public:
  std::atomic<std::int64_t> inflight{0};
  std::atomic<std::int64_t> ok{0};
  std::atomic<std::int64_t> failed{0};
  void on_success(const mqtt::token&) override {
    ok.fetch_add(1, std::memory_order_relaxed);
    inflight.fetch_sub(1, std::memory_order_release);
  }
  void on_failure(const mqtt::token&) override {
    failed.fetch_add(1, std::memory_order_relaxed);
    inflight.fetch_sub(1, std::memory_order_release);
  }
};

const char* kPublishHelp = R"(streamgate_load publish [options]
  --broker URI          tcp://127.0.0.1:1883
  --client raw|paho     raw: built-in minimal MQTT 3.1.1 client, QoS 0, batched writes at max
                        rate (default); paho: Paho async client, any QoS
  --schema iot|shop     iot: device_id,status,battery,signal,temperature,timestamp
                        shop: event_id,event_type,user_id,amount,category,timestamp (default iot)
  --topic PATTERN       {id} = device/user id, {n} = device number
                        (default devices/{id}/telemetry, shop/{id}/events for shop)
  --devices D           distinct device topics, events go round-robin (default 100)
  --count N             events to send (default 10000; 10k, 2M accepted)
  --rate R              events/s, paced with absolute deadlines; 0 = as fast as the
                        in-flight window allows (default 0)
  --window W            paho: max publishes not yet completed by the library (default 1000);
                        raw: TCP back-pressure is the window
  --qos Q               0, 1 or 2 (default 0)
  --seed S              payload seed (default 1)
  --event-time wall|sim timestamp field: wall clock at send, or simulated (default wall)
  --sim-start T         first simulated timestamp, RFC 3339 (default 2024-01-15T10:00:00Z)
  --sim-step-us U       simulated time between events (default 1000)
  --ts-format rfc3339|ms   timestamp as RFC 3339 string or epoch ms number (default rfc3339)
  --final-advance S     after the N events, send one sentinel event (device 0, seq N) whose
                        timestamp is S seconds after the last, to close event-time windows and
                        mark the end: it has status "final" and battery -1 (shop: event_type
                        "final", amount -1.00) so threshold filters pass it (default 0 = off)
  --max-seconds T       stop sending after T seconds whatever was sent (default 600)
  --client-id ID        (default sgload-pub-<pid>)
Every event carries "seq" (its index) and, last, "sent_ns": CLOCK_REALTIME ns at send.
)";

int run_publish(Args& a) {
  if (a.help()) {
    std::fputs(kPublishHelp, stdout);
    return 0;
  }
  const std::string broker = a.str("broker", "tcp://127.0.0.1:1883");
  const std::string client = a.str("client", "raw");
  const std::string schema_s = a.str("schema", "iot");
  if (schema_s != "iot" && schema_s != "shop") usage_error("--schema must be iot or shop");
  const Schema schema = schema_s == "iot" ? Schema::kIot : Schema::kShop;
  const std::string pattern =
      a.str("topic", schema == Schema::kIot ? "devices/{id}/telemetry" : "shop/{id}/events");
  const std::int64_t devices = a.i64("devices", 100);
  const std::int64_t count = a.i64("count", 10000);
  const double rate = a.dbl("rate", 0);
  const std::int64_t window = a.i64("window", 1000);
  const int qos = static_cast<int>(a.i64("qos", 0));
  const auto seed = static_cast<std::uint64_t>(a.i64("seed", 1));
  const std::string event_time = a.str("event-time", "wall");
  const std::string sim_start_s = a.str("sim-start", "2024-01-15T10:00:00Z");
  const std::int64_t sim_step_us = a.i64("sim-step-us", 1000);
  const std::string ts_format_s = a.str("ts-format", "rfc3339");
  const double final_advance = a.dbl("final-advance", 0);
  const double max_seconds = a.dbl("max-seconds", 600);
  const std::string client_id = a.str("client-id", "sgload-pub-" + std::to_string(getpid()));
  a.check_all_used();

  if (client != "raw" && client != "paho") usage_error("--client must be raw or paho");
  const bool raw = client == "raw";
  if (devices < 1 || devices > 10'000'000) usage_error("--devices must be 1..10000000");
  if (count < 0) usage_error("--count must be >= 0");
  if (rate < 0) usage_error("--rate must be >= 0");
  if (window < 1) usage_error("--window must be >= 1");
  if (qos < 0 || qos > 2) usage_error("--qos must be 0, 1 or 2");
  if (raw && qos != 0)
    usage_error("--client raw publishes QoS 0 only; use --client paho for QoS 1/2");
  if (event_time != "wall" && event_time != "sim") usage_error("--event-time must be wall or sim");
  if (ts_format_s != "rfc3339" && ts_format_s != "ms")
    usage_error("--ts-format must be rfc3339 or ms");
  Ns sim_start = 0;
  if (!parse_rfc3339_s(sim_start_s, sim_start)) usage_error("bad --sim-start: " + sim_start_s);
  const bool sim = event_time == "sim";
  const TsFormat ts_format = ts_format_s == "rfc3339" ? TsFormat::kRfc3339 : TsFormat::kEpochMs;

  EventMaker maker(schema, seed, devices, ts_format);
  // Topic strings are built once: Paho's string_ref shares them, so no per-publish copy.
  std::vector<mqtt::string_ref> topics;
  topics.reserve(static_cast<std::size_t>(devices));
  for (std::int64_t d = 0; d < devices; ++d) {
    std::string t;
    for (std::size_t p = 0; p < pattern.size();) {
      if (pattern.compare(p, 4, "{id}") == 0) {
        t += maker.id_of(d);
        p += 4;
      } else if (pattern.compare(p, 3, "{n}") == 0) {
        t += std::to_string(d);
        p += 3;
      } else {
        t += pattern[p++];
      }
    }
    topics.emplace_back(std::move(t));
  }

  std::atomic<bool> lost{false};
  std::unique_ptr<mqtt::async_client> paho;
  RawMqtt rawc;
  if (raw) {
    if (std::string err = rawc.connect(broker, client_id); !err.empty()) {
      std::fprintf(stderr, "publish: cannot connect to %s: %s\n", broker.c_str(), err.c_str());
      return 1;
    }
  } else {
    // Paho C caps its command queue at maxBufferedMessages even while connected; keep it above
    // our own in-flight window so the window, not the library, is what throttles.
    mqtt::create_options copts(MQTTVERSION_3_1_1,
                               static_cast<int>(std::min<std::int64_t>(window * 2 + 16, 1 << 30)));
    paho = std::make_unique<mqtt::async_client>(broker, client_id, copts, nullptr);
    paho->set_connection_lost_handler([&lost](const std::string&) { lost.store(true); });
    auto conn = mqtt::connect_options_builder()
                    .clean_session(true)
                    .keep_alive_interval(std::chrono::seconds(30))
                    .connect_timeout(std::chrono::seconds(5))
                    .finalize();
    try {
      paho->connect(conn)->wait();
    } catch (const mqtt::exception& e) {
      std::fprintf(stderr, "publish: cannot connect to %s: %s\n", broker.c_str(), e.what());
      return 1;
    }
  }

  AckCounter acks;
  char buf[512];
  std::int64_t sent = 0, publish_errors = 0, window_stalls = 0, late_1ms = 0;
  Ns max_late = 0;
  const Ns mono0 = monotonic_ns() + 20'000'000;  // a short lead so the first deadlines are not late
  const Ns wall_offset = realtime_ns() - monotonic_ns();
  const Ns stop_at = mono0 + static_cast<Ns>(max_seconds * 1e9);
  const double period = rate > 0 ? 1e9 / rate : 0;
  // Raw client at max rate: batch into writes of this size (TCP back-pressure is the window).
  const std::size_t raw_batch = 16384;
  Ns first_send_ns = 0, last_send_ns = 0, last_event_time = 0;
  bool timed_out = false;

  auto send_one = [&](std::int64_t i, std::int64_t dev, Ns evt, Ns deadline, bool force_flush,
                      bool sentinel = false) {
    int n = maker.prefix(i, dev, evt, buf, sizeof buf - 40, sentinel);
    if (deadline > 0) {
      Ns now = monotonic_ns();
      if (now < deadline) {
        sleep_until_mono(deadline);
      } else {
        Ns late = now - deadline;
        max_late = std::max(max_late, late);
        if (late > 1'000'000) ++late_1ms;
      }
    }
    const mqtt::string_ref& topic = topics[static_cast<std::size_t>(dev)];
    if (raw) {
      Ns now_wall = realtime_ns();
      n += std::snprintf(buf + n, 40, ",\"sent_ns\":%" PRId64 "}", now_wall);
      rawc.append_publish(topic.str(), buf, static_cast<std::size_t>(n));
      // Paced: every event leaves at its deadline. Flat out: whole batches.
      if ((deadline > 0 || force_flush || rawc.pending() >= raw_batch) && !rawc.flush()) {
        lost.store(true);
        ++publish_errors;
        return false;
      }
      if (first_send_ns == 0) first_send_ns = now_wall;
      last_send_ns = now_wall;
      return true;
    }
    while (acks.inflight.load(std::memory_order_acquire) >= window) {
      ++window_stalls;
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      if (lost.load() || monotonic_ns() > stop_at + 5'000'000'000LL) return false;
    }
    Ns now_wall = realtime_ns();
    n += std::snprintf(buf + n, 40, ",\"sent_ns\":%" PRId64 "}", now_wall);
    for (;;) {
      acks.inflight.fetch_add(1, std::memory_order_relaxed);
      try {
        paho->publish(topic, buf, static_cast<std::size_t>(n), qos, false, nullptr, acks);
        break;
      } catch (const mqtt::exception& e) {
        acks.inflight.fetch_sub(1, std::memory_order_relaxed);
        // A full library queue is back-pressure, not loss: wait and retry the same event.
        if (e.get_return_code() == MQTTASYNC_MAX_BUFFERED_MESSAGES && !lost.load() &&
            monotonic_ns() < stop_at + 5'000'000'000LL) {
          ++window_stalls;
          std::this_thread::sleep_for(std::chrono::microseconds(50));
          continue;
        }
        if (publish_errors++ == 0) std::fprintf(stderr, "publish: %s\n", e.what());
        return !lost.load();
      }
    }
    if (first_send_ns == 0) first_send_ns = now_wall;
    last_send_ns = now_wall;
    return true;
  };

  for (std::int64_t i = 0; i < count; ++i) {
    const std::int64_t dev = i % devices;
    Ns deadline = rate > 0 ? mono0 + static_cast<Ns>(static_cast<double>(i) * period) : 0;
    Ns evt = sim ? sim_start + i * sim_step_us * 1000
                 : (deadline > 0 ? deadline + wall_offset : realtime_ns());
    last_event_time = evt;
    if (!send_one(i, dev, evt, deadline, i + 1 == count)) break;
    ++sent;
    if ((i & 255) == 0 && (monotonic_ns() > stop_at || lost.load())) {
      timed_out = monotonic_ns() > stop_at;
      if (sent < count) break;
    }
  }
  if (raw && rawc.pending() > 0 && !rawc.flush()) lost.store(true);
  const Ns end_send_ns = last_send_ns;
  bool advanced = false;
  if (final_advance > 0 && !lost.load()) {
    Ns evt = last_event_time + static_cast<Ns>(final_advance * 1e9);
    advanced = send_one(count, 0, evt, 0, true, true);
  }
  std::int64_t completed = sent;
  if (raw) {
    rawc.disconnect();
  } else {
    // Let the library finish what it holds, bounded.
    const Ns drain_deadline = monotonic_ns() + 10'000'000'000LL;
    while (acks.inflight.load() > 0 && monotonic_ns() < drain_deadline && !lost.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    try {
      paho->disconnect(std::chrono::seconds(2))->wait_for(std::chrono::seconds(5));
    } catch (const mqtt::exception&) {
    }
    completed = acks.ok.load();
  }

  const double elapsed = static_cast<double>(end_send_ns - first_send_ns) / 1e9;
  const double achieved = elapsed > 0 ? static_cast<double>(sent - 1) / elapsed : 0;
  std::fprintf(stderr,
               "publish: sent %" PRId64 " of %" PRId64
               " in %.3f s = %.0f msg/s (target %s, %s client), "
               "completed %" PRId64 ", failed %" PRId64 ", late>1ms %" PRId64 "\n",
               sent, count, elapsed, achieved, rate > 0 ? std::to_string(rate).c_str() : "max",
               client.c_str(), completed, acks.failed.load(), late_1ms);
  std::printf("{\"role\":\"publish\",\"client\":\"%s\",\"schema\":\"%s\",\"devices\":%" PRId64
              ",\"qos\":%d,\"count\":%" PRId64 ",\"sent\":%" PRId64 ",\"completed\":%" PRId64
              ",\"failed\":%" PRId64 ",\"publish_errors\":%" PRId64
              ",\"target_rate\":%.1f,\"rate\":%.1f,\"elapsed_s\":%.6f,\"first_send_ns\":%" PRId64
              ",\"last_send_ns\":%" PRId64 ",\"late_1ms\":%" PRId64
              ",\"max_late_us\":%.1f,\"window_stalls\":%" PRId64
              ",\"final_advance_sent\":%s,\"connection_lost\":%s,\"timed_out\":%s}\n",
              client.c_str(), schema_s.c_str(), devices, qos, count, sent, completed,
              acks.failed.load(), publish_errors, rate, achieved, elapsed, first_send_ns,
              end_send_ns, late_1ms, static_cast<double>(max_late) / 1e3, window_stalls,
              advanced ? "true" : "false", lost.load() ? "true" : "false",
              timed_out ? "true" : "false");
  std::fflush(stdout);
  return (sent == count && !lost.load()) ? 0 : 1;
}

// ---------------------------------------------------------------- receive

const char* kReceiveHelp = R"(streamgate_load receive [options]
  --broker URI          tcp://127.0.0.1:1883
  --client raw|paho     raw: built-in minimal MQTT 3.1.1 client, one reader loop (default);
                        paho: Paho async client, parsing in its callback
  --topic FILTER        subscription filter, may repeat as a comma list (default #)
  --qos Q               subscription QoS (default 0)
  --expect N            stop once N records arrived (default 0 = only the timeouts stop it)
  --idle S              stop when nothing arrived for S seconds after the first message (default 3)
  --first-timeout S     give up if no message arrives within S seconds (default 30)
  --max-seconds T       hard stop (default 600)
  --field NAME          payload field holding the send time in ns (default sent_ns); every
                        occurrence in a message is one record (batched outputs count per row)
  --read-pause-us U     raw: pause U us after each read so reads come in larger batches
                        (cheaper for throughput runs; adds up to U us to latencies; default 0)
  --ready-file PATH     written once the subscription is granted (for scripts)
  --client-id ID        (default sgload-recv-<pid>)
Latency = CLOCK_REALTIME at arrival - the field's value (integer or float ns).
)";

struct Receiver {
  std::string needle;  // "\"sent_ns\""
  std::vector<Ns> lat;
  std::atomic<std::int64_t> msgs{0};
  std::atomic<std::int64_t> records{0};
  std::atomic<Ns> first_recv{0};
  std::atomic<Ns> last_recv{0};
  Ns min_sent = INT64_MAX;
  Ns max_sent = 0;
  std::int64_t no_field = 0;
  std::int64_t bytes = 0;
  std::atomic<bool> stop{false};
  std::atomic<int> in_cb{0};

  // Runs on Paho's callback thread: parse, store, never block.
  void on_message(const mqtt::const_message_ptr& m) {
    in_cb.fetch_add(1);
    if (!stop.load()) on_payload(m->get_payload_ref().str(), realtime_ns());
    in_cb.fetch_sub(1);
  }

  void on_payload(std::string_view p, Ns now) {
    bytes += static_cast<std::int64_t>(p.size());
    std::int64_t recs = 0;
    for (std::size_t pos = p.find(needle); pos != std::string_view::npos;
         pos = p.find(needle, pos)) {
      pos += needle.size();
      while (pos < p.size() && (p[pos] == ' ' || p[pos] == ':' || p[pos] == '\t')) ++pos;
      const char* b = p.data() + pos;
      const char* e = p.data() + p.size();
      Ns sent = 0;
      auto [q, ec] = std::from_chars(b, e, sent);
      if (ec == std::errc() && q < e && (*q == '.' || *q == 'e' || *q == 'E')) {
        double d = 0;
        auto r = std::from_chars(b, e, d);
        if (r.ec == std::errc()) sent = static_cast<Ns>(d);
      }
      if (ec != std::errc() || sent <= 0) continue;
      ++recs;
      lat.push_back(now - sent);
      min_sent = std::min(min_sent, sent);
      max_sent = std::max(max_sent, sent);
    }
    if (recs == 0) {
      ++no_field;
      recs = 1;
    }
    if (first_recv.load(std::memory_order_relaxed) == 0) first_recv.store(now);
    last_recv.store(now, std::memory_order_relaxed);
    records.fetch_add(recs, std::memory_order_relaxed);
    msgs.fetch_add(1, std::memory_order_release);
  }
};

double pct_us(const std::vector<Ns>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  idx = idx == 0 ? 0 : idx - 1;
  idx = std::min(idx, sorted.size() - 1);
  return static_cast<double>(sorted[idx]) / 1e3;
}

int run_receive(Args& a) {
  if (a.help()) {
    std::fputs(kReceiveHelp, stdout);
    return 0;
  }
  const std::string broker = a.str("broker", "tcp://127.0.0.1:1883");
  const std::string client = a.str("client", "raw");
  const std::string topic_s = a.str("topic", "#");
  const int qos = static_cast<int>(a.i64("qos", 0));
  const std::int64_t expect = a.i64("expect", 0);
  const double idle = a.dbl("idle", 3);
  const double first_timeout = a.dbl("first-timeout", 30);
  const double max_seconds = a.dbl("max-seconds", 600);
  const std::string field = a.str("field", "sent_ns");
  const std::string ready_file = a.str("ready-file", "");
  const std::int64_t read_pause_us = a.i64("read-pause-us", 0);
  const std::string client_id = a.str("client-id", "sgload-recv-" + std::to_string(getpid()));
  a.check_all_used();
  if (client != "raw" && client != "paho") usage_error("--client must be raw or paho");
  const bool raw = client == "raw";
  if (qos < 0 || qos > 2) usage_error("--qos must be 0, 1 or 2");
  if (raw && qos > 1)
    usage_error("--client raw subscribes with QoS 0 or 1; use --client paho for QoS 2");

  std::vector<std::string> filters;
  for (std::size_t p = 0;;) {
    auto c = topic_s.find(',', p);
    filters.push_back(topic_s.substr(p, c == std::string::npos ? std::string::npos : c - p));
    if (c == std::string::npos) break;
    p = c + 1;
  }

  Receiver rx;
  rx.needle = "\"" + field + "\"";
  rx.lat.reserve(static_cast<std::size_t>(std::clamp<std::int64_t>(expect, 1 << 16, 20'000'000)));

  const Ns start = monotonic_ns();
  std::string reason;
  // Decides, from the main thread, whether to stop; "" means go on.
  auto should_stop = [&](bool lost) -> std::string {
    const Ns now_m = monotonic_ns();
    if (expect > 0 && rx.records.load(std::memory_order_acquire) >= expect) return "expected";
    if (lost) return "connection_lost";
    if (now_m - start > static_cast<Ns>(max_seconds * 1e9)) return "max_seconds";
    const Ns last = rx.last_recv.load(std::memory_order_relaxed);
    if (last == 0) {
      if (now_m - start > static_cast<Ns>(first_timeout * 1e9)) return "no_message";
    } else if (realtime_ns() - last > static_cast<Ns>(idle * 1e9)) {
      return "idle";
    }
    return "";
  };

  if (raw) {
    RawMqtt rawc;
    if (std::string err = rawc.connect(broker, client_id); !err.empty()) {
      std::fprintf(stderr, "receive: cannot connect to %s: %s\n", broker.c_str(), err.c_str());
      return 1;
    }
    std::uint16_t pid = 1;
    for (const auto& f : filters) rawc.subscribe(f, qos, pid++);
    auto on_pub = [&rx](std::string_view p, Ns now) { rx.on_payload(p, now); };
    bool ok = true;
    while (ok && rawc.subacks() < static_cast<int>(filters.size()) &&
           monotonic_ns() - start < 5'000'000'000LL)
      ok = rawc.poll_read(50, on_pub);
    if (!ok || rawc.subacks() < static_cast<int>(filters.size())) {
      std::fprintf(stderr, "receive: subscription to %s not granted\n", topic_s.c_str());
      return 1;
    }
    if (!ready_file.empty()) std::ofstream(ready_file) << "ready\n";
    for (;;) {
      ok = rawc.poll_read(5, on_pub);
      if (read_pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(read_pause_us));
      reason = should_stop(!ok);
      if (!reason.empty()) break;
    }
    rawc.disconnect();
  } else {
    mqtt::create_options copts(MQTTVERSION_3_1_1);
    mqtt::async_client cli(broker, client_id, copts, nullptr);
    std::atomic<bool> lost{false};
    cli.set_connection_lost_handler([&lost](const std::string&) { lost.store(true); });
    cli.set_message_callback([&rx](mqtt::const_message_ptr m) { rx.on_message(m); });
    auto conn = mqtt::connect_options_builder()
                    .clean_session(true)
                    .keep_alive_interval(std::chrono::seconds(30))
                    .connect_timeout(std::chrono::seconds(5))
                    .finalize();
    try {
      cli.connect(conn)->wait();
      for (const auto& f : filters) cli.subscribe(f, qos)->wait();
    } catch (const mqtt::exception& e) {
      std::fprintf(stderr, "receive: cannot connect/subscribe to %s: %s\n", broker.c_str(),
                   e.what());
      return 1;
    }
    if (!ready_file.empty()) std::ofstream(ready_file) << "ready\n";
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      reason = should_stop(lost.load());
      if (!reason.empty()) break;
    }
    // Dekker-style hand-off: after this no callback touches rx's plain fields.
    rx.stop.store(true);
    while (rx.in_cb.load() != 0) std::this_thread::yield();
    try {
      cli.disconnect(std::chrono::seconds(1))->wait_for(std::chrono::seconds(3));
    } catch (const mqtt::exception&) {
    }
  }

  std::vector<Ns>& lat = rx.lat;
  std::sort(lat.begin(), lat.end());
  const std::int64_t msgs = rx.msgs.load();
  const std::int64_t records = rx.records.load();
  const Ns first = rx.first_recv.load(), last = rx.last_recv.load();
  const double span = static_cast<double>(last - first) / 1e9;
  const double rate = span > 0 ? static_cast<double>(records - 1) / span : 0;
  const double span_e2e = lat.empty() ? 0 : static_cast<double>(last - rx.min_sent) / 1e9;
  const double rate_e2e = span_e2e > 0 ? static_cast<double>(records) / span_e2e : 0;
  double mean = 0;
  for (Ns v : lat) mean += static_cast<double>(v);
  mean = lat.empty() ? 0 : mean / static_cast<double>(lat.size()) / 1e3;
  std::fprintf(stderr,
               "receive: %" PRId64 " msgs, %" PRId64
               " records in %.3f s = %.0f rec/s (%.0f rec/s from first send); "
               "latency us p50 %.1f p90 %.1f p99 %.1f max %.1f (n=%zu); stop: %s\n",
               msgs, records, span, rate, rate_e2e, pct_us(lat, 50), pct_us(lat, 90),
               pct_us(lat, 99), lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1e3,
               lat.size(), reason.c_str());
  std::printf(
      "{\"role\":\"receive\",\"topic\":\"%s\",\"messages\":%" PRId64 ",\"records\":%" PRId64
      ",\"expected\":%" PRId64 ",\"bytes\":%" PRId64 ",\"without_field\":%" PRId64
      ",\"first_recv_ns\":%" PRId64 ",\"last_recv_ns\":%" PRId64 ",\"min_sent_ns\":%" PRId64
      ",\"max_sent_ns\":%" PRId64
      ",\"span_s\":%.6f,\"rate\":%.1f,\"rate_from_first_send\":%.1f"
      ",\"latency_us\":{\"n\":%zu,\"min\":%.1f,\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f"
      ",\"p999\":%.1f,\"max\":%.1f},\"stop\":\"%s\"}\n",
      topic_s.c_str(), msgs, records, expect, rx.bytes, rx.no_field, first, last,
      lat.empty() ? 0 : rx.min_sent, rx.max_sent, span, rate, rate_e2e, lat.size(),
      lat.empty() ? 0.0 : static_cast<double>(lat.front()) / 1e3, mean, pct_us(lat, 50),
      pct_us(lat, 90), pct_us(lat, 99), pct_us(lat, 99.9),
      lat.empty() ? 0.0 : static_cast<double>(lat.back()) / 1e3, reason.c_str());
  std::fflush(stdout);
  return reason == "expected" || (expect == 0 && reason == "idle") ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string role = argc > 1 ? argv[1] : "";
  if (role == "publish" || role == "receive") {
    Args a(argc, argv, 2);
    try {
      return role == "publish" ? run_publish(a) : run_receive(a);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "streamgate_load %s: %s\n", role.c_str(), e.what());
      return 1;
    }
  }
  if (role == "--help" || role == "-h" || role == "help") {
    std::fputs(kPublishHelp, stdout);
    std::fputs("\n", stdout);
    std::fputs(kReceiveHelp, stdout);
    return 0;
  }
  std::fprintf(stderr, "usage: streamgate_load publish|receive [options]  (--help for options)\n");
  return 2;
}
