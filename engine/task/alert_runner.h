// Runs the alert command (--alert-exec) for each event, one at a time on its own thread, so the
// migration never waits for it: `/bin/sh -c CMD` in its own process group, the event as a JSON object
// on its stdin, FERRY_ALERT_EVENT set to the event's name, its stdout sent to ferry's stderr. A run
// longer than the timeout is killed (the whole group); a failing command is logged, never retried.
#pragma once

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace ferry {

class AlertRunner {
 public:
  AlertRunner(std::string command, double timeout_s);
  // Runs what is queued (each bounded by the timeout), then ends.
  ~AlertRunner();
  // Queues the event (`event["event"]` names it). At most kMaxQueued wait: beyond, an event is
  // dropped with an error in the log.
  void post(const nlohmann::json& event);
  static constexpr size_t kMaxQueued = 64;

 private:
  void run();
  void run_one(const nlohmann::json& event);
  std::string command_;
  double timeout_s_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nlohmann::json> queue_;
  bool closing_ = false;
  std::thread thread_;
};

}  // namespace ferry
