#include "reports/run_report.h"

#include "core/error.h"
#include "reports/html_escape.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>

namespace ferry::reports {

std::ofstream open_for_writing(const std::string& path) {
  std::ofstream out(path);
  if (!out) throw FerryError(ExitCode::Usage, fmt::format("cannot write report file '{}'", path));
  return out;
}

std::string cause_counts(const sim::ScenarioResult& r) {
  if (r.verify_report.is_null()) return "not validated";
  std::string out;
  for (const auto& [cause, n] : r.verify_report["summary"]["by_cause"].items())
    if (n.get<long long>() > 0) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", cause, n.get<long long>());
  return out.empty() ? "none" : out;
}

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

}  // namespace ferry::reports
