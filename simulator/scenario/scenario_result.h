// What one scenario run found: the small header the report writers (reports/) and the runner share,
// so the writers depend on the result and not on how it was produced.
#pragma once

#include "scenario/scenario_spec.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::sim {

struct TimelineSample {
  double t = 0;               // seconds since the load started (negative: before)
  double ops_per_sec = 0;     // the source's commands per second
  // ferry's own lag as its /status gives it while it streams (-1: not streaming, or not answering):
  // bytes of the stream the target does not hold yet, every shard's added up; and now minus the
  // source time of the newest write the target holds, the largest of the shards'.
  long long lag_bytes = -1;
  double lag_ms = -1;
  long long target_memory = 0;
};

struct ScenarioResult {
  std::string name, file, description;
  uint64_t seed = 0;
  bool passed = false;
  std::string skipped;  // why it did not run (a server version not fetched): counts as passed
  std::vector<std::string> failures;
  std::string repro;  // the command that runs it again with this seed
  std::string ferry_version;  // `ferry --version` of the binary that ran
  int ferry_exit = -1;
  double seconds = 0;
  std::string out_dir;
  nlohmann::json task_report;    // ferry migrate --report (null when it wrote none)
  nlohmann::json verify_report;  // the validator's report (null when not run)
  nlohmann::json load;           // commands sent, error replies
  std::vector<TimelineSample> samples;
  std::vector<TimelineEvent> timeline;
  nlohmann::json to_json() const;
};

}  // namespace ferry::sim
