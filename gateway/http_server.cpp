// HTTP server on cpp-httplib: binding, limits, the per-address rate bound.
#include "gateway/http_server.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>

#include <httplib.h>
#include <spdlog/spdlog.h>

namespace streamgate::gateway {

namespace {
std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
// Beyond this many distinct client addresses the table is cleared: an address flood costs a
// fresh burst each, not unbounded memory.
constexpr std::size_t kMaxBuckets = 4096;
}  // namespace

bool split_host_port(const std::string& text, std::string& host, int& port) {
  std::string port_text;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5) return false;
  int p = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9') return false;
    p = p * 10 + (c - '0');
  }
  if (p > 65535) return false;
  port = p;
  return !host.empty();
}

HttpServer::HttpServer(HttpLimits limits) : limits_(limits), server_(std::make_unique<httplib::Server>()) {
  const std::size_t threads = limits_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(limits_.max_body_bytes);
  server_->set_write_timeout(limits_.write_timeout_seconds, 0);
  server_->set_read_timeout(5, 0);
  server_->set_keep_alive_max_count(20);
  const int sndbuf = limits_.send_buffer_bytes;
  server_->set_socket_options([sndbuf](int sock) {
    const int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    // Accepted sockets inherit it: a client that stops reading fills a small buffer quickly.
    if (sndbuf > 0) ::setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  });
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (admit(req.remote_addr)) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 429;
    res.set_header("Retry-After", "1");
    res.set_content("too many requests\n", "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::admit(const std::string& remote) {
  if (limits_.requests_per_second <= 0) return true;
  const std::int64_t now = steady_ns();
  std::lock_guard<std::mutex> lock(buckets_mu_);
  if (buckets_.size() >= kMaxBuckets && buckets_.find(remote) == buckets_.end()) buckets_.clear();
  auto [it, fresh] = buckets_.try_emplace(remote);
  Bucket& b = it->second;
  if (fresh) b = {limits_.burst, now};
  b.tokens = std::min(limits_.burst, b.tokens + static_cast<double>(now - b.last_ns) / 1e9 * limits_.requests_per_second);
  b.last_ns = now;
  if (b.tokens < 1) {
    ++rate_limited_;
    return false;
  }
  b.tokens -= 1;
  return true;
}

std::uint64_t HttpServer::rate_limited() const {
  std::lock_guard<std::mutex> lock(buckets_mu_);
  return rate_limited_;
}

std::string HttpServer::start(const std::string& listen, const std::string& option) {
  std::string host;
  int port = 0;
  if (!split_host_port(listen, host, port)) return option + ": '" + listen + "' is not HOST:PORT";
  if (port == 0) {
    port = server_->bind_to_any_port(host);
    if (port < 0) return option + ": cannot listen on " + listen;
  } else if (!server_->bind_to_port(host, port)) {
    return option + ": cannot listen on " + listen;
  }
  port_ = port;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "sg-http");
    try {
      server_->listen_after_bind();
    } catch (const std::exception& e) {
      spdlog::error("http: {}", e.what());
    }
  });
  // stop() is a no-op until the accept loop runs: wait for it so a quick stop cannot hang.
  for (int i = 0; i < 500 && !server_->is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  return {};
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace streamgate::gateway
