#include "scenario/version_matrix.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

namespace ferry::sim {
namespace {

// What each server can hold beyond Redis 7.0's types (per-field expiry came in 7.4, vector sets in 8.0).
std::vector<std::string> newer_kinds(const std::string& version) {
  if (version.rfind("redis-8", 0) == 0) return {"hash-field-ttl", "vectorset"};
  return {};
}

std::string server_version(const std::string& name) { return name == "redis-7.0" ? "system" : name; }

std::string short_name(const std::string& name) {
  return name.rfind("redis-", 0) == 0 ? name.substr(6) : name;
}

ScenarioSpec cell_spec(const MatrixOptions& o, const std::string& src, const std::string& dst, const std::string& mode,
                       const std::vector<std::string>& unsupported, bool skip_unsupported) {
  ScenarioSpec s;
  s.name = fmt::format("{}-to-{}-{}{}", short_name(src), short_name(dst), mode, skip_unsupported ? "-skip-unsupported" : "");
  s.description = fmt::format("{} -> {}, --mode {}{}", src, dst, mode, skip_unsupported ? " --skip-unsupported" : "");
  s.file = "(version matrix)";
  s.seed = o.seed;
  s.source.version = server_version(src);
  s.target.version = server_version(dst);
  s.dataset.keys = o.keys;
  s.dataset.dbs = {0, 1, 5};
  s.dataset.newer_types = true;
  // The cluster column: a 3-master cluster of the source version synced into the target (DB 0, the
  // load hash-tagged; the newer types are left out, their keys would not be in one shard).
  const bool cluster = mode == "cluster";
  if (cluster) {
    s.source.cluster_masters = 3;
    s.dataset.dbs = {0};
    s.dataset.newer_types = false;
    s.description = fmt::format("a 3-master {} cluster -> {}, --mode sync", src, dst);
  }
  if (mode == "sync" || cluster) {  // a write load through the replication stream
    s.workload.rate = 300;
    s.workload.duration = 2;
    s.workload.dbs = cluster ? std::vector<int>{0} : std::vector<int>{0, 1};
  }
  const bool verbatim_scripts = mode == "sync" && src == "redis-6.0";
  if (verbatim_scripts) {
    // Redis 6.0 as many run it: scripts replicated verbatim (EVAL/EVALSHA, not their effects). The
    // target runs them again; the report lists their keys as unconfirmed.
    s.source.config.emplace_back("lua-replicate-commands", "no");
    s.expect.may.push_back("lua-unconfirmed");
    s.expect.report["stream.unconfirmed_script_keys"] = ">0";
  }
  s.mode = cluster ? "sync" : mode;
  // A version difference is a precheck warning: accepted here, as a user who read it would.
  s.task_toml = fmt::format("mode = \"{}\"\naccept-warnings = true\n{}", s.mode, skip_unsupported ? "[write]\nskip-unsupported = true\n" : "");
  s.expect.may = {"expired"};
  s.expect.time_limit = 240;
  if (!unsupported.empty() && !skip_unsupported) {
    // Refused before a byte moves, naming what the target cannot hold.
    s.expect.exit_code = 1;
    s.expect.error_contains = unsupported.front() == "hash-field-ttl" ? "per-field expiry" : "vectorset";
    s.expect.absent_on_target = {"*"};
    s.validate.enabled = false;
  } else if (!unsupported.empty()) {
    s.expect.may.push_back("unsupported");
    s.expect.report["skipped_unsupported"] = ">0";
  }
  return s;
}

}  // namespace

std::vector<std::string> unsupported_kinds(const std::string& source, const std::string& target) {
  std::vector<std::string> out;
  auto held = newer_kinds(target);
  for (const auto& k : newer_kinds(source))
    if (std::find(held.begin(), held.end(), k) == held.end()) out.push_back(k);
  return out;
}

nlohmann::json MatrixCell::to_json() const {
  nlohmann::json runs_json = nlohmann::json::array();
  for (const auto& r : runs)
    runs_json.push_back({{"name", r.name}, {"passed", r.passed}, {"skipped", r.skipped}, {"failures", r.failures},
                         {"ferry_exit", r.ferry_exit}, {"seconds", r.seconds}, {"out_dir", r.out_dir}, {"repro", r.repro}});
  return {{"source", source}, {"target", target}, {"mode", mode}, {"outcome", outcome}, {"unsupported", unsupported},
          {"skipped_unsupported", skipped_unsupported}, {"detail", detail}, {"runs", runs_json}};
}

std::string MatrixCell::text() const {
  if (outcome == "exact") return "exact";
  if (outcome == "refused")
    return fmt::format("refused ({}); exact with --skip-unsupported ({} skipped)", fmt::join(unsupported, ", "),
                       skipped_unsupported);
  if (outcome == "skipped") return "not run (server not fetched)";
  return "FAILED";
}

bool MatrixResult::passed() const {
  return std::none_of(cells.begin(), cells.end(), [](const MatrixCell& c) { return c.outcome == "failed"; });
}

std::string MatrixResult::table_markdown() const {
  std::vector<std::string> modes;
  for (const auto& c : cells)
    if (std::find(modes.begin(), modes.end(), c.mode) == modes.end()) modes.push_back(c.mode);
  std::string out = "| source -> target |";
  for (const auto& m : modes) out += " " + m + " |";
  out += "\n|---|";
  for (size_t i = 0; i < modes.size(); ++i) out += "---|";
  out += "\n";
  for (size_t i = 0; i < cells.size();) {
    const auto& first = cells[i];
    out += fmt::format("| {} -> {} |", first.source, first.target);
    for (const auto& m : modes) {
      auto it = std::find_if(cells.begin() + static_cast<long>(i), cells.end(), [&](const MatrixCell& c) {
        return c.source == first.source && c.target == first.target && c.mode == m;
      });
      out += " " + (it == cells.end() ? std::string("-") : it->text()) + " |";
    }
    out += "\n";
    while (i < cells.size() && cells[i].source == first.source && cells[i].target == first.target) ++i;
  }
  return out;
}

nlohmann::json MatrixResult::to_json() const {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& c : cells) j.push_back(c.to_json());
  return {{"passed", passed()}, {"cells", j}};
}

MatrixResult run_matrix(const MatrixOptions& o) {
  MatrixResult result;
  std::vector<std::pair<std::string, std::string>> pairs = o.pairs;
  if (pairs.empty())
    for (const auto& s : o.versions)
      for (const auto& t : o.versions) pairs.emplace_back(s, t);
  for (const auto& [s, t] : pairs)
    for (const auto& m : o.modes) {
      MatrixCell c;
      c.source = s;
      c.target = t;
      c.mode = m;
      if (m != "cluster") c.unsupported = unsupported_kinds(s, t);
      result.cells.push_back(std::move(c));
    }
  std::filesystem::create_directories(o.out_dir);
  std::atomic<size_t> next{0};
  std::mutex print;
  auto worker = [&] {
    for (size_t i; (i = next++) < result.cells.size();) {
      MatrixCell& c = result.cells[i];
      std::vector<bool> variants{false};
      if (!c.unsupported.empty()) variants.push_back(true);
      for (bool skip : variants) {
        ScenarioSpec spec = cell_spec(o, c.source, c.target, c.mode, c.unsupported, skip);
        RunnerOptions ro;
        ro.ferry_binary = o.ferry_binary;
        ro.seed = o.seed;
        ro.out_dir = fmt::format("{}/{}", o.out_dir, spec.name);
        c.runs.push_back(run_scenario(spec, ro));
        ScenarioResult& r = c.runs.back();
        r.repro = fmt::format("{} matrix --pairs {}:{} --modes {} --keys {} --seed {}", o.ferry_binary, c.source, c.target,
                              c.mode, o.keys, o.seed);
        if (skip && r.task_report.is_object()) c.skipped_unsupported = r.task_report.value("skipped_unsupported", -1LL);
        if (!r.skipped.empty()) break;
      }
      const ScenarioResult& first = c.runs.front();
      if (!first.skipped.empty()) {
        c.outcome = "skipped";
        c.detail = first.skipped;
      } else if (std::all_of(c.runs.begin(), c.runs.end(), [](const ScenarioResult& r) { return r.passed; })) {
        c.outcome = c.unsupported.empty() ? "exact" : "refused";
      } else {
        c.outcome = "failed";
        for (const auto& r : c.runs)
          for (const auto& f : r.failures) c.detail += (c.detail.empty() ? "" : "; ") + r.name + ": " + f;
      }
      std::lock_guard lock(print);
      std::cout << fmt::format("{:<8} {} -> {} --mode {}: {}\n", c.outcome == "failed" ? "FAIL" : c.outcome == "skipped" ? "SKIP" : "PASS",
                               c.source, c.target, c.mode, c.outcome == "failed" ? c.detail : c.text());
      for (const auto& r : c.runs)
        if (!r.passed && r.skipped.empty()) std::cout << "  reproduce: " << r.repro << "\n  files: " << r.out_dir << "\n";
      std::cout << std::flush;
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < std::max(1, o.jobs); ++j) pool.emplace_back(worker);
  for (auto& t : pool) t.join();
  std::ofstream(o.out_dir + "/matrix.json") << result.to_json().dump(2) << "\n";
  std::ofstream(o.out_dir + "/matrix.md") << result.table_markdown();
  return result;
}

}  // namespace ferry::sim
