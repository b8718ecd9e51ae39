#include "repl/sync_task.h"
#include "core/clock.h"

#include "core/log.h"
#include "rdb/rdb_parser.h"
#include "repl/replica_link.h"
#include "repl/sync_state.h"
#include "task/disk_key_set.h"
#include "task/progress.h"

#include <fmt/format.h>

#include <chrono>
#include <thread>

namespace ferry::repl {
namespace {

using Clock = std::chrono::steady_clock;

// Paces the applier to --max-ops / --max-bytes per second.
class Throttle {
 public:
  Throttle(long long ops, long long bytes) : max_ops_(ops), max_bytes_(bytes), window_(Clock::now()) {}
  void account(size_t bytes) {
    if (!max_ops_ && !max_bytes_) return;
    ++ops_;
    bytes_ += static_cast<long long>(bytes);
    if ((max_ops_ && ops_ >= max_ops_) || (max_bytes_ && bytes_ >= max_bytes_)) {
      auto next = window_ + std::chrono::seconds(1);
      if (Clock::now() < next) std::this_thread::sleep_until(next);
      window_ = Clock::now();
      ops_ = bytes_ = 0;
    }
  }

 private:
  long long max_ops_, max_bytes_, ops_ = 0, bytes_ = 0;
  Clock::time_point window_;
};

// After the replication link broke: retries with backoff (0.5 s doubling to 5 s) within the
// connection retry window, asking for a partial resync from what the target holds. A source whose
// backlog no longer covers the gap answers +FULLRESYNC: that stops the task for now (re-applying a
// snapshot onto the target without duplicates or survivors needs the full-resync work still to come).
struct Reconnected {
  std::unique_ptr<ReplicaLink> link;
  PsyncResult psync;
};

Reconnected reconnect(const Endpoint& source_ep, const SyncOptions& options, int source_version,
                      StreamApplier& applier, SyncResult& result, const std::string& why) {
  applier.discard_open_transaction();  // its EXEC never arrived: the source sends the MULTI again
  long long from = applier.flush();
  log::warn("{}; resuming from offset {}", why, from);
  auto started = Clock::now();
  auto backoff = std::chrono::milliseconds(500);
  for (;;) {
    if (options.stop && options.stop->load()) throw FerryError(ExitCode::Failed, "stopped while reconnecting: " + why);
    ++result.retries;
    try {
      auto link = std::make_unique<ReplicaLink>(Dialer(options.timeouts, options.task_id), source_ep);
      link->handshake(false, source_version);
      PsyncResult psync = link->psync(result.replid, from + 1);
      if (options.spool) link->start_spooling(options.work_dir);
      if (psync.kind == PsyncResult::Kind::FullResync) {
        log::warn("{} cannot continue from offset {} (its backlog no longer covers the gap): full resync", source_ep.describe(),
                  from + 1);
        return {std::move(link), psync};
      }
      if (!psync.replid.empty()) result.replid = psync.replid;
      link->set_offset(from);
      ++result.partial_resyncs;
      log::info("{}: partial resync, continuing from offset {}", source_ep.describe(), from + 1);
      return {std::move(link), psync};
    } catch (const FerryError& e) {
      if (e.code() != ExitCode::Connection) throw;
      if (Clock::now() - started > std::chrono::seconds(options.retry_connection_seconds))
        throw FerryError(ExitCode::Failed, fmt::format("{} unreachable for {} s (--retry-connection): {}",
                                                       source_ep.describe(), options.retry_connection_seconds, e.what()));
      log::warn("reconnecting to {} failed ({}); retrying in {} ms", source_ep.describe(), e.what(), backoff.count());
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

// A new replication link asking for a full resync (PSYNC ? -1), retried with backoff within the
// connection retry window.
Reconnected reconnect_full(const Endpoint& source_ep, const SyncOptions& options, int source_version, SyncResult& result,
                           const std::string& why) {
  auto started = Clock::now();
  auto backoff = std::chrono::milliseconds(500);
  for (;;) {
    ++result.retries;
    try {
      auto link = std::make_unique<ReplicaLink>(Dialer(options.timeouts, options.task_id), source_ep);
      link->handshake(options.snapshot_only, source_version);
      PsyncResult psync = link->psync();
      if (options.spool) link->start_spooling(options.work_dir);
      return {std::move(link), psync};
    } catch (const FerryError& e) {
      if (e.code() != ExitCode::Connection || Clock::now() - started > std::chrono::seconds(options.retry_connection_seconds))
        throw FerryError(ExitCode::Failed, fmt::format("{} (after: {})", e.what(), why));
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

// Opens a connection, retrying with backoff (0.5 s doubling to 5 s) for up to `window_seconds`.
std::unique_ptr<Connection> open_with_retry(const Endpoint& ep, const SyncOptions& options, long long window_seconds,
                                            const std::string& why) {
  log::warn("{}; reconnecting to {}", why, ep.describe());
  auto started = Clock::now();
  auto backoff = std::chrono::milliseconds(500);
  for (;;) {
    if (options.stop && options.stop->load()) throw FerryError(ExitCode::Failed, "stopped while reconnecting: " + why);
    try {
      return Dialer(options.timeouts, options.task_id).connect(ep);
    } catch (const FerryError& e) {
      if (e.code() != ExitCode::Connection) throw;
      if (Clock::now() - started > std::chrono::seconds(window_seconds))
        throw FerryError(ExitCode::Failed,
                         fmt::format("{} unreachable for {} s (the retry window): {}", ep.describe(), window_seconds, e.what()));
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

// The target's keys this task answers for into `keys`: in the DBs the selected ones map to (every
// non-empty DB when none are selected), and only those --include/--exclude select.
void scan_target_keys(Connection& conn, const CopyOptions& copy, DiskKeySet& keys, const std::function<void()>& tick = {}) {
  std::vector<int> which;
  for (int db : copy.dbs) which.push_back(copy.target_db(db));
  if (which.empty())
    for (const auto& [name, value] : conn.info("keyspace"))
      if (name.rfind("db", 0) == 0) which.push_back(std::atoi(name.c_str() + 2));
  for (int db : which) {
    conn.select(db);
    std::string cursor = "0";
    do {
      Reply r = conn.checked({"SCAN", cursor, "COUNT", "1000"});
      cursor = r.elements[0].str;
      for (const auto& k : r.elements[1].elements)
        if (copy.filter.selects(k.str)) keys.add(db, k.str);
      if (tick) tick();
    } while (cursor != "0");
  }
}

// A full resync onto a target ferry has already written to: the new snapshot replaces every key
// it holds (RESTORE REPLACE, or a temporary key renamed over the old one: never appended to), then
// keys on the target that the snapshot does not hold are deleted, except those that were there
// before the task began. Both key sets live on disk.
void full_resync(ReplicaLink& link, const PsyncResult& psync, Connection& target, const SyncOptions& options,
                 DiskKeySet* preexisting, bool delete_survivors, StreamApplier& applier, SyncResult& result,
                 const std::function<void(SyncState)>& save) {
  ++result.full_resyncs;
  save(SyncState{psync.replid, psync.offset, 0, true, true, "", ""});
  DiskKeySet snapshot_keys(options.work_dir);
  rdb::ImportOptions import_options;
  import_options.copy = options.copy;
  import_options.skip_unsupported = options.skip_unsupported;
  import_options.copy.on_conflict = ConflictMode::Replace;
  import_options.skip_key_prefix = "ferry:heartbeat:";
  import_options.on_key_written = [&](int db, const std::string& key) { snapshot_keys.add(db, key); };
  import_options.append_in_place = options.unsafe_resync_append;
  import_options.progress = [&link](uint64_t) { link.keepalive(); };
  MigrationReport resync_report;
  {
    rdb::RdbImporter importer(target, import_options, resync_report);
    auto snapshot = link.snapshot();
    rdb::RdbParser parser(*snapshot, importer);
    parser.parse();
    importer.finish();
  }
  if (!resync_report.complete && (!resync_report.stopped_because.empty() || resync_report.failed))
    throw FerryError(ExitCode::Failed, fmt::format("the full resync failed: {}", resync_report.stopped_because.empty()
                                                                                     ? fmt::format("{} keys failed", resync_report.failed)
                                                                                     : resync_report.stopped_because));
  DiskKeySet target_keys(options.work_dir);
  if (options.unsafe_resync_append) {
    delete_survivors = false;
    log::warn("full resync with --unsafe-resync-append: the snapshot was written on top of the target, and keys deleted on "
              "the source meanwhile are kept");
  }
  if (delete_survivors) scan_target_keys(target, options.copy, target_keys, [&link] { link.keepalive(); });
  else if (!options.unsafe_resync_append)
    log::warn("full resync after a restart in replace mode: the target's own keys are not known, so keys deleted on "
              "the source meanwhile are not removed from the target");
  std::vector<DiskKeySet*> keep{&snapshot_keys};
  if (preexisting) keep.push_back(preexisting);
  {
    Pipeline pipe(target, options.copy.pipeline);
    int db = target.selected_db();
    DiskKeySet::for_each_not_in(target_keys, keep, [&](int key_db, const std::string& key) {
      if (key_db != db) {
        pipe.send({"SELECT", std::to_string(key_db)});
        db = key_db;
      }
      pipe.send({"UNLINK", key});
      if (++result.resync_deleted_keys % 1000 == 0) link.keepalive();
    });
    pipe.drain();
    target.note_selected(db);
  }
  log::info("full resync: {} keys re-applied, {} keys gone from the source deleted", snapshot_keys.size(),
            result.resync_deleted_keys);
  result.replid = psync.replid;
  result.snapshot_offset = psync.offset;
  applier.set_start_offset(psync.offset);
  applier.set_stream_db(0);
  applier.note_target_db(target.selected_db());
  save(SyncState{psync.replid, psync.offset, 0, false, false, "", ""});
  try {
    link.send_ack(psync.offset);
  } catch (const LinkError& e) {
    // The snapshot is applied and saved: the stream loop's next use of the link fails the same way
    // and resumes by partial resync from this offset, not with another snapshot.
    log::warn("{} right after the snapshot was applied: the stream resumes from offset {}", e.what(), psync.offset);
  }
}

// The task's first snapshot, into an empty target (or one with --on-conflict replace). Returns
// false when the task ends there: --mode snapshot, or the snapshot failed.
bool apply_first_snapshot(ReplicaLink& link, Connection& source, rdb::RdbImporter& importer, ProgressMeter*& meter,
                          const SyncOptions& options, SyncResult& result, PsyncResult& psync,
                          const std::function<void(SyncState)>& save) {
  MigrationReport& report = result.report;
  auto started = Clock::now();
  psync = link.psync();
  if (options.spool) link.start_spooling(options.work_dir);
  result.replid = psync.replid;
  result.snapshot_offset = psync.offset;
  log::info("{}: full resync, replid {} offset {}", source.describe(), psync.replid, psync.offset);
  save(SyncState{psync.replid, psync.offset, 0, true, true, "", ""});
  {
    auto snapshot = link.snapshot();
    uint64_t estimate = snapshot->size().value_or(std::strtoull(source.info("memory")["used_memory"].c_str(), nullptr, 10));
    ProgressMeter snapshot_meter(estimate, options.copy.progress, "bytes");
    meter = &snapshot_meter;
    rdb::RdbParser parser(*snapshot, importer);
    try {
      parser.parse();
    } catch (const rdb::RdbError&) {
      meter = nullptr;
      importer.finish();
      throw;
    } catch (const LinkError& e) {
      meter = nullptr;
      importer.finish();
      if (e.role() == "source") throw;  // the caller starts over with a fresh PSYNC ? -1
      report.stopped_because = e.what();
    } catch (const FerryError& e) {
      report.stopped_because = e.what();
    }
    importer.finish();
    snapshot_meter.finish();
    meter = nullptr;
  }
  result.snapshot_seconds = std::chrono::duration<double>(Clock::now() - started).count();
  log::info("snapshot applied: {} keys in {:.2f} s", report.copied, result.snapshot_seconds);
  if (!report.stopped_because.empty() || options.snapshot_only) {
    report.seconds = result.snapshot_seconds;
    report.complete = report.stopped_because.empty() && report.failed == 0 && report.skipped_conflict == 0;
    result.applied_offset = psync.offset;
    return false;
  }

  save(SyncState{psync.replid, psync.offset, 0, false, false, "", ""});
  return true;
}

}  // namespace

nlohmann::json SyncResult::to_json() const {
  nlohmann::json j = report.to_json();
  j["replid"] = replid;
  j["snapshot_offset"] = snapshot_offset;
  j["applied_offset"] = applied_offset;
  j["source_offset"] = source_offset;
  j["lag_bytes"] = source_offset > applied_offset ? source_offset - applied_offset : 0;
  j["lag_ms"] = lag_ms ? nlohmann::json(*lag_ms) : nlohmann::json();
  j["snapshot_seconds"] = snapshot_seconds;
  j["caught_up"] = caught_up;
  j["partial_resyncs"] = partial_resyncs;
  j["retries"] = retries;
  j["full_resyncs"] = full_resyncs;
  j["resync_deleted_keys"] = resync_deleted_keys;
  j["resumed_from_state"] = resumed_from_state;
  j["spooled"] = spooled;
  j["stream"] = applier.to_json();
  return j;
}

SyncResult run_sync(const Endpoint& source_ep, const Endpoint& target_ep, const SyncOptions& options) {
  SyncResult result;
  MigrationReport& report = result.report;
  report.mode = options.snapshot_only ? "snapshot" : "sync";
  auto source = Dialer(options.timeouts, options.task_id).connect(source_ep);
  auto target = Dialer(options.timeouts, options.task_id).connect(target_ep);
  report.source = source->describe();
  report.target = target->describe();
  options.copy.db_map.check(options.copy.dbs);
  options.copy.describe_into(report);
  const std::string heartbeat_key = "ferry:heartbeat:" + options.task_id;

  ProgressMeter* meter = nullptr;  // exists while the snapshot is read
  ReplicaLink* link = nullptr;
  rdb::ImportOptions import_options;
  import_options.copy = options.copy;
  import_options.skip_unsupported = options.skip_unsupported;
  import_options.skip_key_prefix = "ferry:heartbeat:";
  import_options.progress = [&meter, &link](uint64_t offset) {
    if (meter) meter->update(offset, offset);
    if (link) link->keepalive();
  };
  rdb::RdbImporter importer(*target, import_options, report);

  // The state file: a restarted task resumes from it.
  const std::string target_run_id = target->info("server")["run_id"];
  const std::string conflict_mode = options.copy.on_conflict == ConflictMode::Replace ? "replace" : "block";
  std::optional<SyncState> saved;
  if (!options.state_file.empty() && !options.snapshot_only) saved = load_state(options.state_file);
  auto save = [&](SyncState state) {
    if (options.state_file.empty() || options.snapshot_only) return;
    state.target_run_id = target_run_id;
    state.conflict_mode = saved ? saved->conflict_mode : conflict_mode;
    save_state(options.state_file, state);
  };
  bool delete_survivors = true;  // a full resync may delete keys the source no longer has
  std::unique_ptr<DiskKeySet> preexisting;
  if (!saved) {
    importer.check_conflicts();
    // With --on-conflict replace the target may hold keys of its own: a full resync must leave them.
    if (!options.snapshot_only && options.copy.on_conflict == ConflictMode::Replace) {
      preexisting = std::make_unique<DiskKeySet>(options.work_dir);
      scan_target_keys(*target, options.copy, *preexisting);
    }
  } else {
    // The keys on the target are this task's own writes: no conflict check. In replace mode the
    // target's own keys of the first start are not known any more.
    delete_survivors = saved->conflict_mode == "block";
  }

  auto link_owner = std::make_unique<ReplicaLink>(Dialer(options.timeouts, options.task_id), source_ep);
  link = link_owner.get();
  link->handshake(options.snapshot_only, source->version());

  ApplierOptions applier_options;
  applier_options.dbs = options.copy.dbs;
  applier_options.db_map = options.copy.db_map;
  applier_options.filter = options.copy.filter;
  applier_options.ttl_extend_ms = options.copy.ttl_extend_ms;
  applier_options.block_flush = options.block_flush;
  applier_options.relative_expiries = source->version() < 70000;
  applier_options.pipeline = options.copy.pipeline;
  StreamApplier applier(*target, applier_options);

  // A full resync whose link breaks again starts over with another link and snapshot, for as
  // long as the connection retry window allows.
  auto full_resync_retrying = [&](PsyncResult first, DiskKeySet* keep, bool survivors) {
    auto since_first = Clock::now();
    for (PsyncResult current = first;;) {
      try {
        full_resync(*link, current, *target, options, keep, survivors, applier, result, save);
        return current;
      } catch (const LinkError& again) {
        if (Clock::now() - since_first > std::chrono::seconds(options.retry_connection_seconds))
          throw FerryError(ExitCode::Failed, fmt::format("{} during a new snapshot, past the retry window", again.what()));
        log::warn("{} during the new snapshot: starting over with another one", again.what());
        auto fresh = reconnect_full(source_ep, options, source->version(), result, again.what());
        link_owner = std::move(fresh.link);
        link = link_owner.get();
        current = fresh.psync;
      }
    }
  };

  auto started = Clock::now();
  PsyncResult psync;
  if (saved) {
    bool trusted = !saved->dirty && !saved->snapshot_in_progress && saved->target_run_id == target_run_id;
    std::string why = saved->snapshot_in_progress ? "a snapshot was being applied"
                      : saved->dirty             ? "writes were in flight when it stopped"
                      : saved->target_run_id != target_run_id ? "the target restarted (its run_id changed)"
                                                              : "";
    psync = trusted ? link->psync(saved->replid, saved->offset + 1) : link->psync();
    if (options.spool) link->start_spooling(options.work_dir);
    if (psync.kind == PsyncResult::Kind::Continue) {
      log::info("resuming from {}: partial resync at offset {}", options.state_file, saved->offset + 1);
      link->set_offset(saved->offset);
      result.replid = psync.replid.empty() ? saved->replid : psync.replid;
      result.snapshot_offset = saved->offset;
      result.resumed_from_state = true;
      ++result.partial_resyncs;
      applier.set_start_offset(saved->offset);
      applier.set_stream_db(saved->stream_db);
    } else {
      log::warn("restarting from {}: full resync ({})", options.state_file,
                why.empty() ? "the source cannot continue from the saved offset" : why);
      psync = full_resync_retrying(psync, nullptr, delete_survivors);
    }
  } else {
    bool go_on = false;
    try {
      go_on = apply_first_snapshot(*link, *source, importer, meter, options, result, psync, save);
    } catch (const LinkError& e) {
      // The link broke inside the snapshot: the target holds part of it, written by this task. A
      // fresh PSYNC ? -1 and a full resync done right replace that part and remove what is left over.
      log::warn("{} while the snapshot was being applied: starting over with a new snapshot", e.what());
      auto fresh = reconnect_full(source_ep, options, source->version(), result, e.what());
      link_owner = std::move(fresh.link);
      link = link_owner.get();
      psync = full_resync_retrying(fresh.psync, preexisting.get(), true);
      go_on = !options.snapshot_only;
      if (options.snapshot_only) {
        report.complete = report.failed == 0 && report.skipped_conflict == 0;
        result.applied_offset = psync.offset;
        return result;
      }
    }
    if (!go_on) return result;
    if (result.full_resyncs == 0) {
      applier.set_start_offset(psync.offset);
      applier.note_target_db(target->selected_db());
    }
  }
  // The replication link broke: continue by partial resync, or by a full resync done right.
  auto resume_link = [&](const std::string& why) {
    auto again = reconnect(source_ep, options, source->version(), applier, result, why);
    link_owner = std::move(again.link);
    link = link_owner.get();
    if (again.psync.kind == PsyncResult::Kind::FullResync)
      full_resync_retrying(again.psync, preexisting.get(), delete_survivors);
  };
  try {
    link->send_ack(applier.applied_offset());  // a diskless source starts the stream on this first ACK
  } catch (const LinkError& e) {
    resume_link(e.what());
  }
  bool state_dirty = false;

  Throttle throttle(options.max_ops, options.max_bytes);
  // After a SYNC fallback the stream's offsets are unknown: "caught up" is then two quiet ticks
  // with the source's offset unchanged.
  const bool offsets_known = psync.replid != "?";
  long long quiet_ticks = 0, last_source_offset = -1;
  uint64_t commands_at_tick = 0;
  const bool show = options.copy.progress;
  auto stream_started = Clock::now();
  auto next_tick = Clock::now();
  std::vector<std::string> args;
  // A broken connection other than the replication link (reconnect() handles that one).
  auto recover = [&](const std::string& role, const std::string& why) {
    if (role != "target") {
      try {
        source = open_with_retry(source_ep, options, options.retry_connection_seconds, why);
      } catch (const FerryError&) {
        // A stop asked for while the side connection (heartbeat, offsets) was away: the link and
        // the target are fine, so the task ends cleanly at the top of the loop.
        if (!(options.stop && options.stop->load())) throw;
        source.reset();
      }
      return;
    }
    auto fresh = open_with_retry(target_ep, options, options.retry_other_seconds, why);
    applier.reset_target(*fresh);
    target = std::move(fresh);
    // What was in flight to the old connection may or may not have been applied: full resync.
    link_owner = std::make_unique<ReplicaLink>(Dialer(options.timeouts, options.task_id), source_ep);
    link = link_owner.get();
    link->handshake(false, source->version());
    PsyncResult again = link->psync();
    if (options.spool) link->start_spooling(options.work_dir);
    full_resync(*link, again, *target, options, preexisting.get(), delete_survivors, applier, result, save);
    state_dirty = false;
  };
  try {
    for (;;) {
      try {
      if (options.stop && options.stop->load()) {
        log::info("stop requested: applying what was received");
        break;
      }
      auto now = Clock::now();
      if (now >= next_tick) {
        next_tick = now + std::chrono::seconds(1);
        result.applied_offset = applier.flush();
        if (state_dirty) {
          save(SyncState{result.replid, result.applied_offset, applier.stream_db(), false, false, "", ""});
          state_dirty = false;
        }
        try {
          link->send_ack(result.applied_offset);
        } catch (const LinkError& e) {
          resume_link(e.what());
        }
        if (auto hb = applier.last_heartbeat_ms()) result.lag_ms = std::max(0LL, unix_ms() - *hb);
        // Sampled before this tick's heartbeat write: the target is level when it holds everything
        // the source has propagated up to now.
        long long source_offset = std::atoll(source->info("replication")["master_repl_offset"].c_str());
        if (options.until_caught_up && offsets_known && result.applied_offset >= source_offset) {
          result.source_offset = source_offset;
          result.caught_up = true;
          break;
        }
        uint64_t applied_commands = applier.stats().commands + applier.stats().skipped;
        quiet_ticks = (applied_commands == commands_at_tick && source_offset == last_source_offset) ? quiet_ticks + 1 : 0;
        commands_at_tick = applied_commands;
        last_source_offset = source_offset;
        if (options.until_caught_up && !offsets_known && quiet_ticks >= 2) {
          result.caught_up = true;
          break;
        }
        result.source_offset = source_offset;
        // The applier falls behind: what the source has sent and ferry not read yet sits in the source's
        // output buffer, where its limit can cut ferry off. Read it into files from here on.
        if (!link->spooling() && offsets_known && options.auto_spool_lag_bytes > 0 &&
            source_offset - link->offset() > options.auto_spool_lag_bytes) {
          log::warn("the stream lags the source by {} MB: spooling it to {}", (source_offset - link->offset()) >> 20,
                    options.work_dir);
          link->start_spooling(options.work_dir);
        }
        result.spooled = result.spooled || link->spooling();
        if (show) {
          double secs = std::chrono::duration<double>(Clock::now() - stream_started).count();
          fmt::print(stderr, "\r\033[Kstream: {} commands applied, {:.0f} ops/s, lag {} bytes{}", applier.stats().commands,
                     secs > 0 ? applier.stats().commands / secs : 0.0,
                     offsets_known ? std::max(0LL, result.source_offset - result.applied_offset) : 0,
                     result.lag_ms ? fmt::format(", {} ms", *result.lag_ms) : "");
        }
        if (options.heartbeat) {
          Reply r = source->command({"SET", heartbeat_key, std::to_string(unix_ms()), "PX", "5000"});
          if (r.is_error()) log::warn("heartbeat write on {} failed: {}", source->describe(), r.str);
        }
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
      bool got = false;
      try {
        got = link->read_command(args, std::chrono::milliseconds(0));  // what has arrived already
        if (!got) {
          applier.push();  // the stream has nothing more for now: send what is queued
          got = link->read_command(args, std::max(std::chrono::milliseconds(0), wait));
        }
      } catch (const LinkError& e) {
        // Resume where the target stands: PSYNC <replid> <applied offset + 1>.
        resume_link(e.what());
        continue;
      }
      if (!got) continue;
      if (args.size() >= 2 && (args[0] == "REPLCONF" || args[0] == "replconf") &&
          (args[1] == "GETACK" || args[1] == "getack")) {
        applier.skip_command(link->offset());
        link->send_ack(applier.flush());
        continue;
      }
      size_t bytes = 0;
      for (const auto& a : args) bytes += a.size();
      if (!state_dirty) {  // from here until the next flush the target may hold more than the file says
        save(SyncState{result.replid, applier.applied_offset(), applier.stream_db(), true, false, "", ""});
        state_dirty = true;
      }
      applier.apply(args, link->offset());
      throttle.account(bytes);
      } catch (const LinkError& e) {
        recover(e.role(), e.what());
      }
    }
    if (show) fmt::print(stderr, "\r\033[K");
    result.applied_offset = applier.flush();
    save(SyncState{result.replid, result.applied_offset, applier.stream_db(), false, false, "", ""});
    // The last acknowledgement and source offset are best effort: the target holds what it holds,
    // and a connection that breaks now (a reset while stopping) does not make the task incomplete.
    try {
      link->send_ack(result.applied_offset);
      if (source) result.source_offset = std::atoll(source->info("replication")["master_repl_offset"].c_str());
    } catch (const FerryError& e) {
      log::warn("while stopping: {} (the last offsets reported are from before)", e.what());
    }
  } catch (const FerryError& e) {
    report.stopped_because = e.what();
    try {
      result.applied_offset = applier.flush();
    } catch (const FerryError&) {
    }
  }
  result.applier = applier.stats();
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  report.complete = report.stopped_because.empty() && report.failed == 0 && report.skipped_conflict == 0 &&
                    applier.stats().errors == 0 && applier.stats().unapplied == 0;
  return result;
}

}  // namespace ferry::repl
