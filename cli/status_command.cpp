#include "status_command.h"

#include "common_options.h"
#include "core/error.h"
#include "task/metrics_http.h"
#include "task/progress.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <thread>

namespace ferry::cli {
namespace {

struct StatusOptions {
  LogFlags log;
  std::string url;
  bool json = false;
  double watch_s = 0;
  double timeout_s = 5;
};

nlohmann::json read_status(const StatusOptions& o) {
  std::string url = o.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() < 7 || url.compare(url.size() - 7, 7, "/status") != 0) url += "/status";
  HttpResponse r = http_get(url, o.timeout_s);
  if (r.status != 200)
    throw FerryError(ExitCode::Connection,
                     fmt::format("{} answered HTTP {}: is it a ferry task's --metrics-listen?", url, r.status));
  try {
    auto j = nlohmann::json::parse(r.body);
    if (!j.contains("task") || !j.contains("shards")) throw std::runtime_error("no task in it");
    return j;
  } catch (const std::exception&) {
    throw FerryError(ExitCode::Connection,
                     fmt::format("{} is not a ferry task's status (is it its --metrics-listen?)", url));
  }
}

std::string number(const nlohmann::json& v, const char* unknown = "?") {
  return v.is_null() ? std::string(unknown) : v.dump();
}

std::string duration(double seconds) {
  auto s = static_cast<long long>(seconds);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string progress_of(const nlohmann::json& shard) {
  const auto& p = shard["progress"];
  const uint64_t done = p.value("done", 0ULL), total = p.value("total", 0ULL);
  if (shard["phase"] == "stream" || shard["phase"] == "starting") return "";
  return total ? fmt::format("{} of {} {} ({:.1f}%)", done, total, p.value("unit", ""),
                             100.0 * std::min(done, total) / total)
               : fmt::format("{} {}", done, p.value("unit", ""));
}

std::string lag_of(const nlohmann::json& lag_ms, const nlohmann::json& lag_bytes) {
  return fmt::format(
      "{}, {} behind", lag_ms.is_null() ? std::string("unknown") : lag_text(lag_ms.get<long long>()),
      lag_bytes.is_null() ? std::string("? bytes") : fmt::format("{} bytes", lag_bytes.get<long long>()));
}

std::string status_text(const nlohmann::json& s) {
  const auto& t = s["task"];
  const auto& n = s["totals"];
  std::string out;
  out += fmt::format("task        {} (mode {}): {}, phase {}, up {}{}\n", t.value("id", ""), t.value("mode", ""),
                     t.value("state", ""), t.value("phase", ""), duration(t.value("uptime_seconds", 0.0)),
                     t["exit_code"].is_null() ? "" : fmt::format(", exit {}", t["exit_code"].get<int>()));
  out += fmt::format("source      {}\n", t.value("source", ""));
  out += fmt::format("target      {}\n", t.value("target", ""));
  if (s["shards"].size() == 1 && !progress_of(s["shards"][0]).empty())
    out += fmt::format("progress    {}\n", progress_of(s["shards"][0]));
  out += fmt::format("keys        {} copied of {}, {} failed, {} bytes\n", number(n["keys_copied"]),
                     number(n["keys_total"]), number(n["keys_failed"]), number(n["bytes_copied"]));
  out += fmt::format("stream      {} commands applied, {} errors, {} refused for OOM\n", number(n["commands"]),
                     number(n["stream_errors"]), number(n["target_oom"]));
  if (t.value("phase", "") == "stream") out += fmt::format("lag         {}\n", lag_of(n["lag_ms"], n["lag_bytes"]));
  out += fmt::format("link        {} partial resyncs, {} full resyncs, {} retries\n", number(n["partial_resyncs"]),
                     number(n["full_resyncs"]), number(n["retries"]));
  const auto& a = s["alerts"];
  if (a.value("lag_threshold_ms", 0LL) > 0)
    out += fmt::format("alert       lag-high {} (above {} ms for {} s)\n",
                       a.value("lag_high", false) ? "RAISED" : "not raised", a.value("lag_threshold_ms", 0LL),
                       a.value("for_seconds", 0.0));
  if (!t.value("last_error", "").empty()) out += fmt::format("last error  {}\n", t.value("last_error", ""));
  if (s["shards"].size() > 1)
    for (const auto& p : s["shards"]) {
      const std::string where = p["phase"] == "stream" ? "lag " + lag_of(p["lag_ms"], p["lag_bytes"]) : progress_of(p);
      out += fmt::format("shard {:<5} {:<28} {:<9} {}\n", p["shard"].get<size_t>(), p.value("source", ""),
                         p.value("phase", ""), where);
    }
  return out;
}

int run_status(const StatusOptions& o) {
  o.log.apply();
  if (o.watch_s <= 0) {
    auto s = read_status(o);
    std::cout << (o.json ? s.dump(2) + "\n" : status_text(s)) << std::flush;
    return 0;
  }
  bool seen = false;
  for (;;) {
    nlohmann::json s;
    try {
      s = read_status(o);
    } catch (const FerryError& e) {
      if (!seen) throw;
      std::cout << fmt::format("\n{}: the task's endpoint is gone (the task ended)\n", o.url) << std::flush;
      return 0;
    }
    seen = true;
    if (o.json)
      std::cout << s.dump() << "\n" << std::flush;
    else
      std::cout << "\033[H\033[2J" << status_text(s) << std::flush;
    std::this_thread::sleep_for(std::chrono::duration<double>(o.watch_s));
  }
}

}  // namespace

void add_status_command(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<StatusOptions>();
  auto* cmd = app.add_subcommand(
      "status",
      "Show a running task's status: its phase, progress, counts, lag and last error, read from the metrics "
      "endpoint it serves (ferry migrate --metrics-listen). Exit 0 when it was read, 4 when nothing answers");
  cmd->add_option("--metrics", o->url, "The task's endpoint: http://HOST:PORT (its /status is read)")->required();
  cmd->add_flag("--json", o->json, "Print the status as JSON (as /status serves it)");
  cmd->add_option("--watch", o->watch_s, "Show it again every this many seconds until the task ends")
      ->check(non_negative());
  cmd->add_option("--timeout", o->timeout_s, "Seconds to wait for the endpoint's answer")
      ->check(positive())
      ->capture_default_str();
  o->log.add_to(*cmd);
  cmd->callback([&run, o] { run = [o] { return run_status(*o); }; });
}

}  // namespace ferry::cli
