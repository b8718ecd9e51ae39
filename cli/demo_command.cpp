#include "demo_command.h"

#include "common_options.h"
#include "core/log.h"
#include "core/version.h"
#include "process/redis_server.h"
#include "reports/run_report.h"
#include "scenario/scenario_runner.h"
#include "task/run_task.h"
#include "verify/dataset_comparison.h"
#include "workload/mixed_dataset.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

// The demo's representative scenario: a live sync of every command under faults, validated.
const char* kDemoScenario = R"(name = "demo-live-sync-under-faults"
description = """A live migration (snapshot, then every write) of a mixed dataset under a write load of every
command, through a link that is slowed, cut in the middle of the snapshot and again mid-stream, held and
sliced. Validated in rounds by ferry verify."""
seed = 7
[dataset]
keys = 4000
dbs = [0, 1]
big = true
[workload]
rate = 1500
duration = 4
dbs = [0, 1]
[[timeline]]
at = 0
fault = "reset:after-psync-bytes=100000"
[[timeline]]
at = 1000
fault = "latency:ms=25,jitter=10,for=800"
[[timeline]]
at = 1800
fault = "reset"
[[timeline]]
at = 2500
fault = "blackhole:for=600"
[[timeline]]
at = 3200
fault = "slicer:size=16,dir=down,for=500"
[task]
mode = "sync"
[validate]
rounds = 3
interval = 1
[expect]
exit_code = 0
may = ["expired"]
)";

struct DemoOptions {
  LogFlags log;
  uint64_t seed = 1;
  size_t keys_per_db = 3000;
  bool big_keys = true;
  std::string report_path;
  std::string redis_server;
  std::string report_dir = "ferry-demo-report";
};

// Part two: the scenario, with its HTML report.
bool run_demo_scenario(const DemoOptions& o) {
  if (!o.redis_server.empty()) ::setenv("FERRY_REDIS_SERVER", o.redis_server.c_str(), 1);  // for the scenario's servers
  if (std::filesystem::exists(o.report_dir + "/report.html"))
    fmt::print("ferry demo: replacing the previous demo's report in {}\n", o.report_dir);
  std::filesystem::create_directories(o.report_dir);
  std::string file = o.report_dir + "/demo-scenario.toml";
  std::ofstream(file) << kDemoScenario;
  sim::ScenarioSpec spec = sim::load_scenario(file);
  sim::RunnerOptions ro;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  ro.ferry_binary = ec ? "build/ferry" : self.string();
  ro.seed = spec.seed;
  ro.ferry_version = kVersion;
  ro.out_dir = o.report_dir + "/" + spec.name;
  fmt::print("\nferry demo: scenario '{}': a live sync under a write load of every command, with the link slowed, cut, "
             "held and sliced ...\n",
             spec.name);
  auto started = std::chrono::steady_clock::now();
  std::vector<sim::ScenarioResult> results{sim::run_scenario(spec, ro)};
  const auto& r = results.front();
  reports::RunInfo info{"ferry demo", kVersion, "", std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
  reports::write_run_json(o.report_dir + "/run.json", info, results);
  reports::write_junit(o.report_dir + "/junit.xml", info, results);
  reports::write_html(o.report_dir + "/report.html", info, results);
  if (r.task_report.is_object())
    fmt::print("ferry demo: {} commands written during the migration; ferry applied {} from the stream, with {} partial "
               "resyncs and {} full resyncs\n",
               r.load.value("commands", 0), r.task_report["stream"].value("commands", 0), r.task_report.value("partial_resyncs", 0),
               r.task_report.value("full_resyncs", 0));
  if (r.verify_report.is_object())
    fmt::print("ferry demo: ferry verify compared {} keys: {} divergences, {} unexplained\n",
               r.verify_report["summary"]["keys_compared"].dump(), r.verify_report["summary"]["divergences"].dump(),
               r.verify_report["summary"]["unexplained"].dump());
  for (const auto& f : r.failures) fmt::print("  {}\n", f);
  fmt::print("ferry demo: scenario {}; report: {}/report.html\n", r.passed ? "PASS" : "FAIL", o.report_dir);
  return r.passed;
}

int run_demo(const DemoOptions& o) {
  o.log.apply();
  sim::RedisServerOptions server_options;
  server_options.binary = o.redis_server;
  sim::RedisServer source_server(server_options), target_server(server_options);
  fmt::print("ferry demo: source redis-server on 127.0.0.1:{} (pid {}), target on 127.0.0.1:{} (pid {})\n",
             source_server.port(), source_server.pid(), target_server.port(), target_server.pid());

  auto source = Connection::open(source_server.endpoint("source"));
  auto target = Connection::open(target_server.endpoint("target"));

  sim::MixedDatasetOptions fill;
  fill.seed = o.seed;
  fill.keys_per_db = o.keys_per_db;
  auto stats = sim::fill_mixed_dataset(*source, fill);
  if (o.big_keys) {  // two keys past the big-key threshold, copied in chunks
    source->select(0);
    Pipeline pipe(*source);
    for (int i = 0; i < 500; ++i) {
      Args push{"RPUSH", "demo:big:list"};
      for (int j = 0; j < 1000; ++j) push.push_back(fmt::format("element:{}", i * 1000 + j));
      pipe.send(push);
    }
    pipe.send({"SET", "demo:big:string", std::string(12 << 20, 'x')});
    pipe.send({"SETRANGE", "demo:big:string", "1000", "ferry"});
    pipe.send({"PEXPIREAT", "demo:big:list", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                std::chrono::system_clock::now().time_since_epoch())
                                                                .count() + 7200123)});
    pipe.drain();
    stats.keys += 2;
  }
  fmt::print("ferry demo: filled the source with {} keys ({} with an expiry, {} streams) in DBs 0, 1, 5 (seed {})\n",
             stats.keys, stats.expiring, stats.streams, o.seed);

  // The same task `ferry migrate --mode scan` runs, with its precheck.
  TaskConfig task;
  task.mode = "scan";
  task.source.uri = source_server.uri();
  task.target.uri = target_server.uri();
  task.report_path = o.report_path;
  task.accept_warnings = true;
  std::unique_ptr<TerminalProgress> progress;
  if (TerminalProgress::stderr_is_tty()) progress = std::make_unique<TerminalProgress>();
  TaskResult result = run_task(task, TaskHooks{nullptr, progress.get()});
  std::cout << result.summary_text();
  const MigrationReport& report = result.migration();

  ComparisonResult check = compare_datasets(*source, *target);
  fmt::print("ferry demo: check: {}\n", check.summary());
  bool ok = report.complete && check.equal() && check.source_digest == check.target_digest;
  fmt::print("ferry demo: {}\n", ok ? "PASS: the target is an exact copy (DEBUG DIGEST, every value and absolute expiry)"
                                    : "FAIL: the copy differs (see above)");
  source_server.stop();
  target_server.stop();
  bool scenario_ok = run_demo_scenario(o);
  fmt::print("\nTo migrate your own servers:\n  build/ferry precheck --source redis://HOST:PORT --target redis://HOST:PORT\n"
             "  build/ferry migrate --mode sync --until-caught-up --source redis://HOST:PORT --target redis://HOST:PORT "
             "--report task.json\n  build/ferry verify --source redis://HOST:PORT --target redis://HOST:PORT "
             "--task-report task.json\n");
  return static_cast<int>(ok && scenario_ok ? ExitCode::Ok : ExitCode::Failed);
}

}  // namespace

void add_demo_command(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo",
                                 "Start a source and a target redis-server on loopback, fill the source with a mixed "
                                 "dataset, migrate it by scan and check the copy is exact; then run a short scenario (a live "
                                 "sync under a write load and network faults, validated) and write its HTML report");
  o->log.add_to(*cmd);
  cmd->add_option("--seed", o->seed, "Seed of the generated dataset")->capture_default_str();
  cmd->add_option("--keys-per-db", o->keys_per_db, "Keys generated in each of DBs 0, 1, 5")->capture_default_str();
  cmd->add_option("--big-keys", o->big_keys, "Add a 500,000-element list and a 12 MB string (copied through the chunked path)")
      ->capture_default_str();
  cmd->add_option("--report", o->report_path, "Write the migration summary as JSON to this file");
  cmd->add_option("--report-dir", o->report_dir, "Where the scenario's reports go (report.html, run.json, junit.xml)")
      ->capture_default_str();
  cmd->add_option("--redis-server", o->redis_server,
                  "redis-server binary to run (default: $FERRY_REDIS_SERVER, else redis-server from PATH)");
  cmd->callback([&run, o] { run = [o] { return run_demo(*o); }; });
}

}  // namespace ferry::cli
