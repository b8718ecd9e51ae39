#include "verify_command.h"

#include "common_options.h"
#include "task/run_task.h"
#include "task_options.h"
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
  TaskFlags task;  // the servers, DBs, mapping and filters: flags, or the migration's task file (--config)
  std::string compare = "full";
  int rounds = 3;
  double interval = 5;
  long long ttl_tolerance_ms = -1;  // -1: 0, or 1000 when a side is older than 7.0
  std::string task_report;
  std::string report_path;
  bool strict = false;
  size_t max_samples = 1000;
  size_t window = 1000;
};

int verify_main(VerifyCliOptions& o) {
  TaskConfig config = o.task.resolve(false);
  if (config.source.uri.empty() || config.target.uri.empty())
    throw FerryError(ExitCode::Usage, "verify needs --source and --target (or a task file with both, --config)");
  apply_logging(config);
  VerifyOptions options;
  if (!o.task_report.empty()) options.task = TaskContext::from_report_file(o.task_report);
  // The task's own selection (flags or --config) wins over what the report says.
  CopyOptions copy = config.copy_options();
  if (!copy.dbs.empty()) options.task.dbs = copy.dbs;
  if (!config.db_map.empty()) options.task.db_map = copy.db_map;
  if (!copy.filter.empty()) options.task.filter = copy.filter;
  if (config.ttl_extend_s) options.task.ttl_extend_ms = copy.ttl_extend_ms;
  options.task.present = options.task.present || !copy.dbs.empty() || !copy.filter.empty();
  options.dbs = options.task.dbs;
  options.db_map = options.task.db_map;
  options.db_map.check(options.dbs);
  options.compare.level = o.compare == "outline" ? CompareLevel::Outline : o.compare == "length" ? CompareLevel::Length : CompareLevel::Full;
  options.compare.window = o.window;
  options.compare.pipeline = config.pipeline();
  options.rounds = o.rounds;
  options.interval_seconds = o.interval;
  options.max_samples = o.max_samples;
  options.strict = o.strict;
  options.timeouts = config.timeouts();
  std::unique_ptr<TerminalProgress> progress;
  if (config.progress == "always" || (config.progress == "auto" && TerminalProgress::stderr_is_tty()))
    progress = std::make_unique<TerminalProgress>();
  options.progress = progress.get();
  if (const char* tmp = std::getenv("TMPDIR"); tmp && *tmp) options.work_dir = tmp;
  Endpoint source = config.source_endpoint(), target = config.target_endpoint();
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
      "ttl-extended, list-duplicates, stale-extra, lua-unconfirmed, evicted, oom-rejected, filtered, unsupported, or "
      "unexplained. Takes the migration's task file (--config) for its servers, DBs, mapping and filters. "
      "Exit 0 when nothing is unexplained (--strict: no divergence at all), 1 otherwise, 4 when a server cannot be "
      "reached");
  std::set<std::string> keys{"select.db", "select.db-map", "select.include", "select.exclude", "write.ttl-extend",
                             "connection.connect-timeout", "connection.read-timeout", "connection.pipeline-commands",
                             "connection.pipeline-bytes", "output.log-file", "output.log-level", "output.progress"};
  keys.merge(endpoint_keys("source"));
  keys.merge(endpoint_keys("target"));
  o->task.add_to(*cmd, keys);
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
  cmd->callback([&run_fn, o] { run_fn = [o] { return verify_main(*o); }; });
}

}  // namespace ferry::cli
