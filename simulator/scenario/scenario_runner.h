// Runs one scenario end to end: start the servers, fill the dataset, start ferry (the real binary,
// with the scenario's task as a task file), write the seeded load while the timeline's faults and
// events happen, stop writes, wait for ferry to catch up, stop it, validate with `ferry verify`'s
// engine, check the expectations, tear everything down. Everything it writes goes to its own
// directory: ferry's output and report, the op log, the validator's report, and on a failure the
// servers' logs.
#pragma once

#include "scenario/scenario_spec.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::sim {

struct RunnerOptions {
  std::string ferry_binary = "build/ferry";
  std::string out_dir;  // this run of this scenario
  uint64_t seed = 1;
};

struct TimelineSample {
  double t = 0;               // seconds since the load started (negative: before)
  double ops_per_sec = 0;     // the source's commands per second
  long long lag_bytes = -1;   // source offset minus ferry's acknowledged offset (-1: no replica)
  long long target_memory = 0;
};

struct ScenarioResult {
  std::string name, file, description;
  uint64_t seed = 0;
  bool passed = false;
  std::string skipped;  // why it did not run (a server version not fetched): counts as passed
  std::vector<std::string> failures;
  std::string repro;  // the command that runs it again with this seed
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

ScenarioResult run_scenario(const ScenarioSpec& spec, const RunnerOptions& options);

}  // namespace ferry::sim
