// A plain Paho client for tests: publishes events and collects what arrives on its
// subscriptions, so tests can wait for "N messages on topic T" with a deadline.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <mqtt/async_client.h>

#include "process.h"

namespace streamgate::test {

struct Received {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
};

class MqttTestClient {
 public:
  MqttTestClient(const std::string& url, const std::string& client_id)
      : client_(url, client_id, mqtt::create_options(MQTTVERSION_3_1_1)) {
    client_.set_message_callback([this](mqtt::const_message_ptr m) {
      std::lock_guard<std::mutex> lock(mu_);
      received_.push_back({m->get_topic(), m->get_payload_str(), m->get_qos(), m->is_retained()});
      cv_.notify_all();
    });
    mqtt::connect_options opts;
    opts.set_clean_session(true);
    opts.set_connect_timeout(10);
    client_.connect(opts)->wait_for(std::chrono::seconds(20));
    if (!client_.is_connected()) throw std::runtime_error("test client cannot connect to " + url);
  }
  ~MqttTestClient() {
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(std::chrono::seconds(5));
    } catch (...) {
    }
  }

  void subscribe(const std::string& filter, int qos = 1) {
    client_.subscribe(filter, qos)->wait_for(std::chrono::seconds(20));
  }
  void publish(const std::string& topic, const std::string& payload, int qos = 1) {
    client_.publish(mqtt::make_message(topic, payload, qos, false))->wait_for(std::chrono::seconds(20));
  }

  std::vector<Received> messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }
  std::vector<Received> on_topic(const std::string& topic) {
    std::vector<Received> out;
    for (auto& m : messages()) {
      if (m.topic == topic) out.push_back(m);
    }
    return out;
  }
  //! Waits (deadline as a safety net) until at least `n` messages arrived on `topic`.
  bool wait_for(const std::string& topic, std::size_t n, std::chrono::milliseconds timeout = 30s) {
    return wait_until([&] { return on_topic(topic).size() >= n; }, timeout);
  }

 private:
  mqtt::async_client client_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Received> received_;
};

}  // namespace streamgate::test
