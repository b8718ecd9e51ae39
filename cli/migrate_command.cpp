#include "migrate_command.h"

#include "common_options.h"
#include "core/log.h"
#include "io/byte_source.h"
#include "rdb/rdb_importer.h"
#include "repl/sync_task.h"
#include "scan/scan_copier.h"
#include "task/preflight.h"
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

struct MigrateOptions {
  ConnectionOptions conn;
  LogOptions log;
  std::string mode = "scan";
  std::vector<int> dbs;
  std::string on_conflict = "block";
  long long ttl_extend_s = 0;
  std::string write_mode = "auto";
  bool accept_warnings = false;
  std::string report_path;
  size_t big_key_bytes = 4 << 20;
  size_t scan_count = 1000;
  std::string progress = "auto";
  std::string rdb_file;
  bool skip_unsupported = false;
  bool until_caught_up = false;
  bool block_flush = false;
  bool no_heartbeat = false;
  std::string task_id;
  long long max_ops = 0;
  long long max_bytes = 0;
  long long retry_connection = 43200;
  long long retry_other = 600;
  std::string spool_dir;
  std::string state_file;
};

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }


int finish(const MigrateOptions& o, MigrationReport& report, const std::vector<std::string>& preflight_warnings) {
  report.warnings.insert(report.warnings.begin(), preflight_warnings.begin(), preflight_warnings.end());
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

// Stops with exit 1 on a failed check, exit 2 on warnings unless accepted; else returns the warnings.
std::optional<int> run_preflight(const MigrateOptions& o, Connection* src, Connection& dst, std::vector<std::string>& warnings) {
  PreflightResult pre = preflight_checks(src, dst);
  for (const auto& f : pre.failures) log::error("check failed: {}", f);
  for (const auto& w : pre.warnings) log::warn("{}", w);
  if (!pre.failures.empty())
    throw FerryError(ExitCode::Failed, fmt::format("{} check(s) failed; nothing was written", pre.failures.size()));
  if (!pre.warnings.empty() && !o.accept_warnings) {
    log::error("{} warning(s); nothing was written. Re-run with --accept-warnings to migrate anyway", pre.warnings.size());
    return static_cast<int>(ExitCode::Warnings);
  }
  warnings = pre.warnings;
  return std::nullopt;
}

int run_replica(MigrateOptions& o, const CopyOptions& copy, const Endpoint& source, const Endpoint& target) {
  {  // preflight on short-lived connections
    auto src = Connection::open(source, o.conn.timeouts());
    auto dst = Connection::open(target, o.conn.timeouts());
    std::vector<std::string> warnings;
    if (auto stop = run_preflight(o, src.get(), *dst, warnings)) return *stop;
  }
  repl::SyncOptions options;
  options.copy = copy;
  options.snapshot_only = o.mode == "snapshot";
  options.until_caught_up = o.until_caught_up;
  options.heartbeat = !o.no_heartbeat;
  options.task_id = o.task_id.empty()
                        ? fmt::format("{:08x}", std::hash<std::string>{}(source.address() + "->" + target.address()) & 0xffffffffu)
                        : o.task_id;
  options.block_flush = o.block_flush;
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
  std::cout << result.report.summary_text();
  if (o.mode != "snapshot") {
    const auto& st = result.applier;
    std::cout << fmt::format("  stream            {} commands applied ({} MULTI/EXEC blocks), {} skipped, {} errors, "
                             "{} unapplied, {} unconfirmed scripts\n",
                             st.commands, st.transactions, st.skipped, st.errors, st.unapplied,
                             st.unconfirmed_script_count);
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
  if (o.rdb_file.empty()) throw FerryError(ExitCode::Usage, "--mode rdb needs --rdb FILE");
  if (!o.conn.source.uri.empty()) throw FerryError(ExitCode::Usage, "--mode rdb reads --rdb FILE: drop --source");
  io::FileSource file(o.rdb_file);
  auto dst = Connection::open(o.conn.target_endpoint(), o.conn.timeouts());
  std::vector<std::string> warnings;
  if (auto stop = run_preflight(o, nullptr, *dst, warnings)) return *stop;

  MigrationReport report;
  report.mode = "rdb";
  report.source = file.describe();
  report.target = dst->describe();
  report.dbs = copy.dbs;
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
  CopyOptions copy;
  copy.on_conflict = o.on_conflict == "replace" ? ConflictMode::Replace : ConflictMode::Block;
  copy.ttl_extend_ms = o.ttl_extend_s * 1000;
  copy.write_mode = o.write_mode == "restore" ? WriteMode::Restore : o.write_mode == "commands" ? WriteMode::Commands : WriteMode::Auto;
  copy.big_key_bytes = o.big_key_bytes;
  copy.scan_count = o.scan_count;
  copy.pipeline = o.conn.pipeline();
  copy.progress = o.progress == "always" || (o.progress == "auto" && ProgressMeter::stderr_is_tty());
  copy.dbs = o.dbs;
  if (o.mode == "rdb") return run_rdb_import(o, copy);
  if (!o.rdb_file.empty()) throw FerryError(ExitCode::Usage, "--rdb is for --mode rdb");
  if (o.conn.source.uri.empty()) throw FerryError(ExitCode::Usage, "--mode scan needs --source URI");

  Endpoint source = o.conn.source_endpoint();
  Endpoint target = o.conn.target_endpoint();
  if (source.db) {
    if (!o.dbs.empty() && !(o.dbs.size() == 1 && o.dbs[0] == *source.db))
      throw FerryError(ExitCode::Usage, fmt::format("the source URI selects DB {} but --db says {}", *source.db,
                                                    fmt::join(o.dbs, ",")));
    copy.dbs = {*source.db};
  }

  if (o.mode == "snapshot" || o.mode == "sync") return run_replica(o, copy, source, target);
  if (o.until_caught_up) throw FerryError(ExitCode::Usage, "--until-caught-up is for --mode sync");

  auto src = Connection::open(source, o.conn.timeouts());
  auto dst = Connection::open(target, o.conn.timeouts());
  log::info("{} (Redis {}) -> {} (Redis {})", src->describe(), src->version_string(), dst->describe(),
            dst->version_string());
  std::vector<std::string> warnings;
  if (auto stop = run_preflight(o, src.get(), *dst, warnings)) return *stop;

  ScanCopier copier(*src, *dst, copy);
  MigrationReport report = copier.run();
  return finish(o, report, warnings);
}

}  // namespace

void add_migrate_command(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<MigrateOptions>();
  auto* cmd = app.add_subcommand(
      "migrate",
      "Copy every key of a source server to a target.\n"
      "--mode scan: SCAN + DUMP/RESTORE with absolute expiries (PEXPIRETIME + RESTORE ABSTTL). The source stays\n"
      "online, but writes made to it while the scan runs may or may not be copied: stop writes, or use\n"
      "--mode sync for a live cutover.\n"
      "--mode snapshot|sync: as a replica (PSYNC), the snapshot, then (sync) every write until stopped.\n"
      "--mode rdb: import the RDB file given with --rdb.");
  o->conn.add_to(*cmd, true, false);
  o->log.add_to(*cmd);
  cmd->add_option("--mode", o->mode,
                  "scan: SCAN + DUMP/RESTORE from --source; snapshot: the source's replication snapshot; sync: "
                  "snapshot, then every write as it happens (until SIGINT/SIGTERM or --until-caught-up); rdb: "
                  "import the RDB file --rdb")
      ->capture_default_str()->check(CLI::IsMember({"scan", "snapshot", "sync", "rdb"}));
  cmd->add_flag("--until-caught-up", o->until_caught_up,
                "sync: exit 0 as soon as the target holds everything up to the source's current offset (cutover)");
  cmd->add_flag("--block-flush", o->block_flush, "sync: stop the task with an error on FLUSHALL/FLUSHDB instead of applying it");
  cmd->add_flag("--no-heartbeat", o->no_heartbeat, "sync: do not write the ferry:heartbeat:<task-id> key on the source");
  cmd->add_option("--task-id", o->task_id, "Names the heartbeat key (default: derived from source and target)");
  cmd->add_option("--max-ops", o->max_ops, "sync: apply at most this many commands per second (0: no limit)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--retry-connection", o->retry_connection,
                  "sync: seconds to keep retrying a broken link to the source (resuming by partial resync)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--retry-other", o->retry_other,
                  "sync: seconds to keep retrying a target that went away (then a full resync)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--state", o->state_file,
                  "sync: keep the task's position in this file; a restarted ferry resumes from it");
  cmd->add_option("--spool-dir", o->spool_dir,
                  "snapshot/sync: read the replication link at full speed into files here and apply from them, so a "
                  "slow target cannot get ferry cut off by the source's output-buffer limit; full resyncs keep their "
                  "key sets here too (default for those: $TMPDIR or /tmp)");
  cmd->add_option("--max-bytes", o->max_bytes, "sync: apply at most this many bytes per second (0: no limit)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--rdb", o->rdb_file, "RDB file to import (--mode rdb)");
  cmd->add_flag("--skip-unsupported", o->skip_unsupported,
                "Skip and count data the target cannot hold (module values, field expiry on an old target, ...) "
                "instead of failing them");
  cmd->add_option("--db", o->dbs, "DBs to copy, e.g. 0,5 (default: every non-empty DB; the URI's /db means the same)")
      ->delimiter(',')->check(CLI::Range(0, 255));
  cmd->add_option("--on-conflict", o->on_conflict,
                  "block: stop before writing if the target holds keys in the selected DBs; replace: overwrite keys "
                  "of the same name")
      ->capture_default_str()->check(CLI::IsMember({"block", "replace"}));
  cmd->add_option("--ttl-extend", o->ttl_extend_s, "Seconds added to every migrated expiry (0: exact copy)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--write-mode", o->write_mode,
                  "auto: RESTORE, native commands where the target rejects the payload; restore: RESTORE only; "
                  "commands: native commands for every key")
      ->capture_default_str()->check(CLI::IsMember({"auto", "restore", "commands"}));
  cmd->add_flag("--accept-warnings", o->accept_warnings,
                "Migrate despite preflight warnings, and exit 0 (not 2) when the only findings are warnings");
  cmd->add_option("--report", o->report_path, "Write the summary as JSON to this file");
  cmd->add_option("--big-key-threshold", o->big_key_bytes,
                  "Keys larger than this (MEMORY USAGE) are copied in chunks with native commands (suffixes K, M, G)")
      ->capture_default_str()->transform(CLI::AsSizeValue(false));
  cmd->add_option("--scan-count", o->scan_count, "SCAN COUNT hint")->capture_default_str()->check(CLI::Range(size_t{1}, size_t{100000}));
  cmd->add_option("--progress", o->progress, "Progress line on stderr: auto (when a terminal), always, never")
      ->capture_default_str()->check(CLI::IsMember({"auto", "always", "never"}));
  cmd->callback([&run, o] { run = [o] { return run_migrate(*o); }; });
}

}  // namespace ferry::cli
