// Shared by the dashboard tests: a real gateway with the dashboard on a free loopback port, a
// real Mosquitto, and small HTTP helpers (cpp-httplib's client) including an SSE reader.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "gateway_fixture.h"
#include "mosquitto_fixture.h"
#include "mqtt_test_client.h"

namespace streamgate::test {

//! A gateway with the dashboard on; `extra` go on the command line after --dashboard-listen.
class DashboardGateway {
 public:
  DashboardGateway(const std::string& broker_url, const std::map<std::string, std::string>& rules,
                   std::vector<std::string> extra = {})
      : port_(pick_free_port()) {
    std::vector<std::string> args{"--dashboard-listen", "127.0.0.1:" + std::to_string(port_)};
    args.insert(args.end(), extra.begin(), extra.end());
    gw_ = std::make_unique<GatewayProcess>(broker_url, rules, args);
  }
  //! Waits until the broker subscriptions and the dashboard are both up.
  bool ready() {
    return gw_->wait_subscribed() &&
           wait_until([&] { return gw_->process().err_count("dashboard on http://") >= 1; }, 30s);
  }
  GatewayProcess& gateway() { return *gw_; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c;
  }

 private:
  int port_;
  std::unique_ptr<GatewayProcess> gw_;
};

//! Reads /events on a thread of its own and keeps every event (name, data).
class SseReader {
 public:
  explicit SseReader(int port) : client_("127.0.0.1", port) {
    client_.set_read_timeout(60, 0);
    thread_ = std::thread([this] {
      client_.Get("/events", [this](const char* data, std::size_t n) {
        std::lock_guard<std::mutex> lock(mu_);
        buffer_.append(data, n);
        std::size_t end;
        while ((end = buffer_.find("\n\n")) != std::string::npos) {
          std::string block = buffer_.substr(0, end);
          buffer_.erase(0, end + 2);
          std::string name = "message", payload;
          std::size_t pos = 0;
          while (pos < block.size()) {
            std::size_t eol = block.find('\n', pos);
            if (eol == std::string::npos) eol = block.size();
            const std::string line = block.substr(pos, eol - pos);
            if (line.rfind("event: ", 0) == 0) name = line.substr(7);
            if (line.rfind("data: ", 0) == 0) payload += line.substr(6);
            pos = eol + 1;
          }
          if (!payload.empty()) events_.emplace_back(name, payload);
        }
        return !stop_.load();
      });
      done_.store(true);
    });
  }
  ~SseReader() {
    stop_.store(true);
    client_.stop();
    thread_.join();
  }
  std::vector<std::pair<std::string, std::string>> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  std::size_t count(const std::string& name) {
    std::size_t n = 0;
    for (const auto& [e, d] : events()) n += e == name ? 1 : 0;
    return n;
  }
  //! True once the server closed the stream.
  bool done() const { return done_.load(); }

 private:
  httplib::Client client_;
  std::thread thread_;
  std::mutex mu_;
  std::string buffer_;
  std::vector<std::pair<std::string, std::string>> events_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> done_{false};
};

inline httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

}  // namespace streamgate::test
