// The reports of a scenario run, written into its report directory: run.json (everything),
// junit.xml (one testcase per scenario), and report.html (one self-contained page, viewable
// offline: a summary table, and per scenario a timeline drawn as inline SVG, with throughput, lag,
// target memory, faults as bands and events as marks, then divergence counts per cause and samples).
#pragma once

#include "scenario/scenario_result.h"

#include <fstream>
#include <string>
#include <vector>

namespace ferry::reports {

struct RunInfo {
  std::string command;     // how the run was started
  std::string ferry_version;
  std::string started_at;  // ISO 8601, UTC
  double seconds = 0;
};

void write_run_json(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results);
void write_junit(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results);
// The page a person opens after a nightly run: a summary, then per scenario its outcome, how to
// reproduce it, links to its files, one chart per series over one time axis (faults and actions
// marked across them), the migration's counts and lag percentiles, and the validation.
void write_html(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results);

// Shared by the writers.
std::ofstream open_for_writing(const std::string& path);
std::string cause_counts(const sim::ScenarioResult& r);

}  // namespace ferry::reports
