// The version matrix: migrations between server versions (Redis 6.0, 7.0, 8.0, Valkey 8), in every
// mode, each cell a generated scenario (a mixed dataset plus the data only newer sources hold, a
// write load in sync mode) run by the scenario runner. A cell is exact, or refused by the precheck
// naming what the target cannot hold (then run again with --skip-unsupported: exact apart from the
// listed, counted skips), or skipped when a version is not fetched; anything else is a failure.
#pragma once

#include "scenario/scenario_runner.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ferry::sim {

struct MatrixOptions {
  // Server names as tools/fetch-servers writes them; "redis-7.0" is the system's redis-server.
  std::vector<std::string> versions{"redis-6.0", "redis-7.0", "redis-8.0", "valkey-8.1"};
  std::vector<std::pair<std::string, std::string>> pairs;  // when set, only these (source, target)
  // "cluster": a 3-master cluster of the source version synced into the target
  std::vector<std::string> modes{"scan", "snapshot", "sync", "rdb", "cluster"};
  size_t keys = 1500;
  uint64_t seed = 1;
  int jobs = 1;
  std::string ferry_binary;
  std::string out_dir;
};

struct MatrixCell {
  std::string source, target, mode;
  std::string outcome;  // exact, refused, skipped, failed
  std::vector<std::string> unsupported;  // kinds the target cannot hold
  long long skipped_unsupported = -1;    // in the --skip-unsupported run
  std::string detail;                    // the precheck's reason, a skip's reason, or the failures
  std::vector<ScenarioResult> runs;
  nlohmann::json to_json() const;
  std::string text() const;  // the table's cell
};

struct MatrixResult {
  std::vector<MatrixCell> cells;
  bool passed() const;
  std::string table_markdown() const;
  nlohmann::json to_json() const;
};

// Kinds of data `source` can hold that `target` cannot ("hash-field-ttl", "vectorset").
std::vector<std::string> unsupported_kinds(const std::string& source, const std::string& target);

MatrixResult run_matrix(const MatrixOptions& options);

}  // namespace ferry::sim
