// Migration as a replica: the snapshot through the RDB importer, then (sync mode) the command
// stream through the StreamApplier until a stop is asked for or, with until_caught_up, the target
// holds everything up to the source's offset. Sends REPLCONF ACK every second, writes the heartbeat
// key on the source and measures lag by its return.
#pragma once

#include "rdb/rdb_importer.h"
#include "repl/stream_applier.h"
#include "task/copy_options.h"
#include "task/migration_report.h"

#include <atomic>
#include <string>

namespace ferry::repl {

struct SyncOptions {
  CopyOptions copy;
  bool snapshot_only = false;      // --mode snapshot
  bool until_caught_up = false;    // --until-caught-up
  bool heartbeat = true;           // --no-heartbeat turns it off
  std::string task_id;             // the heartbeat key is ferry:heartbeat:<task_id>
  bool block_flush = false;
  bool skip_unsupported = false;
  long long max_ops = 0;           // per second, 0: unlimited
  long long max_bytes = 0;         // per second, 0: unlimited
  Timeouts timeouts;
  long long retry_connection_seconds = 43200;
  long long retry_other_seconds = 600;         // --retry-other: how long a target that went away is retried
  std::string work_dir = "/tmp";  // where a full resync keeps its key sets
  std::string state_file;         // --state: resume a restarted task from it
  bool spool = false;             // --spool-dir given: read the link at full speed into files under work_dir
  long long auto_spool_lag_bytes = 8 << 20;  // else spool once the stream lags the source by this much (0: never)  // --retry-connection: how long a broken source link is retried
  // --unsafe-resync-append: a full resync writes the new snapshot on top of the target (lists
  // appended to) and deletes nothing. Reproduces the duplicates and stale keys of a naive re-sync;
  // never a default.
  bool unsafe_resync_append = false;
  const std::atomic<bool>* stop = nullptr;  // set by SIGINT/SIGTERM
};

struct SyncResult {
  MigrationReport report;  // the snapshot's counts and the run's outcome
  ApplierStats applier;
  std::string replid;
  long long snapshot_offset = 0;
  long long applied_offset = 0;
  long long source_offset = 0;  // last seen master_repl_offset
  std::optional<long long> lag_ms;
  double snapshot_seconds = 0;
  bool caught_up = false;
  uint64_t partial_resyncs = 0;  // resumed with +CONTINUE after a broken link
  uint64_t retries = 0;          // reconnection attempts
  uint64_t full_resyncs = 0;     // snapshots re-applied after a gap the backlog did not cover
  uint64_t resync_deleted_keys = 0;  // target keys a full resync found gone from the source
  bool resumed_from_state = false;   // a restarted task continued by partial resync
  bool spooled = false;              // the link was read through spool files (asked for, or automatic)
  nlohmann::json to_json() const;
};

// Runs the task. Connection problems before the snapshot starts throw FerryError(Connection);
// a corrupt snapshot throws RdbError (exit 5); a failure later is in report.stopped_because.
SyncResult run_sync(const Endpoint& source, const Endpoint& target, const SyncOptions& options);

}  // namespace ferry::repl
