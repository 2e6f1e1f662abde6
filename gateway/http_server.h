// The HTTP side of the process, on cpp-httplib (Debian's libcpp-httplib-dev): /metrics and
// /health for scrapers, and the dashboard (gateway/dashboard/) when it is on. httplib runs each
// connection on a thread of its own bounded pool; handlers only read snapshots and atomics the
// worker publishes, so nothing here can slow the worker. Bounds: request body size, header size
// (8 KiB, httplib's), requests per second per client address, threads (= connections at once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace httplib {
class Server;
}

namespace streamgate::gateway {

struct HttpLimits {
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t threads = 8;           //!< connections served at once (SSE clients hold one each)
  double requests_per_second = 20;  //!< per client address, token bucket; 0: no rate bound
  double burst = 60;
  int write_timeout_seconds = 2;  //!< a client that stops reading frees its thread after this
  int send_buffer_bytes = 0;      //!< SO_SNDBUF of the sockets (0: the system's)
};

class HttpServer {
 public:
  explicit HttpServer(HttpLimits limits = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  //! Routes are registered on this before start().
  httplib::Server& routes() { return *server_; }

  //! Binds `listen` ("127.0.0.1:9108", "[::1]:9108"; port 0 picks a free one) and starts serving.
  //! `option` names the config option in the error line. Returns an error line, "" on success.
  std::string start(const std::string& listen, const std::string& option);
  void stop();
  int port() const { return port_; }
  //! Requests refused by the rate bound (any thread).
  std::uint64_t rate_limited() const;

 private:
  bool admit(const std::string& remote);

  HttpLimits limits_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  struct Bucket {
    double tokens = 0;
    std::int64_t last_ns = 0;
  };
  mutable std::mutex buckets_mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  std::uint64_t rate_limited_ = 0;
};

//! Splits "host:port" / "[v6]:port"; false when malformed.
bool split_host_port(const std::string& text, std::string& host, int& port);

}  // namespace streamgate::gateway
