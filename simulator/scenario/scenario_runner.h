// Runs one scenario end to end: start the servers, fill the dataset, start ferry (the real binary,
// with the scenario's task as a task file), write the seeded load while the timeline's faults and
// events happen, stop writes, wait for ferry to catch up, stop it, validate with `ferry verify`'s
// engine, check the expectations, tear everything down. Everything it writes goes to its own
// directory: ferry's output and report, the op log, the validator's report, and on a failure the
// servers' logs.
#pragma once

#include "scenario/scenario_result.h"
#include "scenario/scenario_spec.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace ferry::sim {

struct RunnerOptions {
  std::string ferry_binary = "build/ferry";
  std::string ferry_version;  // as `ferry --version` says it, for the report
  std::string out_dir;  // this run of this scenario
  uint64_t seed = 1;
};

ScenarioResult run_scenario(const ScenarioSpec& spec, const RunnerOptions& options);

}  // namespace ferry::sim
