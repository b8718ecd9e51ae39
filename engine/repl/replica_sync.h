// The replica task, one per source (the cluster source issue runs one per shard): ferry connects to
// the source as a replica and keeps the target equal to it. A phase machine:
//
//   Handshake -- +FULLRESYNC --> Snapshot --> Stream --(link broke)--> Handshake (PSYNC replid offset+1)
//       |                          |  ^          |
//       +-- +CONTINUE ------------ | -+          +--(target went away)--> target reconnected, Handshake (full)
//                                  +--(--mode snapshot)--> Done
//
// Handshake: a new replication link; PSYNC from the position the target holds (a partial resync),
// or PSYNC ? -1. Snapshot: the RDB through the key sink; the first one into the empty target as an
// import, any later one (the task has written the target already) done right: every key replaced,
// keys the source no longer has deleted, keys that were on the target before the task kept.
// Stream: the command stream through the command sink, REPLCONF ACK every second, the heartbeat key
// written on the source, the lag measured, until a stop is asked for or (--until-caught-up) the
// target is level. Every reconnection goes through retry_with_backoff within its window and
// returns at once on a stop; the state file is written from one model (state_now) at the points
// where the target holds exactly a prefix of the stream.
#pragma once

#include "cluster/source_shards.h"
#include "core/throttle.h"
#include "repl/replica_link.h"
#include "repl/sync_state.h"
#include "sink/command_sink.h"
#include "sink/key_sink.h"
#include "target/target.h"
#include "task/copy_options.h"
#include "task/disk_key_set.h"
#include "task/migration_report.h"
#include "task/progress.h"
#include "task/progress.h"

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace ferry::repl {

struct SyncOptions {
  CopyOptions copy;
  bool snapshot_only = false;      // --mode snapshot
  bool until_caught_up = false;    // --until-caught-up
  bool heartbeat = true;           // --no-heartbeat turns it off
  bool publish = true;             // --no-publish: the stream's PUBLISH is left out
  CrossSlot cross_slot = CrossSlot::Stop;  // --cross-slot
  std::string task_id;             // the heartbeat key is ferry:heartbeat:<task_id>
  bool block_flush = false;
  long long max_ops = 0;           // commands per second, 0: unlimited
  long long max_bytes = 0;         // bytes per second, 0: unlimited
  long long retry_connection_seconds = 43200;  // --retry-connection: how long a broken source link is retried
  long long retry_other_seconds = 600;         // --retry-other: how long a target that went away is retried
  std::string work_dir = "/tmp";  // where a full resync keeps its key sets, and the spool
  std::string state_file;         // --state: resume a restarted task from it
  bool spool = false;             // --spool-dir given: read the link at full speed into files under work_dir
  long long auto_spool_lag_bytes = 8 << 20;  // else spool once the stream lags the source by this much (0: never)
  // --unsafe-resync-append: a full resync writes the new snapshot on top of the target (lists
  // appended to) and deletes nothing. Reproduces the duplicates and stale keys of a naive re-sync;
  // never a default.
  bool unsafe_resync_append = false;
  const std::atomic<bool>* stop = nullptr;  // set by SIGINT/SIGTERM
  Progress* progress = nullptr;
  // A cluster source runs one ReplicaSync per shard, each on its own thread with its own target
  // connections. `locator` finds the shard's node to read before every handshake (a failover
  // moves it); `shared_state` holds every shard's entry of the state file; `slot_moves` pairs the
  // shards' streams where a slot moves; the heartbeat key carries a hash tag of the shard's slots.
  ShardLocator* locator = nullptr;
  std::shared_ptr<StateFile> shared_state;
  SlotMoves* slot_moves = nullptr;
  bool target_checked = false;  // the conflict check ran once for every shard (they write side by side)
};

struct SyncResult {
  MigrationReport report;  // the snapshot's counts (and the stream's RESTOREs) and the run's outcome
  StreamStats stream;
  std::string replid;
  long long snapshot_offset = 0;
  long long applied_offset = 0;
  int stream_db = 0;            // the stream's selected DB at applied_offset
  long long source_offset = 0;  // last seen master_repl_offset
  // Now minus the source time of the newest write the target holds (0 when level); nullopt before
  // the first heartbeat came back and while offsets are unknown.
  std::optional<long long> lag_ms;
  double snapshot_seconds = 0;
  bool caught_up = false;
  long long source_write_bytes_per_s = 0;  // --until-caught-up: the stream's growth when it caught up
  std::string writes_continue;             // --until-caught-up ended while the source still took writes
  uint64_t partial_resyncs = 0;  // resumed with +CONTINUE after a broken link
  uint64_t retries = 0;          // reconnection attempts
  uint64_t full_resyncs = 0;     // snapshots re-applied after a gap the backlog did not cover
  uint64_t resync_deleted_keys = 0;  // target keys a full resync found gone from the source
  bool resumed_from_state = false;   // a restarted task continued by partial resync
  bool spooled = false;              // the link was read through spool files (asked for, or automatic)
  nlohmann::json to_json() const;
};

class ReplicaSync {
 public:
  ReplicaSync(const Endpoint& source, Target& target, const Dialer& dialer, SyncOptions options);
  ~ReplicaSync();
  // Runs the task. Connection problems before anything is written throw FerryError(Connection);
  // a corrupt snapshot throws RdbError (exit 5); a failure later is in report.stopped_because.
  SyncResult run();

 private:
  enum class Phase { Handshake, Snapshot, Stream, Done };
  enum class Mark { Clean, Dirty, SnapshotInProgress };

  void prepare();
  Phase handshake();
  Phase snapshot();
  Phase stream();
  void apply_snapshot(KeySink& sink);
  void delete_survivors(DiskKeySet& snapshot_keys);
  void tick();
  void read_and_apply(std::chrono::milliseconds wait);
  void measure_lag();
  // Tells options_.progress `s` with the sync's offsets and counts.
  void report_progress(PartStatus& s);
  void write_heartbeat();
  void finish_stream();
  void warn_if_writes_continue();
  // A side connection (source) or the target went away mid-stream: reconnect within its window.
  void recover(const LinkError& e);
  // The state file, written from the one model.
  SyncState state_now(Mark mark) const;
  void save(Mark mark);
  Connection& source();
  // The connection the heartbeat is written on: the source, or the shard's master when reading
  // one of its replicas.
  Connection& writable_source();
  // A cluster source's shard: where its node to read is now.
  void relocate();
  // Keys a full resync may delete on the target: every key, or those of the shard's slots.
  bool ours(const std::string& key) const;
  std::string heartbeat_key() const;
  std::chrono::seconds link_window() const { return std::chrono::seconds(options_.retry_connection_seconds); }

  Endpoint source_ep_, master_ep_;
  Target& target_;
  const Dialer& dialer_;
  SyncOptions options_;
  SyncResult result_;
  std::unique_ptr<Connection> source_;  // INFO, the heartbeat
  std::unique_ptr<Connection> master_;  // the heartbeat, when source_ is a replica
  std::shared_ptr<StateFile> state_;
  std::unique_ptr<ReplicaLink> link_;
  std::unique_ptr<CommandSink> commands_;
  Throttle throttle_;
  PsyncResult psync_;
  std::string target_run_id_;
  std::string conflict_mode_;
  std::optional<SyncState> saved_;
  std::unique_ptr<DiskKeySet> preexisting_;  // --on-conflict replace: the target's own keys, kept by a full resync
  bool delete_survivors_ = true;             // a full resync may delete keys the source no longer has
  bool target_written_ = false;              // this task has written the target: a snapshot must be done right
  bool position_known_ = false;              // the target holds the stream up to applied_offset
  bool state_dirty_ = false;
  bool offsets_known_ = true;                // false after a SYNC fallback
  std::chrono::steady_clock::time_point next_tick_, stream_started_at_, last_ack_;
  std::deque<CommandSink::Heartbeat> heartbeats_;  // seen in the stream, not yet known to be applied
  std::optional<long long> applied_heartbeat_ms_;
  long long quiet_ticks_ = 0, last_source_offset_ = -1;
  uint64_t commands_at_tick_ = 0;
};

}  // namespace ferry::repl
