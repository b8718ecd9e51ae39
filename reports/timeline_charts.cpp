#include "reports/timeline_charts.h"

#include "proxy/fault_spec.h"
#include "reports/html_escape.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ferry::reports {
namespace {

constexpr double kWidth = 900, kLeft = 70, kRight = 12, kChartHeight = 120, kGap = 26, kTop = 24, kAxis = 28;

// The smallest 1-2-5 step that makes at most `ticks` intervals up to `max`.
double nice_step(double max, int ticks) {
  double raw = max / ticks;
  double p = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * p >= raw) return m * p;
  return 10 * p;
}

struct Band {
  double start, end;
  std::string label, title;
};

struct Mark {
  double at;
  std::string label, title;
};

void split_timeline(const std::vector<sim::TimelineEvent>& timeline, double t_min, double t_max, std::vector<Band>& bands,
                    std::vector<Mark>& marks) {
  for (const auto& e : timeline) {
    double start = e.at_ms / 1000.0;
    if (e.fault.empty()) {
      marks.push_back({start, e.action == "target-maxmemory" ? "maxmemory " + e.value : e.action, e.action + " " + e.value});
      continue;
    }
    double end = t_max;
    try {
      auto spec = sim::parse_fault_spec(e.fault);
      start += spec.at_ms / 1000.0;
      if (spec.for_ms > 0) end = std::min(t_max, start + spec.for_ms / 1000.0);
      if (spec.kind == sim::FaultKind::Reset || spec.kind == sim::FaultKind::Close) end = start + (t_max - t_min) / 150;
    } catch (const std::exception&) {
    }
    bands.push_back({start, end, e.fault.substr(0, e.fault.find(':')), e.fault});
  }
}

}  // namespace

std::string short_number(double v) {
  double a = std::fabs(v);
  if (a >= 1e9) return fmt::format("{:.3g}G", v / 1e9);
  if (a >= 1e6) return fmt::format("{:.3g}M", v / 1e6);
  if (a >= 1e3) return fmt::format("{:.3g}k", v / 1e3);
  return fmt::format("{:.3g}", v);
}

std::string timeline_charts(const std::vector<Series>& series, const std::vector<sim::TimelineEvent>& timeline, double t_min,
                            double t_max) {
  if (t_max <= t_min) t_max = t_min + 1;
  const double plot_w = kWidth - kLeft - kRight;
  const double height = kTop + series.size() * (kChartHeight + kGap) + kAxis;
  auto x = [&](double t) { return kLeft + (t - t_min) / (t_max - t_min) * plot_w; };
  std::vector<Band> bands;
  std::vector<Mark> marks;
  split_timeline(timeline, t_min, t_max, bands, marks);

  std::string svg = fmt::format(
      R"(<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" role="img">)",
      kWidth, height);
  svg += fmt::format(R"(<text x="{}" y="14" font-size="11" fill="#555">time in seconds since the write load started; )"
                     R"(<tspan fill="#8a5a00">faults as bands</tspan>, <tspan fill="#c0392b">actions as marks</tspan></text>)",
                     kLeft);
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    const double top = kTop + i * (kChartHeight + kGap) + 14, bottom = top + kChartHeight;
    double max = 0;
    for (const auto& [t, v] : s.points) max = std::max(max, v);
    const double step = nice_step(max > 0 ? max : 1, 4);
    const double y_max = std::ceil((max > 0 ? max : 1) / step) * step;
    auto y = [&](double v) { return bottom - v / y_max * kChartHeight; };
    svg += fmt::format(R"(<g class="chart" data-series="{}">)", escape(s.title));
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="12" font-weight="bold" fill="{}">{} ({})</text>)", kLeft, top - 4,
                       s.color, escape(s.title), escape(s.unit));
    svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#fbfbfb" stroke="#ccc"/>)", kLeft, top, plot_w,
                       kChartHeight);
    for (double v = 0; v <= y_max + step / 2; v += step) {  // the y axis: gridlines with values and unit
      svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#e4e4e4"/>)", kLeft, kLeft + plot_w, y(v), y(v));
      svg += fmt::format(R"(<text x="{}" y="{:.1f}" font-size="10" text-anchor="end" fill="#555">{} {}</text>)", kLeft - 4,
                         y(v) + 3, short_number(v), escape(s.unit));
    }
    for (const auto& b : bands)
      svg += fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="#e8a33d" fill-opacity="0.22"><title>{}</title></rect>)",
                         x(b.start), top, std::max(1.5, x(b.end) - x(b.start)), kChartHeight, escape(b.title));
    for (const auto& m : marks)
      svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" stroke="#c0392b" stroke-width="1.5"><title>{3}</title></line>)",
                         x(m.at), top, bottom, escape(m.title));
    std::string points;
    for (const auto& [t, v] : s.points)
      if (v >= 0) points += fmt::format("{:.1f},{:.1f} ", x(t), y(v));
    if (!points.empty())
      svg += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.6" points="{}"/>)", s.color, points);
    else
      svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" fill="#888">no samples</text>)", kLeft + 8, top + 20);
    if (i == 0) {  // labels of the bands and marks, once
      int lane = 0;
      for (const auto& b : bands)
        svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="10" fill="#8a5a00">{}</text>)", x(b.start) + 2,
                           top + 11 + 11 * (lane++ % 4), escape(b.label));
      for (const auto& m : marks)
        svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="10" fill="#c0392b">{}</text>)", x(m.at) + 2,
                           bottom - 4 - 11 * (lane++ % 3), escape(m.label));
    }
    svg += "</g>";
  }
  // The shared time axis under the last chart.
  const double axis_y = kTop + series.size() * (kChartHeight + kGap) + 2;
  const double t_step = nice_step(t_max - t_min, 8);
  for (double t = std::ceil(t_min / t_step) * t_step; t <= t_max + 1e-9; t += t_step)
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="10" text-anchor="middle" fill="#555">{} s</text>)", x(t), axis_y,
                       short_number(t));
  svg += "</svg>";
  return svg;
}

}  // namespace ferry::reports
