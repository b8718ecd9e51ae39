#include "scenario_command.h"

#include "common_options.h"
#include "core/error.h"
#include "core/log.h"
#include "reports/run_report.h"
#include "scenario/scenario_runner.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

namespace ferry::cli {
namespace {

struct ScenarioOptions {
  LogFlags log;
  std::vector<std::string> paths;
  std::string seed;  // a number, "random", or empty: each scenario's own
  int repeat = 1;
  int jobs = 1;
  std::string report_dir;
  std::string junit;
  std::string ferry;
};

// The last warnings and errors of ferry's log in a scenario's directory: what a failure printed
// on a CI machine needs to be understood without its files.
std::vector<std::string> log_warnings(const std::string& out_dir, size_t last) {
  std::ifstream in(out_dir + "/ferry.log");
  std::deque<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (line.find(" warn ") == std::string::npos && line.find(" error ") == std::string::npos) continue;
    lines.push_back(line);
    if (lines.size() > last) lines.pop_front();
  }
  return {lines.begin(), lines.end()};
}

std::string now_utc() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", tm);
}

// `ferry --version` of the binary that runs the scenarios.
std::string version_of(const std::string& binary) {
  std::string out;
  if (std::FILE* p = ::popen(("'" + binary + "' --version 2>/dev/null").c_str(), "r")) {
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    ::pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out.empty() ? "unknown" : out;
}

}  // namespace

int run_scenarios(const ScenarioOptions& o, const std::string& command) {
  o.log.apply();
  std::vector<sim::ScenarioSpec> specs;
  for (const auto& file : sim::find_scenarios(o.paths)) specs.push_back(sim::load_scenario(file));  // all checked first
  if (specs.empty()) throw FerryError(ExitCode::Usage, "no scenario files (*.toml) found");
  std::optional<uint64_t> base;
  if (o.seed == "random") {
    base = random_seed();
    log::info("seed {} (random)", *base);
  } else if (!o.seed.empty()) {
    base = std::strtoull(o.seed.c_str(), nullptr, 10);
  }
  std::string dir = o.report_dir.empty() ? fmt::format("ferry-scenarios/{}", now_utc()) : o.report_dir;
  // A directory holding another run's reports keeps them: this run's go to a fresh sub-folder.
  if (std::filesystem::exists(dir + "/run.json") || std::filesystem::exists(dir + "/report.html")) {
    std::string fresh = fmt::format("{}/run-{}", dir, now_utc());
    log::warn("{} holds another run's reports: this run's go to {}", dir, fresh);
    dir = fresh;
  }
  std::filesystem::create_directories(dir);

  struct Job {
    const sim::ScenarioSpec* spec;
    uint64_t seed;
    int repeat;
  };
  std::vector<Job> jobs;
  for (int r = 0; r < o.repeat; ++r)
    for (const auto& s : specs) jobs.push_back({&s, (base ? *base : s.seed) + static_cast<uint64_t>(r), r});
  std::vector<sim::ScenarioResult> results(jobs.size());
  std::atomic<size_t> next{0};
  std::mutex print;
  auto started = std::chrono::steady_clock::now();
  std::string ferry = o.ferry.empty() ? self_path() : o.ferry;
  const std::string version = version_of(ferry);
  auto worker = [&] {
    for (size_t i; (i = next++) < jobs.size();) {
      const Job& job = jobs[i];
      sim::RunnerOptions ro;
      ro.ferry_binary = ferry;
      ro.ferry_version = version;
      ro.seed = job.seed;
      ro.out_dir = fmt::format("{}/{}-seed{}{}", dir, job.spec->name, job.seed, o.repeat > 1 ? fmt::format("-r{}", job.repeat) : "");
      {
        std::lock_guard lock(print);
        std::cerr << fmt::format("ferry scenario: {} (seed {}) ...\n", job.spec->name, job.seed);
      }
      results[i] = sim::run_scenario(*job.spec, ro);
      std::lock_guard lock(print);
      const auto& r = results[i];
      if (!r.skipped.empty()) std::cout << fmt::format("SKIP {}: {}\n", r.name, r.skipped);
      else std::cout << fmt::format("{} {} (seed {}, {:.1f} s)\n", r.passed ? "PASS" : "FAIL", r.name, r.seed, r.seconds);
      for (const auto& f : r.failures) std::cout << "  " << f << "\n";
      if (!r.passed) {
        auto warnings = log_warnings(r.out_dir, 10);
        if (!warnings.empty()) std::cout << "  ferry's last warnings:\n";
        for (const auto& w : warnings) std::cout << "    " << w << "\n";
        std::cout << "  reproduce: " << r.repro << "\n  files: " << r.out_dir << "\n";
      }
      std::cout << std::flush;
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < std::max(1, o.jobs); ++j) pool.emplace_back(worker);
  for (auto& t : pool) t.join();

  reports::RunInfo info{command, version, now_utc(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
  reports::write_run_json(dir + "/run.json", info, results);
  reports::write_junit(o.junit.empty() ? dir + "/junit.xml" : o.junit, info, results);
  if (!o.junit.empty()) reports::write_junit(dir + "/junit.xml", info, results);
  reports::write_html(dir + "/report.html", info, results);
  size_t passed = std::count_if(results.begin(), results.end(), [](const auto& r) { return r.passed; });
  std::cout << fmt::format("{} of {} scenario runs passed; report: {}/report.html\n", passed, results.size(), dir);
  return passed == results.size() ? 0 : 1;
}

void add_scenario_command(CLI::App& app, std::function<int()>& run) {
  auto* scenario = app.add_subcommand("scenario", "Scenarios: servers, data, writes, faults, a migration and its validation");
  scenario->require_subcommand(1);
  auto o = std::make_shared<ScenarioOptions>();
  auto* cmd = scenario->add_subcommand(
      "run", "Run scenario files (or every *.toml under directories): start servers, fill, write, migrate, inject faults, "
             "stop writes, wait for catch-up, validate, check expectations, tear down. Writes run.json, junit.xml and "
             "report.html. Exit 0 when every scenario met its expectations, 1 otherwise");
  o->log.add_to(*cmd);
  cmd->add_option("paths", o->paths, "Scenario files or directories")->required();
  cmd->add_option("--seed", o->seed, "Seed for every scenario (N, or random; default: each scenario's own). A failure prints "
                                     "the command that reproduces it");
  cmd->add_option("--repeat", o->repeat, "Run each scenario N times (seeds N, N+1, ...)")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--jobs", o->jobs, "Scenarios run in parallel (each on its own ports)")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--report-dir", o->report_dir, "Where the reports go (default: ferry-scenarios/<UTC time>)");
  cmd->add_option("--junit", o->junit, "Also write the JUnit XML here");
  cmd->add_option("--ferry", o->ferry, "The ferry binary the scenarios run (default: this one)");
  std::string command = "ferry scenario run";
  cmd->callback([&run, o, cmd] {
    std::string line = "ferry scenario run";
    for (const auto& p : o->paths) line += " " + p;
    if (!o->seed.empty()) line += " --seed " + o->seed;
    if (o->repeat > 1) line += fmt::format(" --repeat {}", o->repeat);
    run = [o, line] { return run_scenarios(*o, line); };
  });
  (void)command;
}

}  // namespace ferry::cli
