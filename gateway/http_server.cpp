// Loopback HTTP/1.0 server for the metrics endpoint.
#include "gateway/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

namespace streamgate::gateway {

namespace {

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Request Entity Too Large";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

void write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (off < data.size() && std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 200);
      continue;
    }
    return;
  }
}

void respond(int fd, const HttpResponse& r, bool head) {
  std::string out = "HTTP/1.0 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
  out += "Content-Type: " + r.content_type + "\r\n";
  out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  if (!head) out += r.body;
  write_all(fd, out);
}

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

HttpServer::HttpServer(Handler handler, IdleFn idle) : handler_(std::move(handler)), idle_(std::move(idle)) {}

HttpServer::~HttpServer() { stop(); }

std::string HttpServer::start(const std::string& listen) {
  std::string host;
  int port = 0;
  if (!split_host_port(listen, host, port)) return "metrics-listen: '" + listen + "' is not HOST:PORT";
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port_text = std::to_string(port);
  if (::getaddrinfo(host.c_str(), port_text.c_str(), &hints, &res) != 0 || res == nullptr) {
    return "metrics-listen: '" + host + "' is not a numeric IP address";
  }
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    ::freeaddrinfo(res);
    return std::string("metrics-listen: socket: ") + std::strerror(errno);
  }
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 16) != 0) {
    const std::string err = std::strerror(errno);
    ::freeaddrinfo(res);
    ::close(fd);
    return "metrics-listen: cannot listen on " + listen + ": " + err;
  }
  ::freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  port_ = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                      : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  listen_fd_ = fd;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_.store(false);
  thread_ = std::thread([this] { run(); });
  return {};
}

void HttpServer::stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(listen_fd_);
  ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void HttpServer::run() {
  while (!stop_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    const int n = ::poll(fds, 2, 500);
    if (idle_) idle_();
    if (n <= 0 || (fds[0].revents & POLLIN) == 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client < 0) continue;
    try {
      serve_one(client);
    } catch (const std::exception& e) {
      spdlog::error("metrics http: {}", e.what());
    }
    ::close(client);
  }
}

// One request: read until the end of the headers, at most kMaxRequestBytes and 2 s (a slow or
// hostile client cannot hold the thread longer), answer, close.
void HttpServer::serve_one(int fd) {
  std::string req;
  char buf[1024];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (req.find("\r\n\r\n") == std::string::npos && req.find("\n\n") == std::string::npos) {
    if (req.size() > kMaxRequestBytes) {
      respond(fd, {413, "text/plain; charset=utf-8", "request too large\n"}, false);
      return;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r == 0) break;
    if (r < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return;
    }
    req.append(buf, static_cast<std::size_t>(r));
  }
  const auto eol = req.find_first_of("\r\n");
  const std::string line = req.substr(0, eol);
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string::npos ? std::string::npos : line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos) {
    respond(fd, {400, "text/plain; charset=utf-8", "bad request\n"}, false);
    return;
  }
  const std::string method = line.substr(0, sp1);
  std::string path = line.substr(sp1 + 1, sp2 == std::string::npos ? std::string::npos : sp2 - sp1 - 1);
  if (const auto q = path.find('?'); q != std::string::npos) path.resize(q);
  if (method != "GET" && method != "HEAD") {
    respond(fd, {405, "text/plain; charset=utf-8", "only GET\n"}, false);
    return;
  }
  respond(fd, handler_(path), method == "HEAD");
}

}  // namespace streamgate::gateway
