#include "bench_command.h"

#include "bench_runner.h"
#include "common_options.h"
#include "core/error.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct BenchCli {
  bench::BenchOptions options;
  std::string report;
  std::vector<std::string> skip;
};

int run_bench(BenchCli& b) {
  if (b.options.ferry.empty()) b.options.ferry = self_path();
  for (const auto& s : b.skip) {
    if (s == "scan") b.options.scan = false;
    else if (s == "incremental") b.options.incremental = false;
    else if (s == "verify") b.options.verify = false;
    else if (s == "aof") b.options.aof = false;
    else if (s == "tls") b.options.tls = false;
    else if (s == "cluster") b.options.cluster = false;
    else if (s == "source-shards") b.options.source_shards.clear();
  }
  auto j = bench::run_bench(b.options, std::cout);
  if (!b.report.empty()) {
    std::ofstream out(b.report);
    if (!(out << j.dump(2) << "\n")) throw FerryError(ExitCode::Usage, fmt::format("cannot write the report '{}'", b.report));
  }
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app, std::function<int()>& run) {
  auto b = std::make_shared<BenchCli>();
  auto* cmd = app.add_subcommand(
      "bench", "Measure ferry against Redis's own replication on this machine: full sync vs snapshot, scan vs a naive "
               "redis-cli pipeline, verify, incremental lag, peak memory (starts its own servers)");
  cmd->add_option("--dataset", b->options.dataset, "small-strings, mixed (every type, expiries) or big-keys")
      ->capture_default_str()
      ->check(CLI::IsMember({"small-strings", "mixed", "big-keys"}));
  cmd->add_option("--keys", b->options.keys,
                  "Keys (small-strings: default 1,000,000; mixed: 300,000) or elements per big key (default 3,000,000)");
  cmd->add_option("--runs", b->options.runs, "Runs of each timed copy (the median is reported)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--load-requests", b->options.load_requests, "Requests of the incremental phase's redis-benchmark load")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--report", b->report, "Also write the results as JSON to this file");
  cmd->add_option("--skip", b->skip, "Phases to leave out: scan, incremental, verify, aof (the source's AOF imported, "
                                     "against redis-server loading it), tls (the snapshot over TLS against plain), cluster (snapshot and sync into a "
                                     "3-master cluster), source-shards (a cluster source of 1, 3 and 6 shards)")
      ->check(CLI::IsMember({"scan", "incremental", "verify", "aof", "tls", "cluster", "source-shards"}));
  cmd->add_option("--ferry", b->options.ferry, "The ferry binary to measure (default: this one)");
  cmd->callback([&run, b] { run = [b] { return run_bench(*b); }; });
}

}  // namespace ferry::cli
