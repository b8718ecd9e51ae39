#include "task/run_task.h"

#include "core/log.h"
#include "io/byte_source.h"
#include "rdb/rdb_parser.h"
#include "scan/scan_reader.h"
#include "sink/key_sink.h"
#include "target/target_keys.h"
#include "task/rdb_file_check.h"
#include "task/task_monitor.h"
#include "cluster/cluster_topology.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <fstream>

namespace ferry {
namespace {

using Clock = std::chrono::steady_clock;

// The precheck before a byte moves: a fail stops with its code (1, or 4/5 when a server or the
// input cannot be read), warnings stop with 2 unless --accept-warnings; else its warnings go into
// the report. Mode aof: `aof` gets the files as the check read them whole.
std::optional<int> precheck(const TaskConfig& config, TaskResult& result, std::shared_ptr<const AofFacts>& aof) {
  std::optional<Endpoint> source;
  if (!config.reads_file()) source = config.source_endpoint();
  PrecheckReport pre = run_precheck(source ? &*source : nullptr, config.target_endpoint(), config.precheck_options());
  aof = pre.aof;
  int code = pre.exit_code();
  for (const auto& check : pre.checks) {
    if (check.status == CheckStatus::Pass || check.ignored) continue;
    std::string line =
        fmt::format("precheck {}: {}{}", check.name, check.found, check.fix.empty() ? "" : " (fix: " + check.fix + ")");
    if (check.status == CheckStatus::Warn) {
      log::warn("{}", line);
      result.precheck_warnings.push_back(line);
    } else {
      log::error("{}", line);
      if (result.failure.empty()) result.failure = line;
    }
  }
  if (code == 0) {
    log::info("precheck: {} checks passed", pre.checks.size());
    return std::nullopt;
  }
  if (code == static_cast<int>(ExitCode::Warnings) && config.accept_warnings) return std::nullopt;
  if (code == static_cast<int>(ExitCode::Warnings) && result.failure.empty())
    result.failure = fmt::format("precheck: {} warning(s) and no --accept-warnings: nothing was written", result.precheck_warnings.size());
  if (code == static_cast<int>(ExitCode::Warnings))
    log::error("precheck: {} warning(s); nothing was written. Fix the server or the task as each warning says, or "
               "re-run with --accept-warnings to go on with them (`ferry precheck` shows every check)",
               result.precheck_warnings.size());
  else
    log::error("precheck failed; nothing was written (`ferry precheck` with the same options shows every check)");
  return code;
}

void run_scan(const TaskConfig& config, const Dialer& dialer, Target& target, const TaskHooks& hooks, Progress* progress,
              MigrationReport& report) {
  const auto started = Clock::now();
  CopyOptions copy = config.copy_options();
  auto source = dialer.connect(config.source_endpoint());
  log::info("{} (Redis {}) -> {} (Redis {})", source->describe(), source->version_string(), target.describe(),
            target.facts().version_string);
  report.mode = "scan";
  report.source = source->describe();
  report.target = target.describe();
  Throttle throttle(config.max_ops, config.max_bytes);
  KeySinkOptions o;
  o.copy = copy;
  o.throttle = &throttle;
  KeySink sink(target, o, report);
  ScanReader reader(*source, sink, copy, report, progress);
  std::vector<int> dbs = reader.selected_dbs();
  copy.db_map.check(dbs);
  copy.describe_into(report);
  report.dbs = dbs;
  report.keys_total = reader.count_keys(dbs);
  check_target_empty(target, copy, dbs);
  try {
    reader.run(dbs);
  } catch (const FerryError& e) {
    report.stopped_because = e.what();
  }
  sink.finish();
  if (progress) progress->done();
  if (!report.stopped_because.empty())
    report.not_attempted = report.keys_total > report.handled() ? report.keys_total - report.handled() : 0;
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
}

// Returns the exit code the input asks for (5 for a corrupt file) or 0. Several files (a cluster's
// shards) are each checked whole first, then imported one after the other through one key sink.
int run_rdb_import(const TaskConfig& config, Target& target, Progress* progress, MigrationReport& report) {
  const auto started = Clock::now();
  CopyOptions copy = config.copy_options();
  // A file is checked whole first: a corrupt one, or one redis-server would refuse, writes nothing.
  for (const auto& path : config.rdb_files) {
    RdbFileFacts facts = check_rdb_file(path, config.work_dir());
    log::info("checked {} whole in {:.2f} s: {} keys, structure and {} fine", path, facts.seconds, facts.keys,
              facts.checksum_verified ? "CRC64" : "(no CRC64 in it)");
    require_modules(facts, path, target.facts(), target.describe(), copy.skip_unsupported);
  }
  report.mode = "rdb";
  report.source = config.rdb_files.size() == 1 ? io::FileSource(config.rdb_files.front()).describe()
                                               : fmt::format("{} RDB files ({})", config.rdb_files.size(),
                                                             fmt::join(config.rdb_files, ", "));
  report.target = target.describe();
  copy.describe_into(report);
  check_target_empty(target, copy, copy.dbs);
  Throttle throttle(config.max_ops, config.max_bytes);
  KeySinkOptions o;
  o.copy = copy;
  o.throttle = &throttle;
  uint64_t size = 0;
  o.progress = [&, keys = uint64_t{0}](uint64_t offset) mutable {
    if (!progress || ++keys % kKeysPerReport) return;
    PartStatus s = PartStatus::copy("rdb", offset, size, "bytes", report.bytes);
    s.report = &report;
    progress->update(s);
  };
  KeySink sink(target, o, report);
  int code = 0;
  for (const auto& path : config.rdb_files) {
    io::FileSource file(path);
    size = file.size().value_or(0);
    rdb::RdbParser parser(file, sink.input());
    try {
      parser.parse();
    } catch (const rdb::RdbError& e) {
      report.stopped_because = e.what();
      code = static_cast<int>(ExitCode::CorruptInput);
    } catch (const FerryError& e) {
      report.stopped_because = e.what();
    }
    if (!report.stopped_because.empty()) break;
  }
  sink.finish();
  if (progress) progress->done();
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  return code;
}

repl::SyncOptions sync_options(const TaskConfig& config, const TaskHooks& hooks, Progress* progress) {
  repl::SyncOptions o;
  o.copy = config.copy_options();
  o.snapshot_only = config.mode == "snapshot";
  o.until_caught_up = config.until_caught_up;
  o.heartbeat = config.heartbeat;
  o.publish = config.publish;
  o.cross_slot = config.cross_slot == "split" ? CrossSlot::Split : CrossSlot::Stop;
  o.task_id = config.effective_task_id();
  o.block_flush = config.block_flush;
  o.unsafe_resync_append = config.unsafe_resync_append;
  o.max_ops = config.max_ops;
  o.max_bytes = config.max_bytes;
  o.retry_connection_seconds = config.retry_connection;
  o.retry_other_seconds = config.retry_other;
  o.state_file = config.state_file;
  o.spool = !config.spool_dir.empty();
  o.work_dir = config.work_dir();
  o.stop = hooks.stop;
  o.progress = progress;
  return o;
}

// What the task's parts counted, as the monitor's last reading: each shard's, or the task's own.
PartStatus final_status(const TaskResult& result, const MigrationReport& report, const StreamStats* stream,
                        const repl::SyncResult* sync) {
  PartStatus s;
  s.phase = result.mode == "sync" ? "stream" : std::string_view(result.mode);
  s.bytes = report.bytes;
  s.report = &report;
  s.stream = stream;
  if (stream) s.commands = stream->commands;
  if (sync) {
    s.source_offset = sync->source_offset;
    s.applied_offset = sync->applied_offset;
    s.lag_bytes = std::max(0LL, sync->source_offset - sync->applied_offset);
    s.lag_ms = sync->lag_ms;
    s.partial_resyncs = sync->partial_resyncs;
    s.full_resyncs = sync->full_resyncs;
    s.retries = sync->retries;
  }
  return s;
}

std::vector<PartStatus> final_parts(const TaskResult& result) {
  std::vector<PartStatus> parts;
  for (const auto& shard : result.shards) {
    const repl::SyncResult* sync = shard.sync ? &*shard.sync : nullptr;
    parts.push_back(final_status(result, sync ? sync->report : shard.report, sync ? &sync->stream : nullptr, sync));
  }
  if (result.shards.empty() && result.ran)
    parts.push_back(final_status(result, result.migration(), result.stream(), result.sync ? &*result.sync : nullptr));
  return parts;
}

TaskResult run_monitored(const TaskConfig& config, const TaskHooks& hooks, TaskMonitor& monitor);

}  // namespace

void apply_logging(const TaskConfig& config) { log::configure(log::parse_level(config.log_level), config.log_file); }

TaskResult run_task(const TaskConfig& config, const TaskHooks& hooks) {
  config.check();
  TaskMonitor monitor(MonitorOptions::from(config), hooks.progress);
  try {
    TaskResult result = run_monitored(config, hooks, monitor);
    monitor.finish(result.exit_code, result.failure, final_parts(result));
    return result;
  } catch (const FerryError& e) {  // a corrupt file's RdbError too (exit 5)
    monitor.finish(static_cast<int>(e.code()), e.what());
    throw;
  } catch (const std::exception& e) {
    monitor.finish(static_cast<int>(ExitCode::Failed), e.what());
    throw;
  }
}

namespace {

TaskResult run_monitored(const TaskConfig& config, const TaskHooks& hooks, TaskMonitor& monitor) {
  TaskResult result;
  result.mode = config.mode;
  std::shared_ptr<const AofFacts> aof_checked;
  monitor.set_phase("precheck");
  if (auto stop = precheck(config, result, aof_checked)) {
    result.exit_code = *stop;
    return result;
  }
  result.ran = true;
  if (config.unsafe_resync_append)
    log::warn("--unsafe-resync-append: a full resync will duplicate list entries and keep deleted keys (for reproducing "
              "that failure only)");
  const Dialer dialer(config.timeouts(), config.effective_task_id());
  int input_code = 0;
  std::vector<SourceShard> shards;
  if (!config.reads_file()) {
    auto seed = dialer.connect(config.source_endpoint());
    if (is_cluster(*seed)) shards = discover_source_shards(*seed, config.shards);
    else if (!config.shards.empty() || config.source_read == "replica")
      throw FerryError(ExitCode::Usage, fmt::format("{} is one server, not a cluster: {} is for a cluster source",
                                                    seed->describe(), config.shards.empty() ? "--source-read replica" : "--shards"));
  }
  // A cluster source's shards each open their own target connections (shard_runs.h).
  std::unique_ptr<Target> target;
  if (shards.empty())
    target = open_target(dialer, config.target_endpoint(), config.pipeline(), std::chrono::seconds(config.retry_other));
  if (!shards.empty()) {
    std::vector<std::string> names;
    for (const auto& s : shards) names.push_back(s.describe());
    monitor.set_parts(names);
    ShardedRun run = config.mode == "scan" ? run_sharded_scan(config, dialer, shards, hooks.stop, monitor)
                                           : run_sharded_sync(config, dialer, shards, sync_options(config, hooks, nullptr), monitor);
    result.report = std::move(run.report);
    result.sync = std::move(run.sync);
    result.shards = std::move(run.shards);
  } else if (config.mode == "scan") {
    run_scan(config, dialer, *target, hooks, monitor.part(0), result.report);
  } else if (config.mode == "rdb") {
    input_code = run_rdb_import(config, *target, monitor.part(0), result.report);
  } else if (config.mode == "aof") {
    result.aof.emplace();
    input_code = run_aof_import(config, aof_checked, *target, monitor.part(0), hooks.stop, result.report, *result.aof);
  } else {
    repl::ReplicaSync sync(config.source_endpoint(), *target, dialer, sync_options(config, hooks, monitor.part(0)));
    result.sync = sync.run();
  }
  MigrationReport& report = result.sync ? result.sync->report : result.report;
  if (shards.empty()) target->count_routing(report);
  report.warnings.insert(report.warnings.begin(), result.precheck_warnings.begin(), result.precheck_warnings.end());
  const StreamStats* stream = result.stream();
  report.complete = report.is_complete(stream ? stream->errors + stream->unapplied : 0);
  if (!config.report_path.empty()) {
    std::ofstream out(config.report_path);
    if (!out) throw FerryError(ExitCode::Usage, fmt::format("cannot write report file '{}'", config.report_path));
    out << result.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  if (input_code) result.exit_code = input_code;
  else if (!report.complete) result.exit_code = static_cast<int>(ExitCode::Failed);
  else if (!report.warnings.empty() && !config.accept_warnings) result.exit_code = static_cast<int>(ExitCode::Warnings);
  else result.exit_code = static_cast<int>(ExitCode::Ok);
  if (!report.complete) {
    result.failure = !report.stopped_because.empty()
                         ? report.stopped_because
                         : fmt::format("{} key(s) failed, {} skipped as conflicts{}", report.failed, report.skipped_conflict,
                                       stream ? fmt::format(", {} stream command(s) failed", stream->errors + stream->unapplied) : "");
    log::error("migration incomplete: {}", result.failure);
  } else if (input_code) {
    result.failure = report.stopped_because;
  }
  return result;
}

}  // namespace

nlohmann::json TaskResult::to_json() const {
  nlohmann::json j = sync ? sync->to_json() : report.to_json();
  if (aof) {
    j["aof"] = aof->to_json();
    j["stream"] = aof->stream.to_json();
  }
  if (!shards.empty()) {
    j["shards"] = nlohmann::json::array();
    for (const auto& s : shards) j["shards"].push_back(s.to_json());
  }
  return j;
}

namespace {

// The command stream's counts (sync and aof).
std::string stream_summary(const StreamStats& st) {
  std::string out = fmt::format(
      "  stream            {} commands applied ({} MULTI/EXEC blocks), {} skipped, {} errors, {} unapplied, {} "
      "unconfirmed scripts{}\n",
      st.commands, st.transactions, st.skipped, st.errors, st.unapplied, st.unconfirmed_script_count,
      st.script_errors ? fmt::format(" ({} ended with an error as on the source)", st.script_errors) : "");
  if (st.filtered || st.reduced)
    out += fmt::format("  stream filter     {} commands left out, {} applied to their selected keys only\n", st.filtered,
                       st.reduced);
  if (st.publish_dropped) out += fmt::format("  publish dropped   {} (--no-publish)\n", st.publish_dropped);
  if (st.split) out += fmt::format("  split per slot    {} (commands and transactions across cluster slots)\n", st.split);
  return out;
}

}  // namespace

std::string TaskResult::summary_text() const {
  std::string out = migration().summary_text();
  if (aof) {
    const auto& f = aof->facts;
    out += fmt::format("  aof               {} file(s), {} bytes, {} commands read{}{}\n", f.files.size(), f.total_size(),
                       f.commands(),
                       f.cut ? fmt::format(", stopped at --aof-until (offset {} of {})", f.cut->offset,
                                           f.files[f.cut->file].part.name)
                             : "",
                       aof->expiry_clock.empty() ? "" : "; relative expiries made absolute at the " + aof->expiry_clock);
    out += stream_summary(aof->stream);
    for (const auto& n : aof->stream.notes) out += "  note: " + n + "\n";
    return out;
  }
  if (!sync || mode == "snapshot") return out;
  const auto& r = *sync;
  const auto& st = r.stream;
  out += stream_summary(st);
  if (r.retries)
    out += fmt::format("  link              {} reconnection attempts, {} partial resyncs, {} full resyncs ({} keys gone from "
                       "the source deleted)\n",
                       r.retries, r.partial_resyncs, r.full_resyncs, r.resync_deleted_keys);
  auto offsets = [](const repl::SyncResult& r) {
    return fmt::format("snapshot {}, applied {}, source {} (lag {} bytes{}){}", r.snapshot_offset, r.applied_offset,
                       r.source_offset, std::max(0LL, r.source_offset - r.applied_offset),
                       r.lag_ms ? ", " + lag_text(*r.lag_ms) : "", r.caught_up ? ", caught up" : "");
  };
  if (shards.empty()) out += fmt::format("  offsets           {}\n", offsets(r));
  for (const auto& s : shards)
    out += fmt::format("  {}: {}; {} partial, {} full resyncs\n", s.shard, offsets(*s.sync), s.sync->partial_resyncs,
                       s.sync->full_resyncs);
  if (st.moved_keys)
    out += fmt::format("  slot moves        {} key(s) moved between source shards by a reshard, each written after the "
                       "old owner's stream reached the move\n",
                       st.moved_keys);
  if (!r.writes_continue.empty()) out += "  warning: " + r.writes_continue + "\n";
  for (const auto& n : st.notes) out += "  note: " + n + "\n";
  return out;
}

}  // namespace ferry
