// A tiny HTTP/1.0 server for /metrics and /health: one thread, poll(), one connection at a time,
// a hard limit on request size and time. Meant for a loopback address scraped by a local agent,
// not for the open network (no TLS, no keep-alive, GET only).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace streamgate::gateway {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

class HttpServer {
 public:
  //! Runs on the server thread for each GET; `path` has no query string.
  using Handler = std::function<HttpResponse(const std::string& path)>;
  //! Called on the server thread about twice a second (health sampling).
  using IdleFn = std::function<void()>;

  static constexpr std::size_t kMaxRequestBytes = 4096;

  HttpServer(Handler handler, IdleFn idle = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  //! Binds `listen` ("127.0.0.1:9108", "[::1]:9108"; port 0 picks a free one) and starts the
  //! thread. Returns an error line, or "" on success.
  std::string start(const std::string& listen);
  void stop();
  //! The bound port (after a successful start).
  int port() const { return port_; }

 private:
  void run();
  void serve_one(int fd);

  Handler handler_;
  IdleFn idle_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  //!< eventfd: stop() wakes poll()
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

//! Splits "host:port" / "[v6]:port"; false when malformed.
bool split_host_port(const std::string& text, std::string& host, int& port);

}  // namespace streamgate::gateway
