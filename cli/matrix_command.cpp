#include "matrix_command.h"

#include "common_options.h"
#include "core/error.h"
#include "scenario/version_matrix.h"

#include <fmt/format.h>

#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct MatrixCliOptions {
  LogFlags log;
  std::vector<std::string> versions = sim::MatrixOptions{}.versions;
  std::vector<std::string> pairs;
  std::vector<std::string> modes = sim::MatrixOptions{}.modes;
  size_t keys = 1500;
  std::string seed = "1";
  int jobs = 1;
  std::string report_dir = "ferry-matrix";
  std::string ferry;
};

int run_matrix_command(const MatrixCliOptions& o) {
  o.log.apply();
  sim::MatrixOptions m;
  m.versions = o.versions;
  for (const auto& pair : o.pairs) {
    auto colon = pair.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == pair.size())
      throw FerryError(ExitCode::Usage, fmt::format("--pairs: '{}' is not SOURCE:TARGET (e.g. redis-6.0:redis-7.0)", pair));
    m.pairs.emplace_back(pair.substr(0, colon), pair.substr(colon + 1));
  }
  m.modes = o.modes;
  m.keys = o.keys;
  m.seed = o.seed == "random" ? random_seed() : std::strtoull(o.seed.c_str(), nullptr, 10);
  m.jobs = o.jobs;
  m.ferry_binary = o.ferry.empty() ? self_path() : o.ferry;
  m.out_dir = o.report_dir;
  sim::MatrixResult r = sim::run_matrix(m);
  std::cout << "\n" << r.table_markdown();
  size_t failed = 0;
  for (const auto& c : r.cells) failed += c.outcome == "failed";
  std::cout << fmt::format("\n{} cells, {} failed; {}/matrix.json and matrix.md (seed {})\n", r.cells.size(), failed,
                           o.report_dir, m.seed);
  return r.passed() ? 0 : 1;
}

}  // namespace

void add_matrix_command(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<MatrixCliOptions>();
  auto* cmd = app.add_subcommand(
      "matrix",
      "Migrations across server versions (Redis 6.0, 7.0, 8.0, Valkey 8) in every mode: each cell starts its servers, "
      "fills a mixed dataset plus the data only newer sources hold, writes (sync), migrates and validates. A cell is "
      "exact, or refused by the precheck naming what the target cannot hold (and then exact with --skip-unsupported "
      "apart from the counted, listed skips). Exit 0 when no cell failed; versions not fetched are skipped");
  o->log.add_to(*cmd);
  cmd->add_option("--versions", o->versions, "Servers crossed (names from tools/fetch-servers; redis-7.0 is the system's)")
      ->delimiter(',')->capture_default_str();
  cmd->add_option("--pairs", o->pairs, "Only these SOURCE:TARGET pairs, comma-separated (instead of --versions x --versions)")
      ->delimiter(',');
  cmd->add_option("--modes", o->modes, "Modes run in each pair (cluster: a 3-master cluster of the source version synced "
                                       "into the target)")
      ->delimiter(',')->check(CLI::IsMember({"scan", "snapshot", "sync", "rdb", "cluster"}))->capture_default_str();
  cmd->add_option("--keys", o->keys, "Keys of the mixed dataset (DBs 0, 1, 5)")->capture_default_str()->check(CLI::Range(size_t{1}, size_t{10'000'000}));
  cmd->add_option("--seed", o->seed, "Seed of the datasets and loads (N or random)")->capture_default_str();
  cmd->add_option("--jobs", o->jobs, "Cells run in parallel (each on its own ports)")->capture_default_str()->check(CLI::Range(1, 16));
  cmd->add_option("--report-dir", o->report_dir, "Where matrix.json, matrix.md and each cell's files go")->capture_default_str();
  cmd->add_option("--ferry", o->ferry, "The ferry binary the cells run (default: this one)");
  cmd->callback([&run, o] { run = [o] { return run_matrix_command(*o); }; });
}

}  // namespace ferry::cli
