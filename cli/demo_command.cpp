#include "demo_command.h"

#include "common_options.h"
#include "core/log.h"
#include "process/redis_server.h"
#include "scan/scan_copier.h"
#include "task/progress.h"
#include "verify/dataset_comparison.h"
#include "workload/mixed_dataset.h"

#include <fmt/format.h>

#include <chrono>
#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct DemoOptions {
  LogOptions log;
  uint64_t seed = 1;
  size_t keys_per_db = 3000;
  bool big_keys = true;
  std::string report_path;
  std::string redis_server;
};

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

  CopyOptions copy;
  copy.progress = ProgressMeter::stderr_is_tty();
  ScanCopier copier(*source, *target, copy);
  MigrationReport report = copier.run();
  std::cout << report.summary_text();
  if (!o.report_path.empty()) report.write_json(o.report_path);

  ComparisonResult check = compare_datasets(*source, *target);
  fmt::print("ferry demo: check: {}\n", check.summary());
  bool ok = report.complete && check.equal() && check.source_digest == check.target_digest;
  fmt::print("ferry demo: {}\n", ok ? "PASS: the target is an exact copy (DEBUG DIGEST, every value and absolute expiry)"
                                    : "FAIL: the copy differs (see above)");
  fmt::print("\nTo migrate your own servers:\n  build/ferry migrate --mode scan --source redis://HOST:PORT "
             "--target redis://HOST:PORT\n");
  return static_cast<int>(ok ? ExitCode::Ok : ExitCode::Failed);
}

}  // namespace

void add_demo_command(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<DemoOptions>();
  auto* cmd = app.add_subcommand("demo",
                                 "Start a source and a target redis-server on loopback, fill the source with a mixed "
                                 "dataset, migrate it by scan, verify and print a summary");
  o->log.add_to(*cmd);
  cmd->add_option("--seed", o->seed, "Seed of the generated dataset")->capture_default_str();
  cmd->add_option("--keys-per-db", o->keys_per_db, "Keys generated in each of DBs 0, 1, 5")->capture_default_str();
  cmd->add_option("--big-keys", o->big_keys, "Add a 500,000-element list and a 12 MB string (copied through the chunked path)")
      ->capture_default_str();
  cmd->add_option("--report", o->report_path, "Write the migration summary as JSON to this file");
  cmd->add_option("--redis-server", o->redis_server,
                  "redis-server binary to run (default: $FERRY_REDIS_SERVER, else redis-server from PATH)");
  cmd->callback([&run, o] { run = [o] { return run_demo(*o); }; });
}

}  // namespace ferry::cli
