// The task as it runs, seen from outside. Every part of a task (the task itself, or each shard of a
// cluster source) reports to its own Progress here, from its own thread; the monitor keeps a copy
// of each part's counts under one lock and serves them:
//
//   - the progress line on a terminal (the parts added up, as one line),
//   - the metrics endpoint (--metrics-listen): /metrics in the Prometheus text format, /status JSON,
//   - a log line every --log-status-every seconds (rate, progress, lag), for logs without a terminal,
//   - alerts (--alert-lag-ms, --alert-for, --alert-exec): lag-high, lag-resolved, task-failed,
//     task-finished, each logged and handed to the command without waiting for it.
//
// The lag a part reported is aged while it says nothing: a part whose stream is stuck (a target
// that stopped answering, a link being retried) reports nothing, and its lag grows from what it
// last was by the time since.
#pragma once

#include "task/progress.h"
#include "task/task_config.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ferry {

class AlertRunner;
class MetricsServer;

struct MonitorOptions {
  std::string mode, task_id, source, target;  // described: no password
  std::string metrics_listen;                 // "HOST:PORT", ":PORT", "PORT" (loopback); empty: none
  long long alert_lag_ms = 0;                 // 0: no lag alert
  double alert_for_s = 10;
  std::string alert_exec;  // empty: events are logged only
  double alert_timeout_s = 10;
  double log_every_s = 30;  // 0: no periodic log line
  static MonitorOptions from(const TaskConfig& config);
};

class TaskMonitor {
 public:
  // Starts the metrics endpoint (FerryError(Usage) when it cannot listen), the alert runner and the
  // clock that logs and evaluates alerts. `line`: the terminal's progress line, or null.
  TaskMonitor(MonitorOptions options, Progress* line);
  ~TaskMonitor();
  TaskMonitor(const TaskMonitor&) = delete;
  TaskMonitor& operator=(const TaskMonitor&) = delete;

  // The parts: one (named by the source) until a cluster source names its shards.
  void set_parts(const std::vector<std::string>& names);
  Progress* part(size_t i);
  // The task's own phase before any part reports: starting, precheck.
  void set_phase(const std::string& phase);
  // The task ended with `exit_code`; `final_parts` (one per part, may be empty) are the counts of the
  // result, read once every engine thread has ended. Raises task-finished (exit 0 or 2) or
  // task-failed with `reason`, and waits for the alert command (bounded by its timeout).
  void finish(int exit_code, const std::string& reason, const std::vector<PartStatus>& final_parts = {});

  // "host:port" the endpoint listens on (empty: none).
  std::string metrics_address() const;
  nlohmann::json status() const;
  std::string metrics() const;  // the Prometheus text format

 private:
  using Clock = std::chrono::steady_clock;
  struct Record {
    std::string name;
    std::string phase = "starting";
    bool copying = false;
    uint64_t done = 0, total = 0;
    std::string unit;
    uint64_t keys_total = 0, keys_copied = 0, keys_failed = 0, bytes = 0, target_oom = 0;
    uint64_t commands = 0, stream_errors = 0;
    std::map<std::string, uint64_t> per_command;
    long long lag_bytes = -1;
    std::optional<long long> lag_ms;
    long long source_offset = -1, applied_offset = -1;
    uint64_t partial_resyncs = 0, full_resyncs = 0, retries = 0;
    std::string stopped_because;
    Clock::time_point updated{}, per_command_copied{};
  };
  class Part;

  void update(size_t i, const PartStatus& s);
  // Copies `s` into `r` (under mu_); `whole`: the command names too, however recently copied.
  void apply(Record& r, const PartStatus& s, bool whole);
  void part_done(size_t i);
  void tick();
  void draw_line();  // under mu_
  void raise(const std::string& event, nlohmann::json details);
  // A part's lag in ms now: as reported, plus its silence while streaming (-1: unknown).
  long long effective_lag_ms(const Record& r, Clock::time_point now) const;
  std::string task_phase() const;  // under mu_
  // The command's label in ferry_stream_commands_total: its name, or "other" past kMaxCommandLabels
  // names and for names that are not words (an AOF's command name is any bytes). Under mu_.
  std::string command_label(const std::string& name) const;

  MonitorOptions o_;
  Progress* line_;
  const std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
  mutable std::mutex mu_;
  std::string phase_ = "starting";
  bool finished_ = false;
  int exit_code_ = -1;
  std::string last_error_;
  std::vector<Record> parts_;
  std::vector<std::unique_ptr<Part>> part_objects_;
  mutable std::set<std::string> command_labels_;  // grows as names appear, never shrinks
  // Alerts and the periodic log line (tick()).
  bool lag_high_ = false;
  std::optional<Clock::time_point> lag_above_since_;
  Clock::time_point last_log_ = Clock::now();
  uint64_t logged_commands_ = 0, logged_done_ = 0;
  std::unique_ptr<AlertRunner> alerts_;
  std::unique_ptr<MetricsServer> server_;
  std::mutex clock_mu_;
  std::condition_variable clock_cv_;
  bool stopping_ = false;
  std::thread clock_;
};

}  // namespace ferry
