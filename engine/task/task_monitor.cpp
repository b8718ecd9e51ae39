#include "task/task_monitor.h"

#include "core/error.h"
#include "core/log.h"
#include "core/version.h"
#include "sink/stream_stats.h"
#include "task/alert_runner.h"
#include "task/metrics_http.h"
#include "task/migration_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace ferry {
namespace {

// A part that has said nothing for this long while streaming is stuck (it reports once a second).
constexpr auto kSilent = std::chrono::seconds(3);
// The command stream's names as labels: at most this many, the rest as "other".
constexpr size_t kMaxCommandLabels = 100;
// Every phase ferry_phase names (the ones a task goes through, in order).
const std::vector<std::string>& phase_names() {
  static const std::vector<std::string> names{"starting", "precheck", "scan",     "rdb",   "aof",
                                              "snapshot", "stream",   "finished", "failed"};
  return names;
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A label value in the Prometheus text format.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

nlohmann::json optional_number(long long v) { return v < 0 ? nlohmann::json() : nlohmann::json(v); }

}  // namespace

MonitorOptions MonitorOptions::from(const TaskConfig& config) {
  MonitorOptions o;
  o.mode = config.mode;
  o.task_id = config.effective_task_id();
  if (config.mode == "rdb")
    o.source = fmt::format("{}", fmt::join(config.rdb_files, ", "));
  else if (config.mode == "aof")
    o.source = config.aof_path;
  else
    o.source = config.source_endpoint().describe();
  o.target = config.target_endpoint().describe();
  o.metrics_listen = config.metrics_listen;
  o.alert_lag_ms = config.alert_lag_ms;
  o.alert_for_s = config.alert_for_s;
  o.alert_exec = config.alert_exec;
  o.alert_timeout_s = config.alert_timeout_s;
  o.log_every_s = config.log_status_every_s;
  return o;
}

// One part's reports, from its one thread. A copy reports every kKeysPerReport keys: what reaches
// the monitor (its lock, the terminal line) is thinned to one report per 20 ms, and every change of
// phase.
class TaskMonitor::Part : public Progress {
 public:
  Part(TaskMonitor& monitor, size_t i) : monitor_(monitor), i_(i) {}
  void update(const PartStatus& s) override {
    const auto now = Clock::now();
    if (s.phase == phase_ && now - last_ < std::chrono::milliseconds(20)) return;
    phase_ = s.phase;
    last_ = now;
    monitor_.update(i_, s);
  }
  void done() override {
    phase_.clear();
    monitor_.part_done(i_);
  }

 private:
  TaskMonitor& monitor_;
  size_t i_;
  std::string phase_;
  Clock::time_point last_{};
};

TaskMonitor::TaskMonitor(MonitorOptions options, Progress* line) : o_(std::move(options)), line_(line) {
  set_parts({o_.source});
  if (!o_.metrics_listen.empty()) {
    server_ = std::make_unique<MetricsServer>(o_.metrics_listen, [this](const std::string& path) {
      if (path == "/metrics") return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8", metrics()};
      if (path == "/status")
        return HttpResponse{200, "application/json",
                            status().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"};
      if (path == "/")
        return HttpResponse{200, "text/html; charset=utf-8",
                            "<html><body><h1>ferry</h1><p><a href=\"/metrics\">/metrics</a> (Prometheus) &middot; "
                            "<a href=\"/status\">/status</a> (JSON)</p></body></html>\n"};
      return HttpResponse{404, "text/plain; charset=utf-8", "not found: ferry serves /metrics and /status\n"};
    });
    log::info("metrics: http://{}/metrics and /status", server_->address());
  }
  if (!o_.alert_exec.empty()) alerts_ = std::make_unique<AlertRunner>(o_.alert_exec, o_.alert_timeout_s);
  log::set_observer([this](log::Level, std::string_view message) {
    if (message.rfind("alert ", 0) == 0) return;  // the monitor's own word on it
    std::lock_guard lock(mu_);
    last_error_ = std::string(message);
  });
  clock_ = std::thread([this] {
    std::unique_lock lock(clock_mu_);
    while (!clock_cv_.wait_for(lock, std::chrono::milliseconds(250), [this] { return stopping_; })) {
      lock.unlock();
      tick();
      lock.lock();
    }
  });
}

TaskMonitor::~TaskMonitor() {
  {
    std::lock_guard lock(clock_mu_);
    stopping_ = true;
  }
  clock_cv_.notify_all();
  clock_.join();
  log::set_observer(nullptr);
  alerts_.reset();  // runs what is queued
  server_.reset();
}

void TaskMonitor::set_parts(const std::vector<std::string>& names) {
  std::lock_guard lock(mu_);
  parts_.assign(names.size(), Record{});
  part_objects_.clear();
  for (size_t i = 0; i < names.size(); ++i) {
    parts_[i].name = names[i];
    part_objects_.push_back(std::make_unique<Part>(*this, i));
  }
}

Progress* TaskMonitor::part(size_t i) {
  std::lock_guard lock(mu_);
  return i < part_objects_.size() ? part_objects_[i].get() : nullptr;
}

void TaskMonitor::set_phase(const std::string& phase) {
  std::lock_guard lock(mu_);
  phase_ = phase;
}

std::string TaskMonitor::metrics_address() const { return server_ ? server_->address() : std::string(); }

void TaskMonitor::update(size_t i, const PartStatus& s) {
  std::lock_guard lock(mu_);
  if (i >= parts_.size() || finished_) return;
  apply(parts_[i], s, false);
  draw_line();
}

void TaskMonitor::apply(Record& r, const PartStatus& s, bool whole) {
  const auto now = Clock::now();
  const bool new_phase = r.phase != s.phase;
  r.phase = std::string(s.phase);
  r.copying = !s.streaming();
  r.done = s.done;
  r.total = s.total;
  r.unit = std::string(s.unit);
  r.bytes = s.bytes;
  r.commands = s.commands;
  if (s.streaming()) {
    r.lag_bytes = s.lag_bytes;
    r.lag_ms = s.lag_ms;
  }
  if (s.source_offset >= 0) r.source_offset = s.source_offset;
  if (s.applied_offset >= 0) r.applied_offset = s.applied_offset;
  r.partial_resyncs = s.partial_resyncs;
  r.full_resyncs = s.full_resyncs;
  r.retries = s.retries;
  if (s.report) {
    r.keys_total = s.report->keys_total;
    r.keys_copied = s.report->copied;
    r.keys_failed = s.report->failed;
    r.target_oom = s.report->oom_refused;
    r.retries += s.report->routing.retried;
    r.stopped_because = s.report->stopped_because;
  }
  if (s.stream) {
    r.commands = s.stream->commands;
    r.stream_errors = s.stream->errors;
    r.target_oom += s.stream->oom_refused;
    // The names are copied a few times a second at most (the AOF import reports per 4096 commands).
    if (whole || new_phase || now - r.per_command_copied >= std::chrono::milliseconds(200)) {
      r.per_command = s.stream->per_command;
      r.per_command_copied = now;
    }
  }
  r.updated = now;
}

void TaskMonitor::part_done(size_t i) {
  std::lock_guard lock(mu_);
  if (i < parts_.size()) parts_[i].copying = false;
  if (!line_) return;
  for (const auto& r : parts_)
    if (r.copying) return;
  line_->done();
}

// One line for every part: while any part copies, the copies added up; then the streams (commands
// and bytes behind added up, the largest lag in ms).
void TaskMonitor::draw_line() {
  if (!line_) return;
  PartStatus sum;
  bool copying = false;
  for (const auto& r : parts_)
    if (r.copying && r.phase != "starting") {
      if (!copying) {
        sum.phase = r.phase;
        sum.unit = r.unit;
      }
      copying = true;
      sum.done += r.done;
      sum.total += r.total;
      sum.bytes += r.bytes;
    }
  if (!copying) {
    sum.phase = "stream";
    sum.lag_bytes = 0;
    for (const auto& r : parts_) {
      sum.commands += r.commands;
      sum.lag_bytes = sum.lag_bytes < 0 || r.lag_bytes < 0 ? -1 : sum.lag_bytes + r.lag_bytes;
      if (r.lag_ms) sum.lag_ms = std::max(sum.lag_ms.value_or(0), *r.lag_ms);
    }
  }
  line_->update(sum);
}

long long TaskMonitor::effective_lag_ms(const Record& r, Clock::time_point now) const {
  if (r.phase != "stream" || finished_) return r.lag_ms.value_or(-1);
  const auto silent = now - r.updated;
  if (silent < kSilent) return r.lag_ms.value_or(-1);
  return r.lag_ms.value_or(0) + std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
}

std::string TaskMonitor::task_phase() const {
  if (finished_) return phase_;
  std::string streaming;
  for (const auto& r : parts_) {
    if (r.phase == "starting") continue;
    if (r.phase != "stream") return r.phase;  // a part still copies
    streaming = r.phase;
  }
  return streaming.empty() ? phase_ : streaming;
}

std::string TaskMonitor::command_label(const std::string& name) const {
  if (command_labels_.count(name)) return name;
  bool word = !name.empty() && name.size() <= 40;
  for (char c : name)
    word = word && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '|' || c == '-');
  if (!word || command_labels_.size() >= kMaxCommandLabels) return "other";
  command_labels_.insert(name);
  return name;
}

void TaskMonitor::tick() {
  const auto now = Clock::now();
  std::vector<std::pair<std::string, nlohmann::json>> events;
  std::string log_line;
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    const std::string phase = task_phase();
    // The periodic log line.
    const double since_log = std::chrono::duration<double>(now - last_log_).count();
    if (o_.log_every_s > 0 && since_log >= o_.log_every_s) {
      uint64_t commands = 0, done = 0, total = 0, keys = 0;
      long long lag_bytes = 0, lag_ms = -1;
      std::string unit;
      for (const auto& r : parts_) {
        commands += r.commands;
        keys += r.keys_copied;
        if (r.copying) {
          done += r.done;
          total += r.total;
          unit = r.unit;
        }
        lag_bytes = lag_bytes < 0 || r.lag_bytes < 0 ? -1 : lag_bytes + r.lag_bytes;
        lag_ms = std::max(lag_ms, effective_lag_ms(r, now));
      }
      if (phase == "stream") {
        log_line = fmt::format("stream: {} commands applied, {:.0f}/s over the last {:.0f} s; lag {}, {} behind",
                               commands, (commands - std::min(commands, logged_commands_)) / since_log, since_log,
                               lag_ms >= 0 ? lag_text(lag_ms) : std::string("unknown"),
                               lag_bytes >= 0 ? fmt::format("{} bytes", lag_bytes) : std::string("? bytes"));
      } else if (phase == "scan" || phase == "rdb" || phase == "aof" || phase == "snapshot") {
        log_line = fmt::format("{}: {} of {} {}{}, {} keys written, {:.0f} {}/s over the last {:.0f} s", phase, done,
                               total ? std::to_string(total) : std::string("?"), unit,
                               total ? fmt::format(" ({:.1f}%)", 100.0 * std::min(done, total) / total) : "", keys,
                               (done - std::min(done, logged_done_)) / since_log, unit, since_log);
      }
      logged_commands_ = commands;
      logged_done_ = done;
      last_log_ = now;
    }
    // The lag alert: the largest lag of the streaming parts.
    if (o_.alert_lag_ms > 0) {
      long long worst = -1;
      std::string worst_shard;
      for (size_t i = 0; i < parts_.size(); ++i) {
        if (parts_[i].phase != "stream") continue;
        long long lag = effective_lag_ms(parts_[i], now);
        if (lag > worst) {
          worst = lag;
          worst_shard = std::to_string(i);
        }
      }
      nlohmann::json details{{"lag_ms", worst},
                             {"threshold_ms", o_.alert_lag_ms},
                             {"for_seconds", o_.alert_for_s},
                             {"shard", worst_shard}};
      if (worst > o_.alert_lag_ms) {
        if (!lag_above_since_) lag_above_since_ = now;
        if (!lag_high_ && now - *lag_above_since_ >= std::chrono::duration<double>(o_.alert_for_s)) {
          lag_high_ = true;
          details["message"] = fmt::format("lag {} ms above {} ms for {} s (shard {})", worst, o_.alert_lag_ms,
                                           o_.alert_for_s, worst_shard);
          events.emplace_back("lag-high", details);
        }
      } else {
        lag_above_since_.reset();
        if (lag_high_ && worst >= 0) {
          lag_high_ = false;
          details["message"] = fmt::format("lag {} ms, back at or below {} ms", worst, o_.alert_lag_ms);
          events.emplace_back("lag-resolved", details);
        }
      }
    }
  }
  if (!log_line.empty()) log::info("{}", log_line);
  for (auto& [event, details] : events) raise(event, std::move(details));
}

void TaskMonitor::raise(const std::string& event, nlohmann::json details) {
  nlohmann::json e{{"event", event},        {"time", iso_time(std::chrono::system_clock::now())},
                   {"task_id", o_.task_id}, {"mode", o_.mode},
                   {"source", o_.source},   {"target", o_.target}};
  e.update(details);
  const std::string message = details.value("message", "");
  // Without alerts asked for, the task's end is told by the summary and its errors already.
  if (o_.alert_exec.empty() && o_.alert_lag_ms <= 0) return;
  if (event == "task-failed")
    log::error("alert {}: {}", event, message);
  else if (event == "lag-high")
    log::warn("alert {}: {}", event, message);
  else
    log::info("alert {}: {}", event, message);
  if (alerts_) alerts_->post(e);
}

void TaskMonitor::finish(int exit_code, const std::string& reason, const std::vector<PartStatus>& final_parts) {
  uint64_t keys = 0, commands = 0;
  const bool ok = exit_code == static_cast<int>(ExitCode::Ok) || exit_code == static_cast<int>(ExitCode::Warnings);
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    for (size_t i = 0; i < final_parts.size() && i < parts_.size(); ++i) apply(parts_[i], final_parts[i], true);
    finished_ = true;
    exit_code_ = exit_code;
    phase_ = ok ? "finished" : "failed";
    if (!ok && !reason.empty()) last_error_ = reason;
    for (const auto& r : parts_) {
      keys += r.keys_copied;
      commands += r.commands;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::system_clock::now() - started_).count();
  nlohmann::json details{{"exit_code", exit_code}, {"keys_copied", keys}, {"commands", commands}, {"seconds", seconds}};
  if (ok) {
    details["message"] =
        fmt::format("exit {} after {:.1f} s: {} keys copied, {} commands applied", exit_code, seconds, keys, commands);
    raise("task-finished", details);
  } else {
    details["reason"] = reason;
    details["message"] = fmt::format("exit {} after {:.1f} s: {}", exit_code, seconds, reason);
    raise("task-failed", details);
  }
  alerts_.reset();  // the last event's command runs before ferry exits (bounded by --alert-timeout)
}

nlohmann::json TaskMonitor::status() const {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  nlohmann::json shards = nlohmann::json::array();
  uint64_t keys_total = 0, keys = 0, failed = 0, bytes = 0, commands = 0, errors = 0, oom = 0, partial = 0, full = 0,
           retries = 0;
  long long lag_ms = -1, lag_bytes = 0;
  for (size_t i = 0; i < parts_.size(); ++i) {
    const Record& r = parts_[i];
    const long long lag = effective_lag_ms(r, now);
    shards.push_back({{"shard", i},
                      {"source", r.name},
                      {"phase", r.phase},
                      {"progress", {{"done", r.done}, {"total", r.total}, {"unit", r.unit}}},
                      {"keys_total", r.keys_total},
                      {"keys_copied", r.keys_copied},
                      {"keys_failed", r.keys_failed},
                      {"bytes_copied", r.bytes},
                      {"commands", r.commands},
                      {"stream_errors", r.stream_errors},
                      {"target_oom", r.target_oom},
                      {"lag_ms", optional_number(lag)},
                      {"lag_bytes", optional_number(r.lag_bytes)},
                      {"source_offset", optional_number(r.source_offset)},
                      {"applied_offset", optional_number(r.applied_offset)},
                      {"partial_resyncs", r.partial_resyncs},
                      {"full_resyncs", r.full_resyncs},
                      {"retries", r.retries},
                      {"seconds_since_update",
                       r.phase == "starting" ? nlohmann::json()
                                             : nlohmann::json(std::chrono::duration<double>(now - r.updated).count())},
                      {"stopped_because", r.stopped_because}});
    keys_total += r.keys_total;
    keys += r.keys_copied;
    failed += r.keys_failed;
    bytes += r.bytes;
    commands += r.commands;
    errors += r.stream_errors;
    oom += r.target_oom;
    partial += r.partial_resyncs;
    full += r.full_resyncs;
    retries += r.retries;
    lag_ms = std::max(lag_ms, lag);
    lag_bytes = lag_bytes < 0 || r.lag_bytes < 0 ? -1 : lag_bytes + r.lag_bytes;
  }
  const std::string phase = task_phase();
  return {{"ferry", kVersion},
          {"task",
           {{"id", o_.task_id},
            {"mode", o_.mode},
            {"source", o_.source},
            {"target", o_.target},
            {"started", iso_time(started_)},
            {"uptime_seconds", std::chrono::duration<double>(std::chrono::system_clock::now() - started_).count()},
            {"state", !finished_ ? "running" : phase},
            {"phase", phase},
            {"exit_code", finished_ ? nlohmann::json(exit_code_) : nlohmann::json()},
            {"last_error", last_error_}}},
          {"totals",
           {{"keys_total", keys_total},
            {"keys_copied", keys},
            {"keys_failed", failed},
            {"bytes_copied", bytes},
            {"commands", commands},
            {"stream_errors", errors},
            {"target_oom", oom},
            {"partial_resyncs", partial},
            {"full_resyncs", full},
            {"retries", retries},
            {"lag_ms", optional_number(lag_ms)},
            {"lag_bytes", phase == "stream" ? optional_number(lag_bytes) : nlohmann::json()}}},
          {"alerts", {{"lag_high", lag_high_}, {"lag_threshold_ms", o_.alert_lag_ms}, {"for_seconds", o_.alert_for_s}}},
          {"shards", shards}};
}

std::string TaskMonitor::metrics() const {
  nlohmann::json s = status();  // one consistent reading
  std::map<std::string, uint64_t> per_command;
  {
    std::lock_guard lock(mu_);
    for (const auto& r : parts_)
      for (const auto& [name, n] : r.per_command) per_command[command_label(name)] += n;
  }
  fmt::memory_buffer out;
  auto family = [&](const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  auto sample = [&](const char* name, const std::string& labels, const nlohmann::json& v) {
    if (v.is_null()) return;
    std::string value = v.is_number_float() ? fmt::format("{}", v.get<double>()) : v.dump();
    if (v.is_boolean()) value = v.get<bool>() ? "1" : "0";
    fmt::format_to(std::back_inserter(out), "{}{} {}\n", name, labels.empty() ? "" : "{" + labels + "}", value);
  };
  // A metric with one sample and no labels.
  auto single = [&](const char* name, const char* type, const char* help, const nlohmann::json& v) {
    family(name, type, help);
    sample(name, "", v);
  };
  const auto& task = s["task"];
  const auto& totals = s["totals"];
  single("ferry_up", "gauge", "1 while the ferry task serves metrics.", 1);
  family("ferry_task_info", "gauge", "The task: its mode, id, source and target (no credentials).");
  sample("ferry_task_info",
         fmt::format("mode=\"{}\",task_id=\"{}\",source=\"{}\",target=\"{}\"", label(o_.mode), label(o_.task_id),
                     label(o_.source), label(o_.target)),
         1);
  single("ferry_start_time_seconds", "gauge", "When the task started, in Unix seconds.",
         std::chrono::duration_cast<std::chrono::seconds>(started_.time_since_epoch()).count());
  family("ferry_phase", "gauge", "1 for the phase the task is in, 0 for the others.");
  for (const auto& p : phase_names()) sample("ferry_phase", fmt::format("phase=\"{}\"", p), task["phase"] == p ? 1 : 0);
  single("ferry_exit_code", "gauge", "The task's exit code once it ended (the README's table).", task["exit_code"]);
  single("ferry_source_keys", "gauge", "Keys in the selected DBs of the source when the copy started.",
         totals["keys_total"]);
  single("ferry_keys_copied_total", "counter",
         "Keys written to the target by the full copy (and RESTOREs of the stream).", totals["keys_copied"]);
  single("ferry_keys_failed_total", "counter", "Keys the target refused.", totals["keys_failed"]);
  single("ferry_bytes_copied_total", "counter", "Payload bytes the full copy moved.", totals["bytes_copied"]);
  family("ferry_stream_commands_total", "counter", "Commands of the stream applied to the target, by command.");
  for (const auto& [name, n] : per_command)
    sample("ferry_stream_commands_total", fmt::format("command=\"{}\"", label(name)), n);
  single("ferry_stream_errors_total", "counter", "Commands of the stream the target answered with an error.",
         totals["stream_errors"]);
  single("ferry_target_oom_total", "counter", "Writes the target refused for lack of memory (OOM).",
         totals["target_oom"]);
  single("ferry_partial_resyncs_total", "counter", "Times a broken replication link resumed by partial resync.",
         totals["partial_resyncs"]);
  single("ferry_full_resyncs_total", "counter", "Times a snapshot was applied again (the backlog did not cover a gap).",
         totals["full_resyncs"]);
  single("ferry_retries_total", "counter",
         "Reconnection attempts and cluster retries (TRYAGAIN, CLUSTERDOWN) waited out.", totals["retries"]);
  single("ferry_alert_lag_high", "gauge", "1 while the lag-high alert is raised.", s["alerts"]["lag_high"]);
  family("ferry_shard_info", "gauge", "Each part of the task (one, or a shard of a cluster source) and what it reads.");
  for (const auto& p : s["shards"])
    sample("ferry_shard_info",
           fmt::format("shard=\"{}\",source=\"{}\"", p["shard"].get<size_t>(), label(p["source"].get<std::string>())),
           1);
  auto per_shard = [&](const char* name, const char* type, const char* help,
                       const std::function<nlohmann::json(const nlohmann::json&)>& value) {
    family(name, type, help);
    for (const auto& p : s["shards"]) sample(name, fmt::format("shard=\"{}\"", p["shard"].get<size_t>()), value(p));
  };
  per_shard("ferry_copy_progress_ratio", "gauge", "How far the shard's full copy is (0 to 1), while it copies.",
            [](const nlohmann::json& p) {
              const auto& g = p["progress"];
              if (p["phase"] == "stream" || p["phase"] == "starting" || g["total"].get<uint64_t>() == 0)
                return nlohmann::json();
              return nlohmann::json(
                  std::min(1.0, static_cast<double>(g["done"].get<uint64_t>()) / g["total"].get<uint64_t>()));
            });
  per_shard("ferry_lag_bytes", "gauge", "Bytes of the source's replication stream the target does not hold yet.",
            [](const nlohmann::json& p) { return p["phase"] == "stream" ? p["lag_bytes"] : nlohmann::json(); });
  per_shard("ferry_lag_seconds", "gauge",
            "Now minus the source time of the newest write the target holds (0 when level), growing while the shard is "
            "stuck.",
            [](const nlohmann::json& p) {
              return p["lag_ms"].is_null() ? nlohmann::json() : nlohmann::json(p["lag_ms"].get<long long>() / 1000.0);
            });
  per_shard("ferry_source_offset", "gauge", "The source's replication offset as last read.",
            [](const nlohmann::json& p) { return p["source_offset"]; });
  per_shard("ferry_applied_offset", "gauge", "The replication offset up to which the target holds the stream.",
            [](const nlohmann::json& p) { return p["applied_offset"]; });
  per_shard("ferry_seconds_since_update", "gauge", "Seconds since the shard last reported (about 1 while it streams).",
            [](const nlohmann::json& p) { return p["seconds_since_update"]; });
  return fmt::to_string(out);
}

}  // namespace ferry
