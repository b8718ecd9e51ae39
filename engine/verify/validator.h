// `ferry verify`: compares a source and a target in both directions, in rounds. Round 1 compares
// every key of the selected DBs (source keys by SCAN, then the target's keys the source lacks);
// each later round, after an interval, rechecks only the keys that differed, so writes in flight
// do not count. What still differs after the last round is explained (DivergenceExplainer): the
// counts are complete, the samples bounded. Keys that differ between rounds wait in a DiskKeySet,
// so memory stays bounded however many there are.
#pragma once

#include "redis/connection.h"
#include "task/progress.h"
#include "verify/divergence.h"
#include "verify/key_compare.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace ferry {

struct VerifyOptions {
  std::vector<int> dbs;  // source DBs; empty: every DB non-empty on either side
  DbMap db_map;
  KeyCompareOptions compare;
  int rounds = 3;
  double interval_seconds = 5;
  size_t max_samples = 1000;
  bool strict = false;
  TaskContext task;
  size_t scan_count = 1000;
  size_t batch = 1000;            // keys compared per pipelined batch
  std::string work_dir = "/tmp";  // where keys wait between rounds
  Progress* progress = nullptr;  // where the progress line goes (none: silent)
  Timeouts timeouts;
};

struct VerifyReport {
  std::string source, target;
  std::vector<int> dbs;
  std::string compare_level;
  uint64_t keys_compared = 0;                 // round 1, both directions
  uint64_t filtered = 0;                      // source keys the task's filters leave out: not compared
  std::vector<uint64_t> differing_per_round;  // keys still differing after each round
  uint64_t divergences = 0;
  std::map<std::string, uint64_t> by_cause;
  std::vector<Divergence> samples;            // at most max_samples
  uint64_t not_reproducible = 0;              // group entries-read differences: not divergences
  // The source watched from the task's cutover offset: keys written after it are `after-cutover`.
  bool cutover_watched = false;
  long long cutover_offset = -1;
  uint64_t cutover_keys = 0;        // keys written on the source since
  std::string cutover_not_watched;  // why not (the backlog moved on ...), when a task report asked for it
  std::vector<std::string> not_reproducible_samples;
  double seconds = 0;
  bool strict = false;

  uint64_t unexplained() const;
  int exit_code() const;  // 0 none unexplained (--strict: none at all), 1 otherwise
  nlohmann::json to_json() const;
  std::string to_table() const;
};

// Throws FerryError(Connection) when a server cannot be reached or authenticated.
VerifyReport run_verify(const Endpoint& source, const Endpoint& target, const VerifyOptions& options);

}  // namespace ferry
