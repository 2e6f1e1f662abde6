// Reading a running gateway's metrics endpoint from a test: a plain HTTP/1.0 GET, the port the
// gateway logged, and one metric's value. Tests wait on these figures, not on log lines.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <regex>
#include <string>

#include "gateway_fixture.h"

namespace streamgate::test {

//! A blocking HTTP/1.0 GET against 127.0.0.1; returns "STATUS\nBODY" ("" on connection failure).
inline std::string http_get(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return {};
  }
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  const auto sp = resp.find(' ');
  const auto body = resp.find("\r\n\r\n");
  if (sp == std::string::npos || body == std::string::npos) return {};
  return resp.substr(sp + 1, 3) + "\n" + resp.substr(body + 4);
}

//! The port the gateway's metrics endpoint bound (started with --metrics-listen=127.0.0.1:0 and
//! logged as "(port N)"); 0 if it never said.
inline int metrics_port(GatewayProcess& gw) {
  int port = 0;
  wait_until([&] {
    std::smatch m;
    const std::string logs = gw.process().err();
    if (!std::regex_search(logs, m, std::regex("\\(port ([0-9]+)\\)"))) return false;
    port = std::stoi(m[1]);
    return true;
  });
  return port;
}

//! The value of the metric line starting with `name` (e.g. `streamgate_checkpoints_total` or
//! `streamgate_drops_total{reason="ring_full"}`); -1 when absent or the endpoint is unreachable.
inline double metric_value(int port, const std::string& name) {
  const std::string body = http_get(port, "/metrics");
  std::size_t at = 0;
  while ((at = body.find(name, at)) != std::string::npos) {
    const bool line_start = at == 0 || body[at - 1] == '\n';
    const std::size_t after = at + name.size();
    if (line_start && after < body.size() && body[after] == ' ') return std::strtod(body.c_str() + after + 1, nullptr);
    at = after;
  }
  return -1;
}

}  // namespace streamgate::test
