#include "verify_command.h"

#include "common_options.h"
#include "core/error.h"
#include "task/progress.h"
#include "verify/validator.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

struct VerifyCliOptions {
  ConnectionOptions conn;
  LogOptions log;
  std::vector<int> dbs;
  std::string db_map;
  std::string compare = "full";
  int rounds = 3;
  double interval = 5;
  long long ttl_tolerance_ms = -1;  // -1: 0, or 1000 when a side is older than 7.0
  std::string task_report;
  std::string report_path;
  bool strict = false;
  size_t max_samples = 1000;
  size_t window = 1000;
  std::string progress = "auto";
};

int run(VerifyCliOptions& o) {
  o.log.apply();
  VerifyOptions options;
  if (!o.task_report.empty()) options.task = TaskContext::from_report_file(o.task_report);
  options.dbs = !o.dbs.empty() ? o.dbs : options.task.dbs;
  options.db_map = !o.db_map.empty() ? DbMap::parse(o.db_map) : options.task.db_map;
  options.db_map.check(options.dbs);
  options.compare.level = o.compare == "outline" ? CompareLevel::Outline : o.compare == "length" ? CompareLevel::Length : CompareLevel::Full;
  options.compare.window = o.window;
  options.compare.pipeline = o.conn.pipeline();
  options.rounds = o.rounds;
  options.interval_seconds = o.interval;
  options.max_samples = o.max_samples;
  options.strict = o.strict;
  options.timeouts = o.conn.timeouts();
  options.progress = o.progress == "always" || (o.progress == "auto" && ProgressMeter::stderr_is_tty());
  if (const char* tmp = std::getenv("TMPDIR"); tmp && *tmp) options.work_dir = tmp;
  Endpoint source = o.conn.source_endpoint(), target = o.conn.target_endpoint();
  if (source.db) {
    if (!options.dbs.empty() && !(options.dbs.size() == 1 && options.dbs[0] == *source.db))
      throw FerryError(ExitCode::Usage, fmt::format("the source URI selects DB {} but --db says otherwise", *source.db));
    options.dbs = {*source.db};
  }
  if (o.ttl_tolerance_ms >= 0) {
    options.compare.ttl_tolerance_ms = o.ttl_tolerance_ms;
  } else {  // absolute expiries on both sides: exact; PTTL somewhere: a round trip's worth
    auto s = Connection::open(source, options.timeouts), t = Connection::open(target, options.timeouts);
    options.compare.ttl_tolerance_ms = s->version() < 70000 || t->version() < 70000 ? 1000 : 0;
  }
  VerifyReport report = run_verify(source, target, options);
  std::cout << report.to_table() << std::flush;
  if (!o.report_path.empty()) {
    std::ofstream out(o.report_path);
    if (!out) throw FerryError(ExitCode::Usage, fmt::format("cannot write report file '{}'", o.report_path));
    out << report.to_json().dump(2) << "\n";
  }
  return report.exit_code();
}

}  // namespace

void add_verify_command(CLI::App& app, std::function<int()>& run_fn) {
  auto o = std::make_shared<VerifyCliOptions>();
  auto* cmd = app.add_subcommand(
      "verify",
      "Compare a source and a target in both directions, in rounds, and explain every divergence: expired, "
      "ttl-extended, list-duplicates, stale-extra, lua-unconfirmed, evicted, oom-rejected, filtered, or unexplained. "
      "Exit 0 when nothing is unexplained (--strict: no divergence at all), 1 otherwise, 4 when a server cannot be "
      "reached");
  o->conn.add_to(*cmd, true, true);
  o->log.add_to(*cmd);
  cmd->add_option("--db", o->dbs, "Source DBs to compare, e.g. 0,5 (default: the task report's, else every non-empty DB on either side)")
      ->delimiter(',')->check(CLI::Range(0, 255));
  cmd->add_option("--db-map", o->db_map, "Source DB s is target DB t: s:t[,s:t...] (default: the task report's)");
  cmd->add_option("--compare", o->compare, "full: type, value and expiry; length: type and element count; outline: existence and type")
      ->capture_default_str()->check(CLI::IsMember({"full", "length", "outline"}));
  cmd->add_option("--rounds", o->rounds, "Rounds: each after the first rechecks only the keys that differed")
      ->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("--interval", o->interval, "Seconds between rounds")->capture_default_str()->check(non_negative());
  cmd->add_option("--ttl-tolerance-ms", o->ttl_tolerance_ms,
                  "Allowed expiry difference in ms (default: 0, or 1000 when a side is older than 7.0)")
      ->check(non_negative());
  cmd->add_option("--task-report", o->task_report,
                  "The JSON report of the migration (`ferry migrate --report`): its DBs, mapping, filters, --ttl-extend, "
                  "OOM-rejected keys and unconfirmed scripts explain divergences");
  cmd->add_option("--report", o->report_path, "Write {\"summary\": {...}, \"divergences\": [...]} as JSON to this file");
  cmd->add_flag("--strict", o->strict, "Exit 1 on any divergence, explained or not");
  cmd->add_option("--max-samples", o->max_samples, "Divergences listed in the report at most (the counts are always complete)")
      ->capture_default_str();
  cmd->add_option("--window", o->window, "Elements per window when comparing a big key; longer keys are compared in windows")
      ->capture_default_str()->check(CLI::Range(size_t{10}, size_t{100000}));
  cmd->add_option("--progress", o->progress, "Progress line on stderr: auto (when a terminal), always, never")
      ->capture_default_str()->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->callback([&run_fn, o] { run_fn = [o] { return run(*o); }; });
}

}  // namespace ferry::cli
