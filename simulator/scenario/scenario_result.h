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
  long long lag_bytes = -1;   // source offset minus ferry's acknowledged offset (-1: no replica)
  // Now minus when the source first held a write ferry has not acknowledged (0: level, -1: no
  // replica). ferry acknowledges once a second, so this is an upper bound by up to that second.
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
