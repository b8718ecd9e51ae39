#include "reports/run_report.h"

#include "core/error.h"
#include "proxy/fault_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

namespace ferry::reports {
namespace {

std::ofstream open_for_writing(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw FerryError(ExitCode::Usage, fmt::format("cannot write report file '{}'", path));
  return out;
}

// For XML and HTML text and attributes.
std::string escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += ' ';
        else out += c;
    }
  }
  return out;
}

std::string cause_counts(const sim::ScenarioResult& r) {
  if (r.verify_report.is_null()) return "not validated";
  std::string out;
  for (const auto& [cause, n] : r.verify_report["summary"]["by_cause"].items())
    if (n.get<long long>() > 0) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", cause, n.get<long long>());
  return out.empty() ? "none" : out;
}

// The timeline as inline SVG: ops/s (blue) and lag (orange) as lines scaled to their own maxima,
// target memory (grey), faults as translucent bands, actions as red marks.
std::string timeline_svg(const sim::ScenarioResult& r) {
  const double W = 900, H = 220, left = 50, right = 10, top = 20, bottom = 30;
  double t_min = 0, t_max = 1;
  for (const auto& s : r.samples) {
    t_min = std::min(t_min, s.t);
    t_max = std::max(t_max, s.t);
  }
  for (const auto& e : r.timeline) t_max = std::max(t_max, e.at_ms / 1000.0);
  auto x = [&](double t) { return left + (t - t_min) / (t_max - t_min) * (W - left - right); };
  std::string svg = fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}">)", W, H, W, H);
  svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#fafafa" stroke="#ccc"/>)", left, top, W - left - right,
                     H - top - bottom);
  // Faults as bands.
  int lane = 0;
  for (const auto& e : r.timeline) {
    double start = e.at_ms / 1000.0;
    if (!e.fault.empty()) {
      double end = t_max;
      try {
        auto spec = sim::parse_fault_spec(e.fault);
        start += spec.at_ms / 1000.0;
        if (spec.for_ms > 0) end = std::min(t_max, start + spec.for_ms / 1000.0);
        if (spec.kind == sim::FaultKind::Reset || spec.kind == sim::FaultKind::Close) end = start + (t_max - t_min) / 150;
      } catch (const std::exception&) {
      }
      svg += fmt::format(R"(<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="#e8a33d" fill-opacity="0.25"><title>{}</title></rect>)",
                         x(start), top, std::max(1.0, x(end) - x(start)), H - top - bottom, escape(e.fault));
      svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="10" fill="#8a5a00">{}</text>)", x(start) + 2, top + 12 + 11 * (lane++ % 4),
                         escape(e.fault.substr(0, e.fault.find(':'))));
    } else {
      bool oom = e.action == "target-maxmemory";
      svg += fmt::format(R"(<line x1="{0:.1f}" x2="{0:.1f}" y1="{1}" y2="{2}" stroke="#c0392b" stroke-width="2"><title>{3}</title></line>)",
                         x(start), top, H - bottom, escape(e.action + " " + e.value));
      svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="10" fill="#c0392b">{}</text>)", x(start) + 2, H - bottom - 4 - 11 * (lane++ % 3),
                         escape(oom ? "OOM: maxmemory " + e.value : e.action));
    }
  }
  auto line = [&](auto value, const char* color) {
    double max = 0;
    for (const auto& s : r.samples) max = std::max(max, static_cast<double>(value(s)));
    if (max <= 0) return std::string();
    std::string points;
    for (const auto& s : r.samples) {
      double v = static_cast<double>(value(s));
      if (v < 0) continue;
      points += fmt::format("{:.1f},{:.1f} ", x(s.t), H - bottom - v / max * (H - top - bottom));
    }
    return fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>)", color, points);
  };
  svg += line([](const sim::TimelineSample& s) { return s.target_memory; }, "#999999");
  svg += line([](const sim::TimelineSample& s) { return s.ops_per_sec; }, "#2a6fdb");
  svg += line([](const sim::TimelineSample& s) { return s.lag_bytes; }, "#e67e22");
  // A task stopped by the target's OOM: marked at the end of the plot.
  if (r.task_report.is_object() && r.task_report.contains("stopped_because") &&
      r.task_report["stopped_because"].get<std::string>().find("OOM") != std::string::npos)
    svg += fmt::format(R"(<rect x="{:.1f}" y="{}" width="6" height="{}" fill="#c0392b"><title>{}</title></rect><text x="{:.1f}" y="{}" font-size="10" fill="#c0392b" text-anchor="end">OOM: the task stopped</text>)",
                       x(t_max) - 6, top, H - top - bottom, escape(r.task_report["stopped_because"].get<std::string>()), x(t_max) - 8,
                       top + 12);
  svg += fmt::format(R"(<text x="{}" y="{}" font-size="10">{:.1f} s</text><text x="{}" y="{}" font-size="10" text-anchor="end">{:.1f} s</text>)",
                     left, H - 12, t_min, W - right, H - 12, t_max);
  svg += fmt::format(R"(<text x="{}" y="12" font-size="11"><tspan fill="#2a6fdb">ops/s</tspan>  <tspan fill="#e67e22">lag (bytes)</tspan>  <tspan fill="#999">target memory</tspan>  <tspan fill="#8a5a00">faults</tspan>  <tspan fill="#c0392b">events</tspan> (each line scaled to its maximum; 0 = load start)</text>)",
                     left);
  svg += "</svg>";
  return svg;
}

}  // namespace

void write_run_json(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results) {
  nlohmann::json j{{"command", info.command}, {"started_at", info.started_at}, {"seconds", info.seconds},
                   {"passed", std::all_of(results.begin(), results.end(), [](const auto& r) { return r.passed; })},
                   {"scenarios", nlohmann::json::array()}};
  for (const auto& r : results) j["scenarios"].push_back(r.to_json());
  open_for_writing(path) << j.dump(2) << "\n";
}

void write_junit(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results) {
  size_t failures = std::count_if(results.begin(), results.end(), [](const auto& r) { return !r.passed; });
  auto out = open_for_writing(path);
  out << R"(<?xml version="1.0" encoding="UTF-8"?>)" << "\n";
  out << fmt::format(R"(<testsuite name="ferry scenarios" tests="{}" failures="{}" errors="0" time="{:.3f}" timestamp="{}">)",
                     results.size(), failures, info.seconds, escape(info.started_at))
      << "\n";
  for (const auto& r : results) {
    out << fmt::format("  <testcase classname=\"{}\" name=\"{} (seed {})\" time=\"{:.3f}\">", escape(r.file), escape(r.name), r.seed,
                       r.seconds)
        << "\n";
    if (!r.skipped.empty()) out << fmt::format("    <skipped message=\"{}\"/>\n", escape(r.skipped));
    if (!r.passed) {
      std::string body;
      for (const auto& f : r.failures) body += f + "\n";
      body += "reproduce: " + r.repro + "\nlogs: " + r.out_dir + "\n";
      out << fmt::format(R"(    <failure message="{}">{}</failure>)", escape(r.failures.empty() ? "failed" : r.failures.front()),
                         escape(body))
          << "\n";
    }
    out << fmt::format("    <system-out>divergences: {}</system-out>\n", escape(cause_counts(r)));
    out << "  </testcase>\n";
  }
  out << "</testsuite>\n";
}

void write_html(const std::string& path, const RunInfo& info, const std::vector<sim::ScenarioResult>& results) {
  size_t passed = std::count_if(results.begin(), results.end(), [](const auto& r) { return r.passed; });
  std::string h = R"(<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>ferry scenario report</title><style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.pass{color:#1e8449;font-weight:bold}.fail{color:#c0392b;font-weight:bold}code{background:#f5f5f5;padding:1px 4px}
section{margin-top:2.5em;border-top:1px solid #ccc;padding-top:1em}.small{font-size:90%;color:#555}</style></head><body>)";
  h += fmt::format("<h1>ferry scenario report</h1><p>{} of {} scenarios passed &middot; started {} &middot; {:.1f} s &middot; <code>{}</code></p>",
                   passed, results.size(), escape(info.started_at), info.seconds, escape(info.command));
  h += "<table><tr><th>scenario</th><th>result</th><th>seed</th><th>time</th><th>ferry exit</th><th>commands written</th><th>divergences by cause</th></tr>";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    h += fmt::format(R"(<tr><td><a href="#s{}">{}</a></td><td class="{}">{}</td><td>{}</td><td>{:.1f} s</td><td>{}</td><td>{}</td><td>{}</td></tr>)", i,
                     escape(r.name), r.passed ? "pass" : "fail", !r.skipped.empty() ? "skipped" : r.passed ? "passed" : "FAILED", r.seed, r.seconds, r.ferry_exit,
                     r.load.is_object() && r.load.contains("commands") ? r.load["commands"].dump() : "0", escape(cause_counts(r)));
  }
  h += "</table>";
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    h += fmt::format(R"(<section id="s{}"><h2>{} <span class="{}">{}</span></h2><p class="small">{} &middot; seed {} &middot; files in <code>{}</code></p>)",
                     i, escape(r.name), r.passed ? "pass" : "fail", r.passed ? "passed" : "FAILED", escape(r.file), r.seed, escape(r.out_dir));
    if (!r.description.empty()) h += "<p>" + escape(r.description) + "</p>";
    if (!r.passed) {
      h += "<ul>";
      for (const auto& f : r.failures) h += "<li class=\"fail\">" + escape(f) + "</li>";
      h += "</ul><p>Reproduce: <code>" + escape(r.repro) + "</code></p>";
    }
    h += timeline_svg(r);
    if (!r.task_report.is_null()) {
      const auto& t = r.task_report;
      h += fmt::format("<p>Migration: mode {}, {}, copied {}, filtered {}, failed {}, skipped as expired {}{}</p>", escape(t.value("mode", "?")),
                       t.value("complete", false) ? "complete" : "incomplete", t.value("copied", 0), t.value("filtered", 0), t.value("failed", 0),
                       t.value("skipped_expired", 0),
                       t.contains("stopped_because") ? "; stopped because: " + escape(t["stopped_because"].get<std::string>()) : "");
    }
    if (!r.verify_report.is_null()) {
      const auto& s = r.verify_report["summary"];
      h += fmt::format("<p>Validation: {} keys compared, {} divergences, rounds {}.</p><table><tr><th>cause</th><th>count</th></tr>",
                       s["keys_compared"].dump(), s["divergences"].dump(), s["differing_per_round"].dump());
      for (const auto& [cause, n] : s["by_cause"].items()) h += fmt::format("<tr><td>{}</td><td>{}</td></tr>", escape(cause), n.dump());
      h += "</table>";
      const auto& samples = r.verify_report["divergences"];
      if (!samples.empty()) {
        h += "<table><tr><th>cause</th><th>DB</th><th>key</th><th>type</th><th>detail</th></tr>";
        size_t shown = 0;
        for (const auto& d : samples) {
          if (shown++ == 20) break;
          h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", escape(d["cause"].get<std::string>()),
                           d["db"].dump(), escape(d["key"].get<std::string>()), escape(d["type"].get<std::string>()),
                           escape(d["detail"].get<std::string>()));
        }
        h += "</table>";
        if (samples.size() > 20) h += fmt::format("<p class=\"small\">{} more in run.json</p>", samples.size() - 20);
      }
    }
    h += "</section>";
  }
  h += "</body></html>\n";
  open_for_writing(path) << h;
}

}  // namespace ferry::reports
