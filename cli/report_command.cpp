#include "report_command.h"

#include "common_options.h"
#include "core/error.h"
#include "task/report_merge.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct MergeOptions {
  LogFlags log;
  std::vector<std::string> files;
  std::string output;
};

int run_merge(const MergeOptions& o) {
  o.log.apply();
  std::vector<nlohmann::json> reports;
  for (const auto& f : o.files) {
    std::ifstream in(f);
    if (!in) throw FerryError(ExitCode::CorruptInput, fmt::format("cannot read report {}", f));
    try {
      reports.push_back(nlohmann::json::parse(in));
    } catch (const std::exception& e) {
      throw FerryError(ExitCode::CorruptInput, fmt::format("report {} is not JSON: {}", f, e.what()));
    }
  }
  nlohmann::json merged = merge_reports(reports, o.files);
  if (!o.output.empty()) {
    std::ofstream out(o.output);
    if (!out) throw FerryError(ExitCode::Usage, fmt::format("cannot write {}", o.output));
    out << merged.dump(2) << "\n";
  } else {
    std::cout << merged.dump(2) << "\n";
  }
  const bool complete = merged.value("complete", false);
  std::cerr << fmt::format("ferry report merge: {} reports, mode {}: {}; {} shard(s), {} keys copied, {} failed{}\n",
                           o.files.size(), merged.value("mode", "?"), complete ? "complete" : "INCOMPLETE",
                           merged.contains("shards") ? merged["shards"].size() : 0, merged.value("copied", 0ULL),
                           merged.value("failed", 0ULL),
                           merged.value("stopped_because", std::string()).empty()
                               ? ""
                               : "; stopped: " + merged.value("stopped_because", std::string()));
  return complete ? 0 : 1;
}

}  // namespace

void add_report_command(CLI::App& app, std::function<int()>& run) {
  auto* report = app.add_subcommand("report", "Work with task reports (ferry migrate --report)");
  report->require_subcommand(1);
  auto o = std::make_shared<MergeOptions>();
  auto* merge = report->add_subcommand(
      "merge", "Combine the reports of one task split over several processes (--shards) into one: counts added up, the "
               "longest time and lag, every shard's own part listed. Exit 0 when every part is complete, 1 otherwise");
  merge->add_option("reports", o->files, "The task reports (JSON), two or more")->required()->expected(1, -1);
  merge->add_option("--output", o->output, "Write the merged report here (default: standard output)");
  o->log.add_to(*merge);
  merge->callback([&run, o] { run = [o] { return run_merge(*o); }; });
}

}  // namespace ferry::cli
