#include "repl/replica_sync.h"

#include "core/clock.h"
#include "core/log.h"
#include "core/retry.h"
#include "rdb/rdb_parser.h"
#include "redis/command_keys.h"
#include "redis/keyspace.h"
#include "target/target_keys.h"

#include <fmt/format.h>

#include <thread>

namespace ferry::repl {
namespace {

using Clock = std::chrono::steady_clock;

long long master_offset(Connection& source) {
  return std::atoll(source.info("replication")["master_repl_offset"].c_str());
}

}  // namespace

nlohmann::json SyncResult::to_json() const {
  nlohmann::json j = report.to_json();
  j["replid"] = replid;
  j["snapshot_offset"] = snapshot_offset;
  j["applied_offset"] = applied_offset;
  j["stream_db"] = stream_db;
  j["source_offset"] = source_offset;
  j["lag_bytes"] = source_offset > applied_offset ? source_offset - applied_offset : 0;
  j["lag_ms"] = lag_ms ? nlohmann::json(*lag_ms) : nlohmann::json();
  j["snapshot_seconds"] = snapshot_seconds;
  j["caught_up"] = caught_up;
  j["source_write_bytes_per_s"] = source_write_bytes_per_s;
  if (!writes_continue.empty()) j["writes_continue"] = writes_continue;
  j["partial_resyncs"] = partial_resyncs;
  j["retries"] = retries;
  j["full_resyncs"] = full_resyncs;
  j["resync_deleted_keys"] = resync_deleted_keys;
  j["resumed_from_state"] = resumed_from_state;
  j["spooled"] = spooled;
  j["stream"] = stream.to_json();
  return j;
}

ReplicaSync::ReplicaSync(const Endpoint& source, Target& target, const Dialer& dialer, SyncOptions options)
    : source_ep_(source),
      master_ep_(source),
      target_(target),
      dialer_(dialer),
      options_(std::move(options)),
      throttle_(options_.max_ops, options_.max_bytes) {
  state_ = options_.shared_state;
  if (!state_ && !options_.state_file.empty()) state_ = std::make_shared<StateFile>(options_.state_file);
  if (options_.snapshot_only) state_.reset();
}

ReplicaSync::~ReplicaSync() = default;

Connection& ReplicaSync::source() {
  if (!source_) source_ = dialer_.connect(source_ep_);
  return *source_;
}

Connection& ReplicaSync::writable_source() {
  if (master_ep_.address() == source_ep_.address()) return source();
  if (!master_) master_ = dialer_.connect(master_ep_);
  return *master_;
}

void ReplicaSync::relocate() {
  if (!options_.locator) return;
  ShardLocator::Nodes nodes = options_.locator->locate();
  if (nodes.read.address() != source_ep_.address() || !source_)
    log::info("source {}: reading {} ({})", options_.locator->shard().describe(), nodes.read.address(),
              nodes.replica ? "a replica" : "the master");
  if (nodes.read.address() != source_ep_.address()) source_.reset();
  if (nodes.master.address() != master_ep_.address()) master_.reset();
  source_ep_ = nodes.read;
  master_ep_ = nodes.master;
  if (options_.slot_moves) options_.slot_moves->set_master(options_.locator->shard().index, master_ep_);
}

bool ReplicaSync::ours(const std::string& key) const {
  return !options_.locator || options_.locator->shard().owns[static_cast<size_t>(key_slot(key))];
}

std::string ReplicaSync::heartbeat_key() const {
  std::string key = "ferry:heartbeat:" + options_.task_id;
  if (options_.locator) key += ":{" + options_.locator->heartbeat_tag() + "}";
  return key;
}

SyncState ReplicaSync::state_now(Mark mark) const {
  SyncState s;
  s.replid = result_.replid;
  s.offset = mark == Mark::SnapshotInProgress ? psync_.offset : result_.applied_offset;
  s.stream_db = commands_ ? commands_->stream_db() : 0;
  s.dirty = mark != Mark::Clean;
  s.snapshot_in_progress = mark == Mark::SnapshotInProgress;
  s.target_run_id = target_run_id_;
  s.conflict_mode = saved_ ? saved_->conflict_mode : conflict_mode_;
  if (options_.locator) s.nodes = options_.locator->shard().node_ids;
  return s;
}

void ReplicaSync::save(Mark mark) {
  if (state_) state_->save(state_now(mark));
}

// The state file, the conflict check, and the target's own keys (kept by a full resync).
void ReplicaSync::prepare() {
  target_run_id_ = target_.identity();
  conflict_mode_ = options_.copy.on_conflict == ConflictMode::Replace ? "replace" : "block";
  if (state_) saved_ = state_->load(options_.locator ? options_.locator->shard().node_ids : std::vector<std::string>{});
  if (!saved_) {
    if (!options_.target_checked) check_target_empty(target_, options_.copy, options_.copy.dbs);
    if (!options_.snapshot_only && options_.copy.on_conflict == ConflictMode::Replace) {
      preexisting_ = std::make_unique<DiskKeySet>(options_.work_dir);
      scan_target_keys(target_, options_.copy, *preexisting_);
    }
    return;
  }
  // The keys on the target are this task's own writes: no conflict check. In replace mode the
  // target's own keys of the first start are not known any more.
  target_written_ = true;
  delete_survivors_ = saved_->conflict_mode == "block";
  std::string why = saved_->snapshot_in_progress            ? "a snapshot was being applied"
                    : saved_->dirty                          ? "writes were in flight when it stopped"
                    : saved_->target_run_id != target_run_id_ ? "the target restarted (its run_id, or a cluster's nodes, changed)"
                                                             : "";
  if (!why.empty()) {
    log::warn("restarting from {}: full resync ({})", options_.state_file, why);
    return;
  }
  position_known_ = true;
  result_.replid = saved_->replid;
  result_.applied_offset = saved_->offset;
}

ReplicaSync::Phase ReplicaSync::handshake() {
  const bool partial = position_known_ && offsets_known_;
  auto attempt = [&] {
    relocate();
    auto link = std::make_unique<ReplicaLink>(dialer_, source_ep_);
    link->handshake(options_.snapshot_only, source().version());
    PsyncResult p = partial ? link->psync(result_.replid, result_.applied_offset + 1) : link->psync();
    return std::make_pair(std::move(link), p);
  };
  std::pair<std::unique_ptr<ReplicaLink>, PsyncResult> got;
  if (!target_written_) {
    got = attempt();  // the first connection: a failure is the user's to fix (exit 4), nothing written yet
  } else {
    got = retry_with_backoff(link_window(), options_.stop, fmt::format("reconnecting to {}", source_ep_.describe()), [&] {
      ++result_.retries;
      return attempt();
    });
  }
  link_ = std::move(got.first);
  psync_ = got.second;
  if (options_.spool) link_->start_spooling(options_.work_dir);
  offsets_known_ = psync_.replid != "?";
  if (psync_.kind == PsyncResult::Kind::FullResync) {
    if (partial)
      log::warn("{} cannot continue from offset {} (its backlog no longer covers the gap): full resync",
                source_ep_.describe(), result_.applied_offset + 1);
    log::info("{}: full resync, replid {} offset {}", source_ep_.describe(), psync_.replid, psync_.offset);
    return Phase::Snapshot;
  }
  link_->set_offset(result_.applied_offset);
  if (!psync_.replid.empty()) result_.replid = psync_.replid;
  ++result_.partial_resyncs;
  if (saved_ && !result_.resumed_from_state && result_.full_resyncs == 0 && result_.partial_resyncs == 1) {
    result_.resumed_from_state = true;
    result_.snapshot_offset = saved_->offset;
    log::info("resuming from {}: partial resync at offset {}", options_.state_file, saved_->offset + 1);
  } else {
    log::info("{}: partial resync, continuing from offset {}", source_ep_.describe(), result_.applied_offset + 1);
  }
  commands_->set_start_offset(result_.applied_offset);
  stream_started_at_ = Clock::now();
  return Phase::Stream;
}

void ReplicaSync::apply_snapshot(KeySink& sink) {
  auto snapshot = link_->snapshot();
  rdb::RdbParser parser(*snapshot, sink.input());
  try {
    parser.parse();
  } catch (...) {
    sink.finish();
    throw;
  }
  sink.finish();
}

ReplicaSync::Phase ReplicaSync::snapshot() {
  const bool redo = target_written_;  // the target holds this task's writes: done right
  if (redo) ++result_.full_resyncs;
  result_.replid = psync_.replid;
  result_.snapshot_offset = psync_.offset;
  position_known_ = false;
  save(Mark::SnapshotInProgress);
  target_written_ = true;
  const auto started = Clock::now();
  // What the progress counts up to when the snapshot's size is not known (a diskless source). Only
  // a figure to show: a request connection that broke (it goes through the same faults as the link)
  // is opened again later, where the stream needs it.
  uint64_t expected_keys = 0;
  if (options_.progress) {
    try {
      expected_keys = keys_in(source(), options_.copy.dbs);
    } catch (const LinkError& e) {
      log::debug("counting the source's keys for the progress: {}", e.what());
      source_.reset();
    }
  }

  KeySinkOptions o;
  o.copy = options_.copy;
  o.skip_key_prefix = "ferry:heartbeat:";
  o.throttle = &throttle_;
  MigrationReport redo_report;
  MigrationReport& report = redo ? redo_report : result_.report;
  o.progress = [this, &report, expected_keys, keys = uint64_t{0}](uint64_t offset) mutable {
    link_->keepalive();
    if (stop_requested(options_.stop)) throw StopRequested();
    if (!options_.progress || ++keys % kKeysPerReport) return;
    auto size = link_->snapshot_size();
    PartStatus s = size ? PartStatus::copy("snapshot", offset, *size, "bytes", report.bytes)
                        : PartStatus::copy("snapshot", report.keys_total, expected_keys, "keys", report.bytes);
    report_progress(s);
  };
  std::unique_ptr<DiskKeySet> snapshot_keys;
  if (redo) {
    o.copy.on_conflict = ConflictMode::Replace;
    o.append_in_place = options_.unsafe_resync_append;
    snapshot_keys = std::make_unique<DiskKeySet>(options_.work_dir);
    o.on_key_written = [&snapshot_keys](int db, const std::string& key) { snapshot_keys->add(db, key); };
  }
  try {
    KeySink sink(target_, o, report);
    apply_snapshot(sink);
  } catch (const ReplicationLinkError& e) {
    if (options_.progress) options_.progress->done();
    // The target holds part of it, written by this task: a new snapshot, done right, replaces that
    // part and removes what is left over.
    log::warn("{} while the snapshot was being applied: starting over with a new snapshot", e.what());
    return Phase::Handshake;
  } catch (const StopRequested&) {
    if (options_.progress) options_.progress->done();
    result_.report.stopped_because = "stopped during a snapshot: the target holds part of it (a restart with --state "
                                     "does a full resync)";
    return Phase::Done;
  }
  if (options_.progress) options_.progress->done();
  if (redo) {
    if (!report.is_complete())
      throw FerryError(ExitCode::Failed,
                       fmt::format("the full resync failed: {}", report.stopped_because.empty()
                                                                     ? fmt::format("{} keys failed", report.failed)
                                                                     : report.stopped_because));
    delete_survivors(*snapshot_keys);
  } else {
    result_.snapshot_seconds = std::chrono::duration<double>(Clock::now() - started).count();
    log::info("snapshot applied: {} keys in {:.2f} s", report.copied, result_.snapshot_seconds);
    if (!report.stopped_because.empty()) return Phase::Done;
  }
  result_.applied_offset = psync_.offset;
  position_known_ = true;
  commands_->set_start_offset(psync_.offset);
  commands_->set_stream_db(0);
  save(Mark::Clean);
  if (options_.snapshot_only) return Phase::Done;
  stream_started_at_ = Clock::now();
  try {
    link_->send_ack(psync_.offset);  // a diskless source starts the stream on this first ACK
    last_ack_ = Clock::now();
  } catch (const ReplicationLinkError& e) {
    // The snapshot is applied and saved: resume by partial resync from this offset.
    log::warn("{} right after the snapshot was applied: the stream resumes from offset {}", e.what(), psync_.offset);
    return Phase::Handshake;
  }
  return Phase::Stream;
}

// After a full resync onto a target ferry has written to: keys on the target that the snapshot does
// not hold are deleted, except those that were there before the task began. Both sets are on disk.
void ReplicaSync::delete_survivors(DiskKeySet& snapshot_keys) {
  if (options_.unsafe_resync_append) {
    log::warn("full resync with --unsafe-resync-append: the snapshot was written on top of the target, and keys deleted on "
              "the source meanwhile are kept");
    return;
  }
  if (!delete_survivors_) {
    log::warn("full resync after a restart in replace mode: the target's own keys are not known, so keys deleted on "
              "the source meanwhile are not removed from the target");
    return;
  }
  DiskKeySet target_keys(options_.work_dir);
  scan_target_keys(target_, options_.copy, target_keys, [this] { link_->keepalive(); });
  std::vector<DiskKeySet*> keep{&snapshot_keys};
  if (preexisting_) keep.push_back(preexisting_.get());
  uint64_t deleted = 0;
  DiskKeySet::for_each_not_in(target_keys, keep, [&](int db, const std::string& key) {
    if (!ours(key)) return;  // another shard's key: its own sync answers for it
    target_.pipeline_for(db, key).send({"UNLINK", key});
    if (++deleted % 1000 == 0) link_->keepalive();
  });
  target_.drain();
  result_.resync_deleted_keys += deleted;
  log::info("full resync: {} keys re-applied, {} keys gone from the source deleted", snapshot_keys.size(), deleted);
}

void ReplicaSync::write_heartbeat() {
  if (!options_.heartbeat) return;
  Reply r = writable_source().command({"SET", heartbeat_key(), std::to_string(unix_ms()), "PX", "5000"});
  if (r.is_error() && options_.locator && r.str.rfind("MOVED ", 0) == 0) {
    relocate();  // its slot moved to another shard: a tag of a slot it owns now (and maybe a new master)
    r = writable_source().command({"SET", heartbeat_key(), std::to_string(unix_ms()), "PX", "5000"});
  }
  if (r.is_error()) log::warn("heartbeat write on {} failed: {}", writable_source().describe(), r.str);
}

// Lag: now minus the source time of the newest write the target holds. Level (the target holds the
// source's offset): 0. Otherwise the newest heartbeat the target holds gives a source time no later
// than the newest write it holds.
void ReplicaSync::report_progress(PartStatus& s) {
  s.source_offset = result_.source_offset;
  s.applied_offset = result_.applied_offset;
  s.partial_resyncs = result_.partial_resyncs;
  s.full_resyncs = result_.full_resyncs;
  s.retries = result_.retries;
  s.report = &result_.report;
  s.stream = &result_.stream;
  options_.progress->update(s);
}

void ReplicaSync::measure_lag() {
  const long long applied = result_.applied_offset;
  while (!heartbeats_.empty() && heartbeats_.front().offset <= applied) {
    applied_heartbeat_ms_ = heartbeats_.front().source_ms;
    heartbeats_.pop_front();
  }
  if (offsets_known_ && applied >= result_.source_offset) result_.lag_ms = 0;
  else if (applied_heartbeat_ms_) result_.lag_ms = std::max(0LL, unix_ms() - *applied_heartbeat_ms_);
}

// Once a second: what is queued goes out and its replies are read, the state file and the source
// learn the offset the target holds, the lag is measured, and a heartbeat goes into the stream.
void ReplicaSync::tick() {
  next_tick_ = Clock::now() + std::chrono::seconds(1);
  result_.applied_offset = commands_->flush();
  if (state_dirty_) {
    save(Mark::Clean);
    state_dirty_ = false;
  }
  link_->send_ack(result_.applied_offset);
  last_ack_ = Clock::now();
  // Sampled before this tick's heartbeat write: the target is level when it holds everything the
  // source has propagated up to now.
  const long long source_offset = master_offset(source());
  result_.source_offset = source_offset;
  measure_lag();
  if (options_.until_caught_up && offsets_known_ && result_.applied_offset >= source_offset) {
    result_.caught_up = true;
    warn_if_writes_continue();
    return;
  }
  // After a SYNC fallback the stream's offsets are unknown: "caught up" is then two quiet ticks with
  // the source's offset unchanged.
  const uint64_t applied_commands = result_.stream.commands + result_.stream.skipped;
  quiet_ticks_ = (applied_commands == commands_at_tick_ && source_offset == last_source_offset_) ? quiet_ticks_ + 1 : 0;
  commands_at_tick_ = applied_commands;
  last_source_offset_ = source_offset;
  if (options_.until_caught_up && !offsets_known_ && quiet_ticks_ >= 2) {
    result_.caught_up = true;
    warn_if_writes_continue();
    return;
  }
  // The applier falls behind: what the source has sent and ferry not read yet sits in the source's
  // output buffer, where its limit can cut ferry off. Read it into files from here on.
  if (!link_->spooling() && offsets_known_ && options_.auto_spool_lag_bytes > 0 &&
      source_offset - link_->offset() > options_.auto_spool_lag_bytes) {
    log::warn("the stream lags the source by {} MB: spooling it to {}", (source_offset - link_->offset()) >> 20,
              options_.work_dir);
    link_->start_spooling(options_.work_dir);
  }
  result_.spooled = result_.spooled || link_->spooling();
  if (options_.progress) {
    PartStatus s;
    s.phase = "stream";
    s.commands = result_.stream.commands;
    s.lag_bytes = offsets_known_ ? std::max(0LL, source_offset - result_.applied_offset) : -1;
    s.lag_ms = result_.lag_ms;
    report_progress(s);
  }
  write_heartbeat();
}

// --until-caught-up ends at a moment: writes the source takes after it are not on the target. When
// the source is still being written (beyond ferry's own heartbeat), say so, with the rate.
void ReplicaSync::warn_if_writes_continue() {
  // The stream's growth over a short look (ferry writes no heartbeat meanwhile).
  constexpr auto kLook = std::chrono::milliseconds(300);
  const long long before = master_offset(source());
  std::this_thread::sleep_for(kLook);
  result_.source_write_bytes_per_s = (master_offset(source()) - before) * 1000 / kLook.count();
  if (result_.source_write_bytes_per_s <= 0) return;
  auto stats = source().info("stats");
  std::string w = fmt::format("caught up at offset {}, but {} still takes writes ({} bytes/s of replication stream, {} "
                              "ops/s): they will not reach the target. Stop writes before cutover, or keep the sync "
                              "running; `ferry verify --task-report` then explains keys written after this offset",
                              result_.applied_offset, source_ep_.describe(), result_.source_write_bytes_per_s,
                              stats["instantaneous_ops_per_sec"]);
  log::warn("{}", w);
  result_.writes_continue = w;
}

void ReplicaSync::read_and_apply(std::chrono::milliseconds wait) {
  std::vector<std::string> args;
  bool got = link_->read_command(args, std::chrono::milliseconds(0));  // what has arrived already
  if (!got) {
    commands_->push();  // the stream has nothing more for now: send what is queued
    // A diskless source starts the stream on an ACK that arrives after it saw its snapshot child
    // exit; an earlier one is ignored and the next comes a second later, while the source buffers
    // the stream against its output-buffer limit. ACK often until the stream has begun.
    const auto now = Clock::now();
    if (link_->offset() == result_.snapshot_offset && now - stream_started_at_ < std::chrono::seconds(3)) {
      if (now - last_ack_ >= std::chrono::milliseconds(100)) {
        link_->send_ack(commands_->applied_offset());
        last_ack_ = now;
      }
      wait = std::min(wait, std::chrono::milliseconds(100));
    }
    got = link_->read_command(args, wait);
  }
  if (!got) return;
  if (args.size() >= 2 && ascii_upper(args[0]) == "REPLCONF" && ascii_upper(args[1]) == "GETACK") {
    commands_->skip_command(link_->offset());
    link_->send_ack(commands_->flush());
    return;
  }
  size_t bytes = 0;
  for (const auto& a : args) bytes += a.size();
  if (!state_dirty_) {  // from here until the next flush the target may hold more than the file says
    save(Mark::Dirty);
    state_dirty_ = true;
  }
  commands_->apply(args, link_->offset());
  if (auto hb = commands_->take_heartbeat()) heartbeats_.push_back(*hb);
  throttle_.account(bytes);
}

// A connection other than the replication link broke mid-stream.
void ReplicaSync::recover(const LinkError& e) {
  if (e.role() != "target") {
    source_.reset();
    master_.reset();
    retry_with_backoff(link_window(), options_.stop, fmt::format("reconnecting to {} ({})", source_ep_.describe(), e.what()),
                       [&] {
                         relocate();
                         source();
                       });
    return;
  }
  // What was in flight to the old connection may or may not have been applied: a full resync.
  retry_with_backoff(std::chrono::seconds(options_.retry_other_seconds), options_.stop,
                     fmt::format("reconnecting to {} ({})", target_.describe(), e.what()),
                     [&] { target_.reconnect(dialer_); });
  commands_->target_replaced();
  position_known_ = false;
  state_dirty_ = false;
}

ReplicaSync::Phase ReplicaSync::stream() {
  for (;;) {
    if (stop_requested(options_.stop)) {
      log::info("stop requested: applying what was received");
      return Phase::Done;
    }
    try {
      try {
        if (Clock::now() >= next_tick_) {
          tick();
          if (result_.caught_up) return Phase::Done;
        }
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick_ - Clock::now());
        read_and_apply(std::max(std::chrono::milliseconds(0), wait));
      } catch (const ReplicationLinkError& e) {
        // Resume where the target stands: PSYNC <replid> <applied offset + 1>.
        commands_->discard_open_transaction();  // its EXEC never arrived: the source sends the MULTI again
        result_.applied_offset = commands_->flush();
        state_dirty_ = false;
        save(Mark::Clean);
        log::warn("{}; resuming from offset {}", e.what(), result_.applied_offset);
        return Phase::Handshake;
      }
    } catch (const LinkError& e) {
      recover(e);
      if (!position_known_) return Phase::Handshake;  // the target came back: a full resync
    }
  }
}

// The task ends with the target holding the stream up to applied_offset: the state file says so,
// and the source learns it. The last acknowledgement and source offset are best effort: a connection
// that breaks now (a reset while stopping) does not make the task incomplete.
void ReplicaSync::finish_stream() {
  result_.applied_offset = commands_->flush();
  save(Mark::Clean);
  try {
    link_->send_ack(result_.applied_offset);
    result_.source_offset = master_offset(source());
    measure_lag();
  } catch (const FerryError& e) {
    log::warn("while stopping: {} (the last offsets reported are from before)", e.what());
  }
}

SyncResult ReplicaSync::run() {
  const auto started = Clock::now();
  MigrationReport& report = result_.report;
  report.mode = options_.snapshot_only ? "snapshot" : "sync";
  relocate();
  report.source = options_.locator ? fmt::format("source {} {}", options_.locator->shard().describe(), source().describe())
                                   : source().describe();
  report.target = target_.describe();
  options_.copy.db_map.check(options_.copy.dbs);
  options_.copy.describe_into(report);
  prepare();
  StreamOptions so = StreamOptions::from(options_.copy);
  so.block_flush = options_.block_flush;
  so.relative_expiries = source().version() < 70000;
  so.publish = options_.publish;
  so.cross_slot = options_.cross_slot;
  commands_ = std::make_unique<CommandSink>(target_, so, report, result_.stream);
  if (options_.slot_moves && options_.locator) commands_->set_slot_moves(options_.slot_moves, options_.locator->shard().index);
  if (saved_ && position_known_) commands_->set_stream_db(saved_->stream_db);

  Phase phase = Phase::Handshake;
  try {
    try {
      while (phase != Phase::Done) {
        switch (phase) {
          case Phase::Handshake: phase = handshake(); break;
          case Phase::Snapshot: phase = snapshot(); break;
          case Phase::Stream: phase = stream(); break;
          case Phase::Done: break;
        }
      }
    } catch (const StopRequested&) {
      // Asked to stop while reconnecting: the target holds what it holds, and the state file says so.
      log::info("stop requested while reconnecting: the task ends here (--state resumes it)");
    }
    if (options_.progress) options_.progress->done();
    if (link_ && position_known_ && report.stopped_because.empty()) finish_stream();
  } catch (const rdb::RdbError&) {
    throw;
  } catch (const FerryError& e) {
    if (!target_written_ && e.code() == ExitCode::Connection) throw;  // nothing written: exit 4
    report.stopped_because = e.what();
    try {
      if (commands_) {
        result_.applied_offset = commands_->flush();
        // The stream stopped at a command ferry would not send (a transaction across slots with
        // --cross-slot stop, SWAPDB into a cluster ...): everything before it landed, nothing after
        // it went out. The state file says so, and a rerun (with other options) resumes there.
        if (phase == Phase::Stream && position_known_) save(Mark::Clean);
      }
    } catch (const FerryError&) {  // a write the target refused: what came after it is uncertain
    }
  }
  if (options_.progress) options_.progress->done();
  if (commands_) result_.stream_db = commands_->stream_db();
  report.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  report.complete = report.is_complete(result_.stream.errors + result_.stream.unapplied);
  return std::move(result_);
}

}  // namespace ferry::repl
