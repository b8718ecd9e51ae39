#include "migrate_command.h"

#include "common_options.h"
#include "core/log.h"
#include "io/byte_source.h"
#include "rdb/rdb_importer.h"
#include "repl/sync_task.h"
#include "scan/scan_copier.h"
#include "precheck/precheck.h"
#include "task_options.h"
#include "task/progress.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <fstream>
#include <iostream>
#include <memory>

namespace ferry::cli {
namespace {

using MigrateOptions = TaskOptions;

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }


int finish(const MigrateOptions& o, MigrationReport& report, const std::vector<std::string>& precheck_warnings) {
  report.warnings.insert(report.warnings.begin(), precheck_warnings.begin(), precheck_warnings.end());
  std::cout << report.summary_text() << std::flush;
  if (!o.report_path.empty()) report.write_json(o.report_path);
  if (!report.complete) {
    log::error("migration incomplete: {}", !report.stopped_because.empty() ? report.stopped_because
                                           : fmt::format("{} key(s) failed, {} skipped as conflicts", report.failed,
                                                         report.skipped_conflict));
    return static_cast<int>(ExitCode::Failed);
  }
  if (!report.warnings.empty() && !o.accept_warnings) return static_cast<int>(ExitCode::Warnings);
  return static_cast<int>(ExitCode::Ok);
}

// The precheck before a byte moves: a fail stops with its code (1, or 4/5 when a server or the
// input cannot be read), warnings stop with 2 unless --accept-warnings; else its warnings go into
// the report.
std::optional<int> run_task_precheck(const MigrateOptions& o, const Endpoint* source, const Endpoint& target,
                                     std::vector<std::string>& warnings) {
  PrecheckReport pre = run_precheck(source, target, o.precheck_options());
  int code = pre.exit_code();
  for (const auto& check : pre.checks) {
    if (check.status == CheckStatus::Pass || check.ignored) continue;
    std::string line = fmt::format("precheck {}: {}{}", check.name, check.found, check.fix.empty() ? "" : " (fix: " + check.fix + ")");
    if (check.status == CheckStatus::Warn) {
      log::warn("{}", line);
      warnings.push_back(line);
    } else {
      log::error("{}", line);
    }
  }
  if (code == 0) {
    log::info("precheck: {} checks passed", pre.checks.size());
    return std::nullopt;
  }
  if (code == static_cast<int>(ExitCode::Warnings) && o.accept_warnings) return std::nullopt;
  if (code == static_cast<int>(ExitCode::Warnings))
    log::error("precheck: {} warning(s); nothing was written. Re-run with --accept-warnings to migrate anyway, or see "
               "`ferry precheck`",
               warnings.size());
  else
    log::error("precheck failed; nothing was written (`ferry precheck` with the same options shows every check)");
  return code;
}

int run_replica(MigrateOptions& o, const CopyOptions& copy, const Endpoint& source, const Endpoint& target) {
  std::vector<std::string> warnings;
  if (auto stop = run_task_precheck(o, &source, target, warnings)) return *stop;
  repl::SyncOptions options;
  options.copy = copy;
  options.snapshot_only = o.mode == "snapshot";
  options.until_caught_up = o.until_caught_up;
  options.heartbeat = !o.no_heartbeat;
  options.task_id = o.task_id.empty()
                        ? fmt::format("{:08x}", std::hash<std::string>{}(source.address() + "->" + target.address()) & 0xffffffffu)
                        : o.task_id;
  options.block_flush = o.block_flush;
  options.unsafe_resync_append = o.unsafe_resync_append;
  if (o.unsafe_resync_append)
    log::warn("--unsafe-resync-append: a full resync will duplicate list entries and keep deleted keys (for reproducing "
              "that failure only)");
  options.skip_unsupported = o.skip_unsupported;
  options.max_ops = o.max_ops;
  options.max_bytes = o.max_bytes;
  options.timeouts = o.conn.timeouts();
  options.retry_connection_seconds = o.retry_connection;
  options.retry_other_seconds = o.retry_other;
  options.state_file = o.state_file;
  options.spool = !o.spool_dir.empty();
  if (!o.spool_dir.empty()) options.work_dir = o.spool_dir;
  else if (const char* tmp = std::getenv("TMPDIR"); tmp && *tmp) options.work_dir = tmp;
  options.stop = &g_stop;
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  repl::SyncResult result = repl::run_sync(source, target, options);
  result.report.warnings.insert(result.report.warnings.begin(), warnings.begin(), warnings.end());
  std::cout << result.report.summary_text();
  if (o.mode != "snapshot") {
    const auto& st = result.applier;
    std::cout << fmt::format("  stream            {} commands applied ({} MULTI/EXEC blocks), {} skipped, {} errors, "
                             "{} unapplied, {} unconfirmed scripts{}\n",
                             st.commands, st.transactions, st.skipped, st.errors, st.unapplied,
                             st.unconfirmed_script_count,
                             st.script_errors ? fmt::format(" ({} ended with an error as on the source)", st.script_errors) : "");
    if (st.filtered || st.reduced)
      std::cout << fmt::format("  stream filter     {} commands left out, {} applied to their selected keys only\n",
                               st.filtered, st.reduced);
    if (result.retries)
      std::cout << fmt::format("  link              {} reconnection attempts, {} partial resyncs, {} full resyncs "
                               "({} keys gone from the source deleted)\n",
                               result.retries, result.partial_resyncs, result.full_resyncs, result.resync_deleted_keys);
    std::cout << fmt::format("  offsets           snapshot {}, applied {}, source {} (lag {} bytes{}){}\n",
                             result.snapshot_offset, result.applied_offset, result.source_offset,
                             std::max(0LL, result.source_offset - result.applied_offset),
                             result.lag_ms ? fmt::format(", {} ms", *result.lag_ms) : "",
                             result.caught_up ? ", caught up" : "");
    for (const auto& n : st.notes) std::cout << "  note: " << n << "\n";
  }
  std::cout << std::flush;
  if (!o.report_path.empty()) {
    std::ofstream out(o.report_path);
    if (!out) throw FerryError(ExitCode::Usage, fmt::format("cannot write report file '{}'", o.report_path));
    out << result.to_json().dump(2) << "\n";
  }
  if (!result.report.complete) {
    log::error("migration incomplete: {}", !result.report.stopped_because.empty()
                                               ? result.report.stopped_because
                                               : "some keys or commands failed (see the summary)");
    return static_cast<int>(ExitCode::Failed);
  }
  if (!result.report.warnings.empty() && !o.accept_warnings) return static_cast<int>(ExitCode::Warnings);
  return static_cast<int>(ExitCode::Ok);
}

int run_rdb_import(MigrateOptions& o, const CopyOptions& copy) {
  Endpoint target = o.target_endpoint();
  std::vector<std::string> warnings;
  if (auto stop = run_task_precheck(o, nullptr, target, warnings)) return *stop;
  io::FileSource file(o.rdb_file);
  auto dst = Connection::open(target, o.conn.timeouts());

  MigrationReport report;
  report.mode = "rdb";
  report.source = file.describe();
  report.target = dst->describe();
  copy.describe_into(report);
  rdb::ImportOptions options;
  options.copy = copy;
  options.skip_unsupported = o.skip_unsupported;
  ProgressMeter meter(file.size().value_or(0), copy.progress, "bytes");
  options.progress = [&](uint64_t offset) { meter.update(offset, offset); };
  rdb::RdbImporter importer(*dst, options, report);
  importer.check_conflicts();
  rdb::RdbParser parser(file, importer);
  auto started = std::chrono::steady_clock::now();
  int code = 0;
  try {
    parser.parse();
  } catch (const rdb::RdbError& e) {
    report.stopped_because = e.what();
    code = static_cast<int>(ExitCode::CorruptInput);
  } catch (const FerryError& e) {
    report.stopped_because = e.what();
    code = static_cast<int>(ExitCode::Failed);
  }
  importer.finish();
  meter.finish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  report.complete = report.stopped_because.empty() && report.failed == 0 && report.skipped_conflict == 0;
  int result = finish(o, report, warnings);
  return code ? code : result;
}

int run_migrate(MigrateOptions& o) {
  o.log.apply();
  CopyOptions copy = o.copy_options();
  copy.progress = o.progress == "always" || (o.progress == "auto" && ProgressMeter::stderr_is_tty());
  if (o.mode == "rdb") return run_rdb_import(o, copy);

  Endpoint source = o.source_endpoint();
  Endpoint target = o.target_endpoint();
  if (o.mode == "snapshot" || o.mode == "sync") return run_replica(o, copy, source, target);

  std::vector<std::string> warnings;
  if (auto stop = run_task_precheck(o, &source, target, warnings)) return *stop;
  auto src = Connection::open(source, o.conn.timeouts());
  auto dst = Connection::open(target, o.conn.timeouts());
  log::info("{} (Redis {}) -> {} (Redis {})", src->describe(), src->version_string(), dst->describe(),
            dst->version_string());
  ScanCopier copier(*src, *dst, copy);
  MigrationReport report = copier.run();
  return finish(o, report, warnings);
}

}  // namespace

void add_migrate_command(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<MigrateOptions>();
  auto* cmd = app.add_subcommand(
      "migrate",
      "Copy every key of a source server to a target, after the checks of `ferry precheck`.\n"
      "--mode scan: SCAN + DUMP/RESTORE with absolute expiries (PEXPIRETIME + RESTORE ABSTTL). The source stays\n"
      "online, but writes made to it while the scan runs may or may not be copied: stop writes, or use\n"
      "--mode sync for a live cutover.\n"
      "--mode snapshot|sync: as a replica (PSYNC), the snapshot, then (sync) every write until stopped.\n"
      "--mode rdb: import the RDB file given with --rdb.\n"
      "Every option can also come from a TOML task file (--config FILE, see `ferry config example`).");
  o->add_to(*cmd);
  cmd->callback([&run, o, cmd] {
    run = [o, cmd] {
      o->finish(*cmd);
      return run_migrate(*o);
    };
  });
}

}  // namespace ferry::cli
