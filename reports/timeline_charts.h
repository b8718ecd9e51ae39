// A scenario's timeline as small multiples: one chart per series, each with its own y axis labelled
// with its unit, all on one time axis, with the run's faults drawn as bands and its actions as
// marks across every chart. Inline SVG: the report stays one file that opens offline.
#pragma once

#include "scenario/scenario_spec.h"

#include <string>
#include <utility>
#include <vector>

namespace ferry::reports {

struct Series {
  std::string title;  // "source writes"
  std::string unit;   // "ops/s"
  std::string color;
  std::vector<std::pair<double, double>> points;  // (seconds since the load started, value); value < 0: no sample
};

// The charts, stacked; t_min/t_max bound the shared time axis (seconds).
std::string timeline_charts(const std::vector<Series>& series, const std::vector<sim::TimelineEvent>& timeline,
                            double t_min, double t_max);

// 12345 -> "12.3k", 0.5 -> "0.5": axis labels.
std::string short_number(double v);

}  // namespace ferry::reports
