// The reports of a scenario run, written into its report directory: run.json (everything),
// junit.xml (one testcase per scenario), and report.html (one self-contained page, viewable
// offline: a summary table, and per scenario a timeline drawn as inline SVG, with throughput, lag,
// target memory, faults as bands and events as marks, then divergence counts per cause and samples).
#pragma once

#include "scenario/scenario_result.h"

#include <string>
#include <vector>

namespace ferry::reports {

struct RunInfo {
  std::string command;     // how the run was started
  std::string started_at;  // ISO 8601, UTC
  double seconds = 0;
};

void write_run_json(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results);
void write_junit(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results);
void write_html(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results);

}  // namespace ferry::reports
